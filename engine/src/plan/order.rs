//! Waves: the order apply follows.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};

use super::{Action, Change};
use crate::graph::{waves, GraphError};
use crate::model::DesiredModel;

/// Assign waves and `waits_on`, and sort: creates and updates in dependency
/// order, deletes after them in reverse dependency (kind) order.
pub(super) fn order(changes: &mut [Change], desired: &DesiredModel) -> Result<(), GraphError> {
    let changed: BTreeSet<Address> = changes.iter().filter(|c| c.action != Action::Delete && c.action != Action::Forget).map(|c| c.address.clone()).collect();
    let mut deps: BTreeMap<Address, Vec<Address>> = changed
        .iter()
        .map(|a| {
            let d = desired.resources.get(a).map(|r| r.depends_on.iter().filter(|d| changed.contains(*d)).cloned().collect()).unwrap_or_default();
            (a.clone(), d)
        })
        .collect();
    let after_deletes = crate::catalog_order::removals_after_roles(changes, &mut deps);
    let wave_of = waves(&deps)?;
    let last = wave_of.values().copied().max().map(|w| w + 1).unwrap_or(0);
    for c in changes.iter_mut() {
        if let Some(deleted) = after_deletes.get(&c.address) {
            // A catalog's resources leave after the packages deleted.
            c.wave = last + Kind::ALL.len() as u32;
            c.waits_on = deps.get(&c.address).cloned().unwrap_or_default();
            c.waits_on.extend(deleted.iter().cloned());
            continue;
        }
        match c.action {
            Action::Delete | Action::Forget => {
                // Dependents first: policies and role assignments, then
                // groups, then users.
                let rank = Kind::ALL.len() - 1 - Kind::ALL.iter().position(|k| *k == c.address.kind).unwrap_or(0);
                c.wave = last + rank as u32;
            }
            _ => {
                c.wave = wave_of.get(&c.address).copied().unwrap_or(0);
                c.waits_on = deps.get(&c.address).cloned().unwrap_or_default();
            }
        }
    }
    changes.sort_by(|a, b| (a.wave, &a.address).cmp(&(b.wave, &b.address)));
    // Renumber waves densely so they read 0, 1, 2...
    let mut seen: Vec<u32> = changes.iter().map(|c| c.wave).collect();
    seen.dedup();
    for c in changes.iter_mut() {
        c.wave = seen.iter().position(|w| *w == c.wave).unwrap_or(0) as u32;
    }
    Ok(())
}

