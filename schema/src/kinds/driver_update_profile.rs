//! `[driver_update_profile.KEY]`: a Windows driver update profile (beta
//! `deviceManagement/windowsDriverUpdateProfiles`): whether driver and
//! firmware updates are approved by hand or automatically, and how long
//! an automatically approved one waits.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// driverUpdateProfileApprovalType. Intune does not change it on an
/// existing profile: a change replaces the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalType {
    Manual,
    Automatic,
}

/// `[driver_update_profile.KEY]`: a Windows driver update profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriverUpdateProfile {
    /// Natural key of the profile.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub approval_type: ApprovalType,
    /// deploymentDeferralInDays: how long an automatically approved update
    /// waits (0 to 30; automatic approval only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_deferral_in_days: Option<u32>,
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
    let named = s.driver_update_profile.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::DriverUpdateProfile, named.collect());
    for (key, d) in &s.driver_update_profile {
        let p = &d.value;
        if let Some(n) = p.deployment_deferral_in_days {
            let at = path!["driver_update_profile", key, "deployment_deferral_in_days"];
            if p.approval_type == ApprovalType::Manual {
                cx.error("deferral-needs-automatic", &d.origin, &at, format!("driver_update_profile.{key}: deployment_deferral_in_days applies to automatic approval only"));
            } else if n > 30 {
                cx.error("out-of-range", &d.origin, &at, format!("driver_update_profile.{key}: deployment_deferral_in_days is {n}; Intune allows 0 to 30"));
            }
        }
        check_assignments(cx, Kind::DriverUpdateProfile, key, &d.origin, &p.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/windowsDriverUpdateProfiles"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
