//! Intune assignment targets, shared by every policy kind.

use std::collections::BTreeMap;

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
    /// Assignment filters, by target: an included group's key, or
    /// `all_devices` / `all_users`. Graph has none on exclusions. E.g.
    /// `filters = { mwd-test = { filter = "Corporate laptops", mode = "include" } }`.
    /// A target without an entry is unfiltered (and a filter set on it in
    /// Intune is drift).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, AssignmentFilter>,
}

/// An Intune assignment filter applied to one assignment target
/// (`deviceAndAppManagementAssignmentFilterId` and `...FilterType` on the
/// target; beta only, and Intune policies are read and written through beta).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentFilter {
    /// The filter's display name or id (`/deviceManagement/assignmentFilters`),
    /// resolved when the tenant is read and when assignments are written.
    pub filter: String,
    /// Whether the filter selects the devices the policy applies to
    /// (`include`) or the devices it skips (`exclude`).
    pub mode: FilterMode,
}

/// deviceAndAppManagementAssignmentFilterType, without `none` (no entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FilterMode {
    Include,
    Exclude,
}

impl FilterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterMode::Include => "include",
            FilterMode::Exclude => "exclude",
        }
    }
}

/// The target names `filters` accepts besides included group keys.
pub const ALL_DEVICES: &str = "all_devices";
pub const ALL_USERS: &str = "all_users";

impl Assignments {
    /// Every group key referenced, included or excluded.
    pub fn group_keys(&self) -> impl Iterator<Item = &String> {
        self.include.iter().chain(self.exclude.iter())
    }
}
