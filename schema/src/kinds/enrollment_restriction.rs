//! `[enrollment_restriction.KEY]`: an Intune enrollment restriction (beta
//! `deviceManagement/deviceEnrollmentConfigurations`): a device platform
//! restriction for one platform (`deviceEnrollmentPlatformRestrictionConfiguration`,
//! `restriction = "platform"`) or a device limit
//! (`deviceEnrollmentLimitConfiguration`, `restriction = "limit"`). Ordered
//! by `priority` within each of the two, like Enrollment Status Pages
//! (`super::enrollment_status_page`); the tenant's built-in device limit
//! is declared with `default = true` and only ever updated.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// What a restriction restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RestrictionType {
    /// Which devices of one platform may enroll.
    Platform,
    /// How many devices a user may enroll.
    Limit,
}

impl RestrictionType {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictionType::Platform => "platform",
            RestrictionType::Limit => "limit",
        }
    }
}

/// enrollmentRestrictionPlatformType, the platforms a platform
/// restriction can name.
pub const PLATFORMS: &[&str] = &["android", "androidForWork", "ios", "linux", "mac", "windows", "windowsPhone"];

/// `[enrollment_restriction.KEY]`: an Intune enrollment restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRestriction {
    /// Natural key (with the restriction's type).
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub restriction: RestrictionType,
    /// The tenant's built-in device limit (priority 0): only updated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Order among restrictions of the same type (1 is first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// platformType (platform restrictions): `windows`, `ios`, `android`,
    /// `androidForWork`, `mac`, `linux` or `windowsPhone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// platformBlocked: no device of the platform may enroll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_blocked: Option<bool>,
    /// personalDeviceEnrollmentBlocked: only corporate devices may enroll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_device_enrollment_blocked: Option<bool>,
    /// osMinimumVersion, e.g. `10.0.19045`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_minimum_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_maximum_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_manufacturers: Option<Vec<String>>,
    /// limit (device limits): devices per user, 1 to 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
}

/// Whether `v` is a Windows/OS version as Intune takes it (`10.0.19045`,
/// `17.1`): two to four dot-separated numbers.
pub fn is_os_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=4).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use super::enrollment_status_page::{check_enrollment, Enrollment};
use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.enrollment_restriction.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::EnrollmentRestriction, named.collect());
    let mut all = Vec::new();
    for (key, d) in &s.enrollment_restriction {
        let p = &d.value;
        let at = |f: &str| path!["enrollment_restriction", key.as_str(), f];
        let platform_fields = [
            ("platform", p.platform.is_some()),
            ("platform_blocked", p.platform_blocked.is_some()),
            ("personal_device_enrollment_blocked", p.personal_device_enrollment_blocked.is_some()),
            ("os_minimum_version", p.os_minimum_version.is_some()),
            ("os_maximum_version", p.os_maximum_version.is_some()),
            ("blocked_manufacturers", p.blocked_manufacturers.is_some()),
        ];
        match p.restriction {
            RestrictionType::Limit => {
                for (f, set) in platform_fields {
                    if set {
                        cx.error("not-for-restriction", &d.origin, &at(f), format!("enrollment_restriction.{key}: {f} belongs to a platform restriction, not a device limit"));
                    }
                }
                match p.limit {
                    None => {
                        cx.error("missing-limit", &d.origin, &path!["enrollment_restriction", key.as_str()], format!("enrollment_restriction.{key}: a device limit needs `limit` (1 to 15)"));
                    }
                    Some(n) if !(1..=15).contains(&n) => {
                        cx.error("out-of-range", &d.origin, &at("limit"), format!("enrollment_restriction.{key}: limit is {n}; Intune allows 1 to 15 devices per user"));
                    }
                    _ => {}
                }
            }
            RestrictionType::Platform => {
                if p.limit.is_some() {
                    cx.error("not-for-restriction", &d.origin, &at("limit"), format!("enrollment_restriction.{key}: limit belongs to a device limit, not a platform restriction"));
                }
                if p.default {
                    cx.error("default-not-modelled", &d.origin, &at("default"), format!("enrollment_restriction.{key}: the built-in platform restrictions (all platforms at once) are not modelled; declare a restriction per platform"));
                }
                match &p.platform {
                    None => {
                        cx.error("missing-platform", &d.origin, &path!["enrollment_restriction", key.as_str()], format!("enrollment_restriction.{key}: a platform restriction needs `platform`"));
                    }
                    Some(pl) if !PLATFORMS.contains(&pl.as_str()) => {
                        cx.error("invalid-platform", &d.origin, &at("platform"), format!("enrollment_restriction.{key}: platform `{pl}` is not one of {}", PLATFORMS.join(", ")));
                    }
                    _ => {}
                }
                for (f, v) in [("os_minimum_version", &p.os_minimum_version), ("os_maximum_version", &p.os_maximum_version)] {
                    if let Some(v) = v.as_deref().filter(|v| !is_os_version(v)) {
                        cx.error("invalid-os-version", &d.origin, &at(f), format!("enrollment_restriction.{key}: {f} `{v}` is not a version such as 10.0.19045"));
                    }
                }
            }
        }
        let family = match p.restriction {
            RestrictionType::Platform => "platform",
            RestrictionType::Limit => "limit",
        };
        all.push(Enrollment { key, origin: &d.origin, family, default: p.default, priority: p.priority, assignments: &p.assignments, scope_tags: &p.scope_tags });
    }
    check_enrollment(cx, Kind::EnrollmentRestriction, &all);
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceEnrollmentConfigurations"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
