//! A guest's sponsor (hostile run 17, finding 8). `sponsor` is who vouches
//! for the guest: free text desired state keeps for review, never sent to
//! Graph. A change of it alone used to plan as "no changes", so nobody saw
//! it. The ledger records the sponsor as applied
//! ([`crate::ledger::LedgerEntry::sponsor`]), and the plan shows another
//! one in desired state as a field change of the guest with before and
//! after (`~ sponsor: "adele" -> "megan"`), recorded in the ledger only
//! (`super::recorded::is_ledger_field`, added by `super::ledger_field`), and reviewed like every change of
//! a guest. An entry that records none yet (written by an older tenantctl,
//! or adopted) has nothing to compare: the next apply records it
//! ([`remember`]).

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use crate::change_index::ChangeIndex;
use crate::diff::FieldChange;
use crate::ledger::{Ledger, LedgerEntry, LedgerOp};
use crate::model::{DesiredModel, DesiredResource, LiveObject};
use crate::plan::{Action, Change, Plan};

/// The field (and `create_only` entry) a guest's sponsor is shown as.
pub const SPONSOR: &str = "sponsor";

/// The sponsor desired state gives guest `r`.
fn declared(r: &DesiredResource) -> Option<String> {
    r.create_only.get(SPONSOR).and_then(Value::as_str).map(str::to_string)
}

fn text(v: Option<String>) -> Value {
    v.map(Value::String).unwrap_or(Value::Null)
}

/// Show each guest whose declared sponsor is not the one the ledger
/// recorded as a change of its `sponsor` (see the module documentation).
pub fn add_changes(changes: &mut Vec<Change>, unchanged: &mut Vec<Address>, desired: &DesiredModel, ledger: &Ledger, matched: &BTreeMap<Address, &LiveObject>, unknown: &BTreeMap<Address, String>) {
    let mut index = ChangeIndex::new(changes, unchanged);
    for (address, r) in desired.resources.range(Address::new(Kind::Guest, "")..).take_while(|(a, _)| a.kind == Kind::Guest) {
        if unknown.contains_key(address) {
            continue;
        }
        let Some(live) = matched.get(address) else { continue };
        let Some(entry) = ledger.resources.get(address).filter(|e| e.id == live.id) else { continue };
        let Some(recorded) = entry.sponsor.clone() else { continue };
        let wanted = declared(r);
        if wanted.as_deref() == Some(recorded.as_str()) {
            continue;
        }
        let field = FieldChange { field: SPONSOR.into(), before: Some(Value::String(recorded)), after: Some(text(wanted)) };
        let f = super::ledger_field::LedgerField { address, desired: r, live_id: &live.id, field, reason: "sponsor differs from the one last applied", notes: Vec::new() };
        // Ending access is never held by what else changes with it.
        super::ledger_field::add(&mut index, f, |c| matches!(c.action, Action::Delete | Action::Forget | Action::Create | Action::Replace) || super::removes_access(c).is_some());
    }
}

/// The sponsor the ledger records once change `c` is applied: desired
/// state's for a guest it writes, else what `prev` recorded.
pub fn after(c: &Change, prev: Option<&LedgerEntry>) -> Option<String> {
    match (&c.desired, c.address.kind) {
        (Some(d), Kind::Guest) => declared(d),
        _ => prev.and_then(|e| e.sponsor.clone()),
    }
}

/// Ledger records of the sponsor of guests whose entry records none yet,
/// after an apply of `plan`.
pub fn remember(desired: &DesiredModel, plan: &Plan, ledger: &mut Ledger) -> Vec<(Address, LedgerOp)> {
    let mut out = Vec::new();
    for (a, r) in desired.resources.range(Address::new(Kind::Guest, "")..).take_while(|(a, _)| a.kind == Kind::Guest) {
        let Some(entry) = ledger.resources.get(a) else { continue };
        let Some(sponsor) = declared(r) else { continue };
        if entry.sponsor.is_some() || plan.ids.get(a).is_some_and(|id| *id != entry.id) {
            continue;
        }
        let mut entry = entry.clone();
        entry.sponsor = Some(sponsor);
        let op = LedgerOp::Record { address: a.clone(), entry };
        ledger.apply_op(&op);
        out.push((a.clone(), op));
    }
    out
}
