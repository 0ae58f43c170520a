//! JSON batching: many small requests in `POST /$batch` calls of at most 20.
//!
//! Graph throttles each sub-request on its own, so a 200 batch response can
//! hold 429s inside. Those (and 503/5xx for idempotent sub-requests, and 424
//! for a failed dependency) are sent again, each once its own `Retry-After`
//! has passed, re-batched with the other retries. Batches are sent
//! concurrently up to the client's concurrency limit; responses come back
//! out of order and this module returns them in request order. `dependsOn`
//! is not used: every sub-request stands alone.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::error::{classify_status, error_from_response, GraphError, RequestInfo, StatusClass};
use super::retry::parse_retry_after;
use super::{into_response, GraphClient, Method};

/// Graph's limit of sub-requests per batch.
pub const MAX_BATCH: usize = 20;

/// One sub-request.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// HTTP method.
    pub method: Method,
    /// URL relative to the API version, e.g. `/users/{id}?$select=id`.
    pub url: String,
    /// Headers for this sub-request.
    pub headers: BTreeMap<String, String>,
    /// JSON body; `Content-Type: application/json` is added when present.
    pub body: Option<Value>,
}

impl BatchRequest {
    /// A sub-request without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self { method, url: url.into(), headers: BTreeMap::new(), body: None }
    }

    /// A GET.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    pub(crate) fn url_path(&self) -> String {
        let url = self.url.trim();
        if url.starts_with('/') {
            url.to_owned()
        } else {
            format!("/{url}")
        }
    }

    fn to_json(&self, id: &str) -> Value {
        let mut obj = Map::new();
        obj.insert("id".to_owned(), json!(id));
        obj.insert("method".to_owned(), json!(self.method.as_str()));
        obj.insert("url".to_owned(), json!(self.url_path()));
        let mut headers: Map<String, Value> = self.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        if let Some(body) = &self.body {
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
}

/// One sub-response, in the position of its request.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    /// The sub-request it answers (method + path), for error context.
    pub request: RequestInfo,
    /// HTTP status of the sub-request.
    pub status: u16,
    /// Its headers.
    pub headers: BTreeMap<String, String>,
    /// Its body.
    pub body: Option<Value>,
    /// How many times the sub-request was sent (retries included).
    pub attempts: u32,
}

impl BatchResponse {
    /// 2xx?
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body for a 2xx, or the same typed error a single request would give.
    pub fn into_result(self) -> Result<Option<Value>, GraphError> {
        if self.is_success() {
            return Ok(self.body);
        }
        let request_id = self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("request-id")).map(|(_, v)| v.clone());
        let retry_after = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| parse_retry_after(v, std::time::SystemTime::now()));
        Err(error_from_response(self.request, self.status, self.body.as_ref(), request_id, self.attempts.max(1), retry_after))
    }
}

/// What one `$batch` call made of some pending items.
struct Chunk {
    /// Indexes of the requests it carried.
    items: Vec<usize>,
    /// The raw `responses` array.
    responses: Vec<Value>,
}

impl GraphClient {
    /// Sends `requests` through `$batch`, 20 per call, with as many calls in
    /// flight as the client's concurrency allows, and returns one response
    /// per request in the same order.
    ///
    /// Each sub-request is retried on its own: one answered 429/503 (any
    /// method), 500/502/504 (non-POST) or 424 (a dependency failed) is
    /// re-batched with the other retries once its own `Retry-After` (or
    /// backoff) has passed, up to the retry policy's attempts, longest
    /// `Retry-After` and total budget; after that its last response is
    /// returned as is, with the attempts it took (see
    /// [`BatchResponse::into_result`]).
    ///
    /// Errors only when a whole `$batch` call fails or the service leaves a
    /// sub-request unanswered.
    ///
    /// Inside [`super::coalesce::join_all`] the call is held and sent with
    /// the other readers' calls of the same dependency level; a GET whose
    /// answer came ahead in the listings' `$batch` (a prefetched view) is
    /// answered from it.
    pub async fn batch(&self, requests: Vec<BatchRequest>) -> Result<Vec<BatchResponse>, GraphError> {
        if let Some(done) = self.batch_coalesced(&requests).await {
            return done;
        }
        self.batch_now(requests).await
    }

    /// [`GraphClient::batch`], sent now.
    pub(crate) async fn batch_now(&self, requests: Vec<BatchRequest>) -> Result<Vec<BatchResponse>, GraphError> {
        let policy = self.inner.retry.clone();
        let batch_url = self.url_for("/$batch")?;
        let infos: Vec<RequestInfo> = requests
            .iter()
            .map(|r| {
                self.url_for(&r.url_path()).map(|u| RequestInfo::new(r.method.as_str(), &u))
            })
            .collect::<Result<_, _>>()?;
        let mut results: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        let mut attempts: Vec<u32> = vec![0; requests.len()];
        // Items still to send, each with the time (on the waits' own
        // timeline) before which it must not be sent again.
        let mut pending: Vec<(Duration, usize)> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            match self.take_prefetched_item(r) {
                Some(answered) => results[i] = Some(answered),
                None => pending.push((Duration::ZERO, i)),
            }
        }
        let mut waited = Duration::ZERO;
        while !pending.is_empty() {
            let due = pending.iter().map(|(t, _)| *t).min().unwrap_or(waited);
            if due > waited {
                if due > policy.max_total {
                    break;
                }
                self.inner.sleeper.sleep(due - waited).await;
                waited = due;
            }
            let (ready, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(t, _)| *t <= waited);
            pending = later;
            let mut ready: Vec<usize> = ready.into_iter().map(|(_, i)| i).collect();
            ready.sort_unstable();
            let calls = ready.chunks(MAX_BATCH).map(|chunk| self.send_chunk(&requests, &infos, &batch_url, chunk));
            let chunks = futures::future::try_join_all(calls).await?;
            for chunk in chunks {
                let mut answered = std::collections::HashSet::new();
                for item in &chunk.responses {
                    let id = item.get("id").and_then(Value::as_str).and_then(|s| s.parse::<usize>().ok());
                    let Some(i) = id.filter(|i| chunk.items.contains(i) && !answered.contains(i)) else {
                        let request = RequestInfo::new("POST", &batch_url);
                        return Err(GraphError::UnexpectedResponse { request, reason: "$batch response has an unknown or repeated id".to_owned() });
                    };
                    answered.insert(i);
                    attempts[i] += 1;
                    let status = item.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
                    let headers: BTreeMap<String, String> = item
                        .get("headers")
                        .and_then(Value::as_object)
                        .map(|h| h.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
                        .unwrap_or_default();
                    let sub_body = item.get("body").cloned().filter(|b| !b.is_null());
                    tracing::debug!(method = %requests[i].method, path = %infos[i].path, status, attempt = attempts[i], "batch sub-response");
                    let retryable = match classify_status(status) {
                        StatusClass::Throttled => {
                            self.inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        StatusClass::ServerError => requests[i].method != Method::POST,
                        // Failed dependency: the item itself was never run.
                        _ => status == 424,
                    };
                    if retryable {
                        let retry_after = headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                            .and_then(|(_, v)| parse_retry_after(v, self.inner.clock.now()));
                        // A 424 item was never run: it goes again with the next batch.
                        let delay = match retry_after {
                            Some(d) => d,
                            None if status == 424 => Duration::ZERO,
                            None => policy.backoff(attempts[i]),
                        };
                        if attempts[i] < policy.max_attempts && delay <= policy.max_retry_after && waited + delay <= policy.max_total {
                            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                            pending.push((waited + delay, i));
                        }
                    }
                    results[i] = Some(BatchResponse { request: infos[i].clone(), status, headers, body: sub_body, attempts: attempts[i] });
                }
                for &i in &chunk.items {
                    if !answered.contains(&i) {
                        attempts[i] += 1;
                        if attempts[i] < policy.max_attempts {
                            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                            pending.push((waited + policy.backoff(attempts[i]), i));
                        }
                    }
                }
            }
            if !pending.is_empty() {
                tracing::debug!(count = pending.len(), "re-batching throttled or failed sub-requests");
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.ok_or_else(|| GraphError::UnexpectedResponse {
                    request: infos[i].clone(),
                    reason: "no response for this sub-request in $batch".to_owned(),
                })
            })
            .collect()
    }

    /// One `$batch` call carrying the requests at `chunk` (at most 20),
    /// paced like the single requests they stand for: one send time for
    /// all of them, reserved before the call takes a concurrency slot, their
    /// places held until the call is answered (`pacing::paced_slot_for`).
    async fn send_chunk(&self, requests: &[BatchRequest], infos: &[RequestInfo], batch_url: &url::Url, chunk: &[usize]) -> Result<Chunk, GraphError> {
        let items: Vec<(&str, &str)> = chunk.iter().map(|&i| (requests[i].method.as_str(), infos[i].resource_path())).collect();
        let body = json!({ "requests": chunk.iter().map(|&i| requests[i].to_json(&i.to_string())).collect::<Vec<_>>() });
        // Resending the whole batch is only harmless when no sub-request is a POST.
        let safe = chunk.iter().all(|&i| requests[i].method != Method::POST);
        self.inner.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.inner.counters.batch_subrequests.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let info = RequestInfo::new("POST", batch_url);
        let raw = self.run_paced(&Method::POST, batch_url.clone(), Some(&body), &[], safe, Some(&items)).await?;
        let mut response = into_response(info.clone(), raw)?.body.unwrap_or(Value::Null);
        let Some(Value::Array(responses)) = response.get_mut("responses").map(Value::take) else {
            return Err(GraphError::UnexpectedResponse { request: info, reason: "$batch response has no `responses` array".to_owned() });
        };
        Ok(Chunk { items: chunk.to_vec(), responses })
    }
}
