//! Stage 5 of the pipeline: walk a plan. Waves run in order; changes of one
//! wave run concurrently (bounded); a failed change marks everything that
//! waits on it skipped, with the failure that blocked it, and independent
//! changes still run. The walk makes no decisions the plan did not make: it
//! only carries changes out through an [`Executor`] and records outcomes.
//! No I/O here: the executor talks to Graph, the caller persists the ledger
//! and journal from the callback after every change. With
//! [`apply_recorded`], a change that cannot be recorded stops the walk: no
//! change starts after it (changes already running finish and are
//! reported), so the tenant never runs ahead of the ledger and journal.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::StreamExt;
use schema::Address;
use serde::{Deserialize, Serialize};

use crate::ledger::{Ledger, LedgerEntry, LedgerOp};
use crate::plan::{Action, Change, Plan};

/// What an executor reports for one change carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The object's id after the change (new for creates and replaces).
    pub id: Option<String>,
    /// Graph request ids of the writes, for the journal.
    pub request_ids: Vec<String>,
    /// Anything the operator should know (e.g. an object adopted by
    /// natural key after a lost create response).
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    pub message: String,
    pub request_id: Option<String>,
    /// The failure may be transient (throttling, 5xx, a dropped
    /// connection): the same change can be tried again.
    pub retryable: bool,
    /// Recording the change failed (the ledger log could not be written,
    /// the state lease was lost): the run stops there and starts nothing
    /// more, as when recording a finished change fails.
    pub stops_run: bool,
    /// With `stops_run`: the stop came before anything of the change was
    /// sent (recording a create before its POST), so nothing was written.
    pub not_sent: bool,
}

/// Carries out one change against the tenant.
pub trait Executor: Sync {
    /// `ids` maps every address known so far to its object id.
    fn execute(&self, change: &Change, ids: &BTreeMap<Address, String>) -> impl Future<Output = Result<Outcome, ExecError>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Applied,
    Failed { error: String },
    Skipped { blocked_by: Address, error: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResult {
    pub address: Address,
    pub action: Action,
    #[serde(flatten)]
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub results: Vec<ChangeResult>,
    /// The walk stopped because this change could not be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<RecordFailure>,
}

/// A change whose ledger or journal entry could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    pub address: Address,
    pub action: String,
    pub error: String,
    /// The change itself was never sent (its record before the write
    /// failed): nothing of it is in the tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_sent: bool,
}

/// What the caller must persist, in order, before the walk goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Record<'a> {
    /// An object matched by natural key (not in the ledger) is owned from
    /// now on: made by an earlier run that did not record it, or adopted.
    Adopted { address: &'a Address, id: &'a str, op: LedgerOp },
    /// A change was carried out (or failed, or was skipped); `op` is its
    /// ledger change, if any.
    Change { result: &'a ChangeResult, op: Option<LedgerOp> },
}

/// Record natural-key matches the ledger does not hold yet (changed
/// addresses are recorded by their change): the ops to persist.
pub fn adopt_matches(plan: &Plan, ledger: &mut Ledger, now: &str) -> Vec<(Address, String, LedgerOp)> {
    let mut out = Vec::new();
    for (address, id) in &plan.ids {
        if ledger.id(address) != Some(id.as_str()) && !plan.changes.iter().any(|c| &c.address == address) {
            let op = LedgerOp::Record { address: address.clone(), entry: LedgerEntry { id: id.clone(), applied: None, changed_at: Some(now.to_string()), expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: Some(crate::ledger::Origin::Adopted) } };
            ledger.apply_op(&op);
            out.push((address.clone(), id.clone(), op));
        }
    }
    out
}

impl ApplyReport {
    pub fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.status)).count()
    }
    pub fn applied(&self) -> usize {
        self.count(|s| matches!(s, Status::Applied))
    }
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, Status::Failed { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|s| matches!(s, Status::Skipped { .. }))
    }
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0 && self.stopped.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Changes of one wave run at most this many at a time.
    pub concurrency: usize,
    /// Timestamp recorded in the ledger (RFC 3339), from the caller's clock.
    pub now: String,
}

/// Apply `plan`, updating `ledger` after every change and calling
/// `on_result` with the outcome and the updated ledger, so the caller can
/// persist both before the next change can finish.
pub async fn apply<E: Executor>(
    plan: &Plan,
    ledger: &mut Ledger,
    executor: &E,
    options: &ApplyOptions,
    mut on_result: impl FnMut(&ChangeResult, &Ledger),
) -> ApplyReport {
    apply_recorded(plan, ledger, executor, options, |record, l| {
        if let Record::Change { result, .. } = record {
            on_result(result, l);
        }
        Ok(())
    })
    .await
}

/// Apply `plan`, calling `record` with every adoption and every change's
/// outcome and ledger op (and the ledger after it) before any further
/// change starts. When `record` fails, the walk stops: changes not started
/// yet are reported skipped, and [`ApplyReport::stopped`] names the change.
pub async fn apply_recorded<E: Executor>(
    plan: &Plan,
    ledger: &mut Ledger,
    executor: &E,
    options: &ApplyOptions,
    mut record: impl FnMut(Record<'_>, &Ledger) -> Result<(), String>,
) -> ApplyReport {
    let mut report = ApplyReport::default();
    let mut ids: BTreeMap<Address, String> = ledger.resources.iter().map(|(a, e)| (a.clone(), e.id.clone())).collect();
    ids.extend(plan.ids.iter().map(|(a, i)| (a.clone(), i.clone())));
    // Objects matched by natural key are owned from now on.
    for (address, id, op) in adopt_matches(plan, ledger, &options.now) {
        if let Err(error) = record(Record::Adopted { address: &address, id: &id, op }, ledger) {
            report.stopped = Some(RecordFailure { address, action: "adopt".into(), error, not_sent: false });
            break;
        }
    }
    let stop = std::sync::atomic::AtomicBool::new(report.stopped.is_some());
    let mut broken: BTreeMap<Address, String> = BTreeMap::new();
    let waves: BTreeSet<u32> = plan.changes.iter().map(|c| c.wave).collect();
    for wave in waves {
        let mut runnable = Vec::new();
        for c in plan.changes.iter().filter(|c| c.wave == wave) {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                report.results.push(not_started(c, report.stopped.as_ref()));
                continue;
            }
            match c.waits_on.iter().find_map(|w| broken.get(w).map(|e| (w.clone(), e.clone()))) {
                Some((blocked_by, error)) => {
                    let r = ChangeResult {
                        address: c.address.clone(),
                        action: c.action,
                        status: Status::Skipped { blocked_by: blocked_by.clone(), error: error.clone() },
                        id: c.id.clone(),
                        request_ids: Vec::new(),
                        note: None,
                    };
                    broken.insert(c.address.clone(), format!("{blocked_by} failed: {error}"));
                    if let Err(error) = record(Record::Change { result: &r, op: None }, ledger) {
                        report.stopped = Some(RecordFailure { address: r.address.clone(), action: r.action.as_str().into(), error, not_sent: false });
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    report.results.push(r);
                }
                None => runnable.push(c),
            }
        }
        let snapshot = ids.clone();
        let snapshot = &snapshot;
        let stop = &stop;
        // A change starts only when its future is first polled, after the
        // stop flag is checked: nothing starts once recording failed.
        let mut running = futures::stream::iter(runnable)
            .map(|c| async move {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return (c, None);
                }
                (c, Some(executor.execute(c, snapshot).await))
            })
            .buffer_unordered(options.concurrency.max(1));
        while let Some((c, result)) = running.next().await {
            let Some(result) = result else {
                report.results.push(not_started(c, report.stopped.as_ref()));
                continue;
            };
            let mut op = None;
            let r = match result {
                Ok(outcome) => {
                    match c.action {
                        Action::Delete | Action::Forget => {
                            ledger.forget(&c.address);
                            ids.remove(&c.address);
                            op = Some(LedgerOp::Forget { address: c.address.clone() });
                        }
                        _ => {
                            if let Some(id) = outcome.id.clone().or_else(|| c.id.clone()) {
                                let applied = c.desired.as_ref().map(crate::governance::ratify::applied_hash);
                                // What governance remembers (a guest's expiry, a service
                                // account) as this change applied it.
                                let (expires, service) = crate::governance::recorded::facts_after(c, ledger.resources.get(&c.address));
                                let secret_env = crate::secret_env::after(c, ledger.resources.get(&c.address));
                                let approved_fields = c.desired.as_ref().map(crate::governance::ratify::approved_fields).unwrap_or_default();
                                // A ratification changes nothing in the tenant: the
                                // object's last change stays what it was.
                                let changed_at = match ledger.resources.get(&c.address).filter(|_| crate::governance::ratify::is_ratify(c)) {
                                    Some(prev) => prev.changed_at.clone(),
                                    None => Some(options.now.clone()),
                                };
                                let sponsor = crate::governance::sponsor::after(c, ledger.resources.get(&c.address));
                                let origin = crate::ledger::Origin::after(c.action, &id, ledger.resources.get(&c.address));
                                let o = LedgerOp::Record { address: c.address.clone(), entry: LedgerEntry { id: id.clone(), applied, changed_at, expires, service, location: crate::ledger::location_of(c.desired.as_ref()), secret_env, approved_fields, sponsor, origin } };
                                ledger.apply_op(&o);
                                op = Some(o);
                                ids.insert(c.address.clone(), id);
                            }
                        }
                    }
                    ChangeResult {
                        address: c.address.clone(),
                        action: c.action,
                        status: Status::Applied,
                        id: outcome.id.or_else(|| c.id.clone()),
                        request_ids: outcome.request_ids,
                        note: outcome.note,
                    }
                }
                Err(e) => {
                    broken.insert(c.address.clone(), e.message.clone());
                    if e.stops_run {
                        report.stopped.get_or_insert(RecordFailure { address: c.address.clone(), action: c.action.as_str().into(), error: e.message.clone(), not_sent: e.not_sent });
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    ChangeResult {
                        address: c.address.clone(),
                        action: c.action,
                        status: Status::Failed { error: e.message },
                        id: c.id.clone(),
                        request_ids: e.request_id.into_iter().collect(),
                        note: None,
                    }
                }
            };
            if let Err(error) = record(Record::Change { result: &r, op }, ledger) {
                // The first failure is the one named; later ones are
                // changes that were already running.
                report.stopped.get_or_insert(RecordFailure { address: r.address.clone(), action: r.action.as_str().into(), error, not_sent: false });
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            report.results.push(r);
        }
    }
    report.results.sort_by(|a, b| a.address.cmp(&b.address));
    report
}

/// A change not started because recording an earlier one failed.
fn not_started(c: &Change, stopped: Option<&RecordFailure>) -> ChangeResult {
    let (blocked_by, error) = match stopped {
        Some(f) => (f.address.clone(), format!("not started: recording {} {} failed: {}", f.action, f.address, f.error)),
        None => (c.address.clone(), "not started".to_string()),
    };
    ChangeResult { address: c.address.clone(), action: c.action, status: Status::Skipped { blocked_by, error }, id: c.id.clone(), request_ids: Vec::new(), note: None }
}
