//! The HTTP server: binds a listener, serves each connection with hyper
//! (so a fault can drop a connection without a response), routes admin
//! paths to [`crate::admin`], identity paths to [`crate::auth`] and
//! everything under `/v1.0` and `/beta` through faults, accounting and
//! authentication into [`crate::graph::dispatch`] or [`crate::batch`].

use crate::accounting::{pattern, RequestCounts};
use crate::auth::AuthConfig;
use crate::error::GraphError;
use crate::faults::{Decision, FaultState};
use crate::graph::{self, Ctx, GReq, GResp, Version};
use crate::store::Tenant;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt as _;

/// Shared state of a running sandbox.
pub struct App {
    pub tenant: Mutex<Tenant>,
    pub faults: Mutex<FaultState>,
    /// Modelled service limits (`limits.rs`), none unless set.
    pub limits: Mutex<crate::limits::LimitState>,
    pub counts: Mutex<RequestCounts>,
    /// Granted application permissions ([`crate::permissions`]).
    pub permissions: Mutex<Arc<Vec<String>>>,
    /// Licence tier (changeable through the admin API).
    pub licences: Mutex<crate::licences::Licences>,
    pub auth: AuthConfig,
    pub base: String,
    /// The tenant's clock (`crate::clock`): the wall clock unless a test moved it.
    pub clock: crate::clock::Clock,
}

/// Locks a mutex, recovering from poisoning (the data is plain and consistent
/// after every completed request).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
pub struct ConnKill(pub Arc<Notify>);

/// The peer of the connection a request came on.
#[derive(Clone, Copy)]
pub struct Peer(pub SocketAddr);

const JSON_CT: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const MAX_BODY: usize = 16 * 1024 * 1024;

pub fn router(app: Arc<App>) -> Router {
    crate::admin::routes().fallback(handle).with_state(app)
}

/// Accepts connections until `shutdown` turns true, then lets open
/// connections finish (up to 5 s).
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let mut conn_shutdown = shutdown.clone();
                conns.spawn(async move {
                    let kill = Arc::new(Notify::new());
                    let kill2 = kill.clone();
                    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnKill(kill2.clone()));
                        req.extensions_mut().insert(Peer(peer));
                        router.clone().oneshot(req.map(Body::new))
                    });
                    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = kill.notified() => {
                            // Dropping the connection closes the socket with no response.
                        }
                        _ = async { conn_shutdown.wait_for(|s| *s).await.map(|_| ()) } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                        }
                    }
                });
                while conns.try_join_next().is_some() {}
            }
            _ = async { shutdown.wait_for(|s| *s).await.map(|_| ()) } => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(6), async { while conns.join_next().await.is_some() {} }).await;
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Turns a Graph response into HTTP.
pub fn to_http(resp: GResp, request_id: &str, client_request_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = match (resp.body, resp.text) {
        (Some(b), _) => {
            let mut r = Response::new(Body::from(b.to_string()));
            r.headers_mut().insert("content-type", HeaderValue::from_static(JSON_CT));
            r
        }
        (None, Some(t)) => {
            let mut r = Response::new(Body::from(t));
            r.headers_mut().insert("content-type", HeaderValue::from_static("text/plain"));
            r
        }
        (None, None) => Response::new(Body::empty()),
    };
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (axum::http::HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            h.insert(k, v);
        }
    }
    if let Ok(v) = HeaderValue::try_from(request_id) {
        h.insert("request-id", v);
    }
    if let Some(c) = client_request_id.and_then(|c| HeaderValue::try_from(c).ok()) {
        h.insert("client-request-id", c);
    }
    r
}

fn error_http(e: &GraphError, request_id: &str, client_request_id: Option<&str>) -> Response {
    let mut resp = GResp::json(e.status, e.body(request_id, client_request_id));
    if let Some(s) = e.retry_after {
        resp.headers.push(("Retry-After".into(), s.to_string()));
    }
    to_http(resp, request_id, client_request_id)
}

fn json_http(status: u16, v: Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// The base URL as the client sees it: `X-Forwarded-Proto`/`X-Forwarded-Host`
/// when a proxy (or a test shim) sits in front, else the listener's URL.
/// Absolute links (`@odata.nextLink`, `@odata.deltaLink`) are built from it.
fn public_base(app: &App, h: &HeaderMap) -> String {
    match (header(h, "x-forwarded-host"), header(h, "x-forwarded-proto")) {
        (Some(host), proto) if !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) => {
            let proto = match proto {
                Some("https") => "https",
                _ => "http",
            };
            format!("{proto}://{host}")
        }
        _ => app.base.clone(),
    }
}

fn record(app: &App, key: String, status: Option<u16>) {
    let mut c = lock(&app.counts);
    c.total += 1;
    *c.requests.entry(key).or_default() += 1;
    if let Some(s) = status {
        *c.statuses.entry(s).or_default() += 1;
    }
}

/// Applies latency and the fault decision. `Err` carries the response to send.
async fn apply_faults(app: &App, kill: Option<&ConnKill>) -> Result<(), GraphError> {
    let latency = {
        let mut f = lock(&app.faults);
        f.cfg.latency_ms + f.jitter()
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let decision = lock(&app.faults).decide(kill.is_some());
    match decision {
        Decision::Pass => Ok(()),
        Decision::Drop => {
            lock(&app.counts).dropped += 1;
            if let Some(k) = kill {
                k.0.notify_one();
                std::future::pending::<()>().await;
            }
            Err(GraphError::new(503, "serviceNotAvailable", "Connection dropped."))
        }
        Decision::Fail(e) => {
            let mut c = lock(&app.counts);
            if e.status == 429 {
                c.throttled += 1;
            } else {
                c.injected_errors += 1;
            }
            Err(e)
        }
    }
}

/// The modelled service limits' verdict on one request (or `$batch` item).
pub fn admit(app: &App, method: &str, path: &[String]) -> Result<(), GraphError> {
    let verdict = lock(&app.limits).admit(method, path, chrono::Utc::now().timestamp_millis());
    if verdict.is_err() {
        lock(&app.counts).limited += 1;
    }
    verdict
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method.as_str().to_ascii_uppercase();
    let segs = graph::split_path(&path);
    let request_id = crate::resources::new_id();
    let client_request_id = header(&parts.headers, "client-request-id").map(str::to_string);
    let crid = client_request_id.as_deref();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error_http(&GraphError::new(413, "Request_EntityTooLarge", "The request body is too large."), &request_id, crid),
    };
    let seg_strs: Vec<&str> = segs.iter().map(String::as_str).collect();

    // Identity platform endpoints.
    match seg_strs.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] if method == "POST" => {
            let key = "POST /{tenant}/oauth2/v2.0/token".to_string();
            let include = lock(&app.faults).cfg.include_token_endpoint;
            if include {
                if let Err(e) = apply_faults(&app, kill.as_ref()).await {
                    record(&app, key, Some(e.status));
                    return error_http(&e, &request_id, crid);
                }
            }
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            let token_url = format!("{}{}", app.base, path);
            let (status, body) = app.auth.token(tenant, &token_url, &form, chrono::Utc::now().timestamp());
            record(&app, key, Some(status));
            return json_http(status, body);
        }
        [tenant, "v2.0", ".well-known", "openid-configuration"] if method == "GET" => {
            return match app.auth.openid_configuration(&app.base, tenant) {
                Some(doc) => json_http(200, doc),
                None => json_http(400, crate::auth::aad_error(400, "invalid_tenant", 90002, &format!("Tenant '{tenant}' not found.")).1),
            };
        }
        [_, "discovery", "instance"] | [_, "discovery", "v2.0", "instance"] if method == "GET" => {
            let host = app.base.trim_start_matches("http://").to_string();
            let tenant = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "authorization_endpoint")
                .and_then(|(_, v)| v.split('/').nth(3).map(str::to_string))
                .unwrap_or_else(|| app.auth.tenant_id.clone());
            return json_http(
                200,
                json!({
                    "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", app.base),
                    "api-version": "1.1",
                    "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
                }),
            );
        }
        _ => {}
    }

    let Some(version) = segs.first().and_then(|v| Version::parse(v)) else {
        let e = GraphError::new(400, "BadRequest", format!("Invalid version: {}", segs.first().map(String::as_str).unwrap_or("")));
        return error_http(&e, &request_id, crid);
    };
    let rest: Vec<String> = segs[1..].to_vec();
    let key = pattern(&method, version.as_str(), &rest);

    if let Err(e) = apply_faults(&app, kill.as_ref()).await {
        record(&app, key, Some(e.status));
        return error_http(&e, &request_id, crid);
    }
    let failing = lock(&app.faults).failing_path(&rest);
    if let Some(e) = failing {
        record(&app, key, Some(e.status));
        return error_http(&e, &request_id, crid);
    }
    if let Err(e) = app.auth.validate(header(&parts.headers, "authorization"), chrono::Utc::now().timestamp()) {
        record(&app, key, Some(e.status));
        let mut r = error_http(&e, &request_id, crid);
        r.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"\", client_id=\"00000003-0000-0000-c000-000000000000\""));
        return r;
    }
    // Service limits count each `$batch` item, not the `$batch` call.
    if !(rest.len() == 1 && rest[0] == "$batch") {
        if let Err(e) = admit(&app, &method, &rest) {
            record(&app, key, Some(e.status));
            return error_http(&e, &request_id, crid);
        }
    }
    let body: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(_) => {
                let e = GraphError::new(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
                record(&app, key, Some(400));
                return error_http(&e, &request_id, crid);
            }
        }
    };
    // One lock of the faults: two in the literal below would deadlock
    // (a temporary guard lives to the end of the statement).
    let (lag_ms, pim_policy_lag_ms, refuse_nested_request_expand) = {
        let f = lock(&app.faults);
        (f.cfg.replication_lag_ms, f.cfg.pim_policy_lag_ms, f.cfg.refuse_nested_request_expand)
    };
    let ctx = Ctx {
        base: public_base(&app, &parts.headers),
        version,
        now_ms: app.clock.now_ms(),
        lag_ms,
        pim_policy_lag_ms,
        refuse_nested_request_expand,
        eventual: header(&parts.headers, "consistencylevel").is_some_and(|v| v.eq_ignore_ascii_case("eventual")),
        max_page_size: crate::delta::max_page_size(parts.headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok())),
        granted: lock(&app.permissions).clone(),
        licences: *lock(&app.licences),
    };
    let result = if rest.len() == 1 && rest[0] == "$batch" {
        if method == "POST" {
            crate::batch::run(&app, &ctx, body.as_ref())
        } else {
            Err(GraphError::method_not_allowed())
        }
    } else {
        let greq = GReq { method: method.clone(), path: rest, query, body };
        let mut t = lock(&app.tenant);
        let r = graph::dispatch(&mut t, &ctx, &greq);
        match t.flush() {
            Ok(()) => r,
            Err(err) => {
                tracing::error!(error = %err, "state write failed");
                Err(GraphError::new(500, "generalException", "The sandbox could not persist the change."))
            }
        }
    };
    match result {
        Ok(resp) => {
            record(&app, key, Some(resp.status));
            to_http(resp, &request_id, crid)
        }
        Err(e) => {
            record(&app, key, Some(e.status));
            error_http(&e, &request_id, crid)
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let rid = crate::resources::new_id();
        error_http(&self, &rid, None)
    }
}
