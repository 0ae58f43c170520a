//! `[feature_update_profile.KEY]`: a Windows feature update profile (beta
//! `deviceManagement/windowsFeatureUpdateProfiles`): which Windows version
//! the devices it is assigned to are moved to and kept on, and optionally
//! how the offer is spread over time. With `rollout`, one profile per ring.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Assignments, Rollout};

/// windowsUpdateRolloutSettings: the offer starts at `offer_start`, and
/// is made to another batch of devices every `offer_interval_in_days`
/// until `offer_end` (a gradual rollout); only a start makes it available
/// from then on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutSettings {
    /// offerStartDateTimeInUTC
    #[serde(with = "crate::datetime::option", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub offer_start: Option<DateTime<Utc>>,
    /// offerEndDateTimeInUTC
    #[serde(with = "crate::datetime::option", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub offer_end: Option<DateTime<Utc>>,
    /// offerIntervalInDays: days between offers to each batch (1 to 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_interval_in_days: Option<u32>,
}

/// `[feature_update_profile.KEY]`: a Windows feature update profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureUpdateProfile {
    /// Natural key of the profile.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The Windows version devices are moved to and kept on, as Intune
    /// names it: `Windows 11, version 24H2` or `Windows 10, version 22H2`.
    pub feature_update_version: String,
    /// When Windows 11 is offered, and to how many devices at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_settings: Option<RolloutSettings>,
    /// Devices that cannot run Windows 11 get the latest Windows 10
    /// feature update instead (installLatestWindows10OnWindows11IneligibleDevice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_latest_windows10_on_windows11_ineligible_device: Option<bool>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// Ring-by-ring rollout: one profile per ring group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// Whether `v` is a feature update version as Intune names them:
/// `Windows 10, version 22H2`, `Windows 11, version 24H2`.
pub fn is_feature_update_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("Windows 10, version ").or_else(|| v.strip_prefix("Windows 11, version ")) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 4 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'H' && b[3].is_ascii_digit()
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.feature_update_profile.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    check_profiles(cx, Kind::FeatureUpdateProfile, named.collect());
    for (key, d) in &s.feature_update_profile {
        let p = &d.value;
        if !is_feature_update_version(&p.feature_update_version) {
            cx.error(
                "invalid-feature-update-version",
                &d.origin,
                &path!["feature_update_profile", key, "feature_update_version"],
                format!("feature_update_profile.{key}: feature_update_version `{}` is not a Windows version as Intune names it", p.feature_update_version),
            )
            .help = Some("e.g. `Windows 11, version 24H2` or `Windows 10, version 22H2`".into());
        }
        if let Some(r) = &p.rollout_settings {
            if let Some(n) = r.offer_interval_in_days {
                if !(1..=14).contains(&n) {
                    cx.error(
                        "out-of-range",
                        &d.origin,
                        &path!["feature_update_profile", key, "rollout_settings", "offer_interval_in_days"],
                        format!("feature_update_profile.{key}: offer_interval_in_days is {n}; Intune allows 1 to 14"),
                    );
                }
            }
            match (r.offer_start, r.offer_end, r.offer_interval_in_days) {
                (None, Some(_), _) | (None, _, Some(_)) => {
                    cx.error(
                        "incomplete-rollout-settings",
                        &d.origin,
                        &path!["feature_update_profile", key, "rollout_settings"],
                        format!("feature_update_profile.{key}: rollout_settings needs offer_start when it has an end or an interval"),
                    );
                }
                (Some(start), Some(end), _) if end <= start => {
                    cx.error(
                        "invalid-rollout-settings",
                        &d.origin,
                        &path!["feature_update_profile", key, "rollout_settings", "offer_end"],
                        format!("feature_update_profile.{key}: offer_end is not after offer_start"),
                    );
                }
                (Some(_), Some(_), None) | (Some(_), None, Some(_)) => {
                    cx.error(
                        "incomplete-rollout-settings",
                        &d.origin,
                        &path!["feature_update_profile", key, "rollout_settings"],
                        format!("feature_update_profile.{key}: a gradual rollout needs both offer_end and offer_interval_in_days"),
                    );
                }
                _ => {}
            }
        }
        check_assignments(cx, Kind::FeatureUpdateProfile, key, &d.origin, &p.assignments);
    }
}

/// Checks every Windows update profile kind shares: a display name that is
/// set, unique among the kind's profiles (it is the natural key in one
/// Graph collection) and within tenantctl's length caps, and a description
/// within them. `profiles` are (key, origin, display name, description).
pub(crate) fn check_profiles(cx: &mut Ctx, kind: Kind, profiles: Vec<(&String, &Origin, &str, Option<&str>)>) {
    use crate::limits::{UNDOCUMENTED_NAME, UNDOCUMENTED_TEXT};
    let mut seen: std::collections::BTreeMap<String, &String> = std::collections::BTreeMap::new();
    for (key, origin, name, description) in profiles {
        let at = path![kind.as_str(), key, "display_name"];
        if name.trim().is_empty() {
            cx.error("empty-name", origin, &at, format!("{kind}.{key}: display_name is empty"));
        } else if let Some(first) = seen.get(&name.trim().to_lowercase()) {
            let first = (*first).clone();
            cx.error("duplicate-natural-key", origin, &at, format!("{kind}.{key} has the same display_name as {kind}.{first}; both would match one object in the tenant"));
        } else {
            seen.insert(name.trim().to_lowercase(), key);
        }
        for (field, value, max) in [("display_name", Some(name), UNDOCUMENTED_NAME), ("description", description, UNDOCUMENTED_TEXT)] {
            let Some(value) = value else { continue };
            let len = value.chars().count();
            if len > max {
                cx.error("too-long", origin, &path![kind.as_str(), key, field], format!("{kind}.{key}: {field} is {len} characters long; tenantctl (Graph documents no limit) allows at most {max}"));
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/windowsFeatureUpdateProfiles"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
