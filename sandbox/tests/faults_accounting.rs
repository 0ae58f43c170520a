//! Fault injection (latency, 429, 503/500, replication lag, dropped
//! connections), the admin API and request accounting.

mod common;

use common::*;
use sandbox::{Faults, SandboxConfig};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn latency_is_added() {
    let env = start().await;
    env.sb.set_faults(Faults { latency_ms: 150, ..Faults::default() }).unwrap();
    let t = Instant::now();
    assert_eq!(env.get("/v1.0/users").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    // Admin endpoints are never delayed or faulted.
    env.sb.set_faults(Faults { latency_ms: 2000, throttle_rate: 1.0, ..Faults::default() }).unwrap();
    let t = Instant::now();
    assert_eq!(env.admin("GET", "/health", None).await.0, 200);
    assert!(t.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let env = start().await;
    env.sb.set_faults(Faults { throttle_rate: 1.0, retry_after_secs: 7, ..Faults::default() }).unwrap();
    let r = env.get("/v1.0/users").await;
    assert_graph_error(&r, 429, "TooManyRequests");
    assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    // Per item inside a batch, too.
    let b = env.post("/v1.0/$batch", json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}]})).await;
    assert_eq!(b.status, 429, "the batch request itself is subject to faults");
    env.sb.set_faults(Faults { throttle_rate: 0.5, seed: Some(42), ..Faults::default() }).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(env.get("/v1.0/users").await.status);
    }
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!((8..=32).contains(&throttled), "about half throttled, got {throttled}");
    // Seeded: the same sequence again.
    env.sb.set_faults(Faults { throttle_rate: 0.5, seed: Some(42), ..Faults::default() }).unwrap();
    let mut again = Vec::new();
    for _ in 0..40 {
        again.push(env.get("/v1.0/users").await.status);
    }
    assert_eq!(statuses, again);
    let counts = env.sb.request_counts();
    assert_eq!(counts.throttled as usize, 1 + 1 + throttled * 2);
    assert_eq!(counts.statuses.get(&429).copied().unwrap_or(0), counts.throttled);

    // Batch items are throttled one by one.
    env.sb.set_faults(Faults { throttle_rate: 0.5, seed: Some(3), ..Faults::default() }).unwrap();
    let mut saw_item_429 = false;
    for _ in 0..10 {
        let b = env.post("/v1.0/$batch", json!({"requests": (0..10).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$top=1"})).collect::<Vec<_>>()})).await;
        if b.status == 200 {
            for item in b.body["responses"].as_array().unwrap() {
                if item["status"] == 429 {
                    assert!(item["headers"]["Retry-After"].is_string());
                    saw_item_429 = true;
                }
            }
        }
    }
    assert!(saw_item_429);
}

#[tokio::test]
async fn errors_answer_503_or_500() {
    let env = start().await;
    env.sb.set_faults(Faults { error_rate: 1.0, seed: Some(1), ..Faults::default() }).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = env.get("/v1.0/groups").await;
        assert!(r.status == 503 || r.status == 500);
        if r.status == 503 {
            assert!(r.header("retry-after").is_some());
            assert_eq!(r.code(), "serviceNotAvailable");
        }
        seen.insert(r.status);
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(env.sb.request_counts().injected_errors, 20);
    // Faults never apply to the token endpoint unless asked.
    common::token(&env.http, &env.sb).await;
}

#[tokio::test]
async fn replication_lag_hides_new_objects() {
    let env = start().await;
    env.sb.set_faults(Faults { replication_lag_ms: 400, ..Faults::default() }).unwrap();
    let u = env.create_user("laggy").await;
    let uid = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["displayName"], "User laggy", "the create response is normal");
    assert_graph_error(&env.get(&format!("/v1.0/users/{uid}")).await, 404, "Request_ResourceNotFound");
    assert_eq!(env.patch(&format!("/v1.0/users/{uid}"), json!({"jobTitle": "x"})).await.status, 404);
    let g = env.create_group("laggy-group").await;
    let gid = g["id"].as_str().unwrap().to_string();
    let add = env.post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")})).await;
    assert_eq!(add.status, 404);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(env.get(&format!("/v1.0/users/{uid}")).await.status, 200);
    let add = env.post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")})).await;
    assert_eq!(add.status, 204);
}

#[tokio::test]
async fn dropped_connections_are_connection_errors() {
    let env = start().await;
    env.sb.set_faults(Faults { drop_rate: 1.0, ..Faults::default() }).unwrap();
    let err = env.http.get(env.url("/v1.0/users")).bearer_auth(&env.token).timeout(Duration::from_secs(5)).send().await;
    let err = err.expect_err("no response");
    assert!(!err.is_timeout(), "closed, not hung: {err:?}");
    assert!(err.is_request() || err.is_connect() || err.to_string().contains("connection"), "{err:?}");
    assert_eq!(env.sb.request_counts().dropped, 1);
    env.sb.set_faults(Faults::default()).unwrap();
    assert_eq!(env.get("/v1.0/users").await.status, 200);
}

#[tokio::test]
async fn faults_from_config_and_admin_api() {
    let env = start_with(SandboxConfig::default().with_faults(Faults { throttle_rate: 1.0, ..Faults::default() })).await;
    assert_eq!(env.get("/v1.0/users").await.status, 429);
    let (s, f) = env.admin("GET", "/faults", None).await;
    assert_eq!(s, 200);
    assert_eq!(f["throttle_rate"], 1.0);
    let (s, _) = env.admin("PUT", "/faults", Some(json!({"throttle_rate": 0.0, "latency_ms": 0}))).await;
    assert_eq!(s, 200);
    assert_eq!(env.get("/v1.0/users").await.status, 200);
    assert_eq!(env.admin("PUT", "/faults", Some(json!({"throttle_rate": 2.0}))).await.0, 400);
    assert_eq!(env.admin("PUT", "/faults", Some(json!({"bogus": 1}))).await.0, 400);
    // Token endpoint faults only when asked.
    env.admin("PUT", "/faults", Some(json!({"error_rate": 1.0, "include_token_endpoint": true}))).await;
    let r = env.http.post(env.sb.token_url()).form(&[("client_id", env.sb.client_id()), ("client_secret", env.sb.client_secret()), ("scope", "https://graph.microsoft.com/.default"), ("grant_type", "client_credentials")]).send().await.unwrap();
    assert!(r.status().as_u16() >= 500);
    assert!(sandbox_rejects_non_loopback().await);
}

async fn sandbox_rejects_non_loopback() -> bool {
    let cfg = SandboxConfig::default().with_addr("0.0.0.0:0".parse().unwrap());
    matches!(sandbox::Sandbox::start(cfg).await, Err(sandbox::SandboxError::NotLoopback { .. }))
}

#[tokio::test]
async fn accounting_counts_per_pattern_and_resets() {
    let env = start().await;
    env.sb.reset_counts();
    let u = env.create_user("counted").await;
    let uid = u["id"].as_str().unwrap();
    env.get(&format!("/v1.0/users/{uid}")).await;
    env.get(&format!("/v1.0/users/{uid}")).await;
    env.get("/beta/deviceManagement/deviceConfigurations").await;
    let c = env.sb.request_counts();
    assert_eq!(c.get("POST /v1.0/users"), 1);
    assert_eq!(c.get("GET /v1.0/users/{id}"), 2);
    assert_eq!(c.get("GET /beta/deviceManagement/deviceConfigurations"), 1);
    assert_eq!(c.by_method("GET"), 3);
    let (s, body) = env.admin("GET", "/requests", None).await;
    assert_eq!(s, 200);
    assert_eq!(body["requests"]["GET /v1.0/users/{id}"], 2);
    // Admin calls are not counted; drift edits are not counted.
    let (s, patched) = env.admin("PATCH", &format!("/objects/users/{uid}"), Some(json!({"jobTitle": "Drifted"}))).await;
    assert_eq!(s, 200);
    assert_eq!(patched["jobTitle"], "Drifted");
    assert_eq!(env.get(&format!("/v1.0/users/{uid}")).await.body["jobTitle"], "Drifted");
    assert_eq!(env.sb.request_counts().get("GET /v1.0/users/{id}"), 3);
    assert_eq!(env.admin("PATCH", "/objects/users/nope", Some(json!({}))).await.0, 404);
    assert_eq!(env.admin("DELETE", "/requests", None).await.0, 204);
    assert_eq!(env.sb.request_counts().total, 0);
    // Seeding through the admin API is deterministic.
    let (s, rep) = env.admin("POST", "/seed", Some(json!({"seed": 5, "users": 10, "groups": 2, "memberships_per_group": 3, "policies": 3}))).await;
    assert_eq!(s, 200);
    assert_eq!(rep, json!({"users": 10, "groups": 2, "memberships": 6, "policies": 3}));
    let other = start().await;
    other.admin("POST", "/seed", Some(json!({"seed": 5, "users": 10, "groups": 2, "memberships_per_group": 3, "policies": 3}))).await;
    let a = env.get("/v1.0/groups?$select=id,displayName").await.body;
    let b = other.get("/v1.0/groups?$select=id,displayName").await.body;
    assert_eq!(a["value"], b["value"]);
    let (s, h) = env.admin("GET", "/health", None).await;
    assert_eq!(s, 200);
    assert_eq!(h["objects"]["users"], 11);
}
