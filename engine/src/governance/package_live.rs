//! Access packages judged with the live tenant (hostile run 17, findings
//! 1, 2 and 18): what validation cannot see in desired state.
//!
//! * A package whose groups hold (live, or through live nesting) an
//!   Intune role, PIM approval, a directory role, a conditional access
//!   exclusion, or are role-assignable grants privileged access: each of
//!   its policies needs approval (`access-without-approval`), as
//!   validation requires for what desired state declares.
//! * A `specificDirectoryUsers` policy whose target group's membership
//!   desired state does not manage, and which holds a guest live, admits
//!   external users: approval, an end within the guest horizon and a
//!   review are required of it (`access-without-approval`,
//!   `standing-guest-access`, `guest-access-without-review`).
//! * An approver or reviewer group whose membership desired state does not
//!   manage, holding a guest live, on a policy admitting external users, is
//!   `self-approval`.
//!
//! Membership that was not read is unknown and reported as such, never
//! taken for "no guest here".

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use schema::{Address, Kind};
use serde_json::Value;

use super::grants::{group_grants, Tenant};
use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, ObservedState};

const WITHOUT_APPROVAL: &str = schema::kinds::access_package_rules::WITHOUT_APPROVAL;
const STANDING: &str = schema::kinds::access_package_rules::STANDING_GUEST_ACCESS;
const SELF_APPROVAL: &str = schema::kinds::access_package_rules::SELF_APPROVAL;
const WITHOUT_REVIEW: &str = schema::kinds::access_package_review::WITHOUT_REVIEW;
const APPROVER_LISTS: &[&str] = &["primaryApprovers", "fallbackPrimaryApprovers", "escalationApprovers", "fallbackEscalationApprovers"];
const REVIEWER_LISTS: &[&str] = &["primaryReviewers", "fallbackReviewers"];

fn refs(v: Option<&Value>) -> Vec<Address> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).filter_map(|r| r.parse::<Address>().ok()).collect()
}

/// What a group gets that makes granting it privileged (of what
/// [`group_grants`] says: roles held, PIM approval, CA exclusions,
/// role-assignable), declared or live; and membership of a declared
/// administrative unit a role assignment names by id (`package_units`).
pub fn privileged_grants(t: &Tenant<'_>, g: &Address) -> Vec<String> {
    let privileged = |w: &str| w.starts_with("holds ") || w.starts_with("approves ") || w.starts_with("is excluded from ") || w == "is role-assignable";
    let mut out: Vec<String> = group_grants(t, g).what.iter().filter(|w| privileged(w)).map(|w| format!("{g}, which {w}")).collect();
    // Administered through a unit a role assignment gives by id (access16).
    out.extend(super::package_units::unit_reach(t.desired, t.ids, g));
    out
}

/// The live members of group `id`, transitively through live groups: the
/// members, or `None` when a group on the way was not read.
fn live_members(observed: &ObservedState, id: &str) -> Option<BTreeSet<String>> {
    let (mut out, mut seen, mut todo) = (BTreeSet::new(), BTreeSet::new(), vec![id.to_string()]);
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        for (m, ty) in observed.memberships.get(&g)? {
            if ty == super::live::GROUP {
                todo.push(m.clone());
            } else {
                out.insert(m.clone());
            }
        }
    }
    Some(out)
}

/// The live guest a group whose membership desired state does not manage
/// holds: `Ok(Some(name))`, `Ok(None)`, or `Err(())` when unread.
fn live_guest(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, guests: &BTreeMap<&str, String>, g: &Address) -> Result<Option<String>, ()> {
    if g.kind != Kind::Group || super::live::manages_membership(desired, g) {
        return Ok(None);
    }
    let Some(id) = ids.get(g) else { return Ok(None) };
    let members = live_members(observed, id).ok_or(())?;
    Ok(members.iter().find_map(|m| guests.get(m.as_str()).cloned()))
}

/// The live ids of the people `targets` admit: named ones, the declared
/// members of groups whose membership desired state manages, and the live
/// members of the others (nested groups followed either way).
fn admitted_ids(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, targets: Vec<Address>) -> BTreeSet<String> {
    let (mut out, mut seen, mut todo) = (BTreeSet::new(), BTreeSet::new(), targets);
    while let Some(t) = todo.pop() {
        if !seen.insert(t.clone()) {
            continue;
        }
        if t.kind != Kind::Group {
            out.extend(ids.get(&t).cloned());
        } else if super::live::manages_membership(desired, &t) {
            todo.extend(refs(desired.resources.get(&t).and_then(|r| r.props.get("members"))));
        } else if let Some(m) = ids.get(&t).and_then(|id| live_members(observed, id)) {
            out.extend(m);
        }
    }
    out
}

/// Whether a policy (props form) needs approval for each add.
fn approved(pol: &Value) -> bool {
    pol.pointer("/requestApprovalSettings/isApprovalRequiredForAdd").and_then(Value::as_bool) == Some(true) && pol.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).is_some_and(|s| !s.is_empty())
}

/// Why a policy's access is standing for a guest, if it is.
fn standing(pol: &Value, now: DateTime<Utc>) -> Option<String> {
    let e = pol.get("expiration")?;
    let max = schema::validate::MAX_EXPIRY_DAYS;
    match e.get("type").and_then(Value::as_str)? {
        "noExpiration" => Some("never ends (noExpiration)".into()),
        "afterDuration" => e.get("duration").and_then(Value::as_str).and_then(schema::kinds::access_package::duration_days).filter(|d| *d > max).map(|d| format!("lasts {d} days")),
        "afterDateTime" => e.get("endDateTime").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).filter(|t| t.with_timezone(&Utc) > now + Duration::days(max)).map(|t| format!("ends {}", t.format("%Y-%m-%d"))),
        _ => None,
    }
}

/// Findings for every declared access package, with the live tenant.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    if [Kind::User, Kind::Guest, Kind::Group].iter().any(|k| observed.unreadable.contains_key(k)) {
        return out;
    }
    let t = Tenant::new(desired, observed, ids);
    let by_id: BTreeMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    let mut guests: BTreeMap<&str, String> = BTreeMap::new();
    for o in observed.objects.get(&Kind::Guest).into_iter().flatten() {
        guests.insert(o.id.as_str(), by_id.get(o.id.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("guest id:{}", o.id)));
    }
    for o in observed.objects.get(&Kind::User).into_iter().flatten().filter(|o| o.props.get("userType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("guest"))) {
        guests.insert(o.id.as_str(), by_id.get(o.id.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("guest id:{}", o.id)));
    }
    let mut push = |severity, lint: &str, a: &Address, message: String| out.push(Finding { severity, lint: lint.to_string(), address: a.to_string(), message });
    for (a, r) in desired.resources.iter().filter(|(a, _)| a.kind == Kind::AccessPackage) {
        let grants: Vec<String> = refs(r.props.get("groups")).iter().flat_map(|g| privileged_grants(&t, g)).collect();
        for (name, pol) in r.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
            if !grants.is_empty() && !approved(pol) {
                push(Severity::Error, WITHOUT_APPROVAL, a, format!("policy `{name}`: the package grants {}, so a second person must approve each request; set request_approval_settings with is_approval_required_for_add = true and a stage of approvers", grants.join("; ")));
            }
            let scope = pol.get("allowedTargetScope").and_then(Value::as_str).unwrap_or_default();
            let mut external = schema::kinds::access_package::EXTERNAL_SCOPES.contains(&scope).then(|| scope.to_string());
            if scope == schema::kinds::access_package_reach::SPECIFIC_USERS {
                for g in refs(pol.get("specificAllowedTargets")) {
                    match live_guest(desired, observed, ids, &guests, &g) {
                        Ok(Some(guest)) => external = external.or(Some(format!("{scope}: {g} holds {guest} live (its membership is not managed in desired state)"))),
                        Ok(None) => {}
                        Err(()) => push(Severity::Error, WITHOUT_APPROVAL, a, format!("policy `{name}`: the live members of {g}, which it admits, could not be read: whether it admits guests is unknown")),
                    }
                }
                if let Some(why) = external.as_ref() {
                    if !approved(pol) {
                        push(Severity::Error, WITHOUT_APPROVAL, a, format!("policy `{name}`: it admits external users ({why}), so a second person must approve each request; set request_approval_settings with is_approval_required_for_add = true and a stage of approvers"));
                    }
                    if let Some(s) = standing(pol, now) {
                        push(Severity::Error, STANDING, a, format!("policy `{name}`: access it grants {s}, but it admits external users ({why}) and such access is time-boxed within {} days", schema::validate::MAX_EXPIRY_DAYS));
                    }
                    if pol.pointer("/reviewSettings/isEnabled").and_then(Value::as_bool) != Some(true) {
                        push(Severity::Warning, WITHOUT_REVIEW, a, format!("policy `{name}` admits external users ({why}) and has no enabled review: nobody recertifies the guests' access before it expires"));
                    }
                }
            }
            let mut approvers: Vec<(String, Address)> = Vec::new();
            for (i, s) in pol.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).into_iter().flatten().enumerate() {
                for l in APPROVER_LISTS {
                    approvers.extend(refs(s.get(*l)).into_iter().map(|x| (format!("stage {} {l}", i + 1), x)));
                }
            }
            for l in REVIEWER_LISTS {
                approvers.extend(refs(pol.pointer(&format!("/reviewSettings/{l}"))).into_iter().map(|x| (format!("reviewSettings {l}"), x)));
            }
            let Some(why) = external else {
                // Named targets: an approver group whose live members
                // include someone the policy admits approves their own
                // request.
                if scope != schema::kinds::access_package_reach::SPECIFIC_USERS {
                    continue;
                }
                let admitted = admitted_ids(desired, observed, ids, refs(pol.get("specificAllowedTargets")));
                for (role, g) in approvers.iter().filter(|(_, g)| g.kind == Kind::Group && !super::live::manages_membership(desired, g)) {
                    let Some(members) = ids.get(g).and_then(|id| live_members(observed, id)) else { continue };
                    if let Some(m) = members.iter().find(|m| admitted.contains(*m)) {
                        let who = by_id.get(m.as_str()).map(|a| a.to_string()).unwrap_or_else(|| format!("id:{m}"));
                        push(Severity::Error, SELF_APPROVAL, a, format!("policy `{name}`: {role} {g} holds {who} live (its membership is not managed in desired state), whom the policy admits: nobody approves or reviews their own access"));
                    }
                }
                continue;
            };
            for (role, g) in approvers {
                match live_guest(desired, observed, ids, &guests, &g) {
                    Ok(Some(guest)) => push(Severity::Error, SELF_APPROVAL, a, format!("policy `{name}`: {role} {g} holds {guest} live (its membership is not managed in desired state), and the policy admits external users ({why}): guests would approve or review guests' access")),
                    Ok(None) => {}
                    Err(()) => push(Severity::Error, SELF_APPROVAL, a, format!("policy `{name}`: the live members of {role} {g} could not be read: whether a guest approves is unknown")),
                }
            }
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// What an access package change grants that is privileged, for the
/// plan's sensitive reason ("grants group.x, which holds Intune role ...").
pub fn reason(change: &crate::plan::Change, t: &Tenant<'_>) -> Option<String> {
    if change.address.kind != Kind::AccessPackage {
        return None;
    }
    let d = change.desired.as_ref()?;
    let grants: Vec<String> = refs(d.props.get("groups")).iter().flat_map(|g| privileged_grants(t, g)).collect();
    (!grants.is_empty()).then(|| format!("grants {}", grants.join("; ")))
}

/// [`lint`] for a plan: an error the state after the plan no longer has
/// (an out-of-band grant the plan deletes, a live nesting the plan takes
/// out of a group whose members it manages, a package role it removes)
/// does not block its remedy.
pub fn plan_lints(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &[crate::plan::Change], now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = lint(desired, observed, ids, now);
    if !out.iter().any(|f| f.severity == Severity::Error) {
        return out;
    }
    let (gone, reassigned) = super::lints::after_plan_ids(changes);
    let undelivered = super::after_package::removals(changes, ids);
    let members: Vec<(&str, Value)> = changes
        .iter()
        .filter(|c| c.address.kind == Kind::Group && c.action == crate::plan::Action::Update)
        .filter_map(|c| Some((c.id.as_deref()?, c.fields.iter().find(|f| f.field == "members")?.after.clone().unwrap_or(Value::Array(Vec::new())))))
        .collect();
    if gone.is_empty() && reassigned.is_empty() && undelivered.is_empty() && members.is_empty() {
        return out;
    }
    let mut after = super::lints::after_plan(observed, changes);
    super::after_package::apply(&mut after, &undelivered, ids);
    for o in after.objects.get_mut(&Kind::Group).into_iter().flatten() {
        if let Some((_, m)) = members.iter().find(|(id, _)| *id == o.id) {
            o.props.insert("members".into(), m.clone());
            after.memberships.remove(&o.id);
        }
    }
    super::lints::settle_after(&mut out, &lint(desired, &after, ids, now));
    out
}
