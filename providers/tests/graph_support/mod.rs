//! Shared helpers for the Graph client tests: an axum mock server that
//! records every request, a raw TCP server that drops connections, and a
//! client configured with millisecond timings and a recording sleeper.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig, PacingConfig, RecordingSleeper, RetryPolicy, Secret};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the mock server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.clone()?;
        url::form_urlencoded::parse(q.as_bytes()).into_owned().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn is_token_request(&self) -> bool {
        self.path.ends_with("/oauth2/v2.0/token")
    }
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: vec![], body: Some(body), delay: Duration::ZERO }
    }

    pub fn empty(status: u16) -> Self {
        Self { status, headers: vec![], body: None, delay: Duration::ZERO }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

type Responder = dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync;

#[derive(Clone)]
struct AppState {
    log: Arc<Mutex<Vec<Recorded>>>,
    responder: Arc<Responder>,
}

/// A running mock server.
pub struct MockServer {
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl MockServer {
    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// Requests to Graph (not the token endpoint).
    pub fn graph_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| !r.is_token_request()).collect()
    }

    /// Requests to the token endpoint.
    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(Recorded::is_token_request).collect()
    }
}

async fn handle(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let recorded = Recorded {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect(),
        body: body.to_vec(),
    };
    let reply = {
        let mut log = state.log.lock().unwrap();
        let reply = (state.responder)(&recorded, &log);
        log.push(recorded);
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = match &reply.body {
        Some(body) => (StatusCode::from_u16(reply.status).unwrap(), axum::Json(body.clone())).into_response(),
        None => StatusCode::from_u16(reply.status).unwrap().into_response(),
    };
    for (k, v) in &reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(v).unwrap(),
        );
    }
    response
}

/// Starts a mock that answers with `responder(request, earlier requests)`.
pub async fn start(responder: impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static) -> MockServer {
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = AppState { log: log.clone(), responder: Arc::new(responder) };
    let app = axum::Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    MockServer { base: format!("http://{addr}"), log }
}

/// A standard token endpoint reply.
pub fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::json(200, json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}))
}

/// Fast test timings: 4 attempts, millisecond backoff, recorded sleeps.
pub fn test_config(base: &str) -> (GraphConfig, RecordingSleeper) {
    let sleeper = RecordingSleeper::new();
    let mut config = GraphConfig::new(Cloud::custom(base, base).unwrap());
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(60),
        max_total: Duration::from_secs(600),
        request_timeout: Duration::from_secs(5),
        replication_delays: [1, 2, 4, 8, 16].into_iter().map(Duration::from_millis).collect(),
    };
    config.pacing = PacingConfig::disabled();
    config.sleeper = Arc::new(sleeper.clone());
    (config, sleeper)
}

/// A client with a static token against `base`.
pub fn static_client(base: &str) -> (GraphClient, RecordingSleeper) {
    let (config, sleeper) = test_config(base);
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("static-token-value"))).unwrap();
    (client, sleeper)
}

/// A raw HTTP/1.1 server: for connection `n` (0-based), `drop_first` decides
/// whether to close it without answering; otherwise it answers 200 with
/// `body`. Returns the base URL and the number of connections that sent a request.
pub async fn dropping_server(drops: usize, body: &'static str) -> (String, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(0usize));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and any Content-Length body.
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let index = {
                    let mut c = counter.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                if index < drops {
                    drop(socket);
                    return;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sleeps until the test opens the gate, whatever the duration asked: the
/// pacing tests hold a paced request back on a fake clock and release it.
#[derive(Debug)]
pub struct GateSleeper {
    pub gate: Arc<tokio::sync::Semaphore>,
    pub asked: Arc<Mutex<Vec<Duration>>>,
    pub calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl providers::graph::Sleeper for GateSleeper {
    fn sleep(&self, duration: Duration) -> providers::graph::retry::SleepFuture {
        self.asked.lock().unwrap().push(duration);
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let gate = self.gate.clone();
        Box::pin(async move {
            let _ = gate.acquire().await.map(|p| p.forget());
        })
    }
}
