//! Which accounts the ledger this directory last sealed owned, as the
//! tenant's marker records them, given to a ledger the seal does not prove
//! ([`engine::Ledger::sealed_accounts`]; the rule is
//! [`engine::governance::sealed_accounts`]'s): the record of the ledger
//! the marker binds this directory to, else of the loaded ledger's own
//! identity. Nothing is read for it: the marker is read already.

use engine::governance::sealed_accounts::Sketch;
use engine::ledger_seal::binding_id;
use engine::Ledger;
use providers::tenant_marker::Marker;

use crate::state::LedgerStore;

/// Set `ledger`'s [`Ledger::sealed_accounts`] from `marker` when the seal
/// leaves its absences unproven.
pub fn judge(store: &LedgerStore, ledger: &mut Ledger, marker: Option<&Marker>) {
    let Some(m) = marker else { return };
    if !engine::governance::lost_ownership::absence_unproven(&ledger.seal) {
        return;
    }
    let bound = crate::ledger_dir::hash(store).and_then(|dir| m.ledger_dirs.iter().find(|(d, _)| *d == dir).map(|(_, id)| id.clone()));
    let unbound = bound.is_none();
    let key = bound.or_else(|| ledger.ledger_id.as_deref().map(|id| binding_id(id).to_string()));
    ledger.sealed_accounts = key.as_ref().and_then(|k| m.ledger_accounts.iter().find(|(i, _)| i == k)).and_then(|(_, s)| Sketch::decode(s));
    // Unbound, the ledger's own identity (the pull request's to write) is
    // no evidence of which record is this directory's: the others are
    // tried too (hostile run 31, finding 3).
    if unbound {
        ledger.sealed_accounts_unbound = m.ledger_accounts.iter().filter(|(i, _)| Some(i) != key.as_ref()).filter_map(|(_, s)| Sketch::decode(s)).collect();
    }
}
