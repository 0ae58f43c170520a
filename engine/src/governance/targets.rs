//! Effective targets: which service accounts an assignment reaches, decided
//! on the effective set rather than on the names it lists.
//!
//! A group reaches a service account when:
//! * it is a service-accounts group, or lists the account as a member;
//! * it lists a group that reaches the account (nesting, transitively);
//! * its membership rule names the account's UPN; or, conservatively, its
//!   rule is over users (`user.` attributes) at all: tenantctl cannot
//!   evaluate a rule against accounts' live attributes, so a user rule
//!   "could match" any service account;
//! * its membership is not managed by desired state (no `members`, no
//!   rule) and the live group holds the account (see [`super::live`]).
//!
//! `all_users` (and conditional access `includeUsers = All`) reach every
//! service account; `all_devices` reaches devices, not accounts. Excludes
//! count: whatever the excluded groups reach is taken away, and excluding
//! a service-accounts group takes every service account away.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel};
use crate::plan::referenced_addresses;

/// What a set of targets reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Service accounts reached, with how (`via group.x`).
    pub accounts: BTreeMap<Address, String>,
    /// Reasons it could reach any service account (a user rule, all users).
    pub maybe: Vec<String>,
}

impl Reach {
    fn add(&mut self, other: Reach) {
        for (a, how) in other.accounts {
            self.accounts.entry(a).or_insert(how);
        }
        self.maybe.extend(other.maybe);
    }
}

/// What group `g` reaches, following declared members transitively.
pub fn group_reach(desired: &DesiredModel, g: &Address) -> Reach {
    let mut seen = BTreeSet::new();
    reach(desired, g, &format!("{g}"), &mut seen)
}

fn reach(desired: &DesiredModel, g: &Address, path: &str, seen: &mut BTreeSet<Address>) -> Reach {
    let mut out = Reach::default();
    if !seen.insert(g.clone()) {
        return out;
    }
    if desired.service_accounts.contains(g) {
        out.accounts.insert(g.clone(), format!("through {path}"));
        return out;
    }
    if g.kind != Kind::Group {
        return out;
    }
    let Some(r) = desired.resources.get(g) else { return out };
    if desired.service_account_groups.contains(g) && !r.props.contains_key("members") && !r.props.contains_key("membershipRule") {
        for s in &desired.service_accounts {
            out.accounts.insert(s.clone(), format!("through {path}, a service-accounts group"));
        }
        return out;
    }
    // A service-accounts group reaches what its members and rule reach,
    // like any group: declared members exactly, a rule conservatively.
    if let Some(members) = r.props.get("members") {
        let mut refs = BTreeSet::new();
        referenced_addresses(members, &mut refs);
        for m in refs {
            // A member that is neither a group nor a service account
            // reaches nothing (as `reach` of it would find).
            if m.kind != Kind::Group && !desired.service_accounts.contains(&m) {
                continue;
            }
            let p = if m.kind == Kind::Group { format!("{path} > {m}") } else { path.to_string() };
            out.add(reach(desired, &m, &p, seen));
        }
    }
    // A `memberOf` rule resolved by the plan: nesting (`member_of`). An
    // id nothing resolves could be any group: it could reach an account.
    if let Some(nested) = r.props.get(super::member_of::NESTED).and_then(Value::as_array) {
        for n in nested {
            match as_reference(n).and_then(|x| x.parse::<Address>().ok()) {
                Some(m) => {
                    let p = format!("{path} > {m} (its user.memberOf rule)");
                    out.add(reach(desired, &m, &p, seen));
                }
                None => out.maybe.push(format!("{path} has a memberOf rule naming group {}, which is not in the ledger", as_reference(n).unwrap_or_default())),
            }
        }
        return out;
    }
    // A `memberOf` rule only the plan resolves (validate has no ids to
    // resolve it with) is judged there, not guessed at here.
    if let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str).filter(|r| super::member_of::member_of_ids(r).is_none()) {
        out.add(rule_reach(desired, rule, path));
    }
    out
}

/// What membership rule `rule` (of the group `path` names) reaches: each
/// service account it matches when evaluated against the account's
/// declared properties, or names by UPN; when it matches none and cannot
/// be evaluated for some, that it could reach a service account. A rule
/// over devices reaches no account.
pub fn rule_reach(desired: &DesiredModel, rule: &str, path: &str) -> Reach {
    let mut out = Reach::default();
    let lower = rule.to_lowercase();
    if lower.contains("user.") {
        // Evaluated against each account's declared properties: a match
        // reaches it; a rule that cannot be evaluated could.
        let mut named = 0;
        let mut unknown = false;
        for s in &desired.service_accounts {
            let props = desired.resources.get(s).map(|r| &r.props);
            let upn = props.and_then(|p| p.get("userPrincipalName")).and_then(Value::as_str).unwrap_or_default().to_lowercase();
            let local = upn.split('@').next().unwrap_or_default().to_string();
            let names = !upn.is_empty() && (lower.contains(&upn) || lower.contains(&format!("{local}@")));
            match props.and_then(|p| super::rule::evaluate(rule, p)) {
                Some(true) => {
                    named += 1;
                    out.accounts.insert(s.clone(), format!("through {path}, whose membership rule matches it"));
                }
                Some(false) => {}
                None if names => {
                    named += 1;
                    out.accounts.insert(s.clone(), format!("through {path}, whose membership rule names it"));
                }
                None => unknown = true,
            }
        }
        if named == 0 && unknown {
            out.maybe.push(format!("{path} has a membership rule over users, which could match a service account"));
        }
    }
    out
}

/// The service accounts PROVED members of `g`: `g` itself when it is one,
/// declared members (nested groups transitively), and accounts its dynamic
/// rule matches when evaluated against their declared properties
/// ([`super::rule`]) while the rule is processed (a paused rule proves
/// nothing). Being a service-accounts group proves nothing by
/// itself: a rule that misses an account (or cannot be evaluated) leaves
/// it out, so excluding that group does not exclude it.
pub fn proven_members(desired: &DesiredModel, g: &Address) -> BTreeSet<Address> {
    desired.service_accounts.iter().filter(|s| holds(desired, g, s, false)).cloned().collect()
}

/// Whether group `g` (or `g` itself) holds `account`: proved by declared
/// members (nested groups transitively), a `memberOf` rule's groups, or a
/// processed membership rule matching the account's declared properties
/// ([`super::rule`]). With `maybe` (an include reaches unless proved not
/// to), a rule that cannot be evaluated, or a paused one that matches
/// (Entra keeps the members it had), counts as holding it too; a rule
/// proved not to match never does. A rule is evaluated only for an
/// account desired state declares.
pub fn holds(desired: &DesiredModel, g: &Address, account: &Address, maybe: bool) -> bool {
    holds_walk(desired, g, account, maybe, &mut BTreeSet::new())
}

fn holds_walk(desired: &DesiredModel, g: &Address, account: &Address, maybe: bool, seen: &mut BTreeSet<Address>) -> bool {
    if g == account {
        return true;
    }
    if g.kind != Kind::Group || !seen.insert(g.clone()) {
        return false;
    }
    let Some(r) = desired.resources.get(g) else { return false };
    if let Some(members) = r.props.get("members") {
        let mut refs = BTreeSet::new();
        referenced_addresses(members, &mut refs);
        if refs.iter().any(|m| holds_walk(desired, m, account, maybe, seen)) {
            return true;
        }
    }
    // A paused rule adds no one: Entra stops evaluating it, so it proves
    // nothing about who is in the group.
    let paused = r.props.get("membershipRuleProcessingState").and_then(Value::as_str) == Some("Paused");
    if !paused {
        for n in r.props.get(super::member_of::NESTED).and_then(Value::as_array).into_iter().flatten() {
            if as_reference(n).and_then(|x| x.parse::<Address>().ok()).is_some_and(|m| holds_walk(desired, &m, account, maybe, seen)) {
                return true;
            }
        }
    }
    // A `memberOf` rule is nesting, followed above once the plan resolved
    // it; its text proves nothing about the account.
    let (Some(rule), Some(a)) = (r.props.get("membershipRule").and_then(Value::as_str).filter(|r| super::member_of::member_of_ids(r).is_none()), desired.resources.get(account)) else { return false };
    match super::rule::evaluate(rule, &rule_props(account, &a.props)) {
        Some(true) => !paused || maybe,
        Some(false) => false,
        None => maybe,
    }
}

/// The properties a rule is judged on for declared `account`: its
/// declared ones, and, for a guest, `userType` `Guest`, which every guest
/// has (invited as one), so that a rule requiring `user.userType -eq
/// "Member"` is proved to leave a guest out (gov16: a dynamic approver
/// group otherwise made every attribute-less guest a possible approver).
fn rule_props<'a>(account: &Address, props: &'a crate::Props) -> std::borrow::Cow<'a, crate::Props> {
    if account.kind != Kind::Guest || props.keys().any(|k| k.eq_ignore_ascii_case("userType")) {
        return std::borrow::Cow::Borrowed(props);
    }
    let mut p = props.clone();
    p.insert("userType".into(), Value::String("Guest".into()));
    std::borrow::Cow::Owned(p)
}

/// The service accounts proved excluded by `exclude` (see [`proven_members`]).
pub fn proven_excluded(desired: &DesiredModel, exclude: &[Address]) -> BTreeSet<Address> {
    exclude.iter().flat_map(|e| proven_members(desired, e)).collect()
}

/// What an assignment (include and exclude references, `allUsers`) reaches
/// once excludes are taken away. Only accounts PROVED members of an
/// excluded group are taken away; when every service account is, nothing
/// (not even a user rule or all users) can reach one.
pub fn assignment_reach(desired: &DesiredModel, include: &[Address], exclude: &[Address], all_users: bool) -> Reach {
    let mut inc = Reach::default();
    for t in include {
        inc.add(group_reach(desired, t));
    }
    if all_users {
        for s in &desired.service_accounts {
            inc.accounts.entry(s.clone()).or_insert_with(|| "through all users".into());
        }
        inc.maybe.push("all users".into());
    }
    let excluded = proven_excluded(desired, exclude);
    if !desired.service_accounts.is_empty() && desired.service_accounts.iter().all(|s| excluded.contains(s)) {
        return Reach::default();
    }
    for (a, how) in inc.accounts.iter_mut() {
        if !excluded.contains(a) && exclude.iter().any(|e| desired.service_account_groups.contains(e)) {
            how.push_str(" (the excluded service-accounts group is not proved to hold it: not among its declared members, and its membership rule does not match its declared properties)");
        }
    }
    inc.accounts.retain(|a, _| !excluded.contains(a));
    inc
}
