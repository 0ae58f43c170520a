//! Azure Arc's managed identity, end to end through the binary, against an
//! emulated Hybrid Instance Metadata Service on loopback: the first token
//! request is answered `401` with `WWW-Authenticate: Basic realm=<key
//! file>`, the binary reads that file (in the agent's token directory,
//! here `TENANTCTL_ARC_KEY_DIR`) and retries with `Authorization: Basic
//! <key>`. A challenge naming a file elsewhere is refused and the key is
//! never sent; nothing leaves loopback.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::*;

#[derive(Debug, Clone)]
struct Seen {
    query: BTreeMap<String, String>,
    metadata: Option<String>,
    authorization: Option<String>,
}

#[derive(Clone)]
struct Himds {
    token: String,
    /// The file the challenge names, and the key it holds.
    realm: PathBuf,
    key: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn arc_token(State(h): State<Himds>, Query(query): Query<BTreeMap<String, String>>, headers: HeaderMap) -> Response {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorization = get("authorization");
    h.seen.lock().unwrap().push(Seen { query, metadata: get("metadata"), authorization: authorization.clone() });
    if authorization.as_deref() == Some(format!("Basic {}", h.key).as_str()) {
        let expires_on = (chrono::Utc::now().timestamp() + 3600).to_string();
        return Json(serde_json::json!({"access_token": h.token, "expires_on": expires_on, "expires_in": "3600", "token_type": "Bearer", "resource": "x"})).into_response();
    }
    let mut r = (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "unauthorized"}))).into_response();
    r.headers_mut().insert("www-authenticate", format!("Basic realm={}", h.realm.display()).parse().unwrap());
    r
}

async fn himds(h: Himds) -> String {
    let app = Router::new().route("/metadata/identity/oauth2/token", get(arc_token)).with_state(h);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}


const KEY: &str = "arc-challenge-key-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_arc_answers_the_key_file_challenge_and_is_picked_automatically() {
    let sb = sandbox().await;
    let token_value = sb.access_token();
    let keys = tempfile::tempdir().unwrap();
    let realm = keys.path().join("himds-7f3a.key");
    std::fs::write(&realm, format!("{KEY}\n")).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = himds(Himds { token: token_value.clone(), realm, key: KEY.into(), seen: seen.clone() }).await;
    let work = tempfile::tempdir().unwrap();
    let out = plan_with_credentials(
        &sb,
        work.path(),
        &[
            ("IDENTITY_ENDPOINT", format!("{base}/metadata/identity/oauth2/token")),
            ("IMDS_ENDPOINT", base.clone()),
            ("TENANTCTL_ARC_KEY_DIR", keys.path().display().to_string()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert!(plan["changes"].as_array().is_some_and(|c| !c.is_empty()));
    assert!(stderr.contains("credential=managed-identity"), "the credential is logged: {stderr}");
    for secret in [KEY, token_value.as_str()] {
        assert!(!stderr.contains(secret) && !text(&out.stdout).contains(secret), "a secret leaked");
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one challenge, one answer: {seen:?}");
    assert_eq!(seen[0].authorization, None, "the first request carries no key");
    assert_eq!(seen[1].authorization.as_deref(), Some(format!("Basic {KEY}").as_str()));
    for s in &seen {
        assert_eq!(s.metadata.as_deref(), Some("true"));
        assert_eq!(s.query.get("api-version").map(String::as_str), Some("2019-11-01"));
        assert_eq!(s.query.get("resource").map(String::as_str), Some(sb.base_url().trim_end_matches('/')));
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_naming_a_file_outside_the_agent_directory_is_refused_and_nothing_is_sent() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let realm = elsewhere.path().join("stolen.key");
    std::fs::write(&realm, KEY).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = himds(Himds { token: sb.access_token(), realm, key: KEY.into(), seen: seen.clone() }).await;
    let work = tempfile::tempdir().unwrap();
    let vars = [
        ("IDENTITY_ENDPOINT", format!("{base}/metadata/identity/oauth2/token")),
        ("IMDS_ENDPOINT", base.clone()),
        ("TENANTCTL_ARC_KEY_DIR", keys.path().display().to_string()),
    ];
    let out = plan_with_credentials(&sb, work.path(), &vars);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("outside the Azure Arc agent's token directory"), "{stderr}");
    assert!(!stderr.contains(KEY));
    assert!(seen.lock().unwrap().iter().all(|s| s.authorization.is_none()), "the key was never sent");

    // An identity endpoint off this machine is refused before any request.
    let out = plan_with_credentials(
        &sb,
        work.path(),
        &[("IDENTITY_ENDPOINT", "http://10.255.255.1:40342/metadata/identity/oauth2/token".into()), ("IMDS_ENDPOINT", "http://10.255.255.1:40342".into()), ("TENANTCTL_ARC_KEY_DIR", keys.path().display().to_string())],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not on this machine"), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}
