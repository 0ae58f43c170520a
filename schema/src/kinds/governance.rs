//! `[governance]`: who may approve changes, and the guard rails of prune.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[governance]`: who may approve sensitive changes, what is protected, and the guard rails of prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Governance {
    /// Distinct approvers (other than the plan's author) a sensitive plan needs.
    #[serde(default = "default_approvals")]
    pub approvals_required: u32,
    /// People who may approve, by key.
    #[serde(default)]
    pub approvers: BTreeMap<String, Approver>,
    /// Addresses (`kind.key`) that are never deleted and whose changes are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Kinds whose changes need approval beyond the built-in sensitive ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_kinds: Vec<String>,
    /// Addresses whose changes need approval beyond the built-in sensitive ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_addresses: Vec<String>,
    /// A plan with more changes than this is sensitive as a whole.
    #[serde(default = "default_large_plan")]
    pub large_plan_threshold: u32,
    #[serde(default)]
    pub prune: Prune,
    /// What happens to a guest whose `expires` has passed.
    #[serde(default)]
    pub guest_expiry_action: GuestExpiryAction,
    /// Lints allowed on purpose, as `lint-name:kind.key` or `lint-name` for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn default_approvals() -> u32 {
    1
}
fn default_large_plan() -> u32 {
    50
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            approvals_required: default_approvals(),
            approvers: BTreeMap::new(),
            protected: Vec::new(),
            sensitive_kinds: Vec::new(),
            sensitive_addresses: Vec::new(),
            large_plan_threshold: default_large_plan(),
            prune: Prune::default(),
            guest_expiry_action: GuestExpiryAction::default(),
            allow: Vec::new(),
        }
    }
}

/// One person who may approve sensitive plans, with the Ed25519 public key their approvals are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    /// Who this is, as shown in plans and approval reports.
    pub name: String,
    /// Ed25519 public key, `ed25519:` followed by base64.
    pub public_key: String,
}

/// Deleting is opt-in per kind and bounded per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    /// Kinds whose ledger-owned objects are deleted when no longer declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Apply refuses a plan with more deletions than this unless told otherwise.
    #[serde(default = "default_max_deletions")]
    pub max_deletions: u32,
}

fn default_max_deletions() -> u32 {
    5
}

impl Default for Prune {
    fn default() -> Self {
        Prune {
            kinds: Vec::new(),
            max_deletions: default_max_deletions(),
        }
    }
}

/// What happens to a guest whose `expires` has passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GuestExpiryAction {
    /// Block sign-in (accountEnabled = false); the account can be re-enabled.
    #[default]
    Disable,
    /// Delete the guest (soft delete, restorable for 30 days).
    Delete,
}
