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

use chrono::{DateTime, Utc};
use schema::kind_facts::Access;
use schema::kinds::governance::GuestExpiryAction;
use schema::Address;
use serde_json::Value;

use crate::ledger::LedgerEntry;
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

#[cfg(test)]
mod tests {
    use super::*;
    use schema::Kind;

    fn entry(expires: Option<&str>) -> LedgerEntry {
        LedgerEntry { id: "00000000-0000-4000-8000-000000000001".into(), applied: None, changed_at: None, expires: expires.map(str::to_string), service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None }
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
    fn kept_accounts_are_disabled_but_service_accounts_kept() {
        let user: Address = "user.adele".parse().expect("test fixture");
        let group: Address = "group.plain".parse().expect("test fixture");
        assert!(matches!(kept_account(&user, false, &live(Kind::User, true)), Some(AccessEnd::Disable(_))));
        assert_eq!(kept_account(&user, false, &live(Kind::User, false)), Some(AccessEnd::Ended));
        assert_eq!(kept_account(&user, true, &live(Kind::User, true)), None);
        assert_eq!(kept_account(&group, false, &live(Kind::Group, true)), None);
    }
}
