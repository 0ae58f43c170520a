//! What a plan is: its changes (action, fields, why, what each waits on),
//! the resources left unknown or orphaned, the plan's fingerprints and
//! approvals, and why planning can fail. `crate::plan` makes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schema::{Address, Kind};
use serde::{Deserialize, Serialize};

use crate::diff::FieldChange;
use crate::graph::GraphError;
use crate::model::{DesiredResource, Props};

pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Only assignments differ; changed through the kind's assignment call.
    Assign,
    /// Graph cannot change a field in place: delete, then create.
    Replace,
    Delete,
    /// The ledger names an object that no longer exists: drop the entry.
    Forget,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Assign => "assign",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update | Action::Assign => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Forget => "x",
        }
    }
}

/// One change of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub display_name: String,
    /// The live object's id (for everything but create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why this change is in the plan.
    pub reason: String,
    /// Field-level before/after; for a create, every declared field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Changes earlier in the plan this one needs done first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits_on: Vec<Address>,
    /// Changes of one wave are independent of each other.
    pub wave: u32,
    /// What apply writes (absent for deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredResource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// For deletes: the live object's properties, so apply needs no re-read
    /// and the reviewer sees what goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Props>,
}

impl Change {
    /// A change with nothing but its address, action, name and reason: no
    /// id, fields, waits, desired resource, notes or live properties, in
    /// wave 0 (the passes set what they know).
    pub fn new(address: Address, action: Action, display_name: impl Into<String>, reason: impl Into<String>) -> Change {
        Change {
            address,
            action,
            display_name: display_name.into(),
            id: None,
            reason: reason.into(),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
    }
}

/// A resource whose live state could not be read: neither in sync nor drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    pub address: Address,
    pub reason: String,
}

/// A ledger-owned object no longer declared that is kept (prune is off for
/// its kind, or it is protected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphan {
    pub address: Address,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// sha256 of the desired model the plan was made from.
    pub desired_fingerprint: String,
    /// sha256 of the live objects the plan was made against.
    pub observed_fingerprint: String,
    pub changes: Vec<Change>,
    /// The object id of every resource matched to a live object, so apply
    /// can resolve references to objects it does not change.
    pub ids: BTreeMap<Address, String>,
    /// Declared resources already in the desired state.
    pub unchanged: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<Unknown>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<Orphan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Changes that need approval, with why (see `governance::classify`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sensitive: BTreeMap<Address, String>,
    /// Guardrail lint findings (errors fail `plan` and `apply` unless
    /// allowed in `[governance] allow`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lints: Vec<crate::governance::Finding>,
    /// Ring copies whose changes wait for an earlier ring to soak.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout: Vec<crate::governance::RingWait>,
    /// Who made the plan (public key and signature). Not part of `hash()`:
    /// signatures cover the hash and the author's key together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<crate::governance::Author>,
    /// Approvals: signatures over `hash()` and the author's key. Not part
    /// of `hash()`, or every approval would invalidate the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<crate::governance::Approval>,
    /// The governance in force that verifies this plan and the
    /// `[governance]` fields it changes (see `governance::trust`). Part of
    /// `hash()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<crate::governance::trust::GovernanceReview>,
    /// The change record (ticket, scope, timeline): `plan --change` and
    /// the directory's `[change]`. Part of `hash()`, so approvals cover it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<schema::kinds::change::ChangeRecord>,
    /// When a saved plan's approvals expire (RFC 3339; `plan --out`
    /// sets it, 7 days by default). Part of `hash()`, so signatures cover
    /// it: `approve` and `apply` refuse the plan after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// The person who wrote the change (`plan --author-name`, in CI the
    /// pull request's author), a key of `[governance.authors]` or
    /// approvers, when another key (CI's) signs the plan. Part of
    /// `hash()`; an approval by that person's key is refused
    /// (`governance::written_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// Declared resources whose change the tenant cannot take now, with
    /// why (see `crate::held`): not applied; `plan`, `apply` and
    /// `reconcile` exit 1 while any is listed. Part of `hash()`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<crate::held::Refused>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan changes the recorded `[governance]` (a sensitive change the
    /// approvers in force approve), whether or not it changes any object.
    pub fn changes_governance(&self) -> bool {
        self.governance.as_ref().is_some_and(|g| g.changes_governance())
    }

    /// Anything to apply: a change of an object, or of `[governance]`.
    /// What `--detailed-exitcode` reports as "changes found".
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.changes_governance()
    }

    /// Count of changes per kind and action, for summaries.
    pub fn summary(&self) -> BTreeMap<(Kind, Action), usize> {
        let mut out = BTreeMap::new();
        for c in &self.changes {
            *out.entry((c.address.kind, c.action)).or_insert(0) += 1;
        }
        out
    }

    /// Canonical hash of the plan's content: what approvals sign. It
    /// excludes `author` and `approvals` (the signatures themselves).
    pub fn hash(&self) -> String {
        // Over the redacted form: a saved plan file holds no secrets, and
        // what is signed must be exactly what the file (and reviewer) shows.
        crate::render::redacted_hash(self)
    }

    /// Lint findings of error severity.
    pub fn lint_errors(&self) -> usize {
        self.lints.iter().filter(|f| f.severity == crate::governance::Severity::Error).count()
    }
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The clock used for expiry decisions (injected so plans are reproducible).
    pub now: DateTime<Utc>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { now: schema::clock::now() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{address}: {count} live objects match `{natural_key}` ({}); remove the duplicate or run `tenantctl import {address} ID`", ids.join(", "))]
    AmbiguousMatch { address: Address, natural_key: String, count: usize, ids: Vec<String> },
    #[error("{count} problems matching desired resources to live objects:\n{}", problems.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Many { count: usize, problems: Vec<PlanError> },
    /// The tenant cannot hold this resource (e.g. a licence it lacks).
    #[error("{address}: {reason}")]
    Refused { address: Address, reason: String },
    #[error(transparent)]
    Graph(#[from] GraphError),
}
