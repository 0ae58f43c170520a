//! Who approves or reviews, as desired state declares it: one index of
//! the approver and reviewer lists of PIM role settings (`role_policy`:
//! activation approvers) and access package policies (request approval
//! stages, review settings), which `admin_reach`, `package_approvers` and
//! `approver_live` all read, and the people behind them (approver groups followed through their declared members,
//! transitively, and through membership rules: a dynamic approver group
//! holds every declared person its rule is not proved to leave out, judged
//! as the licence and targeting lints judge rules, `super::targets::holds`;
//! hostile run 22, finding 10). Whoever resets such a person's sign-in (a unit-scoped
//! Authentication Administrator) approves in their name
//! (`super::admin_reach::unit_lints`).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::DesiredModel;
use crate::plan::referenced_addresses;

/// One approver or reviewer named by a declared object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Approver {
    /// The role policy or access package naming it.
    pub object: Address,
    /// Which list (`activation approvers`, `policy `x` stage 1 primaryApprovers`).
    pub list: String,
    /// Who: a user, guest or group address.
    pub who: Address,
}

/// The approver lists of an access package policy's approval stage, by
/// their Graph names.
pub const STAGE_LISTS: &[&str] = &["primaryApprovers", "fallbackPrimaryApprovers", "escalationApprovers", "fallbackEscalationApprovers"];
/// The reviewer lists of an access package policy's review settings.
pub const REVIEW_LISTS: &[&str] = &["primaryReviewers", "fallbackReviewers"];

fn refs(v: Option<&Value>) -> BTreeSet<Address> {
    let mut out = BTreeSet::new();
    if let Some(v) = v {
        referenced_addresses(v, &mut out);
    }
    out
}

/// The approvers and reviewers of one access package policy (its Graph
/// form), each with its list's label (`stage 1 primaryApprovers`,
/// `reviewSettings fallbackReviewers`), stages in order.
pub fn of_package_policy(pol: &Value) -> Vec<(String, Address)> {
    let mut out = Vec::new();
    for (i, s) in pol.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for l in STAGE_LISTS {
            out.extend(refs(s.get(*l)).into_iter().map(|a| (format!("stage {} {l}", i + 1), a)));
        }
    }
    for l in REVIEW_LISTS {
        out.extend(refs(pol.pointer(&format!("/reviewSettings/{l}"))).into_iter().map(|a| (format!("reviewSettings {l}"), a)));
    }
    out
}

/// Who approves activation of a role (`role_policy` props).
pub fn of_role_policy(props: &crate::Props) -> BTreeSet<Address> {
    refs(props.get("activation").and_then(|a| a.get("approvers")))
}

/// Every approver and reviewer declared, in order.
pub fn declared(desired: &DesiredModel) -> Vec<Approver> {
    let mut out = BTreeSet::new();
    for r in desired.resources.values() {
        match r.address.kind {
            Kind::RolePolicy => out.extend(of_role_policy(&r.props).into_iter().map(|who| Approver { object: r.address.clone(), list: "activation approvers".into(), who })),
            Kind::AccessPackage => {
                for (name, pol) in r.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
                    out.extend(of_package_policy(pol).into_iter().map(|(list, who)| Approver { object: r.address.clone(), list: format!("policy `{name}` {list}"), who }));
                }
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// The addresses that approve or review (people and groups).
pub fn addresses(desired: &DesiredModel) -> BTreeSet<Address> {
    declared(desired).into_iter().map(|a| a.who).collect()
}

/// The people (users, guests) who approve or review, each with how: the
/// object and list naming them, through which group when they are a
/// declared member of an approver group (nested groups followed), or held
/// by its membership rule (or a nested group's, or a `memberOf` rule's
/// groups) not proved to leave them out.
pub fn people(desired: &DesiredModel) -> BTreeMap<Address, String> {
    let mut out = BTreeMap::new();
    let declared = declared(desired);
    for a in &declared {
        let mut todo = vec![(a.who.clone(), String::new())];
        let mut seen = BTreeSet::new();
        while let Some((who, via)) = todo.pop() {
            if !seen.insert(who.clone()) {
                continue;
            }
            if who.kind != Kind::Group {
                out.entry(who).or_insert_with(|| format!("{} {}{via}", a.object, a.list));
                continue;
            }
            let mut members = BTreeSet::new();
            if let Some(m) = desired.resources.get(&who).and_then(|r| r.props.get("members")) {
                referenced_addresses(m, &mut members);
            }
            let v = format!(" through {who}");
            todo.extend(members.into_iter().map(|m| (m, v.clone())));
        }
    }
    // Dynamic approver groups: whom their rules may hold. Only groups with
    // a rule somewhere in them are asked about every person.
    let persons: Vec<&Address> = desired.resources.keys().filter(|a| matches!(a.kind, Kind::User | Kind::Guest)).collect();
    for a in declared.iter().filter(|a| a.who.kind == Kind::Group && has_rule(desired, &a.who, &mut BTreeSet::new())) {
        for p in persons.iter().filter(|p| super::targets::holds(desired, &a.who, p, true)) {
            out.entry((*p).clone()).or_insert_with(|| format!("{} {} through {}, whose membership rule is not proved to leave it out", a.object, a.list, a.who));
        }
    }
    out
}

/// Whether group `g`, or a group nested in it (declared members, a
/// resolved `memberOf` rule), has a membership rule.
fn has_rule(desired: &DesiredModel, g: &Address, seen: &mut BTreeSet<Address>) -> bool {
    if g.kind != Kind::Group || !seen.insert(g.clone()) {
        return false;
    }
    let Some(r) = desired.resources.get(g) else { return false };
    if r.props.get("membershipRule").and_then(Value::as_str).is_some_and(|rule| super::member_of::member_of_ids(rule).is_none()) {
        return true;
    }
    let mut nested = BTreeSet::new();
    for p in ["members", super::member_of::NESTED] {
        if let Some(v) = r.props.get(p) {
            referenced_addresses(v, &mut nested);
        }
    }
    nested.iter().any(|m| has_rule(desired, m, seen))
}
