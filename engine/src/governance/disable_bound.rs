//! Blocking the sign-in of accounts desired state stops declaring (pruning
//! off, [`super::undeclared::kept_account`]) is bounded like deletes
//! (hostile run 22, finding 12): for the person, a blocked sign-in is as
//! disruptive as a delete, so one pull request that drops 200 people from
//! `accounts.toml` (a bad merge, a generator that lost rows) must not
//! disable them all unattended.
//!
//! The bound is `governance.prune.max_deletions` itself, counting deletes
//! and these disables together: one limit for everything a plan takes away
//! from people, one override (`apply --max-deletions N`), and no second
//! knob a tenant could leave at a default it never looked at. Past the
//! bound the plan warns naming both counts and the limit, every such
//! disable is sensitive (so `apply` needs approvals and `reconcile
//! --self-heal` holds it, while it applies them unattended below the
//! bound), and `apply` refuses without `--max-deletions`. An expired
//! guest's disable is not counted: its end was approved with its expiry.

use std::collections::BTreeMap;

use schema::Address;

use crate::plan::{Action, Change};

/// Whether `c` blocks the sign-in of an account desired state no longer
/// declares (and pruning keeps).
pub fn is_kept_disable(c: &Change) -> bool {
    c.action == Action::Update && c.reason.contains(super::undeclared::KEPT_BLOCKED)
}

/// How many of `changes` delete (or replace) an object, and how many block
/// the sign-in of an undeclared account.
pub fn counts(changes: &[Change]) -> (usize, usize) {
    let deletions = changes.iter().filter(|c| matches!(c.action, Action::Delete | Action::Replace)).count();
    (deletions, changes.iter().filter(|c| is_kept_disable(c)).count())
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
    Some(if disables == 0 {
        format!("the plan deletes {deletions} objects, more than {what}")
    } else {
        format!("the plan deletes {deletions} object(s) and blocks the sign-in of {disables} account(s) desired state no longer declares: {total} removals, more than {what}")
    })
}

/// The plan's warning past the bound.
pub fn warning(changes: &[Change], limit: u32) -> Option<String> {
    over(changes, limit, &format!("governance.prune.max_deletions ({limit})")).map(|s| format!("{s}; apply will refuse without --max-deletions"))
}

/// Past the bound, every kept account's disable becomes sensitive: approved
/// by people, never applied unattended by reconcile.
pub fn hold(changes: &[Change], limit: u32, sensitive: &mut BTreeMap<Address, String>) {
    let Some(why) = over(changes, limit, &format!("governance.prune.max_deletions ({limit})")) else { return };
    for c in changes.iter().filter(|c| is_kept_disable(c)) {
        sensitive.entry(c.address.clone()).or_insert_with(|| format!("{why}: a mass disable needs approval"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, action: Action, reason: &str) -> Change {
        Change {
            address: address.parse().expect("test fixture"),
            action,
            display_name: address.into(),
            id: None,
            reason: reason.into(),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
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
}
