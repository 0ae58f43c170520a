//! The shape of one desired-state file, for the JSON Schema. Loading parses
//! each resource on its own (see `load`), but accepts exactly this shape.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::*;

/// One tenantctl desired-state file. Any file may declare any resources;
/// all `*.toml` files under the directory are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tenantctl desired state")]
pub struct TenantFile {
    pub tenant: Option<Tenant>,
    pub governance: Option<Governance>,
    /// The change record plans made from this directory carry.
    pub change: Option<super::change::ChangeRecord>,
    pub state: Option<StateBackend>,
    #[serde(default)]
    pub user: BTreeMap<String, User>,
    #[serde(default)]
    pub guest: BTreeMap<String, Guest>,
    #[serde(default)]
    pub group: BTreeMap<String, Group>,
    #[serde(default)]
    pub role_assignment: BTreeMap<String, RoleAssignment>,
    #[serde(default)]
    pub device_configuration: BTreeMap<String, DeviceConfiguration>,
    #[serde(default)]
    pub compliance_policy: BTreeMap<String, CompliancePolicy>,
    #[serde(default)]
    pub update_ring: BTreeMap<String, UpdateRing>,
    #[serde(default)]
    pub autopilot_profile: BTreeMap<String, AutopilotProfile>,
    #[serde(default)]
    pub conditional_access: BTreeMap<String, ConditionalAccess>,
}
