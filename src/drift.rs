//! `tenantctl drift`: read the tenant, compare with desired state, and report
//! what differs (never changes anything). Also the history directory of
//! drift reports that `reconcile` writes each pass and both read to say
//! since when a drift has been seen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use engine::drift::DriftReport;
use schema::{Address, Kind};

use crate::{load, output, read_ledger, target, write_atomic};

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq, Debug)]
pub enum DriftFormat {
    Text,
    Markdown,
    Json,
    Html,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The desired-state directory.
    #[arg(default_value = "desired-state")]
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: DriftFormat,
    /// Also write the report to this file (in --format).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 2 when there is drift (0 in sync, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Where drift reports are kept (default .tenantctl/history beside DIR).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Do not record this report in the history directory.
    #[arg(long)]
    pub no_record: bool,
    #[arg(long, env = "TENANTCTL_GRAPH_URL")]
    pub graph_url: Option<String>,
    #[arg(long, env = "TENANTCTL_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// The clock, for tests and reproducible reports (RFC 3339).
    #[arg(long, hide = true)]
    pub now: Option<DateTime<Utc>>,
}

/// The history directory: `--history`, else `.tenantctl/history` beside DIR.
pub fn history_dir(dir: &Path, explicit: Option<&Path>) -> PathBuf {
    explicit.map(Path::to_path_buf).unwrap_or_else(|| target::state_dir(dir).join("history"))
}

/// The most recent report in the history directory, if any. Unreadable
/// files are skipped with a warning: history is a convenience, never a
/// reason to fail.
pub fn latest(history: &Path) -> Option<DriftReport> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(history)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("drift-")))
        .collect();
    names.sort();
    for path in names.iter().rev() {
        // Read by the loader's rules: the history directory sits beside the
        // desired state, so a link to /dev/zero must not grow memory.
        let read = schema::read::read_state_file(path, schema::read::max_file_bytes()).map_err(anyhow::Error::from).and_then(|b| b.ok_or_else(|| anyhow::anyhow!("gone")));
        match read.and_then(|b| Ok(serde_json::from_slice::<DriftReport>(&b)?)) {
            Ok(r) => return Some(r),
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable history report"),
        }
    }
    None
}

/// Record a report as `drift-<time>.json`; returns the file written.
pub fn record(history: &Path, report: &DriftReport, suffix: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(history).with_context(|| format!("creating {}", history.display()))?;
    let stamp = report.generated_at.replace([':', '-'], "");
    let path = history.join(format!("drift-{stamp}{suffix}.json"));
    write_atomic(&path, &engine::drift::render_json(report))?;
    Ok(path)
}

/// Declared service accounts: changes touching them are sensitive.
pub fn service_accounts(state: &schema::DesiredState) -> BTreeSet<Address> {
    state
        .user
        .iter()
        .filter(|(_, u)| u.value.kind == schema::kinds::user::UserKind::Service)
        .map(|(k, _)| Address::new(Kind::User, k))
        .collect()
}

pub fn render(report: &DriftReport, format: DriftFormat) -> String {
    match format {
        DriftFormat::Text => engine::drift::render_text(report),
        DriftFormat::Markdown => engine::drift::render_markdown(report),
        DriftFormat::Json => engine::drift::render_json(report),
        DriftFormat::Html => engine::drift::render_html(report),
    }
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let now = args.now.unwrap_or_else(schema::clock::now);
    let state = load(&args.dir)?;
    let desired = providers::kinds::desired_model(&state);
    if args.now.is_some() {
        // A report as of another time says nothing true of a real tenant:
        // an expired guest would read as in sync.
        target::moved_clock_allowed(state.tenant.as_ref().map(|t| &t.value), args.graph_url.as_deref(), "drift --now")?;
    }
    let target = target::connect(&args.dir, state.tenant.as_ref().map(|t| &t.value), args.graph_url.as_deref(), args.ledger.clone()).await?;
    output::status(format!("Checking drift against {}", target.description));
    let mut ledger = read_ledger(&target.ledger_path)?;
    let target_ledger = target.ledger_path.clone();
    // Judged by the governance in force (the recorded trust root), as
    // reconcile judges, never by a desired [governance] nobody approved.
    let trust = match crate::governance::read_trust(&target.ledger_path) {
        Ok(t) => t,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    let (desired, pending) = crate::reconcile_pending::judged(desired, trust.as_ref());
    // The state is checked against the tenant's id read in the listings'
    // `$batch` (issue 13), before any ledger id is waited for; drift writes
    // its report only after that.
    let observed = crate::apply::observe_settled_checked(&target.client, &desired, &target.ledger_path, &ledger).await;
    // Whether the ledger's facts are proof: the tenant's seal (read only),
    // judged by the tenant id that read gave.
    let judged_seal = match &observed {
        Ok((_, Some(org))) => crate::ledger_seal::read_and_judge(&target.client, &crate::state::LedgerStore::new(&target.ledger_path), &mut ledger, org, false).await.map(|_| ()),
        _ => {
            crate::ledger_seal::unjudged(&mut ledger);
            Ok(())
        }
    };
    target.shutdown().await;
    let (observed, _) = observed?;
    judged_seal?;
    let mut plan = engine::plan(&desired, &observed, &ledger, &engine::PlanOptions { now })?;
    engine::governance::trust::attach(&mut plan, pending.as_ref().map_or(&desired, |p| &p.desired), trust.as_ref());
    let mut report = engine::drift::drift(&desired, &observed, &ledger, &plan, now);
    // What the tenant refused is not in sync either.
    report.in_sync &= plan.refused.is_empty();
    if pending.is_some() {
        crate::reconcile_pending::warn(&plan, &mut report);
        output::status("note: desired [governance] differs from the trust root; this report is judged by the governance in force (the trust root), until a plan its approvers approve is applied");
    }
    let history = history_dir(&args.dir, args.history.as_deref());
    report.carry_since(crate::state_side::latest_report(&target_ledger, &history).as_ref());
    if !args.no_record {
        crate::state_side::record_report(&target_ledger, &report);
        let path = record(&history, &report, "")?;
        tracing::info!(file = %path.display(), "recorded the drift report");
    }
    let rendered = render(&report, args.format);
    output::result(&rendered);
    if let Some(out) = &args.out {
        write_atomic(out, &rendered)?;
        output::status(format!("Wrote the report to {}", out.display()));
    }
    output::status(report.headline());
    // Unknown is never in sync: a drift job whose credentials broke fails.
    if !report.unknown.is_empty() {
        output::status(crate::unread_summary(&report.unknown));
        return Ok(ExitCode::from(1));
    }
    if let Some(text) = crate::refused::summary(&plan.refused, &crate::refused::Origins::of(&args.dir, &state)) {
        output::status(text);
        return Ok(ExitCode::from(1));
    }
    Ok(if args.detailed_exitcode && !report.in_sync { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
