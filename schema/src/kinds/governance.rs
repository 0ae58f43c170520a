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
    /// People who may approve, by key. Only these keys sign approvals.
    #[serde(default)]
    pub approvers: BTreeMap<String, Approver>,
    /// People who may author sensitive plans, by key (approvers may author
    /// too). A sensitive plan signed by a key listed in neither is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authors: BTreeMap<String, Approver>,
    /// Why this tenant runs with fewer than two approvals (required, and
    /// warned about, when `approvals_required` is below 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unattended: Option<String>,
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
    /// The Managed Desktop objects, protected by default: any change to
    /// them is sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_desktop: Option<ManagedDesktop>,
    /// Lints allowed with a reason, `"lint-name:kind.key" = "why"` (e.g. a
    /// break-glass account's standing Global Administrator).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exceptions: BTreeMap<String, String>,
    /// Governance declared on the objects themselves rather than here
    /// (`protected` groups; service accounts' `kind`, `read_only` and
    /// `allowed_roles`), by address. Filled in by tenantctl from desired
    /// state, never written in `[governance]` (validation refuses it):
    /// recorded with the rest in the trust root, so changing it is a
    /// governance change the approvers in force approve.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(skip)]
    pub declared: BTreeMap<String, Declared>,
}

/// What one object declares about its own governance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    /// A group declared `protected = true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    /// A service account (`kind = "service"`, or held by the Managed
    /// Desktop service-accounts group).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// A service account that may hold read-only roles only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// The roles a service account may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_roles: Option<Vec<String>>,
    /// A policy rolled out ring by ring: its rings in order and its soak
    /// (`mwd-test > mwd-first soak 48h`). Graph keeps neither, so a
    /// changed soak or ring order shows as a governance change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// What an exception in `[governance.exceptions]` keyed to this
    /// assignment was approved for: its holder and role
    /// (`user.breakglass-1 as Global Administrator`). Recorded
    /// in the trust root, so an exception does not follow its key to
    /// another principal or role (hostile run 14, finding 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excepted: Option<String>,
}

/// Two-key completion: two people other than the author.
pub const DEFAULT_APPROVALS: u32 = 2;

fn default_approvals() -> u32 {
    DEFAULT_APPROVALS
}
fn default_large_plan() -> u32 {
    50
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            approvals_required: default_approvals(),
            approvers: BTreeMap::new(),
            authors: BTreeMap::new(),
            unattended: None,
            protected: Vec::new(),
            sensitive_kinds: Vec::new(),
            sensitive_addresses: Vec::new(),
            large_plan_threshold: default_large_plan(),
            prune: Prune::default(),
            guest_expiry_action: GuestExpiryAction::default(),
            allow: Vec::new(),
            exceptions: BTreeMap::new(),
            managed_desktop: None,
            declared: BTreeMap::new(),
        }
    }
}

/// `[governance.managed_desktop]`: which declared objects are the Managed
/// Desktop service's. Any change to them (and to every policy assigned to a
/// ring or the all-devices group, and to the service accounts) is
/// sensitive; ring device groups hold devices only; at most one Autopilot
/// profile targets the all-devices group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedDesktop {
    /// Ring device groups, by group key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rings: Vec<String>,
    /// The all-devices group, by group key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_devices: Option<String>,
    /// The service accounts' group, by group key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts_group: Option<String>,
    /// The Managed Desktop Autopilot profile, by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot_profile: Option<String>,
}

/// One person who may approve (or author) sensitive plans, with the Ed25519 public key they sign with.
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
    /// Also delete objects tenantctl adopted (the tenant had them before
    /// tenantctl matched or imported them), as the ledger records them.
    /// Off by default: pruning deletes only what tenantctl created (or
    /// what a ledger written before origins were recorded owns).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
}

fn default_max_deletions() -> u32 {
    5
}

impl Default for Prune {
    fn default() -> Self {
        Prune {
            kinds: Vec::new(),
            max_deletions: default_max_deletions(),
            adopted: false,
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

/// Why 32 bytes are not acceptable as an approver's or author's Ed25519
/// public key, or `None` when they are: not a point on the curve, a point
/// of small order (a "weak" key: one constant signature verifies for every
/// message, so anyone could forge its approvals), or a non-canonical
/// encoding (the same point written another way, which would let one key
/// pass for two).
pub fn ed25519_key_problem(bytes: &[u8; 32]) -> Option<&'static str> {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(bytes) else {
        return Some("not a point on the curve");
    };
    if key.is_weak() {
        return Some("a weak key of small order, whose signatures anyone can forge");
    }
    if key.to_edwards().compress().to_bytes() != *bytes {
        return Some("not the canonical encoding of its point");
    }
    None
}
