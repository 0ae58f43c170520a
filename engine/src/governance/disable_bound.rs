//! Blocking the sign-in of accounts desired state stops declaring (pruning
//! off, [`super::undeclared::kept_account`]) is bounded like deletes
//! (hostile run 22, finding 12): for the person, a blocked sign-in is as
//! disruptive as a delete, so one pull request that drops 200 people from
//! `accounts.toml` (a bad merge, a generator that lost rows) must not
//! disable them all unattended.
//!
//! Every sign-in block a plan makes counts the same way (hostile run 24,
//! findings 1 and 3): a declared account's `account_enabled = false`, a
//! guest whose access end the same plan moved into the past, and an
//! undeclared account kept. Otherwise the other spelling of the same pull
//! request walks around the bound.
//!
//! The bound is `governance.prune.max_deletions` itself, counting deletes
//! and these disables together: one limit for everything a plan takes away
//! from people, one override (`apply --max-deletions N`), and no second
//! knob a tenant could leave at a default it never looked at. Past the
//! bound the plan warns naming both counts and the limit, every such
//! disable is sensitive (so `apply` needs approvals and `reconcile
//! --self-heal` holds it, while it applies them unattended below the
//! bound), and `apply` refuses without `--max-deletions`. A guest whose
//! access end passed on its own (the end the ledger recorded as applied,
//! proven by the seal, is past) is not counted: that end was approved
//! with its expiry, and ended access is ended unattended.
//!
//! So an end moved earlier is counted in the plan that moves it (hostile
//! run 25, finding 2): moving seven guests' ends a few minutes ahead, then
//! letting the clock do the rest, is the other spelling of moving them
//! into the past. The shortening is what people decide, so it is what the
//! bound asks approval for; the disables when the end passes stay
//! uncounted and unattended (the service model: removing access is never
//! held, a bulk removal beyond the bound needs approval when it is
//! decided). Counting instead the end an unattended apply recorded when it
//! passes would hold ended access past its end.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schema::{Address, Kind};
use serde_json::Value;

use crate::ledger::Ledger;
use crate::model::LiveObject;
use crate::plan::{Action, Change};

/// Whether `c` blocks the sign-in of an account desired state no longer
/// declares (and pruning keeps).
pub fn is_kept_disable(c: &Change) -> bool {
    c.action == Action::Update && c.reason.contains(super::undeclared::KEPT_BLOCKED)
}

/// What the reason of an expired guest's disable starts with.
pub const EXPIRED: &str = "access expired at ";

/// What the reason of an expired guest's disable says when the end it
/// passed is not one applied before (and how [`counts`] knows it in a
/// plan, saved or not).
pub const SET_HERE: &str = "an end this plan sets";

/// The reason of the disable of guest `address`, whose access ended at
/// `when`: passed on its own when the ledger's applied end,
/// proven by the seal, of this very object is past; else the end is one
/// this plan sets (moved into the past, or never applied), which counts.
pub fn expiry_reason(address: &Address, when: &str, ledger: &Ledger, live: &LiveObject, now: DateTime<Utc>) -> String {
    let recorded = ledger.resources.get(address).filter(|e| e.id == live.id && ledger.fact_proven(address)).and_then(|e| e.expires.as_deref());
    let applied = recorded.and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc));
    match applied {
        Some(t) if t <= now => format!("{EXPIRED}{when}: sign-in is blocked"),
        _ => {
            let before = match recorded {
                Some(r) => format!("the end last applied was {r}"),
                None => "no applied end is recorded, or the seal does not prove it".to_string(),
            };
            format!("{EXPIRED}{when}, {SET_HERE} ({before}): sign-in is blocked")
        }
    }
}

/// Whether `c` blocks a user's or guest's sign-in: `accountEnabled` set to
/// false by an update.
fn blocks_sign_in(c: &Change) -> bool {
    c.action == Action::Update
        && matches!(c.address.kind, Kind::User | Kind::Guest)
        && c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(Value::Bool(false)) && f.before != Some(Value::Bool(false)))
}

/// Whether `c` is a sign-in block the bound counts: every one but the
/// disable of a guest whose applied access end passed on its own.
pub fn is_counted_disable(c: &Change) -> bool {
    if is_kept_disable(c) {
        return true;
    }
    let passed_on_its_own = c.reason.starts_with(EXPIRED) && !c.reason.contains(SET_HERE);
    blocks_sign_in(c) && !passed_on_its_own
}

/// Whether `c` moves a guest's access end earlier than the one last
/// applied (proven by the seal; an unproven one is reviewed whole
/// already), without blocking the sign-in now: the block comes when the
/// end passes, uncounted then. So does an assignment's end moved earlier
/// (gov24, hostile run 25 finding 2 rest): a directory role assignment's
/// live `endDateTime` (a permanent one given an end too), an Intune role
/// assignment's applied `expires` (proven by the seal) and an access
/// package assignment's live `expires` (one with no end given one too);
/// the access goes when the end passes, uncounted then.
pub fn shortens_end(c: &Change) -> bool {
    let time = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let none = |v: &Option<Value>| v.as_ref().is_none_or(Value::is_null);
    let earlier = |field: &str, from_none: bool| {
        c.fields.iter().any(|f| {
            f.field == field
                && match (time(&f.before), time(&f.after)) {
                    (Some(b), Some(a)) => a < b,
                    (None, Some(_)) => from_none && none(&f.before),
                    _ => false,
                }
        })
    };
    if c.action != Action::Update {
        return false;
    }
    match c.address.kind {
        Kind::Guest => !blocks_sign_in(c) && earlier(super::recorded::EXPIRES, false),
        Kind::IntuneRoleAssignment => earlier(super::recorded::EXPIRES, false),
        Kind::RoleAssignment => earlier(ROLE_END, true),
        Kind::AccessPackageAssignment => earlier(super::package_assignment::EXPIRES, true),
        _ => false,
    }
}

/// The field a directory role assignment's end is shown as (the live
/// schedule's `endDateTime`).
const ROLE_END: &str = "endDateTime";

/// Whether the bound counts `c` as a removal from a person beside deletes:
/// a counted sign-in block ([`is_counted_disable`]) or an end moved
/// earlier ([`shortens_end`]).
fn is_counted(c: &Change) -> bool {
    is_counted_disable(c) || shortens_end(c)
}

/// How many of `changes` delete (or replace) an object, and how many block
/// the sign-in of an account now or move a guest's end earlier (counted
/// ones: [`is_counted`]).
pub fn counts(changes: &[Change]) -> (usize, usize) {
    let deletions = changes.iter().filter(|c| matches!(c.action, Action::Delete | Action::Replace)).count();
    (deletions, changes.iter().filter(|c| is_counted(c)).count())
}

/// What `changes` take away beside `limit`: `None` within it, else the
/// sentence naming the counts and the limit (`what` names the limit and
/// where it comes from, `limit` given).
pub fn over(changes: &[Change], limit: u32, what: &str) -> Option<String> {
    let (deletions, disables) = counts(changes);
    let total = deletions + disables;
    if total as u64 <= u64::from(limit) {
        return None;
    }
    let kept = changes.iter().filter(|c| is_kept_disable(c)).count();
    let shortened = changes.iter().filter(|c| shortens_end(c)).count();
    let guests = changes.iter().filter(|c| c.address.kind == Kind::Guest && shortens_end(c)).count();
    let assignments = shortened - guests;
    let disables = disables - shortened;
    let ends = match (guests, assignments) {
        (g, 0) => format!("moves the access end of {g} guest(s) earlier (their sign-in is blocked when it passes, uncounted then)"),
        (0, a) => format!("moves the end of {a} role or access package assignment(s) earlier (the access goes when it passes, uncounted then)"),
        (g, a) => format!("moves the access end of {g} guest(s) and the end of {a} role or access package assignment(s) earlier (the access goes when it passes, uncounted then)"),
    };
    Some(if shortened > 0 {
        format!("the plan deletes {deletions} object(s), blocks the sign-in of {disables} account(s) and {ends}: {total} removals, more than {what}")
    } else if disables == 0 {
        format!("the plan deletes {deletions} objects, more than {what}")
    } else if kept < disables {
        format!("the plan deletes {deletions} object(s) and blocks the sign-in of {disables} account(s) ({kept} no longer declared, {} declared disabled or expired by this plan): {total} removals, more than {what}", disables - kept)
    } else {
        format!("the plan deletes {deletions} object(s) and blocks the sign-in of {disables} account(s) desired state no longer declares: {total} removals, more than {what}")
    })
}

/// The plan's warning past the bound.
pub fn warning(changes: &[Change], limit: u32) -> Option<String> {
    over(changes, limit, &format!("governance.prune.max_deletions ({limit})")).map(|s| format!("{s}; apply will refuse without --max-deletions"))
}

/// Past the bound, every counted disable becomes sensitive: approved
/// by people, never applied unattended by reconcile.
pub fn hold(changes: &[Change], limit: u32, sensitive: &mut BTreeMap<Address, String>) {
    let Some(why) = over(changes, limit, &format!("governance.prune.max_deletions ({limit})")) else { return };
    for c in changes.iter().filter(|c| is_counted(c)) {
        sensitive.entry(c.address.clone()).or_insert_with(|| format!("{why}: a mass disable needs approval"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, action: Action, reason: &str) -> Change {
        Change::new(address.parse().expect("test fixture"), action, address, reason)
    }

    #[test]
    fn disables_count_with_deletes_against_one_limit() {
        let kept = format!("no longer declared; pruning is off for user (governance.prune.kinds), {}", crate::governance::undeclared::KEPT_BLOCKED);
        let mut changes: Vec<Change> = (0..3).map(|i| change(&format!("user.p{i}"), Action::Update, &kept)).collect();
        changes.push(change("group.g", Action::Delete, "no longer declared"));
        changes.push(change("guest.g", Action::Update, "no longer declared, and its access expired"));
        assert_eq!(counts(&changes), (1, 3));
        assert!(over(&changes, 4, "x (4)").is_none());
        let why = over(&changes, 3, "x (3)").expect("past the bound");
        assert!(why.contains("deletes 1 object(s) and blocks the sign-in of 3 account(s)") && why.contains("4 removals, more than x (3)"), "{why}");
        let mut sensitive = BTreeMap::new();
        hold(&changes, 3, &mut sensitive);
        assert_eq!(sensitive.len(), 3, "{sensitive:?}");
        assert!(!sensitive.contains_key(&"guest.g".parse::<Address>().expect("test fixture")));
        let deletes = vec![change("group.a", Action::Delete, "x"), change("group.b", Action::Replace, "x")];
        assert_eq!(over(&deletes, 1, "x (1)").as_deref(), Some("the plan deletes 2 objects, more than x (1)"));
    }

    fn disable(address: &str, reason: &str) -> Change {
        let mut c = change(address, Action::Update, reason);
        c.fields.push(crate::diff::FieldChange { field: "accountEnabled".into(), before: Some(Value::Bool(true)), after: Some(Value::Bool(false)) });
        c
    }

    #[test]
    fn declared_disables_and_ends_this_plan_sets_count() {
        let changes = vec![
            disable("user.a", "accountEnabled differs"),
            disable("guest.b", &format!("{EXPIRED}2026-01-01T00:00:00+00:00, {SET_HERE} (the end last applied was 2027-01-01T00:00:00Z): sign-in is blocked")),
            disable("guest.c", &format!("{EXPIRED}2026-01-01T00:00:00+00:00: sign-in is blocked")),
            change("user.d", Action::Update, "displayName differs"),
        ];
        assert_eq!(counts(&changes), (0, 2));
        let why = over(&changes, 1, "x (1)").expect("past the bound");
        assert!(why.contains("blocks the sign-in of 2 account(s) (0 no longer declared, 2 declared disabled or expired by this plan)"), "{why}");
        let mut sensitive = BTreeMap::new();
        hold(&changes, 1, &mut sensitive);
        assert_eq!(sensitive.keys().map(ToString::to_string).collect::<Vec<_>>(), ["user.a", "guest.b"]);
    }

    fn end(address: &str, before: &str, after: &str) -> Change {
        let mut c = change(address, Action::Update, "expires differs from the one last applied");
        c.fields.push(crate::diff::FieldChange { field: "expires".into(), before: Some(Value::String(before.into())), after: Some(Value::String(after.into())) });
        c
    }

    #[test]
    fn ends_moved_earlier_count_and_extensions_do_not() {
        let changes = vec![
            end("guest.a", "2027-03-31T17:00:00Z", "2026-12-02T05:14:00Z"),
            end("guest.b", "2027-03-31T17:00:00Z", "2027-01-31T00:00:00Z"),
            end("guest.c", "2027-03-31T17:00:00Z", "2027-06-30T00:00:00Z"),
            end("guest.d", "(not proven by the seal)", "2026-12-02T05:14:00Z"),
            disable("user.e", "accountEnabled differs"),
        ];
        assert_eq!(changes.iter().filter(|c| shortens_end(c)).count(), 2);
        assert_eq!(counts(&changes), (0, 3));
        let why = over(&changes, 2, "x (2)").expect("past the bound");
        assert!(why.contains("blocks the sign-in of 1 account(s) and moves the access end of 2 guest(s) earlier") && why.contains("3 removals, more than x (2)"), "{why}");
        let mut sensitive = BTreeMap::new();
        hold(&changes, 2, &mut sensitive);
        assert_eq!(sensitive.keys().map(ToString::to_string).collect::<Vec<_>>(), ["user.e", "guest.a", "guest.b"]);
    }

    fn field(address: &str, name: &str, before: Value, after: Value) -> Change {
        let mut c = change(address, Action::Update, "endDateTime differs");
        c.fields.push(crate::diff::FieldChange { field: name.into(), before: Some(before), after: Some(after) });
        c
    }

    #[test]
    fn assignment_ends_moved_earlier_count_as_guests_do() {
        let s = |t: &str| Value::String(t.into());
        let changes = vec![
            field("role_assignment.a", "endDateTime", s("2027-01-31T00:00:00Z"), s("2027-01-15T00:00:00Z")),
            field("role_assignment.b", "endDateTime", Value::Null, s("2027-01-15T00:00:00Z")),
            field("role_assignment.c", "endDateTime", s("2027-01-15T00:00:00Z"), s("2027-01-31T00:00:00Z")),
            field("role_assignment.d", "endDateTime", s("2027-01-15T00:00:00Z"), Value::Null),
            field("intune_role_assignment.e", "expires", s("2027-01-31T00:00:00Z"), s("2027-01-15T00:00:00Z")),
            field("intune_role_assignment.f", "expires", s("(not proven by the seal)"), s("2027-01-15T00:00:00Z")),
            field("access_package_assignment.g", "expires", s("2027-03-31T17:00:00Z"), s("2027-02-01T00:00:00Z")),
            field("group.h", "endDateTime", s("2027-01-31T00:00:00Z"), s("2027-01-15T00:00:00Z")),
        ];
        let counted: Vec<String> = changes.iter().filter(|c| shortens_end(c)).map(|c| c.address.to_string()).collect();
        assert_eq!(counted, ["role_assignment.a", "role_assignment.b", "intune_role_assignment.e", "access_package_assignment.g"]);
        let why = over(&changes, 3, "x (3)").expect("past the bound");
        assert!(why.contains("moves the end of 4 role or access package assignment(s) earlier") && why.contains("4 removals, more than x (3)"), "{why}");
        let mut with_guest = changes.clone();
        with_guest.push(end("guest.i", "2027-03-31T17:00:00Z", "2027-01-31T00:00:00Z"));
        let why = over(&with_guest, 3, "x (3)").expect("past the bound");
        assert!(why.contains("moves the access end of 1 guest(s) and the end of 4 role or access package assignment(s) earlier"), "{why}");
        let mut sensitive = BTreeMap::new();
        hold(&changes, 3, &mut sensitive);
        assert_eq!(sensitive.len(), 4, "{sensitive:?}");
    }
}
