//! Managed Desktop reach judged on meaning (hostile run 14, finding 10): a
//! policy or Autopilot profile assigned to a group whose dynamic device
//! rule may hold Autopilot (ring) devices (anything not provably disjoint
//! from them, [`schema::device_rule`]), directly or through declared
//! nesting, or assigned to all users (who include the ring devices'
//! primary users), is a Managed Desktop object: every change to it is
//! sensitive.
//!
//! A group reaches the ring devices the way `all_users` does when its
//! dynamic rule over users may hold their primary users (hostile run 15,
//! finding 4: `(user.accountEnabled -eq true) and (user.userType -eq
//! "Member")` is all users in all but name): the rule is evaluated against
//! such a user, of whom only this is known: an enabled member
//! (`userType` `Member`, `accountEnabled` true). Only a rule that is false
//! for every such user (guests only, disabled accounts only) is disjoint.
//! A `memberOf` rule is nesting: the groups it names are followed, and a
//! group id nothing resolves (not declared, not in the ledger) may hold
//! anything (finding 7), as the service-account check already says.

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel};
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
            if let Some((via, why)) = device_rule_reaching(desired, g) {
                let through = if via == *g { String::new() } else { format!(" through {via}") };
                return Some(format!("{md}: {a} is assigned to {g}{through}, {why}"));
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

/// The first group of `g` and the groups it nests (declared, transitively,
/// and through `memberOf` rules) whose membership may hold ring devices or
/// their primary users, with why.
pub(super) fn device_rule_reaching(desired: &DesiredModel, g: &Address) -> Option<(Address, String)> {
    let mut todo = vec![g.clone()];
    let mut seen = BTreeSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let Some(r) = desired.resources.get(&n) else { continue };
        let mut members = BTreeSet::new();
        if let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str).filter(|r| !r.trim().is_empty()) {
            if super::member_of::member_of_ids(rule).is_some() {
                // Nesting: the groups it names, as the plan resolved them
                // (a model not resolved leaves it to the one that is).
                for v in r.props.get(super::member_of::NESTED).and_then(Value::as_array).into_iter().flatten() {
                    match as_reference(v).and_then(|x| x.parse::<Address>().ok()) {
                        Some(m) => {
                            members.insert(m);
                        }
                        None => {
                            let id = as_reference(v).unwrap_or_default();
                            let id = id.strip_prefix("id:").unwrap_or(id);
                            return Some((n, format!("whose membership rule `{rule}` names group {id}, which nothing resolves (not declared, not in the ledger): it may hold anything, ring devices included")));
                        }
                    }
                }
            } else if over_users(rule) {
                if may_hold_primary_users(rule) {
                    return Some((n, format!("whose membership rule `{rule}` may hold the ring devices' primary users (it is not provably disjoint from enabled member users), like all users")));
                }
            } else if schema::device_rule::may_reach_autopilot(rule) {
                return Some((n, format!("whose membership rule `{rule}` may hold ring devices (it is not provably disjoint from Autopilot devices)")));
            }
        }
        if let Some(v) = r.props.get("members") {
            referenced_addresses(v, &mut members);
        }
        todo.extend(members.into_iter().filter(|m| m.kind == Kind::Group));
    }
    None
}

/// Whether `rule` is over users (Entra rules are over users or devices).
fn over_users(rule: &str) -> bool {
    let lower = rule.to_lowercase();
    lower.contains("user.") && !lower.contains("device.")
}

/// Whether a rule over users may hold a ring device's primary user: an
/// enabled member user, nothing else known of them.
fn may_hold_primary_users(rule: &str) -> bool {
    let mut primary = crate::Props::new();
    primary.insert("userType".into(), Value::String("Member".into()));
    primary.insert("accountEnabled".into(), Value::Bool(true));
    super::rule::evaluate(rule, &primary) != Some(false)
}

#[cfg(test)]
mod tests {
    use super::may_hold_primary_users;

    #[test]
    fn user_rules_and_primary_users() {
        for rule in [
            r#"(user.accountEnabled -eq true) and (user.userType -eq "Member")"#,
            r#"(user.department -eq "Sales")"#,
            r#"(user.userType -ne "Guest")"#,
            r#"(user.userPrincipalName -match ".*")"#,
            "not a rule ((",
        ] {
            assert!(may_hold_primary_users(rule), "{rule}");
        }
        for rule in [r#"(user.userType -eq "Guest")"#, r#"(user.accountEnabled -eq false)"#, r#"(user.department -eq "Sales") and (user.userType -eq "guest")"#] {
            assert!(!may_hold_primary_users(rule), "{rule}");
        }
    }
}
