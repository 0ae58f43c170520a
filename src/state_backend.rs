//! Where the state lives: the [`StateBackend`] chosen by `[state]`.
//!
//! `local` (the default) is today's files: the ledger and its log beside
//! the desired state (`tenantctl.lock` for a real tenant, and under
//! `.tenantctl/` `graph-url.lock` and `sandbox.lock`), with the lock file.
//! `azurerm` keeps one blob per tenant and kind of state,
//! `<prefix>/<tenant-id>/ledger.toml` and `.../ledger-wal.jsonl` (an
//! append blob), with a lease on `.../lock` as the lock; the trust root,
//! delta state and history index beside them ([`crate::state_side`]). A run that writes
//! pulls the blobs into the local files when it takes the lease, works on
//! them as the local backend does, appends each change to the log blob as
//! well, and at the end writes the ledger blob on the condition that its
//! ETag is still the one it pulled: a conflicting write is refused, never
//! lost. Readers (plan, drift) read the blobs without touching the files.
//!
//! The backend is bound once per process from the loaded desired state
//! ([`bind`]), so the commands that take the lock and read the ledger
//! (apply, import, export, reconcile) need no change to use it.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use providers::state_blob::{BlobAuth, BlobError, BlobStore, Condition};
use schema::kinds::state_backend::{BackendKind, StateBackend as StateConfig};

/// One kind of state kept per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateKind {
    /// The ledger (sorted TOML).
    Ledger,
    /// The ledger's write-ahead log (JSON lines).
    Wal,
    /// The governance trust root (JSON).
    Trust,
    /// Reconcile's delta state (JSON).
    Delta,
    /// The history index: the latest drift report (JSON).
    History,
}

impl StateKind {
    /// The ledger and its log (the side kinds are in [`crate::state_side`]).
    pub const ALL: [StateKind; 2] = [StateKind::Ledger, StateKind::Wal];

    fn blob_name(self) -> &'static str {
        match self {
            StateKind::Ledger => "ledger.toml",
            StateKind::Wal => "ledger-wal.jsonl",
            StateKind::Trust => "trust.json",
            StateKind::Delta => "delta.json",
            StateKind::History => "history-latest.json",
        }
    }
}

/// What a write expects of the stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there (the lock holder's own log).
    Any,
    /// Nothing is stored yet.
    Absent,
    /// The version read before.
    Version(String),
}

/// One piece of state as read.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub bytes: Vec<u8>,
    /// ETag (azurerm) or content hash (local).
    pub version: String,
    pub modified: Option<DateTime<Utc>>,
}

/// A place that keeps a tenant's state.
pub trait StateBackend: Send + Sync {
    /// Where, for messages.
    fn describe(&self) -> String;
    /// A kind of state, or `None` when absent.
    fn read(&self, kind: StateKind) -> Result<Option<Versioned>>;
    /// Write a kind of state whole if `expect` holds; its new version.
    fn write(&self, kind: StateKind, bytes: &[u8], expect: &Expect) -> Result<String>;
    /// Remove a kind of state (absent is fine).
    fn remove(&self, kind: StateKind) -> Result<()>;
}

/// Today's files beside the desired state.
pub struct LocalBackend {
    ledger: PathBuf,
}

impl LocalBackend {
    pub fn new(ledger: &Path) -> LocalBackend {
        LocalBackend { ledger: ledger.to_path_buf() }
    }

    fn path(&self, kind: StateKind) -> PathBuf {
        match kind {
            StateKind::Ledger => self.ledger.clone(),
            StateKind::Wal => crate::state::wal_path(&self.ledger),
            StateKind::Trust => crate::governance::trust_path(&self.ledger),
            StateKind::Delta => self.ledger.with_extension("delta.json"),
            StateKind::History => self.ledger.with_extension("history-latest.json"),
        }
    }
}

/// A version to compare within this process (read, then write).
fn content_version(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("{:016x}-{}", h.finish(), bytes.len())
}

impl StateBackend for LocalBackend {
    fn describe(&self) -> String {
        format!("local files ({})", self.ledger.display())
    }

    fn read(&self, kind: StateKind) -> Result<Option<Versioned>> {
        let path = self.path(kind);
        let Some(bytes) = schema::read::read_state_file(&path, schema::read::max_state_file_bytes()).with_context(|| format!("reading {}", path.display()))? else {
            return Ok(None);
        };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
        Ok(Some(Versioned { version: content_version(&bytes), bytes, modified }))
    }

    fn write(&self, kind: StateKind, bytes: &[u8], expect: &Expect) -> Result<String> {
        let path = self.path(kind);
        let now = self.read(kind)?.map(|v| v.version);
        match (expect, &now) {
            (Expect::Absent, Some(_)) => bail!("{} exists already; nothing was overwritten", path.display()),
            (Expect::Version(v), Some(n)) if v != n => bail!("{} changed since it was read; nothing was overwritten", path.display()),
            (Expect::Version(_), None) => bail!("{} was removed since it was read; nothing was written", path.display()),
            _ => {}
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("state written to {} is not UTF-8", path.display()))?;
        crate::write_atomic(&path, text)?;
        Ok(content_version(bytes))
    }

    fn remove(&self, kind: StateKind) -> Result<()> {
        let path = self.path(kind);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
}

/// Blobs in Azure Blob Storage, one per kind under `<prefix>/<tenant>/`.
pub struct AzurermBackend {
    store: Arc<BlobStore>,
    base: String,
}

impl AzurermBackend {
    pub fn blob(&self, kind: StateKind) -> String {
        format!("{}/{}", self.base, kind.blob_name())
    }

    pub fn lock_blob(&self) -> String {
        format!("{}/lock", self.base)
    }

    pub fn store(&self) -> Arc<BlobStore> {
        self.store.clone()
    }

    /// Append a line to the log blob (created on first use).
    pub fn append(&self, kind: StateKind, bytes: &[u8]) -> Result<()> {
        let (store, blob, data) = (self.store.clone(), self.blob(kind), bytes.to_vec());
        block(async move {
            store.ensure_append_blob(&blob).await?;
            store.append(&blob, data).await
        })?
        .map_err(|e| anyhow!(e))
    }
}

impl StateBackend for AzurermBackend {
    fn describe(&self) -> String {
        format!("azurerm {}", self.store.describe(&self.base))
    }

    fn read(&self, kind: StateKind) -> Result<Option<Versioned>> {
        let (store, blob) = (self.store.clone(), self.blob(kind));
        let got = block(async move { store.get(&blob).await })?.map_err(|e| anyhow!(e))?;
        Ok(got.map(|b| Versioned { bytes: b.body, version: b.etag, modified: b.last_modified }))
    }

    fn write(&self, kind: StateKind, bytes: &[u8], expect: &Expect) -> Result<String> {
        let (store, blob, data) = (self.store.clone(), self.blob(kind), bytes.to_vec());
        let condition = match expect {
            Expect::Any => Condition::None,
            Expect::Absent => Condition::IfAbsent,
            Expect::Version(v) => Condition::IfMatch(v.clone()),
        };
        block(async move { store.put(&blob, data, &condition).await })?.map_err(|e| match e {
            BlobError::Conflict { .. } => anyhow!(e),
            other => anyhow!(other),
        })
    }

    fn remove(&self, kind: StateKind) -> Result<()> {
        let (store, blob) = (self.store.clone(), self.blob(kind));
        block(async move { store.delete(&blob, &Condition::None).await })?.map_err(|e| anyhow!(e))
    }
}

/// The `[state]` table and `[tenant]` of the desired state this process loaded.
struct Binding {
    config: Option<StateConfig>,
    tenant: Option<schema::kinds::Tenant>,
}

static BINDING: OnceLock<Binding> = OnceLock::new();

/// Remember where this desired state keeps its state (first load wins).
pub fn bind(state: &schema::DesiredState) {
    let _ = BINDING.set(Binding { config: state.state.as_ref().map(|s| s.value.clone()), tenant: state.tenant.as_ref().map(|t| t.value.clone()) });
}

/// The configured `[state]`, if any was bound.
pub fn configured() -> Option<StateConfig> {
    BINDING.get().and_then(|b| b.config.clone())
}

/// The tenant a ledger belongs to: the sandbox's id for the embedded
/// sandbox, `AZURE_TENANT_ID` for `--graph-url`, else `[tenant]`'s id
/// (or its primary domain), else the ledger's file name.
pub fn tenant_key(ledger: &Path) -> String {
    let name = ledger.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let tenant = BINDING.get().and_then(|b| b.tenant.as_ref());
    let key = match name {
        _ if crate::state_paths::tenant_of(ledger).is_some() => crate::state_paths::tenant_of(ledger),
        "sandbox.lock" => Some(sandbox::DEFAULT_TENANT_ID.to_string()),
        "graph-url.lock" => env("AZURE_TENANT_ID"),
        _ => tenant.map(|t| t.tenant_id.clone().unwrap_or_else(|| t.primary_domain.clone())),
    };
    key.unwrap_or_else(|| ledger.file_stem().and_then(|s| s.to_str()).unwrap_or("tenantctl").to_string())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect()
}

/// The azurerm backend of `config` for the ledger at `ledger`.
pub fn azurerm(config: &StateConfig, ledger: &Path) -> Result<Arc<AzurermBackend>> {
    let account = config.storage_account.clone().context("[state] needs storage_account for the azurerm backend")?;
    let container = config.container.clone().context("[state] needs container for the azurerm backend")?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let conn = env("AZURE_STORAGE_CONNECTION_STRING").map(|c| providers::state_blob::parse_connection_string(&c)).unwrap_or_default();
    let endpoint = config
        .endpoint
        .clone()
        .or_else(|| conn.get("BlobEndpoint").cloned())
        .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
    // Checked again where the credentials are used: `[state]` comes from
    // desired state, which a pull request edits.
    if let Some(p) = schema::kinds::state_backend::endpoint_problem(&endpoint) {
        bail!("the azurerm state backend's endpoint: {p}");
    }
    let key = env("AZURE_STORAGE_KEY").or_else(|| conn.get("AccountKey").cloned());
    let auth = match key {
        Some(k) => BlobAuth::SharedKey { account: account.clone(), key: providers::state_blob::decode_key(&k)? },
        None => BlobAuth::Token(Arc::new(storage_token_provider()?)),
    };
    let store = Arc::new(BlobStore::new(&endpoint, &container, auth)?.with_max_bytes(schema::read::max_file_bytes()));
    let tenant = tenant_key(ledger);
    let base = match config.prefix.as_deref() {
        Some(p) => format!("{}/{tenant}", p.trim_matches('/')),
        None => tenant,
    };
    Ok(Arc::new(AzurermBackend { store, base }))
}

/// An Entra token for Azure Storage from the same credential variables as Graph.
fn storage_token_provider() -> Result<providers::graph::auth::TokenProvider> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    providers::state_blob::token_provider(env).context("no AZURE_STORAGE_KEY / AZURE_STORAGE_CONNECTION_STRING, and no Entra credentials (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...) for the azurerm state backend")
}

/// A ledger's remote state in this process: the backend and the ETags it
/// pulled under the lease.
pub struct Remote {
    pub backend: Arc<AzurermBackend>,
    /// Set while this process holds the lease and the local files are its
    /// pulled copy: the ledger's ETag then (`None`: absent).
    pulled: Mutex<Option<Option<String>>>,
    /// The lease as its renewal last found it.
    lease: Mutex<LeaseHealth>,
    /// The lease this process holds on the state, while it holds it.
    held: Mutex<Option<Arc<providers::state_blob::BlobLease>>>,
}

/// When the lease was last taken or renewed, and why it is lost if it is.
#[derive(Debug, Default)]
struct LeaseHealth {
    renewed: Option<std::time::Instant>,
    lost: Option<String>,
}

/// How long before the lease's end a run stops trusting a lease it could
/// not renew: its next write may land after another run took it over.
const LEASE_MARGIN_SECONDS: u64 = 10;

impl Remote {
    /// The lease was just taken or renewed.
    pub fn lease_renewed(&self) {
        if let Ok(mut g) = self.lease.lock() {
            g.renewed = Some(std::time::Instant::now());
        }
    }

    /// A renewal failed: `gone` when storage said the lease is not ours any
    /// more (broken, or expired and taken); otherwise it counts as lost once
    /// the lease may have run out since the last renewal.
    pub fn lease_failed(&self, gone: bool, why: String) {
        if let Ok(mut g) = self.lease.lock() {
            let expired = g.renewed.map_or(true, |t| t.elapsed().as_secs() + LEASE_MARGIN_SECONDS >= providers::state_blob::LEASE_SECONDS);
            if (gone || expired) && g.lost.is_none() {
                g.lost = Some(why);
            }
        }
    }

    /// Whether this run may still write as the lease holder: not when its
    /// lease was lost, or not renewed for nearly its whole term (another
    /// run may hold it now). Nothing to check for a run without the lease.
    pub fn check_lease(&self) -> Result<()> {
        if self.pulled().is_none() {
            return Ok(());
        }
        let g = self.lease.lock().map_err(|_| anyhow!("the lease state lock is poisoned"))?;
        if let Some(why) = &g.lost {
            bail!("this run lost the state lease ({why}): another run may be writing; stopped before its next change");
        }
        if let Some(t) = g.renewed.filter(|t| t.elapsed().as_secs() + LEASE_MARGIN_SECONDS >= providers::state_blob::LEASE_SECONDS) {
            bail!("this run could not renew the state lease for {} s (its term is {} s), so another run may hold it now; stopped before its next change", t.elapsed().as_secs(), providers::state_blob::LEASE_SECONDS);
        }
        Ok(())
    }

    /// The lease this process holds, while it holds it.
    pub fn held_lease(&self) -> Option<Arc<providers::state_blob::BlobLease>> {
        self.held.lock().ok().and_then(|g| g.clone())
    }

    pub fn set_held_lease(&self, lease: Option<Arc<providers::state_blob::BlobLease>>) {
        if let Ok(mut g) = self.held.lock() {
            *g = lease;
        }
    }

    /// The ledger's ETag pulled under the lease, if pulled.
    pub fn pulled(&self) -> Option<Option<String>> {
        self.pulled.lock().ok().and_then(|g| g.clone())
    }

    pub fn set_pulled(&self, etag: Option<Option<String>>) {
        if let Ok(mut g) = self.pulled.lock() {
            *g = etag;
        }
    }
}

static REMOTES: OnceLock<Mutex<BTreeMap<PathBuf, Arc<Remote>>>> = OnceLock::new();

/// The remote state of the ledger at `ledger`, when `[state]` says azurerm.
pub fn remote_for(ledger: &Path) -> Result<Option<Arc<Remote>>> {
    let Some(config) = configured().filter(|c| c.backend == BackendKind::Azurerm) else {
        return Ok(None);
    };
    let map = REMOTES.get_or_init(Default::default);
    let mut map = map.lock().map_err(|_| anyhow!("the state backend registry is poisoned"))?;
    if let Some(r) = map.get(ledger) {
        return Ok(Some(r.clone()));
    }
    let remote = Arc::new(Remote { backend: azurerm(&config, ledger)?, pulled: Mutex::new(None), lease: Mutex::new(LeaseHealth::default()), held: Mutex::new(None) });
    map.insert(ledger.to_path_buf(), remote.clone());
    Ok(Some(remote))
}

/// The backend the configuration names for `ledger`.
pub fn backend_for(ledger: &Path) -> Result<Box<dyn StateBackend>> {
    match configured().filter(|c| c.backend == BackendKind::Azurerm) {
        Some(c) => Ok(Box::new(azurerm(&c, ledger)?)),
        None => Ok(Box::new(LocalBackend::new(ledger))),
    }
}

/// An azurerm backend shared through an `Arc`.
impl StateBackend for Arc<AzurermBackend> {
    fn describe(&self) -> String {
        self.as_ref().describe()
    }
    fn read(&self, kind: StateKind) -> Result<Option<Versioned>> {
        self.as_ref().read(kind)
    }
    fn write(&self, kind: StateKind, bytes: &[u8], expect: &Expect) -> Result<String> {
        self.as_ref().write(kind, bytes, expect)
    }
    fn remove(&self, kind: StateKind) -> Result<()> {
        self.as_ref().remove(kind)
    }
}

/// The runtime the storage requests run on (its own, so sync callers in
/// any runtime can wait for them without blocking that runtime's I/O).
pub fn storage_runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("tenantctl-storage").enable_all().build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| anyhow!("starting the storage runtime: {e}"))
}

/// Run `f` on the storage runtime and wait for it.
pub fn block<F>(f: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    storage_runtime()?.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| anyhow!("the storage request was dropped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_writes_check_what_they_expect() {
        let dir = tempfile::tempdir().expect("test fixture");
        let b = LocalBackend::new(&dir.path().join("s/sandbox.lock"));
        assert!(b.read(StateKind::Ledger).expect("test fixture").is_none());
        let v1 = b.write(StateKind::Ledger, b"version = 1\n", &Expect::Absent).expect("test fixture");
        assert!(b.write(StateKind::Ledger, b"x", &Expect::Absent).unwrap_err().to_string().contains("exists already"));
        assert!(b.write(StateKind::Ledger, b"x", &Expect::Version("other".into())).unwrap_err().to_string().contains("changed since it was read"));
        b.write(StateKind::Ledger, b"version = 1\n# two\n", &Expect::Version(v1)).expect("test fixture");
        assert_eq!(b.read(StateKind::Ledger).expect("test fixture").expect("test fixture").bytes, b"version = 1\n# two\n");
        b.write(StateKind::Wal, b"{}\n", &Expect::Any).expect("test fixture");
        assert!(crate::state::wal_path(&dir.path().join("s/sandbox.lock")).exists());
        b.remove(StateKind::Wal).expect("test fixture");
        b.remove(StateKind::Wal).expect("test fixture");
        assert!(b.read(StateKind::Wal).expect("test fixture").is_none());
        // Nothing bound: the embedded sandbox's ledger is keyed by its tenant id.
        assert_eq!(tenant_key(Path::new(".tenantctl/sandbox.lock")), sandbox::DEFAULT_TENANT_ID);
    }
}
