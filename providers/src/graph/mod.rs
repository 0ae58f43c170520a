//! Microsoft Graph client: the I/O layer under every per-kind provider.
//!
//! This module is the "preparation" and "execution" edge of the pipeline:
//! providers read live state through it and apply plan steps through it; it
//! never decides what to change. It owns authentication ([`auth`]), cloud
//! endpoints ([`cloud`]), retries and time ([`retry`]), pacing under Graph's
//! service limits ([`pacing`]), paging, `$batch` ([`batch`]), delta queries
//! ([`delta`]) and typed errors ([`error`]).
//!
//! One [`GraphClient`] is built per run and cloned freely (an `Arc` inside);
//! [`GraphClient::v1`] and [`GraphClient::beta`] return views on the same
//! connection pool, token cache, semaphore, pacer and counters.

pub mod arc;
pub mod auth;
pub mod batch;
pub mod cloud;
pub mod credential_chain;
pub mod delta;
pub mod error;
pub mod pacing;
mod paging;
mod prefetch;
pub mod retry;
pub mod secret;
pub mod write_batch;
pub mod redact;
pub mod coalesce;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

pub use self::auth::{AssertionAlgorithm, AuthError, ClientCertificate, Credential};
pub use self::batch::{BatchRequest, BatchResponse};
pub use self::cloud::Cloud;
pub use self::credential_chain::CredentialKind;
pub use self::delta::{DeltaPage, RemovedItem};
pub use self::error::{ApiErrorBody, ConfigError, ErrorDetail, GraphError, RequestInfo};
pub use self::pacing::{PacingConfig, Rate};
pub use self::retry::{Clock, ManualClock, RecordingSleeper, RetryPolicy, Sleeper, SystemClock, TokioSleeper};
pub use self::secret::Secret;
pub use reqwest::Method;

use self::auth::TokenProvider;
use self::error::{classify_status, error_from_response, StatusClass};
use self::pacing::Pacer;

/// The Graph API version a request path is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// `v1.0`: the supported surface.
    #[default]
    V1,
    /// `beta`: needed for Autopilot profiles, the settings catalog and more
    /// Intune properties.
    Beta,
}

impl ApiVersion {
    /// The URL segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// Everything configurable about a [`GraphClient`].
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Where tokens and Graph live.
    pub cloud: Cloud,
    /// Retry bounds, backoff, timeouts and replication-lag waits.
    pub retry: RetryPolicy,
    /// Requests in flight at once across all clones of the client.
    pub max_concurrency: usize,
    /// Client-side pacing under documented service limits.
    pub pacing: PacingConfig,
    /// Tokens are refreshed this long before they expire.
    pub token_refresh_margin: Duration,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// Every wait goes through this (tests record instead of sleeping).
    pub sleeper: Arc<dyn Sleeper>,
    /// Wall-clock source for token expiry, assertions and pacing.
    pub clock: Arc<dyn Clock>,
}

impl GraphConfig {
    /// Defaults for a cloud: 6 attempts, 8 concurrent requests, documented
    /// pacing, refresh 5 minutes early, real time.
    pub fn new(cloud: Cloud) -> Self {
        Self {
            cloud,
            retry: RetryPolicy::default(),
            max_concurrency: 8,
            pacing: PacingConfig::default(),
            token_refresh_margin: Duration::from_secs(300),
            user_agent: concat!("tenantctl/", env!("CARGO_PKG_VERSION")).to_owned(),
            sleeper: Arc::new(TokioSleeper),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A snapshot of the client's counters, for metrics and run summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphStats {
    /// HTTP requests sent to Graph (each attempt counts; token requests do not).
    pub requests: u64,
    /// `requests` by method (`GET`, `POST`, ...).
    pub by_method: BTreeMap<String, u64>,
    /// Throttled responses seen (429/503, including inside batches).
    pub throttled: u64,
    /// Retries made (HTTP attempts and re-batched sub-requests).
    pub retries: u64,
    /// `$batch` requests sent.
    pub batches: u64,
    /// Sub-requests sent inside batches.
    pub batch_subrequests: u64,
    /// Token endpoint requests.
    pub token_requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    by_method: std::sync::Mutex<BTreeMap<String, u64>>,
    throttled: AtomicU64,
    retries: AtomicU64,
    batches: AtomicU64,
    batch_subrequests: AtomicU64,
}

impl Counters {
    fn sent(&self, method: &Method) {
        let mut map = self.by_method.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry(method.as_str().to_owned()).or_insert(0) += 1;
    }
}

/// A successful (2xx) Graph response.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body; `None` for empty bodies (204).
    pub body: Option<Value>,
    /// Graph's `request-id` header, for support cases.
    pub request_id: Option<String>,
    /// Response headers, names lower-cased (e.g. `location`, `etag`).
    pub headers: Vec<(String, String)>,
}

impl GraphResponse {
    /// A response header by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// One call, with everything [`GraphClient::execute`] needs.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    /// HTTP method.
    pub method: Method,
    /// Path relative to the API version (`/users?$select=id`), or an
    /// absolute URL on the Graph base (a nextLink).
    pub path: String,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers (e.g. `ConsistencyLevel: eventual`, `Prefer`).
    pub headers: Vec<(String, String)>,
    /// Allow retrying a POST after a failure where it may have reached the
    /// server. Set it when the caller de-duplicates (natural-key lookup
    /// before create), never otherwise.
    pub retry_unsafe: bool,
}

impl GraphRequest {
    /// A request without body or headers.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), body: None, headers: Vec::new(), retry_unsafe: false }
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Marks a non-idempotent request as safe to retry after an ambiguous failure.
    pub fn safe_to_retry(mut self, safe: bool) -> Self {
        self.retry_unsafe = safe;
        self
    }
}

struct Inner {
    http: reqwest::Client,
    cloud: Cloud,
    base: Url,
    auth: TokenProvider,
    retry: RetryPolicy,
    semaphore: tokio::sync::Semaphore,
    pacer: Pacer,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    counters: Counters,
}

/// The Graph client. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
    version: ApiVersion,
    /// First pages fetched ahead through `$batch` ([`prefetch`]).
    prefetched: Option<Arc<prefetch::Prefetched>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("cloud", &self.inner.cloud)
            .field("version", &self.version)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

struct RawResponse {
    status: u16,
    body: Option<Value>,
    decode_error: Option<serde_json::Error>,
    request_id: Option<String>,
    headers: Vec<(String, String)>,
}

impl GraphClient {
    /// Builds a client (v1.0 view). Fails only on unusable configuration.
    pub fn new(config: GraphConfig, credential: Credential) -> Result<Self, GraphError> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .use_rustls_tls()
            .build()
            .map_err(|e| GraphError::Config(ConfigError::HttpClient(e)))?;
        let base_text = config.cloud.graph_base();
        let base = Url::parse(&format!("{base_text}/")).map_err(|_| ConfigError::InvalidUrl(base_text.clone()))?;
        let auth = TokenProvider::new(
            http.clone(),
            config.cloud.clone(),
            credential,
            config.clock.clone(),
            config.token_refresh_margin,
        );
        let mut retry = config.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        let inner = Inner {
            http,
            cloud: config.cloud,
            base,
            auth,
            retry,
            semaphore: tokio::sync::Semaphore::new(config.max_concurrency.max(1)),
            pacer: Pacer::new(&config.pacing, config.clock.clone()),
            sleeper: config.sleeper,
            clock: config.clock,
            counters: Counters::default(),
        };
        Ok(Self { inner: Arc::new(inner), version: ApiVersion::V1, prefetched: None })
    }

    /// A view whose paths are relative to `v1.0`.
    pub fn v1(&self) -> Self {
        self.with_version(ApiVersion::V1)
    }

    /// A view whose paths are relative to `beta`.
    pub fn beta(&self) -> Self {
        self.with_version(ApiVersion::Beta)
    }

    /// A view on another API version.
    pub fn with_version(&self, version: ApiVersion) -> Self {
        Self { inner: Arc::clone(&self.inner), version, prefetched: self.prefetched.clone() }
    }

    /// The API version of this view.
    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// The cloud this client talks to.
    pub fn cloud(&self) -> &Cloud {
        &self.inner.cloud
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> GraphStats {
        let c = &self.inner.counters;
        let by_method = c.by_method.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        GraphStats {
            requests: by_method.values().sum(),
            by_method,
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            batch_subrequests: c.batch_subrequests.load(Ordering::Relaxed),
            token_requests: self.inner.auth.token_requests(),
        }
    }

    /// GETs a path and returns its JSON body (`Value::Null` for an empty body).
    pub async fn get_json(&self, path: &str) -> Result<Value, GraphError> {
        // A singleton read may have come ahead in the listings' `$batch`
        // (prefetch.rs), once.
        if self.prefetched.is_some() {
            if let Some(body) = self.url_for(path).ok().and_then(|url| self.take_prefetched(&url)) {
                return body;
            }
        }
        let response = self.execute(GraphRequest::new(Method::GET, path)).await?;
        Ok(response.body.unwrap_or(Value::Null))
    }

    /// POSTs JSON (not retried after ambiguous failures; see [`GraphRequest::safe_to_retry`]).
    pub async fn post_json(&self, path: &str, body: Value) -> Result<GraphResponse, GraphError> {
        self.execute(GraphRequest::new(Method::POST, path).json(body)).await
    }

    /// PATCHes JSON. PATCH sets properties to given values, so repeating it
    /// is harmless and it is retried like a read.
    pub async fn patch_json(&self, path: &str, body: Value) -> Result<GraphResponse, GraphError> {
        self.execute(GraphRequest::new(Method::PATCH, path).json(body)).await
    }

    /// DELETEs a path.
    pub async fn delete(&self, path: &str) -> Result<GraphResponse, GraphError> {
        self.execute(GraphRequest::new(Method::DELETE, path)).await
    }

    /// Sends one request; non-2xx results become [`GraphError`]s.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<GraphResponse, GraphError> {
        let mut request = GraphRequest::new(method, path);
        request.body = body;
        request.headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.execute(request).await
    }

    /// Sends a fully described request with retries, pacing and auth.
    pub async fn execute(&self, request: GraphRequest) -> Result<GraphResponse, GraphError> {
        let url = self.url_for(&request.path)?;
        let info = RequestInfo::new(request.method.as_str(), &url);
        let raw = self.run(&request.method, url, request.body.as_ref(), &request.headers, request.retry_unsafe).await?;
        into_response(info, raw)
    }

    /// Reads a just-created object, retrying 404s with the policy's
    /// replication delays (1, 2, 4, 8, 16 s by default): Entra replicates
    /// writes asynchronously, so a fresh id can 404 for a while.
    pub async fn wait_until_readable(&self, path: &str) -> Result<Value, GraphError> {
        let delays = self.inner.retry.replication_delays.clone();
        let mut delays = delays.into_iter();
        loop {
            match self.get_json(path).await {
                Err(e) if e.is_not_found() => match delays.next() {
                    Some(delay) => {
                        tracing::debug!(path, delay_ms = delay.as_millis() as u64, "not readable yet; waiting for replication");
                        self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                        self.inner.sleeper.sleep(delay).await;
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }

    /// Lists `path` until `found` holds for what it lists, retrying an empty
    /// or incomplete listing (and a 404) with the replication delays: an
    /// object Entra makes for a new one (the PIM policy of a new custom
    /// role) can be missing from a listing for a while. After the last
    /// delay, what was listed is returned (the caller says what is missing).
    pub async fn wait_until_listed(&self, path: &str, found: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>, GraphError> {
        let mut delays = self.inner.retry.replication_delays.clone().into_iter();
        loop {
            let listed = match self.list_all(path).await {
                Ok(items) if found(&items) => return Ok(items),
                Err(e) if !e.is_not_found() => return Err(e),
                other => other,
            };
            let Some(delay) = delays.next() else { return listed };
            tracing::debug!(path, delay_ms = delay.as_millis() as u64, "not listed yet; waiting for replication");
            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            self.inner.sleeper.sleep(delay).await;
        }
    }

    /// Resolves a path (relative to this view's version) or an absolute URL
    /// on the Graph base. Absolute URLs elsewhere are refused so the bearer
    /// token never leaves the Graph origin.
    fn url_for(&self, path: &str) -> Result<Url, GraphError> {
        let path = path.trim();
        if path.starts_with("http://") || path.starts_with("https://") {
            let url = Url::parse(path).map_err(|_| ConfigError::InvalidPath(redact_for_error(path)))?;
            let base = &self.inner.base;
            let same_origin = url.scheme() == base.scheme()
                && url.host_str() == base.host_str()
                && url.port_or_known_default() == base.port_or_known_default()
                && url.path().starts_with(base.path());
            if !same_origin {
                return Err(ConfigError::ForeignLink(format!(
                    "{}://{}",
                    url.scheme(),
                    url.host_str().unwrap_or_default()
                ))
                .into());
            }
            return Ok(url);
        }
        let sep = if path.starts_with('/') { "" } else { "/" };
        let text = format!("{}{}{sep}{path}", self.inner.base, self.version.as_str());
        Url::parse(&text).map_err(|_| ConfigError::InvalidPath(redact_for_error(path)).into())
    }

    /// The retry loop shared by every call: pacing, token, semaphore, one
    /// attempt, then classify and wait (or stop) as [`error::classify_status`] says.
    async fn run(
        &self,
        method: &Method,
        url: Url,
        body: Option<&Value>,
        headers: &[(String, String)],
        retry_unsafe: bool,
    ) -> Result<RawResponse, GraphError> {
        self.run_paced(method, url, body, headers, retry_unsafe, None).await
    }

    /// [`GraphClient::run`], paced for `items` (a `$batch` call's
    /// sub-requests, `(method, resource path)`) instead of the request itself.
    async fn run_paced(
        &self,
        method: &Method,
        url: Url,
        body: Option<&Value>,
        headers: &[(String, String)],
        retry_unsafe: bool,
        items: Option<&[(&str, &str)]>,
    ) -> Result<RawResponse, GraphError> {
        let inner = &self.inner;
        let policy = &inner.retry;
        let info = RequestInfo::new(method.as_str(), &url);
        // POST is the one verb Graph uses for non-idempotent creates/actions.
        let idempotent = retry_unsafe || *method != Method::POST;
        let header_map = build_headers(headers)?;
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let (delay, final_error) = match inner.auth.token().await {
                Err(source) if source.is_transient() && attempt < policy.max_attempts => {
                    (policy.backoff(attempt), GraphError::Auth { request: info.clone(), source: Box::new(source) })
                }
                Err(source) => return Err(GraphError::Auth { request: info, source: Box::new(source) }),
                Ok(token) => {
                    // The reservation holds the request's place in its
                    // service limits until the response has come back.
                    let (permit, reservation) = match items {
                        None => pacing::paced_slot(&inner.pacer, &inner.semaphore, inner.sleeper.as_ref(), method.as_str(), &info).await,
                        Some(items) => pacing::paced_slot_for(&inner.pacer, &inner.semaphore, inner.sleeper.as_ref(), items, &info.path).await,
                    };
                    inner.counters.sent(method);
                    let sent_at = Instant::now();
                    let outcome = self.send_once(method, &url, body, &header_map, &token).await;
                    drop(reservation);
                    drop(permit);
                    let elapsed_ms = sent_at.elapsed().as_millis() as u64;
                    match outcome {
                        Ok(raw) => {
                            tracing::debug!(method = %method, path = %info.path, status = raw.status, request_id = raw.request_id.as_deref().unwrap_or(""), duration_ms = elapsed_ms, attempt, "graph request");
                            match classify_status(raw.status) {
                                StatusClass::Success => return Ok(raw),
                                StatusClass::Throttled => {
                                    inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                                    let retry_after = header_value(&raw.headers, "retry-after")
                                        .and_then(|v| retry::parse_retry_after(v, inner.clock.now()));
                                    let err = error_from_response(info.clone(), raw.status, raw.body.as_ref(), raw.request_id.clone(), attempt, retry_after);
                                    if retry_after.is_some_and(|ra| ra > policy.max_retry_after) {
                                        return Err(err);
                                    }
                                    (retry_after.unwrap_or_else(|| policy.backoff(attempt)), err)
                                }
                                StatusClass::ServerError => {
                                    let err = error_from_response(info.clone(), raw.status, raw.body.as_ref(), raw.request_id.clone(), attempt, None);
                                    if !idempotent {
                                        return Err(err);
                                    }
                                    (policy.backoff(attempt), err)
                                }
                                StatusClass::Fatal => {
                                    let err = error_from_response(info.clone(), raw.status, raw.body.as_ref(), raw.request_id.clone(), attempt, None);
                                    if raw.status == 401 && !refreshed && inner.auth.can_refresh() {
                                        // A revoked or clock-skewed token: get a new one once.
                                        refreshed = true;
                                        inner.auth.invalidate(&token).await;
                                        (Duration::ZERO, err)
                                    } else {
                                        return Err(err);
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!(method = %method, path = %info.path, duration_ms = elapsed_ms, attempt, connect = e.is_connect(), timeout = e.is_timeout(), "graph request failed without a response");
                            // A connect error means nothing reached the server;
                            // anything later (reset, timeout) may have been processed.
                            let maybe_processed = !e.is_connect();
                            let err = GraphError::Network { request: info.clone(), attempts: attempt, source: e.without_url() };
                            if maybe_processed && !idempotent {
                                return Err(err);
                            }
                            (policy.backoff(attempt), err)
                        }
                    }
                }
            };
            if attempt >= policy.max_attempts || started.elapsed().saturating_add(waited).saturating_add(delay) > policy.max_total {
                return Err(final_error);
            }
            inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            if !delay.is_zero() {
                inner.sleeper.sleep(delay).await;
                waited = waited.saturating_add(delay);
            }
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        headers: &reqwest::header::HeaderMap,
        token: &Secret,
    ) -> Result<RawResponse, reqwest::Error> {
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Bearer invalid"));
        auth.set_sensitive(true);
        let mut builder = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(self.inner.retry.request_timeout)
            .headers(headers.clone())
            .header(reqwest::header::AUTHORIZATION, auth);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned())))
            .collect();
        let request_id = header_value(&headers, "request-id").map(str::to_owned);
        let bytes = response.bytes().await?;
        let (body, decode_error) = if bytes.iter().all(u8::is_ascii_whitespace) {
            (None, None)
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e)),
            }
        };
        Ok(RawResponse { status, body, decode_error, request_id, headers })
    }
}

fn into_response(info: RequestInfo, raw: RawResponse) -> Result<GraphResponse, GraphError> {
    if let Some(source) = raw.decode_error {
        return Err(GraphError::Decode { request: info, source });
    }
    Ok(GraphResponse { status: raw.status, body: raw.body, request_id: raw.request_id, headers: raw.headers })
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn build_headers(headers: &[(String, String)]) -> Result<reqwest::header::HeaderMap, GraphError> {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let bad = || GraphError::Config(ConfigError::InvalidHeader(name.clone()));
        let n = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let v = reqwest::header::HeaderValue::from_str(value).map_err(|_| bad())?;
        map.insert(n, v);
    }
    Ok(map)
}

/// Keeps the path of an unusable input for an error message, without its query.
fn redact_for_error(path: &str) -> String {
    match path.split_once('?') {
        Some((p, _)) => format!("{p}?…"),
        None => path.to_owned(),
    }
}
