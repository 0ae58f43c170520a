//! Dependent reads of several concurrent readers in one `$batch` per
//! dependency level.
//!
//! `observe` runs every kind's read at once. Each read lists its
//! collection, then reads what depends on it (a Settings Catalog
//! policy's settings, a remediation's script, an Autopilot profile's
//! assignments) through [`GraphClient::batch`]. Sent as they come, those
//! are one `$batch` per kind, one after another in time but each its own
//! request. [`join_all`] runs the readers so that their batches wait for
//! each other: a reader's `batch` call is held until every reader is
//! either waiting on a `batch` call too or finished, and then all the
//! held sub-requests go together (one `$batch` per API version and
//! client, 20 items per call, see [`GraphClient::batch`]). That moment is
//! a dependency level: nothing further can be asked until those answers
//! come back.
//!
//! The count is exact only if each reader's concurrency is known: a reader
//! that waits on several things at once says so through [`join3`] (each
//! branch counts). Concurrency it does not declare never deadlocks: a
//! `batch` call from a reader already counted as waiting is sent at once,
//! and a reader dropped while others wait releases them (each then sends
//! its own batch).
//!
//! What each sub-request answered reaches only its own caller, with its
//! own status: a failed item stays that reader's error (retried first by
//! [`GraphClient::batch`] for 429/5xx), never an empty answer. A `$batch`
//! call that fails as a whole is sent again by each reader on its own, so
//! each gets its own error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::batch::MAX_BATCH;
use super::{BatchRequest, BatchResponse, GraphClient, GraphError};

tokio::task_local! {
    /// The reader (participant) the running future belongs to, if any.
    static PARTICIPANT: Arc<Participant>;
}

/// The answer a held `batch` call gets: the responses to its requests, or
/// `None` to send them itself.
type Answer = Option<Vec<BatchResponse>>;

/// A `batch` call held for the next flush.
struct Held {
    participant: usize,
    client: GraphClient,
    requests: Vec<BatchRequest>,
    answer: oneshot::Sender<Answer>,
}

/// One reader's count.
struct Part {
    /// Its branches not waiting on a held `batch` call (1 for a reader
    /// without declared concurrency).
    running: usize,
    /// Whether it counts in [`State::running`] (some branch runs).
    counted: bool,
}

#[derive(Default)]
struct State {
    /// Readers with a running branch.
    running: usize,
    parts: HashMap<usize, Part>,
    held: Vec<Held>,
}

/// The shared count of one [`join_all`].
#[derive(Default)]
struct Coalescer {
    state: Mutex<State>,
}

impl Coalescer {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a reader panicked mid-update; the
        // counts are still the best available.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One reader of a [`join_all`].
struct Participant {
    coalescer: Arc<Coalescer>,
    id: usize,
    /// Whether it has finished (its count removed).
    left: std::sync::atomic::AtomicBool,
}

impl State {
    /// One branch of reader `id` stops running (waits, or ends). Returns
    /// the held calls to flush when no reader runs any more.
    fn branch_stops(&mut self, id: usize) -> Option<Vec<Held>> {
        let part = self.parts.get_mut(&id)?;
        part.running = part.running.saturating_sub(1);
        if part.running == 0 && part.counted {
            part.counted = false;
            self.running = self.running.saturating_sub(1);
        }
        self.due()
    }

    /// The held calls, when every reader waits (or has finished).
    fn due(&mut self) -> Option<Vec<Held>> {
        (self.running == 0 && !self.held.is_empty()).then(|| std::mem::take(&mut self.held))
    }

    /// One branch of reader `id` runs again.
    fn branch_resumes(&mut self, id: usize) {
        if let Some(part) = self.parts.get_mut(&id) {
            part.running += 1;
            if !part.counted {
                part.counted = true;
                self.running += 1;
            }
        }
    }
}

impl Participant {
    /// Once only: the reader no longer counts; the calls that were waiting
    /// for it alone, if any.
    fn release(&self) -> Option<Vec<Held>> {
        if self.left.swap(true, Ordering::SeqCst) {
            return None;
        }
        let mut s = self.coalescer.lock();
        if let Some(part) = s.parts.remove(&self.id) {
            if part.counted {
                s.running = s.running.saturating_sub(1);
            }
        }
        s.due()
    }

    /// The reader ends: it no longer counts.
    async fn leave(&self) {
        if let Some(held) = self.release() {
            flush(&self.coalescer, held).await;
        }
    }
}

impl Drop for Participant {
    /// A reader dropped before it ended (its `join_all` was cancelled, or
    /// it panicked): it no longer counts, and whoever it would have let go
    /// sends their own batch rather than wait forever.
    fn drop(&mut self) {
        for h in self.release().into_iter().flatten() {
            let _ = h.answer.send(None);
        }
    }
}

/// Sends the held calls: one [`GraphClient::batch`] per client and API
/// version with all their requests, each call's responses back to it.
async fn flush(coalescer: &Coalescer, held: Vec<Held>) {
    // Group by client (the same `Inner`) and version, in the order held.
    let mut groups: Vec<Vec<Held>> = Vec::new();
    for h in held {
        match groups.iter_mut().find(|g| g.first().is_some_and(|f| Arc::ptr_eq(&f.client.inner, &h.client.inner) && f.client.version == h.client.version)) {
            Some(g) => g.push(h),
            None => groups.push(vec![h]),
        }
    }
    let sends = groups.into_iter().map(|group| async move {
        let client = match group.first() {
            Some(h) => h.client.clone(),
            None => return Vec::new(),
        };
        let requests: Vec<BatchRequest> = group.iter().flat_map(|h| h.requests.iter().cloned()).collect();
        let answers: Vec<Answer> = match client.batch_now(requests).await {
            Ok(mut responses) => group
                .iter()
                .map(|h| {
                    let rest = responses.split_off(h.requests.len().min(responses.len()));
                    Some(std::mem::replace(&mut responses, rest))
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "shared $batch failed; each reader sends its own");
                group.iter().map(|_| None).collect()
            }
        };
        group.into_iter().zip(answers).collect::<Vec<_>>()
    });
    let answered: Vec<(Held, Answer)> = futures::future::join_all(sends).await.into_iter().flatten().collect();
    // Count the readers running again before any of them runs.
    {
        let mut s = coalescer.lock();
        for (h, _) in &answered {
            s.branch_resumes(h.participant);
        }
    }
    for (h, answer) in answered {
        let _ = h.answer.send(answer);
    }
}

/// Runs `readers` concurrently (as `futures::future::join_all` does), with
/// their [`GraphClient::batch`] calls sent together one dependency level
/// at a time. Outputs in the order of `readers`.
pub async fn join_all<F: Future>(readers: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let coalescer = Arc::new(Coalescer::default());
    let readers: Vec<F> = readers.into_iter().collect();
    // Every reader counts before any runs: the first to wait must not
    // flush before the others have asked.
    let participants: Vec<Arc<Participant>> = {
        let mut s = coalescer.lock();
        (0..readers.len())
            .map(|id| {
                s.parts.insert(id, Part { running: 1, counted: true });
                s.running += 1;
                Arc::new(Participant { coalescer: Arc::clone(&coalescer), id, left: false.into() })
            })
            .collect()
    };
    let runs = readers.into_iter().zip(participants).map(|(reader, p)| async move {
        let out = PARTICIPANT.scope(Arc::clone(&p), reader).await;
        p.leave().await;
        out
    });
    futures::future::join_all(runs).await
}

/// Three futures of one reader run concurrently (as `tokio::join!`), each
/// counted as a branch of the reader, so the reader counts as waiting only
/// when all three wait (or have ended). Outside [`join_all`] a plain join.
pub async fn join3<A: Future, B: Future, C: Future>(a: A, b: B, c: C) -> (A::Output, B::Output, C::Output) {
    let Ok(p) = PARTICIPANT.try_with(Arc::clone) else {
        return tokio::join!(a, b, c);
    };
    let fork = Fork::new(&p, 3);
    tokio::join!(fork.branch(a), fork.branch(b), fork.branch(c))
}

/// The branches of one [`join3`].
struct Fork {
    participant: Option<Arc<Participant>>,
    /// Branches not ended yet.
    remaining: AtomicUsize,
}

impl Fork {
    fn new(p: &Arc<Participant>, branches: usize) -> Fork {
        let mut s = p.coalescer.lock();
        // Counted only while the reader's own count is in force (a reader
        // whose concurrency went undeclared is left uncounted).
        let counted = match s.parts.get_mut(&p.id) {
            Some(part) if part.running > 0 => {
                part.running += branches.saturating_sub(1);
                true
            }
            _ => false,
        };
        Fork { participant: counted.then(|| Arc::clone(p)), remaining: AtomicUsize::new(branches) }
    }

    async fn branch<F: Future>(&self, f: F) -> F::Output {
        let out = f.await;
        // The last branch to end is the reader going on; the others stop.
        let last = self.remaining.fetch_sub(1, Ordering::SeqCst) == 1;
        if let (false, Some(p)) = (last, &self.participant) {
            let due = p.coalescer.lock().branch_stops(p.id);
            if let Some(held) = due {
                flush(&p.coalescer, held).await;
            }
        }
        out
    }
}

impl GraphClient {
    /// [`GraphClient::batch`] inside [`join_all`]: held until every reader
    /// waits, then sent with theirs. `None` outside, or for a reader
    /// already counted as waiting (concurrency it did not declare).
    ///
    /// A call of 20 items or more sends its full calls at once (nothing to
    /// share them with, and a large read, e.g. every group's members, must
    /// not wait for a long listing elsewhere); only its remainder is held.
    pub(crate) async fn batch_coalesced(&self, requests: &[BatchRequest]) -> Option<Result<Vec<BatchResponse>, GraphError>> {
        let p = PARTICIPANT.try_with(Arc::clone).ok()?;
        let full = requests.len() - requests.len() % MAX_BATCH;
        if full == requests.len() {
            return None;
        }
        if full > 0 {
            let (now, held) = tokio::join!(self.batch_now(requests[..full].to_vec()), self.hold(&p, &requests[full..]));
            let held = match held {
                Some(r) => r,
                None => self.batch_now(requests[full..].to_vec()).await,
            };
            return Some(now.and_then(|mut a| {
                a.extend(held?);
                Ok(a)
            }));
        }
        self.hold(&p, requests).await
    }

    /// Holds `requests` for the next flush of `p`'s [`join_all`].
    async fn hold(&self, p: &Arc<Participant>, requests: &[BatchRequest]) -> Option<Result<Vec<BatchResponse>, GraphError>> {
        let (tx, rx) = oneshot::channel();
        let due = {
            let mut s = p.coalescer.lock();
            let running = s.parts.get(&p.id).map_or(0, |part| part.running);
            if running == 0 {
                return None;
            }
            s.held.push(Held { participant: p.id, client: self.clone(), requests: requests.to_vec(), answer: tx });
            s.branch_stops(p.id)
        };
        if let Some(held) = due {
            flush(&p.coalescer, held).await;
        }
        match rx.await {
            Ok(Some(responses)) if responses.len() == requests.len() => Some(Ok(responses)),
            // Released without answers (a failed shared call, a cancelled
            // reader): the caller sends its own.
            _ => None,
        }
    }
}
