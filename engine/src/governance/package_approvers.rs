//! Access package approvers judged on the effective set (hostile run 16,
//! finding 4). Validation refuses service accounts (`kind = "service"`)
//! among approvers directly and through declared members; here the rest:
//! a user who is a service account only by the service-accounts group's
//! rule, and an approver or reviewer group whose membership rule may hold
//! a service account (`service-account-approver`) or someone the policy
//! admits (`self-approval`). A rule is judged against the declared
//! properties ([`super::rule::evaluate`]): only a rule proved not to hold
//! the account leaves it out.

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, DesiredResource};

fn refs(v: Option<&Value>) -> Vec<Address> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).filter_map(|r| r.parse::<Address>().ok()).collect()
}

/// `a` and, for a group, what it holds by declared members (transitively):
/// users and guests, and the groups met on the way with their rules.
fn expand(desired: &DesiredModel, a: &Address) -> (BTreeSet<Address>, Vec<(Address, String)>) {
    let (mut users, mut rules, mut seen, mut todo) = (BTreeSet::new(), Vec::new(), BTreeSet::new(), vec![a.clone()]);
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if n.kind != Kind::Group {
            users.insert(n);
            continue;
        }
        let Some(r) = desired.resources.get(&n) else { continue };
        if let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str).filter(|x| !x.trim().is_empty()) {
            rules.push((n.clone(), rule.to_string()));
        }
        todo.extend(refs(r.props.get("members")));
    }
    (users, rules)
}

/// Findings for access package `address`.
pub fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut out = BTreeSet::new();
    let props_of = |u: &Address| desired.resources.get(u).map(|d| &d.props);
    for (name, pol) in r.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
        // Whom the policy admits, as far as desired state declares them.
        let mut admitted = BTreeSet::new();
        for t in refs(pol.get("specificAllowedTargets")) {
            admitted.extend(expand(desired, &t).0);
        }
        for (role, a) in super::approvers::of_package_policy(pol) {
            let (users, rules) = expand(desired, &a);
            let via = |g: &Address| if *g == a { String::new() } else { format!(" (through {g})") };
            if let Some(s) = users.iter().find(|u| desired.service_accounts.contains(*u)) {
                out.insert((SERVICE_ACCOUNT_APPROVER, format!("policy `{name}`: {role} {a} is or holds service account {s} (by the service-accounts group's rule): approval is a person's second key")));
            }
            for (g, rule) in &rules {
                let held = |u: &&Address| props_of(u).is_some_and(|p| super::rule::evaluate(rule, p) != Some(false));
                if let Some(s) = desired.service_accounts.iter().find(|s| held(s)) {
                    out.insert((SERVICE_ACCOUNT_APPROVER, format!("policy `{name}`: {role} {a}{}: the membership rule `{rule}` may hold service account {s} (not proved to leave it out): approval is a person's second key", via(g))));
                }
                if let Some(t) = admitted.iter().find(|t| held(t)) {
                    out.insert((SELF_APPROVAL, format!("policy `{name}`: {role} {a}{}: the membership rule `{rule}` may hold {t}, whom the policy admits: nobody approves their own request", via(g))));
                }
            }
        }
    }
    out.into_iter().map(|(lint, message)| Finding { severity: Severity::Error, lint: lint.to_string(), address: address.to_string(), message }).collect()
}

/// The lint names, as validation uses them.
pub const SERVICE_ACCOUNT_APPROVER: &str = schema::kinds::access_package_rules::SERVICE_ACCOUNT_APPROVER;
pub const SELF_APPROVAL: &str = schema::kinds::access_package_rules::SELF_APPROVAL;
