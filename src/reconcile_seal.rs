//! The ledger a `reconcile --self-heal` pass wrote, recorded the way
//! `apply` records it (gov12 leftover): each change went to the
//! write-ahead log as it was carried out; at the end of the pass the
//! objects its complete plan found in sync get their approved record
//! (`governance::ratify::in_sync`, as a resealing apply does), the ledger
//! is scrubbed of what the seal did not prove, sealed in the tenant, and
//! only then compacted ([`crate::ledger_seal::seal_then_compact`]): a
//! pass killed between the seal and the compaction leaves a sealed
//! ledger (its log over the last compacted one), never a broken seal.

use std::collections::BTreeSet;

use anyhow::Result;
use engine::{DesiredModel, Ledger, ObservedState, Plan};
use providers::graph::GraphClient;
use schema::Address;

use crate::ledger_seal::Sealing;
use crate::state::LedgerStore;

/// Record `ledger` after a self-heal pass. `applied`: the addresses whose
/// changes this pass carried out; `complete`: it carried out its whole
/// plan (nothing held, failed, refused or unread). A pass that changed
/// nothing and has nothing in sync to record writes nothing.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    store: &LedgerStore,
    client: &GraphClient,
    org: Option<&str>,
    sealing: &Sealing,
    desired: &DesiredModel,
    observed: &ObservedState,
    plan: &Plan,
    mut ledger: Ledger,
    applied: BTreeSet<Address>,
    complete: bool,
) -> Result<()> {
    let changed = !applied.is_empty();
    let mut vouched = applied;
    let mut recorded = 0;
    if complete {
        // The model the plan was made from (with the template defaults the
        // tenant supplies): what objects found in sync are recorded as.
        let completed = (!observed.completed.is_empty()).then(|| engine::completed::complete(desired, &observed.completed));
        let (ops, v) = engine::governance::ratify::in_sync(completed.as_ref().unwrap_or(desired), plan, &mut ledger, schema::clock::now());
        for (_, op) in &ops {
            store.append(op)?;
        }
        recorded = ops.len();
        vouched.extend(v);
    }
    if !changed && recorded == 0 {
        return Ok(());
    }
    let may_seal = sealing.prepare_vouched(&mut ledger, complete, org, &vouched);
    match org {
        Some(org) => crate::ledger_seal::seal_then_compact(store, client, org, ledger, sealing.finish(may_seal)).await,
        None => store.compact(&ledger),
    }
}
