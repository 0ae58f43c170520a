//! Managed Desktop reach judged on meaning (hostile run 14, finding 10): a
//! policy or Autopilot profile assigned to a group whose dynamic device
//! rule may hold Autopilot (ring) devices (anything not provably disjoint
//! from them, [`schema::device_rule`]), directly or through declared
//! nesting, or assigned to all users (who include the ring devices'
//! primary users), is a Managed Desktop object: every change to it is
//! sensitive.

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::DesiredModel;
use crate::plan::{referenced_addresses, Change};

/// Why `change` touches ring devices through what its assignments mean, or
/// `None`.
pub fn reason(change: &Change, desired: &DesiredModel) -> Option<String> {
    desired.governance.managed_desktop.as_ref()?;
    let a = &change.address;
    if !(a.kind.is_policy() || a.kind == Kind::AutopilotProfile) {
        return None;
    }
    let md = super::MANAGED_DESKTOP;
    for props in change.desired.iter().map(|d| &d.props).chain(change.live.iter()) {
        let Some(assignments) = props.get("assignments") else { continue };
        if all_users(assignments) {
            return Some(format!("{md}: {a} is assigned to all users, who include the ring devices' primary users"));
        }
        let mut targets = BTreeSet::new();
        for (k, v) in assignments.as_object().into_iter().flatten() {
            if k != "exclude" {
                referenced_addresses(v, &mut targets);
            }
        }
        for g in targets.iter().filter(|g| g.kind == Kind::Group) {
            if let Some((via, rule)) = device_rule_reaching(desired, g) {
                let through = if via == *g { String::new() } else { format!(" through {via}") };
                return Some(format!("{md}: {a} is assigned to {g}{through}, whose membership rule `{rule}` may hold ring devices (it is not provably disjoint from Autopilot devices)"));
            }
        }
    }
    None
}

/// Whether normalized assignments target all users (unfiltered or
/// filtered).
fn all_users(a: &Value) -> bool {
    a.get("allUsers").and_then(Value::as_bool) == Some(true)
        || a.get("filters").and_then(Value::as_object).is_some_and(|f| f.values().flat_map(|v| v.as_array().into_iter().flatten()).any(|t| t.as_str() == Some("allUsers")))
}

/// The first group of `g` and the groups it nests (declared, transitively)
/// whose membership rule may hold Autopilot devices, with that rule.
pub(super) fn device_rule_reaching(desired: &DesiredModel, g: &Address) -> Option<(Address, String)> {
    let mut todo = vec![g.clone()];
    let mut seen = BTreeSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let Some(r) = desired.resources.get(&n) else { continue };
        // A `memberOf` test in it is nesting, judged by the groups it names
        // (`grants`, `member_of`); the rest of the rule is judged here.
        if let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str).filter(|r| !r.trim().is_empty()) {
            if schema::device_rule::may_reach_autopilot(rule) {
                return Some((n, rule.to_string()));
            }
        }
        let mut members = BTreeSet::new();
        if let Some(v) = r.props.get("members") {
            referenced_addresses(v, &mut members);
        }
        todo.extend(members.into_iter().filter(|m| m.kind == Kind::Group));
    }
    None
}
