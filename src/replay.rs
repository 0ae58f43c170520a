//! Approvals are one-shot: a saved plan whose changes were applied once is
//! never applied again under the same signatures, even when the tenant and
//! desired state have come back to what it was made against (the access
//! it granted was revoked in the portal, the declaration dropped and
//! restored). The journal beside the ledger remembers which plan hashes
//! were applied.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result};

/// When the plan with `hash` had a change applied, from the journal beside
/// `ledger` (the first such line), or `None`. Lines that are not JSON (cut
/// short by a kill) are skipped; a journal that is not a regular file is
/// not read (every command that writes refuses it anyway).
pub fn applied_before(ledger: &Path, hash: &str) -> Result<Option<String>> {
    let path = crate::apply::journal_path(ledger);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading journal {}", path.display())),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).with_context(|| format!("reading journal {}", path.display()))?;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading journal {}", path.display()))?;
        if !line.contains(hash) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if v["plan"] == hash && v["outcome"] == "applied" {
            return Ok(Some(v["when"].as_str().unwrap_or("an earlier run").to_string()));
        }
    }
    Ok(None)
}
