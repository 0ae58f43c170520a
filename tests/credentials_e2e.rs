//! The managed identity and Azure CLI credentials, end to end through the
//! binary: emulated IMDS and App Service identity endpoints on loopback
//! (reached through the overrides the Azure SDKs honour:
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`, `IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER`) and a stub `az` on PATH hand out tokens the sandbox
//! accepts. Every run sets `TENANTCTL_FORBID_DEFAULT_IMDS`, so nothing can
//! reach 169.254.169.254.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use common::*;

/// One request the emulated identity endpoint received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: BTreeMap<String, String>,
    metadata: Option<String>,
    identity_header: Option<String>,
}

#[derive(Clone)]
struct Emulator {
    token: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn token(
    State(e): State<Emulator>,
    uri: axum::http::Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Json<serde_json::Value> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    e.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        query,
        metadata: h("metadata"),
        identity_header: h("x-identity-header"),
    });
    let expires_on = (chrono::Utc::now().timestamp() + 3600).to_string();
    Json(
        serde_json::json!({"access_token": e.token, "expires_on": expires_on, "expires_in": "3600", "token_type": "Bearer", "resource": "x"}),
    )
}

/// Serves `/metadata/identity/oauth2/token` (IMDS) and `/msi/token` (App
/// Service) on 127.0.0.1; returns its base URL and the request log.
async fn emulator(token_value: String) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/metadata/identity/oauth2/token", get(token))
        .route("/msi/token", get(token))
        .with_state(Emulator {
            token: token_value,
            seen: seen.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn assert_planned(out: &std::process::Output, credential: &str, token_value: &str) {
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON plan");
    assert!(
        plan["changes"].as_array().is_some_and(|c| !c.is_empty()),
        "the example plans changes on an empty tenant"
    );
    assert!(
        stderr.contains(&format!("credential={credential}")),
        "the credential name is logged: {stderr}"
    );
    assert!(
        !stderr.contains(token_value) && !text(&out.stdout).contains(token_value),
        "the token leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_through_an_emulated_imds() {
    let sb = sandbox().await;
    let token_value = sb.access_token();
    let (base, seen) = emulator(token_value.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = plan_with_credentials(
        &sb,
        dir.path(),
        &[
            ("TENANTCTL_CREDENTIAL", "managed-identity".into()),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", base.clone()),
            (
                "AZURE_CLIENT_ID",
                "11111111-2222-3333-4444-555555555555".into(),
            ),
        ],
    );
    assert_planned(&out, "managed-identity", &token_value);
    let seen = seen.lock().unwrap().clone();
    // The override was hit (and so the default address was not).
    assert_eq!(seen.len(), 1, "one token request, then the cache: {seen:?}");
    let s = &seen[0];
    assert_eq!(s.path, "/metadata/identity/oauth2/token");
    assert_eq!(s.metadata.as_deref(), Some("true"));
    assert_eq!(
        s.query.get("api-version").map(String::as_str),
        Some("2018-02-01")
    );
    assert_eq!(
        s.query.get("resource").map(String::as_str),
        Some(sb.base_url().trim_end_matches('/'))
    );
    assert_eq!(
        s.query.get("client_id").map(String::as_str),
        Some("11111111-2222-3333-4444-555555555555")
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_through_an_emulated_app_service_endpoint_is_picked_automatically() {
    let sb = sandbox().await;
    let token_value = sb.access_token();
    let (base, seen) = emulator(token_value.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let header = "per-instance-identity-header-value";
    // No TENANTCTL_CREDENTIAL: the platform's IDENTITY_ENDPOINT selects it.
    let out = plan_with_credentials(
        &sb,
        dir.path(),
        &[
            ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
            ("IDENTITY_HEADER", header.into()),
        ],
    );
    assert_planned(&out, "managed-identity", &token_value);
    assert!(
        !text(&out.stderr).contains(header),
        "the identity header is a secret"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/msi/token");
    assert_eq!(seen[0].identity_header.as_deref(), Some(header));
    assert_eq!(
        seen[0].query.get("api-version").map(String::as_str),
        Some("2019-08-01")
    );
    assert!(
        !seen[0].query.contains_key("client_id"),
        "system-assigned: no client_id"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_without_the_override_is_refused_under_the_guard() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let out = plan_with_credentials(
        &sb,
        dir.path(),
        &[("TENANTCTL_CREDENTIAL", "managed-identity".into())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        "{}",
        text(&out.stderr)
    );
    sb.shutdown().await.unwrap();
}

/// A stub `az` that records its arguments and prints what `az account
/// get-access-token -o json` prints (or fails like a signed-out CLI).
fn stub_az(dir: &Path, token_value: &str, signed_in: bool) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("az-args.txt");
    let expires = chrono::Utc::now().timestamp() + 3600;
    let body = if signed_in {
        format!(
            "printf '%s\\n' '{{\"accessToken\": \"{token_value}\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", \"expires_on\": {expires}, \"subscription\": \"s\", \"tenant\": \"t\", \"tokenType\": \"Bearer\"}}'"
        )
    } else {
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1".to_owned()
    };
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n{body}\n",
        log.display()
    );
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_credential_uses_az_on_path() {
    let sb = sandbox().await;
    let token_value = sb.access_token();
    let dir = tempfile::tempdir().unwrap();
    let bin = stub_az(dir.path(), &token_value, true);
    let out = plan_with_credentials(
        &sb,
        dir.path(),
        &[
            ("TENANTCTL_CREDENTIAL", "azure-cli".into()),
            ("AZURE_TENANT_ID", "contoso-tenant".into()),
            ("PATH", path_with(&bin)),
        ],
    );
    assert_planned(&out, "azure-cli", &token_value);
    let args = std::fs::read_to_string(dir.path().join("az-args.txt")).unwrap();
    let graph = sb.base_url().trim_end_matches('/').to_owned();
    assert_eq!(
        args.lines().count(),
        1,
        "one az call, then the cache: {args}"
    );
    assert_eq!(
        args.trim(),
        format!(
            "account get-access-token --resource {graph} --output json --tenant contoso-tenant"
        )
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_signed_out_says_so() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let bin = stub_az(dir.path(), "unused", false);
    let out = plan_with_credentials(
        &sb,
        dir.path(),
        &[
            ("TENANTCTL_CREDENTIAL", "azure-cli".into()),
            ("PATH", path_with(&bin)),
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("az login") && stderr.contains("Azure CLI credential"),
        "{stderr}"
    );
    sb.shutdown().await.unwrap();
}
