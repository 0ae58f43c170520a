//! Removing out-of-band Intune admin access (hostile run 14, finding 16b):
//! a live Intune role assignment that desired state does not declare (nor
//! the ledger own), of any role (built-in, declared, or a custom role made
//! outside desired state), is deleted by the plan, as out-of-band directory role assignments are
//! (`super::access`). Ending access is never held for approval
//! ([`super::removes_access`]); the `unmanaged-intune-admin` error names it
//! and is settled by this removal.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, reference, DesiredModel, ObservedState};
use crate::plan::{Action, Change};

/// The address a removal of out-of-band Intune role assignment `id` is
/// planned under.
pub fn out_of_band_address(id: &str) -> Address {
    Address::new(Kind::IntuneRoleAssignment, format!("out-of-band-{id}"))
}

/// Deletions of out-of-band Intune role assignments. Nothing is removed
/// when Intune role assignments could not be read (unknown is unknown).
pub fn removals(_desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Change> {
    removals_indexed(_desired, observed, &super::index::IdIndex::new(ids))
}

/// [`removals`] with the plan's shared id index.
pub(crate) fn removals_indexed(_desired: &DesiredModel, observed: &ObservedState, ids: &super::index::IdIndex<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::IntuneRoleAssignment) {
        return out;
    }
    let known = ids.by_id();
    for o in observed.objects.get(&Kind::IntuneRoleAssignment).into_iter().flatten().filter(|o| !known.contains_key(o.id.as_str())) {
        // Whatever the role: built-in, declared, or a custom role made
        // outside desired state too (hostile run 15, finding 8: write and
        // wipe over all devices went unseen).
        let role = o.props.get("roleName").and_then(Value::as_str).unwrap_or_default();
        // (as written in references, as words)
        let mut groups: BTreeSet<(String, String)> = BTreeSet::new();
        for m in o.props.get("members").and_then(Value::as_array).into_iter().flatten().filter_map(as_reference) {
            let m = m.strip_prefix("id:").unwrap_or(m);
            groups.insert(match known.get(m) {
                Some(a) => (a.to_string(), a.to_string()),
                None => (format!("id:{m}"), format!("group id:{m}")),
            });
        }
        let who = if groups.is_empty() { "no group".to_string() } else { groups.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>().join(", ") };
        let mut live = o.props.clone();
        live.insert("members".into(), Value::Array(groups.iter().map(|(r, _)| reference(r.clone())).collect()));
        out.push(Change {
            address: out_of_band_address(&o.id),
            action: Action::Delete,
            display_name: format!("`{}`: {role} to {who}", o.display_name),
            id: Some(o.id.clone()),
            reason: format!("out-of-band Intune admin access: `{}` gives {role} to {who} outside desired state", o.display_name),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: vec!["removes access: applied without approval, and by reconcile --self-heal unattended".into()],
            live: Some(live),
        });
    }
    out
}
