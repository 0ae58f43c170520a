//! JSON batching: many small requests in `POST /$batch` calls of at most 20.
//!
//! Graph throttles each sub-request on its own, so a 200 batch response can
//! hold 429s inside. Those (and 503/5xx for idempotent sub-requests) are
//! sent again in a later batch after the longest `Retry-After` among them.
//! Responses come back out of order; this module returns them in request
//! order. `dependsOn` is not used: every sub-request stands alone.

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

    fn url_path(&self) -> String {
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
        Err(error_from_response(self.request, self.status, self.body.as_ref(), request_id, 1, retry_after))
    }
}

impl GraphClient {
    /// Sends `requests` through `$batch`, 20 per call, and returns one
    /// response per request in the same order. Sub-requests answered with
    /// 429/503 (any method) or 500/502/504 (non-POST) are retried in later
    /// batches within the retry policy; after that their last response is
    /// returned as is (see [`BatchResponse::into_result`]).
    ///
    /// Errors only when a whole `$batch` call fails or the service leaves a
    /// sub-request unanswered.
    pub async fn batch(&self, requests: Vec<BatchRequest>) -> Result<Vec<BatchResponse>, GraphError> {
        let policy = self.inner.retry.clone();
        let batch_url = self.url_for("/$batch")?;
        let infos: Vec<RequestInfo> = requests
            .iter()
            .map(|r| {
                self.url_for(&r.url_path()).map(|u| RequestInfo::new(r.method.as_str(), &u))
            })
            .collect::<Result<_, _>>()?;
        let mut results: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut round: u32 = 0;
        while !pending.is_empty() {
            round += 1;
            let mut again = Vec::new();
            let mut wait = Duration::ZERO;
            for chunk in pending.chunks(MAX_BATCH) {
                for &i in chunk {
                    let pace = self.inner.pacer.reserve(requests[i].method.as_str(), infos[i].resource_path());
                    if !pace.is_zero() {
                        self.inner.sleeper.sleep(pace).await;
                    }
                }
                let body = json!({ "requests": chunk.iter().map(|&i| requests[i].to_json(&i.to_string())).collect::<Vec<_>>() });
                // Resending the whole batch is only harmless when no sub-request is a POST.
                let safe = chunk.iter().all(|&i| requests[i].method != Method::POST);
                self.inner.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.inner.counters.batch_subrequests.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                let info = RequestInfo::new("POST", &batch_url);
                let raw = self.run(&Method::POST, batch_url.clone(), Some(&body), &[], safe).await?;
                let response = into_response(info.clone(), raw)?.body.unwrap_or(Value::Null);
                let Some(items) = response.get("responses").and_then(Value::as_array) else {
                    return Err(GraphError::UnexpectedResponse { request: info, reason: "$batch response has no `responses` array".to_owned() });
                };
                let mut answered = std::collections::HashSet::new();
                for item in items {
                    let id = item.get("id").and_then(Value::as_str).and_then(|s| s.parse::<usize>().ok());
                    let Some(i) = id.filter(|i| chunk.contains(i)) else {
                        return Err(GraphError::UnexpectedResponse { request: info, reason: "$batch response has an unknown id".to_owned() });
                    };
                    answered.insert(i);
                    let status = item.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
                    let headers: BTreeMap<String, String> = item
                        .get("headers")
                        .and_then(Value::as_object)
                        .map(|h| h.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
                        .unwrap_or_default();
                    let sub_body = item.get("body").cloned().filter(|b| !b.is_null());
                    let class = classify_status(status);
                    let retryable = match class {
                        StatusClass::Throttled => {
                            self.inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        StatusClass::ServerError => requests[i].method != Method::POST,
                        _ => false,
                    };
                    if retryable {
                        let retry_after = headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                            .and_then(|(_, v)| parse_retry_after(v, self.inner.clock.now()));
                        wait = wait.max(retry_after.unwrap_or_else(|| policy.backoff(round)));
                        again.push(i);
                    }
                    tracing::debug!(method = %requests[i].method, path = %infos[i].path, status, "batch sub-response");
                    results[i] = Some(BatchResponse { request: infos[i].clone(), status, headers, body: sub_body });
                }
                for &i in chunk {
                    if !answered.contains(&i) {
                        again.push(i);
                    }
                }
            }
            if again.is_empty() || round >= policy.max_attempts || wait > policy.max_retry_after {
                break;
            }
            self.inner.counters.retries.fetch_add(again.len() as u64, Ordering::Relaxed);
            tracing::debug!(count = again.len(), wait_ms = wait.as_millis() as u64, "re-batching throttled sub-requests");
            if !wait.is_zero() {
                self.inner.sleeper.sleep(wait).await;
            }
            again.sort_unstable();
            pending = again;
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
}
