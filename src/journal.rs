//! The journal beside the ledger (`*.journal.jsonl`): one JSON line per
//! change tenantctl carried out, failed or skipped (and per object adopted
//! or created), appended and synced before the run moves on, never
//! rewritten. Used by `apply`, `reconcile --self-heal` and the governance
//! commands; each line names the operator, the plan's hash, and the
//! plan's author, approvers and change record.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use engine::apply::{ChangeResult, Status};
use serde_json::json;

fn now() -> String {
    schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Who ran the change: `TENANTCTL_OPERATOR`, the CI system's actor
/// (GitHub Actions, Azure Pipelines, GitLab), the login name (`USER`,
/// `USERNAME`, `LOGNAME`), else the plan's signing author, else "unknown".
pub(crate) fn operator_for(who: Option<&Attribution>) -> String {
    for var in ["TENANTCTL_OPERATOR", "GITHUB_ACTOR", "BUILD_REQUESTEDFOR", "GITLAB_USER_LOGIN", "USER", "USERNAME", "LOGNAME"] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return v;
        }
    }
    who.and_then(|w| w.author.clone()).unwrap_or_else(|| "unknown".into())
}

pub(crate) fn journal_path(ledger: &Path) -> PathBuf {
    ledger.with_extension("journal.jsonl")
}

/// Who authored and approved the plan a journalled change belongs to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attribution {
    pub author: Option<String>,
    pub approvers: Vec<String>,
    /// The plan's change record, `name: value; ...`.
    pub change: Option<String>,
}

/// Append one line to the journal; never rewrites it. Also used by
/// `reconcile --self-heal`, so every change tenantctl makes is journaled.
pub(crate) fn journal(path: &Path, plan_hash: &str, r: &ChangeResult) -> Result<()> {
    journal_attributed(path, plan_hash, r, &Attribution::default())
}

/// [`journal`], naming the plan's author and approvers.
pub(crate) fn journal_attributed(path: &Path, plan_hash: &str, r: &ChangeResult, who: &Attribution) -> Result<()> {
    let (outcome, error) = match &r.status {
        Status::Applied => ("applied", None),
        Status::Failed { error } => ("failed", Some(error.clone())),
        Status::Skipped { error, blocked_by } => ("skipped", Some(format!("blocked by {blocked_by}: {error}"))),
    };
    let line = json!({
        "when": now(),
        "who": operator_for(Some(who)),
        "plan": plan_hash,
        "address": r.address.to_string(),
        "action": r.action.as_str(),
        "object_id": r.id,
        "outcome": outcome,
        "error": error,
        "request_ids": r.request_ids,
        "note": r.note,
        "author": who.author,
        "approvers": who.approvers,
        "change": who.change,
    });
    journal_line(path, &line)
}

/// A journal line for what is not a planned change's outcome: an object
/// adopted by natural key, or a create Graph answered (before its object
/// is readable), so every object tenantctl made is journaled even if the
/// run is killed before the change finishes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn journal_event(path: &Path, plan_hash: &str, address: &schema::Address, action: &str, id: &str, outcome: &str, note: &str, who: &Attribution) -> Result<()> {
    let line = json!({
        "when": now(),
        "who": operator_for(Some(who)),
        "plan": plan_hash,
        "address": address.to_string(),
        "action": action,
        "object_id": id,
        "outcome": outcome,
        "error": null,
        "request_ids": [],
        "note": note,
        "author": who.author,
        "approvers": who.approvers,
        "change": who.change,
    });
    journal_line(path, &line)
}

pub(crate) fn journal_line(path: &Path, line: &serde_json::Value) -> Result<()> {
    // The journal's folder beside the ledger may not exist yet: with the
    // azurerm backend a fresh checkout has no `.tenantctl/`, and
    // `governance adopt` writes its line before anything else there
    // (gov26's finding).
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating the journal's folder {}", parent.display()))?;
    }
    let mut f = schema::read::open_append(path).with_context(|| format!("opening journal {}", path.display()))?;
    // Fault injection for the "record before moving on" tests: every
    // journal write fails as on a full disk (the file itself opens fine).
    if std::env::var_os("TENANTCTL_TEST_JOURNAL_FULL").is_some() {
        return Err(std::io::Error::other("No space left on device (TENANTCTL_TEST_JOURNAL_FULL)")).with_context(|| format!("appending to journal {}", path.display()));
    }
    // One write of the whole line, so a kill cannot leave half of it.
    f.write_all(format!("{line}\n").as_bytes()).with_context(|| format!("appending to journal {}", path.display()))?;
    f.sync_data().with_context(|| format!("syncing journal {}", path.display()))?;
    Ok(())
}
