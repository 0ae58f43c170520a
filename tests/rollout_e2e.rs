//! End-to-end test of ring-by-ring rollout against the sandbox, across
//! simulated time: a scratch copy of the example tenant gains an update
//! ring rolled out over the four Managed Desktop ring groups with a 48h
//! soak. Planning and applying are library calls with an injected clock
//! (`PlanOptions { now }`, the apply's ledger timestamp), so each step can
//! stand just before or exactly at a soak deadline.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use common::*;
use engine::governance::RolloutMode;
use engine::{Action, Ledger, Plan, PlanOptions};
use providers::graph::GraphClient;
use schema::{Address, Kind};
use serde_json::json;

const RINGS: [&str; 4] = ["mwd-test", "mwd-first", "mwd-fast", "mwd-broad"];

fn rollout_toml(deadline: u32) -> String {
    format!(
        "#:schema ../schema/tenant.schema.json\n\
         # Quality updates reach each Managed Desktop ring 48 hours after the one before.\n\
         [update_ring.quality]\n\
         display_name = \"Windows Quality\"\n\
         description = \"Quality updates, rolled out ring by ring\"\n\
         quality_updates_deferral_period_in_days = 0\n\
         deadline_for_quality_updates_in_days = {deadline}\n\
         rollout = {{ rings = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"], soak = \"48h\" }}\n"
    )
}

/// The example in a scratch directory, without approvals (so the binary
/// could apply it straight from the directory too), plus the rollout.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = scratch_without_approvals();
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("rollout.toml"), rollout_toml(2)).unwrap();
    (dir, dst)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ring(r: &str) -> Address {
    Address::new(Kind::UpdateRing, format!("quality@{r}"))
}

async fn plan_at(client: &GraphClient, dir: &Path, ledger: &Ledger, now: DateTime<Utc>, mode: RolloutMode) -> Plan {
    let state = schema::load(dir).unwrap_or_else(|e| panic!("{e}"));
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(client, &desired, ledger).await.expect("the tenant can be read");
    engine::plan::plan_with_rollout(&desired, &observed, ledger, &PlanOptions { now }, mode).expect("plan")
}

/// Applied at `now`, in the tenant too: the sandbox's clock is set to it
/// first, so the live policies' lastModifiedDateTime (which the soak also
/// counts from) is the simulated time, not the wall clock.
async fn apply_at(sb: &sandbox::SandboxHandle, client: &GraphClient, plan: &Plan, ledger: &mut Ledger, now: DateTime<Utc>) {
    let r = reqwest::Client::new().put(format!("{}/_sandbox/clock", sb.base_url())).json(&json!({"now": now.to_rfc3339()})).send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "the sandbox's clock is set");
    let exec = providers::apply::GraphExecutor::new(client.clone(), |_| None, now);
    let options = engine::apply::ApplyOptions { concurrency: 4, now: now.to_rfc3339() };
    let report = engine::apply::apply(plan, ledger, &exec, &options, |_, _| {}).await;
    assert!(report.ok(), "apply failed: {:#?}", report.results);
}

/// The rollout's changes of a plan: (ring, action), in ring order (plans
/// list changes by address).
fn ring_changes(plan: &Plan) -> Vec<(String, Action)> {
    let mut out: Vec<(String, Action)> = plan.changes.iter().filter_map(|c| c.address.key.strip_prefix("quality@").map(|r| (r.to_string(), c.action))).collect();
    out.sort_by_key(|(r, _)| RINGS.iter().position(|x| x == r));
    out
}

/// Waiting rings of a plan: (ring, reason).
fn waits(plan: &Plan) -> Vec<(String, String)> {
    plan.rollout.iter().map(|w| (w.ring.clone(), w.reason.clone())).collect()
}

/// The live deadline of each ring's copy, read from the sandbox.
async fn live_deadlines(client: &GraphClient, dir: &Path, ledger: &Ledger) -> Vec<u64> {
    let desired = providers::kinds::desired_model(&schema::load(dir).unwrap());
    let observed = providers::observe::observe(client, &desired, ledger).await.unwrap();
    RINGS
        .iter()
        .map(|r| {
            let id = ledger.id(&ring(r)).unwrap_or_else(|| panic!("{r} is in the ledger"));
            let o = observed.objects[&Kind::UpdateRing].iter().find(|o| o.id == id).unwrap_or_else(|| panic!("{r} exists"));
            assert_eq!(o.display_name, format!("Windows Quality [{r}]"));
            o.props["deadlineForQualityUpdatesInDays"].as_u64().unwrap()
        })
        .collect()
}

fn changed_at(ledger: &Ledger, r: &str) -> DateTime<Utc> {
    at(ledger.resources[&ring(r)].changed_at.as_deref().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_four_ring_rollout_across_simulated_time() {
    let sb = sandbox().await;
    let client = client(&sb);
    let (_keep, dir) = scratch();
    let mut ledger = Ledger::default();
    let normal = RolloutMode::Normal;

    // --- A new policy: created ring by ring too, unless forced. -----------
    let created = at("2026-11-23T12:00:00Z");
    let p = plan_at(&client, &dir, &ledger, created, normal).await;
    assert_eq!(ring_changes(&p), vec![("mwd-test".into(), Action::Create)]);
    assert_eq!(
        waits(&p),
        vec![
            ("mwd-first".into(), "waiting for mwd-test to be changed and soak (2026-11-25T12:00Z at the earliest)".into()),
            ("mwd-fast".into(), "waiting for mwd-test to be changed and soak (2026-11-27T12:00Z at the earliest)".into()),
            ("mwd-broad".into(), "waiting for mwd-test to be changed and soak (2026-11-29T12:00Z at the earliest)".into()),
        ]
    );
    // The rest of the example tenant is not held back.
    assert!(p.changes.iter().any(|c| c.address == "group.mwd-broad".parse().unwrap()));
    let p = plan_at(&client, &dir, &ledger, created, RolloutMode::Force).await;
    assert_eq!(ring_changes(&p), RINGS.iter().map(|r| (r.to_string(), Action::Create)).collect::<Vec<_>>());
    assert!(p.rollout.is_empty());
    let c = p.changes.iter().find(|c| c.address == ring("mwd-fast")).unwrap();
    assert!(c.notes.iter().any(|n| n == "rollout: ring 3 of 4 (mwd-fast), soak ignored by --force-rollout"), "{:?}", c.notes);
    let d = c.desired.as_ref().unwrap();
    assert_eq!(d.props["displayName"], json!("Windows Quality [mwd-fast]"));
    assert_eq!(d.props["assignments"]["include"], json!([{"@ref": "group.mwd-fast"}]));
    assert!(c.waits_on.contains(&"group.mwd-fast".parse().unwrap()), "a ring copy is created after its group");
    apply_at(&sb, &client, &p, &mut ledger, created).await;
    let p = plan_at(&client, &dir, &ledger, created, normal).await;
    assert!(p.is_empty() && p.rollout.is_empty(), "{}", engine::render::text(&p, false));
    assert_eq!(live_deadlines(&client, &dir, &ledger).await, vec![2, 2, 2, 2]);
    // Ledger entries are addressed by ring and survive a round trip.
    let ledger_text = ledger.render();
    assert!(ledger_text.contains("[resources.\"update_ring.quality@mwd-broad\"]"), "{ledger_text}");
    assert_eq!(Ledger::parse(&ledger_text).unwrap(), ledger);

    // --- A settings change reaches the first ring only. --------------------
    std::fs::write(dir.join("rollout.toml"), rollout_toml(3)).unwrap();
    let t0 = at("2026-12-01T10:00:00Z");
    let hours = |h: i64| t0 + Duration::hours(h);
    let p = plan_at(&client, &dir, &ledger, t0, normal).await;
    assert_eq!(p.changes.len(), 1, "only the first ring changes: {}", engine::render::text(&p, false));
    assert_eq!(ring_changes(&p), vec![("mwd-test".into(), Action::Update)]);
    assert_eq!(p.changes[0].notes, vec!["rollout: ring 1 of 4 (mwd-test); later rings follow one at a time after each soak"]);
    assert_eq!(
        waits(&p),
        vec![
            ("mwd-first".into(), "waiting for mwd-test to be changed and soak (2026-12-03T10:00Z at the earliest)".into()),
            ("mwd-fast".into(), "waiting for mwd-test to be changed and soak (2026-12-05T10:00Z at the earliest)".into()),
            ("mwd-broad".into(), "waiting for mwd-test to be changed and soak (2026-12-07T10:00Z at the earliest)".into()),
        ]
    );
    // Held: nothing changes, every ring says why.
    let held = plan_at(&client, &dir, &ledger, t0, RolloutMode::Hold).await;
    assert!(held.is_empty());
    assert_eq!(held.rollout.len(), 4);
    assert!(held.rollout.iter().all(|w| w.reason == "held by --hold-rollout" && w.until.is_none()));
    apply_at(&sb, &client, &p, &mut ledger, t0).await;
    assert_eq!(live_deadlines(&client, &dir, &ledger).await, vec![3, 2, 2, 2]);
    assert_eq!(changed_at(&ledger, "mwd-test"), t0);
    assert_eq!(changed_at(&ledger, "mwd-first"), created, "a waiting ring's ledger entry is untouched");

    // Applied: the next ring waits for the soak, and the plan shows until when.
    let p = plan_at(&client, &dir, &ledger, t0, normal).await;
    assert!(p.is_empty());
    assert_eq!(p.rollout[0].until.as_deref(), Some("2026-12-03T10:00Z"));
    assert_eq!(p.rollout[0].reason, "waiting until 2026-12-03T10:00Z (mwd-test changed at 2026-12-01T10:00Z, soak 48h)");
    let shown = engine::render::text(&p, false);
    assert!(shown.contains("update_ring.quality@mwd-first mwd-first: waiting until 2026-12-03T10:00Z"), "{shown}");
    assert!(shown.contains("update_ring.quality@mwd-fast mwd-fast: waiting for mwd-first to be changed and soak (2026-12-05T10:00Z at the earliest)"), "{shown}");
    let md = engine::render::markdown(&p);
    assert!(md.contains("`update_ring.quality@mwd-broad` mwd-broad: waiting for mwd-first to be changed and soak (2026-12-07T10:00Z at the earliest)"), "{md}");

    // --- Each later ring: still waiting a minute early, promoted on time. --
    for (i, r) in RINGS.iter().enumerate().skip(1) {
        let due = hours(48 * i as i64);
        let early = plan_at(&client, &dir, &ledger, due - Duration::minutes(1), normal).await;
        assert!(early.is_empty(), "{r} is not promoted a minute early:\n{}", engine::render::text(&early, false));
        let prev = RINGS[i - 1];
        assert_eq!(
            early.rollout[0],
            engine::governance::RingWait {
                address: ring(r),
                ring: r.to_string(),
                until: Some(due.format("%Y-%m-%dT%H:%MZ").to_string()),
                reason: format!("waiting until {} ({prev} changed at {}, soak 48h)", due.format("%Y-%m-%dT%H:%MZ"), hours(48 * (i as i64 - 1)).format("%Y-%m-%dT%H:%MZ")),
            }
        );
        if i == 3 {
            // Held at the deadline: still nothing.
            let held = plan_at(&client, &dir, &ledger, due, RolloutMode::Hold).await;
            assert!(held.is_empty() && held.rollout.len() == 1);
        }
        let p = plan_at(&client, &dir, &ledger, due, normal).await;
        assert_eq!(ring_changes(&p), vec![(r.to_string(), Action::Update)], "{r} is promoted at its deadline");
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].notes, vec![format!("rollout: ring {} of 4 ({r}); {prev} has soaked (48h)", i + 1)]);
        assert_eq!(p.rollout.len(), 3 - i, "the rings after {r} still wait");
        apply_at(&sb, &client, &p, &mut ledger, due).await;
        assert_eq!(changed_at(&ledger, r), due, "the ledger records when {r} changed");
    }
    assert_eq!(live_deadlines(&client, &dir, &ledger).await, vec![3, 3, 3, 3]);
    let progress: Vec<DateTime<Utc>> = RINGS.iter().map(|r| changed_at(&ledger, r)).collect();
    assert_eq!(progress, vec![t0, hours(48), hours(96), hours(144)]);
    // Done: planning again changes nothing and nothing waits.
    let p = plan_at(&client, &dir, &ledger, hours(200), normal).await;
    assert!(p.is_empty() && p.rollout.is_empty(), "{}", engine::render::text(&p, false));

    // --- Forced: the next change reaches every ring at once. ---------------
    std::fs::write(dir.join("rollout.toml"), rollout_toml(4)).unwrap();
    let t1 = at("2026-12-11T09:00:00Z");
    let p = plan_at(&client, &dir, &ledger, t1, RolloutMode::Force).await;
    assert_eq!(ring_changes(&p), RINGS.iter().map(|r| (r.to_string(), Action::Update)).collect::<Vec<_>>());
    assert!(p.rollout.is_empty());
    apply_at(&sb, &client, &p, &mut ledger, t1).await;
    assert_eq!(live_deadlines(&client, &dir, &ledger).await, vec![4, 4, 4, 4]);
    assert!(RINGS.iter().all(|r| changed_at(&ledger, r) == t1));
    let p = plan_at(&client, &dir, &ledger, t1, normal).await;
    assert!(p.is_empty() && p.rollout.is_empty(), "{}", engine::render::text(&p, false));
}
