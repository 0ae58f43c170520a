//! A local Microsoft-Graph-compatible tenant: an HTTP server that answers
//! every Graph endpoint tenantctl uses (`/v1.0` and `/beta`), issues tokens
//! like the Microsoft identity platform, persists its tenant in SQLite, and
//! misbehaves on purpose (latency, throttling, errors, dropped connections,
//! replication lag). It shares no code with `providers/`, so each checks the
//! other.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::SandboxError> {
//! let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default()).await?;
//! println!("Graph at {}/v1.0, token at {}/{}/oauth2/v2.0/token", sb.base_url(), sb.base_url(), sb.tenant_id());
//! sb.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod accounting;
pub mod admin;
pub mod auth;
pub mod autopilot;
pub mod batch;
pub mod certs;
pub mod cli;
pub mod ca_objects;
pub mod conditional_access;
pub mod delta;
pub mod device_categories;
pub mod directory;
pub mod error;
pub mod faults;
pub mod graph;
pub mod groups;
pub mod intune;
pub mod limits;
pub mod licences;
pub mod odata;
pub mod oma;
pub mod org_extensions;
pub mod permissions;
pub mod pim;
pub mod query_props;
pub mod resources;
pub mod roles;
pub mod seed;
pub mod state_file;
pub mod scope_tags;
pub mod server;
pub mod settings_catalog;
pub mod store;
pub mod update_profiles;
pub mod validate_write;
pub mod subscribed_skus;
pub mod tenant_policies;
pub mod configuration_templates;
pub mod scripts;
pub mod enrollment;
pub mod intune_roles;
pub mod auth_methods_policy;
pub mod role_policies;
pub mod role_definitions;
pub mod administrative_units;
pub mod mobile_apps;
pub mod entitlement;
pub mod graph_collections;
pub mod entitlement_assignments;
pub mod entitlement_automatic;
pub mod entitlement_query;
pub mod entitlement_delivery;
pub mod entitlement_extensions;
pub mod entitlement_incompatible;
pub mod entitlement_review;
pub mod language_codes;
pub mod entitlement_pending;
pub mod entitlement_resources;
pub mod clock;

pub use accounting::RequestCounts;
pub use cli::{serve, ServeArgs};
pub use error::{GraphError, SandboxError};
pub use faults::Faults;
pub use limits::Limits;
pub use licences::Licences;
pub use seed::{SeedReport, SeedSpec};

use server::{lock, App};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use store::{Tenant, TenantInfo};
use tokio::sync::watch;

/// Default tenant id of a sandbox.
pub const DEFAULT_TENANT_ID: &str = "8f1e4c2a-5b3d-4e6f-9a7b-0c1d2e3f4a5b";
/// Default application (client) id a sandbox accepts.
pub const DEFAULT_CLIENT_ID: &str = "5e7c2d1a-9b8f-4c3e-a2d1-0f9e8d7c6b5a";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Listen address; loopback unless `allow_remote`.
    pub addr: SocketAddr,
    pub allow_remote: bool,
    /// SQLite state file; `None` keeps the tenant in memory.
    pub state_file: Option<PathBuf>,
    pub tenant_id: String,
    /// Primary verified domain.
    pub domain: String,
    pub client_id: String,
    pub client_secret: String,
    pub faults: Faults,
    /// Generate a tenant at start.
    pub seed: Option<SeedSpec>,
    /// With a state file: use the client secret stored by an earlier run for
    /// the same client id instead of `client_secret` (so a persistent
    /// sandbox keeps its credentials across restarts). The CLI sets this when
    /// no `--client-secret` is given.
    pub reuse_stored_secret: bool,
    /// Graph application permissions granted to the app (`None`: the list
    /// tenantctl documents, [`permissions::documented`]).
    pub permissions: Option<Vec<String>>,
    /// PEM certificates (the first `CERTIFICATE` block of each) registered
    /// as the client's certificate credentials: client assertions must be
    /// signed by one of them.
    pub client_certificates: Vec<String>,
    /// Licence tier: on P1 the PIM endpoints answer as Graph does without P2.
    pub licences: Licences,
    /// Seconds the tenant's clock starts away from the wall clock
    /// (`TENANTCTL_CLOCK_OFFSET`, which tenantctl's own clock follows too),
    /// so fixtures with fixed dates keep their meaning. Tokens keep the
    /// wall clock.
    pub clock_offset_secs: i64,
}

/// A random client secret in the style Entra issues (40 characters).
pub fn generate_secret() -> String {
    use base64::Engine as _;
    let b: [u8; 30] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b).replace(['-', '_'], "~")
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            state_file: None,
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            domain: "contoso.onmicrosoft.com".to_string(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: generate_secret(),
            faults: Faults::default(),
            seed: None,
            reuse_stored_secret: false,
            permissions: None,
            client_certificates: Vec::new(),
            licences: Licences::default(),
            // tenantctl's clock follows the same variable (`schema::clock`).
            clock_offset_secs: std::env::var("TENANTCTL_CLOCK_OFFSET").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0),
        }
    }
}

impl SandboxConfig {
    /// In memory on a free loopback port (the default).
    pub fn in_memory() -> Self {
        Self::default()
    }
    /// Persist the tenant in `path` (SQLite, WAL).
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }
    pub fn with_tenant_id(mut self, id: impl Into<String>) -> Self {
        self.tenant_id = id.into();
        self
    }
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }
    pub fn with_credentials(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
    pub fn with_seed(mut self, seed: SeedSpec) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Grants exactly these application permissions.
    pub fn with_permissions<S: Into<String>>(mut self, permissions: impl IntoIterator<Item = S>) -> Self {
        self.permissions = Some(permissions.into_iter().map(Into::into).collect());
        self
    }
    /// Register a PEM certificate as a certificate credential of the client.
    pub fn with_client_certificate(mut self, pem: impl Into<String>) -> Self {
        self.client_certificates.push(pem.into());
        self
    }
    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }
    pub fn with_licences(mut self, licences: Licences) -> Self {
        self.licences = licences;
        self
    }
}

/// Refuses permission names no request rule mentions (typos).
pub fn check_permissions(p: &[String]) -> Result<(), SandboxError> {
    match p.iter().find(|n| !permissions::known(n)) {
        Some(n) => Err(SandboxError::InvalidArgument(format!("unknown Graph permission '{n}'"))),
        None => Ok(()),
    }
}

/// Entry point: [`Sandbox::start`].
pub struct Sandbox;

/// A running sandbox. Dropping it stops the server (without the final WAL
/// checkpoint; every write is already committed); prefer [`SandboxHandle::shutdown`].
pub struct SandboxHandle {
    app: Arc<App>,
    addr: SocketAddr,
    client_id: String,
    client_secret: String,
    tenant_id: String,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Opens or creates the tenant, binds the listener and spawns the server
    /// on the current tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        config.faults.validate()?;
        let granted = config.permissions.clone().unwrap_or_else(permissions::documented);
        check_permissions(&granted)?;
        if !config.addr.ip().is_loopback() && !config.allow_remote {
            return Err(SandboxError::NotLoopback { addr: config.addr.to_string() });
        }
        if config.client_secret.is_empty() || config.client_id.is_empty() {
            return Err(SandboxError::InvalidArgument("client id and secret must not be empty".into()));
        }
        let certificates = certs::CertificateStore::default();
        for pem in &config.client_certificates {
            let cert = certs::RegisteredCertificate::from_pem(pem).map_err(|e| SandboxError::InvalidArgument(format!("client certificate: {e}")))?;
            certificates.register(cert);
        }
        let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(|source| SandboxError::Bind { addr: config.addr.to_string(), source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { addr: config.addr.to_string(), source })?;
        let host = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
        let base = format!("http://{host}");
        let info = TenantInfo { tenant_id: config.tenant_id.clone(), domain: config.domain.clone(), display_name: "Contoso (tenantctl sandbox)".into() };
        let state_file = config.state_file.clone();
        let seed = config.seed.clone();
        let (client_id, mut client_secret, reuse) = (config.client_id.clone(), config.client_secret.clone(), config.reuse_stored_secret);
        let (tenant, client_secret) = tokio::task::spawn_blocking(move || -> Result<(Tenant, String), SandboxError> {
            let mut t = match &state_file {
                Some(p) => Tenant::open(info, p)?,
                None => Tenant::in_memory(info),
            };
            roles::ensure_builtins(&mut t);
            ca_objects::ensure_builtins(&mut t);
            scope_tags::ensure_default(&mut t);
            enrollment::ensure_defaults(&mut t);
            intune_roles::ensure_builtins(&mut t);
            scripts::ensure_global(&mut t);
            auth_methods_policy::ensure(&mut t);
            role_policies::ensure(&mut t);
            if let Some(s) = seed {
                seed::seed(&mut t, &s);
            }
            if t.is_persistent() {
                let stored = (t.meta("client_id") == Some(client_id.as_str())).then(|| t.meta("client_secret").map(str::to_string)).flatten();
                match stored {
                    Some(s) if reuse => client_secret = s,
                    _ => {
                        t.set_meta("client_id", &client_id);
                        t.set_meta("client_secret", &client_secret);
                    }
                }
            }
            t.flush()?;
            Ok((t, client_secret))
        })
        .await
        .map_err(|e| SandboxError::InvalidArgument(format!("loading state failed: {e}")))??;
        let app = Arc::new(App {
            tenant: Mutex::new(tenant),
            faults: Mutex::new(faults::FaultState::new(config.faults.clone())),
            limits: Mutex::new(limits::LimitState::default()),
            counts: Mutex::new(RequestCounts::default()),
            permissions: Mutex::new(std::sync::Arc::new(granted)),
            licences: Mutex::new(config.licences),
            auth: auth::AuthConfig {
                tenant_id: config.tenant_id.clone(),
                domain: config.domain.clone(),
                client_id: config.client_id.clone(),
                client_secret: client_secret.clone(),
                key: rand::random(),
                certificates,
            },
            base,
            clock: clock::Clock::with_offset_ms(config.clock_offset_secs.saturating_mul(1000)),
        });
        let (tx, rx) = watch::channel(false);
        let router = server::router(app.clone());
        let task = tokio::spawn(server::serve(listener, router, rx));
        tracing::info!(%addr, "sandbox listening");
        Ok(SandboxHandle { app, addr, client_id: config.client_id, client_secret, tenant_id: config.tenant_id, shutdown: tx, task: Some(task) })
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT`: Graph is at `{base}/v1.0` and `{base}/beta`,
    /// the authority at `{base}/{tenant}`.
    pub fn base_url(&self) -> String {
        self.app.base.clone()
    }
    /// `{base}/v1.0`
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.app.base)
    }
    /// `{base}/{tenant}/oauth2/v2.0/token`
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.app.base, self.tenant_id)
    }
    /// `{base}/_sandbox`
    pub fn admin_url(&self) -> String {
        format!("{}/_sandbox", self.app.base)
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
    pub fn domain(&self) -> String {
        lock(&self.app.tenant).info.domain.clone()
    }
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }
    /// A valid bearer token, without a round trip to the token endpoint.
    pub fn access_token(&self) -> String {
        self.app.auth.issue(chrono::Utc::now().timestamp())
    }
    /// Register a PEM certificate as a certificate credential of the
    /// client; returns its `x5t#S256` thumbprint.
    pub fn register_client_certificate(&self, pem: &str) -> Result<String, SandboxError> {
        let cert = certs::RegisteredCertificate::from_pem(pem).map_err(|e| SandboxError::InvalidArgument(format!("client certificate: {e}")))?;
        let thumbprint = cert.thumbprint_sha256.clone();
        self.app.auth.certificates.register(cert);
        Ok(thumbprint)
    }
    pub fn faults(&self) -> Faults {
        lock(&self.app.faults).cfg.clone()
    }
    pub fn set_faults(&self, faults: Faults) -> Result<(), SandboxError> {
        faults.validate()?;
        lock(&self.app.faults).set(faults);
        Ok(())
    }
    /// The application permissions granted now.
    pub fn permissions(&self) -> Vec<String> {
        lock(&self.app.permissions).to_vec()
    }
    /// Grants exactly these application permissions from now on.
    pub fn set_permissions<S: Into<String>>(&self, permissions: impl IntoIterator<Item = S>) -> Result<(), SandboxError> {
        let p: Vec<String> = permissions.into_iter().map(Into::into).collect();
        check_permissions(&p)?;
        *lock(&self.app.permissions) = std::sync::Arc::new(p);
        Ok(())
    }
    /// Sets the modelled service limits (none by default; see `limits.rs`).
    pub fn set_limits(&self, limits: Limits) {
        lock(&self.app.limits).set(limits);
    }
    /// What each modelled limit has counted and refused since it was set.
    pub fn limit_usage(&self) -> Vec<limits::LimitUsage> {
        lock(&self.app.limits).usage()
    }
    /// Changes the tenant's licence tier (as `PUT /_sandbox/licences` does).
    pub fn set_licences(&self, licences: Licences) {
        *lock(&self.app.licences) = licences;
    }
    pub fn request_counts(&self) -> RequestCounts {
        lock(&self.app.counts).clone()
    }
    pub fn reset_counts(&self) {
        *lock(&self.app.counts) = RequestCounts::default();
    }
    /// Generates objects (deterministic from `spec.seed`).
    pub fn seed(&self, spec: &SeedSpec) -> Result<SeedReport, SandboxError> {
        let mut t = lock(&self.app.tenant);
        let r = seed::seed(&mut t, spec);
        t.flush()?;
        Ok(r)
    }
    /// A `userAdd` request by user `target` for access package `package`
    /// through `policy`, waiting for approval (as My Access makes with a
    /// delegated token, which the sandbox does not issue); its id.
    pub fn add_pending_request(&self, package: &str, policy: &str, target: &str) -> Result<String, SandboxError> {
        let mut t = lock(&self.app.tenant);
        let now = chrono::DateTime::from_timestamp_millis(self.app.clock.now_ms()).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let id = entitlement_pending::add_pending(&mut t, &now, package, policy, target).map_err(|e| SandboxError::InvalidArgument(e.message))?;
        t.flush()?;
        Ok(id)
    }
    /// Makes every delta token issued so far expire.
    pub fn expire_delta_tokens(&self) -> Result<(), SandboxError> {
        let mut t = lock(&self.app.tenant);
        t.expire_delta_tokens();
        t.flush()
    }
    /// Stops accepting, lets open requests finish, and flushes and checkpoints the state.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || lock(&app.tenant).close()).await.map_err(|e| SandboxError::InvalidArgument(format!("shutdown failed: {e}")))?
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
