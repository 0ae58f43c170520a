//! gov19 (issue 12, hostile run 23): the mechanics of the ledger's seal,
//! through the binary against the sandbox.
//! * A ledger identity that is not 16 lower-case hex digits is refused at
//!   load, naming the file, line and column, and escaped (findings 2, 12);
//!   a marker holding two seals under one identity is tampering, never
//!   "the first one wins" (finding 2).
//! * A seal that cannot be written keeps the write-ahead log and fails the
//!   run (finding 15).
//! * The first apply that gives the ledger its identity seals before it
//!   compacts: killed in between, the ledger is sealed (finding 3).
//! * Two runs killed in a row, the first after its seal, the second before
//!   its own, leave only the second run's entries unproven (finding 4).

mod common;

use std::path::Path;
use std::process::Stdio;

use common::gov::{converged, graph, run};
use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::Value;

const WHOLE: &str = "none of its facts is proof";
const LOGGED: &str = "the entries a write-ahead log changed since the last seal";

/// A converged tenant whose ledger an apply of the binary sealed.
async fn sealed(sb: &SandboxHandle) -> (tempfile::TempDir, std::path::PathBuf) {
    let (work, dir) = converged(sb, |_| {}).await;
    let (code, out) = run(sb, work.path(), &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    (work, dir)
}

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn ledger_text(w: &Path) -> String {
    std::fs::read_to_string(w.join("tenantctl.lock")).expect("the ledger is there")
}

fn wal(w: &Path) -> std::path::PathBuf {
    w.join("tenantctl.ledger-wal.jsonl")
}

async fn marker_url(sb: &SandboxHandle) -> String {
    let org = graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an organization id").to_string();
    format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance")
}

/// A group more in desired state.
fn add_group(dir: &Path, name: &str) {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(p, format!("[group.{name}]\ndisplay_name = \"gov19 {name}\"\nmail_nickname = \"gov19-{name}\"\n")).expect("written");
}

/// `apply --auto-approve dir` with `pause` (a test hook) set to a long
/// pause: killed as soon as it pauses there. `during` runs while it waits
/// instead, when given, and the run is then left to end on its own.
fn apply_paused(sb: &SandboxHandle, w: &Path, dir: &Path, pause: &str, kill: bool) -> (Option<i32>, String) {
    let err = w.join("paused-apply.stderr");
    let mut child = command(sb, w)
        .args(["apply", "--auto-approve", "--concurrency", "1", d(dir)])
        .env(pause, if kill { "60000" } else { "1500" })
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("created"))
        .spawn()
        .expect("tenantctl runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let paused = || std::fs::read_to_string(&err).unwrap_or_default().contains(&format!("({pause})"));
    while !paused() {
        if let Some(status) = child.try_wait().expect("waited") {
            panic!("apply ended ({status}) without pausing at {pause}:\n{}", std::fs::read_to_string(&err).unwrap_or_default());
        }
        assert!(std::time::Instant::now() < deadline, "apply never paused at {pause}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if kill {
        child.kill().expect("killed");
        child.wait().expect("waited");
        return (None, std::fs::read_to_string(&err).unwrap_or_default());
    }
    // The marker's path fails from now on (a Graph outage of it).
    sb.set_faults(faults(|f| f.fail_paths = vec!["/organization".into()])).expect("faults set");
    let status = child.wait().expect("waited");
    sb.set_faults(sandbox::Faults::default()).expect("faults cleared");
    (status.code(), std::fs::read_to_string(&err).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_identity_tenantctl_never_gives_is_refused_and_escaped() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    let text = ledger_text(w);
    let id = engine::Ledger::parse(&text).expect("parses").ledger_id.expect("sealed ledgers have an identity");
    let line = text.lines().position(|l| l.starts_with("ledger_id")).expect("the identity's line") + 1;
    // Finding 2: an identity carrying the marker's separators plants a seal.
    let planted = format!("{id}={};zz", "0".repeat(32));
    // Finding 12: terminal control characters forge output.
    let forged = "x\u{1b}[1A\u{1b}[2K\rPlan: no changes: the tenant matches desired state\n## All clear".to_string();
    for bad in [planted, forged, id.to_uppercase()] {
        let edited = text.replace(&format!("ledger_id = \"{id}\""), &format!("ledger_id = {}", serde_json::to_string(&bad).expect("a JSON string")));
        assert_ne!(edited, text);
        std::fs::write(w.join("tenantctl.lock"), &edited).expect("written");
        for cmd in ["plan", "apply"] {
            let args: Vec<&str> = if cmd == "apply" { vec!["apply", "--auto-approve", d(&dir)] } else { vec!["plan", d(&dir)] };
            let (code, out) = run(&sb, w, &args);
            assert_ne!(code, Some(0), "{cmd} with ledger_id {bad:?}: {out}");
            assert!(out.contains("tenantctl.lock") && out.contains(&format!("line {line}, column 13")) && out.contains("ledger_id"), "{cmd}: names the file, line and key: {out}");
            assert!(!out.contains('\u{1b}') && !out.contains('\r') && !out.contains("\n## All clear"), "{cmd}: escaped: {out:?}");
        }
    }
    // The marker was never written with it.
    let m = graph(&sb, Method::GET, &marker_url(&sb).await, None).await;
    let seals = m["ledgerSeals"].as_str().unwrap_or_default().to_string();
    assert!(!seals.contains("zz") && seals.matches(';').count() == 0, "{seals}");
    std::fs::write(w.join("tenantctl.lock"), &text).expect("written");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "restored: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seals_under_one_identity_are_tampering_whichever_comes_first() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    let url = marker_url(&sb).await;
    let m = graph(&sb, Method::GET, &url, None).await;
    let seals = m["ledgerSeals"].as_str().expect("seals").to_string();
    let (id, digest) = seals.split_once('=').expect("one seal");
    let patch = |seals: String| {
        let mut body: serde_json::Map<String, Value> = m.as_object().expect("an object").clone();
        body.remove("id");
        body.retain(|k, _| !k.starts_with("@odata.context"));
        body.insert("ledgerSeals".into(), Value::String(seals));
        body.insert("@odata.type".into(), Value::String("microsoft.graph.openTypeExtension".into()));
        Value::Object(body)
    };
    // The honest seal first, a forged one after it; then the other order;
    // then a seal that is not hex digits of the right length.
    for tampered in [format!("{seals};{id}={}", "0".repeat(32)), format!("{id}={};{seals}", "0".repeat(32)), format!("{id}={digest}x")] {
        graph(&sb, Method::PATCH, &url, Some(patch(tampered.clone()))).await;
        let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
        assert_eq!(code, Some(2), "{tampered}: the ledger's facts prove nothing: {out}");
        assert!(out.contains("which tenantctl never writes") && out.contains("the ledger does not match the seal"), "{tampered}: {out}");
    }
    // Another ledger's malformed entry does not touch this one's seal.
    graph(&sb, Method::PATCH, &url, Some(patch(format!("zz={digest};{seals}")))).await;
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_that_cannot_be_written_keeps_the_log_and_fails_the_apply() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    add_group(&dir, "sf-1");
    let (code, out) = apply_paused(&sb, w, &dir, "TENANTCTL_TEST_PAUSE_BEFORE_SEAL", false);
    assert_ne!(code, Some(0), "a seal not recorded is no success: {out}");
    assert!(out.contains("seal was not recorded in the tenant") && out.contains("is kept, not compacted"), "{out}");
    assert!(!out.contains("Applied 1, failed 0"), "{out}");
    assert!(std::fs::read_to_string(wal(w)).is_ok_and(|t| t.contains("group.sf-1")), "the log is kept");
    // Only the logged entry is unproven, not the whole ledger.
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(LOGGED) && !out.contains(WHOLE), "{out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "sealed again: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_identity_is_sealed_before_it_is_compacted() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    assert!(engine::Ledger::parse(&ledger_text(w)).expect("parses").ledger_id.is_none(), "never sealed yet");
    // Killed after the seal, before the compaction.
    apply_paused(&sb, w, &dir, "TENANTCTL_TEST_PAUSE_BEFORE_COMPACT", true);
    assert!(engine::Ledger::parse(&ledger_text(w)).expect("parses").ledger_id.is_none(), "not compacted yet");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "the log over the last compacted ledger is the sealed ledger: {out}");
    assert!(!out.contains("does not match the seal"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kills_after_and_before_a_seal_leave_only_the_second_runs_entries_unproven() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    add_group(&dir, "tk-1");
    // The first run sealed, killed before it compacted.
    apply_paused(&sb, w, &dir, "TENANTCTL_TEST_PAUSE_BEFORE_COMPACT", true);
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "sealed: {out}");
    // The second run killed after its change, before its seal.
    add_group(&dir, "tk-2");
    sb.set_faults(faults(|f| f.latency_ms = 300)).expect("faults set");
    kill_apply_after_record(&sb, w, &["--auto-approve", "--concurrency", "1", d(&dir)], "group.tk-2");
    sb.set_faults(sandbox::Faults::default()).expect("faults cleared");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(LOGGED), "{out}");
    assert!(!out.contains(WHOLE), "the whole ledger judged edited: {out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_plans_are_kept_per_day_and_a_full_marker_is_warned_of() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    let url = marker_url(&sb).await;
    let m = graph(&sb, Method::GET, &url, None).await;
    let mut body: serde_json::Map<String, Value> = m.as_object().expect("an object").clone();
    body.remove("id");
    body.retain(|k, _| !k.starts_with("@odata.context"));
    body.insert("@odata.type".into(), Value::String("microsoft.graph.openTypeExtension".into()));
    // Plans recorded the way tenantctl did before gov19 (a 32-digit hash
    // each), alive for days yet: as many as filled a third of the marker.
    let end = common::now().timestamp() + 3 * 86400;
    let plans: Vec<String> = (0..15u64).map(|i| format!("{:016x}{:016x}@{}", (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15), 0u64, end + i as i64 * 3600)).collect();
    let mut old = body.clone();
    old.insert("appliedPlans".into(), Value::String(plans.join(";")));
    graph(&sb, Method::PATCH, &url, Some(Value::Object(old))).await;
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "read as before: {out}");
    // The next write of the marker (this apply's seal) keeps them per day.
    add_group(&dir, "mk-1");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let now = graph(&sb, Method::GET, &url, None).await;
    let kept = now["appliedPlans"].as_str().expect("plans").to_string();
    let hashes: usize = kept.split(';').map(|day| day.split_once(':').expect("DAY:TAGS").1.len() / 6).sum();
    assert_eq!(hashes, plans.len(), "every plan is still recorded: {kept}");
    for p in &plans {
        let tag = providers::tenant_marker::plan_tag(&p[..32]).expect("a tag");
        assert!(kept.contains(&tag), "{p} kept as {tag}: {kept}");
    }
    assert!(now.to_string().len() < 1400, "{now}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("governance marker com.tenantctl.governance holds"), "{out}");
    // Filled past three quarters (in the new form): warned of.
    let mut full = now.as_object().expect("an object").clone();
    full.remove("id");
    full.retain(|k, _| !k.starts_with("@odata.context"));
    full.insert("@odata.type".into(), Value::String("microsoft.graph.openTypeExtension".into()));
    let day = kept.split_once(':').expect("DAY:TAGS").0.to_string();
    let mut tags = String::new();
    let mut n = 0;
    // Measured without the sealed ledgers' accounts (gov28), which give
    // way to anything else the marker must hold and so do not fill it.
    let filled = |m: &serde_json::Map<String, Value>| {
        let mut m = m.clone();
        m.remove("ledgerAccounts");
        Value::Object(m).to_string().len()
    };
    while filled(&full) <= 1500 {
        n += 1;
        tags.push_str(&providers::tenant_marker::plan_tag(&format!("{:016x}", (n as u64).wrapping_mul(0xd1b5_4a32_d192_ed03))).expect("a tag"));
        full.insert("appliedPlans".into(), Value::String(format!("{kept};{}:{tags}", day.parse::<i64>().expect("a day") + 1)));
    }
    graph(&sb, Method::PATCH, &url, Some(Value::Object(full))).await;
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("governance marker com.tenantctl.governance holds") && out.contains(&format!("({} approved plans not yet expired", plans.len() + n)), "{out}");
}
