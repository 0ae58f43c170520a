//! `[group.KEY]`: security groups, assigned or dynamic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether Entra evaluates a dynamic group's rule (`On`) or not (`Paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProcessingState {
    On,
    Paused,
}

/// `[group.KEY]`: a security group, either assigned (members and owners by key) or dynamic (a membership rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub display_name: String,
    /// Natural key of the group; at most 64 ASCII characters, none of
    /// `@()\[]";:.<>,` or space.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r#"^[^@()\\\[\]";:<>,\s.]+$"#)
    )]
    pub mail_nickname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Members by key (`key` or `kind.key` for users, guests and groups).
    /// Absent: membership is not managed (e.g. device groups filled by
    /// Autopilot). Present, even empty: membership is exactly this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Owners by key (users only). Absent: owners are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<String>>,
    /// Makes the group dynamic (groupTypes = ["DynamicMembership"]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule_processing_state: Option<ProcessingState>,
    /// The group can hold directory roles; cannot be combined with a dynamic rule.
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Membership must never be changed by anyone but desired state: any
    /// out-of-band change is drift, and changes to it are sensitive.
    #[serde(default)]
    pub protected: bool,
}

impl Group {
    pub fn is_dynamic(&self) -> bool {
        self.membership_rule.is_some()
    }
}
