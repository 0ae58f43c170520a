//! tenantctl's certificate credential against the sandbox, which verifies
//! client assertions as Entra does: accepted once the certificate is
//! registered for the client, refused (AADSTS700027) before.

mod common;

use std::sync::Arc;

use common::*;
use providers::graph::{ClientCertificate, Cloud, Credential, GraphClient, GraphConfig};

fn fixture(name: &str) -> std::path::PathBuf {
    repo().join("providers/tests/fixtures").join(name)
}

fn cert_client(sb: &sandbox::SandboxHandle) -> GraphClient {
    let base = sb.base_url();
    let mut config = GraphConfig::new(Cloud::custom(&base, &base).unwrap());
    config.retry = fast_retry();
    let certificate = ClientCertificate::from_file(&fixture("test-client-cert.pem"), None).unwrap();
    let credential = Credential::ClientCertificate {
        tenant_id: sb.tenant_id().into(),
        client_id: sb.client_id().into(),
        certificate: Arc::new(certificate),
    };
    GraphClient::new(config, credential).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_credential_works_only_once_registered() {
    let sb = sandbox().await;
    let err = cert_client(&sb)
        .get_json("/users")
        .await
        .expect_err("no certificate registered: refused");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    assert!(chain.contains("AADSTS700027"), "{chain}");
    sb.register_client_certificate(
        &std::fs::read_to_string(fixture("test-client-cert.pem")).unwrap(),
    )
    .unwrap();
    let users = cert_client(&sb)
        .get_json("/users")
        .await
        .expect("a registered certificate signs in");
    assert!(users["value"].is_array());
    sb.shutdown().await.unwrap();
}
