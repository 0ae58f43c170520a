//! The Entra-token path to Azure Storage (Azurite cannot check tokens):
//! against a loopback stub that is both the token endpoint (reached through
//! the `AZURE_AUTHORITY_HOST` override, as Graph's are) and the Blob
//! service. Each blob request must carry `Authorization: Bearer <the token
//! issued for https://storage.azure.com/.default>` and an `x-ms-version`
//! of 2017-11-09 or later (Blob REST: "Authorize with Microsoft Entra ID");
//! a token for another audience is never sent.

mod graph_support;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graph_support::{start, token_reply, MockServer, Recorded, Reply};
use providers::state_blob::{token_provider, BlobAuth, BlobError, BlobStore, Condition};
use serde_json::json;

const TENANT: &str = "11111111-2222-4333-8444-555555555555";
const CLIENT: &str = "00000000-aaaa-bbbb-cccc-000000000001";
const SECRET: &str = "cs~storage-test-secret";

fn jwt(aud: &str) -> String {
    let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2lnbmF0dXJl", enc(json!({"alg": "RS256", "typ": "JWT"})), enc(json!({"aud": aud, "tid": TENANT})))
}

fn bearer(r: &Recorded) -> Option<String> {
    r.header("authorization")?.strip_prefix("Bearer ").map(str::to_owned)
}

/// Token endpoint issuing a token for `aud` (only for the storage scope),
/// managed-identity endpoint, and a Blob service that checks every request.
async fn stub(aud: &'static str) -> MockServer {
    start(move |r, earlier| {
        if r.is_token_request() {
            let f = r.form();
            if f.get("scope").map(String::as_str) != Some("https://storage.azure.com/.default") {
                return Reply::json(400, json!({"error": "invalid_scope", "error_description": format!("unexpected scope {:?}", f.get("scope"))}));
            }
            if f.get("client_secret").map(String::as_str) != Some(SECRET) || f.get("client_id").map(String::as_str) != Some(CLIENT) {
                return Reply::json(401, json!({"error": "invalid_client"}));
            }
            return token_reply(&jwt(aud), 3600);
        }
        if r.path == "/msi/token" {
            if r.query_param("resource").as_deref() != Some("https://storage.azure.com") || r.header("x-identity-header").as_deref() != Some("app-service-header") {
                return Reply::json(400, json!({"error": "invalid_request"}));
            }
            return Reply::json(200, json!({"access_token": jwt(aud), "expires_on": "4102444800", "resource": "https://storage.azure.com", "token_type": "Bearer"}));
        }
        // The Blob service: Entra authorization needs a bearer token for
        // storage and x-ms-version 2017-11-09 or later.
        let version_ok = r.header("x-ms-version").is_some_and(|v| v.as_str() >= "2017-11-09");
        let aud_ok = bearer(r).is_some_and(|t| t == jwt("https://storage.azure.com"));
        if !version_ok || !aud_ok || r.header("x-ms-date").is_none() {
            return Reply::empty(401).header("x-ms-error-code", "InvalidAuthenticationInfo");
        }
        let path = r.path.clone();
        let exists = earlier.iter().any(|e| e.method == "PUT" && e.path == path && e.query.is_none() && bearer(e).is_some());
        match r.method.as_str() {
            "PUT" if r.query.as_deref() == Some("restype=container") => Reply::empty(201),
            "PUT" if exists && r.header("if-none-match").as_deref() == Some("*") => Reply::empty(409).header("x-ms-error-code", "BlobAlreadyExists"),
            "PUT" => Reply::empty(201).header("etag", "\"0x1\""),
            "GET" if exists => Reply::json(200, json!({"stored": true})).header("etag", "\"0x1\""),
            _ => Reply::empty(404).header("x-ms-error-code", "BlobNotFound"),
        }
    })
    .await
}

fn env(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
}

fn secret_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_AUTHORITY_HOST", server.base.clone()),
        ("AZURE_TENANT_ID", TENANT.into()),
        ("AZURE_CLIENT_ID", CLIENT.into()),
        ("AZURE_CLIENT_SECRET", SECRET.into()),
        // A Graph token in the environment is for Graph: never used for storage.
        ("TENANTCTL_ACCESS_TOKEN", jwt("https://graph.microsoft.com")),
    ]
}

#[tokio::test]
async fn a_client_secret_gets_a_storage_token_at_the_authority_override_and_every_blob_request_carries_it() {
    let server = stub("https://storage.azure.com").await;
    let provider = token_provider(env(secret_env(&server))).unwrap();
    let store = BlobStore::new(&format!("{}/acct", server.base), "state", BlobAuth::Token(Arc::new(provider))).unwrap();
    store.ensure_container().await.unwrap();
    store.put("ci/t/ledger.toml", br#"{"stored":true}"#.to_vec(), &Condition::IfAbsent).await.unwrap();
    assert!(matches!(store.put("ci/t/ledger.toml", b"x".to_vec(), &Condition::IfAbsent).await, Err(BlobError::Conflict { .. })));
    let got = store.get("ci/t/ledger.toml").await.unwrap().unwrap();
    assert_eq!(got.body, br#"{"stored":true}"#);
    assert!(store.get("ci/t/absent").await.unwrap().is_none());

    let tokens = server.token_requests();
    assert_eq!(tokens.len(), 1, "one token, cached");
    assert_eq!(tokens[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(tokens[0].form().get("grant_type").map(String::as_str), Some("client_credentials"));
    let blobs = server.graph_requests();
    assert_eq!(blobs.len(), 5);
    for r in &blobs {
        assert_eq!(bearer(r).as_deref(), Some(jwt("https://storage.azure.com").as_str()), "{} {}", r.method, r.path);
        assert!(r.header("x-ms-version").unwrap().as_str() >= "2017-11-09");
        assert!(!r.header("authorization").unwrap().contains("SharedKey"));
        assert!(r.path.starts_with("/acct/state"), "{}", r.path);
    }
    // The conditional create sends If-None-Match: * (Put Blob).
    assert_eq!(blobs[1].header("if-none-match").as_deref(), Some("*"));
    assert_eq!(blobs[1].header("x-ms-blob-type").as_deref(), Some("BlockBlob"));
}

#[tokio::test]
async fn a_managed_identity_gets_its_storage_token_for_the_storage_resource() {
    let server = stub("https://storage.azure.com").await;
    let lookup = env(vec![("IDENTITY_ENDPOINT", format!("{}/msi/token", server.base)), ("IDENTITY_HEADER", "app-service-header".into())]);
    let store = BlobStore::new(&format!("{}/acct", server.base), "state", BlobAuth::Token(Arc::new(token_provider(lookup).unwrap()))).unwrap();
    store.ensure_container().await.unwrap();
    let msi: Vec<Recorded> = server.requests().into_iter().filter(|r| r.path == "/msi/token").collect();
    assert_eq!(msi.len(), 1);
    assert_eq!(msi[0].query_param("resource").as_deref(), Some("https://storage.azure.com"));
}

#[tokio::test]
async fn a_token_for_another_audience_is_never_sent_to_storage() {
    // The token endpoint (misconfigured, or hostile) issues a Graph token.
    let server = stub("https://graph.microsoft.com").await;
    let store = BlobStore::new(&format!("{}/acct", server.base), "state", BlobAuth::Token(Arc::new(token_provider(env(secret_env(&server))).unwrap()))).unwrap();
    let e = store.get("ci/t/ledger.toml").await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, BlobError::Auth(_)) && text.contains("audience is https://graph.microsoft.com") && text.contains("not sent"), "{text}");
    assert!(server.graph_requests().is_empty(), "no blob request carried it");
    assert!(!text.contains(SECRET));
    // And the static Graph token is refused for storage outright.
    let mut pairs = secret_env(&server);
    pairs.push(("TENANTCTL_CREDENTIAL", "token".into()));
    let e = token_provider(env(pairs)).map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("Azure Storage does not accept"), "{e}");
}
