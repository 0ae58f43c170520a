//! The state kept beside the ledger, through the `[state]` backend: the
//! governance trust root, reconcile's delta state and the history index
//! (the latest drift report, which carries each item's `since`).
//!
//! With the local backend these stay the files they always were (the
//! callers read and write them as before). With `azurerm` each is one blob
//! per tenant (`<prefix>/<tenant>/trust.json`, `delta.json`,
//! `history-latest.json`), so a fresh checkout in CI has them. A write is
//! conditional on the ETag this process read (or on the blob being absent
//! when it read none): a conflicting write by another run is refused,
//! never lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, Context, Result};

use crate::state_backend::{Expect, StateBackend, StateKind};

/// The kinds kept beside the ledger.
pub const SIDE: [StateKind; 3] = [StateKind::Trust, StateKind::Delta, StateKind::History];

/// What this process read of each (ledger, kind): the version, `None` absent.
type Versions = BTreeMap<(PathBuf, StateKind), Option<String>>;
static VERSIONS: OnceLock<Mutex<Versions>> = OnceLock::new();

fn remember(ledger: &Path, kind: StateKind, version: Option<String>) {
    if let Ok(mut m) = VERSIONS.get_or_init(Default::default).lock() {
        m.insert((ledger.to_path_buf(), kind), version);
    }
}

fn remembered(ledger: &Path, kind: StateKind) -> Option<Option<String>> {
    VERSIONS.get_or_init(Default::default).lock().ok().and_then(|m| m.get(&(ledger.to_path_buf(), kind)).cloned())
}

/// Where a kind is kept, for messages: the blob, or `None` for local files.
pub fn remote_name(ledger: &Path, kind: StateKind) -> Result<Option<String>> {
    Ok(crate::state_backend::remote_for(ledger)?.map(|r| format!("{} ({})", r.backend.blob(kind), r.backend.describe())))
}

/// Under azurerm, the kind's blob (`Some(None)`: absent); `None` when the
/// state is local and the caller reads its file.
pub fn read_remote(ledger: &Path, kind: StateKind) -> Result<Option<Option<Vec<u8>>>> {
    let Some(r) = crate::state_backend::remote_for(ledger)? else {
        return Ok(None);
    };
    let got = r.backend.read(kind).with_context(|| format!("reading {}", r.backend.blob(kind)))?;
    remember(ledger, kind, got.as_ref().map(|v| v.version.clone()));
    Ok(Some(got.map(|v| v.bytes)))
}

/// Under azurerm, write the kind's blob if it is still what this process
/// read (refused otherwise) and return `true`; `false` when the state is
/// local and the caller writes its file.
pub fn write_remote(ledger: &Path, kind: StateKind, bytes: &[u8]) -> Result<bool> {
    let Some(r) = crate::state_backend::remote_for(ledger)? else {
        return Ok(false);
    };
    // A run that lost the lease it held writes no state (hostile run 22,
    // finding 8): the trust root, delta and history are the holder's now.
    r.check_lease()?;
    let expect = match remembered(ledger, kind) {
        Some(Some(v)) => Expect::Version(v),
        Some(None) => Expect::Absent,
        // Never read here: whatever is there now is what it replaces.
        None => r.backend.read(kind)?.map(|v| Expect::Version(v.version)).unwrap_or(Expect::Absent),
    };
    let version = r
        .backend
        .write(kind, bytes, &expect)
        .with_context(|| format!("writing {}: another run changed it since this one read it, so nothing was overwritten", r.backend.blob(kind)))?;
    remember(ledger, kind, Some(version));
    Ok(true)
}

/// Reconcile's delta state of `ledger`'s tenant when the ledger is
/// `DIR/tenantctl.lock` (a real tenant): under `.tenantctl/`, not in the
/// desired state; else beside the (keyed) ledger.
pub fn delta_path(dir: &Path, ledger: &Path) -> PathBuf {
    let stem = ledger.file_stem().and_then(|s| s.to_str()).unwrap_or("tenantctl");
    if ledger.parent() == Some(dir) {
        crate::target::state_dir(dir).join(crate::state_paths::dir_key(dir)).join(format!("{stem}.delta.json"))
    } else {
        ledger.with_extension("delta.json")
    }
}

/// The latest drift report: the history blob under azurerm, else the
/// newest report in the history directory.
pub fn latest_report(ledger: &Path, history: &Path) -> Option<engine::drift::DriftReport> {
    match read_remote(ledger, StateKind::History) {
        Ok(Some(Some(bytes))) => match serde_json::from_slice(&bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "skipping an unreadable history blob");
                None
            }
        },
        Ok(Some(None)) => None,
        Ok(None) => crate::drift::latest(history),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "the history blob was not read");
            None
        }
    }
}

/// Record `report` as the latest in the history blob (azurerm only; the
/// report files are written by the caller either way). A conflict (another
/// run recorded one meanwhile) is a warning: history is a convenience.
pub fn record_report(ledger: &Path, report: &engine::drift::DriftReport) {
    let text = engine::drift::render_json(report);
    if let Err(e) = write_remote(ledger, StateKind::History, text.as_bytes()) {
        crate::output::status(format!("warning: the history index was not updated: {e:#}"));
    }
}

/// A side kind's local file for `state migrate|pull|push`: the trust root
/// and delta state beside the ledger; the history index as the newest
/// report in DIR's history directory (written as a new report).
pub fn local_file(dir: &Path, ledger: &Path, kind: StateKind) -> Option<PathBuf> {
    match kind {
        StateKind::Trust => Some(crate::governance::trust_path(ledger)),
        StateKind::Delta => Some(delta_path(dir, ledger)),
        _ => None,
    }
}

/// Read a side kind from the local files (`None`: absent).
pub fn read_local(dir: &Path, ledger: &Path, kind: StateKind) -> Result<Option<Vec<u8>>> {
    if kind == StateKind::History {
        return Ok(crate::drift::latest(&crate::drift::history_dir(dir, None)).map(|r| engine::drift::render_json(&r).into_bytes()));
    }
    let Some(path) = local_file(dir, ledger, kind) else { return Ok(None) };
    schema::read::read_state_file(&path, schema::read::max_state_file_bytes()).with_context(|| format!("reading {}", path.display()))
}

/// Write a side kind to the local files.
pub fn write_local(dir: &Path, ledger: &Path, kind: StateKind, bytes: &[u8]) -> Result<PathBuf> {
    if kind == StateKind::History {
        let report: engine::drift::DriftReport = serde_json::from_slice(bytes).context("the history index is not a drift report")?;
        return crate::drift::record(&crate::drift::history_dir(dir, None), &report, "-migrated");
    }
    let path = local_file(dir, ledger, kind).ok_or_else(|| anyhow!("no local file for this state"))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("the state written to {} is not UTF-8", path.display()))?;
    crate::write_atomic(&path, text)?;
    Ok(path)
}
