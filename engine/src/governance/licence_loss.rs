//! Who loses which licence when a licensed group is deleted (hostile run
//! 20, finding 8): the delete of a group carrying `assignedLicenses` (read
//! for the groups a plan prunes) notes the SKU part numbers and the direct
//! members that lose them (group-based licensing reaches direct members
//! only), by address where desired state or the ledger names them, else
//! by id, sorted, at most [`SHOWN`] named and the rest counted. Members
//! whose membership was not read are said to be unknown, never "none".

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use super::live::{DEVICE, GROUP};
use crate::model::ObservedState;
use crate::plan::{Action, Change};

/// Members named in a note; the rest are counted.
pub const SHOWN: usize = 20;

/// The SKU part numbers of a live `assignedLicenses` (compared form).
fn skus(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v.and_then(Value::as_array).into_iter().flatten().filter_map(|l| l.get("sku").and_then(Value::as_str)).map(str::to_string).collect();
    out.sort();
    out.dedup();
    out
}

/// Notes on each licensed group's delete.
pub fn notes(changes: &mut [Change], observed: &ObservedState, ids: &BTreeMap<Address, String>) {
    let mut by_id: Option<BTreeMap<&str, &Address>> = None;
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::Group && c.action == Action::Delete) {
        let skus = skus(c.live.as_ref().and_then(|l| l.get("assignedLicenses")));
        if skus.is_empty() {
            continue;
        }
        let what = format!("licence{} {}", if skus.len() == 1 { "" } else { "s" }, skus.join(", "));
        let members = c.id.as_deref().and_then(|id| observed.memberships.get(id));
        let Some(members) = members else {
            c.notes.push(format!("deleting it takes {what} from its direct members (its membership was not read: who they are is unknown)"));
            continue;
        };
        let by_id = by_id.get_or_insert_with(|| ids.iter().map(|(a, i)| (i.as_str(), a)).collect());
        let people: BTreeSet<String> = members
            .iter()
            .filter(|(_, t)| t.as_str() != GROUP && t.as_str() != DEVICE)
            .map(|(m, _)| by_id.get(m.as_str()).map_or_else(|| format!("id:{m}"), |a| a.to_string()))
            .collect();
        let note = match people.len() {
            0 => format!("deleting it takes {what} from no one (it has no direct user members)"),
            n => {
                let named: Vec<&str> = people.iter().take(SHOWN).map(String::as_str).collect();
                let more = if n > SHOWN { format!(" and {} more", n - SHOWN) } else { String::new() };
                format!("deleting it takes {what} from its {n} direct member{}: {}{more} (unless another group or a direct assignment gives it to them)", if n == 1 { "" } else { "s" }, named.join(", "))
            }
        };
        c.notes.push(note);
    }
}
