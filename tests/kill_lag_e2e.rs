//! kill -9 of `tenantctl apply` at random points (seeded, so the points are
//! the same every run) while the tenant lags 2 s behind its writes, then an
//! immediate re-apply: no duplicates, converged, the ledger complete, and
//! every object tenantctl created is in the journal.
//!
//! Twenty kills run as four lanes of five, each lane with its own sandbox
//! per kill: the processes mostly wait for replication, so the lanes
//! overlap well even on two cores.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use engine::Ledger;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const LAG_MS: u64 = 2_000;

fn lagging() -> sandbox::Faults {
    faults(|f| {
        f.replication_lag_ms = LAG_MS;
        f.latency_ms = 2;
    })
}

/// Ids and natural keys of the live objects of the example's collections.
async fn live(client: &providers::graph::GraphClient) -> Vec<(String, String)> {
    let reads = [
        (client.v1(), "/users?$select=id,userPrincipalName&$top=999", "userPrincipalName"),
        (client.v1(), "/groups?$select=id,mailNickname&$top=999", "mailNickname"),
        (client.beta(), "/deviceManagement/deviceConfigurations?$top=999", "displayName"),
        (client.beta(), "/deviceManagement/deviceCompliancePolicies?$top=999", "displayName"),
        (client.beta(), "/deviceManagement/windowsAutopilotDeploymentProfiles", "displayName"),
        (client.v1(), "/identity/conditionalAccess/policies", "displayName"),
    ];
    let mut out = Vec::new();
    for (c, path, field) in reads {
        for o in c.list_all(path).await.unwrap() {
            let key = o.get(field).and_then(Value::as_str).unwrap_or_default().to_lowercase();
            out.push((o["id"].as_str().unwrap_or_default().to_string(), format!("{path} {key}")));
        }
    }
    for a in client.v1().list_all("/roleManagement/directory/roleAssignments").await.unwrap() {
        out.push((a["id"].as_str().unwrap_or_default().to_string(), format!("roleAssignment {}|{}", a["principalId"], a["roleDefinitionId"])));
    }
    out
}

fn journal_ids(work: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(work.join("tenantctl.journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|j| j["object_id"].as_str().map(str::to_string))
        .collect()
}

/// One kill and re-apply on a fresh sandbox; the problems found.
fn kill_once(rt: &tokio::runtime::Runtime, dir: &Path, point: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let d = dir.to_str().unwrap();
    let sb = rt.block_on(sandbox());
    let client = client(&sb);
    let before: BTreeSet<String> = rt.block_on(live(&client)).into_iter().map(|(id, _)| id).collect();
    sb.set_faults(lagging()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut child = command(&sb, work.path()).args(["apply", "--auto-approve", d]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sb.request_counts().total < point && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    let killed_at = sb.request_counts().total;
    // At once, while what the killed run created is still lagging.
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    if !out.status.success() {
        problems.push(format!("re-apply after a kill at request {killed_at} failed: {}", text(&out.stderr)));
    }
    sb.set_faults(sandbox::Faults::default()).unwrap();
    let objects = rt.block_on(live(&client));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, key) in &objects {
        *counts.entry(key).or_insert(0) += 1;
    }
    for (key, n) in counts.iter().filter(|(_, n)| **n > 1) {
        problems.push(format!("kill at request {killed_at}: {key} x{n}"));
    }
    match std::fs::read_to_string(work.path().join("tenantctl.lock")).map(|t| Ledger::parse(&t)) {
        Ok(Ok(ledger)) => {
            let state = schema::load(dir).unwrap();
            for a in state.addresses() {
                let expired = match a.kind {
                    schema::Kind::Guest => state.guest[&a.key].value.expires <= common::now(),
                    schema::Kind::RoleAssignment => state.role_assignment[&a.key].value.expires.is_some_and(|e| e <= common::now()),
                    _ => false,
                };
                if !expired && ledger.id(&a).is_none() {
                    problems.push(format!("kill at request {killed_at}: {a} is missing from the ledger"));
                }
            }
            let journaled = journal_ids(work.path());
            for (a, e) in &ledger.resources {
                if !journaled.contains(&e.id) {
                    problems.push(format!("kill at request {killed_at}: {a} ({}) is in the ledger but not in the journal", e.id));
                }
            }
            for (id, key) in objects.iter().filter(|(id, _)| !before.contains(id)) {
                if !journaled.contains(id) && !key.starts_with("roleAssignment") {
                    problems.push(format!("kill at request {killed_at}: created object {id} ({key}) is not in the journal"));
                }
            }
        }
        other => problems.push(format!("kill at request {killed_at}: no readable ledger: {other:?}")),
    }
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", d]);
    if out.status.code() != Some(0) {
        problems.push(format!("kill at request {killed_at}: not converged:\n{}{}", text(&out.stdout), text(&out.stderr)));
    }
    rt.block_on(sb.shutdown()).unwrap();
    problems
}

#[test]
fn twenty_kills_during_replication_lag_then_an_immediate_reapply_converge_without_duplicates() {
    let t = scratch_without_approvals();
    let dir: PathBuf = t.path().join("desired-state");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // How many requests a whole apply makes under lag, to spread the kills.
    let total = {
        let sb = rt.block_on(sandbox());
        sb.set_faults(lagging()).unwrap();
        let work = tempfile::tempdir().unwrap();
        let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let n = sb.request_counts().total;
        rt.block_on(sb.shutdown()).unwrap();
        n
    };
    drop(rt);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut points: Vec<u64> = (0..20).map(|_| rng.gen_range(1..total)).collect();
    points.sort();
    let lanes: Vec<Vec<u64>> = (0..4).map(|lane| points.iter().skip(lane).step_by(4).copied().collect()).collect();
    let problems: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .iter()
            .map(|lane| {
                let dir = dir.clone();
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
                    lane.iter().flat_map(|p| kill_once(&rt, &dir, *p)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(problems.is_empty(), "kill points {points:?} of {total} requests:\n{}", problems.join("\n"));
}
