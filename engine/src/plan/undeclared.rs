//! Ledger-owned objects no longer declared: forgotten, kept as orphans,
//! their access ended, or deleted where pruning is on.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use super::build::{disable_account, undeclared_delete};
use super::{Action, Change, Draft, Orphan, Sides, Unknown};
use crate::fingerprint::ObservedPart;
use crate::governance::undeclared::AccessEnd;
use crate::held::Held;
use crate::model::LiveObject;

/// What the undeclared pass leaves for the governance passes.
pub(super) struct Undeclared {
    pub orphans: Vec<Orphan>,
    /// Access ended, or deletes, on an ownership the tenant's seal does not
    /// prove: sensitive, with why (hostile run 23, finding 8).
    pub owner_unproven: BTreeMap<Address, String>,
    pub restored_notes: Vec<(Address, String)>,
}

/// Judge each ledger entry no longer declared.
pub(super) fn undeclared<'a>(s: &Sides<'a>, draft: &mut Draft<'a>, held: &mut BTreeMap<Address, Held>, live_service: &BTreeMap<Address, String>) -> Undeclared {
    let (desired, observed, ledger, options, matched, ids) = (s.desired, s.observed, s.ledger, s.options, s.matched, s.ids);
    let gov = &desired.governance;
    let mut orphans = Vec::new();
    let mut owner_unproven: BTreeMap<Address, String> = BTreeMap::new();
    let mut restored_notes: Vec<(Address, String)> = Vec::new();
    let protected: BTreeSet<String> = gov.protected.iter().cloned().collect();
    // Objects a declared address matches (a key renamed in desired state):
    // never ended through the old key.
    // Built the first time an undeclared object's access would end (most
    // plans have none): a set of every matched id otherwise.
    let claimed_ids = super::matching::Claimed::new(desired, matched);
    // The natural keys (UPNs, guest e-mails) of declared accounts: an
    // undeclared account one of them names is being renamed or moved to
    // another address, not dropped, and keeps its sign-in (hostile run 22,
    // finding 1).
    let declared_accounts: std::cell::OnceCell<BTreeSet<String>> = std::cell::OnceCell::new();
    let declared_account = |o: &LiveObject| {
        declared_accounts
            .get_or_init(|| desired.resources.values().filter(|r| matches!(r.address.kind, Kind::User | Kind::Guest)).map(|r| r.natural_key.to_lowercase()).collect())
            .contains(&o.natural_key.to_lowercase())
    };
    let claimed = |id: &str| claimed_ids.contains(id);
    // A kind read only to find what is live outside desired state (Intune
    // role assignments where Intune is managed) that could not be read is
    // unknown too: nothing of it is declared or owned, but "in sync" would
    // claim that no out-of-band access was found.
    for (kind, why) in &observed.unreadable {
        if !desired.resources.keys().chain(ledger.resources.keys()).any(|a| a.kind == *kind) {
            draft.unknown.push(Unknown { address: Address::new(*kind, "(outside desired state)"), reason: format!("{kind} could not be read, so live objects of it outside desired state (out-of-band access) were not checked: {why}") });
        }
    }
    for (address, entry) in &ledger.resources {
        if desired.resources.contains_key(address) {
            continue;
        }
        if observed.unreadable.contains_key(&address.kind) {
            draft.unknown.push(Unknown { address: address.clone(), reason: format!("no longer declared, and {} could not be read", address.kind) });
            continue;
        }
        if let Some(h) = observed.held.get(address).filter(|_| !matched.contains_key(address)) {
            held.insert(address.clone(), h.clone());
            continue;
        }
        if let Some(why) = observed.refused.get(address).filter(|_| !matched.contains_key(address)) {
            draft.unknown.push(Unknown { address: address.clone(), reason: format!("no longer declared, and its object cannot be read: {why}") });
            continue;
        }
        let Some(o) = matched.get(address).copied() else {
            let mut c = Change::new(address.clone(), Action::Forget, address.key.clone(), format!("no longer declared and object {} no longer exists", entry.id));
            c.id = Some(entry.id.clone());
            draft.changes.push(c);
            continue;
        };
        draft.fp_parts.push((address, ObservedPart::Id(&o.id)));
        // An object tenantctl adopted is pruned only with prune.adopted.
        let keep_adopted = crate::governance::origin::kept_adopted(address.kind, entry, gov.prune.adopted);
        let prunable = !keep_adopted && gov.prune.kinds.iter().any(|k| k == address.kind.as_str());
        // An entry an unproven log took away, restored as the sealed
        // ledger has it, is proven by that ledger (hostile run 23, finding 16).
        let restored = crate::governance::undeclared::restored(ledger, address);
        let owner_proven = restored || ledger.owner_proven(address);
        let unproven_owner = |what: &str| if owner_proven { None } else { crate::governance::undeclared::unproven_owner(ledger, address, entry, what) };
        if restored {
            restored_notes.push((address.clone(), crate::governance::undeclared::restored_note(address, entry)));
        }
        if protected.contains(&address.to_string()) {
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: "no longer declared, but protected: never deleted".into() });
        } else if address.kind.never_deleted() {
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: format!("no longer declared; a {} cannot be deleted, so it is left as it is", address.kind) });
        } else if o.props.get("isBuiltIn") == Some(&Value::Bool(true)) {
            // A tenant's singleton (its authorization policy) or built-in
            // object cannot be deleted: it stays as it is, unmanaged.
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: "no longer declared; built into the tenant, so never deleted (left as it is)".into() });
        } else if let Some(end) = crate::governance::undeclared::access_end(address, entry, o, options.now, gov.guest_expiry_action).filter(|_| !claimed(o.id.as_str())) {
            match end {
                AccessEnd::Ended => draft.unchanged.push(address.clone()),
                AccessEnd::Disable(reason) => {
                    owner_unproven.extend(unproven_owner("blocking its sign-in").map(|w| (address.clone(), w)));
                    draft.changes.push(disable_account(address, o, reason));
                }
                AccessEnd::Delete(reason) => {
                    owner_unproven.extend(unproven_owner("deleting it").map(|w| (address.clone(), w)));
                    draft.changes.push(undeclared_delete(address, o, reason, ids));
                }
            }
        } else if let Some(end) = crate::governance::undeclared::kept_account(address, (entry.service && owner_proven) || live_service.contains_key(address), o)
            .filter(|_| !prunable && !claimed(o.id.as_str()) && !declared_account(o))
        {
            match end {
                AccessEnd::Disable(reason) => {
                    let mut c = disable_account(address, o, reason);
                    if entry.service {
                        // A service mark the seal does not prove keeps nothing enabled.
                        c.notes.push(crate::governance::undeclared::unproven_service(address));
                    }
                    owner_unproven.extend(unproven_owner("blocking its sign-in").map(|w| (address.clone(), w)));
                    draft.changes.push(c);
                }
                _ => orphans.push(Orphan {
                    address: address.clone(),
                    id: o.id.clone(),
                    reason: format!("no longer declared; pruning is off for {} (governance.prune.kinds); its sign-in is blocked", address.kind),
                }),
            }
        } else if !prunable {
            orphans.push(Orphan {
                address: address.clone(),
                id: o.id.clone(),
                reason: crate::governance::origin::kept_reason(entry, keep_adopted).unwrap_or_else(|| format!("no longer declared; pruning is off for {} (governance.prune.kinds)", address.kind)),
            });
        } else {
            owner_unproven.extend(unproven_owner("deleting it").map(|w| (address.clone(), w)));
            let mut c = undeclared_delete(address, o, "no longer declared, and pruning is on for its kind".into(), ids);
            c.notes.extend(crate::governance::origin::delete_note(address.kind, entry));
            draft.changes.push(c);
        }
    }
    Undeclared { orphans, owner_unproven, restored_notes }
}
