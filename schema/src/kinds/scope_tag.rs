//! `[scope_tag.KEY]`: an Intune scope tag (beta
//! `deviceManagement/roleScopeTags`): which Intune administrators see and
//! manage an object. `assignments.include` lists the groups whose devices
//! get the tag automatically (roleScopeTagAutoAssignment). Intune's
//! built-in `Default` tag (id `0`) is not declared.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// `[scope_tag.KEY]`: an Intune scope tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeTag {
    /// Natural key of the tag.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Groups whose devices get the tag automatically: `include` only
    /// (Intune's auto-assignment has no exclusions, "all" targets or filters).
    #[serde(default)]
    pub assignments: Assignments,
}

/// The built-in tag's id, which Intune sets on every object that is given
/// no other tag.
pub const DEFAULT_TAG_ID: &str = "0";

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.scope_tag.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::ScopeTag, named.collect());
    for (key, d) in &s.scope_tag {
        let p = &d.value;
        if p.display_name.trim().eq_ignore_ascii_case("default") {
            cx.error("reserved-name", &d.origin, &path!["scope_tag", key, "display_name"], format!("scope_tag.{key}: `Default` is Intune's built-in scope tag, which is not declared"));
        }
        let a = &p.assignments;
        if !a.exclude.is_empty() || a.all_devices || a.all_users || !a.filters.is_empty() {
            cx.error(
                "unsupported-assignment",
                &d.origin,
                &path!["scope_tag", key, "assignments"],
                format!("scope_tag.{key}: a scope tag is assigned automatically to the devices of included groups only (no exclude, all_devices, all_users or filters)"),
            );
        }
        check_assignments(cx, Kind::ScopeTag, key, &d.origin, a);
    }
    check_policy_tags(cx);
}

/// Whether a `scope_tags` entry names Intune's built-in tag.
pub fn is_default(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("default") || tag == DEFAULT_TAG_ID
}

/// Every Intune object's `scope_tags` name declared tags (or `default`),
/// and Autopilot profiles do not declare tags twice.
fn check_policy_tags(cx: &mut Ctx) {
    let s = cx.state;
    let mut all: Vec<(Kind, &String, &crate::diagnostic::Origin, &Vec<String>)> = Vec::new();
    all.extend(s.device_configuration.iter().map(|(k, d)| (Kind::DeviceConfiguration, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.compliance_policy.iter().map(|(k, d)| (Kind::CompliancePolicy, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.update_ring.iter().map(|(k, d)| (Kind::UpdateRing, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.autopilot_profile.iter().map(|(k, d)| (Kind::AutopilotProfile, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.feature_update_profile.iter().map(|(k, d)| (Kind::FeatureUpdateProfile, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.quality_update_profile.iter().map(|(k, d)| (Kind::QualityUpdateProfile, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.driver_update_profile.iter().map(|(k, d)| (Kind::DriverUpdateProfile, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.settings_catalog.iter().map(|(k, d)| (Kind::SettingsCatalog, k, &d.origin, &d.value.scope_tags)));
    all.extend(s.device_category.iter().map(|(k, d)| (Kind::DeviceCategory, k, &d.origin, &d.value.scope_tags)));
    for (kind, key, origin, tags) in all {
        for (i, t) in tags.iter().enumerate() {
            if !is_default(t) {
                cx.reference(origin, &path![kind.as_str(), key, "scope_tags", i], t, &[Kind::ScopeTag]);
            }
        }
    }
    for (key, d) in &s.autopilot_profile {
        if !d.value.scope_tags.is_empty() && !d.value.role_scope_tag_ids.is_empty() {
            cx.error(
                "scope-tags-twice",
                &d.origin,
                &path!["autopilot_profile", key, "role_scope_tag_ids"],
                format!("autopilot_profile.{key}: declare scope_tags (by key) or role_scope_tag_ids (by id), not both"),
            );
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/roleScopeTags"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
