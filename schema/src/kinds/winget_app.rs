//! `[winget_app.KEY]`: a Microsoft Store app (beta
//! `deviceAppManagement/mobileApps`, `#microsoft.graph.winGetApp`): Graph
//! creates it from its Store package identifier and Intune fetches the
//! rest (icon, description, manifest) from the Store; only what is
//! declared here is managed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::mobile_app::AppAssignments;

/// winGetAppInstallExperience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallExperience {
    /// The context the app is installed in: `system` or `user` (Graph's
    /// runAsAccountType). Required at creation; Intune cannot change it,
    /// so a change replaces the app.
    pub run_as_account: RunAsAccount,
}

/// runAsAccountType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunAsAccount {
    System,
    User,
}

impl RunAsAccount {
    pub fn as_str(self) -> &'static str {
        match self {
            RunAsAccount::System => "system",
            RunAsAccount::User => "user",
        }
    }
}

/// `[winget_app.KEY]`: a Microsoft Store (WinGet) app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WingetApp {
    /// Natural key of the app.
    pub display_name: String,
    /// The Store's package identifier (`9WZDNCRFJ3PZ`, or a WinGet id such
    /// as `Microsoft.PowerToys`). Intune cannot change it: a change
    /// replaces the app.
    pub package_identifier: String,
    pub install_experience: InstallExperience,
    /// The publisher (Graph requires one; the Store's is the usual).
    pub publisher: String,
    /// Undeclared, Intune's (the Store's) description is kept, not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_featured: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub information_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_information_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer: Option<String>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: AppAssignments,
}

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.winget_app.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::WingetApp, named.collect());
    for (key, d) in &s.winget_app {
        let a = &d.value;
        let id = a.package_identifier.trim();
        // WinGet identifiers: letters, digits, `.`, `-`, `_` (the Store's
        // are 12 upper-case letters and digits), at most 128 characters.
        let ok = !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok || id != a.package_identifier {
            cx.error(
                "invalid-package-identifier",
                &d.origin,
                &path!["winget_app", key, "package_identifier"],
                format!("winget_app.{key}: package_identifier `{}` is not a Store or WinGet package id", a.package_identifier),
            )
            .help = Some("e.g. `9WZDNCRFJ3PZ` (Company Portal) or `Microsoft.PowerToys`".into());
        }
        if a.publisher.trim().is_empty() {
            cx.error("empty-publisher", &d.origin, &path!["winget_app", key, "publisher"], format!("winget_app.{key}: publisher is empty; Graph requires one"));
        }
        super::mobile_app::check_app_assignments(cx, Kind::WingetApp, key, &d.origin, &a.assignments);
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
