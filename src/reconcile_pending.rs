//! Reconcile with a desired `[governance]` that differs from the trust root
//! (a governance change not yet applied through approvals): the pass is
//! judged by the governance in force, the change itself is held for an
//! approved apply, and a correction the pending governance would make
//! differently (a delete it would prune, a forget it would turn into a
//! delete, an assignment its `allow` would admit) waits with it, so
//! nothing unattended relies on, or pre-empts, the unapproved change.

use chrono::{DateTime, Utc};
use engine::governance::trust::{in_force_model, TrustRoot};
use engine::{Change, DesiredModel, Ledger, ObservedState, Plan, PlanOptions};

use crate::reconcile::Held;

/// The start of the report warning a pending governance change gives.
pub const WARNING: &str = "governance: desired [governance] differs from the trust root";

/// Warn in the pass report (drift remains until an approved apply).
pub fn warn(plan: &Plan, report: &mut engine::drift::DriftReport) {
    let fields = plan.governance.as_ref().map(|g| g.field_lines().join("; ")).unwrap_or_default();
    report.warnings.push(format!("{WARNING} ({fields}): not in force until a plan approved by the approvers in force is applied; this pass is judged by the governance in force"));
    report.in_sync = false;
}

/// Whether a pass report carries the warning.
pub fn warned(report: &engine::drift::DriftReport) -> bool {
    report.warnings.iter().any(|w| w.starts_with(WARNING))
}

/// Desired `[governance]` waiting for approval.
pub struct Pending {
    /// Desired state with its own (unapproved) `[governance]`.
    pub desired: DesiredModel,
}

/// The model a pass plans with: desired state under the governance in
/// force; and, when desired `[governance]` differs from it, the pending one.
pub fn judged(desired: DesiredModel, trust: Option<&TrustRoot>) -> (DesiredModel, Option<Pending>) {
    match trust {
        Some(t) if t.governance != desired.governance => (in_force_model(&desired, &t.governance), Some(Pending { desired })),
        _ => (desired, None),
    }
}

fn same(a: &Change, b: &Change) -> bool {
    a.address == b.address && a.action == b.action && a.fields == b.fields && a.desired == b.desired
}

/// Hold the governance change, and every safe correction the pending
/// governance would not make the same way.
pub fn hold(pending: &Pending, plan: &Plan, observed: &ObservedState, ledger: &Ledger, now: DateTime<Utc>, safe: &mut Vec<Change>, held: &mut Vec<Held>) {
    let fields = plan.governance.as_ref().map(|g| g.fields.iter().map(|f| f.path.clone()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    held.push(Held {
        address: "governance".into(),
        action: "update".into(),
        reason: format!("desired [governance] differs from the trust root ({fields}): needs a plan approved by the approvers in force and applied; this pass is judged by the governance in force"),
    });
    let other = engine::plan(&pending.desired, observed, ledger, &PlanOptions { now }).ok();
    let (keep, wait): (Vec<Change>, Vec<Change>) = std::mem::take(safe).into_iter().partition(|c| other.as_ref().is_some_and(|o| o.changes.iter().any(|x| same(x, c))));
    *safe = keep;
    held.extend(wait.into_iter().map(|c| Held {
        address: c.address.to_string(),
        action: c.action.as_str().into(),
        reason: "the pending [governance] change would treat it differently: waits for that change's approved apply".into(),
    }));
}
