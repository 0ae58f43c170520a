//! `tenantctl reconcile`: drift detection on an interval (or one pass for
//! cron and CI), with optional self-healing of the safe part.
//!
//! Each pass re-reads the desired-state directory (it pulls nothing: keep
//! the checkout current by other means), reads the tenant with delta queries
//! for users and groups, writes a report to the history directory, and with
//! `--self-heal` applies the non-sensitive corrections, one change at a
//! time, inside the sync windows. Sensitive corrections are reported as
//! waiting for approval and never applied unattended. A failed pass is
//! logged and retried at the next interval. SIGTERM or Ctrl-C lets the
//! current change finish, then exits 0.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use engine::apply::{ApplyOptions, Status};
use engine::{Plan, PlanOptions};
use rand::Rng;

pub use crate::reconcile_report::{Held, PassReport};
use crate::reconcile_report::{last_pass, remaining, summary};
use crate::reconcile_window::{window_open, Window};
use crate::{drift, load, output, read_ledger, target, write_atomic};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(default_value = "desired-state")]
    pub dir: PathBuf,
    /// Time between passes (e.g. 30s, 15m, 1h); each wait is jittered by up to 10%.
    #[arg(long, default_value = "15m", value_parser = parse_interval)]
    pub interval: Duration,
    /// Apply non-sensitive corrections automatically.
    #[arg(long)]
    pub self_heal: bool,
    /// When changes may be made, e.g. "Mon-Fri 08:00-18:00" (UTC) or
    /// "Sat 02:00-06:00 +01:00". Repeatable; none means always.
    #[arg(long = "window", value_parser = Window::parse)]
    pub windows: Vec<Window>,
    /// One pass, then exit (0 in sync, 2 drift remains, 1 the pass failed).
    #[arg(long)]
    pub once: bool,
    /// Where pass reports are written (default .tenantctl/history beside DIR).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Serve Prometheus metrics, /healthz and /readyz on this loopback address.
    #[arg(long)]
    pub metrics_addr: Option<SocketAddr>,
    /// Allow a non-loopback --metrics-addr (in a container, for probes and
    /// Prometheus).
    #[arg(long)]
    pub metrics_allow_remote: bool,
    #[arg(long, env = "TENANTCTL_GRAPH_URL")]
    pub graph_url: Option<String>,
    #[arg(long, env = "TENANTCTL_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// The clock at start, for tests (RFC 3339); time then advances normally.
    #[arg(long, hide = true)]
    pub now: Option<DateTime<Utc>>,
    /// Stop after this many passes (tests).
    #[arg(long, hide = true)]
    pub passes: Option<u64>,
}

/// An interval such as `30s`, `15m`, `1h` or `1d`: the same durations
/// desired state uses for rollout soak times.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    match schema::kinds::rollout::parse_duration(s.trim()) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs.unsigned_abs())),
        Some(_) => Err("the interval must be more than zero".into()),
        None => Err(format!("`{s}` is not an interval such as 30s, 15m, 1h or 1d")),
    }
}

/// Stop flag set by SIGTERM / Ctrl-C.
#[derive(Clone, Default)]
struct Stop {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Stop {
    fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Install the SIGTERM and Ctrl-C handlers now (not in a task that
    /// might run later: a signal before then would kill the process), and
    /// set the flag when one arrives.
    fn listen(&self) -> Result<()> {
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
        let s = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            output::status("Stopping: the current change finishes, then tenantctl exits.");
            s.flag.store(true, Ordering::SeqCst);
            s.notify.notify_waiters();
        });
        Ok(())
    }
}

/// The safe subset of a plan for self-heal: non-sensitive changes whose
/// prerequisites are also applied (or not in the plan). A change is
/// sensitive when the plan's own classification (governance, the same one
/// that makes `apply` ask for approvals) says so, or else when the
/// conservative drift classifier does: unattended writes err on holding.
/// A plan that breaks governance lints is held whole, as `apply` refuses it.
///
/// Drift on a protected object (a Managed Desktop one, a service account,
/// a protected group) is held like any other sensitive change, except a
/// control (an Intune policy, conditional access, ...) the plan proves is
/// put back as approved (`governance::tightens::only_tightens`): the plan
/// does not call that sensitive, so it self-heals.
pub fn split(plan: &Plan, desired: &engine::DesiredModel, service_accounts: &BTreeSet<schema::Address>) -> (Vec<engine::Change>, Vec<Held>) {
    let mut held = Vec::new();
    let mut held_addrs = BTreeSet::new();
    let mut safe = Vec::new();
    // Only the changes a lint error is about are held; lints whose remedy
    // is in this plan are warnings already (`governance::settle`).
    let linted: BTreeSet<String> = plan.lints.iter().filter(|f| f.severity == engine::governance::Severity::Error).map(|f| f.address.clone()).collect();
    for c in &plan.changes {
        let sensitive = plan.sensitive.get(&c.address).cloned().or_else(|| engine::drift::sensitivity(c, desired, service_accounts));
        let why = engine::governance::ratify::is_ratify(c)
            .then(|| format!("ratifies desired state that moves from what was last approved ({}): an apply of an approved plan records it, never reconcile", c.reason))
            .or_else(|| linted.contains(&c.address.to_string()).then(|| format!("{} breaks a governance lint; run `tenantctl plan` to see it", c.address)))
            .or_else(|| sensitive.map(|r| format!("sensitive ({r}): needs approval")))
            .or_else(|| c.waits_on.iter().find(|w| held_addrs.contains(*w)).map(|w| format!("waits on {w}, which is held")));
        match why {
            Some(reason) => {
                held_addrs.insert(c.address.clone());
                held.push(Held { address: c.address.to_string(), action: c.action.as_str().into(), reason });
            }
            None => safe.push(c.clone()),
        }
    }
    (safe, held)
}

struct Ctx<'a> {
    args: &'a Args,
    /// The pass before this process's first: numbers continue across runs
    /// sharing a history directory, so `--once` runs never overwrite.
    first_pass: u64,
    target: &'a target::Target,
    history: PathBuf,
    delta_path: PathBuf,
    started: std::time::Instant,
    stop: Stop,
    /// Desired state loaded at start (to find the tenant): the first pass
    /// uses it rather than loading the directory a second time.
    preloaded: Mutex<Option<schema::DesiredState>>,
    /// This process's last full read of users and groups, and the delta
    /// cache it last wrote.
    delta_memory: crate::reconcile_delta_bound::Memory,
}

impl Ctx<'_> {
    fn now(&self) -> DateTime<Utc> {
        match self.args.now {
            Some(t) => t + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default(),
            None => schema::clock::now(),
        }
    }
}

async fn pass(ctx: &Ctx<'_>, n: u64) -> Result<PassReport> {
    let before = ctx.target.client.stats();
    let now = ctx.now();
    let preloaded = ctx.preloaded.lock().ok().and_then(|mut p| p.take());
    let state = match preloaded {
        Some(state) => state,
        None => load(&ctx.args.dir)?,
    };
    let desired = providers::kinds::desired_model(&state);
    // The parsed files are not needed past this point: only the model is
    // (at 100k declared objects, keeping both was a large part of the peak).
    let service_accounts = drift::service_accounts(&state);
    drop(state);
    // Self-heal writes: it holds the state lock for the pass, appends to
    // the ledger's log and seals and compacts at the end of the pass.
    let held_lock = match ctx.args.self_heal {
        true => Some(crate::state::lock(&ctx.target.ledger_path, "tenantctl reconcile --self-heal", Duration::ZERO).await?),
        false => None,
    };
    let mut ledger = read_ledger(&ctx.target.ledger_path)?;
    let graph = ctx.target.client.cloud().graph_base().to_string();
    // Read by the loader's rules: a link to /dev/zero or a FIFO is refused
    // (and a full resync done), never read into memory.
    // Through the [state] backend: the delta blob under azurerm.
    let read = match crate::state_side::read_remote(&ctx.target.ledger_path, crate::state_backend::StateKind::Delta) {
        Ok(Some(remote)) => Ok(remote),
        Ok(None) => schema::read::read_state_file(&ctx.delta_path, schema::read::max_state_file_bytes()).map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let (mut delta, read_digest) = match read {
        Ok(Some(bytes)) => (providers::delta::DeltaState::parse(&String::from_utf8_lossy(&bytes), &graph), crate::reconcile_delta_bound::digest(&bytes)),
        Ok(None) => (providers::delta::DeltaState::new(&graph), String::new()),
        Err(e) => {
            output::status(format!("delta state {} not read ({e}); reading the whole tenant", ctx.delta_path.display()));
            (providers::delta::DeltaState::new(&graph), String::new())
        }
    };
    // A cache with links makes this pass read only what changed.
    let mut cached = delta.users.is_some() || delta.groups.is_some();
    // A full read the cache says is due is made at once, not after a
    // delta read (one read of users and groups per pass).
    let hinted = cached.then(|| crate::reconcile_full_read::hinted(&delta, now, providers::replication_env::delta_full_read())).flatten();
    if let Some(why) = &hinted {
        output::status(format!("delta cache: {why}; reading every user and group in full this pass"));
        delta = providers::delta::DeltaState::new(&graph);
        cached = false;
    }
    // The tenant's id comes in the listings' `$batch` (issue 13: a quiet
    // pass in few requests); the state is checked against it before
    // anything of this pass is written, the delta state included.
    // So does the tenant's governance marker (the ledger's seal), when the
    // ledger names the tenant.
    let mut organization = vec![(providers::graph::ApiVersion::V1, providers::tenant_marker::ORGANIZATION.to_string())];
    // The id is guessed (the ledger's, its keyed path's, the credential's
    // tenant): a wrong guess costs the marker's own GET after the batch.
    let tenant = ledger
        .tenant_id
        .clone()
        .or_else(|| crate::state_paths::tenant_of(&ctx.target.ledger_path))
        .or_else(|| crate::state_paths::graph_url_tenant(&|k| std::env::var(k).ok(), None))
        .filter(|t| t.len() == 36 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    organization.extend(tenant.as_deref().map(|t| (providers::graph::ApiVersion::V1, crate::ledger_seal::marker_path(t))));
    let (mut observed, mut dstats, view) = providers::delta::observe_with_delta_view(&ctx.target.client, &desired, &ledger, &mut delta, &organization).await.context("reading the tenant")?;
    let org = crate::tenant_check::check_if_read(&view, &ledger, &ctx.target.ledger_path).await?;
    let checked = org.is_some();
    let marker = match org.as_deref() {
        Some(org) => crate::ledger_seal::read_and_judge(&view, &crate::state::LedgerStore::new(&ctx.target.ledger_path), &mut ledger, org, ctx.args.self_heal).await?.flatten(),
        None => {
            crate::ledger_seal::unjudged(&mut ledger);
            None
        }
    };
    let sealing = crate::ledger_seal::Sealing::of(&ledger);
    drop(view);
    // The cache is trusted only within the bound of a full read the tenant
    // records (or this process made): past it, or changed by someone else,
    // users and groups are read in full (hostile run 21, finding 8).
    let due = cached.then(|| crate::reconcile_delta_bound::due(marker.as_ref(), &ctx.delta_memory, &read_digest, now, providers::replication_env::delta_full_read())).flatten();
    if let Some(why) = &due {
        output::status(format!("delta cache: {why}; reading every user and group in full this pass"));
        delta = providers::delta::DeltaState::new(&graph);
        let (o, s, _) = providers::delta::observe_with_delta_view(&ctx.target.client, &desired, &ledger, &mut delta, &[]).await.context("reading the tenant")?;
        observed = o;
        dstats.full_resyncs += s.full_resyncs;
    }
    let read_in_full = (!cached || due.is_some())
        && delta.groups.is_some()
        && ![schema::Kind::User, schema::Kind::Group].iter().any(|k| observed.unreadable.contains_key(k));
    // A pass that writes must know whose tenant this is (hostile run 16:
    // with GET /organization failing, another tenant's ledger and trust
    // root judged and rewrote this one), as apply refuses.
    if ctx.args.self_heal && !checked {
        bail!("refusing to self-heal: the tenant's id (GET /organization, Organization.Read.All) could not be read, so the ledger {} and its trust root cannot be shown to be this tenant's; nothing was written", ctx.target.ledger_path.display());
    }
    // A log left by a killed run is kept: the pass appends after it and
    // seals before it compacts (hostile run 21, finding 2).
    // Delta links of a tenant not shown to be this state's are not saved
    // with it.
    delta.full_read_at = crate::reconcile_full_read::hint(read_in_full, marker.as_ref(), now);
    let rendered = delta.render();
    let saved = match checked.then(|| crate::state_side::write_remote(&ctx.target.ledger_path, crate::state_backend::StateKind::Delta, rendered.as_bytes())) {
        None => {
            output::status("the delta state was not saved: the tenant's id was not read");
            false
        }
        Some(Ok(true)) => true,
        Some(Ok(false)) => write_atomic(&ctx.delta_path, &rendered).map(|_| true)?,
        // Another run's delta state is as good as this one's.
        Some(Err(e)) => {
            output::status(format!("warning: the delta state was not saved: {e:#}"));
            false
        }
    };
    if saved {
        crate::reconcile_delta_bound::remember(&ctx.delta_memory, read_in_full, &read_digest, &crate::reconcile_delta_bound::digest(rendered.as_bytes()), now);
    }
    drop(rendered);
    // A full read is recorded in the tenant's marker, under the state lock
    // (apply rewrites the marker whole under it too).
    if let (true, true, true, Some(org)) = (read_in_full, saved, marker.is_some(), org.as_deref()) {
        let recorded = crate::reconcile_delta_bound::record_locked(&ctx.target.client, &ctx.target.ledger_path, held_lock.as_ref(), org, now).await;
        if let Err(e) = recorded {
            output::status(format!("warning: the full read of users and groups was not recorded in the tenant ({e:#}); the next pass reads them in full again"));
        }
    }
    // Saved: the snapshot (every user and group) is not needed past here,
    // so it is not held beside the plan (issue 13: peak memory).
    drop(delta);
    // Judged by the governance in force (the recorded trust root), never by
    // a desired [governance] nobody approved: its allow, prune, exceptions
    // and unattended take effect only through an approved apply.
    // Reconcile never records governance.
    let trust = crate::governance::read_trust(&ctx.target.ledger_path)?;
    let (desired, pending) = crate::reconcile_pending::judged(desired, trust.as_ref());
    let mut plan = engine::plan(&desired, &observed, &ledger, &PlanOptions { now })?;
    engine::governance::trust::attach(&mut plan, pending.as_ref().map_or(&desired, |p| &p.desired), trust.as_ref());
    let mut report = engine::drift::drift(&desired, &observed, &ledger, &plan, now);
    // What the tenant refused is not in sync either.
    report.in_sync &= plan.refused.is_empty();
    // Lint errors no change of the plan is about (a user added live to a
    // ring device group): drift that waits for a person.
    let violations = crate::reconcile_lints::hold_violations(&plan, &mut report);
    if pending.is_some() {
        crate::reconcile_pending::warn(&plan, &mut report);
    }
    report.carry_since(crate::state_side::latest_report(&ctx.target.ledger_path, &ctx.history).as_ref());
    let open = window_open(&ctx.args.windows, now);
    let service_accounts = crate::reconcile_accounts::judged(service_accounts, &desired, &observed, &plan, &ledger);
    let (mut safe, mut held) = split(&plan, &desired, &service_accounts);
    if ctx.args.self_heal && trust.is_none() && !safe.is_empty() {
        // Judged by desired [governance] alone: only for a tenant that
        // never had governance adopted (no marker in the tenant).
        crate::governance::check_tenant_marker(&ctx.target.client, &plan, &desired, &ctx.target.ledger_path).await?;
    }
    held.extend(violations);
    // As apply: a plan made without part of the tenant may be wrong about
    // the rest (references, natural-key matches, lints), so a pass that
    // could not read everything changes nothing.
    // Ending access read live (an out-of-band privileged role, an expired
    // guest) still goes: it grants nothing, and holding it would leave the
    // access in place for as long as anything else cannot be read (hostile
    // run 15, finding 17: one package delivery stuck in `delivering`).
    if !plan.unknown.is_empty() {
        let reason = format!("not applied: {} resource(s) could not be read this pass, and a plan made without part of the tenant may be wrong about the rest", plan.unknown.len());
        let (ends, rest): (Vec<_>, Vec<_>) = safe.drain(..).partition(|c| engine::governance::removes_access(c).is_some());
        held.extend(rest.into_iter().map(|c| Held { address: c.address.to_string(), action: c.action.as_str().into(), reason: reason.clone() }));
        safe = ends;
    }
    if let Some(p) = &pending {
        crate::reconcile_pending::hold(p, &plan, &observed, &ledger, now, &mut safe, &mut held);
    }
    let mut applied = Vec::new();
    let mut failed = Vec::new();
    if ctx.args.self_heal && !open {
        held.extend(safe.iter().map(|c| Held { address: c.address.to_string(), action: c.action.as_str().into(), reason: "outside the sync windows".into() }));
    } else if ctx.args.self_heal {
        let executor = providers::apply::GraphExecutor::new(ctx.target.client.clone(), |name| std::env::var(name).ok(), now);
        let journal_file = crate::apply::journal_path(&ctx.target.ledger_path);
        let plan_hash = plan.hash();
        let store = crate::state::LedgerStore::new(&ctx.target.ledger_path);
        // As apply: where an adopted object lives (written with the first change).
        engine::ledger_location::record_locations(&desired, &plan, &mut ledger);
        for c in safe {
            if ctx.stop.requested() {
                held.push(Held { address: c.address.to_string(), action: c.action.as_str().into(), reason: "stopping: not started".into() });
                continue;
            }
            // Before each write, the lease is asked of storage: a pass that
            // lost it writes nothing more (hostile run 22, finding 7).
            if let Some(l) = &held_lock {
                l.confirm().await.with_context(|| format!("self-heal stopped before {} {}", c.action.as_str(), c.address))?;
            }
            // One change at a time, so a stop request lets the current one finish.
            let mut one = plan.clone();
            one.changes = vec![engine::Change { waits_on: Vec::new(), wave: 0, ..c.clone() }];
            let opts = ApplyOptions { concurrency: 1, now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) };
            let mut write_error = None;
            let r = engine::apply::apply(&one, &mut ledger, &executor, &opts, |result, l| {
                // Like apply: each change in the write-ahead log and the
                // journal, under the hash of this pass's plan; the ledger
                // is compacted once, after its seal (a kill in between
                // leaves a sealed ledger, not a broken seal).
                let mut result = result.clone();
                result.note.get_or_insert_with(|| format!("self-heal, reconcile pass {n}"));
                let written = crate::apply::journal(&journal_file, &plan_hash, &result).and_then(|_| match (&result.status, l.resources.get(&result.address)) {
                    (Status::Applied, Some(entry)) => store.append(&engine::ledger::LedgerOp::Record { address: result.address.clone(), entry: entry.clone() }),
                    (Status::Applied, None) => store.append(&engine::ledger::LedgerOp::Forget { address: result.address.clone() }),
                    _ => Ok(()),
                });
                if let Err(e) = written {
                    write_error.get_or_insert(e);
                }
            })
            .await;
            if let Some(e) = write_error {
                return Err(e.context("recording a self-heal change (ledger or journal)"));
            }
            for res in &r.results {
                let h = Held { address: res.address.to_string(), action: res.action.as_str().into(), reason: String::new() };
                match &res.status {
                    Status::Applied => {
                        output::status(format!("  self-heal: {} {}", res.action.as_str(), res.address));
                        applied.push(h);
                    }
                    Status::Failed { error } | Status::Skipped { error, .. } => {
                        output::status(format!("  self-heal FAILED: {} {}: {}", res.action.as_str(), res.address, engine::render::text_safe(error)));
                        failed.push(Held { reason: error.clone(), ..h });
                    }
                }
            }
        }
        // The ledger after the changes, sealed in the tenant (a broken seal
        // only when nothing was held or failed: the whole plan was carried
        // out). Under azurerm the ledger written above is the working copy:
        // it is written back to the blob (ETag-checked) before the lease goes.
        let complete = held.is_empty() && failed.is_empty() && plan.refused.is_empty() && plan.unknown.is_empty();
        let done: std::collections::BTreeSet<schema::Address> = plan.changes.iter().filter(|c| applied.iter().any(|h| h.address == c.address.to_string() && h.action == c.action.as_str())).map(|c| c.address.clone()).collect();
        // Nor seals the tenant's marker or writes the ledger without it.
        if let Some(l) = &held_lock {
            l.confirm().await.context("self-heal stopped before recording the pass")?;
        }
        // Each account whose ownership was lost without proof that this
        // pass did not block is kept: a journal line of its own.
        crate::lost_journal::journal_kept(&ctx.target.ledger_path, &plan, &done, &crate::apply::Attribution::default())?;
        crate::reconcile_seal::record(&store, &ctx.target.client, org.as_deref(), &sealing, &desired, &observed, &plan, ledger, done, complete).await?;
        crate::reconcile_settled::drop_remedied(&plan, &applied, &mut held, &mut report);
    } else {
        held.clear();
    }
    let after = ctx.target.client.stats();
    let pass = PassReport {
        drift: report,
        pass: n,
        self_heal: ctx.args.self_heal,
        window_open: open,
        applied,
        failed,
        held,
        graph_requests: after.requests.saturating_sub(before.requests),
        graph_throttled: after.throttled.saturating_sub(before.throttled),
        delta_full_resyncs: dstats.full_resyncs,
        refused: plan.refused.clone(),
    };
    // Only the pass's report is needed from here: the plan, the tenant as
    // read and the desired model are not held beside its renderings, nor
    // is the history file's text beside the history index's (issue 13: at
    // 100k objects, 30,003 drift items, the peak of the pass).
    drop(plan);
    drop(observed);
    drop(desired);
    std::fs::create_dir_all(&ctx.history).with_context(|| format!("creating {}", ctx.history.display()))?;
    let stamp = pass.drift.generated_at.replace([':', '-'], "");
    let file = ctx.history.join(format!("drift-{stamp}-pass{n:06}.json"));
    let mut text = serde_json::to_string_pretty(&pass).context("serialising the pass report")?;
    text.push('\n');
    write_atomic(&file, &text)?;
    drop(text);
    crate::state_side::record_report(&ctx.target.ledger_path, &pass.drift);
    Ok(pass)
}

pub async fn run(args: Args) -> Result<ExitCode> {
    // Listen first, so a SIGTERM at any point after start is a clean stop.
    let stop = Stop::default();
    stop.listen()?;
    let state = load(&args.dir)?;
    if args.now.is_some() {
        // A test's clock: never against a real tenant, where a clock set
        // back would keep an expired guest enabled.
        target::moved_clock_allowed(state.tenant.as_ref().map(|t| &t.value), args.graph_url.as_deref(), "reconcile --now")?;
    }
    let target = target::connect(&args.dir, state.tenant.as_ref().map(|t| &t.value), args.graph_url.as_deref(), args.ledger.clone()).await?;
    output::status(format!("Reconciling {} against {}", args.dir.display(), target.description));
    let metrics = Arc::new(Mutex::new(crate::reconcile_metrics::Metrics::default()));
    let health = crate::reconcile_health::Health::new(args.interval);
    if let Some(addr) = args.metrics_addr {
        if let Err(e) = crate::reconcile_metrics::serve(addr, metrics.clone(), &health, args.metrics_allow_remote).await {
            target.shutdown().await;
            return Err(e);
        }
    }
    let history = drift::history_dir(&args.dir, args.history.as_deref());
    let ctx = Ctx {
        first_pass: last_pass(&history),
        history,
        delta_path: crate::state_side::delta_path(&args.dir, &target.ledger_path),
        args: &args,
        target: &target,
        started: std::time::Instant::now(),
        stop: stop.clone(),
        preloaded: Mutex::new(Some(state)),
        delta_memory: Default::default(),
    };
    if let Some(parent) = ctx.delta_path.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            tracing::warn!(dir = %parent.display(), error = %e, "cannot create the state directory; delta state will not be kept");
        }
    }
    let mut passes = 0u64;
    let mut code: ExitCode;
    loop {
        passes += 1;
        let n = ctx.first_pass + passes;
        let before = target.client.stats();
        health.pass_started();
        let result = pass(&ctx, n).await;
        let after = target.client.stats();
        let stamp = ctx.now().timestamp();
        // A pass that could not read everything is counted as failed: its
        // "in sync" would not be trustworthy.
        let incomplete = result.as_ref().is_ok_and(|p| !p.drift.unknown.is_empty());
        health.pass_ended(result.is_ok() && !incomplete);
        if let Ok(mut m) = metrics.lock() {
            m.passes += 1;
            m.last_pass = Some(stamp);
            m.requests_total += after.requests.saturating_sub(before.requests);
            m.throttled_total += after.throttled.saturating_sub(before.throttled);
            if let Ok(p) = &result {
                m.drift = p.drift.items.len();
                m.held = p.held.len();
                m.applied_total += p.applied.len() as u64;
            }
            if result.is_err() || incomplete {
                m.failures += 1;
            } else {
                m.last_success = Some(stamp);
            }
        }
        match &result {
            Ok(p) => {
                output::status(summary(p));
                code = if !p.failed.is_empty() || incomplete || !p.refused.is_empty() {
                    ExitCode::from(1)
                } else if remaining(p) > 0 {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
                if incomplete && !args.once {
                    output::status(format!("pass {n} was incomplete (retried at the next interval)"));
                }
            }
            Err(e) => {
                let retry = if args.once { "" } else { " (retried at the next interval)" };
                output::status(format!("pass {n} failed{retry}: {e:#}"));
                code = ExitCode::from(1);
            }
        }
        // Created before the stop flag is checked, so a stop requested in
        // between still wakes the wait below.
        let notified = stop.notify.notified();
        if args.once || stop.requested() || args.passes.is_some_and(|max| passes >= max) {
            break;
        }
        let jitter = rand::thread_rng().gen_range(0.9..1.1);
        let wait = args.interval.mul_f64(jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = notified => {}
        }
        if stop.requested() {
            break;
        }
    }
    target.shutdown().await;
    // A loop that was stopped ends cleanly; one pass reports what it found.
    Ok(if args.once { code } else { ExitCode::SUCCESS })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_numbers_continue_from_the_history() {
        let dir = tempfile::tempdir().expect("test fixture");
        assert_eq!(last_pass(&dir.path().join("missing")), 0);
        for name in ["drift-20261123T120000Z-pass000002.json", "drift-20261122T120000Z-pass000010.json", "drift-20261124T120000Z.json", "notes.txt"] {
            std::fs::write(dir.path().join(name), "{}").expect("test fixture");
        }
        assert_eq!(last_pass(dir.path()), 10, "the highest number, whatever the clock in the name");
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15m").expect("test fixture"), Duration::from_secs(900));
        assert_eq!(parse_interval("2h").expect("test fixture"), Duration::from_secs(7200));
        assert_eq!(parse_interval("30s").expect("test fixture"), Duration::from_secs(30));
        assert!(parse_interval("0s").is_err());
        assert_eq!(parse_interval("1d").expect("test fixture"), Duration::from_secs(86_400));
        assert!(parse_interval("5x").is_err());
        assert!(parse_interval("99999999999999999999h").is_err(), "no overflow");
    }
}
