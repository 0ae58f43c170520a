//! `[app_assignment.KEY]`: the assignments of an app that exists in the
//! tenant but is not declared here (uploaded by hand, a line-of-business
//! or Win32 app, a Store app kept by another team): found by its display
//! name among `deviceAppManagement/mobileApps`; only its assignments are
//! managed. A name that matches no app, or several, is refused at plan
//! time. Removing the table (with pruning on) removes the assignments it
//! made, never the app.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::mobile_app::AppAssignments;

/// `[app_assignment.KEY]`: who gets an existing app, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAssignment {
    /// The display name of the app in Intune (case-insensitive).
    pub app: String,
    pub assignments: AppAssignments,
}

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let mut seen: std::collections::BTreeMap<String, &String> = std::collections::BTreeMap::new();
    let declared: std::collections::BTreeSet<String> =
        s.winget_app.values().map(|d| d.value.display_name.trim().to_lowercase()).chain(s.m365_apps.values().map(|d| d.value.display_name.trim().to_lowercase())).collect();
    for (key, d) in &s.app_assignment {
        let a = &d.value;
        let name = a.app.trim().to_lowercase();
        let at = path!["app_assignment", key, "app"];
        if name.is_empty() {
            cx.error("empty-name", &d.origin, &at, format!("app_assignment.{key}: app is empty: give the app's display name"));
        } else if let Some(first) = seen.get(&name) {
            let first = (*first).clone();
            cx.error("duplicate-natural-key", &d.origin, &at, format!("app_assignment.{key} names the same app as app_assignment.{first}; one table holds an app's assignments"));
        } else if declared.contains(&name) {
            cx.error(
                "declared-app",
                &d.origin,
                &at,
                format!("app_assignment.{key}: `{}` is declared here as an app; give its assignments in its own table", a.app),
            );
        } else {
            seen.insert(name, key);
        }
        super::mobile_app::check_app_assignments(cx, Kind::AppAssignment, key, &d.origin, &a.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceAppManagement/mobileApps"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
