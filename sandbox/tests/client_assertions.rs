//! Client assertions are verified as Entra verifies them: against a
//! certificate registered for the client. An assertion signed by any other
//! key, or sent while no certificate is registered, is refused with
//! `invalid_client` / AADSTS700027; a correctly signed one (PS256 with
//! `x5t#S256`, or RS256 with `x5t`) gets a token.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::*;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{json, Value};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../providers/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn fixture_key() -> rsa::RsaPrivateKey {
    let pem = fixture("test-client-cert.pem");
    let begin = pem.find("-----BEGIN PRIVATE KEY-----").unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem[begin..]).unwrap()
}

#[derive(Clone, Copy)]
enum Alg {
    Ps256,
    Rs256,
}

/// A client assertion for the sandbox's client, signed by `key`, naming the
/// fixture certificate by thumbprint.
fn assertion(sb: &sandbox::SandboxHandle, key: &rsa::RsaPrivateKey, alg: Alg) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = match alg {
        Alg::Ps256 => {
            json!({"alg": "PS256", "typ": "JWT", "x5t#S256": fixture("test-client-cert.x5t-s256.txt").trim()})
        }
        Alg::Rs256 => {
            json!({"alg": "RS256", "typ": "JWT", "x5t": fixture("test-client-cert.x5t.txt").trim()})
        }
    };
    let claims = json!({"aud": sb.token_url(), "iss": sb.client_id(), "sub": sb.client_id(), "exp": now + 600, "nbf": now, "jti": now.to_string()});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = match alg {
        Alg::Ps256 => rsa::pss::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign_with_rng(&mut rand::thread_rng(), input.as_bytes())
            .to_vec(),
        Alg::Rs256 => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign(input.as_bytes())
            .to_vec(),
    };
    format!("{input}.{}", B64.encode(sig))
}

async fn token_with(env: &Env, assertion: &str) -> (u16, Value) {
    let form = [
        ("client_id", env.sb.client_id()),
        ("client_assertion", assertion),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("scope", "https://graph.microsoft.com/.default"),
        ("grant_type", "client_credentials"),
    ];
    let r = env
        .http
        .post(env.sb.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn assert_refused(what: &str, (status, body): &(u16, Value)) {
    assert_eq!(*status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
    assert_eq!(body["error_codes"][0], 700027, "{what}: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700027"),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn assertions_are_verified_against_the_registered_certificate() {
    let env = start().await;
    let key = fixture_key();

    // No certificate registered: even a correctly signed assertion is refused.
    let none = token_with(&env, &assertion(&env.sb, &key, Alg::Ps256)).await;
    assert_refused("no certificate registered", &none);
    assert!(
        none.1["error_description"]
            .as_str()
            .unwrap()
            .contains("no certificate is registered"),
        "{}",
        none.1
    );

    // Register the fixture certificate through the admin API (the private
    // key in the same file is ignored).
    let r = env
        .http
        .put(format!("{}/certificates", env.sb.admin_url()))
        .body(fixture("test-client-cert.pem"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let registered: Value = r.json().await.unwrap();
    assert_eq!(
        registered["thumbprint"],
        fixture("test-client-cert.x5t-s256.txt").trim()
    );

    // Correctly signed, in both documented formats: accepted, and the token works.
    for alg in [Alg::Ps256, Alg::Rs256] {
        let (status, body) = token_with(&env, &assertion(&env.sb, &key, alg)).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let users = env
            .http
            .get(env.url("/v1.0/users"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(users.status().as_u16(), 200);
    }

    // Signed by another key, claiming the registered certificate's thumbprint.
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    for alg in [Alg::Ps256, Alg::Rs256] {
        assert_refused(
            "signed by an unregistered key",
            &token_with(&env, &assertion(&env.sb, &other, alg)).await,
        );
    }

    // A good signature over other claims (tampered payload), a made-up
    // signature, an unknown thumbprint, an unsupported algorithm.
    let good = assertion(&env.sb, &key, Alg::Rs256);
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(claims.to_string()),
        parts[2]
    );
    assert_refused("tampered claims", &token_with(&env, &tampered).await);
    assert_refused(
        "made-up signature",
        &token_with(&env, &format!("{}.{}.c2lnbmF0dXJl", parts[0], parts[1])).await,
    );
    let unknown_thumbprint = format!(
        "{}.{}.{}",
        B64.encode(json!({"alg": "RS256", "x5t": "AAAA"}).to_string()),
        parts[1],
        parts[2]
    );
    let refused = token_with(&env, &unknown_thumbprint).await;
    assert_refused("unknown thumbprint", &refused);
    assert!(
        refused.1["error_description"]
            .as_str()
            .unwrap()
            .contains("key was not found"),
        "{}",
        refused.1
    );
    let hs256 = format!(
        "{}.{}.{}",
        B64.encode(
            json!({"alg": "HS256", "x5t": fixture("test-client-cert.x5t.txt").trim()}).to_string()
        ),
        parts[1],
        parts[2]
    );
    assert_refused("HS256", &token_with(&env, &hs256).await);

    // Removing the certificate refuses the same good assertion again.
    let r = env
        .http
        .delete(format!("{}/certificates", env.sb.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_refused("certificate removed", &token_with(&env, &good).await);
}
