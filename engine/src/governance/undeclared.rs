//! Access the ledger owns and desired state no longer declares is ended,
//! whatever `governance.prune.kinds` says: removing a role assignment's
//! declaration removes the access it grants, and a guest whose recorded
//! access end has passed is disabled (or deleted) as if still declared.
//! Keeping them would be standing access nobody approved to keep (hostile
//! run 14, findings 12 and 22). Both only remove access, so neither is
//! ever held for approval.
//!
//! An account (user or guest) tenantctl owns that desired state stops
//! declaring, with pruning off for its kind, is kept but its sign-in is
//! blocked: reverting the pull request that created it must not leave a
//! working account behind (hostile run 17, finding 14). Service accounts
//! the ledger recorded as such are kept as they are (a service may depend
//! on them), and protected addresses are never touched.
//!
//! Which objects the ledger owns is a ledger fact like any other (hostile
//! run 23, findings 8 and 16): where the tenant's seal does not prove the
//! entry ([`Ledger::owner_proven`]: a ledger new to the tenant, one that
//! does not match its seal or that it does not know, an entry a
//! write-ahead log changed since the last seal), ending the access of the
//! object it names, or deleting it, is shown and needs approval
//! ([`unproven_owner`]), and a `service` mark of such an entry does not
//! keep an undeclared account enabled ([`unproven_service`]).

use chrono::{DateTime, Utc};
use schema::kind_facts::Access;
use schema::kinds::governance::GuestExpiryAction;
use schema::Address;
use serde_json::Value;

use crate::ledger::{Ledger, LedgerEntry};
use crate::ledger_seal::Seal;
use crate::model::LiveObject;

/// How an undeclared, ledger-owned object's access ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessEnd {
    /// Deleted, for this reason.
    Delete(String),
    /// Sign-in blocked (a guest, with `guest_expiry_action = "disable"`).
    Disable(String),
    /// Already ended (a disabled guest): nothing to do.
    Ended,
}

/// Whether `address` (no longer declared; `entry` in the ledger, `live` its
/// object) grants access that must end now, and how.
pub fn access_end(address: &Address, entry: &LedgerEntry, live: &LiveObject, now: DateTime<Utc>, action: GuestExpiryAction) -> Option<AccessEnd> {
    // Which kinds' objects are access is the kind's own fact (`ACCESS`).
    match address.kind.access() {
        Access::Grant { .. } => Some(AccessEnd::Delete("no longer declared: the access it grants is removed (access is never kept undeclared, whatever governance.prune.kinds says)".into())),
        Access::Expiring { .. } => {
            let expires = entry.expires.as_deref().and_then(|e| DateTime::parse_from_rfc3339(e).ok())?.with_timezone(&Utc);
            if expires > now {
                return None;
            }
            let when = expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            match action {
                GuestExpiryAction::Disable if live.props.get("accountEnabled") == Some(&Value::Bool(false)) => Some(AccessEnd::Ended),
                GuestExpiryAction::Disable => Some(AccessEnd::Disable(format!("no longer declared, and its access expired at {when} (recorded in the ledger): sign-in is blocked"))),
                _ => Some(AccessEnd::Delete(format!("no longer declared, and its access expired at {when} (recorded in the ledger)"))),
            }
        }
        Access::None => None,
    }
}

/// What the reason of a kept account's disable says (and how
/// [`super::disable_bound`] knows one in a plan, saved or not).
pub const KEPT_BLOCKED: &str = "so the account is kept with its sign-in blocked";

/// Whether a ledger-owned account desired state no longer declares, and
/// that pruning keeps, must have its sign-in blocked: `None` for other
/// kinds and for service accounts (`service`: the ledger recorded it as
/// one, or the live service-accounts group holds it), [`AccessEnd::Ended`]
/// when it is already disabled.
pub fn kept_account(address: &Address, service: bool, live: &LiveObject) -> Option<AccessEnd> {
    if !matches!(address.kind, schema::Kind::User | schema::Kind::Guest) || service {
        return None;
    }
    match live.props.get("accountEnabled") {
        Some(Value::Bool(false)) => Some(AccessEnd::Ended),
        _ => Some(AccessEnd::Disable(format!(
            "no longer declared; pruning is off for {} (governance.prune.kinds), {KEPT_BLOCKED} (an account nobody declares is access nobody approved to keep)",
            address.kind
        ))),
    }
}

/// Why ending the access of (or deleting) `address`, undeclared, on the
/// ledger's word needs approval: the ledger's entry (`entry`) is not one
/// the tenant's seal proves, so it does not prove that tenantctl owns the
/// object it names (hostile run 23, findings 8 and 16: a forged log line,
/// a ledger cut to one entry or a `state push` named the id of an
/// account tenantctl never managed, whose sign-in was then blocked
/// unattended). `what`: what the change does. `None`: proven.
pub fn unproven_owner(ledger: &Ledger, address: &Address, entry: &LedgerEntry, what: &str) -> Option<String> {
    if ledger.owner_proven(address) {
        return None;
    }
    let whose = match &ledger.seal {
        Seal::Fresh { .. } => "the ledger is new to the tenant (no identity, no approved record): its facts are trusted on first use, but not which objects it owns, since a pull request or a state push can name any object's id in one",
        Seal::Broken { only: Some(_), .. } => "a write-ahead log changed this entry since the last seal (a run cut short, or a log a pull request wrote)",
        Seal::Unknown { .. } => "the tenant seals no ledger under this one's identity",
        _ => "the ledger does not match the seal the tenant records",
    };
    Some(format!("{OWNER_UNPROVEN} {address} (object {}): {whose}; tenantctl may never have managed it, so {what} needs approval", entry.id))
}

/// Put back the entries a write-ahead log took away from the compacted
/// ledger ([`Ledger::log_removed`]) by forgetting their address, when the
/// tenant's seal proves that ledger but not the log (hostile run 23,
/// finding 16: a forged `forget` line kept an undeclared account enabled,
/// or a removed access package assignment in place, and the next apply
/// sealed that). The sealed ledger's ownership stands: their objects are
/// read, and their access ends (or they are kept, or forgotten when gone)
/// as without the log. A log a killed run left only takes away objects it
/// deleted, which are then gone and forgotten again. Call once the seal
/// is judged, before the tenant is read.
///
/// Likewise an entry such a log gives another object id (a `record` line
/// naming another object for the address, gov22): the log's id is
/// unproven, the sealed ledger's stands, so a forged line cannot take the
/// real object (an account to block, an assignment to end) away from the
/// sealed ledger and hand the address a portal user. A run killed while
/// replacing an object left such a line too: the sealed object it deleted
/// is then gone, and the address is matched by its natural key again.
/// Returns the addresses put back, with the id the log gave each (`None`:
/// the log forgot it); [`Ledger::log_removed`] keeps only those.
pub fn restore_unproven_removals(ledger: &mut Ledger) -> Vec<(Address, Option<String>)> {
    let touched = match &ledger.seal {
        Seal::Broken { only: Some(t), .. } => t.clone(),
        _ => {
            ledger.log_removed.clear();
            return Vec::new();
        }
    };
    let owned: std::collections::BTreeSet<String> = ledger.resources.values().map(|e| e.id.clone()).collect();
    let removed = std::mem::take(&mut ledger.log_removed);
    let mut back = Vec::new();
    for (a, e) in removed {
        if !touched.contains(&a) || owned.contains(&e.id) {
            continue;
        }
        let logged = ledger.resources.get(&a).map(|now| now.id.clone());
        ledger.resources.insert(a.clone(), e.clone());
        ledger.log_removed.insert(a.clone(), e);
        back.push((a, logged));
    }
    back
}

/// Whether `address`'s entry is one [`restore_unproven_removals`] put back.
pub fn restored(ledger: &Ledger, address: &Address) -> bool {
    ledger.log_removed.get(address).is_some_and(|e| ledger.resources.get(address) == Some(e))
}

/// The note on what is done with a restored entry.
pub fn restored_note(address: &Address, entry: &LedgerEntry) -> String {
    format!("the ledger's write-ahead log takes {address} (object {}) away from the sealed ledger, but the tenant's seal does not prove that log (a run cut short, or a log a pull request wrote): it is judged as the sealed ledger owns it", entry.id)
}

/// What is said of an address an unproven log gave another object id
/// (`logged`) than the sealed ledger's (`sealed`).
pub fn reassigned_warning(address: &Address, sealed: &str, logged: &str) -> String {
    format!(
        "the ledger's write-ahead log gives {address} another object id ({}) than the sealed ledger's ({sealed}), and the tenant's seal does not prove that log (a run cut short, or a log a pull request wrote): the sealed ledger's id stands, the log's is unproven",
        crate::render::text_safe(logged)
    )
}

/// How every reason of [`unproven_owner`] starts.
pub const OWNER_UNPROVEN: &str = "the tenant's seal does not prove the ledger's ownership of";

/// Why keeping `address` enabled because its entry records a service
/// account is not proven: the mark is then not trusted (its sign-in is
/// blocked as any undeclared account's), and this is said.
pub fn unproven_service(address: &Address) -> String {
    format!("the ledger records {address} as a service account, but the tenant's seal does not prove that mark (a pull request can write it), so it does not keep the account enabled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::Kind;

    fn entry(expires: Option<&str>) -> LedgerEntry {
        LedgerEntry { id: "00000000-0000-4000-8000-000000000001".into(), applied: None, changed_at: None, expires: expires.map(str::to_string), service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None }
    }

    fn live(kind: Kind, enabled: bool) -> LiveObject {
        let mut props = crate::model::Props::new();
        props.insert("accountEnabled".into(), Value::Bool(enabled));
        LiveObject { kind, id: "00000000-0000-4000-8000-000000000001".into(), natural_key: "x".into(), display_name: "x".into(), props }
    }

    #[test]
    fn undeclared_access_ends() {
        let now: DateTime<Utc> = "2027-06-01T00:00:00Z".parse().expect("test fixture");
        let guest: Address = "guest.auditor".parse().expect("test fixture");
        let role: Address = "role_assignment.megan-ua".parse().expect("test fixture");
        let group: Address = "group.plain".parse().expect("test fixture");
        let past = entry(Some("2027-03-31T17:00:00Z"));
        assert!(matches!(access_end(&role, &entry(None), &live(Kind::RoleAssignment, true), now, GuestExpiryAction::Disable), Some(AccessEnd::Delete(_))));
        assert!(matches!(access_end(&guest, &past, &live(Kind::Guest, true), now, GuestExpiryAction::Disable), Some(AccessEnd::Disable(_))));
        assert_eq!(access_end(&guest, &past, &live(Kind::Guest, false), now, GuestExpiryAction::Disable), Some(AccessEnd::Ended));
        assert!(matches!(access_end(&guest, &past, &live(Kind::Guest, true), now, GuestExpiryAction::Delete), Some(AccessEnd::Delete(_))));
        assert_eq!(access_end(&guest, &entry(Some("2027-12-31T00:00:00Z")), &live(Kind::Guest, true), now, GuestExpiryAction::Disable), None, "not yet expired");
        assert_eq!(access_end(&guest, &entry(None), &live(Kind::Guest, true), now, GuestExpiryAction::Disable), None, "no recorded end");
        assert_eq!(access_end(&group, &entry(None), &live(Kind::Group, true), now, GuestExpiryAction::Disable), None);
    }

    #[test]
    fn what_an_unproven_log_forgot_is_put_back_and_its_owner_proven() {
        let a: Address = "user.leaver".parse().expect("test fixture");
        let b: Address = "user.kept".parse().expect("test fixture");
        let mut base = Ledger::default();
        base.record(a.clone(), "1".into(), None, None);
        base.record(b.clone(), "2".into(), None, None);
        let log = format!("{}\n", Ledger::render_op(&crate::ledger::LedgerOp::Forget { address: a.clone() }));
        let mut l = base.clone().replay(&log).expect("replayed");
        assert!(!l.resources.contains_key(&a) && l.log_removed.contains_key(&a));
        // The log is proven (sealed with it): nothing is put back.
        let mut sealed = l.clone();
        sealed.seal = Seal::Sealed;
        assert!(restore_unproven_removals(&mut sealed).is_empty());
        assert!(sealed.log_removed.is_empty() && !sealed.resources.contains_key(&a));
        // The sealed ledger under an unproven log: the forget is undone.
        l.seal = Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: Some([a.clone()].into()) };
        assert_eq!(restore_unproven_removals(&mut l), vec![(a.clone(), None)]);
        assert_eq!(l.id(&a), Some("1"));
        assert!(restored(&l, &a) && !restored(&l, &b));
        assert!(!l.owner_proven(&a), "touched by the log: only the restore proves it");
        assert!(l.owner_proven(&b));
        let e = l.resources[&a].clone();
        assert!(unproven_owner(&l, &a, &e, "blocking its sign-in").is_some_and(|w| w.starts_with(OWNER_UNPROVEN) && w.contains("write-ahead log")));
        assert_eq!(unproven_owner(&l, &b, &l.resources[&b].clone(), "x"), None);
        // A log line giving a sealed address another id: the sealed id stands.
        let log = format!("{}\n", Ledger::render_op(&crate::ledger::LedgerOp::Record { address: b.clone(), entry: entry(None) }));
        let mut l = base.clone().replay(&log).expect("replayed");
        assert_eq!(l.id(&b), Some(entry(None).id.as_str()), "the log's id, as replayed");
        l.seal = Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: Some([b.clone()].into()) };
        assert_eq!(restore_unproven_removals(&mut l), vec![(b.clone(), Some(entry(None).id))]);
        assert_eq!(l.id(&b), Some("2"), "the sealed ledger's id stands");
        assert!(restored(&l, &b));
        // A ledger new to the tenant proves no ownership, though its facts are trusted on first use.
        let mut fresh = base.clone();
        fresh.seal = Seal::Fresh { ledger: "l".into(), latest: "r".into(), others: 1, beyond_review: false };
        assert!(fresh.fact_proven(&b) && !fresh.owner_proven(&b));
    }

    #[test]
    fn kept_accounts_are_disabled_but_service_accounts_kept() {
        let user: Address = "user.adele".parse().expect("test fixture");
        let group: Address = "group.plain".parse().expect("test fixture");
        assert!(matches!(kept_account(&user, false, &live(Kind::User, true)), Some(AccessEnd::Disable(_))));
        assert_eq!(kept_account(&user, false, &live(Kind::User, false)), Some(AccessEnd::Ended));
        assert_eq!(kept_account(&user, true, &live(Kind::User, true)), None);
        assert_eq!(kept_account(&group, false, &live(Kind::Group, true)), None);
    }
}
