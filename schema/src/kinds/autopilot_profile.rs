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
