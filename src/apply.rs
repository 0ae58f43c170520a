//! `tenantctl apply` and `tenantctl import`: wiring of plan, confirmation,
//! the engine's apply walk and the Graph executor, under the state lock,
//! with every change recorded (ledger log and journal) before the next one
//! starts, and the ledger compacted atomically at the end.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::apply::{ApplyOptions, ChangeResult, Record, Status};
use engine::ledger::{LedgerEntry, LedgerOp};
use engine::Plan;
use providers::apply::CreateEvent;

use crate::state::LedgerStore;
use crate::{load, output, state, target};

pub struct Options {
    pub auto_approve: bool,
    pub max_deletions: Option<u32>,
    pub concurrency: usize,
    pub graph_url: Option<String>,
    pub ledger: Option<PathBuf>,
    pub rollout: engine::governance::RolloutMode,
    /// How long to wait for another run's state lock.
    pub lock_timeout: Duration,
    /// Detached approvals to add to a saved plan.
    pub approvals_dir: Option<PathBuf>,
}

/// How long Graph may take to show a new object (replication lag): a
/// ledger id that does not answer, or a create started by a killed run, is
/// waited for this long before anything may be created in its place.
/// `TENANTCTL_REPLICATION_WINDOW` (seconds, or 45s, 2m: [`providers::replication_env`]) overrides the default of 30 s.
fn replication_window() -> Duration {
    providers::replication_env::window()
}

fn now() -> String {
    schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// The journal (append-only, one line per change) lives in its own module;
// its items are used as `crate::apply::…` by the other commands too.
pub(crate) use crate::journal::{journal, journal_attributed, journal_line, journal_path, operator_for, Attribution};
use crate::journal::journal_event;

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

/// Says how many detached approvals counted, and which were for another plan.
fn report_merged(m: &crate::approvals::Merged, dir: &Path, hash: &str) {
    if m.added > 0 {
        output::status(format!("Added {} approval(s) from {}.", m.added, dir.display()));
    }
    if !m.other_plans.is_empty() {
        let files: Vec<String> = m.other_plans.iter().map(|(f, h)| format!("  {} (for plan {h})", f.display())).collect();
        output::status(format!("{} approval(s) in {} are for another plan and do not count for plan {hash}:
{}", m.other_plans.len(), dir.display(), files.join("\n")));
    }
}

pub async fn run(source: &Path, dir: &Path, opts: &Options) -> Result<ExitCode> {
    let mut saved: Option<Plan> = if source.is_file() { Some(crate::governance::read_plan(source)?) } else { None };
    if let (Some(plan), Some(dir)) = (saved.as_mut(), opts.approvals_dir.as_deref()) {
        report_merged(&crate::approvals::merge(plan, dir)?, dir, &plan.hash());
    }
    let dir = if saved.is_some() { dir } else { source };
    let state = load(dir)?;
    let desired = providers::kinds::desired_model(&state);
    let target = target::connect(dir, state.tenant.as_ref().map(|t| &t.value), opts.graph_url.as_deref(), opts.ledger.clone()).await?;
    output::status(format!("Applying to {}", target.description));
    // One run that writes at a time, from before the ledger is read until
    // the end (released when dropped, also on errors).
    let held = match state::lock(&target.ledger_path, "tenantctl apply", opts.lock_timeout).await {
        Ok(h) => h,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    let result = run_locked(source, dir, saved, &state, &desired, &target, opts).await;
    drop(held);
    target.shutdown().await;
    result
}

async fn run_locked(
    source: &Path,
    dir: &Path,
    saved: Option<Plan>,
    state: &schema::DesiredState,
    desired: &engine::DesiredModel,
    target: &target::Target,
    opts: &Options,
) -> Result<ExitCode> {
    let store = Arc::new(LedgerStore::new(&target.ledger_path));
    let mut ledger = store.load()?;
    // What the ledger owns before an approved plan's apply: an object it
    // owns after that it did not is one a write reached Graph for, whatever
    // became of the change. Only an approved plan can be given back, so
    // only then is it kept.
    let owned_before: Option<std::collections::BTreeMap<schema::Address, String>> = saved.is_some().then(|| ledger.resources.iter().map(|(a, e)| (a.clone(), e.id.clone())).collect());
    // The state is this tenant's (its id recorded, or recorded now). The
    // id comes in the listings' `$batch` (issue 13: no `GET /organization`
    // of its own); another tenant's state is refused right after that
    // first read, before any ledger id is waited for and long before
    // anything is written, and the id is required once the tenant was read
    // in full (below).
    let organization = [(providers::graph::ApiVersion::V1, providers::tenant_marker::ORGANIZATION.to_string())];
    let (first, view) = providers::settle::observe_first(&target.client, desired, &ledger, &organization).await.context("reading the tenant")?;
    let org = crate::tenant_check::organization(&view).await;
    drop(view);
    if let Ok(org) = &org {
        crate::tenant_check::check(org, &ledger, &target.ledger_path)?;
        // Whether its facts are proof: the tenant's seal, read before the
        // ledger is changed.
        crate::ledger_seal::read_and_judge(&target.client, &store, &mut ledger, org, true).await?;
    } else {
        crate::ledger_seal::unjudged(&mut ledger);
    }
    let sealing = crate::ledger_seal::Sealing::of(&ledger);
    let (observed, settled) = providers::settle::settle(&target.client, desired, &ledger, first, store.recorded_at(), replication_window())
        .await
        .context("reading the tenant")?;
    report_settled(&settled);
    // Pending creates have been waited out: what they made is now matched
    // by natural key, or was never made.
    let waited_out = !ledger.pending.is_empty();
    ledger.pending.clear();
    let mut fresh = engine::plan::plan_with_rollout(desired, &observed, &ledger, &engine::PlanOptions::default(), opts.rollout)?;
    // Unknown is never in sync, and a plan made without part of the tenant
    // may be wrong about the rest (references, natural-key matches, lints):
    // apply refuses it whole rather than applying the readable part.
    if !fresh.unknown.is_empty() {
        output::result(&engine::render::text(&fresh, output::color_stdout()));
        bail!(
            "{}\nnothing was applied; restore access (credentials, Graph permissions) or wait for Graph to recover, then run apply again",
            crate::unread_summary(&fresh.unknown).trim_start_matches("error: ")
        );
    }
    // Refused declarations (a licence the tenant lacks, a policy in use):
    // not applied; the rest is, and the run exits 1 saying why.
    let refused = crate::refused::summary(&fresh.refused, &crate::refused::Origins::of(dir, state));
    let org = org?;
    let upgrade = ledger.tenant_id.is_none();
    ledger.tenant_id = Some(org.clone());
    // Judged by the governance in force (the recorded trust root), so a
    // saved plan claiming other approvers hashes differently and is stale.
    crate::governance::review(&mut fresh, desired, &target.ledger_path)?;
    crate::governance::journal_existing_trust(&target.ledger_path)?;
    crate::tenant_check::adopt_in_trust(&org, &target.ledger_path)?;
    fresh.change = crate::governance::change_record(state, None)?;
    let mut attribution = Attribution::default();
    let plan = match saved {
        Some(saved) => {
            // The change record is the author's (signed with the plan), and
            // so is its expiry, which is checked first.
            crate::plan_expiry::check(&saved, &format!("to apply {}", source.display()), schema::clock::now())?;
            fresh.change = saved.change.clone();
            fresh.not_after = saved.not_after.clone();
            // So is the name of the person who wrote the change (checked
            // against the governance in force by verify_approvals).
            fresh.written_by = saved.written_by.clone();
            // The tenant or desired state moved on since the plan was made.
            let reasons = stale_reasons(&saved, &fresh);
            if !reasons.is_empty() {
                bail!("plan is stale; make a new plan and review it again:\n{}", reasons.join("\n"));
            }
            // Every signature is checked before any write; an edited file
            // fails here, with the reason.
            match engine::governance::verify_approvals(&saved, desired) {
                Ok(v) => {
                    if v.sensitive > 0 {
                        output::status(format!("{} sensitive change(s) approved by {}.", v.sensitive, v.approvers.join(", ")));
                    }
                    attribution = Attribution { author: v.author, approvers: v.approvers, change: None };
                }
                Err(e) => {
                    bail!("refusing to apply {}: {e}", source.display());
                }
            }
            // Same inputs but a different plan: an unsigned plan edited by
            // hand, or a deadline (expiry, rollout soak) passed since.
            if saved.hash() != fresh.hash() {
                bail!("plan is stale; make a new plan and review it again:\nits changes are not what the desired state and the tenant give now (edited by hand, or an expiry or soak time passed)");
            }
            // One-shot: approvals are for one application of the plan.
            if !saved.approvals.is_empty() {
                if let Some(when) = crate::replay::applied_before(&target.ledger_path, &saved.hash())? {
                    bail!(
                        "refusing to apply {}: this plan was already applied ({when}, see the journal); approvals are for one application, so make a new plan and have it approved again",
                        source.display()
                    );
                }
            }
            // The fresh plan hashes the same as the approved one (checked
            // above), and unlike the file it holds secret values (never
            // saved), so it is what is carried out, under the approvals.
            let mut approved = fresh;
            approved.author = saved.author;
            approved.approvals = saved.approvals;
            // Named by the governance that verified them (in force), not the
            // one the plan introduces: an approver this plan removes still
            // approved it (hostile run 21, finding 6).
            let in_force = approved.governance.as_ref().map(|g| g.in_force.clone()).unwrap_or_else(|| desired.governance.clone());
            engine::governance::name_approvals_by_key(&mut approved, &in_force);
            approved
        }
        None => {
            let in_force = fresh.governance.as_ref().map(|g| g.in_force.approvals_required).unwrap_or(desired.governance.approvals_required);
            let governance_change = fresh.governance.as_ref().and_then(|g| g.reason());
            if (!fresh.sensitive.is_empty() || governance_change.is_some()) && in_force > 0 {
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
    crate::governance::refuse_first_use_over_existing(&plan, &target.ledger_path)?;
    crate::governance::check_tenant_marker_of(&target.client, &org, &plan, desired, &target.ledger_path).await?;
    if plan.lints.iter().any(|f| engine::governance::live_reach::blocks(f, &plan)) {
        let errors: Vec<String> = plan.lints.iter().filter(|f| f.severity == engine::governance::Severity::Error).map(|f| format!("  {f}")).collect();
        bail!("the plan breaks governance lints (allow one on purpose in [governance] allow):\n{}", errors.join("\n"));
    }
    // Errors about live membership desired state does not manage refuse
    // only the changes they are about: said, not blocking the rest.
    for f in plan.lints.iter().filter(|f| f.severity == engine::governance::Severity::Error) {
        output::status(format!("warning: not about this plan's changes, so it does not block them (a person fixes it): {f}"));
    }
    // The plan's change record goes with every journal line of this run,
    // the trust root's included (a governance-only plan's, too).
    attribution.change = plan.change.as_ref().map(|c| c.lines().join("; "));
    if plan.is_empty() {
        output::result(&engine::render::text(&plan, output::color_stdout()));
        crate::governance::record_trust(&target.client, &plan, desired, &target.ledger_path, &attribution).await?;
        // An account whose ownership was lost without proof is kept.
        crate::lost_journal::journal_kept(store.path(), &plan, &Default::default(), &attribution)?;
        // Nothing to change, but natural-key matches the ledger lacks are
        // still recorded (a ledger cut short is filled in), and a log left
        // by a killed run is compacted.
        let mut owned = ledger.clone();
        let adopted = engine::apply::adopt_matches(&plan, &mut owned, &now());
        // Service accounts the ledger does not mark yet are marked (it only
        // adds protection; taking it away is a planned `kind` change).
        let mut remembered = engine::governance::recorded::remember(desired, &plan, &mut owned);
        // Where an adopted (or older-ledger) object lives, when its kind does not say.
        remembered.extend(engine::ledger_location::record_locations(desired, &plan, &mut owned));
        crate::governance::record_protected_ids(desired, &target.ledger_path, &owned, &attribution)?;
        // What the plan found in sync is recorded as approved where the
        // ledger does not record it (or its fields) yet.
        let completed = (!observed.completed.is_empty()).then(|| engine::completed::complete(desired, &observed.completed));
        let (in_sync, vouched) = engine::governance::ratify::in_sync(completed.as_ref().unwrap_or(desired), &plan, &mut owned, schema::clock::now());
        if adopted.is_empty() && remembered.is_empty() && in_sync.is_empty() && !waited_out && !upgrade && !state::wal_path(store.path()).exists() && sealing.was_sealed() {
            return Ok(crate::refused::exit(ExitCode::SUCCESS, refused.as_deref()));
        }
        let journal_file = journal_path(store.path());
        store.probe(&journal_file)?;
        let hash = plan.hash();
        for (address, id, op) in &adopted {
            journal_event(&journal_file, &hash, address, "adopt", id, "applied", "matched by natural key; recorded in the ledger", &attribution)?;
            store.append(op).with_context(|| format!("recording the adoption of {address}"))?;
        }
        for (address, op) in &remembered {
            store.append(op).with_context(|| format!("recording what the ledger remembers of {address}"))?;
        }
        // The whole (empty) plan was carried out: a ledger the seal did
        // not prove is sealed, without the records it could not prove.
        for (address, op) in &in_sync {
            store.append(op).with_context(|| format!("recording what was approved of {address}"))?;
        }
        let may_seal = sealing.prepare_vouched(&mut owned, true, Some(&org), &vouched);
        crate::ledger_seal::seal_then_compact(&store, &target.client, &org, owned, sealing.finish(may_seal)).await?;
        if !adopted.is_empty() {
            output::status(format!("Recorded {} object(s) matched by natural key in the ledger {}.", adopted.len(), store.path().display()));
        }
        crate::marker_recheck::at_end(&target.client, &org, None).await;
        return Ok(crate::refused::exit(ExitCode::SUCCESS, refused.as_deref()));
    }
    let limit = opts.max_deletions.unwrap_or(desired.governance.prune.max_deletions);
    // Deletes and the disables of undeclared accounts count together.
    if let Some(why) = engine::governance::disable_bound::over(&plan.changes, limit, &format!("the limit of {limit} (governance.prune.max_deletions)")) {
        let (deletions, disables) = engine::governance::disable_bound::counts(&plan.changes);
        bail!("{why}; review it and pass --max-deletions {} to allow it", deletions + disables);
    }
    output::result(&engine::render::text(&plan, output::color_stdout()));
    if !confirm(opts.auto_approve)? {
        output::status("Nothing applied.");
        return Ok(ExitCode::from(1));
    }
    // Before the first change: can the ledger, its log and the journal be
    // written? A tenant changed without a record is what this prevents.
    let journal_file = journal_path(store.path());
    store.probe(&journal_file).context("checking the ledger and journal can be written before changing anything")?;
    // One application per approved plan, whichever runner applies it: the
    // tenant's marker records it before the first change (a tenant with no
    // marker yet gets it from the trust root's recording, just below).
    let mut claimed = crate::plan_claim::claim(&target.client, &plan, schema::clock::now(), false).await?;
    // A log left by a killed run is kept, not compacted here: this run's
    // changes are appended after it, and the end of the run seals and
    // compacts the whole. Compacted now without a seal, a second kill left
    // a ledger whose every fact was unproven, where the log's entries alone
    // should be (hostile run 21, finding 2).
    // Verified against the governance in force above: this apply records
    // the plan's [governance] (first use, or an approved change).
    crate::governance::record_trust(&target.client, &plan, desired, &target.ledger_path, &attribution).await?;
    if claimed == crate::plan_claim::Claim::NoMarker {
        claimed = crate::plan_claim::claim(&target.client, &plan, schema::clock::now(), true).await?;
    }
    let hash = plan.hash();
    let hook = {
        let (store, journal_file, hash, who) = (store.clone(), journal_file.clone(), hash.clone(), attribution.clone());
        move |event: CreateEvent<'_>| -> std::result::Result<(), String> {
            let written = match event {
                // The lease asked of storage first: a run that lost it
                // sends no create (hostile run 22, finding 9).
                CreateEvent::Sending { address } => store.confirm_lease().and_then(|_| store.append(&LedgerOp::Pending { address: address.clone(), since: now() })),
                // The journal first: an object the ledger holds is always
                // journaled (killed in between, the next run adopts it by
                // natural key, with a journal line of its own).
                CreateEvent::Created { address, id } => journal_event(&journal_file, &hash, address, "create", id, "created", "Graph answered the create; waiting for the object to replicate", &who)
                    .and_then(|_| store.append(&LedgerOp::Record { address: address.clone(), entry: LedgerEntry { id: id.to_string(), applied: None, changed_at: Some(now()), expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: Some(engine::ledger::Origin::Created) } })),
                // Refused for sure: nothing to wait for (hostile run 23, finding 9).
                CreateEvent::Refused { address, .. } => store.append(&LedgerOp::Refused { address: address.clone() }),
            };
            written.map_err(|e| format!("{e:#}"))
        }
    };
    let executor = providers::apply::GraphExecutor::new(target.client.clone(), |name| std::env::var(name).ok(), schema::clock::now()).with_create_hook(hook);
    // Above 1, writes go in `$batch` calls of 20 changes each, `concurrency`
    // calls' worth of changes at a time; 1 runs changes one by one.
    let (executor, concurrency) = match opts.concurrency {
        0 | 1 => (executor, 1),
        n => (executor.with_batching(), n.saturating_mul(providers::graph::batch::MAX_BATCH)),
    };
    // The state lease checked before every write, not only creates.
    let executor = crate::lease_checked::LeaseChecked::new(executor, &store);
    let report = engine::apply::apply_recorded(&plan, &mut ledger, &executor, &ApplyOptions { concurrency, now: now() }, |record, _| {
        let written = match &record {
            Record::Adopted { address, id, op } => journal_event(&journal_file, &hash, address, "adopt", id, "applied", "matched by natural key; recorded in the ledger", &attribution).and_then(|_| store.append(op)),
            Record::Change { result, op } => {
                for line in progress_lines(result) {
                    output::status(line);
                }
                journal_attributed(&journal_file, &hash, result, &attribution).and_then(|_| op.as_ref().map(|op| store.append(op)).unwrap_or(Ok(())))
            }
        };
        written.map_err(|e| format!("{e:#}"))
    })
    .await;
    // Everything recorded is in the log; the ledger is rewritten once, and
    // sealed in the tenant (a broken seal only when the whole plan was
    // carried out, which showed what its unproven facts could hide).
    let complete = report.stopped.is_none() && report.ok();
    // The model the plan was made from (with the template defaults the
    // tenant supplies): what objects found in sync are recorded as.
    let completed = (!observed.completed.is_empty()).then(|| engine::completed::complete(desired, &observed.completed));
    let planned_from = completed.as_ref().unwrap_or(desired);
    let prepared = store.load().and_then(|mut l| {
        // What this run applied it recorded itself (a ratification may
        // record an entry equal to the unproven one it loaded).
        let mut vouched: std::collections::BTreeSet<schema::Address> = report.results.iter().filter(|r| matches!(r.status, Status::Applied)).map(|r| r.address.clone()).collect();
        if report.stopped.is_none() {
            for (_, op) in engine::governance::recorded::remember(desired, &plan, &mut l) {
                store.append(&op)?;
            }
            for (_, op) in engine::ledger_location::record_locations(desired, &plan, &mut l) {
                store.append(&op)?;
            }
            // What the whole plan found in sync is what was approved and
            // is live: recorded so (a resealing apply keeps it proven).
            if complete {
                let (ops, v) = engine::governance::ratify::in_sync(planned_from, &plan, &mut l, schema::clock::now());
                for (_, op) in &ops {
                    store.append(op)?;
                }
                vouched.extend(v);
            }
        }
        let may_seal = report.stopped.is_none() && sealing.prepare_vouched(&mut l, complete, Some(&org), &vouched);
        Ok((l, may_seal))
    });
    let compacted = match prepared {
        Ok((l, may_seal)) => crate::ledger_seal::seal_then_compact(&store, &target.client, &org, l, sealing.finish(may_seal)).await,
        Err(e) => Err(e),
    };
    if let Some(stop) = &report.stopped {
        let started_after = report.results.iter().filter(|r| matches!(&r.status, Status::Skipped { error, .. } if error.starts_with("not started: recording"))).count();
        // Stopped by the record made before a create's POST: nothing of it
        // was sent, so there is no object to look for (hostile run 22,
        // finding 9).
        if stop.not_sent {
            bail!(
                "stopped: {} {} was not started (nothing was sent to Graph): {}\n{} change(s) after it were not started either; fix the cause and apply again",
                stop.action,
                stop.address,
                stop.error,
                started_after
            );
        }
        bail!(
            "stopped: {} {} was carried out but could not be recorded in the ledger or journal: {}\n{} change(s) after it were not started; fix the cause and apply again (the next plan finds the object by its natural key)",
            stop.action,
            stop.address,
            stop.error,
            started_after
        );
    }
    compacted.context("writing the ledger at the end of the apply")?;
    // Each account whose ownership was lost without proof and that this
    // run did not block is kept: a journal line of its own.
    let done: std::collections::BTreeSet<schema::Address> = report.results.iter().filter(|r| matches!(r.status, Status::Applied)).map(|r| r.address.clone()).collect();
    crate::lost_journal::journal_kept(store.path(), &plan, &done, &attribution)?;
    // A create Graph accepted whose later step failed (a lagging read, an
    // assignment) changed the tenant: the plan is not given back (hostile
    // run 17, finding 9).
    let after = store.load();
    let created = match (&owned_before, &after) {
        (Some(before), Ok(l)) => l.resources.iter().any(|(a, e)| before.get(a) != Some(&e.id)),
        (Some(_), Err(_)) => true,
        (None, _) => false,
    };
    if created && report.applied() == 0 && !plan.approvals.is_empty() {
        output::status("Nothing of the approved plan completed, but Graph accepted at least one of its creates (the ledger records the object): the plan stays applied; plan again for what is left.");
    }
    let mut given_back = false;
    if !created && report.applied() == 0 && !plan.approvals.is_empty() {
        match crate::plan_claim::release(&target.client, &claimed, schema::clock::now()).await {
            Ok(()) => {
                given_back = true;
                output::status("Nothing of the approved plan was applied: it may be applied again as it is.")
            }
            Err(e) => output::status(format!("warning: nothing of the approved plan was applied, but it could not be given back ({e:#}); a new plan with another validity (--valid-for) is needed")),
        }
    }
    // What this run recorded in the marker is still there (another run's
    // late write may have replaced it): put back if not (gov27).
    let held = match &claimed {
        crate::plan_claim::Claim::Held(entry) if !given_back => Some(entry.as_str()),
        _ => None,
    };
    crate::marker_recheck::at_end(&target.client, &org, held).await;
    if let Ok(l) = &after {
        crate::governance::record_protected_ids(desired, &target.ledger_path, l, &attribution)?;
    }
    output::status(format!(
        "Applied {}, failed {}, skipped {}. Ledger: {}",
        report.applied(),
        report.failed(),
        report.skipped(),
        store.path().display()
    ));
    Ok(crate::refused::exit(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) }, refused.as_deref()))
}

/// Read the tenant for a command that only reads (`plan`, `drift`) as
/// apply does: ledger ids that do not answer yet (replication lag right
/// after an apply) are waited for within the replication window and the
/// tenant read again, so lag is never reported as missing or `create`.
/// The tenant's id comes in the listings' `$batch`, not in a `GET
/// /organization` of its own (issue 13), and the state is checked against
/// it after that first read, before any ledger id is waited for (another
/// tenant's ledger is refused before its ids are read one by one). Returns
/// the id when it was read.
pub(crate) async fn observe_settled_checked(
    client: &providers::graph::GraphClient,
    desired: &engine::DesiredModel,
    ledger_path: &Path,
    ledger: &engine::Ledger,
) -> Result<(engine::ObservedState, Option<String>)> {
    let organization = [(providers::graph::ApiVersion::V1, providers::tenant_marker::ORGANIZATION.to_string())];
    let (first, view) = providers::settle::observe_first(client, desired, ledger, &organization).await.context("reading the tenant")?;
    let org = crate::tenant_check::check_if_read(&view, ledger, ledger_path).await?;
    drop(view);
    let store = LedgerStore::new(ledger_path);
    let (observed, settled) = providers::settle::settle(client, desired, ledger, first, store.recorded_at(), replication_window()).await.context("reading the tenant")?;
    report_settled(&settled);
    Ok((observed, org))
}

/// The lines apply shows for one change: its outcome, and for a failure
/// the error, which carries Graph's live text (an object's name, a message
/// a hostile tenant can shape): control and bidi characters are escaped, so
/// it stays one line that cannot recolour the terminal or close the code
/// fence a CI job puts the output in.
fn progress_lines(result: &ChangeResult) -> Vec<String> {
    let symbol = match result.status {
        Status::Applied => "ok",
        Status::Failed { .. } => "FAILED",
        Status::Skipped { .. } => "skipped",
    };
    let mut lines = vec![format!("  {symbol:<7} {} {}", result.action.as_str(), result.address)];
    if let Status::Failed { error } | Status::Skipped { error, .. } = &result.status {
        lines.push(format!("          {}", engine::render::text_safe(error)));
    }
    lines
}

/// Tell what waiting for replication found.
fn report_settled(s: &providers::settle::Settled) {
    for (a, id) in &s.appeared {
        output::status(format!("Waited for {a} ({id}), which the ledger holds, to replicate."));
    }
    for (a, id) in &s.gone {
        output::status(format!("{a}: the ledger's object {id} did not appear within the replication window; it is gone."));
    }
    for a in &s.pending {
        output::status(format!("{a}: a create was started by a run that did not finish; waited for it to replicate before planning."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_error_is_shown_on_one_inert_line() {
        let result = ChangeResult {
            address: "group.a".parse().expect("test fixture"),
            action: engine::Action::Update,
            status: Status::Failed { error: "400: name 'x\u{1b}[2J\n```\n## Approved\u{202e}' is invalid".into() },
            id: None,
            request_ids: Vec::new(),
            note: None,
        };
        let lines = progress_lines(&result);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "  FAILED  update group.a");
        assert_eq!(lines[1], "          400: name 'x\\u{1b}[2J\\u{a}```\\u{a}## Approved\\u{202e}' is invalid");
        assert!(!lines.iter().any(|l| l.contains('\n') || l.contains('\u{1b}') || l.contains('\u{202e}')));
    }
}
