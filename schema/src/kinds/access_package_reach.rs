//! What an access package's policy may admit and what its groups grant,
//! judged beyond the scope string and the granted group's own declaration
//! (hostile run 17, findings 1, 2, 7, 17 and 18):
//!
//! * a `specificDirectoryUsers` policy whose targets may hold a guest (a
//!   guest named or among declared members, nested or not; a membership
//!   rule not proved to hold members only; a group a package admitting
//!   external users grants) admits external users: approval, an end within
//!   the guest horizon and a review are required of it as of
//!   `allExternalUsers` ([`admits_external`]); so does an automatic
//!   assignment policy whose membership rule is not proved to hold members
//!   only (hostile run 18, finding 6);
//! * an assignment of a guest ends within the guest horizon whatever its
//!   policy allows (`standing-guest-access`);
//! * a package grants privileged access when its group, or a group it is
//!   nested in, holds an Intune role or approves PIM activation
//!   ([`grants_of`]); a package never delivers members to a Managed Desktop
//!   ring or the all-devices group (`ring-devices-only`);
//! * when targets may extend their access (self or on-behalf update), an
//!   update needs approval as an add does (`access-without-approval`);
//! * an approver or reviewer group the package itself grants holds the
//!   people it admits (`self-approval`), and a policy admitting external
//!   users needs an internal second person in each stage
//!   (`access-without-approval`);
//! * a guest review that never happens (it starts after the access ends or
//!   beyond the guest horizon, recurs less often than the horizon, or keeps
//!   access nobody reviewed) is `guest-access-without-review` (a warning,
//!   as a missing review is).

use std::collections::BTreeSet;

use chrono::Duration;

use crate::address::{Address, Kind};
use crate::kinds::access_package::{AssignmentPolicy, AFTER_DATE_TIME, EXTERNAL_SCOPES};
use crate::kinds::access_package_rules::{reach, SELF_APPROVAL, STANDING_GUEST_ACCESS, WITHOUT_APPROVAL};
use crate::path;
use crate::validate::{Ctx, MAX_EXPIRY_DAYS};

/// The scope whose targets are named one by one.
pub const SPECIFIC_USERS: &str = "specificDirectoryUsers";

/// Whether membership rule `rule` is proved to hold member users only:
/// parsed as Entra parses it (`or` and `-or`, with or without spaces and
/// parentheses: a text search missed `)-or(` and a bare `or`, hostile run
/// 20, finding 10), every way the rule can hold requires
/// `user.userType -eq "Member"` (or `-ne "Guest"`). A negation, `-any` or
/// `-all`, or a rule that does not parse proves nothing.
pub fn members_only_rule(rule: &str) -> bool {
    use crate::rule_syntax::{parse, Expr, Lit};
    fn requires_member(e: &Expr) -> bool {
        match e {
            Expr::And(a, b) => requires_member(a) || requires_member(b),
            Expr::Or(a, b) => requires_member(a) && requires_member(b),
            Expr::Cmp { attr, op, value: Lit::Str(v) } if attr.eq_ignore_ascii_case("user.userType") => {
                (op.eq_ignore_ascii_case("-eq") && v.eq_ignore_ascii_case("Member")) || (op.eq_ignore_ascii_case("-ne") && v.eq_ignore_ascii_case("Guest"))
            }
            _ => false,
        }
    }
    parse(rule).is_some_and(|e| requires_member(&e))
}

/// The packages granting group `g` that admit external users by their
/// scope (a group they grant holds those external users).
fn granted_to_externals(cx: &Ctx, g: &Address) -> Option<String> {
    cx.state.access_package.iter().find_map(|(k, d)| {
        let grants = d.value.groups.iter().any(|x| cx.state.resolve(x, &[Kind::Group]).ok().as_ref() == Some(g));
        let external = d.value.policies.values().any(|p| EXTERNAL_SCOPES.contains(&p.allowed_target_scope.as_str()));
        (grants && external).then(|| k.to_string())
    })
}

/// Why `pol` may admit external users, if it may: its scope says so, or
/// its specific targets may hold a guest (by what desired state declares;
/// the live members of a group whose membership it does not manage are
/// judged at plan time).
pub(crate) fn admits_external(cx: &Ctx, pol: &AssignmentPolicy) -> Option<String> {
    let scope = pol.allowed_target_scope.as_str();
    if EXTERNAL_SCOPES.contains(&scope) {
        return Some(scope.to_string());
    }
    // An automatic policy admits whoever its rule matches (hostile run 18,
    // finding 6): guests, unless the rule is proved to hold members only.
    if let Some(rule) = pol.automatic_request_settings.as_ref().map(|a| a.membership_rule.as_str()).filter(|r| !members_only_rule(r)) {
        return Some(format!("it assigns automatically to everyone its membership_rule `{rule}` matches, guests included (the rule does not require user.userType -eq \"Member\")"));
    }
    if scope != SPECIFIC_USERS {
        return None;
    }
    for t in &pol.specific_allowed_targets {
        let Ok(t) = cx.state.resolve(t, &[Kind::Group, Kind::User, Kind::Guest]) else { continue };
        for a in reach(cx, &t) {
            let via = if a == t { String::new() } else { format!(" (through {a})") };
            match a.kind {
                Kind::Guest => return Some(format!("{scope}: {t} is or holds guest {a}")),
                Kind::Group => {
                    let Some(g) = cx.state.group.get(a.key.as_str()) else { continue };
                    if let Some(rule) = g.value.membership_rule.as_deref().filter(|r| !r.trim().is_empty() && !members_only_rule(r)) {
                        return Some(format!("{scope}: {t}{via} has membership rule `{rule}`, which may hold guests (it does not require user.userType -eq \"Member\")"));
                    }
                    if let Some(p) = granted_to_externals(cx, &a) {
                        return Some(format!("{scope}: {t}{via} is granted by access_package.{p}, which admits external users"));
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// The declared groups holding `g` as a member, transitively (`g` not
/// included): granting `g` puts its members into each of them.
pub(crate) fn containing_groups(cx: &Ctx, g: &Address) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let mut todo = vec![g.clone()];
    while let Some(x) = todo.pop() {
        for (k, grp) in &cx.state.group {
            let holds = grp.value.members.iter().flatten().any(|m| cx.state.resolve(m, &[Kind::Group]).ok().as_ref() == Some(&x));
            let h = Address::new(Kind::Group, k.as_str());
            if holds && h != *g && !out.contains(&h) {
                out.push(h.clone());
                todo.push(h);
            }
        }
    }
    out
}

/// What group `g` itself gets from Intune role assignments and PIM role
/// settings that name it.
pub(crate) fn grants_of(cx: &Ctx, g: &Address) -> Option<String> {
    let names = |list: &[String]| list.iter().any(|m| cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]).ok().as_ref() == Some(g));
    for (k, a) in &cx.state.intune_role_assignment {
        if names(&a.value.members) {
            let scope = match a.value.scope_type() {
                "allDevices" => " over all devices",
                "allLicensedUsers" => " over all users",
                "allDevicesAndLicensedUsers" => " over all users and devices",
                _ => "",
            };
            return Some(format!("{g} holds Intune role {}{scope} (intune_role_assignment.{k})", a.value.role));
        }
    }
    for (k, p) in &cx.state.role_policy {
        if p.value.activation.as_ref().is_some_and(|a| names(&a.approvers)) {
            return Some(format!("{g} approves activation of {} (role_policy.{k} approvers)", p.value.role));
        }
    }
    crate::kinds::access_package_approver_groups::approves_packages(cx, g)
}

/// The ring and all-devices groups of `[governance.managed_desktop]`.
fn ring_groups(cx: &Ctx) -> BTreeSet<Address> {
    let Some(m) = cx.state.governance.as_ref().and_then(|g| g.value.managed_desktop.as_ref()) else { return BTreeSet::new() };
    m.rings.iter().chain(m.all_devices.iter()).filter_map(|r| cx.state.resolve(r, &[Kind::Group]).ok()).collect()
}

fn excepted(cx: &Ctx, lint: &str, key: &str) -> bool {
    let scoped = format!("{lint}:access_package.{key}");
    cx.state.governance.as_ref().is_some_and(|g| g.value.exceptions.get(&scoped).is_some_and(|why| !why.trim().is_empty()))
}

/// The rules of this module that are not judged policy by policy inside
/// `access_package_rules`: Managed Desktop groups a package delivers to,
/// and the guest horizon of assignments.
pub(crate) fn validate(cx: &mut Ctx) {
    let rings = ring_groups(cx);
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for (i, g) in d.value.groups.iter().enumerate() {
            let Ok(g) = cx.state.resolve(g, &[Kind::Group]) else { continue };
            let ring = if rings.contains(&g) { Some(g.clone()) } else { containing_groups(cx, &g).into_iter().find(|h| rings.contains(h)) };
            if let Some(r) = ring {
                let via = if r == g { String::new() } else { format!(" (a member of {r})") };
                found.push(("ring-devices-only", d.origin.clone(), path!["access_package", key.as_str(), "groups", i].to_vec(), format!("access_package.{key} grants {g}{via}: {r} is a Managed Desktop ring or all-devices group, which holds devices only; a package delivers users")));
            }
        }
    }
    let limit = cx.now + Duration::days(MAX_EXPIRY_DAYS);
    for (key, d) in &cx.state.access_package_assignment {
        let guest = cx.state.resolve(&d.value.target, &[Kind::Guest, Kind::User]).ok().filter(|t| t.kind == Kind::Guest);
        if let Some(t) = guest.filter(|_| d.value.expires > limit) {
            let when = d.value.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            found.push((STANDING_GUEST_ACCESS, d.origin.clone(), path!["access_package_assignment", key.as_str(), "expires"].to_vec(), format!("access_package_assignment.{key}: {t} is a guest and expires {when} is beyond {MAX_EXPIRY_DAYS} days from now: a guest's access is time-boxed within {MAX_EXPIRY_DAYS} days whatever the policy allows")));
        }
    }
    for (lint, o, at, msg) in found {
        cx.error(lint, &o, &at, msg);
    }
}

/// Updates of a policy that needs approval: when targets (or someone on
/// their behalf) may extend the access, an extension needs approval too.
pub(crate) fn update_rules(cx: &mut Ctx, key: &str, pk: &str, pol: &AssignmentPolicy, why: &str, o: &crate::diagnostic::Origin) {
    let r = pol.requestor_settings.as_ref();
    let who = match (r.is_some_and(|r| r.enable_targets_to_self_update_access), r.is_some_and(|r| r.enable_on_behalf_requestors_to_update_access)) {
        (true, _) => "enable_targets_to_self_update_access",
        (false, true) => "enable_on_behalf_requestors_to_update_access",
        (false, false) => return,
    };
    let approved = pol.request_approval_settings.as_ref().is_some_and(|a| a.is_approval_required_for_update && !a.stages.is_empty());
    if approved || excepted(cx, WITHOUT_APPROVAL, key) {
        return;
    }
    let at = path!["access_package", key, "policies", pk, "requestor_settings", who];
    cx.error(WITHOUT_APPROVAL, o, &at, format!("access_package.{key}.policies.{pk}: {why} and {who} lets access be extended, but is_approval_required_for_update is false: each extension would be granted with no second person; set is_approval_required_for_update = true, or record a reasoned exception `\"{WITHOUT_APPROVAL}:access_package.{key}\"` in [governance.exceptions]"));
}

/// Whether approver `who` (a key or special approver) is an internal
/// second person: a declared member user or group, or the sponsors the
/// tenant names (internal or the target's own). External sponsors are the
/// requestor's side; the requestor's manager is only as good as its
/// fallback (judged by `self-approval`).
fn internal(cx: &Ctx, who: &str) -> bool {
    match who {
        "internal_sponsors" | "target_user_sponsors" => true,
        "external_sponsors" | "requestor_manager" => false,
        _ => cx.state.resolve(who, &[Kind::User, Kind::Guest, Kind::Group]).ok().is_some_and(|a| a.kind != Kind::Guest),
    }
}

/// Each approval stage of a policy admitting external users names an
/// internal second person among its primary or fallback approvers.
pub(crate) fn internal_approver(cx: &mut Ctx, key: &str, pk: &str, pol: &AssignmentPolicy, why: &str, o: &crate::diagnostic::Origin) {
    let Some(a) = &pol.request_approval_settings else { return };
    if excepted(cx, WITHOUT_APPROVAL, key) {
        return;
    }
    for (i, s) in a.stages.iter().enumerate() {
        if s.primary_approvers.iter().chain(&s.fallback_primary_approvers).any(|w| internal(cx, w)) {
            continue;
        }
        let named = s.primary_approvers.iter().chain(&s.fallback_primary_approvers).cloned().collect::<Vec<_>>().join(", ");
        cx.error(WITHOUT_APPROVAL, o, &path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, "primary_approvers"], format!("access_package.{key}.policies.{pk}: {why}, and stage {} is approved only by {named}, none of them an internal second person (a member user or group, internal_sponsors or target_user_sponsors); name one among primary_approvers or fallback_primary_approvers", i + 1));
    }
}

/// Whether approver `approver` (with its declared reach) holds a group
/// package `key` grants: its members are the people the package admits.
pub(crate) fn holds_granted(cx: &Ctx, key: &str, approvers: &BTreeSet<Address>) -> Option<Address> {
    let pkg = cx.state.access_package.get(key)?;
    let granted: BTreeSet<Address> = pkg.value.groups.iter().filter_map(|g| cx.state.resolve(g, &[Kind::Group]).ok()).collect();
    approvers.iter().find(|a| granted.contains(*a)).cloned()
}

/// Why a review of a policy admitting external users never happens, if it
/// never does.
pub(crate) fn review_never_happens(cx: &Ctx, pol: &AssignmentPolicy, r: &crate::kinds::access_package_review::ReviewSettings) -> Option<(&'static str, String)> {
    if r.expiration_behavior == "keepAccess" {
        return Some(("expiration_behavior", "access nobody reviews is kept (keepAccess), so an unanswered review removes nothing".into()));
    }
    let start = r.schedule.start_date_time;
    let horizon = cx.now + Duration::days(MAX_EXPIRY_DAYS);
    if pol.expiration.kind == AFTER_DATE_TIME {
        if let Some(end) = pol.expiration.end_date_time.filter(|e| start >= *e) {
            return Some(("start_date_time", format!("its first review starts {} on or after the access ends ({})", start.format("%Y-%m-%d"), end.format("%Y-%m-%d"))));
        }
    }
    if start > horizon {
        return Some(("start_date_time", format!("its first review starts {}, beyond the {MAX_EXPIRY_DAYS}-day guest horizon", start.format("%Y-%m-%d"))));
    }
    // Hostile run 18, finding 14: a review that stays open longer than the
    // guest horizon removes nothing in time, however soon it starts.
    if let Some(d) = crate::kinds::access_package::duration_days(&r.schedule.duration).filter(|d| *d > MAX_EXPIRY_DAYS) {
        return Some(("duration", format!("each review stays open {d} days, beyond the {MAX_EXPIRY_DAYS}-day guest horizon, so nothing unanswered is removed in time")));
    }
    let unit = match r.schedule.recurrence.as_str() {
        "weekly" => 7,
        "absoluteMonthly" => 30,
        "absoluteYearly" => 365,
        _ => return None,
    };
    let every = i64::from(r.schedule.interval) * unit;
    (every > MAX_EXPIRY_DAYS).then(|| ("interval", format!("it recurs every {} {} (about {every} days), beyond the {MAX_EXPIRY_DAYS}-day guest horizon", r.schedule.interval, r.schedule.recurrence)))
}

/// Why approver `approver` (with its declared reach) is `self-approval`
/// because it holds a group package `key` grants, if it does.
pub(crate) fn granted_approver(cx: &Ctx, key: &str, approver: &Address, approvers: &BTreeSet<Address>, field: &str) -> Option<String> {
    let g = holds_granted(cx, key, approvers)?;
    if excepted(cx, SELF_APPROVAL, key) {
        return None;
    }
    let via = if g == *approver { String::new() } else { format!(" (through {g})") };
    Some(format!("approver {approver}{via} (its {field}) is a group access_package.{key} grants: its members are the people the package admits, so they would approve or review their own access"))
}

#[cfg(test)]
mod members_only_tests {
    use super::members_only_rule;

    #[test]
    fn a_rule_is_members_only_only_when_every_branch_requires_members() {
        assert!(members_only_rule(r#"(user.userType -eq "Member") -and (user.department -eq "IT")"#));
        assert!(members_only_rule(r#"(user.userType -ne "Guest") and (user.department -eq "IT")"#));
        assert!(members_only_rule(r#"((user.userType -eq "Member") -and (user.city -eq "Paris")) -or ((user.userType -eq "Member") -and (user.city -eq "Lyon"))"#));
        // Hostile run 20, finding 10: `or` without a dash, or without spaces.
        assert!(!members_only_rule(r#"(user.userType -eq "Member") or (user.userPrincipalName -startsWith "a")"#));
        assert!(!members_only_rule(r#"(user.userType -eq "Member")-or(user.userPrincipalName -startsWith "a")"#));
        assert!(!members_only_rule(r#"-not (user.userType -eq "Guest")"#));
        assert!(!members_only_rule(r#"(user.department -eq "IT")"#));
        assert!(!members_only_rule("((("));
    }
}
