//! Single requests coalesced into `$batch` calls, for apply: each caller
//! sends one request and gets its own response (or the same typed error a
//! single request would give), while the requests of many concurrent
//! callers leave together, 20 to a `POST /$batch` (Graph's limit).
//!
//! * A request waits in a queue (one per API version) until 20 are queued or
//!   a short linger has passed, so the changes of one wave that reach their
//!   writes (or their create lookups) together go out together.
//! * Each item is paced on its own, against the limit it counts in (Intune
//!   writes and requests, directory writes; see [`super::pacing`]): a batch
//!   carries only items whose send time has come, so an item whose slot is
//!   later never rides in a batch sent early (Graph counts each item when
//!   the batch arrives), and the `$batch` call itself is not paced. Each
//!   item holds its place in its limits until the batch is answered, so a
//!   batch delayed on its way never lands in a window that is already full.
//!   A batch takes one of [`BATCHES_IN_FLIGHT`] slots *before* its items
//!   reserve their send times, so it leaves at once instead of holding
//!   places while it queues for one of the client's slots.
//! * Each item is retried on its own: 429/503 after its own `Retry-After`,
//!   500/502/504 only when it is not a POST (a POST may have run: the caller
//!   decides, as for a single request), re-paced with the next items.
//! * `dependsOn` is not used: the items of one batch are independent
//!   changes, and a failed item fails only its own change.
//! * A `$batch` call that fails as a whole fails each of its items; when the
//!   call may have reached Graph (a dropped connection), each item's error
//!   is an ambiguous [`GraphError::Transient`], so a create is looked up
//!   again before it is retried, never blindly repeated.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use super::batch::MAX_BATCH;
use super::error::{classify_status, error_from_response, GraphError, RequestInfo, StatusClass};
use super::pacing::{Full, Pacer, Reservation};
use super::retry::parse_retry_after;
use super::{into_response, ApiVersion, GraphClient, GraphRequest, GraphResponse, Method};

type Reply = oneshot::Sender<Result<GraphResponse, GraphError>>;

/// One request waiting for (or riding in) a batch.
struct Queued {
    request: GraphRequest,
    info: RequestInfo,
    reply: Reply,
    /// Times it was sent.
    attempts: u32,
    /// Not to be sent again before this (its `Retry-After` or backoff).
    not_before: SystemTime,
}

/// Coalesces requests into `$batch` calls; share it (`Arc`) between the
/// concurrent callers whose requests should go together.
pub struct WriteBatcher {
    client: GraphClient,
    linger: Duration,
    queues: Mutex<BTreeMap<&'static str, (ApiVersion, Vec<Queued>)>>,
    /// `$batch` calls in flight: taken *before* items reserve their send
    /// times, and fewer than the client's own slots, so a batch whose items
    /// got their times leaves at once rather than queueing behind other
    /// calls for a slot (which would make it land later than paced).
    gate: Arc<tokio::sync::Semaphore>,
}

/// `$batch` calls a batcher keeps in flight (the binary's client allows 8
/// requests in flight; the rest stay free for single calls).
pub const BATCHES_IN_FLIGHT: usize = 4;

impl std::fmt::Debug for WriteBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatcher").field("linger", &self.linger).finish_non_exhaustive()
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The wait before a batch that is not full goes anyway.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);

impl WriteBatcher {
    /// A batcher sending through `client` (any version view).
    pub fn new(client: &GraphClient) -> Arc<WriteBatcher> {
        Self::with_linger(client, DEFAULT_LINGER)
    }

    /// Like [`WriteBatcher::new`] with another linger.
    pub fn with_linger(client: &GraphClient, linger: Duration) -> Arc<WriteBatcher> {
        Arc::new(WriteBatcher { client: client.clone(), linger, queues: Mutex::new(BTreeMap::new()), gate: Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT)) })
    }

    /// Sends `request` (relative to `api`'s version) in a `$batch` with other
    /// callers' requests, and returns its own response. An absolute URL (a
    /// nextLink) goes on its own.
    pub async fn execute(self: &Arc<Self>, api: &GraphClient, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let path = request.path.trim();
        if path.starts_with("http://") || path.starts_with("https://") {
            return api.execute(request).await;
        }
        let url = api.url_for(path)?;
        let info = RequestInfo::new(request.method.as_str(), &url);
        let fallback = info.clone();
        let (reply, answer) = oneshot::channel();
        let version = api.version();
        let queued = Queued { request, info, reply, attempts: 0, not_before: SystemTime::UNIX_EPOCH };
        let len = {
            let mut queues = locked(&self.queues);
            let (_, q) = queues.entry(version.as_str()).or_insert_with(|| (version, Vec::new()));
            q.push(queued);
            q.len()
        };
        if len >= MAX_BATCH {
            self.flush(version, true);
        } else if len == 1 {
            let me = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(me.linger).await;
                me.flush(version, false);
            });
        }
        answer.await.unwrap_or_else(|_| Err(GraphError::UnexpectedResponse { request: fallback, reason: "the $batch carrying this request was abandoned".to_owned() }))
    }

    /// Every item of a collection read through a batch: the first page rides
    /// in a `$batch`, any further pages follow their nextLink directly.
    pub async fn list_all(self: &Arc<Self>, api: &GraphClient, path: &str) -> Result<Vec<Value>, GraphError> {
        let response = self.execute(api, GraphRequest::new(Method::GET, path)).await?;
        let page = response.body.unwrap_or(Value::Null);
        let Some(Value::Array(mut items)) = page.get("value").cloned() else {
            let info = RequestInfo::new("GET", &api.url_for(path)?);
            return Err(GraphError::UnexpectedResponse { request: info, reason: "collection response has no `value` array".to_owned() });
        };
        if let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) {
            items.extend(api.list_all(next).await?);
        }
        Ok(items)
    }

    /// Reads a just-created object through a batch, waiting out 404s with
    /// the client's replication delays (as [`GraphClient::wait_until_readable`]).
    pub async fn wait_until_readable(self: &Arc<Self>, api: &GraphClient, path: &str) -> Result<Value, GraphError> {
        let mut delays = api.inner.retry.replication_delays.clone().into_iter();
        loop {
            match self.execute(api, GraphRequest::new(Method::GET, path)).await {
                Ok(r) => return Ok(r.body.unwrap_or(Value::Null)),
                Err(e) if e.is_not_found() => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(path, delay_ms = delay.as_millis() as u64, "not readable yet; waiting for replication");
                        api.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                        api.inner.sleeper.sleep(delay).await;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends what is queued for `version`: only full batches when `full_only`.
    fn flush(&self, version: ApiVersion, full_only: bool) {
        let taken: Vec<Queued> = {
            let mut queues = locked(&self.queues);
            let Some((_, q)) = queues.get_mut(version.as_str()) else {
                return;
            };
            let n = if full_only { q.len() - q.len() % MAX_BATCH } else { q.len() };
            q.drain(..n).collect()
        };
        let mut taken = taken.into_iter().peekable();
        while taken.peek().is_some() {
            let chunk: Vec<Queued> = taken.by_ref().take(MAX_BATCH).collect();
            let api = self.client.with_version(version);
            let gate = Arc::clone(&self.gate);
            tokio::spawn(async move { run_chunk(api, gate, chunk).await });
        }
    }
}

/// What a batch whose first item may not leave yet waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Its send time, this long from now.
    For(Duration),
    /// A response to a request in flight: every place is held until one comes.
    Answer,
}

/// Takes, in order, the items of `ready` that may leave now under the
/// service limits, with the reservations that hold their places until the
/// batch carrying them is answered (drop them then). The first item whose
/// time is later (or that finds every place held) gives its reservation
/// back and stays, with everything after it, for the next batch; when that
/// is the very first item, nothing is taken and what to wait for is
/// returned. Returns (to send now, their reservations, to hold, wait).
pub(crate) fn take_ready<T>(pacer: &Pacer, ready: Vec<T>, key: impl Fn(&T) -> (&str, &str)) -> (Vec<T>, Vec<Reservation>, Vec<T>, Option<Wait>) {
    let mut send = Vec::new();
    let mut reservations = Vec::new();
    let mut held = Vec::new();
    let mut wait = None;
    let mut items = ready.into_iter();
    while let Some(item) = items.next() {
        let (method, path) = key(&item);
        let later = match pacer.reserve_slot(method, path) {
            Ok(Some(r)) if !r.wait.is_zero() => {
                let w = r.wait;
                r.cancel();
                Wait::For(w)
            }
            Err(Full) => Wait::Answer,
            Ok(r) => {
                reservations.extend(r);
                send.push(item);
                continue;
            }
        };
        if send.is_empty() {
            tracing::debug!(method, path, wait = ?later, "pacing batch items under service limits");
            wait = Some(later);
        }
        held.push(item);
        held.extend(items);
        break;
    }
    (send, reservations, held, wait)
}

fn item_json(id: usize, q: &Queued) -> Value {
    let mut obj = Map::new();
    obj.insert("id".to_owned(), json!(id.to_string()));
    obj.insert("method".to_owned(), json!(q.request.method.as_str()));
    let path = q.request.path.trim();
    obj.insert("url".to_owned(), json!(if path.starts_with('/') { path.to_owned() } else { format!("/{path}") }));
    let mut headers: Map<String, Value> = q.request.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    if let Some(body) = &q.request.body {
        if !headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
            headers.insert("Content-Type".to_owned(), json!("application/json"));
        }
        obj.insert("body".to_owned(), body.clone());
    }
    if !headers.is_empty() {
        obj.insert("headers".to_owned(), Value::Object(headers));
    }
    Value::Object(obj)
}

/// The error each item of a `$batch` call that failed as a whole gets.
fn item_error(q: &Queued, e: &GraphError) -> GraphError {
    let ambiguous = e.is_retryable() || matches!(e, GraphError::Network { .. } | GraphError::Transient { .. } | GraphError::Throttled { .. });
    if ambiguous {
        // It may have run: the caller treats it as it treats a dropped
        // single request (creates are looked up before they are retried).
        GraphError::Transient { request: q.info.clone(), last_status: None, attempts: q.attempts.max(1), detail: None }
    } else {
        GraphError::UnexpectedResponse { request: q.info.clone(), reason: format!("the $batch call carrying it failed: {e}") }
    }
}

/// Sends the items of one chunk until each has its final answer.
async fn run_chunk(api: GraphClient, gate: Arc<tokio::sync::Semaphore>, chunk: Vec<Queued>) {
    let inner = Arc::clone(&api.inner);
    let policy = inner.retry.clone();
    let batch_url = match api.url_for("/$batch") {
        Ok(u) => u,
        Err(e) => {
            for q in chunk {
                let err = item_error(&q, &e);
                let _ = q.reply.send(Err(err));
            }
            return;
        }
    };
    let started = inner.clock.now();
    let mut waiting = chunk;
    while !waiting.is_empty() {
        let now = inner.clock.now();
        if let Some(due) = waiting.iter().map(|q| q.not_before).min().filter(|d| *d > now) {
            inner.sleeper.sleep(due.duration_since(now).unwrap_or_default()).await;
        }
        let now = inner.clock.now();
        let (ready, later): (Vec<Queued>, Vec<Queued>) = waiting.into_iter().partition(|q| q.not_before <= now);
        waiting = later;
        // A slot first, then send times: what is reserved leaves at once.
        let Ok(permit) = gate.acquire().await else {
            return;
        };
        let mut freed = inner.pacer.subscribe();
        let (send, reservations, held, wait) = take_ready(&inner.pacer, ready, |q| (q.request.method.as_str(), q.info.resource_path()));
        waiting.extend(held);
        if send.is_empty() {
            drop(permit);
            match wait {
                Some(Wait::For(wait)) => inner.sleeper.sleep(wait).await,
                // The pacer's sender lives as long as the client.
                Some(Wait::Answer) => drop(freed.changed().await),
                None => {}
            }
            continue;
        }
        let body = json!({ "requests": send.iter().enumerate().map(|(i, q)| item_json(i, q)).collect::<Vec<_>>() });
        // Resending the whole call is harmless only without a POST in it.
        let safe = send.iter().all(|q| q.request.method != Method::POST || q.request.retry_unsafe);
        inner.counters.batches.fetch_add(1, Ordering::Relaxed);
        inner.counters.batch_subrequests.fetch_add(send.len() as u64, Ordering::Relaxed);
        let info = RequestInfo::new("POST", &batch_url);
        let answer = api.run(&Method::POST, batch_url.clone(), Some(&body), &[], safe).await.and_then(|raw| into_response(info.clone(), raw));
        // Answered (or failed): the items' places are freed from now.
        drop(reservations);
        drop(permit);
        let mut responses = match answer.map(|r| r.body.unwrap_or(Value::Null)) {
            Ok(mut b) => match b.get_mut("responses").map(Value::take) {
                Some(Value::Array(responses)) => responses,
                _ => {
                    let e = GraphError::UnexpectedResponse { request: info, reason: "$batch response has no `responses` array".to_owned() };
                    send.into_iter().for_each(|q| {
                        let err = item_error(&q, &e);
                        let _ = q.reply.send(Err(err));
                    });
                    continue;
                }
            },
            Err(e) => {
                send.into_iter().for_each(|mut q| {
                    q.attempts += 1;
                    let err = item_error(&q, &e);
                    let _ = q.reply.send(Err(err));
                });
                continue;
            }
        };
        let mut by_id: BTreeMap<usize, Value> = BTreeMap::new();
        for r in responses.iter_mut() {
            if let Some(i) = r.get("id").and_then(Value::as_str).and_then(|s| s.parse::<usize>().ok()) {
                by_id.entry(i).or_insert_with(|| r.take());
            }
        }
        let now = inner.clock.now();
        let elapsed = now.duration_since(started).unwrap_or_default();
        for (i, mut q) in send.into_iter().enumerate() {
            q.attempts += 1;
            let post = q.request.method == Method::POST && !q.request.retry_unsafe;
            let Some(item) = by_id.remove(&i) else {
                // Unanswered: it may not have run; a POST is ambiguous.
                if !post && q.attempts < policy.max_attempts {
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    q.not_before = now + policy.backoff(q.attempts);
                    waiting.push(q);
                } else {
                    let err = GraphError::Transient { request: q.info.clone(), last_status: None, attempts: q.attempts, detail: None };
                    let _ = q.reply.send(Err(err));
                }
                continue;
            };
            let status = item.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
            let headers: Vec<(String, String)> = item
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| h.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_owned()))).collect())
                .unwrap_or_default();
            let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let request_id = header("request-id");
            let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, now));
            let body = item.get("body").cloned().filter(|b| !b.is_null());
            tracing::debug!(method = %q.request.method, path = %q.info.path, status, attempt = q.attempts, "batched write answered");
            let retry = match classify_status(status) {
                StatusClass::Success => {
                    let _ = q.reply.send(Ok(GraphResponse { status, body, request_id, headers }));
                    continue;
                }
                StatusClass::Throttled => {
                    inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    true
                }
                StatusClass::ServerError => !post,
                StatusClass::Fatal => false,
            };
            let delay = retry_after.unwrap_or_else(|| policy.backoff(q.attempts));
            if retry && q.attempts < policy.max_attempts && delay <= policy.max_retry_after && elapsed + delay <= policy.max_total {
                inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                q.not_before = now + delay;
                waiting.push(q);
            } else {
                let err = error_from_response(q.info.clone(), status, body.as_ref(), request_id, q.attempts, retry_after);
                let _ = q.reply.send(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::pacing::{PacingConfig, Rate};
    use crate::graph::retry::{Clock, ManualClock, SleepFuture, Sleeper};

    /// A sleeper that moves a manual clock instead of sleeping.
    #[derive(Debug)]
    struct Advance(Arc<ManualClock>);
    impl Sleeper for Advance {
        fn sleep(&self, duration: Duration) -> SleepFuture {
            self.0.advance(duration);
            Box::pin(async {})
        }
    }

    /// A long mixed stream of writes (Intune and directory, with Intune
    /// reads between) goes out in batches formed by [`take_ready`], each
    /// batch at the fake clock's time when it is formed. No window of any
    /// limit ever holds more than its count, batches carry up to 20, and
    /// the binding limit (Intune writes) is used at 90% or more.
    #[tokio::test]
    async fn paced_batches_never_put_more_than_the_limit_into_any_window() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let cfg = PacingConfig {
            intune_writes: Some(Rate { count: 100, per: Duration::from_secs(20) }),
            intune_requests: Some(Rate { count: 1000, per: Duration::from_secs(20) }),
            directory_writes: Some(Rate { count: 3000, per: Duration::from_secs(150) }),
            margin: Duration::from_millis(250),
        };
        let pacer = Pacer::new(&cfg, clock.clone());
        let sleeper = Advance(clock.clone());
        let kinds = [("POST", "/deviceManagement/deviceConfigurations"), ("POST", "/users"), ("GET", "/deviceManagement/deviceConfigurations"), ("PATCH", "/deviceManagement/deviceCompliancePolicies/x"), ("POST", "/groups/x/members/$ref")];
        let mut queue: Vec<(&str, &str)> = (0..9_000u64).map(|i| kinds[((i * 7919) % 11 % 5) as usize]).collect();
        let mut sent: Vec<(SystemTime, &str, &str)> = Vec::new();
        let mut batches = 0;
        while !queue.is_empty() {
            let n = queue.len().min(MAX_BATCH);
            let ready: Vec<(&str, &str)> = queue.drain(..n).collect();
            // Each batch is answered at once (time in transit is
            // `pacing`'s test): its reservations are dropped here.
            let (send, _answered, held, wait) = take_ready(&pacer, ready, |(m, p)| (*m, *p));
            if send.is_empty() {
                // Nothing may leave yet: wait for the first item's time.
                let Some(Wait::For(wait)) = wait else { panic!("nothing is in flight, so a time is known: {wait:?}") };
                sleeper.sleep(wait).await;
                let rest = std::mem::take(&mut queue);
                queue = held;
                queue.extend(rest);
                continue;
            }
            let at = clock.now();
            sent.extend(send.iter().map(|(m, p)| (at, *m, *p)));
            batches += 1;
            // Held items go first in the next batch.
            let rest = std::mem::take(&mut queue);
            queue = held;
            queue.extend(rest);
            // Callers and the network take a little time between batches.
            clock.advance(Duration::from_millis(((batches * 31) % 7) as u64 * 20));
        }
        assert_eq!(sent.len(), 9_000);
        let check = |name: &str, count: usize, per: Duration, f: &dyn Fn(&str, &str) -> bool| {
            let times: Vec<SystemTime> = sent.iter().filter(|(_, m, p)| f(m, p)).map(|(t, _, _)| *t).collect();
            assert!(times.len() > count, "{name}: the stream must exceed one window");
            for w in times.windows(count + 1) {
                let span = w[count].duration_since(w[0]).unwrap_or_default();
                assert!(span >= per, "{name}: {} within {span:?}", count + 1);
            }
            times
        };
        let intune = |p: &str| p.starts_with("/deviceManagement");
        let writes = check("Intune writes", 100, Duration::from_secs(20), &|m, p| m != "GET" && intune(p));
        check("Intune requests", 1000, Duration::from_secs(20), &|_, p| intune(p));
        check("directory writes", 3000, Duration::from_secs(150), &|m, p| m != "GET" && !intune(p));
        // The binding limit is used: after the first window, at least 90% of 100 per 20 s.
        let span = writes[writes.len() - 1].duration_since(writes[0]).unwrap_or_default().as_secs_f64();
        let rate = (writes.len() - 100) as f64 / span;
        assert!((0.9 * 5.0..=5.0).contains(&rate), "Intune writes at {rate:.2}/s against 5/s");
        assert!(batches < 9_000 / 5, "items went in batches ({batches} batches)");
    }
}
