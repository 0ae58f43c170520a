//! After self-heal applied its changes: a lint error held for a person
//! about a live object the pass itself just deleted (an out-of-band role
//! assignment on a service account, named `id:OBJECT_ID` by the lint) is
//! no longer waiting for anyone. It is dropped from the held list and from
//! the pass's drift, so the report does not name stale items.

use std::collections::BTreeSet;

use engine::drift::DriftReport;
use engine::{Action, Plan};

use crate::reconcile::Held;

/// Drop held lint reviews (and their drift items) about objects this pass
/// deleted.
pub fn drop_remedied(plan: &Plan, applied: &[Held], held: &mut Vec<Held>, report: &mut DriftReport) {
    let done: BTreeSet<&str> = applied.iter().filter(|h| h.action == Action::Delete.as_str()).map(|h| h.address.as_str()).collect();
    let gone: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete && done.contains(c.address.to_string().as_str()))
        .flat_map(|c| [Some(c.address.to_string()), c.id.as_ref().map(|id| format!("id:{id}"))])
        .flatten()
        .collect();
    if gone.is_empty() {
        return;
    }
    held.retain(|h| !(h.action == "review" && gone.contains(&h.address)));
    let (stale, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut report.items).into_iter().partition(|i| gone.contains(&i.address) && i.detail.starts_with("error["));
    report.items = kept;
    for i in &stale {
        if let Some(n) = report.counts.get_mut(&i.drift) {
            *n = n.saturating_sub(1);
        }
    }
    if !stale.is_empty() {
        report.in_sync = report.items.is_empty() && report.unknown.is_empty() && !crate::reconcile_pending::warned(report);
    }
}
