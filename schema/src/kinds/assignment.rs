//! Intune assignment targets, shared by every policy kind.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who a policy applies to. Groups are named by their key in desired state;
/// `/assign` in Graph replaces the whole set, so this is always the complete
/// desired set, never a delta.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    /// Keys of groups the policy is assigned to (groupAssignmentTarget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Keys of groups excluded from the policy (exclusionGroupAssignmentTarget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Assign to all devices (allDevicesAssignmentTarget).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_devices: bool,
    /// Assign to all licensed users (allLicensedUsersAssignmentTarget).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_users: bool,
}

impl Assignments {
    /// Every group key referenced, included or excluded.
    pub fn group_keys(&self) -> impl Iterator<Item = &String> {
        self.include.iter().chain(self.exclude.iter())
    }
}
