//! State survives a restart (SQLite), a large tenant loads and pages fast,
//! and the sandbox starts in-process from a running tokio runtime.

mod common;

use common::*;
use sandbox::{SandboxConfig, SeedSpec};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn tenant_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tenant.db");
    let (uid, gid, pid, delta_link) = {
        let env = start_with(SandboxConfig::default().with_state_file(&db).with_credentials("app-1", "secret-1")).await;
        let u = env.create_user("persisted").await;
        let g = env.create_group("persisted-group").await;
        let (uid, gid) = (u["id"].as_str().unwrap().to_string(), g["id"].as_str().unwrap().to_string());
        env.post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")})).await;
        let p = env.post("/beta/deviceManagement/deviceConfigurations", json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "persisted"})).await;
        let pid = p.body["id"].as_str().unwrap().to_string();
        env.post(&format!("/beta/deviceManagement/deviceConfigurations/{pid}/assign"), json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid}}]})).await;
        let d = env.get("/v1.0/users/delta").await;
        let link = d.body["@odata.deltaLink"].as_str().unwrap().to_string();
        env.sb.shutdown().await.unwrap();
        (uid, gid, pid, link)
    };
    let env = start_with(SandboxConfig::default().with_state_file(&db).with_credentials("app-1", "secret-1")).await;
    assert_eq!(env.get(&format!("/v1.0/users/{uid}")).await.body["userPrincipalName"], json!(format!("persisted@{}", env.domain())));
    let members = env.get(&format!("/v1.0/groups/{gid}/members")).await;
    assert_eq!(members.body["value"][0]["id"], json!(uid));
    let a = env.get(&format!("/beta/deviceManagement/deviceConfigurations/{pid}/assignments")).await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
    // Duplicate checks use the reloaded index.
    assert_eq!(env.post("/v1.0/users", user_body("persisted", &env.domain())).await.status, 400);
    // Delta tokens from the previous run still work (the change log is persisted).
    let port_free_link = delta_link.split_once("/v1.0/").map(|(_, rest)| format!("/v1.0/{rest}")).unwrap();
    env.patch(&format!("/v1.0/users/{uid}"), json!({"jobTitle": "after restart"})).await;
    let d = env.get(&port_free_link).await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["value"].as_array().unwrap().len(), 1);
    env.sb.shutdown().await.unwrap();
}

#[tokio::test]
async fn persistent_sandbox_can_keep_its_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tenant.db");
    let first = sandbox::Sandbox::start(SandboxConfig::default().with_state_file(&db)).await.unwrap();
    let secret = first.client_secret().to_string();
    first.shutdown().await.unwrap();
    let mut cfg = SandboxConfig::default().with_state_file(&db);
    cfg.reuse_stored_secret = true;
    let env = start_with(cfg).await;
    assert_eq!(env.sb.client_secret(), secret);
    // Without reuse, the given secret wins (and is stored).
    env.sb.shutdown().await.unwrap();
    let second = sandbox::Sandbox::start(SandboxConfig::default().with_state_file(&db).with_credentials(sandbox::DEFAULT_CLIENT_ID, "explicit")).await.unwrap();
    assert_eq!(second.client_secret(), "explicit");
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn state_is_durable_without_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tenant.db");
    let uid = {
        let env = start_with(SandboxConfig::default().with_state_file(&db)).await;
        let u = env.create_user("crashy").await;
        u["id"].as_str().unwrap().to_string()
        // Dropped without shutdown: every write was already committed.
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let env = start_with(SandboxConfig::default().with_state_file(&db)).await;
    assert_eq!(env.get(&format!("/v1.0/users/{uid}")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// A 100k-user state file loads and pages whole. How fast is measured by
/// the benchmarks, not asserted here: a loaded CI machine would fail it.
async fn a_large_tenant_loads_from_its_state_file_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    let spec = SeedSpec { seed: 1, users: 100_000, groups: 100, memberships_per_group: 50, policies: 30 };
    {
        let env = start_with(SandboxConfig::default().with_state_file(&db).with_seed(spec)).await;
        env.sb.shutdown().await.unwrap();
    }
    let t = Instant::now();
    let env = start_with(SandboxConfig::default().with_state_file(&db)).await;
    let load = t.elapsed();
    let t = Instant::now();
    let mut url = "/v1.0/users?$top=999&$select=id".to_string();
    let mut n = 0;
    for _ in 0..5 {
        let r = env.get(&url).await;
        n += r.body["value"].as_array().unwrap().len();
        url = r.body["@odata.nextLink"].as_str().unwrap().to_string();
    }
    let page = t.elapsed();
    assert_eq!(n, 5 * 999);
    let last = env.get("/v1.0/users?$filter=userPrincipalName eq 'seed1.user099999@contoso.onmicrosoft.com'&$select=id").await;
    assert_eq!(last.body["value"].as_array().unwrap().len(), 1);
    eprintln!("loaded in {load:?}; 5 pages in {page:?}");
}
