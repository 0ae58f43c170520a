//! Service accounts licensed through a group judged on the effective set
//! (hostile run 19, finding 7). Validation refuses a licensed group that
//! lists a service account among its declared direct members
//! (`schema::kinds::licenses`); here the rest, as the targeting lints judge
//! them (`super::targets`):
//! * a licensed group's membership rule that matches a service account
//!   (evaluated against its declared properties), names it, or, matching
//!   none, cannot be evaluated for one (it could license it);
//! * a licensed service-accounts group;
//! * a licensed group whose membership desired state does not manage (no
//!   `members`, no rule), by its live direct members at plan time, and
//!   likewise each group a licensed group's `memberOf` rule names whose
//!   membership desired state does not manage (hostile run 24, finding 7).
//!
//! Group-based licensing reaches a group's direct members only (Entra does
//! not license the members of nested groups; `licence-not-inherited`), so
//! nested groups are not followed; a `user.memberOf` rule makes the named
//! groups' members direct members, so those groups are followed (as
//! `super::targets` follows them) once the plan has resolved the rule's
//! group ids; `validate` cannot, so it leaves such a group to the plan.

use std::collections::BTreeMap;

use schema::kinds::licenses::SERVICE_ACCOUNT_LICENSED;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{DesiredModel, DesiredResource, ObservedState};

/// The property licences are declared under (as `providers::licensing`).
const LICENCES: &str = "assignedLicenses";

fn licensed(r: &DesiredResource) -> bool {
    r.props.get(LICENCES).and_then(Value::as_array).is_some_and(|l| !l.is_empty())
}

fn error(address: &Address, message: String) -> Finding {
    Finding { severity: Severity::Error, lint: SERVICE_ACCOUNT_LICENSED.into(), address: address.to_string(), message }
}

const WHY: &str = "service accounts get no licence (no application deployment to them); license a group that does not hold service accounts";

/// Findings of declared group `address` (desired state alone).
pub fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    if address.kind != Kind::Group || !licensed(r) {
        return out;
    }
    if desired.service_account_groups.contains(address) {
        out.push(error(address, format!("{address} assigns licences, and it is the service-accounts group: {WHY}")));
        return out;
    }
    let paused = r.props.get("membershipRuleProcessingState").and_then(Value::as_str) == Some("Paused");
    let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str).filter(|_| !paused) else { return out };
    // A `user.memberOf` rule resolved by the plan: the named groups'
    // members are this group's members (followed as targets are).
    let named: Vec<&str> = r.props.get(super::member_of::NESTED).and_then(Value::as_array).into_iter().flatten().filter_map(crate::model::as_reference).collect();
    let nested: Vec<Address> = named.iter().filter_map(|x| x.parse::<Address>().ok()).collect();
    if named.is_empty() && super::member_of::member_of_ids(rule).is_some() {
        // A `memberOf` rule validate cannot resolve (the named groups are
        // object ids only the plan maps to addresses): judged by the plan.
        return out;
    }
    let mut reach = if named.is_empty() {
        super::targets::rule_reach(desired, rule, &address.to_string())
    } else {
        super::targets::assignment_reach(desired, &nested, &[], false)
    };
    if nested.len() < named.len() {
        reach.maybe.push(format!("{address} has a memberOf rule naming a group that is not in the ledger"));
    }
    for (account, how) in &reach.accounts {
        out.push(error(address, format!("{address} assigns licences to its members and reaches service account {account} {how}: {WHY}")));
    }
    if reach.accounts.is_empty() && !desired.service_accounts.is_empty() {
        for m in &reach.maybe {
            out.push(error(address, format!("{address} assigns licences to its members, and {m} (not proved to leave them out): {WHY}")));
        }
    }
    out
}

/// Findings of licensed groups whose membership desired state does not
/// manage, by their live direct members. Membership not read is said to
/// be unknown (a warning), never taken for "no service account".
pub fn live(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::Group) {
        return out;
    }
    let by_id: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    for (address, r) in desired.resources.range(Address::new(Kind::Group, "")..).take_while(|(a, _)| a.kind == Kind::Group) {
        if licensed(r) {
            out.extend(member_of_live(desired, observed, ids, &by_id, address, r));
        }
        if !licensed(r) || super::live::manages_membership(desired, address) {
            continue;
        }
        let Some(id) = ids.get(address) else { continue };
        let Some(members) = observed.memberships.get(id) else {
            out.push(Finding {
                severity: Severity::Warning,
                lint: SERVICE_ACCOUNT_LICENSED.into(),
                address: address.to_string(),
                message: format!("{address} assigns licences and desired state does not manage its members; its live membership was not read, so whether it licenses a service account is unknown"),
            });
            continue;
        };
        for m in members.keys() {
            if let Some(account) = by_id.get(m.as_str()).filter(|a| desired.service_accounts.contains(**a)) {
                out.push(error(address, format!("{address} assigns licences to its members and service account {account} is a live member ({}): {WHY}; declare its members (people only) or remove the account from it", super::live_reach::UNMANAGED_MEMBERSHIP)));
            }
        }
    }
    out
}

/// Findings of licensed group `address` whose `memberOf` rule (resolved by
/// the plan) names groups whose membership desired state does not manage:
/// their live direct members are this group's members (hostile run 24,
/// finding 7), judged as [`live`] judges a licensed group's own. A named
/// group that could not be read is said to be unknown.
fn member_of_live(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, by_id: &BTreeMap<&str, &Address>, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    if r.props.get("membershipRuleProcessingState").and_then(Value::as_str) == Some("Paused") {
        return out;
    }
    for named in r.props.get(super::member_of::NESTED).and_then(Value::as_array).into_iter().flatten().filter_map(crate::model::as_reference) {
        let (shown, id) = match named.parse::<Address>() {
            Ok(g) if super::live::manages_membership(desired, &g) => continue,
            Ok(g) => match ids.get(&g) {
                Some(id) => (g.to_string(), id.as_str()),
                None => continue,
            },
            Err(_) => (named.to_string(), named.strip_prefix("id:").unwrap_or(named)),
        };
        let Some(members) = observed.memberships.get(id) else {
            out.push(Finding {
                severity: Severity::Warning,
                lint: SERVICE_ACCOUNT_LICENSED.into(),
                address: address.to_string(),
                message: format!("{address} assigns licences to the members of {shown} (its memberOf rule), whose membership desired state does not manage and was not read: whether it licenses a service account is unknown"),
            });
            continue;
        };
        for m in members.keys() {
            if let Some(account) = by_id.get(m.as_str()).filter(|a| desired.service_accounts.contains(**a)) {
                out.push(error(
                    address,
                    format!("{address} assigns licences to the members of {shown} (its memberOf rule) and service account {account} is a live member of it ({}): {WHY}; declare {shown}'s members (people only) or remove the account from it", super::live_reach::UNMANAGED_MEMBERSHIP),
                ));
            }
        }
    }
    out
}
