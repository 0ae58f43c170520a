//! The state lease checked before every write `apply` sends, not only
//! before creates (gov17's known gap).
//!
//! Creates ask storage for the lease in the record made before their POST
//! (`CreateEvent::Sending`). Updates, assignments, replaces and deletes
//! learned of a lost lease only when the next renewal failed (it runs
//! every quarter of the lease's 60-second term: up to 15 s of writes after
//! another run took the lease over). This executor checks before each of
//! them: the lease's local state (lost, or not renewed for nearly its
//! term) every time, and storage's answer at most once every
//! [`ASK_EVERY`], so a run of thousands of changes does not double its
//! requests. A run that lost the lease stops before the write, which was
//! not sent.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::apply::{ExecError, Executor, Outcome};
use engine::{Action, Change};
use schema::Address;

use crate::state::LedgerStore;

/// How often storage is asked whether the lease is still this run's.
pub const ASK_EVERY: Duration = Duration::from_secs(2);

/// `inner`, with the state lease checked before each write it sends.
pub struct LeaseChecked<'s, E> {
    inner: E,
    store: &'s LedgerStore,
    asked: Mutex<Option<Instant>>,
}

impl<'s, E> LeaseChecked<'s, E> {
    pub fn new(inner: E, store: &'s LedgerStore) -> Self {
        LeaseChecked { inner, store, asked: Mutex::new(None) }
    }

    /// Whether this run may still write as the lease holder.
    fn check(&self) -> anyhow::Result<()> {
        self.store.check_lease()?;
        let mut asked = self.asked.lock().map_err(|_| anyhow::anyhow!("the lease check lock is poisoned"))?;
        if !matches!(*asked, Some(t) if t.elapsed() < ASK_EVERY) {
            self.store.confirm_lease()?;
            *asked = Some(Instant::now());
        }
        Ok(())
    }
}

/// Whether carrying out `change` sends a write to Graph that the
/// executor does not check itself: creates ask storage in the record
/// before their POST; a forget and a ratification send nothing.
fn checked_here(change: &Change) -> bool {
    !matches!(change.action, Action::Create | Action::Forget) && !engine::governance::ratify::is_ratify(change)
}

impl<E: Executor> Executor for LeaseChecked<'_, E> {
    async fn execute(&self, change: &Change, ids: &std::collections::BTreeMap<Address, String>) -> Result<Outcome, ExecError> {
        if checked_here(change) {
            if let Err(e) = self.check() {
                return Err(ExecError { message: format!("{e:#}"), request_id: None, retryable: false, stops_run: true, not_sent: true });
            }
        }
        self.inner.execute(change, ids).await
    }
}
