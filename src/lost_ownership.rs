//! Which accounts the journal shows tenantctl owned, read when the
//! tenant's seal does not prove which entries the ledger holds, so the
//! plan names an account whose entry was cut rather than keeping it
//! silently (the rule is [`engine::governance::lost_ownership`]).

use engine::Ledger;

use crate::output;
use crate::state::LedgerStore;

/// Fill [`Ledger::journal_owned`] from the journal beside `store`'s
/// ledger, when the seal leaves the ledger's absences unproven. A journal
/// that cannot be read, or none where the tenant records no accounts of
/// the sealed ledger ([`crate::sealed_accounts`]) either, is said, never
/// fatal.
pub fn read(store: &LedgerStore, ledger: &mut Ledger) {
    if !engine::governance::lost_ownership::absence_unproven(&ledger.seal) {
        return;
    }
    let path = crate::journal::journal_path(store.path());
    match schema::read::read_state_file(&path, schema::read::max_file_bytes()) {
        Ok(Some(bytes)) => ledger.journal_owned = engine::governance::lost_ownership::journal_owned(String::from_utf8_lossy(&bytes).lines()),
        // No journal (deleted, or a fresh runner: with `azurerm` it stays
        // on the runner that wrote it) is never "nothing owned" silently:
        // the tenant's record of the sealed ledger's accounts stands in for
        // it when there is one, else it is said.
        Ok(None) if ledger.sealed_accounts.is_some() => {}
        Ok(None) => output::status(format!(
            "warning: there is no journal {} beside the ledger (deleted, a fresh runner, or a directory never applied), and the tenant records no accounts of a sealed ledger for this directory, so accounts whose entry the unproven ledger no longer holds cannot be named",
            path.display()
        )),
        Err(e) => output::status(format!(
            "warning: the journal {} was not read ({e}), so accounts whose entry the unproven ledger no longer holds are not named",
            path.display()
        )),
    }
}
