//! Authentication: turning a configured [`Credential`] into Graph access
//! tokens, cached and refreshed before expiry.
//!
//! Supported: client secret, client certificate (a signed JWT client
//! assertion), workload identity federation (a federated token file re-read
//! on every token request, as GitHub Actions, Azure Pipelines and Kubernetes
//! rotate it), a static access token, and (in [`super::credential_chain`],
//! which also picks one of them) managed identity and the Azure CLI. Every secret is a [`Secret`]; token
//! endpoint errors keep Entra's AADSTS code and description, never the
//! secret or the assertion that was sent.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::Rng;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::cloud::Cloud;
use super::credential_chain::{self, AzureCli, CredentialKind, ManagedIdentity};
use super::retry::Clock;
use super::secret::Secret;

/// The `client_assertion_type` for JWT bearer client assertions (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client authenticates to Entra ID.
#[derive(Debug, Clone)]
pub enum Credential {
    /// OAuth2 client credentials with a client secret.
    ClientSecret {
        /// Directory (tenant) id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// The client secret.
        secret: Secret,
    },
    /// OAuth2 client credentials with a certificate-signed JWT assertion.
    ClientCertificate {
        /// Directory (tenant) id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// The certificate and its private key.
        certificate: Arc<ClientCertificate>,
    },
    /// Workload identity federation: an external OIDC token read from a file.
    WorkloadIdentity {
        /// Directory (tenant) id or domain.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// File holding the federated token; re-read on every token request
        /// because CI systems and Kubernetes rotate it in place.
        token_file: PathBuf,
    },
    /// A ready access token (e.g. from `az account get-access-token`); never refreshed.
    StaticToken(Secret),
    /// A managed identity (IMDS or the App Service identity endpoint).
    ManagedIdentity(ManagedIdentity),
    /// The Azure CLI's signed-in account (`az login`).
    AzureCli(AzureCli),
}

impl Credential {
    /// Reads a credential from Azure SDK environment variable names through
    /// `lookup` (pass `|k| std::env::var(k).ok()` in production; tests pass
    /// a map so they never mutate the process environment).
    ///
    /// Precedence: `TENANTCTL_ACCESS_TOKEN` (static token); otherwise
    /// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` with, in this order,
    /// `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE_PATH` (with optional
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD`), `AZURE_FEDERATED_TOKEN_FILE`.
    /// Empty values count as unset.
    /// A client-secret credential from known values (e.g. a sandbox's).
    pub fn client_secret(tenant_id: impl Into<String>, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::ClientSecret { tenant_id: tenant_id.into(), client_id: client_id.into(), secret: Secret::new(secret) }
    }

    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        if let Some(token) = get("TENANTCTL_ACCESS_TOKEN") {
            return Ok(Self::StaticToken(Secret::new(token.trim())));
        }
        let (Some(tenant_id), Some(client_id)) = (get("AZURE_TENANT_ID"), get("AZURE_CLIENT_ID")) else {
            return Err(AuthError::NotConfigured {
                reason: "set TENANTCTL_ACCESS_TOKEN, or AZURE_TENANT_ID and AZURE_CLIENT_ID with one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE".to_owned(),
            });
        };
        if let Some(secret) = get("AZURE_CLIENT_SECRET") {
            return Ok(Self::ClientSecret { tenant_id, client_id, secret: Secret::new(secret) });
        }
        if let Some(path) = get("AZURE_CLIENT_CERTIFICATE_PATH") {
            let password = get("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new);
            let certificate = ClientCertificate::from_file(Path::new(&path), password.as_ref())?;
            return Ok(Self::ClientCertificate { tenant_id, client_id, certificate: Arc::new(certificate) });
        }
        if let Some(path) = get("AZURE_FEDERATED_TOKEN_FILE") {
            return Ok(Self::WorkloadIdentity { tenant_id, client_id, token_file: PathBuf::from(path) });
        }
        Err(AuthError::NotConfigured {
            reason: "AZURE_TENANT_ID and AZURE_CLIENT_ID are set but none of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE".to_owned(),
        })
    }

    fn tenant_and_client(&self) -> Option<(&str, &str)> {
        match self {
            Self::ClientSecret { tenant_id, client_id, .. }
            | Self::ClientCertificate { tenant_id, client_id, .. }
            | Self::WorkloadIdentity { tenant_id, client_id, .. } => Some((tenant_id, client_id)),
            Self::StaticToken(_) | Self::ManagedIdentity(_) | Self::AzureCli(_) => None,
        }
    }

    /// Which kind of credential this is (its name is what gets logged).
    pub fn kind(&self) -> CredentialKind {
        match self {
            Self::ClientSecret { .. } => CredentialKind::Secret,
            Self::ClientCertificate { .. } => CredentialKind::Certificate,
            Self::WorkloadIdentity { .. } => CredentialKind::WorkloadIdentity,
            Self::StaticToken(_) => CredentialKind::Token,
            Self::ManagedIdentity(_) => CredentialKind::ManagedIdentity,
            Self::AzureCli(_) => CredentialKind::AzureCli,
        }
    }
}

/// The JWS algorithm for certificate assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256 and an `x5t#S256` (SHA-256 thumbprint) header.
    /// The current Microsoft identity platform "certificate credentials"
    /// page says `alg` "should be PS256" with `x5t#S256`, so this is the default.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and an `x5t` (SHA-1 thumbprint)
    /// header: the older documented format, kept for authorities that do
    /// not accept PS256 yet.
    Rs256,
}

/// A client certificate and its RSA private key, loaded from PEM.
pub struct ClientCertificate {
    key: rsa::RsaPrivateKey,
    der: Vec<u8>,
    algorithm: AssertionAlgorithm,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .field("algorithm", &self.algorithm)
            .field("private_key", &"***")
            .finish()
    }
}

impl ClientCertificate {
    /// Reads a PEM file holding the certificate and its private key (the
    /// layout `AZURE_CLIENT_CERTIFICATE_PATH` uses).
    pub fn from_file(path: &Path, password: Option<&Secret>) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| AuthError::CertificateFile { path: path.to_path_buf(), source })?;
        Self::from_pem(&text, password)
    }

    /// Parses PEM text with a `CERTIFICATE` block (the first is used) and an
    /// unencrypted RSA key (`PRIVATE KEY` or `RSA PRIVATE KEY`).
    ///
    /// Encrypted keys are refused with [`AuthError::EncryptedKeyUnsupported`]
    /// whether or not a password is given: decrypting PKCS#8 would need
    /// extra crypto dependencies for a rare setup.
    pub fn from_pem(pem: &str, password: Option<&Secret>) -> Result<Self, AuthError> {
        let _ = password; // accepted for an unencrypted key; see above for encrypted ones
        let blocks = parse_pem(pem)?;
        let der = blocks
            .iter()
            .find(|b| b.label == "CERTIFICATE")
            .map(|b| b.data.clone())
            .ok_or_else(|| AuthError::Certificate { reason: "no CERTIFICATE block in the PEM".to_owned() })?;
        let mut key = None;
        for block in &blocks {
            match block.label.as_str() {
                "ENCRYPTED PRIVATE KEY" => return Err(AuthError::EncryptedKeyUnsupported),
                "RSA PRIVATE KEY" if block.encrypted => return Err(AuthError::EncryptedKeyUnsupported),
                "PRIVATE KEY" => {
                    use rsa::pkcs8::DecodePrivateKey;
                    key = Some(rsa::RsaPrivateKey::from_pkcs8_der(&block.data).map_err(|_| AuthError::Certificate {
                        reason: "the PRIVATE KEY block is not an RSA PKCS#8 key (only RSA keys are supported)".to_owned(),
                    })?);
                }
                "RSA PRIVATE KEY" => {
                    use rsa::pkcs1::DecodeRsaPrivateKey;
                    key = Some(rsa::RsaPrivateKey::from_pkcs1_der(&block.data).map_err(|_| AuthError::Certificate {
                        reason: "the RSA PRIVATE KEY block could not be parsed".to_owned(),
                    })?);
                }
                "EC PRIVATE KEY" => {
                    return Err(AuthError::Certificate { reason: "EC keys are not supported; use an RSA certificate".to_owned() })
                }
                _ => {}
            }
        }
        let key = key.ok_or_else(|| AuthError::Certificate { reason: "no private key block in the PEM".to_owned() })?;
        Ok(Self { key, der, algorithm: AssertionAlgorithm::default() })
    }

    /// Chooses the assertion algorithm (PS256 by default).
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Base64url SHA-256 thumbprint of the certificate DER (`x5t#S256`).
    pub fn thumbprint_sha256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.der))
    }

    /// Base64url SHA-1 thumbprint of the certificate DER (`x5t`).
    pub fn thumbprint_sha1(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha1::digest(&self.der))
    }

    /// Builds and signs a client assertion for `client_id` at `audience`
    /// (the token endpoint), valid from `now` for 10 minutes.
    pub fn assertion(&self, client_id: &str, audience: &str, now: SystemTime) -> Result<Secret, AuthError> {
        let header = match self.algorithm {
            AssertionAlgorithm::Ps256 => json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint_sha256()}),
            AssertionAlgorithm::Rs256 => json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint_sha1()}),
        };
        let nbf = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": new_jti(),
            "nbf": nbf,
            "iat": nbf,
            "exp": nbf + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self.algorithm {
            AssertionAlgorithm::Ps256 => {
                let signer = rsa::pss::BlindedSigningKey::<Sha256>::new(self.key.clone());
                signer
                    .try_sign_with_rng(&mut rand::thread_rng(), signing_input.as_bytes())
                    .map_err(|_| AuthError::Signing)?
                    .to_vec()
            }
            AssertionAlgorithm::Rs256 => {
                let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(self.key.clone());
                signer.try_sign(signing_input.as_bytes()).map_err(|_| AuthError::Signing)?.to_vec()
            }
        };
        Ok(Secret::new(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }
}

/// A random RFC 4122 version-4 style identifier for `jti`.
fn new_jti() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    let h = hex::encode(b);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

struct PemBlock {
    label: String,
    data: Vec<u8>,
    encrypted: bool,
}

/// Splits PEM text into labelled DER blocks (RFC 7468), noting legacy
/// `Proc-Type: 4,ENCRYPTED` headers.
fn parse_pem(text: &str) -> Result<Vec<PemBlock>, AuthError> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String, bool)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            current = Some((label.to_owned(), String::new(), false));
        } else if let Some(label) = line.strip_prefix("-----END ").and_then(|l| l.strip_suffix("-----")) {
            if let Some((open, body, encrypted)) = current.take() {
                if open != label {
                    return Err(AuthError::Certificate { reason: format!("PEM block BEGIN {open} ends with END {label}") });
                }
                let data = STANDARD
                    .decode(body.as_bytes())
                    .map_err(|_| AuthError::Certificate { reason: format!("PEM block {open} is not valid base64") })?;
                blocks.push(PemBlock { label: open, data, encrypted });
            }
        } else if let Some((_, body, encrypted)) = current.as_mut() {
            if line.contains(':') {
                if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                    *encrypted = true;
                }
            } else {
                body.push_str(line);
            }
        }
    }
    if blocks.is_empty() {
        return Err(AuthError::Certificate { reason: "no PEM blocks found".to_owned() });
    }
    Ok(blocks)
}

/// Authentication failures. Never contains a secret, token or assertion.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not enough configuration to build a credential.
    #[error("no Graph credential configured: {reason}")]
    NotConfigured {
        /// What is missing.
        reason: String,
    },
    /// The token endpoint answered with an OAuth error.
    #[error("token endpoint returned HTTP {status}: {error}: {description}")]
    TokenEndpoint {
        /// HTTP status.
        status: u16,
        /// OAuth `error`, e.g. `invalid_client`.
        error: String,
        /// `error_description`, starting with the AADSTS code.
        description: String,
        /// `error_codes` (the numeric AADSTS codes).
        error_codes: Vec<i64>,
        /// `trace_id`, for support cases.
        trace_id: Option<String>,
        /// `correlation_id`, for support cases.
        correlation_id: Option<String>,
    },
    /// The token endpoint could not be reached.
    #[error("could not reach the token endpoint {endpoint}")]
    Network {
        /// The token endpoint URL (it carries no secret).
        endpoint: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx token response without a usable `access_token`.
    #[error("the token endpoint returned an unusable response: {reason}")]
    InvalidTokenResponse {
        /// What was wrong.
        reason: String,
    },
    /// The federated token file could not be read.
    #[error("could not read the federated token file {path}")]
    FederatedTokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The federated token file is empty.
    #[error("the federated token file {path} is empty")]
    EmptyFederatedToken {
        /// The file.
        path: PathBuf,
    },
    /// The certificate file could not be read.
    #[error("could not read the client certificate file {path}")]
    CertificateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate PEM is unusable.
    #[error("invalid client certificate: {reason}")]
    Certificate {
        /// What is wrong.
        reason: String,
    },
    /// The private key is encrypted, which is not supported.
    #[error("the client certificate's private key is encrypted, which tenantctl does not support (AZURE_CLIENT_CERTIFICATE_PASSWORD cannot be used); export the key unencrypted, e.g. `openssl pkcs8 -topk8 -nocrypt`, and protect the file instead")]
    EncryptedKeyUnsupported,
    /// Signing the assertion failed.
    #[error("could not sign the client assertion")]
    Signing,
    /// `TENANTCTL_CREDENTIAL` names no known credential.
    #[error("TENANTCTL_CREDENTIAL={name} is not a credential tenantctl knows; use one of {known}")]
    UnknownCredential {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// The managed identity endpoint refused the request.
    #[error("the managed identity endpoint ({source_name}) returned HTTP {status}: {message}")]
    ManagedIdentity {
        /// `imds` or `app-service`.
        source_name: &'static str,
        /// HTTP status.
        status: u16,
        /// The endpoint's message (it carries no token).
        message: String,
    },
    /// The Azure CLI gave no token.
    #[error("the Azure CLI credential failed: {reason}")]
    AzureCli {
        /// What went wrong (never the token).
        reason: String,
    },
    /// The IMDS default address was about to be used under the test guard.
    #[error("managed identity would use the default IMDS address 169.254.169.254, which TENANTCTL_FORBID_DEFAULT_IMDS forbids; set AZURE_POD_IDENTITY_AUTHORITY_HOST")]
    DefaultImdsForbidden,
}

impl AuthError {
    /// Whether asking again may succeed: network failures and 429/5xx from
    /// the token endpoint. Wrong credentials are not retried.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } => true,
            Self::TokenEndpoint { status, .. } | Self::ManagedIdentity { status, .. } => {
                *status == 429 || *status >= 500
            }
            _ => false,
        }
    }
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: SystemTime,
}

/// Acquires, caches and refreshes access tokens for one credential.
///
/// The cache sits behind an async mutex that is held while a token is
/// fetched, so concurrent callers share one token request (single flight).
pub struct TokenProvider {
    http: reqwest::Client,
    cloud: Cloud,
    credential: Credential,
    clock: Arc<dyn Clock>,
    refresh_margin: Duration,
    cache: tokio::sync::Mutex<Option<CachedToken>>,
    requests: AtomicU64,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("cloud", &self.cloud)
            .field("credential", &self.credential)
            .field("token_requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider that refreshes tokens `refresh_margin` before they expire
    /// (or at half their lifetime, whichever is earlier).
    pub fn new(
        http: reqwest::Client,
        cloud: Cloud,
        credential: Credential,
        clock: Arc<dyn Clock>,
        refresh_margin: Duration,
    ) -> Self {
        Self { http, cloud, credential, clock, refresh_margin, cache: tokio::sync::Mutex::new(None), requests: AtomicU64::new(0) }
    }

    /// Number of token endpoint requests made so far.
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether a rejected token can be replaced by asking again.
    pub fn can_refresh(&self) -> bool {
        !matches!(self.credential, Credential::StaticToken(_))
    }

    /// A valid access token, from the cache when it is fresh.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        if let Credential::StaticToken(token) = &self.credential {
            return Ok(token.clone());
        }
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if self.clock.now() < cached.refresh_at {
                return Ok(cached.token.clone());
            }
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Drops `rejected` from the cache (after a 401), unless a newer token
    /// has replaced it meanwhile.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == rejected) {
            *cache = None;
        }
    }

    async fn fetch(&self) -> Result<CachedToken, AuthError> {
        let issued = match &self.credential {
            Credential::ManagedIdentity(identity) => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                Some(credential_chain::managed_identity_token(identity, &self.cloud.graph_base()).await?)
            }
            Credential::AzureCli(cli) => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                Some(credential_chain::azure_cli_token(cli, &self.cloud.graph_base()).await?)
            }
            _ => None,
        };
        if let Some(issued) = issued {
            let now = self.clock.now();
            let lifetime = issued
                .expires_at
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or(Duration::from_secs(300))
                .min(Duration::from_secs(86_400));
            let early = self.refresh_margin.min(lifetime / 2);
            let refresh_at = now.checked_add(lifetime - early).unwrap_or(now);
            return Ok(CachedToken { token: issued.token, refresh_at });
        }
        let Some((tenant_id, client_id)) = self.credential.tenant_and_client() else {
            return Err(AuthError::NotConfigured { reason: "static tokens cannot be refreshed".to_owned() });
        };
        let endpoint = self.cloud.token_endpoint(tenant_id);
        let scope = self.cloud.scope();
        let now = self.clock.now();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", client_id.to_owned()),
            ("scope", scope),
            ("grant_type", "client_credentials".to_owned()),
        ];
        match &self.credential {
            Credential::ClientSecret { secret, .. } => form.push(("client_secret", secret.expose().to_owned())),
            Credential::ClientCertificate { certificate, .. } => {
                let assertion = certificate.assertion(client_id, &endpoint, now)?;
                form.push(("client_assertion_type", JWT_BEARER.to_owned()));
                form.push(("client_assertion", assertion.expose().to_owned()));
            }
            Credential::WorkloadIdentity { token_file, .. } => {
                let text = tokio::fs::read_to_string(token_file)
                    .await
                    .map_err(|source| AuthError::FederatedTokenFile { path: token_file.clone(), source })?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(AuthError::EmptyFederatedToken { path: token_file.clone() });
                }
                form.push(("client_assertion_type", JWT_BEARER.to_owned()));
                form.push(("client_assertion", token.to_owned()));
            }
            Credential::StaticToken(_) | Credential::ManagedIdentity(_) | Credential::AzureCli(_) => {}
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(&endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::Network { endpoint: endpoint.clone(), source: e.without_url() })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| AuthError::Network { endpoint: endpoint.clone(), source: e.without_url() })?;
        tracing::debug!(status, duration_ms = started.elapsed().as_millis() as u64, "token request to {endpoint}");
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            // The token endpoint's text, too, never shows a secret sent.
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(super::redact::redact);
            return Err(AuthError::TokenEndpoint {
                status,
                error: text("error").unwrap_or_else(|| "unknown_error".to_owned()),
                description: text("error_description").unwrap_or_default(),
                error_codes: body
                    .get("error_codes")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default(),
                trace_id: text("trace_id"),
                correlation_id: text("correlation_id"),
            });
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::InvalidTokenResponse { reason: "no access_token".to_owned() })?;
        let lifetime = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(3599))
        // Entra tokens live about an hour; the cap keeps time arithmetic sane
        // whatever a misbehaving endpoint says.
        .min(Duration::from_secs(86_400));
        let early = self.refresh_margin.min(lifetime / 2);
        let refresh_at = now.checked_add(lifetime - early).unwrap_or(now);
        Ok(CachedToken { token: Secret::new(token), refresh_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FIXTURE: &str = include_str!("../../tests/fixtures/test-client-cert.pem");

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn from_env_picks_credentials_in_order() {
        let c = Credential::from_env(env(&[("TENANTCTL_ACCESS_TOKEN", "tok"), ("AZURE_TENANT_ID", "t")])).unwrap();
        assert!(matches!(c, Credential::StaticToken(_)));
        let c = Credential::from_env(env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/x"),
        ]))
        .unwrap();
        assert!(matches!(c, Credential::ClientSecret { .. }));
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        let c = Credential::from_env(env(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_FEDERATED_TOKEN_FILE", "/x")])).unwrap();
        assert!(matches!(c, Credential::WorkloadIdentity { .. }));
        let e = Credential::from_env(env(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_SECRET", "")])).unwrap_err();
        assert!(matches!(e, AuthError::NotConfigured { .. }));
        let e = Credential::from_env(env(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/cert.pem")])).unwrap_err();
        assert!(matches!(e, AuthError::CertificateFile { .. }));
    }

    #[test]
    fn certificate_fixture_parses_and_debug_hides_the_key() {
        let cert = ClientCertificate::from_pem(FIXTURE, None).unwrap();
        let dbg = format!("{cert:?}");
        assert!(dbg.contains("***"));
        assert!(!dbg.contains("BEGIN"));
        assert_eq!(cert.thumbprint_sha256().len(), 43);
        assert_eq!(cert.thumbprint_sha1().len(), 27);
    }

    #[test]
    fn encrypted_and_malformed_keys_are_refused_clearly() {
        let enc = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = ClientCertificate::from_pem(enc, Some(&Secret::new("pw"))).unwrap_err();
        assert!(matches!(e, AuthError::EncryptedKeyUnsupported));
        assert!(e.to_string().contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"));
        let legacy = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(ClientCertificate::from_pem(legacy, None), Err(AuthError::EncryptedKeyUnsupported)));
        for bad in ["", "garbage", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"] {
            assert!(matches!(ClientCertificate::from_pem(bad, None), Err(AuthError::Certificate { .. })), "{bad:?}");
        }
    }

    #[test]
    fn jti_looks_like_a_uuid() {
        let a = new_jti();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_jti());
    }
}
