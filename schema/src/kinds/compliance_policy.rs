//! `[compliance_policy.KEY]`: an Intune device compliance policy. Graph
//! refuses one without exactly one block action, so the block action is part
//! of the type rather than free-form settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Assignments, Rollout};

/// `[compliance_policy.KEY]`: an Intune device compliance policy; its block action runs after `grace_period_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompliancePolicy {
    /// e.g. `windows10CompliancePolicy`.
    pub odata_type: String,
    /// Natural key of the policy.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hours a device may be non-compliant before it is marked so (the block
    /// action's grace period).
    #[serde(default)]
    pub grace_period_hours: u32,
    /// Graph properties of the policy, by their Graph (camelCase) names.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub assignments: Assignments,
    /// Roll changes out ring by ring: one copy of the policy per ring group,
    /// each change promoted to the next ring after `soak`. `assignments`
    /// may then only exclude (every ring's copy is assigned to its ring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}
