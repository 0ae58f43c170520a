//! The state lease asked of storage before a write, not only as its last
//! renewal found it.
//!
//! The renewal runs every quarter of the lease's term, so a run whose
//! lease was broken (`state unlock --yes`) and taken by another could
//! learn it up to 15 s late, and `reconcile --self-heal` went on writing
//! Graph in that time (hostile run 22, finding 7). Before each of its
//! writes the pass renews the lease itself: one storage request, which
//! answers "not yours" as soon as another run holds it.

use std::sync::Arc;

use anyhow::{Context, Result};
use providers::state_blob::BlobLease;
use providers::state_lock::StateLock;

use crate::state_backend::Remote;

/// Renew `lease` now; when storage says it is not this run's any more,
/// the run has lost it (naming who holds it now, when storage says), and
/// the error is the one [`Remote::check_lease`] gives every later write.
pub async fn confirm(lease: &Arc<BlobLease>, remote: &Remote) -> Result<()> {
    remote.check_lease()?;
    let rt = crate::state_backend::storage_runtime()?;
    let l = lease.clone();
    let answer = rt
        .spawn(async move {
            match l.renew_or_lost().await {
                Ok(()) => Ok(()),
                Err((gone, e)) => Err((gone, lost_why(&l, gone, &e).await)),
            }
        })
        .await
        .context("the storage task stopped")?;
    match answer {
        Ok(()) => {
            remote.lease_renewed();
            Ok(())
        }
        Err((gone, why)) => {
            remote.lease_failed(gone, why);
            remote.check_lease()
        }
    }
}

/// Why a renewal failed: when storage said the lease is not this run's,
/// who holds it now (as the lock blob names it), so the operator knows
/// which run took over.
pub async fn lost_why(lease: &BlobLease, gone: bool, e: &providers::state_lock::LockError) -> String {
    let e = e.to_string();
    if !gone {
        return e;
    }
    match lease.holder().await.ok().flatten() {
        Some(h) => format!("it is held by {h} now; {e}"),
        None => format!("it was broken or taken over; {e}"),
    }
}
