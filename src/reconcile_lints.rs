//! What reconcile does with governance lint errors that no change of the
//! plan is about, such as a user added live to a ring device group or a
//! service account added live to a group a policy targets: tenantctl does
//! not change membership desired state does not manage, and never changes
//! a protected object unattended, so each is drift held for a person,
//! reported in the pass (and its exit code), never healed nor ignored.

use std::collections::BTreeSet;

use engine::drift::{DriftItem, DriftKind, DriftReport};
use engine::governance::Severity;
use engine::Plan;

use crate::reconcile::Held;

/// Held entries for lint errors without a change, added to `report` as
/// changed drift (the lint named in the detail).
pub fn hold_violations(plan: &Plan, report: &mut DriftReport) -> Vec<Held> {
    let changed: BTreeSet<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    let mut held = Vec::new();
    for f in plan.lints.iter().filter(|f| f.severity == Severity::Error && !changed.contains(&f.address)) {
        held.push(Held { address: f.address.clone(), action: "review".into(), reason: format!("error[{}]: {}: needs a person (never changed unattended)", f.lint, f.message) });
        let Ok(address) = f.address.parse::<schema::Address>() else { continue };
        if report.items.iter().any(|i| i.address == f.address && i.detail.contains(&f.message)) {
            continue;
        }
        report.items.push(DriftItem {
            address: f.address.clone(),
            kind: address.kind,
            drift: DriftKind::Changed,
            display_name: f.address.clone(),
            id: plan.ids.get(&address).cloned(),
            detail: format!("error[{}]: {}", f.lint, f.message),
            fields: Vec::new(),
            since: report.generated_at.clone(),
        });
        *report.counts.entry(DriftKind::Changed).or_insert(0) += 1;
        report.in_sync = false;
    }
    report.items.sort_by(|a, b| (a.kind, &a.address, a.drift).cmp(&(b.kind, &b.address, b.drift)));
    held
}
