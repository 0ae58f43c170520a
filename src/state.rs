//! The state beside the ledger: the ledger with its write-ahead log, and
//! the lock every run that writes holds.
//!
//! The ledger (`*.lock`, sorted TOML, committed) is rewritten only at the
//! end of a run that wrote it. While the run goes, each change to it is
//! appended, and synced, to `<stem>.ledger-wal.jsonl` before the next change
//! starts, so a kill loses nothing and 10,000 changes cost 10,000 small
//! appends rather than 10,000 rewrites. Loading replays the log over the
//! ledger; compacting writes the result atomically and removes the log.
//!
//! With the `azurerm` backend ([`crate::state_backend`]) the files are the
//! run's working copy of the blobs: pulled when the lease is taken, each
//! log line appended to the log blob too, and the compacted ledger written
//! back on the condition that the blob's ETag is the one pulled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use engine::ledger::LedgerOp;
use engine::Ledger;
use providers::state_blob::BlobLease;
use providers::state_lock::{Acquired, Holder, LocalLock, StateLock};

use crate::state_backend::{Expect, Remote, StateBackend, StateKind};
use crate::{output, write_atomic};

pub struct LedgerStore {
    path: PathBuf,
    wal: PathBuf,
    /// The open log, appended to under the lock.
    file: Mutex<Option<std::fs::File>>,
}

impl LedgerStore {
    pub fn new(path: &Path) -> LedgerStore {
        LedgerStore { path: path.to_path_buf(), wal: wal_path(path), file: Mutex::new(None) }
    }

    /// The remote state of this ledger, when `[state]` says azurerm.
    fn remote(&self) -> Result<Option<std::sync::Arc<Remote>>> {
        crate::state_backend::remote_for(&self.path)
    }

    /// A reader without the lease reads the blobs, not the working copy.
    fn remote_reader(&self) -> Result<Option<std::sync::Arc<Remote>>> {
        Ok(self.remote()?.filter(|r| r.pulled().is_none()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger with its log replayed (an absent ledger is empty). Both
    /// may sit in the desired-state directory, so they are read by the
    /// loader's rules: a regular file, no link leaving its directory,
    /// bounded in size.
    ///
    /// Its facts are judged by the fallback rule until the tenant's seal is
    /// read ([`crate::ledger_seal::judge`]).
    pub fn load(&self) -> Result<Ledger> {
        let (base, log) = self.load_parts()?;
        let mut ledger = match log {
            Some((log, name)) => base.replay(&log).with_context(|| format!("replaying the ledger log {name}"))?,
            None => base,
        };
        check_ids(&ledger, &self.path)?;
        ledger.seal = engine::ledger_seal::Seal::Unrecorded { beyond_review: self.beyond_review()? };
        Ok(ledger)
    }

    /// Every ledger the seal may have been taken of, when a log is left:
    /// the ledger as last compacted, then the ledger replayed up to each
    /// checkpoint a run logged before it sealed (oldest first). Empty when
    /// no log is left.
    pub fn load_bases(&self) -> Result<Vec<Ledger>> {
        let (base, log) = self.load_parts()?;
        let Some((log, name)) = log.filter(|(l, _)| !l.trim().is_empty()) else { return Ok(Vec::new()) };
        let (_, checkpoints) = base.clone().replay_checkpoints(&log).with_context(|| format!("replaying the ledger log {name}"))?;
        Ok(std::iter::once(base).chain(checkpoints).collect())
    }

    /// The write-ahead log's path (or blob name, in the azurerm backend).
    pub fn wal_name(&self) -> String {
        match self.remote() {
            Ok(Some(r)) => r.backend.blob(StateKind::Wal),
            _ => self.wal.display().to_string(),
        }
    }

    /// Whether the ledger is kept where the change under review cannot
    /// write it (a remote backend, or a file outside any git work tree):
    /// the rule for tenants that record no seal yet.
    pub fn beyond_review(&self) -> Result<bool> {
        Ok(self.remote()?.is_some() || !in_git_work_tree(&self.path))
    }

    /// Whether `[state]` keeps this ledger in a remote backend (azurerm).
    pub fn is_remote(&self) -> bool {
        matches!(self.remote(), Ok(Some(_)))
    }

    /// The compacted ledger and its log's text with the log's name.
    #[allow(clippy::type_complexity)]
    fn load_parts(&self) -> Result<(Ledger, Option<(String, String)>)> {
        if let Some(r) = self.remote_reader()? {
            let b = &r.backend;
            let text = |kind| -> Result<Option<String>> {
                b.read(kind)?.map(|v| String::from_utf8(v.bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", b.blob(kind)))).transpose()
            };
            let ledger = match text(StateKind::Ledger)? {
                Some(t) => Ledger::parse(&t).with_context(|| format!("reading ledger {}", b.blob(StateKind::Ledger)))?,
                None if self.path.exists() => bail!(
                    "{} holds no ledger, but {} does: run `tenantctl state migrate --to azurerm` to move it there first",
                    b.describe(),
                    self.path.display()
                ),
                None => Ledger::default(),
            };
            return Ok((ledger, text(StateKind::Wal)?.map(|log| (log, b.blob(StateKind::Wal)))));
        }
        let ledger = match read_text(&self.path).with_context(|| format!("reading ledger {}", self.path.display()))? {
            Some(text) => Ledger::parse(&text).with_context(|| format!("reading ledger {}", self.path.display()))?,
            None => Ledger::default(),
        };
        let log = read_text(&self.wal).with_context(|| format!("reading the ledger log {}", self.wal.display()))?;
        Ok((ledger, log.map(|l| (l, self.wal.display().to_string()))))
    }

    /// When the ledger or its log was last written.
    pub fn recorded_at(&self) -> Option<DateTime<Utc>> {
        if let Ok(Some(r)) = self.remote_reader() {
            return StateKind::ALL.iter().filter_map(|k| r.backend.read(*k).ok().flatten().and_then(|v| v.modified)).max();
        }
        [&self.path, &self.wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max()
            .map(DateTime::<Utc>::from)
    }

    /// Check, before the first change, that the ledger, its log and the
    /// journal can be written: the folder is created if missing, the log
    /// and journal opened for appending, and a file created and removed
    /// beside the ledger (the atomic rewrite needs that).
    pub fn probe(&self, journal: &Path) -> Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating the ledger's folder {}", parent.display()))?;
        }
        let probe = self.path.with_extension(format!("probe.{}.{:08x}", std::process::id(), rand::random::<u32>()));
        schema::read::create_new(&probe).with_context(|| format!("the ledger's folder is not writable: writing {}", probe.display()))?;
        std::fs::remove_file(&probe).with_context(|| format!("removing {}", probe.display()))?;
        let file = append(&self.wal)?;
        *self.file.lock().map_err(|_| anyhow::anyhow!("the ledger log lock is poisoned"))? = Some(file);
        append(journal)?;
        Ok(())
    }

    /// Whether this run still holds the state lease, asked of storage now
    /// (under azurerm, while holding it): for a record made before a write
    /// to Graph, which must not go out once another run holds the lease.
    pub fn confirm_lease(&self) -> Result<()> {
        match self.remote()? {
            Some(r) => match r.held_lease() {
                Some(lease) => crate::state_backend::block(async move { crate::state_lease::confirm(&lease, &r).await })?,
                None => r.check_lease(),
            },
            None => Ok(()),
        }
    }

    /// Whether this run may still write as the lease holder, as the
    /// lease's renewals last found it (no storage request).
    pub fn check_lease(&self) -> Result<()> {
        match self.remote()? {
            Some(r) => r.check_lease(),
            None => Ok(()),
        }
    }

    /// Append one change to the log and sync it.
    pub fn append(&self, op: &LedgerOp) -> Result<()> {
        let remote = self.remote()?;
        if let Some(r) = &remote {
            r.check_lease()?;
        }
        let mut guard = self.file.lock().map_err(|_| anyhow::anyhow!("the ledger log lock is poisoned"))?;
        if guard.is_none() {
            *guard = Some(append(&self.wal)?);
        }
        let f = guard.as_mut().context("the ledger log is not open")?;
        let line = format!("{}\n", Ledger::render_op(op));
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .with_context(|| format!("appending to the ledger log {}", self.wal.display()))?;
        if let Some(r) = remote {
            r.backend.append(StateKind::Wal, line.as_bytes()).with_context(|| format!("appending to the ledger log {}", r.backend.blob(StateKind::Wal)))?;
        }
        Ok(())
    }

    /// Write `ledger` whole (atomically) and drop the log it includes.
    pub fn compact(&self, ledger: &Ledger) -> Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = ledger.render();
        if let Some(r) = self.remote()? {
            // A run that lost its lease does not write the ledger on its
            // way out: the run that took the lease over owns it now (hostile
            // run 22, finding 8). Storage is asked, not only the lease's
            // last renewal: a break less than a renewal ago was missed, and
            // the run wrote the ledger and removed the log the new holder
            // appends to (hostile run 28, finding 6).
            r.check_lease()?;
            self.confirm_lease()?;
            let b = &r.backend;
            // The blob must still be the one this run pulled (or read).
            let expect = match r.pulled() {
                Some(Some(etag)) => Expect::Version(etag),
                Some(None) => Expect::Absent,
                None => b.read(StateKind::Ledger)?.map(|v| Expect::Version(v.version)).unwrap_or(Expect::Absent),
            };
            let etag = b.write(StateKind::Ledger, text.as_bytes(), &expect).with_context(|| format!("writing the ledger to {}", b.describe()))?;
            b.remove(StateKind::Wal)?;
            if r.pulled().is_some() {
                r.set_pulled(Some(Some(etag)));
            }
        }
        write_atomic(&self.path, &text)?;
        if let Ok(mut guard) = self.file.lock() {
            *guard = None;
        }
        match std::fs::remove_file(&self.wal) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing the compacted ledger log {}", self.wal.display())),
        }
    }
}

/// Whether `path` lies in a git work tree (a folder above it holds
/// `.git`), where a pull request can change it: a committed ledger. Only
/// the fallback for tenants that record no seal of the ledger yet: a
/// checkout without `.git` (a tarball) looks beyond review to it.
fn in_git_work_tree(path: &Path) -> bool {
    let abs = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let abs = if abs.is_relative() { std::env::current_dir().unwrap_or_default().join(abs) } else { abs };
    abs.ancestors().any(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
}

/// A state file's text by the loader's rules (`None` when absent).
fn read_text(path: &Path) -> Result<Option<String>> {
    match schema::read::read_state_file(path, schema::read::max_state_file_bytes())? {
        Some(bytes) => Ok(Some(String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))?)),
        None => Ok(None),
    }
}

/// `<ledger stem>.ledger-wal.jsonl` beside the ledger.
pub fn wal_path(ledger: &Path) -> PathBuf {
    ledger.with_extension("ledger-wal.jsonl")
}

fn append(path: &Path) -> Result<std::fs::File> {
    schema::read::open_append(path).with_context(|| format!("opening {} for appending", path.display()))
}

/// The state lock held by this run; released when dropped (a killed run
/// leaves it: a local one is taken over by the next run on this host, a
/// blob lease expires within a minute).
pub struct Held {
    inner: HeldLock,
    holder: Holder,
}

enum HeldLock {
    Local(LocalLock),
    Blob { lease: std::sync::Arc<BlobLease>, renew: tokio::task::JoinHandle<()>, remote: std::sync::Arc<Remote> },
}

impl Drop for Held {
    fn drop(&mut self) {
        let result = match &self.inner {
            HeldLock::Local(lock) => self.lock_release_local(lock),
            HeldLock::Blob { lease, renew, remote } => {
                renew.abort();
                remote.set_pulled(None);
                remote.set_held_lease(None);
                let (lease, holder) = (lease.clone(), self.holder.clone());
                crate::state_backend::block(async move { lease.release(&holder).await }).and_then(|r| r.map_err(anyhow::Error::from))
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "releasing the state lock");
        }
    }
}

impl Held {
    /// Whether this run still holds the lock, asked of storage now under
    /// azurerm ([`crate::state_lease::confirm`]); a local lock cannot be
    /// taken from a running holder without `--force`.
    pub async fn confirm(&self) -> Result<()> {
        match &self.inner {
            HeldLock::Local(_) => Ok(()),
            HeldLock::Blob { lease, remote, .. } => crate::state_lease::confirm(lease, remote).await,
        }
    }

    fn lock_release_local(&self, lock: &LocalLock) -> Result<()> {
        lock.release_now(&self.holder).map_err(anyhow::Error::from)
    }
}

/// Take the state lock of the ledger at `ledger` for `command`, waiting up
/// to `timeout` while another run holds it.
pub async fn lock(ledger: &Path, command: &str, timeout: Duration) -> Result<Held> {
    let holder = Holder::this_process(command);
    if let Some(remote) = crate::state_backend::remote_for(ledger)? {
        return lock_blob(ledger, remote, holder, timeout).await;
    }
    let lock = LocalLock::for_ledger(ledger);
    match providers::state_lock::acquire(&lock, &holder, timeout).await? {
        Acquired::Free => {}
        Acquired::TookOver(dead) => output::status(format!("Took over the state lock left by {dead}: that process is no longer running.")),
    }
    Ok(Held { inner: HeldLock::Local(lock), holder })
}

/// Take the blob lease, keep renewing it, and pull the state into the
/// local working copy.
async fn lock_blob(ledger: &Path, remote: std::sync::Arc<Remote>, holder: Holder, timeout: Duration) -> Result<Held> {
    let rt = crate::state_backend::storage_runtime()?;
    let lease = std::sync::Arc::new(BlobLease::new(remote.backend.store(), remote.backend.lock_blob()));
    let (l, h) = (lease.clone(), holder.clone());
    match rt.spawn(async move { providers::state_lock::acquire(l.as_ref(), &h, timeout).await }).await.context("the storage task stopped")?? {
        Acquired::Free => {}
        Acquired::TookOver(dead) => output::status(format!("Took the state lease over from {dead}: its lease expired or was broken, so that run is gone.")),
    }
    remote.lease_renewed();
    remote.set_held_lease(Some(lease.clone()));
    let (l, r) = (lease.clone(), remote.clone());
    // A renewal that fails is not only logged: the ledger log refuses the
    // next record once the lease is lost or may have run out, so the run
    // stops before its next change (hostile run 21, finding 1).
    let renew = rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(providers::state_blob::LEASE_SECONDS / 4)).await;
            match l.renew_or_lost().await {
                Ok(()) => r.lease_renewed(),
                Err((gone, e)) => {
                    tracing::warn!(error = %e, "renewing the state lease");
                    r.lease_failed(gone, crate::state_lease::lost_why(&l, gone, &e).await);
                }
            }
        }
    });
    let held = Held { inner: HeldLock::Blob { lease, renew, remote: remote.clone() }, holder };
    pull(ledger, &remote)?;
    Ok(held)
}

/// Copy the ledger and log blobs over the local files (under the lease).
fn pull(ledger: &Path, remote: &Remote) -> Result<()> {
    let b = &remote.backend;
    let local = crate::state_backend::LocalBackend::new(ledger);
    let blob = b.read(StateKind::Ledger)?;
    match &blob {
        Some(v) => {
            local.write(StateKind::Ledger, &v.bytes, &Expect::Any)?;
            set_mtime(ledger, v.modified);
        }
        None => {
            if local.read(StateKind::Ledger)?.is_some() {
                bail!(
                    "{} holds no ledger, but {} does: run `tenantctl state migrate --to azurerm` to move it there first (nothing was changed)",
                    b.describe(),
                    ledger.display()
                );
            }
        }
    }
    match b.read(StateKind::Wal)? {
        Some(v) => {
            local.write(StateKind::Wal, &v.bytes, &Expect::Any)?;
            set_mtime(&wal_path(ledger), v.modified);
        }
        None => local.remove(StateKind::Wal)?,
    }
    remote.set_pulled(Some(blob.map(|v| v.version)));
    Ok(())
}

/// Keep a pulled file's time the blob's, so the replication window counts
/// from the last write, not from the pull.
fn set_mtime(path: &Path, when: Option<DateTime<Utc>>) {
    if let Some(t) = when {
        let _ = std::fs::File::options().write(true).open(path).and_then(|f| f.set_modified(t.into()));
    }
}

/// `tenantctl unlock`: remove the state lock. Whatever is at the lock's
/// path is looked at without being opened (a FIFO, a link, a file that is
/// not a lock record is removed with `--yes`); a holder still running on
/// this host, in this PID namespace, is removed only with `--force`.
pub async fn unlock(ledger: &Path, yes: bool, force: bool) -> Result<std::process::ExitCode> {
    use providers::state_lock::{Found, Liveness};
    let lock = LocalLock::for_ledger(ledger);
    let path = lock.path().display().to_string();
    match lock.inspect()? {
        Found::Absent => {
            output::status(format!("No state lock at {path}."));
        }
        Found::NotALock(what) => {
            if !(yes || force) {
                bail!("{path} is not a tenantctl lock: {what}; pass --yes to remove it (it is removed without being opened or followed)");
            }
            lock.remove()?;
            output::status(format!("Removed {path}, which was not a tenantctl lock ({what})."));
        }
        Found::Held(holder) => {
            match holder.liveness() {
                Liveness::Running if !force => bail!(
                    "the state lock {path} is held by {holder}, which is still running on this host; let it finish or stop it. Pass --force to remove the lock anyway (that run would then race the next one)"
                ),
                Liveness::Running => {
                    output::status(format!("warning: removing the state lock of {holder}, which is still running (--force)"));
                }
                Liveness::Dead if !(yes || force) => bail!(
                    "the state lock {path} is held by {holder}, which is no longer running (the next run takes it over by itself); pass --yes to remove it now"
                ),
                Liveness::Unknown(why) if !(yes || force) => bail!(
                    "the state lock {path} is held by {holder}; whether it still runs cannot be checked from here ({why}). Make sure that run is gone (a run still going would then race another), then pass --yes to remove it"
                ),
                _ => {}
            }
            lock.remove()?;
            output::status(format!("Removed the state lock held by {holder}."));
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `tenantctl unlock [DIR] [--ledger PATH]`: the lock of `ledger`, or the
/// one lock found among DIR's possible ledgers (real tenant, --graph-url,
/// embedded sandbox).
pub async fn unlock_in(dir: &Path, ledger: Option<PathBuf>, yes: bool, force: bool) -> Result<std::process::ExitCode> {
    if let Ok(s) = schema::load(dir) {
        crate::state_backend::bind(&s);
    }
    if crate::state_backend::configured().is_some_and(|c| c.backend == schema::kinds::state_backend::BackendKind::Azurerm) {
        bail!("{}'s state is in an azurerm backend: `tenantctl state unlock {}` breaks its lease", dir.display(), dir.display());
    }
    if let Some(l) = ledger {
        return unlock(&l, yes, force).await;
    }
    let sdir = crate::target::state_dir(dir);
    let mut candidates = vec![dir.join("tenantctl.lock"), sdir.join("graph-url.lock"), sdir.join("sandbox.lock")];
    // And the keyed ledgers of this directory (sandbox / --graph-url, per tenant).
    let keyed = sdir.join(crate::state_paths::dir_key(dir));
    let mut more: Vec<PathBuf> = std::fs::read_dir(&keyed).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| crate::state_paths::tenant_of(p).is_some()).collect();
    more.sort();
    candidates.extend(more);
    // lstat: a dangling link or a FIFO at the lock's name is found too.
    let found: Vec<&PathBuf> = candidates.iter().filter(|l| LocalLock::for_ledger(l).path().symlink_metadata().is_ok()).collect();
    match found.as_slice() {
        [] => {
            output::status(format!("No state lock beside the ledgers of {}.", dir.display()));
            Ok(std::process::ExitCode::SUCCESS)
        }
        [one] => unlock(one, yes, force).await,
        many => bail!(
            "several state locks found; name the ledger with --ledger: {}",
            many.iter().map(|l| LocalLock::for_ledger(l).path().display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `--lock-timeout`: seconds, or a duration such as 30s, 5m, 1h.
pub fn parse_lock_timeout(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    match schema::kinds::rollout::parse_duration(s) {
        Some(secs) if secs >= 0 => Ok(Duration::from_secs(secs.unsigned_abs())),
        _ => Err(format!("`{s}` is not a timeout such as 0, 30s, 5m or 1h")),
    }
}

/// An id is put in request URLs: one that is no Graph id (`../x`, a query)
/// is refused, naming the entry, before any request.
pub(crate) fn check_ids(ledger: &Ledger, path: &Path) -> Result<()> {
    for (address, entry) in &ledger.resources {
        if let Some(why) = schema::object_id::problem(address.kind, &entry.id) {
            bail!("the ledger {} holds an entry {address} whose id {why}; correct or remove that entry", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_appends_replay_and_compact() {
        let dir = tempfile::tempdir().expect("test fixture");
        let store = LedgerStore::new(&dir.path().join("state/t.lock"));
        store.probe(&dir.path().join("state/t.journal.jsonl")).expect("test fixture");
        let op = LedgerOp::Record { address: "group.a".parse().expect("test fixture"), entry: engine::ledger::LedgerEntry { id: "3f2504e0-4f89-41d3-9a0c-0305e82c3301".into(), applied: None, changed_at: None, expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None } };
        store.append(&op).expect("test fixture");
        let l = store.load().expect("test fixture");
        assert_eq!(l.id(&"group.a".parse().expect("test fixture")), Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        store.compact(&l).expect("test fixture");
        assert!(!wal_path(store.path()).exists());
        assert_eq!(store.load().expect("test fixture"), l);
        assert_eq!(parse_lock_timeout("0").expect("test fixture"), Duration::ZERO);
        assert_eq!(parse_lock_timeout("2m").expect("test fixture"), Duration::from_secs(120));
        assert!(parse_lock_timeout("soon").is_err());
    }
}
