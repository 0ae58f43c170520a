//! `[enrollment_status_page.KEY]`: a Windows Enrollment Status Page (beta
//! `deviceManagement/deviceEnrollmentConfigurations`,
//! `windows10EnrollmentCompletionPageConfiguration`): what a device shows,
//! and waits for, while it enrolls. Several are ordered by `priority`
//! (set through `setPriority`); the tenant's built-in one ("All users and
//! all devices", priority 0) is declared with `default = true` and is
//! only ever updated. Enrollment restrictions (`super::enrollment_restriction`)
//! share this collection and these rules ([`check_enrollment`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// `[enrollment_status_page.KEY]`: a Windows Enrollment Status Page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentStatusPage {
    /// Natural key (with the configuration's type).
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tenant's built-in page (priority 0, every user and device):
    /// never created nor deleted, only updated; it has no priority and no
    /// assignments.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Which page applies when a device's user is in several pages' groups
    /// (1 is first); required unless `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// showInstallationProgress: show the page at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_installation_progress: Option<bool>,
    /// installProgressTimeoutInMinutes (1 to 1440).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_progress_timeout_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_log_collection_on_install_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device_reset_on_install_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_device_use_on_install_failure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_device_setup_retry_by_user: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_install_progress_for_autopilot_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_user_status_tracking_after_first_user: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_quality_updates: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_non_blocking_app_installation: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.enrollment_status_page.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::EnrollmentStatusPage, named.collect());
    let mut all = Vec::new();
    for (key, d) in &s.enrollment_status_page {
        let p = &d.value;
        if let Some(n) = p.install_progress_timeout_in_minutes {
            if !(1..=1440).contains(&n) {
                cx.error("out-of-range", &d.origin, &path!["enrollment_status_page", key, "install_progress_timeout_in_minutes"], format!("enrollment_status_page.{key}: install_progress_timeout_in_minutes is {n}; Intune allows 1 to 1440"));
            }
        }
        all.push(Enrollment { key, origin: &d.origin, family: "", default: p.default, priority: p.priority, assignments: &p.assignments, scope_tags: &p.scope_tags });
    }
    check_enrollment(cx, Kind::EnrollmentStatusPage, &all);
}

/// One enrollment configuration, for the checks its kinds share.
pub(crate) struct Enrollment<'a> {
    pub key: &'a String,
    pub origin: &'a Origin,
    /// Configurations are ordered by priority within a family (a kind's
    /// type of configuration).
    pub family: &'static str,
    pub default: bool,
    pub priority: Option<u32>,
    pub assignments: &'a Assignments,
    pub scope_tags: &'a [String],
}

/// A built-in configuration has no priority nor assignments; any other
/// has a priority of its own in its family (two with one priority would
/// reorder each other forever), and its assignments and tags resolve.
pub(crate) fn check_enrollment(cx: &mut Ctx, kind: Kind, all: &[Enrollment]) {
    let mut seen: std::collections::BTreeMap<(&str, u32), &String> = std::collections::BTreeMap::new();
    let mut defaults: std::collections::BTreeMap<&str, &String> = std::collections::BTreeMap::new();
    for e in all {
        let key = e.key;
        let at = |f: &str| path![kind.as_str(), key.as_str(), f];
        if e.default {
            if let Some(first) = defaults.insert(e.family, key) {
                cx.error("duplicate-default", e.origin, &at("default"), format!("{kind}.{key}: {kind}.{first} already declares the tenant's built-in one"));
            }
            if e.priority.is_some() {
                cx.error("default-priority", e.origin, &at("priority"), format!("{kind}.{key}: the built-in configuration is always last (priority 0); it takes no priority"));
            }
            let a = e.assignments;
            if !a.include.is_empty() || !a.exclude.is_empty() || a.all_devices || a.all_users || !a.filters.is_empty() {
                cx.error("default-assignments", e.origin, &at("assignments"), format!("{kind}.{key}: the built-in configuration applies to every user and device; it takes no assignments"));
            }
        } else {
            match e.priority {
                None => {
                    cx.error("missing-priority", e.origin, &path![kind.as_str(), key.as_str()], format!("{kind}.{key}: priority is required (1 is first; the built-in configuration is 0)"))
                        .help = Some("add `priority = 1`, or `default = true` for the tenant's built-in configuration".into());
                }
                Some(0) => {
                    cx.error("out-of-range", e.origin, &at("priority"), format!("{kind}.{key}: priority 0 is the built-in configuration's; use 1 or more, or `default = true`"));
                }
                Some(n) => {
                    if let Some(first) = seen.insert((e.family, n), key) {
                        cx.error("duplicate-priority", e.origin, &at("priority"), format!("{kind}.{key} has priority {n}, as {kind}.{first} does; each needs its own"));
                    }
                }
            }
            crate::validate::policy::check_assignments(cx, kind, key, e.origin, e.assignments);
        }
        super::platform_script::check_tags(cx, e.origin, kind, key, e.scope_tags);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceEnrollmentConfigurations"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
