//! Who a policy stops admitting through a group it keeps (hostile run 28,
//! finding 8).
//!
//! A policy whose allowed requestors are a group (`groupMembers`, as
//! specific targets of `specificDirectoryUsers`) is narrowed, without a
//! change to the policy, when the plan takes people out of that group's
//! declared membership: their requests already waiting no longer fit the
//! policy, and Entra neither re-checks nor cancels them. For each group
//! target the declared policy keeps (matched by live id), whose membership
//! desired state declares and whose live members were read, the members
//! live now and not declared are taken out; those the policy still admits
//! after the plan (named as a user target, or a member of another of its
//! groups as declared, else as live) are not counted. Only direct members
//! are followed: a person reached through a nested group taken out is
//! not (the sandbox, like the policy check it mirrors, admits direct
//! members).
//!
//! Reads nothing: it compares desired state with the groups already
//! observed, so a plan changing no membership costs no request.

use std::collections::BTreeSet;

use engine::model::{as_reference, reference};
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::{Address, Kind};
use serde_json::Value;

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
}

fn ids(v: Option<&Value>) -> Option<BTreeSet<String>> {
    Some(v?.as_array()?.iter().filter_map(as_reference).map(str::to_string).collect())
}

/// Where a group's membership stands: the declared group of live id `g`
/// (its members resolved to live ids where known, else kept as declared),
/// and the live group.
struct Membership<'a> {
    declared: Option<BTreeSet<String>>,
    live: Option<&'a LiveObject>,
}

fn membership<'a>(g: &str, desired: &DesiredModel, ledger: &Ledger, observed: &'a ObservedState) -> Membership<'a> {
    let live = observed.objects.get(&Kind::Group).and_then(|l| l.iter().find(|o| o.id == g));
    let declared = desired
        .resources
        .range(Address::new(Kind::Group, "")..)
        .take_while(|(a, _)| a.kind == Kind::Group)
        .find(|(a, _)| live_id(a, desired, ledger, observed).as_deref() == Some(g))
        .and_then(|(_, r)| r.props.get("members"))
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(|m| resolve(m, desired, ledger, observed)).filter_map(|m| as_reference(&m).map(str::to_string)).collect());
    Membership { declared, live }
}

/// What the declared policy `want` (subjects resolved to live ids) stops
/// admitting, compared with the live `have`, through the membership of
/// the groups it keeps.
pub fn dropped(want: &Value, have: &Value, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Dropped {
    let mut out = Dropped::default();
    let scope = "specificDirectoryUsers";
    if str_field(want, "allowedTargetScope") != scope || str_field(have, "allowedTargetScope") != scope {
        return out;
    }
    let (Some(kept), Some(had)) = (ids(want.get("specificAllowedTargets")), ids(have.get("specificAllowedTargets"))) else { return out };
    let groups: Vec<(&String, Membership<'_>)> = kept.iter().filter_map(|t| Some((t, membership(t, desired, ledger, observed))).filter(|(_, m)| m.live.is_some())).collect();
    // Who each kept group holds once the plan is applied: as declared,
    // else as live (a membership desired state leaves alone).
    let after = |m: &Membership<'_>| m.declared.clone().or_else(|| m.live.and_then(|o| ids(o.props.get("members")))).unwrap_or_default();
    for (g, m) in groups.iter().filter(|(g, _)| had.contains(*g)) {
        let (Some(declared), Some(live)) = (&m.declared, m.live.and_then(|o| ids(o.props.get("members")))) else { continue };
        let out_now: Vec<String> = live
            .difference(declared)
            .filter(|p| !kept.contains(*p))
            .filter(|p| !groups.iter().any(|(other, om)| other != g && after(om).contains(*p)))
            .cloned()
            .collect();
        if out_now.is_empty() {
            continue;
        }
        let name = m.live.map(|o| o.display_name.as_str()).filter(|n| !n.is_empty()).unwrap_or(g.as_str());
        let n = out_now.len();
        out.said.push(format!("group `{name}`, an allowed requestor, loses {n} member{} it admitted", if n == 1 { "" } else { "s" }));
        out.people.extend(out_now);
    }
    out
}
