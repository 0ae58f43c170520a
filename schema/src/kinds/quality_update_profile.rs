//! `[quality_update_profile.KEY]`: a Windows quality update (expedite)
//! profile (beta `deviceManagement/windowsQualityUpdateProfiles`): devices
//! below a given monthly quality update get it expedited, restarting at
//! most `days_until_forced_reboot` days after it installs.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// expeditedWindowsQualityUpdateSettings
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpeditedUpdateSettings {
    /// qualityUpdateRelease: the release date of the quality update that
    /// devices below it are brought to (Patch Tuesday, e.g. `2026-11-10T00:00:00Z`).
    #[serde(with = "crate::datetime")]
    #[schemars(with = "String")]
    pub quality_update_release: DateTime<Utc>,
    /// daysUntilForcedReboot: 0, 1 or 2.
    pub days_until_forced_reboot: u32,
}

/// `[quality_update_profile.KEY]`: a Windows quality update (expedite) profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityUpdateProfile {
    /// Natural key of the profile.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub expedited_update_settings: ExpeditedUpdateSettings,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.quality_update_profile.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::QualityUpdateProfile, named.collect());
    for (key, d) in &s.quality_update_profile {
        let n = d.value.expedited_update_settings.days_until_forced_reboot;
        if n > 2 {
            cx.error(
                "out-of-range",
                &d.origin,
                &path!["quality_update_profile", key, "expedited_update_settings", "days_until_forced_reboot"],
                format!("quality_update_profile.{key}: days_until_forced_reboot is {n}; Intune allows 0, 1 or 2"),
            );
        }
        check_assignments(cx, Kind::QualityUpdateProfile, key, &d.origin, &d.value.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/windowsQualityUpdateProfiles"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
