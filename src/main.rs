//! The `tenantctl` command line: argument parsing, wiring and output only.
//! The logic lives in the `schema`, `engine`, `providers` and `sandbox` crates.

mod apply;
mod approvals;
mod drift;
mod export;
mod governance;
mod governance_cmd;
mod trust_store;
mod output;
mod reconcile;
mod reconcile_report;
mod reconcile_window;
mod reconcile_lints;
mod reconcile_pending;
mod reconcile_settled;
mod replay;
mod state;
mod reconcile_health;
mod state_backend;
mod state_lease;
mod lease_checked;
mod state_cmd;
mod state_paths;
mod state_side;
mod target;
mod governance_adopt;
mod plan_expiry;
mod plan_claim;
mod reconcile_accounts;
mod tenant_check;
mod governance_writer;
mod ledger_seal;
mod ledger_restore;
mod ledger_dir;
mod log_owned;
mod lost_ownership;
mod sealed_accounts;
mod lost_journal;
mod reconcile_seal;
mod reconcile_delta_bound;
mod marker_merge;
mod marker_recheck;
mod marker_slow;
mod trust_seq;
mod reconcile_full_read;
mod reconcile_metrics;
mod import;
mod journal;
mod trust_ids;
mod approve_reasons;
mod refused;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "tenantctl", version, about = "GitOps reconciler for Microsoft 365 tenants (Entra ID and Intune)")]
struct Cli {
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log format on stderr: text, or json (one JSON object per line, for
    /// log collectors; status lines become info events).
    #[arg(long, value_enum, global = true, default_value = "text", env = "TENANTCTL_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate desired state; print counts per kind or every problem.
    Validate {
        #[arg(default_value = "desired-state")]
        dir: PathBuf,
    },
    /// Print the JSON Schema of desired-state files (for editors).
    Schema,
    /// Read the tenant and show what would change, in order.
    Plan {
        #[arg(default_value = "desired-state")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also save the plan as JSON, for `apply PLAN.json`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes (0 none, 1 error).
        #[arg(long)]
        detailed_exitcode: bool,
        /// With --format markdown: never print more than N bytes (GitHub
        /// refuses comments over 65536 characters); the summary, sensitive
        /// changes and lints are kept, the rest shortened.
        #[arg(long, value_name = "N")]
        max_bytes: Option<usize>,
        /// A Graph-compatible endpoint, e.g. a running `tenantctl sandbox serve`.
        #[arg(long, env = "TENANTCTL_GRAPH_URL")]
        graph_url: Option<String>,
        /// The ledger file (default: tenantctl.lock in DIR for a real tenant,
        /// under .tenantctl/ for a sandbox).
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
        /// Sign the saved plan as its author with this private key (from
        /// `tenantctl keygen`); sensitive plans need an author.
        #[arg(long, env = "TENANTCTL_AUTHOR_KEY", requires = "out")]
        author_key: Option<PathBuf>,
        /// The change record's summary (with the directory's `[change]`
        /// ticket, scope and timeline): kept in the plan, shown to
        /// approvers and written to the journal.
        #[arg(long, value_name = "TEXT")]
        change: Option<String>,
        /// With --out: how long the saved plan (and its approvals) stay
        /// valid, `90m`, `48h`, `7d`, `1w` (at most 30d; default: until
        /// the UTC midnight at least 7 days ahead, so a plan made again the
        /// same day hashes the same); signed with the plan as `not_after`.
        #[arg(long, value_name = "DURATION", requires = "out")]
        valid_for: Option<String>,
        #[command(flatten)]
        rollout: RolloutFlags,
        /// The person who wrote the change (in CI the pull request's
        /// author, e.g. `$GITHUB_ACTOR`), when --author-key is CI's: a key
        /// of [governance.authors] or approvers in force, signed into the
        /// plan and journalled; that person's key may not approve it.
        #[arg(long, env = "TENANTCTL_AUTHOR_NAME", value_name = "NAME")]
        author_name: Option<String>,
    },
    /// Make the tenant match desired state (or apply a saved plan exactly).
    Apply {
        /// A desired-state directory, or a plan saved with `plan --out`.
        #[arg(default_value = "desired-state")]
        source: PathBuf,
        /// The desired-state directory a saved plan was made from.
        #[arg(long, default_value = "desired-state")]
        dir: PathBuf,
        /// Apply without asking (for CI). Without a terminal this is required.
        #[arg(long)]
        auto_approve: bool,
        /// Allow more deletions than governance.prune.max_deletions.
        #[arg(long)]
        max_deletions: Option<u32>,
        /// Changes of one wave run at most this many times 20 at a time,
        /// their writes 20 to a `$batch` call; 1 runs changes one by one.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        #[arg(long, env = "TENANTCTL_GRAPH_URL")]
        graph_url: Option<String>,
        /// The ledger file (default: tenantctl.lock in DIR for a real tenant,
        /// under .tenantctl/ for a sandbox).
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
        #[command(flatten)]
        rollout: RolloutFlags,
        /// Wait this long (e.g. 30s, 5m) for another run's state lock; 0 fails at once.
        #[arg(long, default_value = "0", value_parser = state::parse_lock_timeout)]
        lock_timeout: std::time::Duration,
        /// Also count the detached approvals (`approve --detached-out`) in
        /// this directory that were made for the plan being applied.
        #[arg(long, env = "TENANTCTL_APPROVALS_DIR")]
        approvals_dir: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for approving or authoring plans: NAME.key
    /// (private, mode 0600) and NAME.pub; prints the public key.
    Keygen {
        /// Base name of the key files.
        #[arg(long)]
        out: PathBuf,
    },
    /// Approve a saved plan: verify it, show it, and add a signature.
    Approve {
        /// A plan saved with `plan --out`.
        plan: PathBuf,
        /// Your private key (from `tenantctl keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The desired-state directory the plan was made from.
        #[arg(long, default_value = "desired-state")]
        dir: PathBuf,
        /// Write only your signature to this file (e.g.
        /// approvals/NAME.sig.json) instead of adding it to the plan, so
        /// approvers can commit theirs independently.
        #[arg(long)]
        detached_out: Option<PathBuf>,
        /// The ledger of the target the plan is for: the plan's governance
        /// in force is checked against the trust root recorded beside it
        /// (as apply checks it) before anything is signed.
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
    },
    /// Adopt an existing object: record ADDRESS as owning OBJECT_ID in the ledger.
    Import {
        address: String,
        object_id: String,
        #[arg(long, default_value = "desired-state")]
        dir: PathBuf,
        #[arg(long, env = "TENANTCTL_GRAPH_URL")]
        graph_url: Option<String>,
        /// The ledger file (default: tenantctl.lock in DIR for a real tenant,
        /// under .tenantctl/ for a sandbox).
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
        /// Wait this long (e.g. 30s, 5m) for another run's state lock; 0 fails at once.
        #[arg(long, default_value = "0", value_parser = state::parse_lock_timeout)]
        lock_timeout: std::time::Duration,
    },
    /// Remove the state lock left by a run that is gone (one on another
    /// host, or a hung one); a dead run on this host is taken over by itself.
    Unlock {
        #[arg(default_value = "desired-state")]
        dir: PathBuf,
        /// The ledger whose lock to remove (default: the one lock found
        /// beside DIR's ledgers).
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
        /// Confirm: no run holding the lock is still going.
        #[arg(long)]
        yes: bool,
        /// Remove the lock even though its holder still runs on this host.
        #[arg(long)]
        force: bool,
    },
    /// Look at and move the state (`[state]`): show, pull, push, migrate, unlock.
    State(state_cmd::Args),
    /// Report what differs between desired state and the tenant (changes nothing).
    Drift(drift::Args),
    /// Detect drift on an interval and, with --self-heal, correct the safe part.
    Reconcile(reconcile::Args),
    /// The governance trust root (`governance adopt`).
    #[command(subcommand)]
    Governance(governance_cmd::GovernanceCmd),
    /// Read an existing tenant and write desired state plus ledger that adopt it.
    Export(export::Args),
    /// The local Graph-compatible sandbox tenant.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

/// Ring-by-ring rollout overrides.
#[derive(clap::Args, Clone, Copy, Default)]
struct RolloutFlags {
    /// Keep every rollout ring as it is this run.
    #[arg(long, conflicts_with = "force_rollout")]
    hold_rollout: bool,
    /// Ignore soak times: change every ring now.
    #[arg(long)]
    force_rollout: bool,
}

impl RolloutFlags {
    fn mode(self) -> engine::governance::RolloutMode {
        match (self.hold_rollout, self.force_rollout) {
            (true, _) => engine::governance::RolloutMode::Hold,
            (_, true) => engine::governance::RolloutMode::Force,
            _ => engine::governance::RolloutMode::Normal,
        }
    }
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Serve a sandbox tenant until Ctrl-C.
    Serve(sandbox::ServeArgs),
}

fn main() -> ExitCode {
    // A usage error (a mistyped flag, a bad value in an environment
    // variable clap reads) is an error, exit 1: clap's own exit code 2 is
    // tenantctl's "changes found" / "drift remains", which CI would take
    // for a plan (hostile run 19, finding 11). `--help` and `--version`
    // still print and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
            let _ = e.print();
            return code;
        }
    };
    // Environment values clap does not read are checked as strictly, once,
    // before any command: a bad one is a usage error naming the variable
    // (hostile run 22, finding 13).
    if let Err(e) = providers::replication_env::check(&|k| std::env::var(k).ok()).and_then(|()| schema::clock::offset_from(&|k| std::env::var(k).ok()).map(drop)) {
        output::error(format!("error: {e}"));
        return ExitCode::from(1);
    }
    let json = cli.log_format == LogFormat::Json;
    let filter = match cli.verbose {
        // JSON logs carry the status lines as info events.
        0 if json => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TENANTCTL_LOG").unwrap_or_else(|_| filter.into());
    if json {
        output::use_json_logs();
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors carry live text (object names, Graph's messages):
            // control and bidi characters are shown escaped, line by line.
            let safe = |t: String| t.split('\n').map(engine::render::text_safe).collect::<Vec<_>>().join("\n");
            output::error(format!("error: {}", safe(e.to_string())));
            for cause in e.chain().skip(1) {
                output::error(format!("  caused by: {}", safe(cause.to_string())));
            }
            ExitCode::from(1)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { dir } => validate(&dir),
        Command::Schema => {
            output::result(&schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { dir, format, out, detailed_exitcode, max_bytes, graph_url, ledger, author_key, change, rollout, valid_for, author_name } => {
            if max_bytes.is_some() && format != Format::Markdown {
                anyhow::bail!("--max-bytes applies to --format markdown only");
            }
            let saving = Saving { out: out.as_deref(), author_key: author_key.as_deref(), max_bytes, change: change.as_deref(), valid_for: valid_for.as_deref(), author_name: author_name.as_deref() };
            runtime()?.block_on(plan(&dir, format, saving, detailed_exitcode, graph_url.as_deref(), ledger, rollout.mode()))
        }
        Command::Keygen { out } => governance::keygen(&out),
        Command::Approve { plan, key, dir, detached_out, ledger } => {
            if let Some(l) = &ledger {
                governance::check_review(&plan, &dir, l)?;
            }
            governance::approve(&plan, &key, &dir, detached_out.as_deref())
        }
        Command::Apply { source, dir, auto_approve, max_deletions, concurrency, graph_url, ledger, rollout, lock_timeout, approvals_dir } => {
            let opts = apply::Options { auto_approve, max_deletions, concurrency, graph_url, ledger, rollout: rollout.mode(), lock_timeout, approvals_dir };
            runtime()?.block_on(apply::run(&source, &dir, &opts))
        }
        Command::Import { address, object_id, dir, graph_url, ledger, lock_timeout } => {
            runtime()?.block_on(import::import(&dir, &address, &object_id, graph_url.as_deref(), ledger, lock_timeout))
        }
        Command::Unlock { dir, ledger, yes, force } => runtime()?.block_on(state::unlock_in(&dir, ledger, yes, force)),
        Command::State(args) => runtime()?.block_on(state_cmd::run(args)),
        Command::Drift(args) => runtime()?.block_on(drift::run(args)),
        Command::Reconcile(args) => runtime()?.block_on(reconcile::run(args)),
        Command::Governance(cmd) => runtime()?.block_on(governance_cmd::run(cmd)),
        Command::Export(args) => runtime()?.block_on(export::run(args)),
        Command::Sandbox { command: SandboxCommand::Serve(args) } => {
            runtime()?.block_on(sandbox::serve(args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Load desired state, printing every problem on failure.
pub(crate) fn load(dir: &Path) -> Result<schema::DesiredState> {
    match schema::load(dir) {
        Ok(state) => {
            state_backend::bind(&state);
            if !state.warnings.is_empty() {
                output::status(state.warnings.to_string());
            }
            Ok(state)
        }
        Err(schema::LoadError::Invalid(diags)) => {
            output::status(diags.to_string());
            anyhow::bail!("{} is not valid desired state", dir.display())
        }
        Err(e) => Err(e.into()),
    }
}

fn validate(dir: &Path) -> Result<ExitCode> {
    let state = load(dir)?;
    // Guardrail lints of desired state alone (live ones run in plan).
    let lints = engine::governance::lint_desired(&providers::kinds::desired_model(&state), schema::clock::now());
    if governance::report_lints(&lints) > 0 {
        anyhow::bail!("{} breaks governance lints", dir.display());
    }
    let mut text = format!("{} is valid:\n", dir.display());
    for (kind, n) in state.counts() {
        text.push_str(&format!("  {:<22} {n}\n", kind.as_str()));
    }
    output::result(&text);
    Ok(ExitCode::SUCCESS)
}

/// The ledger, with the log of a run still going (or killed) replayed.
pub(crate) fn read_ledger(path: &Path) -> Result<engine::Ledger> {
    state::LedgerStore::new(path).load()
}

/// Write a file atomically: a temporary file beside it, then rename.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    // A fresh name and a new regular file: a link planted at a predictable
    // temporary name cannot redirect the write, and the data is on disk
    // before the rename makes it the file.
    let tmp = path.with_extension(format!("tmp.{}.{:08x}", std::process::id(), rand::random::<u32>()));
    let written = schema::read::create_new(&tmp).and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", tmp.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    // The rename itself is durable only once the folder is synced.
    schema::read::sync_parent(path).with_context(|| format!("syncing the folder of {}", path.display()))?;
    Ok(())
}

/// Where `plan` saves the plan, and who signs it as author.
struct Saving<'a> {
    out: Option<&'a Path>,
    author_key: Option<&'a Path>,
    /// The Markdown size limit (`--max-bytes`).
    max_bytes: Option<usize>,
    change: Option<&'a str>,
    /// `--valid-for`: the saved plan's `not_after`.
    valid_for: Option<&'a str>,
    /// `--author-name`: the person who wrote the change.
    author_name: Option<&'a str>,
}

async fn plan(dir: &Path, format: Format, saving: Saving<'_>, detailed: bool, graph_url: Option<&str>, ledger: Option<PathBuf>, rollout: engine::governance::RolloutMode) -> Result<ExitCode> {
    let out = saving.out;
    let state = load(dir)?;
    let desired = providers::kinds::desired_model(&state);
    let target = target::connect(dir, state.tenant.as_ref().map(|t| &t.value), graph_url, ledger).await?;
    // The change record is all the plan needs of the parsed files from now
    // on: they (every resource again, beside the model) are dropped before
    // the tenant is read, so both are not held at the peak.
    let change = governance::change_record(&state, saving.change);
    let origins = refused::Origins::of(dir, &state);
    drop(state);
    output::status(format!("Planning against {}", target.description));
    let mut ledger = read_ledger(&target.ledger_path)?;
    let progress = output::Progress::start("reading the tenant", format != Format::Json);
    // The state is checked against the tenant's id read in the listings' `$batch`.
    let (observed, org) = apply::observe_settled_checked(&target.client, &desired, &target.ledger_path, &ledger).await?;
    progress.finish();
    // Whether the ledger's facts are proof: the tenant's seal (read only).
    let marker = match org.as_deref() {
        Some(org) => ledger_seal::read_and_judge(&target.client, &state::LedgerStore::new(&target.ledger_path), &mut ledger, org, false).await?,
        None => {
            ledger_seal::unjudged(&mut ledger);
            None
        }
    };
    let stats = target.client.stats();
    let ledger_path = target.ledger_path.clone();
    let made = engine::plan::plan_with_rollout(&desired, &observed, &ledger, &engine::PlanOptions::default(), rollout).map_err(anyhow::Error::from).and_then(|mut p| governance::review(&mut p, &desired, &ledger_path).map(|_| p));
    // Planned: the tenant as read and the ledger are not needed to show
    // or save the plan, so they are not held beside its rendering (issue
    // 13: at 100k objects the render was the peak).
    drop(observed);
    drop(ledger);
    // The tenant's governance marker, as apply checks it: a plan its apply
    // would refuse says so now (exit 1).
    let marker = match &made {
        Ok(p) => governance::plan_marker_check(&target.client, p, &desired, &ledger_path, org.as_deref(), marker).await,
        Err(_) => Ok(()),
    };
    target.shutdown().await;
    let mut plan = made?;
    marker.context("apply would refuse this plan")?;
    plan.change = change?;
    if out.is_some() {
        plan.not_after = Some(plan_expiry::not_after(saving.valid_for, schema::clock::now())?);
    }
    governance_writer::set(&mut plan, &desired, saving.author_name)?;
    drop(desired);
    governance::sign_as_author(&mut plan, saving.author_key)?;
    output::status(format!("Read the tenant in {} Graph request(s).", stats.requests));
    let rendered = match format {
        Format::Text => engine::render::text(&plan, output::color_stdout()),
        Format::Markdown => match saving.max_bytes {
            Some(n) => engine::render::markdown_within(&plan, n),
            None => engine::render::markdown(&plan),
        },
        Format::Json => engine::render::json(&plan),
    };
    output::result(&rendered);
    if let Some(out) = out {
        write_atomic(out, &engine::render::json(&plan))?;
        output::status(format!("Saved the plan to {}", out.display()));
    }
    // Refused declarations: the rest is planned and shown, and this fails.
    let refused = refused::summary(&plan.refused, &origins);
    if let Some(text) = &refused {
        output::status(text);
    }
    if governance::lint_errors(&plan.lints) > 0 || refused.is_some() {
        return Ok(ExitCode::from(1));
    }
    // Unknown is never "no changes": what was not read may differ.
    if !plan.unknown.is_empty() {
        output::status(unread_summary(&plan.unknown));
        return Ok(ExitCode::from(1));
    }
    Ok(if detailed && plan.has_changes() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// What could not be read and why, for the error that makes `plan`, `drift`
/// and `apply` exit 1 (the same reason repeated for a whole collection is
/// said once, with the addresses it covers).
pub(crate) fn unread_summary(unknown: &[engine::plan::Unknown]) -> String {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for u in unknown {
        by_reason.entry(u.reason.as_str()).or_default().push(u.address.to_string());
    }
    let mut text = format!("error: {} resource(s) could not be read, so the result is incomplete (exit 1):", unknown.len());
    for (reason, addresses) in by_reason {
        text.push_str(&format!("
  {}: {}", addresses.join(", "), engine::render::text_safe(reason)));
    }
    text
}
