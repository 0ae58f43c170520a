//! `tenantctl state show | pull | push | migrate --to BACKEND | unlock`:
//! look at and move the state the `[state]` backend keeps.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::Ledger;
use providers::state_blob::BlobLease;
use providers::state_lock::{Holder, LocalLock, StateLock};
use schema::kinds::state_backend::BackendKind;

use crate::output;
use crate::state_backend::{AzurermBackend, Expect, LocalBackend, StateBackend, StateKind};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

/// Which tenant's state (as `plan` chooses it).
#[derive(clap::Args)]
struct Which {
    /// The desired-state directory (its `[state]` names the backend).
    #[arg(default_value = "desired-state")]
    dir: PathBuf,
    /// The state of the tenant at this Graph endpoint.
    #[arg(long, env = "TENANTCTL_GRAPH_URL")]
    graph_url: Option<String>,
    /// The local ledger file (default: as `plan` picks it).
    #[arg(long, env = "TENANTCTL_LEDGER")]
    ledger: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum To {
    Local,
    Azurerm,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Where the state is, what the ledger holds, and who holds the lock.
    Show(Which),
    /// Print the ledger (with any unfinished run's log replayed), or write it to --out.
    Pull {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replace the stored ledger with FILE (under the lock).
    Push {
        /// A ledger file (as `state pull` writes).
        file: PathBuf,
        #[command(flatten)]
        which: Which,
        /// Wait this long for another run's state lock; 0 fails at once.
        #[arg(long, default_value = "0", value_parser = crate::state::parse_lock_timeout)]
        lock_timeout: Duration,
    },
    /// Copy the state from the other backend to BACKEND (the azurerm
    /// coordinates come from `[state]`).
    Migrate {
        #[arg(long, value_enum)]
        to: To,
        #[command(flatten)]
        which: Which,
        /// Overwrite a ledger the destination already holds.
        #[arg(long)]
        force: bool,
    },
    /// Break the state lock (a blob lease or the lock file) left by a run that is gone.
    Unlock {
        #[command(flatten)]
        which: Which,
        /// Confirm: no run holding the lock is still going.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Cmd::Show(which) => show(&which),
        Cmd::Pull { which, out } => pull(&which, out.as_deref()),
        Cmd::Push { file, which, lock_timeout } => push(&which, &file, lock_timeout).await,
        Cmd::Migrate { to, which, force } => migrate(&which, to, force).await,
        Cmd::Unlock { which, yes } => unlock(&which, yes).await,
    }
}

/// Load (and bind) the desired state; the local ledger path `plan` would use.
fn ledger_path(which: &Which) -> Result<PathBuf> {
    let state = crate::load(&which.dir)?;
    if let Some(l) = &which.ledger {
        return Ok(l.clone());
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let tenant = state.tenant.as_ref().map(|t| &t.value);
    // Keyed by directory and tenant, as `plan` keys them (moving a ledger
    // written before keying, as `plan` would).
    let keyed = |endpoint, ledger: PathBuf| -> Result<PathBuf> {
        let old = crate::state_paths::unkeyed_ledger(&which.dir, endpoint);
        if let Some(said) = crate::state_paths::migrate_unkeyed(&old, &ledger)? {
            output::status(said);
        }
        Ok(ledger)
    };
    if let Some(url) = &which.graph_url {
        return keyed(crate::state_paths::Endpoint::GraphUrl, crate::state_paths::graph_url_ledger(&which.dir, url, &env, tenant));
    }
    let credentials = env("AZURE_CLIENT_ID").is_some()
        && (env("AZURE_CLIENT_SECRET").is_some() || env("AZURE_CLIENT_CERTIFICATE_PATH").is_some() || env("AZURE_FEDERATED_TOKEN_FILE").is_some())
        || env("TENANTCTL_ACCESS_TOKEN").is_some();
    if state.tenant.is_some() && credentials {
        return Ok(which.dir.join("tenantctl.lock"));
    }
    keyed(crate::state_paths::Endpoint::Sandbox, crate::state_paths::keyed_ledger(&which.dir, crate::state_paths::Endpoint::Sandbox, sandbox::DEFAULT_TENANT_ID))
}

fn azurerm_config(ledger: &Path) -> Result<std::sync::Arc<AzurermBackend>> {
    match crate::state_backend::configured().filter(|c| c.backend == BackendKind::Azurerm) {
        Some(c) => crate::state_backend::azurerm(&c, ledger),
        None => bail!("the desired state's [state] table does not name an azurerm backend (backend = \"azurerm\", storage_account, container)"),
    }
}

/// The ledger a backend holds, with its log replayed (`None`: no state).
fn ledger_in(backend: &dyn StateBackend) -> Result<Option<Ledger>> {
    let text = |kind| -> Result<Option<String>> {
        backend.read(kind)?.map(|v| String::from_utf8(v.bytes).context("the state is not UTF-8")).transpose()
    };
    let ledger = text(StateKind::Ledger)?;
    let log = text(StateKind::Wal)?;
    if ledger.is_none() && log.is_none() {
        return Ok(None);
    }
    let parsed = match ledger {
        Some(t) => Ledger::parse(&t).with_context(|| format!("reading the ledger in {}", backend.describe()))?,
        None => Ledger::default(),
    };
    Ok(Some(match log {
        Some(l) => parsed.replay(&l).with_context(|| format!("replaying the ledger log in {}", backend.describe()))?,
        None => parsed,
    }))
}

fn show(which: &Which) -> Result<ExitCode> {
    let ledger = ledger_path(which)?;
    let backend = crate::state_backend::backend_for(&ledger)?;
    let mut text = format!("backend: {}\ntenant:  {}\n", backend.describe(), crate::state_backend::tenant_key(&ledger));
    match backend.read(StateKind::Ledger)? {
        Some(v) => {
            let l = Ledger::parse(&String::from_utf8_lossy(&v.bytes)).with_context(|| format!("reading the ledger in {}", backend.describe()))?;
            let when = v.modified.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
            text.push_str(&format!("ledger:  {} object(s), version {}, written {when}\n", l.resources.len(), v.version));
        }
        None => text.push_str("ledger:  none\n"),
    }
    match backend.read(StateKind::Wal)? {
        Some(v) => text.push_str(&format!("log:     {} change(s) of an unfinished run\n", String::from_utf8_lossy(&v.bytes).lines().filter(|l| !l.trim().is_empty()).count())),
        None => text.push_str("log:     none\n"),
    }
    for kind in crate::state_side::SIDE {
        let present = side_read(which, &ledger, kind)?.is_some();
        let label = format!("{}:", side_name(kind).split(' ').next().unwrap_or("state"));
        text.push_str(&format!("{label:<8} {}\n", if present { "kept" } else { "none" }));
    }
    let holder = match crate::state_backend::configured().filter(|c| c.backend == BackendKind::Azurerm) {
        Some(_) => {
            let b = azurerm_config(&ledger)?;
            let lease = BlobLease::new(b.store(), b.lock_blob());
            crate::state_backend::block(async move { lease.holder().await })??
        }
        None => crate::state_backend::block({
            let lock = LocalLock::for_ledger(&ledger);
            async move { lock.holder().await }
        })??,
    };
    text.push_str(&match holder {
        Some(h) => format!("lock:    held by {h}\n"),
        None => "lock:    free\n".to_string(),
    });
    output::result(&text);
    Ok(ExitCode::SUCCESS)
}

fn pull(which: &Which, out: Option<&Path>) -> Result<ExitCode> {
    let ledger = ledger_path(which)?;
    let backend = crate::state_backend::backend_for(&ledger)?;
    let Some(l) = ledger_in(backend.as_ref())? else {
        bail!("{} holds no ledger for tenant {}", backend.describe(), crate::state_backend::tenant_key(&ledger));
    };
    match out {
        Some(path) => {
            crate::write_atomic(path, &l.render())?;
            output::status(format!("Wrote the ledger of {} ({} object(s)) to {}", backend.describe(), l.resources.len(), path.display()));
            // The trust root, delta state and history index beside it.
            for kind in crate::state_side::SIDE {
                if let Some(bytes) = side_read(which, &ledger, kind)? {
                    let file = beside(path, kind);
                    let text = String::from_utf8(bytes).context("the state is not UTF-8")?;
                    crate::write_atomic(&file, &text)?;
                    output::status(format!("Wrote the {} to {}", side_name(kind), file.display()));
                }
            }
        }
        None => output::result(&l.render()),
    }
    Ok(ExitCode::SUCCESS)
}

async fn push(which: &Which, file: &Path, lock_timeout: Duration) -> Result<ExitCode> {
    // By the loader's rules (a regular file, no link leaving its folder, no
    // FIFO or device, bounded): a link to /proc/self/environ must not have
    // its content echoed by the parse error.
    let bytes = schema::read::read_state_file(file, schema::read::max_file_bytes())
        .with_context(|| format!("reading {}", file.display()))?
        .ok_or_else(|| anyhow::anyhow!("{} does not exist", file.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not a tenantctl ledger (not UTF-8)", file.display()))?;
    let l = Ledger::parse(&text).with_context(|| format!("{} is not a tenantctl ledger", file.display()))?;
    // The ids it pushes go into request URLs of every later run.
    crate::state::check_ids(&l, file)?;
    let ledger = ledger_path(which)?;
    let held = crate::state::lock(&ledger, "tenantctl state push", lock_timeout).await?;
    let store = crate::state::LedgerStore::new(&ledger);
    store.compact(&l)?;
    // And the trust root, delta state and history index `state pull` wrote beside it.
    let mut side = Vec::new();
    for kind in crate::state_side::SIDE {
        let path = beside(file, kind);
        if let Some(bytes) = schema::read::read_state_file(&path, schema::read::max_file_bytes()).with_context(|| format!("reading {}", path.display()))? {
            side_write(which, &ledger, kind, &bytes)?;
            side.push(format!("{} ({})", side_name(kind), path.display()));
        }
    }
    drop(held);
    if !side.is_empty() {
        output::status(format!("Pushed {}", side.join(", ")));
    }
    let backend = crate::state_backend::backend_for(&ledger)?;
    output::status(format!("Pushed {} ({} object(s)) to {}", file.display(), l.resources.len(), backend.describe()));
    Ok(ExitCode::SUCCESS)
}

async fn migrate(which: &Which, to: To, force: bool) -> Result<ExitCode> {
    let ledger = ledger_path(which)?;
    let remote = azurerm_config(&ledger)?;
    let local = LocalBackend::new(&ledger);
    let holder = Holder::this_process("tenantctl state migrate");
    // Both locks: no run may write either side while the state moves.
    let local_lock = LocalLock::for_ledger(&ledger);
    providers::state_lock::acquire(&local_lock, &holder, Duration::ZERO).await?;
    let lease = std::sync::Arc::new(BlobLease::new(remote.store(), remote.lock_blob()));
    let (l, h) = (lease.clone(), holder.clone());
    let took = crate::state_backend::block(async move { providers::state_lock::acquire(l.as_ref(), &h, Duration::ZERO).await });
    let result = match took.and_then(|r| r.map_err(anyhow::Error::from)) {
        Ok(_) => {
            let r = match to {
                To::Azurerm => copy(&local, &remote, force),
                To::Local => copy(&remote, &local, force),
            };
            // The trust root, delta state and history index go with it.
            let r = r.and_then(|n| copy_side(which, &ledger, &remote, to).map(|()| n));
            let (l, h) = (lease.clone(), holder.clone());
            if let Err(e) = crate::state_backend::block(async move { l.release(&h).await }).and_then(|r| r.map_err(anyhow::Error::from)) {
                tracing::warn!(error = %e, "releasing the state lease");
            }
            r
        }
        Err(e) => Err(e),
    };
    local_lock.release_now(&holder)?;
    let n = result?;
    let (from, into) = match to {
        To::Azurerm => (local.describe(), remote.describe()),
        To::Local => (remote.describe(), local.describe()),
    };
    output::status(format!("Migrated the ledger ({n} object(s)) from {from} to {into}."));
    if to == To::Local {
        output::status("Set backend = \"local\" in [state] (or remove the table) to use it.");
    }
    Ok(ExitCode::SUCCESS)
}

/// Copy the ledger (log replayed) from one backend to another: refused when
/// the destination holds a ledger already, unless `force`.
fn copy(from: &dyn StateBackend, to: &dyn StateBackend, force: bool) -> Result<usize> {
    let Some(l) = ledger_in(from)? else {
        bail!("{} holds no ledger to migrate", from.describe());
    };
    let text = l.render();
    let expect = match to.read(StateKind::Ledger)? {
        None => Expect::Absent,
        // The same ledger (a run's working copy of it) is no conflict.
        Some(v) if force || v.bytes == text.as_bytes() => Expect::Version(v.version),
        Some(_) => bail!("{} already holds a ledger; pass --force to overwrite it (nothing was changed)", to.describe()),
    };
    to.write(StateKind::Ledger, text.as_bytes(), &expect)?;
    to.remove(StateKind::Wal)?;
    Ok(l.resources.len())
}

async fn unlock(which: &Which, yes: bool) -> Result<ExitCode> {
    let ledger = ledger_path(which)?;
    if crate::state_backend::configured().filter(|c| c.backend == BackendKind::Azurerm).is_none() {
        return crate::state::unlock(&ledger, yes, false).await;
    }
    let b = azurerm_config(&ledger)?;
    let lease = std::sync::Arc::new(BlobLease::new(b.store(), b.lock_blob()));
    let l = lease.clone();
    let Some(holder) = crate::state_backend::block(async move { l.holder().await })?? else {
        output::status(format!("No state lease on {}.", lease.describe()));
        return Ok(ExitCode::SUCCESS);
    };
    if !yes {
        bail!("{} is held by {holder}; make sure that run is gone (a run still going would then race another), then pass --yes to break it", lease.describe());
    }
    let l = lease.clone();
    if let Some(h) = crate::state_backend::block(async move { l.break_lock().await })?? {
        output::status(format!("Broke the state lease held by {h}."));
    }
    Ok(ExitCode::SUCCESS)
}

/// What a side kind is called in messages.
fn side_name(kind: StateKind) -> &'static str {
    match kind {
        StateKind::Trust => "trust root",
        StateKind::Delta => "delta state",
        StateKind::History => "history index",
        StateKind::Ledger | StateKind::Wal => "ledger",
    }
}

/// The file `state pull --out FILE` writes a side kind to: beside FILE.
fn beside(file: &Path, kind: StateKind) -> PathBuf {
    file.with_extension(match kind {
        StateKind::Trust => "trust.json",
        StateKind::Delta => "delta.json",
        _ => "history-latest.json",
    })
}

/// A side kind from the configured backend.
fn side_read(which: &Which, ledger: &Path, kind: StateKind) -> Result<Option<Vec<u8>>> {
    match crate::state_backend::configured().filter(|c| c.backend == BackendKind::Azurerm) {
        Some(_) => Ok(azurerm_config(ledger)?.read(kind)?.map(|v| v.bytes)),
        None => crate::state_side::read_local(&which.dir, ledger, kind),
    }
}

/// A side kind into the configured backend (whole; under the lock).
fn side_write(which: &Which, ledger: &Path, kind: StateKind, bytes: &[u8]) -> Result<()> {
    match crate::state_backend::configured().filter(|c| c.backend == BackendKind::Azurerm) {
        Some(_) => azurerm_config(ledger)?.write(kind, bytes, &Expect::Any).map(|_| ()),
        None => crate::state_side::write_local(&which.dir, ledger, kind, bytes).map(|_| ()),
    }
}

/// Copy the side kinds the source holds to the destination of a migration.
fn copy_side(which: &Which, ledger: &Path, remote: &AzurermBackend, to: To) -> Result<()> {
    for kind in crate::state_side::SIDE {
        let (got, what) = match to {
            To::Azurerm => (crate::state_side::read_local(&which.dir, ledger, kind)?, remote.blob(kind)),
            To::Local => (remote.read(kind)?.map(|v| v.bytes), String::new()),
        };
        let Some(bytes) = got else { continue };
        let into = match to {
            To::Azurerm => remote.write(kind, &bytes, &Expect::Any).map(|_| what)?,
            To::Local => crate::state_side::write_local(&which.dir, ledger, kind, &bytes)?.display().to_string(),
        };
        output::status(format!("Migrated the {} to {into}.", side_name(kind)));
    }
    Ok(())
}
