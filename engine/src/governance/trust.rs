//! The trust root of approvals: the `[governance]` in force for a tenant,
//! recorded with its state (beside the ledger) by the last apply that
//! changed it. A plan is verified against the governance in force, never
//! against the one it introduces, so whoever edits desired state cannot
//! choose the people who approve that edit.
//!
//! Lifecycle:
//! * No trust root recorded: first use. The desired `[governance]` is
//!   trusted as it stands (loudly warned in the plan) and recorded by the
//!   next apply.
//! * Recorded, and desired `[governance]` differs: the plan carries a
//!   `governance` review with every field that changes; it is a sensitive
//!   change that needs `approvals_required` approvals from the approvers in
//!   force (the recorded ones). Once such a plan is applied, its
//!   `[governance]` becomes the trust root.
//!
//! Pure: the caller reads and writes the file ([`TrustRoot::parse`],
//! [`TrustRoot::render`]).

use std::collections::BTreeMap;

use schema::kinds::Governance;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::DesiredModel;

/// Format of the trust root file.
pub const TRUST_FORMAT_VERSION: u32 = 1;

/// What is recorded beside the ledger when governance is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRoot {
    pub format_version: u32,
    /// The `[governance]` in force.
    pub governance: Governance,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The hash of the plan whose apply recorded it.
    pub plan: String,
    /// Who approved that plan (approver keys in force then); empty on first use.
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// Recorded on first use (trusted without approvals).
    #[serde(default)]
    pub first_use: bool,
    /// The tenant (organization id) it governs: using it for another
    /// tenant is refused. Recorded by the next apply when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Object ids of the protected objects, id -> the address protected
    /// (see `governance::protected_ids`): a ledger edit moving one to
    /// another address is a governance change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protected_ids: BTreeMap<String, String>,
    /// The sequence under which the tenant's trust extension recorded it
    /// (`trustSeq`, one more at each recording): a tenant that records a
    /// lower one with another fingerprint had its trust root rolled back.
    /// Absent for a trust root recorded before gov27.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_seq: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("the governance trust root is not readable JSON of format {TRUST_FORMAT_VERSION}; restore it from backup (deleting it does not start over: the journal and the tenant's governance marker remember it, and apply refuses until it is restored or governance is re-adopted on purpose)")]
pub struct TrustError(#[source] pub serde_json::Error);

impl TrustRoot {
    pub fn parse(text: &str) -> Result<TrustRoot, TrustError> {
        serde_json::from_str(text).map_err(TrustError)
    }

    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Where a plan's governance in force came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub at: String,
    pub plan: String,
}

/// One `[governance]` field that the plan changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceField {
    /// Dotted path, e.g. `approvers.mallory` or `approvals_required`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

/// The governance review a plan carries: the approvers that verify it and
/// what it changes in `[governance]`. Part of the plan's hash, so apply
/// (which recomputes it from the recorded trust root) refuses a plan that
/// claims another governance in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceReview {
    /// The `[governance]` that verifies this plan.
    pub in_force: Governance,
    /// `None`: no trust root was recorded (first use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    /// Fields of `[governance]` this plan changes (empty on first use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<GovernanceField>,
}

impl GovernanceReview {
    pub fn first_use(&self) -> bool {
        self.recorded.is_none()
    }

    /// The plan changes a recorded `[governance]`: a sensitive change.
    pub fn changes_governance(&self) -> bool {
        !self.first_use() && !self.fields.is_empty()
    }

    /// Applying the plan records desired `[governance]` as the trust root.
    pub fn records(&self) -> bool {
        self.first_use() || !self.fields.is_empty()
    }

    /// Why the governance change is sensitive, for approval reasons.
    pub fn reason(&self) -> Option<String> {
        self.changes_governance().then(|| {
            let paths: Vec<&str> = self.fields.iter().map(|f| f.path.as_str()).collect();
            format!("changes [governance] ({}): needs approval by the approvers in force", paths.join(", "))
        })
    }
}

impl GovernanceReview {
    /// One line per changed field, `path: from -> to`, for renderers.
    pub fn field_lines(&self) -> Vec<String> {
        let shown = |v: &Option<Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "(absent)".into());
        self.fields.iter().map(|f| format!("{}: {} -> {}", f.path, shown(&f.from), shown(&f.to))).collect()
    }
}

/// The review of desired `[governance]` against the trust root.
pub fn review(desired: &Governance, trust: Option<&TrustRoot>) -> GovernanceReview {
    match trust {
        None => GovernanceReview { in_force: desired.clone(), recorded: None, fields: Vec::new() },
        Some(t) => GovernanceReview {
            in_force: t.governance.clone(),
            recorded: Some(Recorded { at: t.recorded_at.clone(), plan: t.plan.clone() }),
            fields: diff(&t.governance, desired),
        },
    }
}

/// [`review`], with the protected ids a ledger edit moved to another
/// address (`ids`: the plan's matched objects) as governance changes.
pub fn review_for(desired: &Governance, trust: Option<&TrustRoot>, ids: &BTreeMap<schema::Address, String>) -> GovernanceReview {
    let mut r = review(desired, trust);
    if let Some(t) = trust {
        r.fields.extend(super::protected_ids::fields(&t.protected_ids, ids));
    }
    r
}

/// The loud first-use warning shown in plans.
pub const FIRST_USE_WARNING: &str = "governance: no trust root is recorded for this tenant (first use): the approvers and rules in desired [governance] are trusted as they stand, and the next apply records them as the trust root; check them now";

/// The fields that differ between two `[governance]`s, as leaf paths
/// (maps are walked; lists compare whole).
pub fn diff(from: &Governance, to: &Governance) -> Vec<GovernanceField> {
    let a = serde_json::to_value(from).unwrap_or(Value::Null);
    let b = serde_json::to_value(to).unwrap_or(Value::Null);
    let mut out = Vec::new();
    walk("", Some(&a), Some(&b), &mut out);
    out
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<GovernanceField>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(&p, x.get(k), y.get(k), out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(GovernanceField { path: path.to_string(), from: x.cloned(), to: y.cloned() }),
    }
}

/// Attach the review to a freshly made plan: the governance in force,
/// the `[governance]` fields the plan changes, and (first use) a loud
/// warning. Sensitivity is re-derived with the rules in force as well as
/// the desired ones, so a plan cannot unlist what makes it sensitive.
pub fn attach(plan: &mut crate::Plan, desired: &DesiredModel, trust: Option<&TrustRoot>) {
    let review = review_for(&desired.governance, trust, &plan.ids);
    if review.first_use() {
        plan.warnings.push(FIRST_USE_WARNING.to_string());
    }
    let mut in_force = in_force_model(desired, &review.in_force);
    if let Some(t) = trust {
        super::protected_ids::protect_owners(&mut in_force, &t.protected_ids, &plan.ids);
    }
    let extra: BTreeMap<schema::Address, String> = super::sensitivity(&plan.changes, &in_force);
    for (a, why) in extra {
        plan.sensitive.entry(a).or_insert(why);
    }
    super::exception_binding::check(plan, desired, &review);
    plan.governance = Some(review);
}

/// The desired model judged by the governance in force. Governance the
/// objects declare (`Governance::declared`) is judged by the stricter of
/// the two: a group protected in force stays protected, an account a
/// service account in force stays one, read-only stays read-only, and it
/// may hold only roles both lists allow, until a plan the approvers in
/// force approve records the change.
pub fn in_force_model(desired: &DesiredModel, in_force: &Governance) -> DesiredModel {
    let mut m = desired.clone();
    m.governance = in_force.clone();
    for (key, d) in &in_force.declared {
        let Ok(a) = key.parse::<schema::Address>() else { continue };
        if d.protected {
            m.protected_groups.insert(a.clone());
        }
        if d.service {
            m.service_accounts.insert(a.clone());
            match m.service_account_roles.get_mut(&a) {
                Some(sr) => {
                    sr.read_only |= d.read_only;
                    if let Some(allowed) = &d.allowed_roles {
                        sr.allowed.retain(|r| allowed.contains(r));
                    }
                }
                None => {
                    m.service_account_roles.insert(a, crate::model::ServiceRoles { allowed: d.allowed_roles.clone().unwrap_or_default(), read_only: d.read_only });
                }
            }
        }
    }
    m
}

/// Approver and author display names for the journal: `key (Name)`.
pub fn key_name(gov: &Governance, public_key: &str) -> Option<String> {
    gov.approvers
        .iter()
        .chain(gov.authors.iter())
        .find(|(_, a)| super::signatures::same_key(&a.public_key, public_key))
        .map(|(k, a)| format!("{k} ({})", a.name))
}
