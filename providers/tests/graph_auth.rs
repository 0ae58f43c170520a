//! Token acquisition against a mock token endpoint: the exact form fields
//! for secret, certificate and federated credentials, assertion contents
//! and signatures, caching, refresh, and that no secret leaks into any
//! `Debug` or error string.

mod graph_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use graph_support::{start, test_config, token_reply, MockServer, Reply};
use providers::graph::{
    AssertionAlgorithm, AuthError, ClientCertificate, Credential, GraphClient, GraphError, ManualClock, Secret,
};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::{json, Value};

const CLIENT_SECRET: &str = "cs~SuperSecretValue-123";
const TENANT: &str = "tenant-1";
const CLIENT: &str = "00000000-aaaa-bbbb-cccc-000000000001";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap().trim().to_owned()
}

/// A server whose token endpoint hands out `tok-1`, `tok-2`, ... and whose
/// Graph endpoints answer `{}`.
async fn counting_token_server(expires_in: u64) -> MockServer {
    start(move |r, earlier| {
        if r.is_token_request() {
            let n = earlier.iter().filter(|e| e.is_token_request()).count() + 1;
            token_reply(&format!("tok-{n}"), expires_in)
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await
}

fn secret_credential() -> Credential {
    Credential::ClientSecret { tenant_id: TENANT.into(), client_id: CLIENT.into(), secret: Secret::new(CLIENT_SECRET) }
}

fn decode_jwt(jwt: &str) -> (Value, Value, Vec<u8>, String) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS has three parts");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    (header, claims, signature, format!("{}.{}", parts[0], parts[1]))
}

#[tokio::test]
async fn client_secret_token_request_has_the_documented_form() {
    let server = counting_token_server(3599).await;
    let (config, _) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    client.get_json("/organization").await.unwrap();

    let tokens = server.token_requests();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(t.method, "POST");
    assert_eq!(t.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(t.header("content-type").as_deref(), Some("application/x-www-form-urlencoded"));
    let form = t.form();
    let expected: HashMap<String, String> = [
        ("client_id", CLIENT.to_owned()),
        ("scope", format!("{}/.default", server.base)),
        ("grant_type", "client_credentials".to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(form, expected);
    let graph = server.graph_requests();
    assert_eq!(graph[0].header("authorization").as_deref(), Some("Bearer tok-1"));
}

#[tokio::test]
async fn tokens_are_cached_and_refreshed_five_minutes_early() {
    let server = counting_token_server(3600).await;
    let (mut config, _) = test_config(&server.base);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    config.clock = clock.clone();
    let client = GraphClient::new(config, secret_credential()).unwrap();
    client.get_json("/users").await.unwrap();
    client.get_json("/groups").await.unwrap();
    assert_eq!(server.token_requests().len(), 1, "cached");
    clock.advance(Duration::from_secs(3600 - 301));
    client.get_json("/users").await.unwrap();
    assert_eq!(server.token_requests().len(), 1, "still fresh 301 s before expiry");
    clock.advance(Duration::from_secs(2));
    client.get_json("/users").await.unwrap();
    assert_eq!(server.token_requests().len(), 2, "refreshed within the 5-minute margin");
    let auth: Vec<String> = server.graph_requests().iter().filter_map(|r| r.header("authorization")).collect();
    assert_eq!(auth, ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(client.stats().token_requests, 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = start(|r, _| {
        if r.is_token_request() {
            token_reply("tok-shared", 3600).delayed(Duration::from_millis(100))
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let (config, _) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.get_json(&format!("/users/{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.token_requests().len(), 1);
    assert_eq!(server.graph_requests().len(), 8);
}

#[tokio::test]
async fn a_401_gets_a_fresh_token_once() {
    let server = start(|r, earlier| {
        if r.is_token_request() {
            let n = earlier.iter().filter(|e| e.is_token_request()).count() + 1;
            token_reply(&format!("tok-{n}"), 3600)
        } else if r.header("authorization").as_deref() == Some("Bearer tok-1") {
            Reply::json(401, json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}))
        } else {
            Reply::json(200, json!({"ok": 1}))
        }
    })
    .await;
    let (config, _) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    assert_eq!(client.get_json("/users").await.unwrap(), json!({"ok": 1}));
    assert_eq!(server.token_requests().len(), 2);
}

async fn certificate_assertion(algorithm: AssertionAlgorithm) -> (MockServer, String) {
    let server = counting_token_server(3599).await;
    let (config, _) = test_config(&server.base);
    let cert = ClientCertificate::from_file(&fixture("test-client-cert.pem"), None).unwrap().with_algorithm(algorithm);
    let credential = Credential::ClientCertificate { tenant_id: TENANT.into(), client_id: CLIENT.into(), certificate: Arc::new(cert) };
    let client = GraphClient::new(config, credential).unwrap();
    client.get_json("/organization").await.unwrap();
    let tokens = server.token_requests();
    assert_eq!(tokens.len(), 1);
    let form = tokens[0].form();
    assert_eq!(form.get("client_assertion_type").map(String::as_str), Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    assert_eq!(form.get("grant_type").map(String::as_str), Some("client_credentials"));
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT));
    assert!(!form.contains_key("client_secret"));
    let assertion = form.get("client_assertion").cloned().unwrap();
    (server, assertion)
}

fn check_claims(claims: &Value, server: &MockServer) {
    assert_eq!(claims["aud"], json!(format!("{}/{TENANT}/oauth2/v2.0/token", server.base)));
    assert_eq!(claims["iss"], json!(CLIENT));
    assert_eq!(claims["sub"], json!(CLIENT));
    assert_eq!(claims["jti"].as_str().map(str::len), Some(36));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let nbf = claims["nbf"].as_u64().unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(nbf <= now && now - nbf < 60, "nbf {nbf} now {now}");
    assert!(exp > nbf && exp - nbf <= 600);
}

#[tokio::test]
async fn certificate_assertion_is_ps256_with_sha256_thumbprint_and_verifies() {
    let (server, assertion) = certificate_assertion(AssertionAlgorithm::Ps256).await;
    let (header, claims, signature, signing_input) = decode_jwt(&assertion);
    assert_eq!(header["alg"], json!("PS256"));
    assert_eq!(header["typ"], json!("JWT"));
    assert_eq!(header["x5t#S256"], json!(fixture_text("test-client-cert.x5t-s256.txt")));
    check_claims(&claims, &server);
    let public = rsa::RsaPublicKey::from_public_key_pem(&fixture_text("test-client-pubkey.pem")).unwrap();
    let verifier = rsa::pss::VerifyingKey::<sha2::Sha256>::new(public);
    let sig = rsa::pss::Signature::try_from(signature.as_slice()).unwrap();
    verifier.verify(signing_input.as_bytes(), &sig).expect("PS256 signature verifies with the certificate's public key");
    let mut tampered = signing_input.clone().into_bytes();
    tampered[0] ^= 1;
    assert!(verifier.verify(&tampered, &sig).is_err());
}

#[tokio::test]
async fn legacy_rs256_assertion_uses_sha1_thumbprint_and_verifies() {
    let (server, assertion) = certificate_assertion(AssertionAlgorithm::Rs256).await;
    let (header, claims, signature, signing_input) = decode_jwt(&assertion);
    assert_eq!(header["alg"], json!("RS256"));
    assert_eq!(header["x5t"], json!(fixture_text("test-client-cert.x5t.txt")));
    check_claims(&claims, &server);
    let public = rsa::RsaPublicKey::from_public_key_pem(&fixture_text("test-client-pubkey.pem")).unwrap();
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
    let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
    verifier.verify(signing_input.as_bytes(), &sig).expect("RS256 signature verifies");
}

#[tokio::test]
async fn federated_token_file_is_reread_on_every_token_request() {
    let server = counting_token_server(3600).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "federated-jwt-one\n").unwrap();
    let (mut config, _) = test_config(&server.base);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    config.clock = clock.clone();
    let lookup = {
        let file = file.to_string_lossy().into_owned();
        move |k: &str| match k {
            "AZURE_TENANT_ID" => Some(TENANT.to_owned()),
            "AZURE_CLIENT_ID" => Some(CLIENT.to_owned()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some(file.clone()),
            _ => None,
        }
    };
    let credential = Credential::from_env(lookup).unwrap();
    let client = GraphClient::new(config, credential).unwrap();
    client.get_json("/users").await.unwrap();
    std::fs::write(&file, "federated-jwt-two").unwrap();
    clock.advance(Duration::from_secs(3600));
    client.get_json("/users").await.unwrap();

    let tokens = server.token_requests();
    assert_eq!(tokens.len(), 2);
    let assertions: Vec<String> = tokens.iter().map(|t| t.form()["client_assertion"].clone()).collect();
    assert_eq!(assertions, ["federated-jwt-one", "federated-jwt-two"]);
    for t in &tokens {
        let form = t.form();
        assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        assert_eq!(form["client_id"], CLIENT);
        assert_eq!(form["scope"], format!("{}/.default", server.base));
    }

    std::fs::remove_file(&file).unwrap();
    clock.advance(Duration::from_secs(3600));
    let err = client.get_json("/users").await.unwrap_err();
    match &err {
        GraphError::Auth { source, .. } => assert!(matches!(**source, AuthError::FederatedTokenFile { .. })),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn token_endpoint_errors_keep_aadsts_but_no_secret() {
    let server = start(|r, _| {
        if r.is_token_request() {
            Reply::json(401, json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                "error_codes": [7000215],
                "timestamp": "2024-01-01 00:00:00Z",
                "trace_id": "trace-1",
                "correlation_id": "corr-1"
            }))
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let (config, _) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    let err = client.get_json("/users").await.unwrap_err();
    assert!(!err.is_retryable());
    let GraphError::Auth { source, request } = &err else { panic!("unexpected {err:?}") };
    assert_eq!(request.to_string(), "GET /v1.0/users");
    match source.as_ref() {
        AuthError::TokenEndpoint { status, error, description, error_codes, trace_id, correlation_id } => {
            assert_eq!(*status, 401);
            assert_eq!(error, "invalid_client");
            assert!(description.starts_with("AADSTS7000215"));
            assert_eq!(error_codes, &[7000215]);
            assert_eq!(trace_id.as_deref(), Some("trace-1"));
            assert_eq!(correlation_id.as_deref(), Some("corr-1"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let chain = error_chain(&err);
    assert!(chain.contains("AADSTS7000215"), "{chain}");
    assert!(!chain.contains(CLIENT_SECRET));
    assert!(!format!("{err:?}").contains(CLIENT_SECRET));
    assert!(server.graph_requests().is_empty());
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[tokio::test]
async fn no_secret_appears_in_debug_or_error_strings() {
    const ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.access-token-payload.sig";
    let server = start(|r, _| {
        if r.is_token_request() {
            let form = r.form();
            if form.contains_key("client_assertion") {
                // Echo nothing of the assertion back; reject it.
                Reply::json(400, json!({"error": "invalid_client", "error_description": "AADSTS700027: Client assertion failed signature validation.", "error_codes": [700027]}))
            } else {
                token_reply(ACCESS_TOKEN, 3600)
            }
        } else {
            Reply::json(403, json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}}))
        }
    })
    .await;

    // Client secret + access token.
    let (config, _) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    let err = client.get_json("/users?$deltatoken=state-secret").await.unwrap_err();
    let mut texts = vec![format!("{err:?}"), error_chain(&err), format!("{client:?}"), format!("{:?}", secret_credential())];
    // Certificate: the assertion must not leak through the auth error.
    let cert = ClientCertificate::from_file(&fixture("test-client-cert.pem"), None).unwrap();
    let cert_credential = Credential::ClientCertificate { tenant_id: TENANT.into(), client_id: CLIENT.into(), certificate: Arc::new(cert) };
    texts.push(format!("{cert_credential:?}"));
    let (config, _) = test_config(&server.base);
    let cert_client = GraphClient::new(config, cert_credential).unwrap();
    let err = cert_client.get_json("/users").await.unwrap_err();
    texts.push(format!("{err:?}"));
    texts.push(error_chain(&err));
    texts.push(format!("{cert_client:?}"));
    let assertion = server.token_requests().iter().find_map(|t| t.form().get("client_assertion").cloned()).unwrap();
    // Static token.
    let static_credential = Credential::StaticToken(Secret::new(ACCESS_TOKEN));
    texts.push(format!("{static_credential:?}"));

    let key_pem = std::fs::read_to_string(fixture("test-client-cert.pem")).unwrap();
    let key_line = key_pem.lines().skip_while(|l| !l.contains("PRIVATE KEY")).nth(1).unwrap().to_owned();
    for text in &texts {
        assert!(!text.contains(CLIENT_SECRET), "client secret leaked: {text}");
        assert!(!text.contains(ACCESS_TOKEN), "access token leaked: {text}");
        assert!(!text.contains("access-token-payload"), "access token leaked: {text}");
        assert!(!text.contains(&assertion), "assertion leaked: {text}");
        assert!(!text.contains(&assertion[..40]), "assertion leaked: {text}");
        assert!(!text.contains(&key_line), "private key leaked: {text}");
        assert!(!text.contains("state-secret"), "delta token leaked: {text}");
    }
    assert!(texts[1].contains("User.ReadWrite.All"), "{}", texts[1]);
}

#[test]
fn from_env_loads_the_certificate_fixture() {
    let path = fixture("test-client-cert.pem").to_string_lossy().into_owned();
    let lookup = move |k: &str| match k {
        "AZURE_TENANT_ID" => Some(TENANT.to_owned()),
        "AZURE_CLIENT_ID" => Some(CLIENT.to_owned()),
        "AZURE_CLIENT_CERTIFICATE_PATH" => Some(path.clone()),
        "AZURE_CLIENT_CERTIFICATE_PASSWORD" => Some("unused-for-unencrypted-keys".to_owned()),
        _ => None,
    };
    match Credential::from_env(lookup).unwrap() {
        Credential::ClientCertificate { certificate, tenant_id, client_id } => {
            assert_eq!(tenant_id, TENANT);
            assert_eq!(client_id, CLIENT);
            assert_eq!(certificate.thumbprint_sha256(), fixture_text("test-client-cert.x5t-s256.txt"));
            assert_eq!(certificate.thumbprint_sha1(), fixture_text("test-client-cert.x5t.txt"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn token_endpoint_outage_is_retried() {
    let server = start(|r, earlier| {
        if r.is_token_request() {
            if earlier.iter().any(|e| e.is_token_request()) {
                token_reply("tok-after-outage", 3600)
            } else {
                Reply::json(503, json!({"error": "temporarily_unavailable", "error_description": "AADSTS90033: A transient error has occurred."}))
            }
        } else {
            Reply::json(200, json!({"ok": true}))
        }
    })
    .await;
    let (config, sleeper) = test_config(&server.base);
    let client = GraphClient::new(config, secret_credential()).unwrap();
    assert_eq!(client.get_json("/users").await.unwrap(), json!({"ok": true}));
    assert_eq!(server.token_requests().len(), 2);
    assert_eq!(sleeper.delays().len(), 1);
    assert_eq!(server.graph_requests()[0].header("authorization").as_deref(), Some("Bearer tok-after-outage"));
}
