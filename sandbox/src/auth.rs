//! The emulated Microsoft identity platform: the client-credentials token
//! endpoint (`POST /{tenant}/oauth2/v2.0/token`) with a secret or a client
//! assertion, OpenID discovery documents for MSAL-based clients, and bearer
//! token validation for Graph calls.
//!
//! Tokens are JWT-shaped (`header.payload.signature`) and valid for 3599 s.
//! The "signature" is a SHA-256 over a per-sandbox key and the token body: it
//! proves the token was issued by this sandbox, nothing more, and survives no
//! restart of an in-memory sandbox.
//!
//! Client assertions (certificate auth) are checked for shape, `aud` (the
//! token endpoint), `iss` = `sub` = client id and `exp`, and their PS256 or
//! RS256 signature is verified against a certificate registered for the
//! client (see [`crate::certs`]); with none registered every assertion is
//! refused with Entra's `invalid_client` / AADSTS700027, as Entra refuses
//! an app with no certificate credential.

use crate::error::GraphError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const TOKEN_LIFETIME_SECS: i64 = 3599;
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub tenant_id: String,
    pub domain: String,
    pub client_id: String,
    pub client_secret: String,
    pub key: [u8; 32],
    /// Certificate credentials of the client, for client assertions.
    pub certificates: crate::certs::CertificateStore,
}

/// An AAD-style token error: status and body.
pub fn aad_error(status: u16, error: &str, code: u32, description: &str) -> (u16, Value) {
    let trace = crate::resources::new_id();
    let corr = crate::resources::new_id();
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    (
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
    )
}

impl AuthConfig {
    fn known_tenant(&self, seg: &str) -> bool {
        seg.eq_ignore_ascii_case(&self.tenant_id) || seg.eq_ignore_ascii_case(&self.domain) || seg == "organizations"
    }

    fn sign(&self, body: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(body.as_bytes());
        B64.encode(h.finalize())
    }

    /// Issues a token for the configured client.
    pub fn issue(&self, now: i64) -> String {
        let header = B64.encode(json!({"typ": "JWT", "alg": "HS256", "kid": "tenantctl-sandbox"}).to_string());
        let payload = B64.encode(
            json!({
                "aud": "https://graph.microsoft.com",
                "iss": format!("https://sts.windows.net/{}/", self.tenant_id),
                "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_SECS,
                "appid": self.client_id,
                "tid": self.tenant_id,
                "roles": ["Directory.ReadWrite.All", "Group.ReadWrite.All", "User.ReadWrite.All", "RoleManagement.ReadWrite.Directory",
                          "DeviceManagementConfiguration.ReadWrite.All", "DeviceManagementServiceConfig.ReadWrite.All", "Policy.ReadWrite.ConditionalAccess"]
            })
            .to_string(),
        );
        let body = format!("{header}.{payload}");
        let sig = self.sign(&body);
        format!("{body}.{sig}")
    }

    /// Checks an `Authorization` header value.
    pub fn validate(&self, header: Option<&str>, now: i64) -> Result<(), GraphError> {
        let invalid = |m: &str| GraphError::new(401, "InvalidAuthenticationToken", m);
        let Some(h) = header else { return Err(invalid("Access token is empty.")) };
        let token = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")).ok_or_else(|| invalid("Access token is empty."))?.trim();
        let mut parts = token.rsplitn(2, '.');
        let (Some(sig), Some(body)) = (parts.next(), parts.next()) else {
            return Err(invalid("IDX14100: JWT is not well formed, there are no dots (.)."));
        };
        if self.sign(body) != sig {
            return Err(invalid("Access token validation failure. Invalid audience."));
        }
        let payload = body.split('.').nth(1).and_then(|p| B64.decode(p).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let exp = payload.as_ref().and_then(|p| p.get("exp")).and_then(Value::as_i64).unwrap_or(0);
        if exp <= now {
            return Err(invalid("Lifetime validation failed, the token is expired."));
        }
        Ok(())
    }

    /// Answers the token endpoint. `token_url` is the URL the client posted to.
    pub fn token(&self, tenant_seg: &str, token_url: &str, form: &[(String, String)], now: i64) -> (u16, Value) {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if !self.known_tenant(tenant_seg) {
            return aad_error(400, "invalid_request", 90002, &format!("Tenant '{tenant_seg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
        }
        match get("grant_type") {
            Some("client_credentials") => {}
            Some(other) => return aad_error(400, "unsupported_grant_type", 70003, &format!("The app requested an unsupported grant type '{other}'.")),
            None => return aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."),
        }
        let client_id = match get("client_id") {
            Some(c) => c.to_string(),
            None => match get("client_assertion").and_then(assertion_subject) {
                Some(s) => s,
                None => return aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."),
            },
        };
        if client_id != self.client_id {
            return aad_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{}'.", self.tenant_id));
        }
        match get("scope") {
            None => return aad_error(400, "invalid_request", 90014, "The required field 'scope' is missing from the credential."),
            Some(s) if !s.split(' ').any(|x| x.ends_with("/.default")) => {
                return aad_error(400, "invalid_scope", 1002012, &format!("The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
            }
            Some(_) => {}
        }
        match (get("client_secret"), get("client_assertion"), get("client_assertion_type")) {
            (Some(secret), _, _) => {
                if secret != self.client_secret {
                    return aad_error(
                        401,
                        "invalid_client",
                        7000215,
                        &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", self.client_id),
                    );
                }
            }
            (None, Some(assertion), Some(JWT_BEARER)) => {
                if let Err(msg) = self.check_assertion(assertion, tenant_seg, token_url, now) {
                    return aad_error(401, "invalid_client", 700027, &format!("Client assertion failed validation: {msg}."));
                }
            }
            (None, Some(_), _) => return aad_error(400, "invalid_request", 700025, "The client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."),
            (None, None, _) => {
                return aad_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
            }
        }
        (200, json!({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS, "ext_expires_in": TOKEN_LIFETIME_SECS, "access_token": self.issue(now)}))
    }


    fn check_assertion(&self, jwt: &str, tenant_seg: &str, token_url: &str, now: i64) -> Result<(), String> {
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err("the assertion is not a well-formed JWT".into());
        }
        let decode = |p: &str| B64.decode(p.trim_end_matches('=')).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let header = decode(parts[0]).filter(Value::is_object).ok_or("the assertion header is not JSON")?;
        let claims = decode(parts[1]).filter(Value::is_object).ok_or("the assertion payload is not JSON")?;
        let aud_ok = |a: &str| {
            let a = a.trim_end_matches('/');
            a == token_url || a == token_url.replacen(tenant_seg, &self.tenant_id, 1) || a.ends_with(&format!("/{tenant_seg}/oauth2/v2.0/token")) || a.ends_with(&format!("/{}/oauth2/v2.0/token", self.tenant_id))
        };
        let aud_match = match claims.get("aud") {
            Some(Value::String(a)) => aud_ok(a),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(aud_ok),
            _ => false,
        };
        if !aud_match {
            return Err(format!("the audience must be the token endpoint {token_url}"));
        }
        for claim in ["iss", "sub"] {
            if claims.get(claim).and_then(Value::as_str) != Some(self.client_id.as_str()) {
                return Err(format!("the '{claim}' claim must be the client id"));
            }
        }
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
            if exp <= now {
                return Err("the assertion has expired".into());
            }
        }
        // Last, as Entra: who the assertion claims to be is only believed
        // when a certificate of that client signed it.
        self.certificates.verify(&header, &format!("{}.{}", parts[0], parts[1]), parts[2])
    }

    /// `/{tenant}/v2.0/.well-known/openid-configuration`, which MSAL reads.
    pub fn openid_configuration(&self, base: &str, tenant_seg: &str) -> Option<Value> {
        if !self.known_tenant(tenant_seg) {
            return None;
        }
        let root = format!("{base}/{}", self.tenant_id);
        Some(json!({
            "token_endpoint": format!("{root}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/{}/discovery/v2.0/keys", self.tenant_id),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{root}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{base}/oidc/userinfo"),
            "authorization_endpoint": format!("{root}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{root}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{root}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
            "kerberos_endpoint": format!("{root}/kerberos"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": base.trim_start_matches("http://").trim_start_matches("https://"),
            "rbac_url": "https://pas.windows.net"
        }))
    }
}

/// The `sub` claim of a client assertion (the client id when `client_id` is omitted).
fn assertion_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&B64.decode(payload.trim_end_matches('=')).ok()?).ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_string)
}
