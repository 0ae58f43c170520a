//! Detached approvals: one signature per file, so several approvers can
//! each commit theirs (under `approvals/` in the pull request) without
//! editing the same plan file. `tenantctl approve --detached-out FILE`
//! writes one; `tenantctl apply PLAN --approvals-dir DIR` adds every one in
//! DIR made for that plan before the usual verification (which checks each
//! signature against the plan, its author and `[governance.approvers]`).
//!
//! A file is the JSON of one [`Approval`]: `approver`, `public_key`, `plan`
//! (the plan hash it signs) and `signature`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use engine::governance::Approval;
use engine::Plan;

/// Writes `approval` to `path` (creating its directory), atomically. An
/// earlier file there is replaced: approving a new plan replaces the
/// approver's signature of the old one.
pub fn write(path: &Path, approval: &Approval) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(approval).context("encoding the approval")? + "\n";
    crate::write_atomic(path, &text)
}

/// What [`merge`] found in the directory.
#[derive(Debug, Default)]
pub struct Merged {
    /// Approvals added to the plan.
    pub added: usize,
    /// Files holding approvals for another plan: (file, plan hash signed).
    pub other_plans: Vec<(PathBuf, String)>,
}

/// Adds to `plan` every approval in `dir` (files ending `.json`, read in
/// name order) signed for this plan's hash and not already present.
/// Approvals for other plans are left out and reported; unreadable files
/// are an error naming the file.
pub fn merge(plan: &mut Plan, dir: &Path) -> Result<Merged> {
    let mut merged = Merged::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(merged),
        Err(e) => {
            return Err(e).with_context(|| format!("reading approvals directory {}", dir.display()))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let hash = plan.hash();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading approval {}", file.display()))?;
        let approval: Approval = match serde_json::from_str(&text) {
            Ok(a) => a,
            Err(e) => bail!(
                "{}:{}:{}: not a tenantctl approval: {e}",
                file.display(),
                e.line(),
                e.column()
            ),
        };
        if approval.plan != hash {
            merged.other_plans.push((file, approval.plan));
            continue;
        }
        if plan
            .approvals
            .iter()
            .any(|a| a.public_key.trim() == approval.public_key.trim())
        {
            continue;
        }
        plan.approvals.push(approval);
        merged.added += 1;
    }
    Ok(merged)
}
