//! What the app kinds share (`winget_app`, `m365_apps`, `app_assignment`,
//! all in beta `deviceAppManagement/mobileApps`): assignments by install
//! intent, each intent's targets like any Intune policy's (groups by key,
//! `all_users` / `all_devices`, assignment filters), written with
//! `mobileApps/{id}/assign` (`mobileAppAssignments`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// An app's assignments by intent (Graph's `installIntent`): which groups
/// must have it (`required`), may install it from the Company Portal
/// (`available`), or get it removed (`uninstall`). Each intent's
/// `exclude` leaves groups out of that intent. `/assign` replaces the whole
/// set, so this is always the complete desired set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAssignments {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub required: Assignments,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub available: Assignments,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub uninstall: Assignments,
}

fn is_empty(a: &Assignments) -> bool {
    *a == Assignments::default()
}

/// The intents, as Graph spells them, with their TOML field.
pub const INTENTS: [&str; 3] = ["required", "available", "uninstall"];

impl AppAssignments {
    /// Each intent with its targets.
    pub fn by_intent(&self) -> [(&'static str, &Assignments); 3] {
        [("required", &self.required), ("available", &self.available), ("uninstall", &self.uninstall)]
    }
}

// Validation shared by the app kinds.

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::Ctx;

/// Each intent's targets checked like a policy's; a group in two intents
/// (Intune keeps one intent per group and app), and `available` to all
/// devices (Intune offers apps in the Company Portal to users, not
/// devices), refused.
pub(crate) fn check_app_assignments(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, a: &AppAssignments) {
    for (intent, targets) in a.by_intent() {
        check_intent(cx, kind, key, origin, intent, targets);
    }
    let mut seen: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (intent, targets) in a.by_intent() {
        for g in &targets.include {
            if let Some(first) = seen.insert(g.as_str(), intent) {
                cx.error(
                    "app-intent-conflict",
                    origin,
                    &path![kind.as_str(), key, "assignments", intent, "include"],
                    format!("{kind}.{key}: group `{g}` is assigned both `{first}` and `{intent}`; Intune keeps one intent per group"),
                );
            }
        }
    }
    if a.available.all_devices {
        cx.error(
            "available-to-devices",
            origin,
            &path![kind.as_str(), key, "assignments", "available", "all_devices"],
            format!("{kind}.{key}: `available` apps are offered to users in the Company Portal; Intune refuses all devices as their target"),
        )
        .help = Some("use `all_users`, or make it `required` for all devices".into());
    }
}

fn check_intent(cx: &mut Ctx, kind: Kind, key: &str, origin: &Origin, intent: &str, a: &Assignments) {
    use crate::kinds::assignment::{ALL_DEVICES, ALL_USERS};
    for (field, list) in [("include", &a.include), ("exclude", &a.exclude)] {
        for (i, r) in list.iter().enumerate() {
            cx.reference(origin, &path![kind.as_str(), key, "assignments", intent, field, i], r, &[Kind::Group]);
        }
    }
    for g in a.include.iter().filter(|g| a.exclude.contains(g)) {
        cx.error(
            "include-and-exclude",
            origin,
            &path![kind.as_str(), key, "assignments", intent, "exclude"],
            format!("{kind}.{key}: group `{g}` is both included and excluded ({intent})"),
        );
    }
    for (target, f) in &a.filters {
        let at = path![kind.as_str(), key, "assignments", intent, "filters", target.as_str()];
        let included = a.include.contains(target) || (target == ALL_DEVICES && a.all_devices) || (target == ALL_USERS && a.all_users);
        if !included {
            cx.error("filter-target", origin, &at, format!("{kind}.{key}: assignments.{intent}.filters.{target} names no included target: filters apply to a group in `include`, or to all_devices / all_users when set"));
        }
        if f.filter.trim().is_empty() {
            cx.error("empty-filter", origin, &at, format!("{kind}.{key}: assignments.{intent}.filters.{target}.filter is empty: give the filter's key, display name or id"));
        } else if f.filter.starts_with("assignment_filter.") {
            let mut here = at.to_vec();
            here.push(crate::source::Seg::from("filter"));
            cx.reference(origin, &here, &f.filter, &[Kind::AssignmentFilter]);
        }
    }
}
