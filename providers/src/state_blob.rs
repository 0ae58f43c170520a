//! Azure Blob Storage for tenantctl's state, through the Blob REST API.
//!
//! One blob per tenant and kind of state; every write is conditional on
//! the ETag it read (`If-Match`), or on the blob being absent
//! (`If-None-Match: *`), so a write that would overwrite someone else's is
//! refused ([`BlobError::Conflict`]), never lost. The state lock is a
//! 60-second lease on a `lock` blob, renewed while the run lasts, with the
//! holder in the blob's metadata (as Terraform's azurerm backend does);
//! a killed run's lease expires by itself, and `break` ends it at once.
//!
//! Authentication: Shared Key (an account key, as Azurite's well-known
//! development key, from `AZURE_STORAGE_KEY` or
//! `AZURE_STORAGE_CONNECTION_STRING`) or an Entra bearer token for
//! `https://storage.azure.com/.default` from the Graph credential chain.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::graph::auth::TokenProvider;
use crate::state_lock::{Acquired, Holder, LockError, StateLock};

/// The service version the requests speak.
const API_VERSION: &str = "2021-12-02";
/// The lease's length; a run renews it well before it ends.
pub const LEASE_SECONDS: u64 = 60;
/// The metadata key naming the lock's holder (base64 of its JSON).
const HOLDER_KEY: &str = "tenantctlholder";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {blob}: the write was refused because the blob changed since this run read it ({code}); nothing was overwritten. Another run wrote it: run again to start from its state")]
    Conflict { blob: String, code: String },
    #[error("blob {blob}: HTTP {status} {code}: {message}")]
    Status { blob: String, status: u16, code: String, message: String },
    #[error("blob storage at {endpoint}: {reason}")]
    Transport { endpoint: String, reason: String },
    #[error("blob storage credentials: {0}")]
    Auth(String),
    #[error("blob {blob} is larger than {limit} bytes; it was not read")]
    TooLarge { blob: String, limit: u64 },
}

/// How requests are authorized.
pub enum BlobAuth {
    /// Shared Key: the account name and its base64-decoded key.
    SharedKey { account: String, key: Vec<u8> },
    /// An Entra token for Azure Storage.
    Token(Arc<TokenProvider>),
}

impl std::fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobAuth::SharedKey { account, .. } => write!(f, "SharedKey({account}, <key>)"),
            BlobAuth::Token(_) => write!(f, "Token(<provider>)"),
        }
    }
}

/// What a write requires of the blob as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Nothing (used for blobs only this run writes, under its lease).
    None,
    /// The blob still has this ETag.
    IfMatch(String),
    /// The blob does not exist.
    IfAbsent,
}

/// A blob as read.
#[derive(Debug, Clone)]
pub struct Blob {
    pub body: Vec<u8>,
    pub etag: String,
    pub last_modified: Option<DateTime<Utc>>,
    pub metadata: BTreeMap<String, String>,
    /// `leased`, `available`, `expired`, `breaking`, `broken`.
    pub lease_state: Option<String>,
}

/// A container of an account, reached at `endpoint`.
#[derive(Debug)]
pub struct BlobStore {
    http: reqwest::Client,
    /// The account's blob endpoint, without a trailing slash (path style
    /// for Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    endpoint: String,
    container: String,
    auth: BlobAuth,
    /// The largest blob read into memory (as local state files are bounded).
    max_bytes: u64,
}

struct Request<'a> {
    method: Method,
    blob: Option<&'a str>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl<'a> Request<'a> {
    fn new(method: Method, blob: Option<&'a str>) -> Self {
        Request { method, blob, query: Vec::new(), headers: Vec::new(), body: Vec::new() }
    }
    fn query(mut self, k: &'static str, v: &str) -> Self {
        self.query.push((k, v.to_string()));
        self
    }
    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_ascii_lowercase(), v.to_string()));
        self
    }
    fn condition(self, c: &Condition) -> Self {
        match c {
            Condition::None => self,
            Condition::IfMatch(etag) => self.header("if-match", etag),
            Condition::IfAbsent => self.header("if-none-match", "*"),
        }
    }
}

impl BlobStore {
    pub fn new(endpoint: &str, container: &str, auth: BlobAuth) -> Result<BlobStore, BlobError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| BlobError::Transport { endpoint: endpoint.to_string(), reason: e.to_string() })?;
        Ok(BlobStore { http, endpoint: endpoint.trim_end_matches('/').to_string(), container: container.to_string(), auth, max_bytes: u64::MAX })
    }

    /// Refuse to read a blob larger than `max` bytes (a corrupt or hostile
    /// blob must not grow memory without bound).
    pub fn with_max_bytes(mut self, max: u64) -> BlobStore {
        self.max_bytes = max;
        self
    }

    /// `container/blob` at the endpoint, for messages.
    pub fn describe(&self, blob: &str) -> String {
        format!("{}/{}/{}", self.endpoint, self.container, blob)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    async fn send(&self, req: Request<'_>) -> Result<reqwest::Response, BlobError> {
        let mut path = format!("/{}", self.container);
        if let Some(b) = req.blob {
            path.push('/');
            path.push_str(&encode_path(b));
        }
        let mut url = url::Url::parse(&self.endpoint).map_err(|e| BlobError::Transport { endpoint: self.endpoint.clone(), reason: format!("not a URL: {e}") })?;
        let full_path = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&full_path);
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(req.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut headers = req.headers;
        headers.push(("x-ms-date".into(), Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()));
        headers.push(("x-ms-version".into(), API_VERSION.into()));
        let authorization = match &self.auth {
            BlobAuth::SharedKey { account, key } => {
                let canonical = string_to_sign(req.method.as_str(), account, url.path(), &req.query, &headers, req.body.len());
                let sig = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key, canonical.as_bytes()));
                format!("SharedKey {account}:{sig}")
            }
            BlobAuth::Token(p) => {
                let token = p.token().await.map_err(|e| BlobError::Auth(e.to_string()))?;
                check_storage_audience(token.expose())?;
                format!("Bearer {}", token.expose())
            }
        };
        let mut builder = self.http.request(req.method.clone(), url.clone()).header("authorization", authorization);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let len = req.body.len();
        if matches!(req.method, Method::PUT) {
            builder = builder.header("content-length", len.to_string());
        }
        builder.body(req.body).send().await.map_err(|e| BlobError::Transport { endpoint: self.endpoint.clone(), reason: e.to_string() })
    }

    /// The error of a response that failed, with its service code.
    async fn failure(blob: &str, resp: reqwest::Response) -> BlobError {
        let status = resp.status();
        let header_code = resp.headers().get("x-ms-error-code").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        let code = header_code.or_else(|| xml_field(&text, "Code")).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let message = xml_field(&text, "Message").map(|m| m.lines().next().unwrap_or_default().to_string()).unwrap_or_default();
        if status == StatusCode::PRECONDITION_FAILED || (status == StatusCode::CONFLICT && code == "BlobAlreadyExists") {
            return BlobError::Conflict { blob: blob.to_string(), code };
        }
        BlobError::Status { blob: blob.to_string(), status: status.as_u16(), code, message }
    }

    /// Create the container (nothing if it exists).
    pub async fn ensure_container(&self) -> Result<(), BlobError> {
        let resp = self.send(Request::new(Method::PUT, None).query("restype", "container")).await?;
        if resp.status().is_success() || resp.status() == StatusCode::CONFLICT {
            return Ok(());
        }
        Err(Self::failure(&self.container, resp).await)
    }

    /// The blob with its body, or `None` if absent.
    pub async fn get(&self, blob: &str) -> Result<Option<Blob>, BlobError> {
        self.read(blob, Method::GET).await
    }

    /// The blob's properties and metadata (empty body), or `None`.
    pub async fn properties(&self, blob: &str) -> Result<Option<Blob>, BlobError> {
        self.read(blob, Method::HEAD).await
    }

    async fn read(&self, blob: &str, method: Method) -> Result<Option<Blob>, BlobError> {
        let head = method == Method::HEAD;
        let resp = self.send(Request::new(method, Some(blob))).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::failure(blob, resp).await);
        }
        let h = resp.headers();
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = get("etag").unwrap_or_default();
        let last_modified = get("last-modified").and_then(|t| DateTime::parse_from_rfc2822(&t).ok()).map(|t| t.with_timezone(&Utc));
        let lease_state = get("x-ms-lease-state");
        let metadata = h
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().strip_prefix("x-ms-meta-")?.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let too_large = || BlobError::TooLarge { blob: blob.to_string(), limit: self.max_bytes };
        if !head && resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(too_large());
        }
        // Read in chunks, so a length the response does not declare is bounded too.
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| BlobError::Transport { endpoint: self.endpoint.clone(), reason: e.to_string() })? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(Blob { body, etag, last_modified, metadata, lease_state }))
    }

    /// Write a block blob whole if `condition` holds; its new ETag.
    pub async fn put(&self, blob: &str, body: Vec<u8>, condition: &Condition) -> Result<String, BlobError> {
        let req = Request { body, ..Request::new(Method::PUT, Some(blob)) }.header("x-ms-blob-type", "BlockBlob").header("content-type", "application/octet-stream").condition(condition);
        self.etag_of(blob, req).await
    }

    async fn etag_of(&self, blob: &str, req: Request<'_>) -> Result<String, BlobError> {
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(Self::failure(blob, resp).await);
        }
        Ok(resp.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string())
    }

    /// Delete the blob if `condition` holds (an absent blob is not an error).
    pub async fn delete(&self, blob: &str, condition: &Condition) -> Result<(), BlobError> {
        let resp = self.send(Request::new(Method::DELETE, Some(blob)).condition(condition)).await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(Self::failure(blob, resp).await)
    }

    /// Create an empty append blob unless one exists.
    pub async fn ensure_append_blob(&self, blob: &str) -> Result<(), BlobError> {
        let req = Request::new(Method::PUT, Some(blob)).header("x-ms-blob-type", "AppendBlob").condition(&Condition::IfAbsent);
        match self.etag_of(blob, req).await {
            Ok(_) | Err(BlobError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Append `data` to an append blob.
    pub async fn append(&self, blob: &str, data: Vec<u8>) -> Result<(), BlobError> {
        let req = Request { body: data, ..Request::new(Method::PUT, Some(blob)) }.query("comp", "appendblock");
        self.etag_of(blob, req).await.map(|_| ())
    }

    /// Replace the blob's metadata (under `lease_id` when it is leased).
    pub async fn set_metadata(&self, blob: &str, lease_id: Option<&str>, metadata: &BTreeMap<String, String>) -> Result<(), BlobError> {
        let mut req = Request::new(Method::PUT, Some(blob)).query("comp", "metadata");
        if let Some(id) = lease_id {
            req = req.header("x-ms-lease-id", id);
        }
        for (k, v) in metadata {
            req = req.header(&format!("x-ms-meta-{k}"), v);
        }
        self.etag_of(blob, req).await.map(|_| ())
    }

    /// Acquire a lease of `seconds` with `lease_id`: false if another lease is held.
    pub async fn acquire_lease(&self, blob: &str, lease_id: &str, seconds: u64) -> Result<bool, BlobError> {
        let req = Request::new(Method::PUT, Some(blob))
            .query("comp", "lease")
            .header("x-ms-lease-action", "acquire")
            .header("x-ms-lease-duration", &seconds.to_string())
            .header("x-ms-proposed-lease-id", lease_id);
        let resp = self.send(req).await?;
        if resp.status().is_success() {
            return Ok(true);
        }
        if resp.status() == StatusCode::CONFLICT {
            return Ok(false);
        }
        Err(Self::failure(blob, resp).await)
    }

    /// Renew, release (with `lease_id`) or break (at once) the blob's lease.
    pub async fn lease(&self, blob: &str, action: LeaseAction, lease_id: Option<&str>) -> Result<(), BlobError> {
        let mut req = Request::new(Method::PUT, Some(blob)).query("comp", "lease").header("x-ms-lease-action", action.as_str());
        if let Some(id) = lease_id {
            req = req.header("x-ms-lease-id", id);
        }
        if action == LeaseAction::Break {
            req = req.header("x-ms-lease-break-period", "0");
        }
        self.etag_of(blob, req).await.map(|_| ())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAction {
    Renew,
    Release,
    Break,
}

impl LeaseAction {
    fn as_str(self) -> &'static str {
        match self {
            LeaseAction::Renew => "renew",
            LeaseAction::Release => "release",
            LeaseAction::Break => "break",
        }
    }
}

/// Blob names are our own (letters, digits, `-_./`); anything else is
/// percent-encoded.
fn encode_path(name: &str) -> String {
    name.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_./".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The Shared Key string to sign (Blob service, version 2009-09-19 and later).
fn string_to_sign(method: &str, account: &str, path: &str, query: &[(&'static str, String)], headers: &[(String, String)], body_len: usize) -> String {
    let h = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let length = if body_len == 0 { String::new() } else { body_len.to_string() };
    let mut out = format!(
        "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
        h("content-encoding"),
        h("content-language"),
        h("content-md5"),
        h("content-type"),
        h("if-modified-since"),
        h("if-match"),
        h("if-none-match"),
        h("if-unmodified-since"),
        h("range"),
    );
    let mut ms: Vec<(&str, &str)> = headers.iter().filter(|(k, _)| k.starts_with("x-ms-")).map(|(k, v)| (k.as_str(), v.trim())).collect();
    ms.sort();
    for (k, v) in ms {
        out.push_str(&format!("{k}:{v}\n"));
    }
    out.push_str(&format!("/{account}{path}"));
    let mut q: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (k, v) in query {
        q.entry(k.to_ascii_lowercase()).or_default().push(v);
    }
    for (k, mut v) in q {
        v.sort();
        out.push_str(&format!("\n{k}:{}", v.join(",")));
    }
    out
}

/// HMAC-SHA256 (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for i in 0..64 {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new().chain_update(ipad).chain_update(msg).finalize();
    Sha256::new().chain_update(opad).chain_update(inner).finalize().into()
}

fn xml_field(text: &str, name: &str) -> Option<String> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].to_string())
}

/// Account key and endpoint from a connection string
/// (`AccountName=...;AccountKey=...;BlobEndpoint=...`).
pub fn parse_connection_string(text: &str) -> BTreeMap<String, String> {
    text.split(';')
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Decode a base64 account key.
pub fn decode_key(key: &str) -> Result<Vec<u8>, BlobError> {
    base64::engine::general_purpose::STANDARD.decode(key.trim()).map_err(|_| BlobError::Auth("the storage account key is not base64".into()))
}

/// Azure Storage's resource id (the token audience; scope `<it>/.default`).
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";
/// Azure Storage's first-party application id (an audience tokens may carry).
const STORAGE_APP_ID: &str = "e406a681-f3d4-42a8-90b6-c2b029497af1";

/// A token provider for Azure Storage (scope
/// `https://storage.azure.com/.default`, resource `https://storage.azure.com`
/// for managed identity and the Azure CLI) from the same credential chain
/// as Graph ([`crate::graph::credential_chain::select`]: secret,
/// certificate, workload identity, managed identity, Azure CLI, in its
/// order and with `TENANTCTL_CREDENTIAL`), at the same authority
/// (`AZURE_AUTHORITY_HOST`, else `TENANTCTL_GRAPH_URL` as for Graph, else
/// `TENANTCTL_CLOUD`'s). A static
/// `TENANTCTL_ACCESS_TOKEN` is a Graph token: it is never sent to storage.
pub fn token_provider(lookup: impl Fn(&str) -> Option<String>) -> Result<TokenProvider, BlobError> {
    use crate::graph::{Cloud, SystemClock};
    let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
    if get("TENANTCTL_CREDENTIAL").is_some_and(|c| c.trim().eq_ignore_ascii_case("token")) {
        return Err(BlobError::Auth("TENANTCTL_CREDENTIAL=token is a Graph access token, which Azure Storage does not accept; set AZURE_STORAGE_KEY, or sign in with a credential that can get a storage token".into()));
    }
    // Everything but the static Graph token.
    let chain = |k: &str| if k == "TENANTCTL_ACCESS_TOKEN" { None } else { get(k) };
    // A Graph at `TENANTCTL_GRAPH_URL` issues its own tokens there (the
    // sandbox, an emulator): storage's token comes from the same place, so
    // a test's credentials never go to a public authority (hostile run 21,
    // finding 7).
    let authority = match get("AZURE_AUTHORITY_HOST").or_else(|| get("TENANTCTL_GRAPH_URL")) {
        Some(a) => a,
        None => Cloud::from_env(chain).map_err(|e| BlobError::Auth(e.to_string()))?.authority(),
    };
    let cloud = Cloud::custom(&authority, STORAGE_RESOURCE).map_err(|e| BlobError::Auth(e.to_string()))?;
    let credential = crate::graph::credential_chain::select(chain).map_err(|e| BlobError::Auth(e.to_string()))?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| BlobError::Auth(e.to_string()))?;
    Ok(TokenProvider::new(http, cloud, credential, Arc::new(SystemClock), Duration::from_secs(300)))
}

/// Refuse to send a token issued for another audience (a Graph token, say)
/// to Azure Storage: a JWT's `aud` must name storage. An opaque token is
/// left to the service to judge.
pub fn check_storage_audience(token: &str) -> Result<(), BlobError> {
    let Some(payload) = token.split('.').nth(1) else { return Ok(()) };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else { return Ok(()) };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Ok(()) };
    let Some(aud) = claims.get("aud").and_then(|a| a.as_str()) else { return Ok(()) };
    let aud_trimmed = aud.trim_end_matches('/');
    if aud_trimmed.eq_ignore_ascii_case(STORAGE_RESOURCE) || aud.eq_ignore_ascii_case(STORAGE_APP_ID) || (aud_trimmed.starts_with("https://") && aud_trimmed.ends_with(".blob.core.windows.net")) {
        return Ok(());
    }
    Err(BlobError::Auth(format!("the token's audience is {aud}, not Azure Storage ({STORAGE_RESOURCE}); it was not sent")))
}

/// The state lock as a lease on a blob, naming the holder in its metadata.
pub struct BlobLease {
    store: Arc<BlobStore>,
    blob: String,
    /// The lease this process holds, if any.
    lease_id: Mutex<Option<String>>,
}

impl BlobLease {
    pub fn new(store: Arc<BlobStore>, blob: String) -> BlobLease {
        BlobLease { store, blob, lease_id: Mutex::new(None) }
    }

    fn err(&self, e: BlobError) -> LockError {
        LockError::Io { path: self.store.describe(&self.blob).into(), reason: e.to_string() }
    }

    fn held_id(&self) -> Option<String> {
        self.lease_id.lock().ok().and_then(|g| g.clone())
    }

    /// Renew the lease this process holds (every run does so well before
    /// [`LEASE_SECONDS`] pass).
    pub async fn renew(&self) -> Result<(), LockError> {
        match self.held_id() {
            Some(id) => self.store.lease(&self.blob, LeaseAction::Renew, Some(&id)).await.map_err(|e| self.err(e)),
            None => Ok(()),
        }
    }

    /// [`BlobLease::renew`], telling a lease that is gone (broken by
    /// `state unlock`, expired and taken by another run: storage answers
    /// 409 or 412) from storage that did not answer. `Err(true, _)`: gone.
    pub async fn renew_or_lost(&self) -> Result<(), (bool, LockError)> {
        let Some(id) = self.held_id() else { return Ok(()) };
        match self.store.lease(&self.blob, LeaseAction::Renew, Some(&id)).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let lost = matches!(&e, BlobError::Conflict { .. } | BlobError::Status { status: 409 | 412, .. });
                Err((lost, self.err(e)))
            }
        }
    }

    async fn recorded_holder(&self) -> Result<Option<(Holder, String)>, LockError> {
        let Some(props) = self.store.properties(&self.blob).await.map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let state = props.lease_state.clone().unwrap_or_default();
        Ok(props.metadata.get(HOLDER_KEY).and_then(|v| decode_holder(v)).map(|h| (h, state)))
    }
}

fn encode_holder(h: &Holder) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(h).unwrap_or_default())
}

fn decode_holder(v: &str) -> Option<Holder> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn new_lease_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

impl StateLock for BlobLease {
    async fn try_acquire(&self, holder: &Holder) -> Result<Result<Acquired, Holder>, LockError> {
        self.store.ensure_container().await.map_err(|e| self.err(e))?;
        match self.store.put(&self.blob, Vec::new(), &Condition::IfAbsent).await {
            Ok(_) | Err(BlobError::Conflict { .. }) => {}
            Err(e) => return Err(self.err(e)),
        }
        // Who held it last: still named if its run was killed.
        let before = self.recorded_holder().await?;
        let id = new_lease_id();
        if !self.store.acquire_lease(&self.blob, &id, LEASE_SECONDS).await.map_err(|e| self.err(e))? {
            let current = self.recorded_holder().await?.map(|(h, _)| h);
            return Ok(Err(current.unwrap_or_else(|| Holder { host: "?".into(), pid: 0, command: "(acquiring)".into(), since: String::new(), boot_id: None, start_ticks: None, pid_ns: None })));
        }
        if let Ok(mut g) = self.lease_id.lock() {
            *g = Some(id.clone());
        }
        let meta = BTreeMap::from([(HOLDER_KEY.to_string(), encode_holder(holder))]);
        self.store.set_metadata(&self.blob, Some(&id), &meta).await.map_err(|e| self.err(e))?;
        Ok(Ok(match before {
            Some((h, _)) if h != *holder => Acquired::TookOver(h),
            _ => Acquired::Free,
        }))
    }

    async fn release(&self, holder: &Holder) -> Result<(), LockError> {
        let Some(id) = self.held_id() else {
            return Ok(());
        };
        if self.recorded_holder().await?.is_some_and(|(h, _)| h != *holder) {
            return Ok(());
        }
        self.store.set_metadata(&self.blob, Some(&id), &BTreeMap::new()).await.map_err(|e| self.err(e))?;
        self.store.lease(&self.blob, LeaseAction::Release, Some(&id)).await.map_err(|e| self.err(e))?;
        if let Ok(mut g) = self.lease_id.lock() {
            *g = None;
        }
        Ok(())
    }

    async fn holder(&self) -> Result<Option<Holder>, LockError> {
        Ok(self.recorded_holder().await?.filter(|(_, state)| state == "leased").map(|(h, _)| h))
    }

    async fn break_lock(&self) -> Result<Option<Holder>, LockError> {
        let Some((holder, state)) = self.recorded_holder().await? else {
            return Ok(None);
        };
        if state == "leased" {
            self.store.lease(&self.blob, LeaseAction::Break, None).await.map_err(|e| self.err(e))?;
        }
        self.store.set_metadata(&self.blob, None, &BTreeMap::new()).await.map_err(|e| self.err(e))?;
        Ok(Some(holder))
    }

    fn describe(&self) -> String {
        format!("the lease on {}", self.store.describe(&self.blob))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_storage_token_comes_from_the_graph_url_when_one_is_set() {
        let env = |k: &str| match k {
            "TENANTCTL_GRAPH_URL" => Some("http://127.0.0.1:9".to_string()),
            "AZURE_CLIENT_ID" => Some("00000000-0000-4000-8000-000000000001".to_string()),
            "AZURE_TENANT_ID" => Some("00000000-0000-4000-8000-000000000002".to_string()),
            "AZURE_CLIENT_SECRET" => Some("s3cr3t-value".to_string()),
            _ => None,
        };
        let shown = format!("{:?}", token_provider(env).expect("a provider"));
        assert!(shown.contains("Ipv4(127.0.0.1)") && !shown.contains("login.microsoftonline.com") && !shown.contains("s3cr3t-value"), "{shown}");
        let public = |k: &str| if k == "TENANTCTL_GRAPH_URL" { None } else { env(k) };
        assert!(format!("{:?}", token_provider(public).expect("a provider")).contains("login.microsoftonline.com"));
    }

    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn the_string_to_sign_has_the_documented_shape() {
        let headers = vec![("x-ms-version".to_string(), "v".to_string()), ("x-ms-date".to_string(), "d".to_string()), ("if-match".to_string(), "\"e\"".to_string())];
        let s = string_to_sign("PUT", "acct", "/acct/c/b", &[("comp", "lease".into())], &headers, 3);
        assert_eq!(s, "PUT\n\n\n3\n\n\n\n\n\"e\"\n\n\n\nx-ms-date:d\nx-ms-version:v\n/acct/acct/c/b\ncomp:lease");
        let cs = parse_connection_string("DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k==;BlobEndpoint=http://127.0.0.1:1/a;");
        assert_eq!(cs.get("AccountKey").map(String::as_str), Some("k=="));
        assert_eq!(encode_path("p/t-1/ledger.toml"), "p/t-1/ledger.toml");
        assert_eq!(encode_path("a b"), "a%20b");
    }
}
