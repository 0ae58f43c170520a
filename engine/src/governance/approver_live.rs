//! Approver and reviewer groups judged by their live members where desired
//! state does not manage their membership (hostile run 17, finding 11).
//! Validation and `super::package_approvers` judge declared members and
//! rules; a group declared without `members` holds whoever the tenant puts
//! in it, so at plan time its live members (nested groups followed,
//! [`super::live_members`]) are judged like declared ones:
//! * a service account among a `role_policy`'s activation approvers:
//!   `pim-approver-service-account` (no exception); anyone else there is
//!   judged by `super::pim_approver_live` (`unmanaged-pim-approver`);
//! * a service account among an access package policy's approvers
//!   (primary, fallback, escalation) or reviewers:
//!   `service-account-approver` (no exception);
//! * someone the policy admits among them (by its `allowedTargetScope`: a
//!   member user, a guest, anyone, or a member of its specific targets):
//!   `self-approval`, unless excepted with a reason like the declared form.
//!
//! Membership that was not read leaves the approvers unknown: an error
//! that says so. Being about live membership tenantctl does not change,
//! these refuse only a plan that changes what they are about
//! (`super::live_reach::blocks`).

use std::collections::{BTreeMap, BTreeSet};

use schema::kinds::access_package::EXTERNAL_SCOPES;
use schema::{Address, Kind};
use serde_json::Value;

use super::declared_access::PIM_APPROVER_SERVICE_ACCOUNT;
use super::lints::{Finding, Severity};
use super::live_members::{is_guest, of, Held};
use super::live_reach::UNMANAGED_MEMBERSHIP;
use super::package_approvers::{SELF_APPROVAL, SERVICE_ACCOUNT_APPROVER};
use crate::model::{DesiredModel, ObservedState};

/// The groups among `approvers` (people are judged from desired state).
fn groups(approvers: impl IntoIterator<Item = Address>) -> Vec<Address> {
    approvers.into_iter().filter(|a| a.kind == Kind::Group).collect()
}

fn error(lint: &str, address: &Address, message: String) -> Finding {
    Finding { severity: Severity::Error, lint: lint.into(), address: address.to_string(), message }
}

/// Findings for approver and reviewer groups whose live members are judged.
/// Nothing is said when users or groups could not be read (the plan lists
/// them as unknown already).
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Guest, Kind::Group].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    for (address, r) in &desired.resources {
        match address.kind {
            Kind::RolePolicy => {
                let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
                for g in groups(super::approvers::of_role_policy(&r.props)) {
                    let held = of(desired, observed, ids, &g);
                    for (account, path) in accounts(desired, &held) {
                        let nested = super::live_reach::nesting_note(desired, &path);
                        out.push(error(PIM_APPROVER_SERVICE_ACCOUNT, address, format!("service account {account} approves activations of {role} through {path}, a live member ({UNMANAGED_MEMBERSHIP}){nested}: service accounts do no MFA and are nobody's second person; declare the members of {g} (people only) or remove it from the group")));
                    }
                    out.extend(super::pim_approver_live::people(desired, observed, address, role, &g, &held));
                    for path in &held.unread {
                        out.push(error(PIM_APPROVER_SERVICE_ACCOUNT, address, format!("activations of {role} are approved by {g}, and the live membership of {path} was not read, so whether a service account approves them is unknown ({UNMANAGED_MEMBERSHIP})")));
                    }
                }
            }
            Kind::AccessPackage => out.extend(package(desired, observed, ids, address, r)),
            _ => {}
        }
    }
    // `self-approval` may be excepted with a reason, as where it is
    // declared; a service account approving never is.
    let (selfish, rest): (Vec<Finding>, Vec<Finding>) = out.into_iter().partition(|f| f.lint == SELF_APPROVAL);
    let mut out = super::lints::finish(&desired.governance, selfish);
    out.extend(rest);
    out.sort();
    out.dedup();
    out
}

/// The service accounts among `held`'s members, with the path.
fn accounts<'a>(desired: &DesiredModel, held: &'a Held) -> Vec<(&'a Address, String)> {
    held.members.iter().filter_map(|(id, (_, path))| held.address(id).filter(|a| desired.service_accounts.contains(*a)).map(|a| (a, path.clone()))).collect()
}

fn package(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, address: &Address, r: &crate::model::DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, pol) in r.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
        let scope = pol.get("allowedTargetScope").and_then(Value::as_str).unwrap_or_default();
        // The specific targets' people, declared and live, by live id.
        let mut targets: BTreeSet<String> = BTreeSet::new();
        let mut refs = BTreeSet::new();
        if let Some(v) = pol.get("specificAllowedTargets") {
            crate::plan::referenced_addresses(v, &mut refs);
        }
        let mut todo: Vec<Address> = refs.into_iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(t) = todo.pop() {
            if !seen.insert(t.clone()) {
                continue;
            }
            if t.kind != Kind::Group {
                targets.extend(ids.get(&t).cloned());
                continue;
            }
            let mut members = BTreeSet::new();
            if let Some(m) = desired.resources.get(&t).and_then(|d| d.props.get("members")) {
                crate::plan::referenced_addresses(m, &mut members);
            }
            todo.extend(members);
            targets.extend(of(desired, observed, ids, &t).members.into_keys());
        }
        let admits = |id: &str, a: Option<&Address>| -> Option<&'static str> {
            match scope {
                "allMemberUsers" => (!is_guest(observed, a, id)).then_some("a member user"),
                "allDirectoryUsers" => Some("a directory user"),
                s if EXTERNAL_SCOPES.contains(&s) => is_guest(observed, a, id).then_some("an external user"),
                _ => targets.contains(id).then_some("among its specific targets"),
            }
        };
        let lists = super::approvers::of_package_policy(pol).into_iter().filter(|(_, g)| g.kind == Kind::Group);
        for (role, g) in lists {
            let held = of(desired, observed, ids, &g);
            for (account, path) in accounts(desired, &held) {
                out.push(error(SERVICE_ACCOUNT_APPROVER, address, format!("policy `{name}`: {role} {g} holds service account {account} through {path}, a live member ({UNMANAGED_MEMBERSHIP}): a service account never approves or reviews a request (approval is a person's second key); declare the members of {g} (people only) or remove it from the group")));
            }
            for (id, (ty, path)) in &held.members {
                if held.address(id).is_some_and(|a| desired.service_accounts.contains(a)) {
                    continue;
                }
                if let Some(how) = admits(id, held.address(id)) {
                    out.push(error(SELF_APPROVAL, address, format!("policy `{name}`: {role} {g} holds {ty} {} through {path}, a live member ({UNMANAGED_MEMBERSHIP}), whom the policy admits ({scope}: {how}): nobody approves or reviews their own request; declare the members of {g} or remove it from the group", held.who(id))));
                }
            }
            for path in &held.unread {
                out.push(error(SERVICE_ACCOUNT_APPROVER, address, format!("policy `{name}`: {role} {g}: the live membership of {path} was not read, so whether a service account (or someone the policy admits) approves is unknown ({UNMANAGED_MEMBERSHIP})")));
            }
        }
    }
    out
}
