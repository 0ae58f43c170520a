//! The state beside the ledger: the ledger with its write-ahead log, and
//! the lock every run that writes holds.
//!
//! The ledger (`*.lock`, sorted TOML, committed) is rewritten only at the
//! end of a run that wrote it. While the run goes, each change to it is
//! appended, and synced, to `<stem>.ledger-wal.jsonl` before the next change
//! starts, so a kill loses nothing and 10,000 changes cost 10,000 small
//! appends rather than 10,000 rewrites. Loading replays the log over the
//! ledger; compacting writes the result atomically and removes the log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use engine::ledger::LedgerOp;
use engine::Ledger;
use providers::state_lock::{Acquired, Holder, LocalLock, StateLock};

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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger with its log replayed (an absent ledger is empty). Both
    /// may sit in the desired-state directory, so they are read by the
    /// loader's rules: a regular file, no link leaving its directory,
    /// bounded in size.
    pub fn load(&self) -> Result<Ledger> {
        let ledger = match read_text(&self.path).with_context(|| format!("reading ledger {}", self.path.display()))? {
            Some(text) => Ledger::parse(&text).with_context(|| format!("reading ledger {}", self.path.display()))?,
            None => Ledger::default(),
        };
        match read_text(&self.wal).with_context(|| format!("reading the ledger log {}", self.wal.display()))? {
            Some(log) => ledger.replay(&log).with_context(|| format!("replaying the ledger log {}", self.wal.display())),
            None => Ok(ledger),
        }
    }

    /// When the ledger or its log was last written.
    pub fn recorded_at(&self) -> Option<DateTime<Utc>> {
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
        let probe = self.path.with_extension("probe");
        std::fs::write(&probe, b"").with_context(|| format!("the ledger's folder is not writable: writing {}", probe.display()))?;
        std::fs::remove_file(&probe).with_context(|| format!("removing {}", probe.display()))?;
        let file = append(&self.wal)?;
        *self.file.lock().map_err(|_| anyhow::anyhow!("the ledger log lock is poisoned"))? = Some(file);
        append(journal)?;
        Ok(())
    }

    /// Append one change to the log and sync it.
    pub fn append(&self, op: &LedgerOp) -> Result<()> {
        let mut guard = self.file.lock().map_err(|_| anyhow::anyhow!("the ledger log lock is poisoned"))?;
        if guard.is_none() {
            *guard = Some(append(&self.wal)?);
        }
        let f = guard.as_mut().context("the ledger log is not open")?;
        let line = format!("{}\n", Ledger::render_op(op));
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .with_context(|| format!("appending to the ledger log {}", self.wal.display()))
    }

    /// Write `ledger` whole (atomically) and drop the log it includes.
    pub fn compact(&self, ledger: &Ledger) -> Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        write_atomic(&self.path, &ledger.render())?;
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

/// A state file's text by the loader's rules (`None` when absent).
fn read_text(path: &Path) -> Result<Option<String>> {
    match schema::read::read_state_file(path, schema::read::max_file_bytes())? {
        Some(bytes) => Ok(Some(String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))?)),
        None => Ok(None),
    }
}

/// `<ledger stem>.ledger-wal.jsonl` beside the ledger.
pub fn wal_path(ledger: &Path) -> PathBuf {
    ledger.with_extension("ledger-wal.jsonl")
}

fn append(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening {} for appending", path.display()))
}

/// The state lock held by this run; released when dropped (a killed run
/// leaves it, and the next run on this host takes it over).
pub struct Held {
    lock: LocalLock,
    holder: Holder,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Err(e) = self.lock.release_now(&self.holder) {
            tracing::warn!(error = %e, "releasing the state lock");
        }
    }
}

/// Take the state lock of the ledger at `ledger` for `command`, waiting up
/// to `timeout` while another run holds it.
pub async fn lock(ledger: &Path, command: &str, timeout: Duration) -> Result<Held> {
    let lock = LocalLock::for_ledger(ledger);
    let holder = Holder::this_process(command);
    match providers::state_lock::acquire(&lock, &holder, timeout).await? {
        Acquired::Free => {}
        Acquired::TookOver(dead) => output::status(format!("Took over the state lock left by {dead}: that process is no longer running.")),
    }
    Ok(Held { lock, holder })
}

/// `tenantctl unlock`: remove the state lock whoever holds it.
pub async fn unlock(ledger: &Path, yes: bool) -> Result<std::process::ExitCode> {
    let lock = LocalLock::for_ledger(ledger);
    let Some(holder) = lock.holder().await? else {
        output::status(format!("No state lock at {}.", lock.path().display()));
        return Ok(std::process::ExitCode::SUCCESS);
    };
    if !yes {
        bail!(
            "the state lock {} is held by {holder}; make sure that run is gone (a run still going would then race another), then pass --yes to remove it",
            lock.path().display()
        );
    }
    if let Some(h) = lock.break_lock().await? {
        output::status(format!("Removed the state lock held by {h}."));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `tenantctl unlock [DIR] [--ledger PATH]`: the lock of `ledger`, or the
/// one lock found among DIR's possible ledgers (real tenant, --graph-url,
/// embedded sandbox).
pub async fn unlock_in(dir: &Path, ledger: Option<PathBuf>, yes: bool) -> Result<std::process::ExitCode> {
    if let Some(l) = ledger {
        return unlock(&l, yes).await;
    }
    let sdir = crate::target::state_dir(dir);
    let candidates = [dir.join("tenantctl.lock"), sdir.join("graph-url.lock"), sdir.join("sandbox.lock")];
    let found: Vec<&PathBuf> = candidates.iter().filter(|l| LocalLock::for_ledger(l).path().exists()).collect();
    match found.as_slice() {
        [] => {
            output::status(format!("No state lock beside the ledgers of {}.", dir.display()));
            Ok(std::process::ExitCode::SUCCESS)
        }
        [one] => unlock(one, yes).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_appends_replay_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        let store = LedgerStore::new(&dir.path().join("state/t.lock"));
        store.probe(&dir.path().join("state/t.journal.jsonl")).unwrap();
        let op = LedgerOp::Record { address: "group.a".parse().unwrap(), entry: engine::ledger::LedgerEntry { id: "1".into(), applied: None, changed_at: None } };
        store.append(&op).unwrap();
        let l = store.load().unwrap();
        assert_eq!(l.id(&"group.a".parse().unwrap()), Some("1"));
        store.compact(&l).unwrap();
        assert!(!wal_path(store.path()).exists());
        assert_eq!(store.load().unwrap(), l);
        assert_eq!(parse_lock_timeout("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_lock_timeout("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_lock_timeout("soon").is_err());
    }
}
