//! `tenantctl apply` and `tenantctl import`: wiring of plan, confirmation,
//! the engine's apply walk and the Graph executor, with the ledger written
//! atomically after every change and every change appended to the journal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use engine::apply::{ApplyOptions, ChangeResult, Status};
use engine::{Ledger, Plan};
use serde_json::json;

use crate::{load, output, read_ledger, target, write_atomic};

pub struct Options {
    pub auto_approve: bool,
    pub max_deletions: Option<u32>,
    pub concurrency: usize,
    pub graph_url: Option<String>,
    pub ledger: Option<PathBuf>,
    pub rollout: engine::governance::RolloutMode,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Who ran the change, for the journal.
fn operator() -> String {
    std::env::var("TENANTCTL_OPERATOR")
        .or_else(|_| std::env::var("GITHUB_ACTOR"))
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
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
        "who": operator(),
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
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening journal {}", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("appending to journal {}", path.display()))?;
    f.sync_data().ok();
    Ok(())
}

fn confirm(auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("apply needs confirmation, and there is no terminal to ask on; pass --auto-approve (for CI) after reviewing the plan");
    }
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the confirmation")?;
    Ok(answer.trim() == "yes")
}

/// What differs between a saved plan and a fresh one, for the stale error.
fn stale_reasons(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if saved.desired_fingerprint != fresh.desired_fingerprint {
        out.push("the desired state changed since the plan was made".to_string());
    }
    if saved.observed_fingerprint != fresh.observed_fingerprint {
        out.push("the tenant changed since the plan was made".to_string());
        // Compared as saved, i.e. with secrets redacted.
        let key = |p: &Plan| -> std::collections::BTreeMap<String, String> {
            let v = engine::render::redacted(p);
            v.get("changes")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| (c["address"].as_str().unwrap_or_default().to_string(), format!("{}{}", c["action"], c["fields"])))
                .collect()
        };
        let (a, b) = (key(saved), key(fresh));
        for addr in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
            if a.get(addr) != b.get(addr) {
                out.push(format!("  {addr}: now {}", fresh.changes.iter().find(|c| &c.address.to_string() == addr).map(|c| format!("{} ({})", c.action.as_str(), c.reason)).unwrap_or_else(|| "no change needed".into())));
            }
        }
    }
    out
}

pub async fn run(source: &Path, dir: &Path, opts: &Options) -> Result<ExitCode> {
    let saved: Option<Plan> = if source.is_file() { Some(crate::governance::read_plan(source)?) } else { None };
    let dir = if saved.is_some() { dir } else { source };
    let state = load(dir)?;
    let desired = providers::kinds::desired_model(&state);
    let target = target::connect(dir, state.tenant.as_ref().map(|t| &t.value), opts.graph_url.as_deref(), opts.ledger.clone()).await?;
    output::status(format!("Applying to {}", target.description));
    let mut ledger = read_ledger(&target.ledger_path)?;
    let target_ledger = target.ledger_path.clone();
    let observed = providers::observe::observe(&target.client, &desired, &ledger).await.context("reading the tenant")?;
    let mut fresh = engine::plan::plan_with_rollout(&desired, &observed, &ledger, &engine::PlanOptions::default(), opts.rollout)?;
    // Judged by the governance in force (the recorded trust root), so a
    // saved plan claiming other approvers hashes differently and is stale.
    crate::governance::review(&mut fresh, &desired, &target.ledger_path)?;
    fresh.change = crate::governance::change_record(&state, None);
    let mut attribution = Attribution::default();
    let plan = match saved {
        Some(saved) => {
            // The change record is the author's (signed with the plan).
            fresh.change = saved.change.clone();
            // The tenant or desired state moved on since the plan was made.
            let reasons = stale_reasons(&saved, &fresh);
            if !reasons.is_empty() {
                target.shutdown().await;
                bail!("plan is stale; make a new plan and review it again:\n{}", reasons.join("\n"));
            }
            // Every signature is checked before any write; an edited file
            // fails here, with the reason.
            match engine::governance::verify_approvals(&saved, &desired) {
                Ok(v) => {
                    if v.sensitive > 0 {
                        output::status(format!("{} sensitive change(s) approved by {}.", v.sensitive, v.approvers.join(", ")));
                    }
                    attribution = Attribution { author: v.author, approvers: v.approvers, change: None };
                }
                Err(e) => {
                    target.shutdown().await;
                    bail!("refusing to apply {}: {e}", source.display());
                }
            }
            // Same inputs but a different plan: an unsigned plan edited by
            // hand, or a deadline (expiry, rollout soak) passed since.
            if saved.hash() != fresh.hash() {
                target.shutdown().await;
                bail!("plan is stale; make a new plan and review it again:\nits changes are not what the desired state and the tenant give now (edited by hand, or an expiry or soak time passed)");
            }
            // The fresh plan hashes the same as the approved one (checked
            // above), and unlike the file it holds secret values (never
            // saved), so it is what is carried out, under the approvals.
            let mut approved = fresh;
            approved.author = saved.author;
            approved.approvals = saved.approvals;
            approved
        }
        None => {
            let in_force = fresh.governance.as_ref().map(|g| g.in_force.approvals_required).unwrap_or(desired.governance.approvals_required);
            let governance_change = fresh.governance.as_ref().and_then(|g| g.reason());
            if (!fresh.sensitive.is_empty() || governance_change.is_some()) && in_force > 0 {
                target.shutdown().await;
                let mut list: Vec<String> = fresh.sensitive.iter().map(|(a, why)| format!("  - {a}: {why}")).collect();
                list.extend(governance_change.map(|why| format!("  - governance: {why}")));
                bail!(
                    "the plan has {} sensitive change(s), and sensitive changes need a saved plan approved by {} approver(s) other than its author:\n{}\n\
                     make one with `tenantctl plan {dir} --out plan.json --author-key YOU.key`, have approvers run `tenantctl approve plan.json --key THEIR.key --dir {dir}`, then `tenantctl apply plan.json --dir {dir}`",
                    list.len(),
                    in_force,
                    list.join("\n"),
                    dir = dir.display()
                );
            }
            fresh
        }
    };
    if plan.lint_errors() > 0 {
        target.shutdown().await;
        let errors: Vec<String> = plan.lints.iter().filter(|f| f.severity == engine::governance::Severity::Error).map(|f| format!("  {f}")).collect();
        bail!("the plan breaks governance lints (allow one on purpose in [governance] allow):\n{}", errors.join("\n"));
    }
    if !plan.unknown.is_empty() {
        output::status(format!("{} resource(s) could not be read and are left alone.", plan.unknown.len()));
    }
    if plan.is_empty() {
        output::result(&engine::render::text(&plan, output::color_stdout()));
        target.shutdown().await;
        crate::governance::record_trust(&plan, &desired, &target_ledger, &attribution.approvers)?;
        return Ok(ExitCode::SUCCESS);
    }
    let limit = opts.max_deletions.unwrap_or(desired.governance.prune.max_deletions);
    if plan.deletions() as u32 > limit {
        target.shutdown().await;
        bail!("the plan deletes {} objects, more than the limit of {limit} (governance.prune.max_deletions); review it and pass --max-deletions {} to allow it", plan.deletions(), plan.deletions());
    }
    output::result(&engine::render::text(&plan, output::color_stdout()));
    if !confirm(opts.auto_approve)? {
        target.shutdown().await;
        output::status("Nothing applied.");
        return Ok(ExitCode::from(1));
    }
    attribution.change = plan.change.as_ref().map(|c| c.lines().join("; "));
    // Verified against the governance in force above: this apply records
    // the plan's [governance] (first use, or an approved change).
    crate::governance::record_trust(&plan, &desired, &target_ledger, &attribution.approvers)?;
    let executor = providers::apply::GraphExecutor::new(target.client.clone(), |name| std::env::var(name).ok(), chrono::Utc::now());
    let ledger_path = target.ledger_path.clone();
    let journal_file = journal_path(&ledger_path);
    let hash = plan.hash();
    let mut write_error: Option<anyhow::Error> = None;
    let report = engine::apply::apply(
        &plan,
        &mut ledger,
        &executor,
        &ApplyOptions { concurrency: opts.concurrency, now: now() },
        |result, ledger: &Ledger| {
            let symbol = match result.status {
                Status::Applied => "ok",
                Status::Failed { .. } => "FAILED",
                Status::Skipped { .. } => "skipped",
            };
            output::status(format!("  {symbol:<7} {} {}", result.action.as_str(), result.address));
            if let Status::Failed { error } | Status::Skipped { error, .. } = &result.status {
                output::status(format!("          {error}"));
            }
            let written = write_atomic(&ledger_path, &ledger.render()).and_then(|_| journal_attributed(&journal_file, &hash, result, &attribution));
            if let Err(e) = written {
                write_error.get_or_insert(e);
            }
        },
    )
    .await;
    target.shutdown().await;
    if let Some(e) = write_error {
        return Err(e.context("recording the apply (ledger or journal)"));
    }
    output::status(format!(
        "Applied {}, failed {}, skipped {}. Ledger: {}",
        report.applied(),
        report.failed(),
        report.skipped(),
        ledger_path.display()
    ));
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub async fn import(dir: &Path, address: &str, object_id: &str, graph_url: Option<&str>, ledger: Option<PathBuf>) -> Result<ExitCode> {
    let address: schema::Address = address.parse().with_context(|| format!("`{address}` is not an address such as group.mwd-test"))?;
    let state = load(dir)?;
    if !state.contains(&address) {
        bail!("{address} is not declared in {}; declare it before importing", dir.display());
    }
    let target = target::connect(dir, state.tenant.as_ref().map(|t| &t.value), graph_url, ledger).await?;
    let mut ledger = read_ledger(&target.ledger_path)?;
    if let Some((other, _)) = ledger.resources.iter().find(|(a, e)| e.id == object_id && **a != address) {
        target.shutdown().await;
        bail!("object {object_id} is already owned by {other}");
    }
    // Only an object that exists, as the declared kind, is adopted.
    let found = providers::apply::read_object(&target.client, address.kind, object_id).await;
    match found {
        Ok(Some(_)) => {}
        Ok(None) => {
            let where_ = target.description.clone();
            target.shutdown().await;
            bail!("no {} with id {object_id} exists in {where_}", address.kind);
        }
        Err(e) => {
            target.shutdown().await;
            return Err(anyhow::Error::new(e).context(format!("reading {object_id}")));
        }
    }
    ledger.record(address.clone(), object_id.to_string(), None, Some(now()));
    write_atomic(&target.ledger_path, &ledger.render())?;
    target.shutdown().await;
    output::status(format!("{address} now owns {object_id} ({})", target_ledger_note()));
    Ok(ExitCode::SUCCESS)
}

fn target_ledger_note() -> &'static str {
    "recorded in the ledger; the next plan compares it with desired state"
}
