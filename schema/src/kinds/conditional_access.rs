//! `[conditional_access.KEY]`: an Entra conditional access policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the policy is enforced, only reported on, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    Enabled,
    Disabled,
    EnabledForReportingButNotEnforced,
}

/// Whether one (OR) or all (AND) of the controls are required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GrantOperator {
    #[default]
    OR,
    AND,
}

/// Special values Graph accepts in include/exclude user lists.
pub const SPECIAL_USERS: &[&str] = &["All", "None", "GuestsOrExternalUsers"];

/// Which users the policy applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConditions {
    /// User or guest keys, or "All", "None", "GuestsOrExternalUsers".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_users: Vec<String>,
    /// Group keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_groups: Vec<String>,
    /// Built-in role display names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_roles: Vec<String>,
}

/// Which cloud apps the policy applies to. Graph requires an application
/// condition, so `include_applications` must name at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationConditions {
    /// Application ids, or "All", "None", "Office365".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_applications: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_applications: Vec<String>,
}

/// What a user must satisfy to be granted access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantControls {
    #[serde(default)]
    pub operator: GrantOperator,
    /// e.g. "mfa", "block", "compliantDevice", "domainJoinedDevice".
    pub built_in_controls: Vec<String>,
}

/// `[conditional_access.KEY]`: an Entra conditional access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalAccess {
    /// Natural key of the policy.
    pub display_name: String,
    pub state: PolicyState,
    /// e.g. "all", "browser", "mobileAppsAndDesktopClients".
    #[serde(default = "all_clients")]
    pub client_app_types: Vec<String>,
    pub users: UserConditions,
    #[serde(default)]
    pub applications: ApplicationConditions,
    pub grant: GrantControls,
}

fn all_clients() -> Vec<String> {
    vec!["all".to_string()]
}

/// Built-in grant controls Graph accepts.
pub const BUILT_IN_CONTROLS: &[&str] = &[
    "block",
    "mfa",
    "compliantDevice",
    "domainJoinedDevice",
    "approvedApplication",
    "compliantApplication",
    "passwordChange",
];
