//! A journal line of its own for each account whose ownership was lost
//! without proof (`engine::governance::lost_ownership`) on every run that
//! keeps it: an `apply` that does not block it, and a `reconcile
//! --self-heal` pass (which holds the block for approval, or, for a
//! service account, proposes none). The journal then shows, run by run,
//! that the account was kept and why, not only the drift report of the
//! moment. The line's action is `keep` and its outcome `kept`; it names
//! the object, and is not an ownership record (`journal_owned` skips it).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use engine::Plan;
use schema::Address;

use crate::journal::{journal_event, journal_path, Attribution};

/// Journal each lost account `plan` names that `done` (the addresses this
/// run changed) does not include.
pub(crate) fn journal_kept(ledger: &Path, plan: &Plan, done: &BTreeSet<Address>, who: &Attribution) -> Result<()> {
    let named = engine::governance::lost_ownership::named(&plan.warnings);
    if named.is_empty() {
        return Ok(());
    }
    let path = journal_path(ledger);
    let hash = plan.hash();
    for (address, id, warning) in named.into_iter().filter(|(a, _, _)| !done.contains(a)) {
        journal_event(&path, &hash, &address, "keep", &id, "kept", &format!("kept as it is this run: {warning}"), who)?;
    }
    Ok(())
}
