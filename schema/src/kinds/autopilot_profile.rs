//! `[autopilot_profile.KEY]`: a Windows Autopilot deployment profile (beta
//! API only).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Assignments;

/// How devices join: Entra join or hybrid join.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    /// azureADWindowsAutopilotDeploymentProfile
    #[default]
    Entra,
    /// activeDirectoryWindowsAutopilotDeploymentProfile (hybrid join)
    Hybrid,
}

/// The kind of device the profile is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeviceType {
    WindowsPc,
    SurfaceHub2,
    HoloLens,
    SurfaceHub2S,
    VirtualMachine,
}

/// Whether the first user is a standard user or a local administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OobeUserType {
    Standard,
    Administrator,
}

/// Single user or shared device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeviceUsageType {
    SingleUser,
    Shared,
}

/// outOfBoxExperienceSetting
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutOfBoxExperience {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_settings_hidden: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eula_hidden: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<OobeUserType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_usage_type: Option<DeviceUsageType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyboard_selection_page_skipped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape_link_hidden: Option<bool>,
}

/// `[autopilot_profile.KEY]`: a Windows Autopilot deployment profile, assigned to device groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutopilotProfile {
    /// Natural key of the profile.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub join_type: JoinType,
    /// At most 15 characters after expansion; `%SERIAL%` and `%RAND:x%` macros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    /// e.g. `os-default` or `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprovisioning_allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_hash_extraction_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_box_experience_setting: Option<OutOfBoxExperience>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_scope_tag_ids: Vec<String>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
}

/// Length of a device name template after macro expansion: `%SERIAL%`
/// counts as its worst case (the name is truncated by Windows, but Intune
/// refuses templates over 15), `%RAND:x%` as x characters.
pub fn expanded_name_length(template: &str) -> usize {
    let mut len = 0;
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        len += rest[..start].chars().count();
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                let token = &after[..end];
                if token.eq_ignore_ascii_case("SERIAL") {
                    // Serial numbers are truncated to fit; count the macro as
                    // one character so only the fixed part is limited.
                    len += 1;
                } else if let Some(n) = token
                    .strip_prefix("RAND:")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    len += n;
                } else {
                    len += token.chars().count() + 2;
                }
                rest = &after[end + 1..];
            }
            None => {
                len += after.chars().count() + 1;
                rest = "";
            }
        }
    }
    len + rest.chars().count()
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::kinds::group::is_device_rule;
use crate::validate::policy::check_assignments;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_autopilot(cx);
    check_autopilot_targets(cx);
}

fn check_autopilot(cx: &mut Ctx) {
    for (key, d) in &cx.state.autopilot_profile {
        if let Some(t) = &d.value.device_name_template {
            let n = expanded_name_length(t);
            if n > 15 || t.is_empty() {
                cx.error(
                    "device-name-too-long",
                    &d.origin,
                    &path!["autopilot_profile", key, "device_name_template"],
                    format!("autopilot_profile.{key}: device_name_template `{t}` expands to {n} characters; at most 15 are allowed"),
                );
            }
            if let Some(p) = device_name_template_problem(t) {
                cx.error(
                    "invalid-device-name",
                    &d.origin,
                    &path!["autopilot_profile", key, "device_name_template"],
                    format!("autopilot_profile.{key}: device_name_template `{t}` {p}"),
                );
            }
        }
        check_assignments(
            cx,
            Kind::AutopilotProfile,
            key,
            &d.origin,
            &d.value.assignments,
        );
    }
}

/// Autopilot profiles apply to devices: one assigned to all users, or to a
/// dynamic group whose rule selects users, never reaches a device.
fn check_autopilot_targets(cx: &mut Ctx) {
    for (key, d) in &cx.state.autopilot_profile {
        let a = &d.value.assignments;
        if a.all_users {
            cx.error(
                "autopilot-targets-users",
                &d.origin,
                &path!["autopilot_profile", key, "assignments", "all_users"],
                format!("autopilot_profile.{key}: Autopilot profiles apply to devices; assign it to device groups or all_devices"),
            );
        }
        for (field, list) in [("include", &a.include), ("exclude", &a.exclude)] {
            for (i, r) in list.iter().enumerate() {
                let Ok(g) = cx.state.resolve(r, &[Kind::Group]) else {
                    continue; // reported by check_assignments
                };
                let rule = cx
                    .state
                    .group
                    .get(&g.key)
                    .and_then(|g| g.value.membership_rule.clone());
                if let Some(rule) = rule {
                    if !is_device_rule(&rule) {
                        cx.error(
                            "autopilot-targets-users",
                            &d.origin,
                            &path!["autopilot_profile", key, "assignments", field, i],
                            format!("autopilot_profile.{key}: {g} is a dynamic group of users; Autopilot profiles apply to device groups"),
                        );
                    }
                }
            }
        }
    }
}

/// The characters a device name may have outside `%SERIAL%` and `%RAND:x%`
/// macros: letters, digits and hyphens, and not only digits.
pub fn device_name_template_problem(template: &str) -> Option<String> {
    let mut fixed = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        fixed.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else {
            return Some("has a `%` that starts a macro but never ends it".into());
        };
        let token = &after[..end];
        let rand_ok = token
            .strip_prefix("RAND:")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| (1..=15).contains(&n));
        if !(token.eq_ignore_ascii_case("SERIAL") || rand_ok) {
            return Some(format!(
                "uses `%{token}%`; the macros are %SERIAL% and %RAND:x% (x from 1 to 15)"
            ));
        }
        rest = &after[end + 1..];
    }
    fixed.push_str(rest);
    if let Some(c) = fixed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let shown = if c == ' ' {
            "a space".to_string()
        } else {
            format!("`{c}`")
        };
        return Some(format!(
            "contains {shown}; device names use letters, digits and hyphens"
        ));
    }
    if template == fixed && !fixed.is_empty() && fixed.chars().all(|c| c.is_ascii_digit()) {
        return Some("is only digits, which Windows does not allow as a computer name".into());
    }
    if template == fixed && !fixed.is_empty() {
        return Some(
            "has no %SERIAL% or %RAND:x% macro, so every device would get the same name".into(),
        );
    }
    None
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/windowsAutopilotDeploymentProfiles"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
