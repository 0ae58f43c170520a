//! Who loses which licence when a licensed group is deleted (hostile run
//! 20, finding 8): the delete of a group carrying `assignedLicenses` (read
//! for the groups a plan prunes) notes the SKU part numbers and the direct
//! members that lose them (group-based licensing reaches direct members
//! only), by address where desired state or the ledger names them, else
//! by id, sorted, at most [`SHOWN`] named and the rest counted. Members
//! whose membership was not read are said to be unknown, never "none".
//!
//! A replace (a group whose `isAssignableToRole` changes is deleted and
//! created again) takes the same licences from the same members until the
//! new group is licensed and its members added again (hostile run 22,
//! finding 11): its note says so, from the live group's `assignedLicenses`
//! and its members (declared ones as read with the group, else the
//! membership read for governance).

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

/// Notes on each licensed group's delete or replace.
pub fn notes(changes: &mut [Change], observed: &ObservedState, ids: &BTreeMap<Address, String>) {
    let mut by_id: Option<BTreeMap<&str, &Address>> = None;
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::Group && matches!(c.action, Action::Delete | Action::Replace)) {
        let by_id = by_id.get_or_insert_with(|| ids.iter().map(|(a, i)| (i.as_str(), a)).collect());
        let note = if c.action == Action::Delete {
            let members = c.id.as_deref().and_then(|id| observed.memberships.get(id));
            loss("deleting it takes", &skus(c.live.as_ref().and_then(|l| l.get("assignedLicenses"))), members.map(|m| people(m, by_id)), "")
        } else {
            let live = c.id.as_deref().and_then(|id| observed.objects.get(&Kind::Group)?.iter().find(|o| o.id == id));
            let Some(live) = live else { continue };
            let members = observed.memberships.get(&live.id).map(|m| people(m, by_id)).or_else(|| declared_people(live.props.get("members"), by_id));
            loss("replacing it deletes it first: that takes", &skus(live.props.get("assignedLicenses")), members, " until the new group is licensed and they are its members again")
        };
        c.notes.extend(note);
    }
}

/// The people (not groups or devices) among live members `members`, by
/// address where known.
fn people(members: &BTreeMap<String, String>, by_id: &BTreeMap<&str, &Address>) -> BTreeSet<String> {
    members.iter().filter(|(_, t)| t.as_str() != GROUP && t.as_str() != DEVICE).map(|(m, _)| by_id.get(m.as_str()).map_or_else(|| format!("id:{m}"), |a| a.to_string())).collect()
}

/// The people among a live group's `members` read with it (references to
/// ids): a member known as a group is left out; `None` when not read.
fn declared_people(members: Option<&Value>, by_id: &BTreeMap<&str, &Address>) -> Option<BTreeSet<String>> {
    let refs = members?.as_array()?;
    Some(
        refs.iter()
            .filter_map(crate::model::as_reference)
            .filter_map(|m| match by_id.get(m) {
                Some(a) if a.kind == Kind::Group => None,
                Some(a) => Some(a.to_string()),
                None => Some(format!("id:{m}")),
            })
            .collect(),
    )
}

/// The note: `how` (what the change does) takes `skus` from `people`
/// (`None`: not read), `until` said after them.
fn loss(how: &str, skus: &[String], people: Option<BTreeSet<String>>, until: &str) -> Option<String> {
    if skus.is_empty() {
        return None;
    }
    let what = format!("licence{} {}", if skus.len() == 1 { "" } else { "s" }, skus.join(", "));
    let Some(people) = people else {
        return Some(format!("{how} {what} from its direct members{until} (its membership was not read: who they are is unknown)"));
    };
    Some(match people.len() {
        0 => format!("{how} {what} from no one (it has no direct user members)"),
        n => {
            let named: Vec<&str> = people.iter().take(SHOWN).map(String::as_str).collect();
            let more = if n > SHOWN { format!(" and {} more", n - SHOWN) } else { String::new() };
            format!("{how} {what} from its {n} direct member{}: {}{more}{until} (unless another group or a direct assignment gives it to them)", if n == 1 { "" } else { "s" }, named.join(", "))
        }
    })
}
