//! The trust root's protected ids inside what the journal records (hostile
//! run 14, finding 13): every trust-root recording journals the
//! fingerprint of `protected_ids` beside that of `[governance]`, and so
//! does each later addition of ids after an apply (`trust-root-ids`). A
//! trust root whose ids are not the ones last journalled (a hand edit
//! moving a protected id to another address, or dropping one) is refused
//! like an edited `[governance]`. Journals from before this record no ids
//! fingerprint: nothing is checked until the next recording.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};
use engine::governance::trust::TrustRoot;

/// The journal action of an addition of protected ids.
pub const IDS_ACTION: &str = "trust-root-ids";
/// The journal field holding the ids' fingerprint.
pub const FIELD: &str = "protected_ids_fingerprint";

/// The fingerprint of a trust root's protected ids.
pub fn fingerprint(root: &TrustRoot) -> String {
    engine::plan::fingerprint(&serde_json::to_value(&root.protected_ids).unwrap_or_default())
}

/// The ids fingerprint the journal beside `ledger` last recorded, if any.
pub fn last_recorded(ledger: &Path) -> Result<Option<String>> {
    let path = crate::apply::journal_path(ledger);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading journal {}", path.display())),
    }
    let file = std::fs::File::open(&path).with_context(|| format!("reading journal {}", path.display()))?;
    let mut last = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading journal {}", path.display()))?;
        if !line.contains(FIELD) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if v["action"] == crate::trust_store::JOURNAL_ACTION || v["action"] == IDS_ACTION {
            if let Some(fp) = v[FIELD].as_str() {
                last = Some(fp.to_string());
            }
        }
    }
    Ok(last)
}

/// Refuses `root` when its protected ids are not the ones last journalled.
pub fn check(root: &TrustRoot, ledger: &Path, describe: &str) -> Result<()> {
    match last_recorded(ledger)? {
        Some(fp) if fp != fingerprint(root) => bail!(
            "refusing: the protected object ids of the governance trust root {describe} are not the ones the journal last recorded (edited outside tenantctl): a protected id moved to another address would move its protection.\nRestore {describe} from backup (or the state backend), or re-adopt governance on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)"
        ),
        _ => Ok(()),
    }
}

/// Journal the ids of `root` after they were added (no approval needed:
/// only protection is added).
pub fn journal(root: &TrustRoot, ledger: &Path, who: &crate::apply::Attribution) -> Result<()> {
    let line = serde_json::json!({
        "when": schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "who": crate::apply::operator_for(Some(who)),
        "plan": root.plan,
        "address": "governance",
        "action": IDS_ACTION,
        "object_id": null,
        "outcome": "recorded",
        "error": null,
        "request_ids": [],
        "note": "protected object ids added to the trust root",
        "protected_ids_fingerprint": fingerprint(root),
        "author": who.author,
        "approvers": who.approvers,
        "change": who.change,
    });
    crate::apply::journal_line(&crate::apply::journal_path(ledger), &line)
}
