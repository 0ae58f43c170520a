//! The claim an approved plan's apply makes in the tenant before its first
//! change: one application per approved plan, whichever runner applies it,
//! also when two runners apply it at the same moment (hostile run 27,
//! finding 2: both read the marker before either write landed, both wrote
//! the same tag, each read-back found "its" tag, and the group was created
//! twice).
//!
//! Graph offers no atomic create-if-absent to build this on: the marker is
//! an open extension of the organization object, whose update (`PATCH`)
//! replaces its data whole and takes no `If-Match`, and whose create
//! (`POST /organization/{id}/extensions`) is not documented to fail for an
//! `extensionName` that exists (v1.0 opentypeextension-post-opentypeextension
//! documents `201 Created` only); a lock extension beside it would also
//! take the second of the two open extensions Graph allows one app on one
//! directory object (extensibility overview, "Limits"). So the claim is
//! Fischer's timed mutual exclusion on the marker:
//!
//! 1. Read the marker at `p`. Any claim of this plan there (settled, `TAG`,
//!    or another run's in progress, `TAG#TOKEN`) refuses: applied already,
//!    or being applied by another run.
//! 2. Write the marker as read plus this run's claim, `TAG#TOKEN` (a fresh
//!    per-run token): an edit of what step 1 read right before the write
//!    (expired claims dropped, every other fact kept as read). If Graph's
//!    answer came back more than `X` after `p`, refuse and keep the claim
//!    (below): it is a slow write ([`crate::marker_slow`]), which may have
//!    replaced what other runs recorded after `p` (another plan's claim,
//!    a fresh seal), so it is said, naming the window, and this run's
//!    claim is put back if a write replaced it meanwhile.
//! 3. Wait until `p + 2X`, then read the marker back. Another run's claim
//!    of this plan there refuses ("first seen wins": any run that sees
//!    another's claim refuses, and takes only its own token out). This
//!    run's claim alone: it holds the plan, and settles the claim to `TAG`
//!    (the token is only needed while claims race). Its claim gone (another
//!    run's write of what it read earlier replaced it): start over at 1.
//!
//! Why two runs A and B cannot both pass, taking A's read `pA <= pB`: if
//! `pB > pA + X`, A's write (answered by `pA + X`, step 2) is visible to
//! B's read, so B refuses at step 1. Otherwise B's write is answered by
//! `pB + X <= pA + 2X`, so it is visible to A's read-back (step 3, at
//! `pA + 2X` or later) and carries B's claim: A refuses. It rests on one
//! assumption: **a marker write is visible to every read that starts more
//! than `X` after the read it was made from** (Graph answers it and shows
//! it within `X`); a run whose own write was answered later than that
//! cannot know when it landed, so it refuses and keeps its claim (the plan
//! then counts as applied: fail closed, a new plan is needed). `X` is 4 s
//! (an approved apply waits 8 s from its read of the marker before its
//! first change), or the replication window tenantctl assumes for Graph to
//! show a write (`TENANTCTL_REPLICATION_WINDOW`) when that is shorter, at
//! least 1 s. What it does not
//! cover: a third run's whole-marker write made from a read older than
//! A's claim (a seal, a reconcile pass's full-read time) landing between
//! A's write and B's read, and a fourth putting A's claim back before A's
//! read-back; every marker write of tenantctl is such a read-modify-write
//! ([`crate::marker_merge`]), so it takes two more marker writes within
//! `2X` of the two claims. Nor does it undo what a slow claim write
//! replaced (hostile run 29, finding 1): the claimant itself can be the
//! stale writer. Since gov27 that can no longer be the trust root (it is
//! in an extension of its own, [`providers::tenant_marker::TRUST_EXTENSION_NAME`],
//! which no claim writes); another run's claim and seal it replaced are
//! put back by that run's end-of-run re-check ([`crate::marker_recheck`])
//! when it is still running, and are otherwise lost (the window is named).
//!
//! A run killed after its claim leaves it in the marker: the plan counts as
//! applied (refused from any runner until it expires). An apply that
//! changed nothing gives its claim back ([`release`]).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use engine::Plan;
use providers::tenant_marker::{self, Marker};

use crate::marker_merge::{self, Merged};

/// Attempts of the claim whose own write another run's replaced.
const MAX_ATTEMPTS: usize = 4;

/// What [`claim`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The plan carries no approvals: nothing to claim.
    NotApproved,
    /// The tenant carries no marker yet (and one was not required).
    NoMarker,
    /// This run holds the plan: its settled entry (`TAG@END`).
    Held(String),
}

/// `X` of the module doc: 4 s, or the replication window when shorter
/// (at least 1 s).
pub fn bound() -> Duration {
    providers::replication_env::window().clamp(Duration::from_secs(1), Duration::from_secs(4))
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Entries of `m` that claim `tag` and are not `mine`.
fn others<'a>(m: &'a Marker, tag: &str, mine: &str) -> Vec<&'a String> {
    m.applied_plans.iter().filter(|e| tenant_marker::entry_tag(e) == tag && e.as_str() != mine).collect()
}

/// Take this run's claim in progress (`mine`) out, and only it.
async fn withdraw(client: &providers::graph::GraphClient, org: &str, mine: &str) {
    let taken = marker_merge::merge_named(client, org, None, "this run's withdrawal of its claim", |m| m.applied_plans.retain(|e| e != mine)).await;
    if let Err(e) = taken {
        crate::output::status(format!("warning: this run's claim {mine} could not be taken out of the tenant's governance marker ({e:#}); the plan counts as applied until it expires"));
    }
}

/// Before the first change of an approved plan: refuse it when the
/// tenant's marker lists it (applied, or claimed by a run applying it
/// now), else claim it (module doc). A marker that cannot be read or
/// written refuses. [`Claim::NoMarker`] when the tenant carries no marker
/// yet and `required` is not set (the trust root's first recording writes
/// one; claim again after it).
pub async fn claim(client: &providers::graph::GraphClient, plan: &Plan, now: DateTime<Utc>, required: bool) -> Result<Claim> {
    if plan.approvals.is_empty() {
        return Ok(Claim::NotApproved);
    }
    let Some(end) = plan.not_after.as_deref().and_then(crate::plan_expiry::parse) else { bail!("refusing: an approved plan without a valid not_after") };
    let hash = plan.hash();
    let settled = crate::plan_expiry::entry(&hash, end);
    let tag = tenant_marker::entry_tag(&settled).to_string();
    let end_secs = settled.split('@').nth(1).unwrap_or_default().to_string();
    let mine = format!("{tag}#{}@{end_secs}", tenant_marker::new_token());
    let x = bound();
    let name = tenant_marker::EXTENSION_NAME;
    let org = tenant_marker::organization_id(client).await.context("reading the tenant's organization id, where applied approved plans are recorded")?;
    test_gate("TENANTCTL_TEST_CLAIM_GATE").await;
    for attempt in 0..MAX_ATTEMPTS {
        let read_at = Instant::now();
        let wall = crate::marker_slow::ReadAt::now();
        let marker = tenant_marker::read_of(client, &org).await.context("reading the tenant's governance marker, where applied approved plans are recorded")?;
        let Some(marker) = marker else {
            if !required && attempt == 0 {
                return Ok(Claim::NoMarker);
            }
            bail!("refusing: the tenant carries no governance marker to record this approved plan in (it is written when governance is first recorded); apply a plan that records the trust root first")
        };
        if !others(&marker, &tag, &mine).is_empty() {
            if attempt > 0 {
                withdraw(client, &org, &mine).await;
                bail!("refusing: another run claimed plan {hash} in the tenant's governance marker {name} while this run's claim was being recorded (the first claim seen wins); nothing was applied by this run");
            }
            bail!(
                "refusing: plan {hash} was already applied to this tenant (the tenant's governance marker {name} records it, from whichever runner applied it), or another run is applying it now; approvals are for one application, so make a new plan and have it approved again (a plan of the same inputs on the same day has the same hash: give it another validity, e.g. `tenantctl plan --valid-for 7d`). An apply that changed nothing gives its plan back by itself; a run killed after claiming it did not, and its journal shows that"
            );
        }
        // The edit of the marker as read right now (step 1 is the read right
        // before the write): this run's claim added, expired ones dropped;
        // every other fact kept as read.
        let add = |m: &mut Marker| {
            m.applied_plans.retain(|e| crate::plan_expiry::entry_alive(e, now));
            if !m.applied_plans.contains(&mine) {
                m.applied_plans.push(mine.clone());
            }
            m.applied_plans.sort();
        };
        let mut next = marker.clone();
        add(&mut next);
        if next != marker {
            tenant_marker::update_of(client, &org, &next).await.context("recording the approved plan in the tenant's governance marker before changing anything (nothing was applied)")?;
        }
        let took = read_at.elapsed();
        let slow = crate::marker_slow::window(&wall);
        marker_merge::test_pause("TENANTCTL_TEST_PAUSE_AFTER_MARKER_WRITE");
        if took > x {
            // A slow write: it may have replaced what other runs recorded
            // since the read (hostile run 29, finding 1). Said, and this
            // run's claim put back if another write replaced it meanwhile:
            // the claim is kept (fail closed).
            let kept = marker_merge::merge(client, &org, None, add).await;
            if let Some(w) = &slow {
                crate::marker_slow::warn(&format!("this run's claim of approved plan {hash}"), w);
            }
            if let Err(e) = kept {
                crate::output::status(format!("warning: this run's claim of plan {hash} could not be read back ({e:#})"));
            }
            bail!(
                "refusing: recording the approved plan's claim in the tenant's governance marker {name} took {} from reading the marker to Graph's answer, longer than the {} a claim relies on to exclude another run applying it at the same moment (Graph slow or throttled); nothing was applied, and the claim is kept, so plan {hash} counts as applied: make a new plan with another validity (`plan --valid-for`) and have it approved again",
                secs(took),
                secs(x)
            );
        }
        tokio::time::sleep((2 * x).saturating_sub(read_at.elapsed())).await;
        let back = tenant_marker::read_of(client, &org).await.context("reading the tenant's governance marker back after claiming the approved plan")?;
        let Some(back) = back else { bail!("refusing: the tenant's governance marker {name} was removed while this run claimed plan {hash} (nothing was applied)") };
        let theirs = others(&back, &tag, &mine);
        if !theirs.is_empty() {
            withdraw(client, &org, &mine).await;
            bail!(
                "refusing: another run claimed plan {hash} at the same moment (the tenant's governance marker {name} shows its claim {} beside this run's {}; any run that sees another's claim refuses, so the plan is applied at most once); nothing was applied by this run: if the other run refused too, apply it again",
                theirs[0],
                mine
            );
        }
        if back.applied_plans.contains(&mine) {
            settle(client, &org, &mine, &settled).await;
            return Ok(Claim::Held(settled));
        }
        crate::output::status(format!("The approved plan's claim was replaced by another run's write of the tenant's governance marker; claiming it again (attempt {} of {MAX_ATTEMPTS}).", attempt + 2));
    }
    withdraw(client, &org, &mine).await;
    bail!("refusing: the approved plan's claim in the tenant's governance marker {name} was replaced by other runs' writes each time it was recorded, so a later run could apply it again (nothing was applied); apply it again when the other runs are done")
}

/// The claim won: its token is taken off (`TAG#TOKEN` to `TAG`), so a
/// settled claim costs the marker what it did before. Any other run that
/// sees either form refuses. Left as it is when the write fails (it is a
/// claim either way).
async fn settle(client: &providers::graph::GraphClient, org: &str, mine: &str, settled: &str) {
    let done = marker_merge::merge_named(client, org, None, "this run's settled claim", |m| {
        m.applied_plans.retain(|e| e != mine);
        if !m.applied_plans.iter().any(|e| e == settled) {
            m.applied_plans.push(settled.to_string());
        }
        m.applied_plans.sort();
    })
    .await;
    match done {
        Ok(Merged::Kept) => {}
        Ok(_) => crate::output::status("warning: the approved plan's claim could not be settled in the tenant's governance marker (other runs' writes); it stays a claim until the plan expires"),
        Err(e) => crate::output::status(format!("warning: the approved plan's claim could not be settled in the tenant's governance marker ({e:#}); it stays a claim until the plan expires")),
    }
}

/// Give a held claim back: an apply of the plan changed nothing (every
/// change failed, or none ran), so the tenant is as the approvers saw it
/// and the same approved plan may be applied again (hostile run 16,
/// finding 9). Only this plan's claim is taken out, settled or not yet;
/// what other runs recorded stays.
pub async fn release(client: &providers::graph::GraphClient, held: &Claim, now: DateTime<Utc>) -> Result<()> {
    let Claim::Held(settled) = held else { return Ok(()) };
    let tag = tenant_marker::entry_tag(settled).to_string();
    let org = tenant_marker::organization_id(client).await.context("reading the tenant's organization id")?;
    // A claim of this plan in the marker is this run's: it held the plan,
    // and any other run that saw its claim refused.
    marker_merge::merge_named(client, &org, None, "this run's release of its claim", |m| m.applied_plans.retain(|e| tenant_marker::entry_tag(e) != tag && crate::plan_expiry::entry_alive(e, now)))
        .await
        .context("giving the approved plan back in the tenant's governance marker")?;
    Ok(())
}

/// Test hook: with `var` naming a file, a message is printed and the claim
/// waits (at most 2 minutes) until that file exists: a test releases two
/// runs' claims at the same moment.
async fn test_gate(var: &str) {
    let Some(path) = std::env::var_os(var) else { return };
    crate::output::status(format!("waiting for {} ({var})", std::path::Path::new(&path).display()));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::path::Path::new(&path).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
