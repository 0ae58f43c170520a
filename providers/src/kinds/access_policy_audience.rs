//! Who a policy stops admitting through a group it keeps (hostile run 28,
//! finding 8).
//!
//! A policy whose allowed requestors are a group (`groupMembers`, as
//! specific targets of `specificDirectoryUsers`) is narrowed, without a
//! change to the policy, when the plan takes people out of that group's
//! declared membership: their requests already waiting no longer fit the
//! policy, and Entra neither re-checks nor cancels them. For each group
//! target the declared policy keeps (matched by live id), whom it reaches
//! now is compared with whom everything the policy still admits reaches
//! once the plan is applied (`access_policy_reach`): people taken out of
//! its declared `members`, people reached only through a nested group
//! taken out (transitively: the v1.0 `groupMembers` page says "the members
//! of a specific group" and does not say nested members are left out, so
//! they are counted rather than missed), and people a narrowed dynamic
//! `membership_rule` no longer matches (access18). Those the policy still
//! admits after the plan (named as a user target, or reached through
//! another of its groups) are not counted.
//!
//! Reads nothing: it compares desired state with the groups already
//! observed, so a plan changing no membership costs no request.

use std::collections::BTreeSet;

use engine::model::{as_reference, reference};
use engine::{DesiredModel, Ledger, ObservedState};
use schema::Address;
use serde_json::Value;

use super::access_policy_reach::{members_said, Directory, Side};
use super::str_field;

/// The live id of a declared object: the ledger's, else the live object
/// of its kind with the declared one's natural key.
pub fn live_id(a: &Address, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Option<String> {
    ledger.id(a).map(str::to_string).or_else(|| {
        let key = &desired.resources.get(a)?.natural_key;
        observed.objects.get(&a.kind)?.iter().find(|o| &o.natural_key == key).map(|o| o.id.clone())
    })
}

/// A subject as live props name it: a reference to a declared object
/// becomes a reference to its live id, when known; anything else is kept.
pub fn resolve(t: &Value, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Value {
    as_reference(t).and_then(|r| r.parse::<Address>().ok()).and_then(|a| live_id(&a, desired, ledger, observed)).map_or_else(|| t.clone(), reference)
}

/// The people a policy stops admitting through the groups it keeps, and
/// what is said of each group that loses some.
#[derive(Debug, Default, PartialEq)]
pub struct Dropped {
    /// Live object ids of the people no longer admitted.
    pub people: BTreeSet<String>,
    /// "group `X`, an allowed requestor, loses N member(s)".
    pub said: Vec<String>,
    /// Whether some of those no longer admitted are not known (a nested
    /// group taken out whose members were not read, a changed rule not
    /// evaluated): then every request through the policy is concerned.
    pub everyone: bool,
}

fn ids(v: Option<&Value>) -> Option<BTreeSet<String>> {
    Some(v?.as_array()?.iter().filter_map(as_reference).map(str::to_string).collect())
}

/// What the declared policy `want` (subjects resolved to live ids) stops
/// admitting, compared with the live `have`, through the membership of
/// the groups it keeps: direct members taken out, nested groups taken out
/// (everyone reached only through them) and dynamic rules narrowed
/// (`access_policy_reach`).
pub fn dropped(want: &Value, have: &Value, dir: &Directory<'_>) -> Dropped {
    let mut out = Dropped::default();
    let scope = "specificDirectoryUsers";
    if str_field(want, "allowedTargetScope") != scope || str_field(have, "allowedTargetScope") != scope {
        return out;
    }
    let (Some(kept), Some(had)) = (ids(want.get("specificAllowedTargets")), ids(have.get("specificAllowedTargets"))) else { return out };
    // Everyone the policy admits once the plan is applied: its users, and
    // whom each of its groups reaches, as declared, else as live.
    let after = dir.reach_all(&kept, Side::Planned);
    for g in kept.iter().filter(|g| had.contains(*g) && dir.group(g).is_some()) {
        let lost = dir.lost(&dir.reach(g, Side::Live), &after);
        if lost.is_empty() {
            continue;
        }
        let name = dir.name(g);
        let mut words = Vec::new();
        if !lost.people.is_empty() {
            words.push(format!("loses {} it admitted", members_said(&lost)));
        }
        if !lost.unknown.is_empty() {
            words.push(format!("no longer admits everyone it did, and not all of them are known ({}): every request waiting through the policy is concerned", lost.unknown.join("; ")));
            out.everyone = true;
        }
        out.said.push(format!("group `{name}`, an allowed requestor, {}", words.join(", and ")));
        out.people.extend(lost.people);
    }
    out
}
