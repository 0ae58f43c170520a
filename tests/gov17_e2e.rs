//! The reconcile loop against a lost state lease, replication lag and
//! its caches (issue 12, from hostile runs 21 and 22).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Timelike;

use common::azurite::{container, Azurite, DEV_KEY};
use common::*;
use providers::state_blob::BlobLease;
use providers::state_lock::{Holder, StateLock};

fn tctl(sb: &sandbox::SandboxHandle, cwd: &Path) -> Command {
    let mut c = command(sb, cwd);
    c.env_remove("TENANTCTL_LEDGER").env("AZURE_STORAGE_KEY", DEV_KEY).env_remove("AZURE_STORAGE_CONNECTION_STRING");
    c
}

/// Another run (here: the test) holding the state lease.
fn other_run() -> Holder {
    Holder { host: "ci-runner-9".into(), pid: 777, ..Holder::this_process("tenantctl apply (the other run)") }
}

fn lease(az: &Azurite, c: &str, sb: &sandbox::SandboxHandle) -> BlobLease {
    BlobLease::new(Arc::new(common::azurite::store(az, c)), format!("ci/{}/lock", sb.tenant_id()))
}

/// Break the lease (as an operator would) and take it as another run.
async fn break_and_take(sb: &sandbox::SandboxHandle, cwd: &Path, dir: &str, l: &BlobLease) {
    let out = tctl(sb, cwd).args(["state", "unlock", dir, "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    providers::state_lock::acquire(l, &other_run(), Duration::from_secs(30)).await.expect("the other run takes the lease");
}

/// The ledger blob's ETag, if any.
async fn ledger_etag(az: &Azurite, c: &str, sb: &sandbox::SandboxHandle) -> Option<String> {
    common::azurite::store(az, c).properties(&format!("ci/{}/ledger.toml", sb.tenant_id())).await.unwrap().map(|b| b.etag)
}

fn group_writes(sb: &sandbox::SandboxHandle) -> u64 {
    let c = sb.request_counts();
    c.requests.iter().chain(c.batch_items.iter()).filter(|(k, _)| k.starts_with("PATCH /v1.0/groups/") || k.starts_with("POST /v1.0/groups")).map(|(_, n)| n).sum()
}

fn groups_toml(n: usize, description: &str) -> String {
    (0..n).map(|i| format!("[group.gen-{i:03}]\ndisplay_name = \"Generated {i:03}\"\nmail_nickname = \"generated-{i:03}\"\ndescription = \"{description}\"\n\n")).collect()
}

/// Hostile run 22, finding 7: `reconcile --self-heal` whose lease was
/// broken and taken by another run went on writing Graph (7 writes, exit
/// 0). It now asks storage for the lease before each write: it stops
/// before its next one, fails the pass naming who holds the lease, and
/// writes no ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_heal_that_lost_its_lease_stops_before_its_next_write() {
    const N: usize = 12;
    let az = common::azurite::start();
    let c = container();
    let sb = sandbox().await;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("groups.toml"), groups_toml(N, "declared")).unwrap();
    std::fs::write(dir.join("state.toml"), common::azurite::state_table(&az, &c, "ci")).unwrap();
    let d = dir.to_str().unwrap();
    let out = tctl(&sb, t.path()).args(["apply", "--auto-approve", d]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every group edited in the portal.
    let g = client(&sb);
    for v in g.v1().list_all("/groups?$select=id&$top=999").await.unwrap() {
        let id = v["id"].as_str().unwrap().to_string();
        g.v1().patch_json(&format!("/groups/{id}"), serde_json::json!({ "description": "portal edit" })).await.unwrap();
    }
    let before = ledger_etag(&az, &c, &sb).await;
    assert!(before.is_some());
    sb.set_faults(faults(|f| f.latency_ms = 1500)).unwrap();
    sb.reset_counts();
    let run = tctl(&sb, t.path()).args(["reconcile", d, "--self-heal", "--once"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while group_writes(&sb) == 0 {
        assert!(started.elapsed() < Duration::from_secs(180), "the pass wrote nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let l = lease(&az, &c, &sb);
    break_and_take(&sb, t.path(), d, &l).await;
    let at_takeover = group_writes(&sb);
    let out = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lost the state lease") && err.contains("tenantctl apply (the other run)") && err.contains("ci-runner-9"), "the stop names the lease holder:\n{err}");
    assert!(err.contains("self-heal stopped before"), "{err}");
    // At most the write already under way when the lease was taken.
    let writes = group_writes(&sb);
    assert!(writes <= at_takeover + 1, "{} write(s) after the lease was taken:\n{err}", writes - at_takeover);
    assert!((writes as usize) < N, "{err}");
    // No ledger written without the lease; the other run still holds it.
    assert_eq!(ledger_etag(&az, &c, &sb).await, before, "the ledger blob was written without the lease");
    assert_eq!(l.holder().await.unwrap().map(|h| h.command), Some(other_run().command));
    l.release(&other_run()).await.unwrap();
    sb.set_faults(faults(|_| {})).unwrap();
    sb.shutdown().await.unwrap();
}

/// Hostile run 22, finding 9: an apply stopped by a lost lease before a
/// create's POST said the create "was carried out but could not be
/// recorded", though nothing was sent. The record before the POST asks
/// storage for the lease, and its stop says nothing was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_that_lost_its_lease_before_a_create_says_nothing_was_sent() {
    let az = common::azurite::start();
    let c = container();
    let sb = sandbox().await;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("groups.toml"), groups_toml(1, "declared")).unwrap();
    std::fs::write(dir.join("state.toml"), common::azurite::state_table(&az, &c, "ci")).unwrap();
    let d = dir.to_str().unwrap();
    // A first apply records the trust root: the next one writes no state
    // before its creates.
    let out = tctl(&sb, t.path()).args(["apply", "--auto-approve", d]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("groups.toml"), groups_toml(3, "declared")).unwrap();
    // Slow reads: the lease is taken over while the apply plans.
    sb.set_faults(faults(|f| f.latency_ms = 2500)).unwrap();
    sb.reset_counts();
    let run = tctl(&sb, t.path()).args(["apply", "--auto-approve", d, "--concurrency", "1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let l = lease(&az, &c, &sb);
    let started = Instant::now();
    while !l.holder().await.ok().flatten().is_some_and(|h| h.command == "tenantctl apply") {
        assert!(started.elapsed() < Duration::from_secs(60), "the apply never took the lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    break_and_take(&sb, t.path(), d, &l).await;
    assert_eq!(group_writes(&sb), 0, "the apply wrote before the lease was taken over; the test needs it to be still planning");
    let out = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("was not started (nothing was sent to Graph)"), "{err}");
    assert!(!err.contains("was carried out"), "{err}");
    assert!(err.contains("tenantctl apply (the other run)"), "the stop names the lease holder:\n{err}");
    assert_eq!(group_writes(&sb), 0, "nothing was sent:\n{err}");
    sb.set_faults(faults(|_| {})).unwrap();
    assert_eq!(client(&sb).v1().list_all("/groups?$select=id&$top=999").await.unwrap().len(), 1);
    l.release(&other_run()).await.unwrap();
    sb.shutdown().await.unwrap();
}

/// Hostile run 22, finding 13: `TENANTCTL_REPLICATION_LIMIT=1h` (and a
/// window of `abc`) fell back to the defaults without a word. Both take
/// whole seconds or a duration with a unit; a value that is neither, or a
/// limit of 0, is a usage error (exit 1) naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_settings_take_units_and_refuse_what_they_cannot_read() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n[group.alpha]\ndisplay_name = \"Lag alpha\"\nmail_nickname = \"lag-alpha\"\n", sb.domain())).unwrap();
    let d = dir.to_str().unwrap();
    // A create a killed run left 90 minutes ago, never seen since (and not
    // in the deleted items): gone under the default limit of 1 h.
    let mut ledger = engine::Ledger::default();
    ledger.record("group.alpha".parse().unwrap(), "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d".into(), None, Some((common::now() - chrono::Duration::minutes(90)).to_rfc3339()));
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).unwrap();
    let plan = |vars: &[(&str, &str)]| {
        let mut c = command(&sb, work.path());
        c.env("TENANTCTL_REPLICATION_WINDOW", "1");
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.args(["plan", d]).output().unwrap();
        (out.status.code(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
    };
    let (code, all) = plan(&[]);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("it is gone"), "{all}");
    // 2h is two hours: the create may still be replicating.
    let (code, all) = plan(&[("TENANTCTL_REPLICATION_LIMIT", "2h")]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("created less than 2 h ago") && all.contains("may still be replicating"), "{all}");
    let (code, all) = plan(&[("TENANTCTL_REPLICATION_LIMIT", "7200")]);
    assert!(code == Some(1) && all.contains("created less than 2 h ago"), "{all}");
    for (var, value, says) in [
        ("TENANTCTL_REPLICATION_LIMIT", "1 hour", "is not a duration"),
        ("TENANTCTL_REPLICATION_LIMIT", "0", "created again"),
        ("TENANTCTL_REPLICATION_WINDOW", "abc", "is not a duration"),
        ("TENANTCTL_REPLICATION_WINDOW", "-5", "is not a duration"),
    ] {
        let (code, all) = plan(&[(var, value)]);
        assert_eq!(code, Some(1), "{var}={value}: {all}");
        assert!(all.contains(&format!("error: {var}=")) && all.contains(says), "{var}={value}: {all}");
        assert!(!all.contains("Planning"), "refused before anything is read: {all}");
    }
    sb.shutdown().await.unwrap();
}

/// The delta link of `snapshot` ("users" / "groups") in the delta cache
/// moved past every change made since (what someone who can write the
/// state could do), the cached objects left as they were.
async fn advance_delta_link(sb: &sandbox::SandboxHandle, cache: &Path, snapshot: &str) {
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cache).unwrap()).unwrap();
    let mut link = state[snapshot]["delta_link"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let new = loop {
        let page: serde_json::Value = http.get(&link).bearer_auth(sb.access_token()).send().await.unwrap().json().await.unwrap();
        if let Some(d) = page["@odata.deltaLink"].as_str() {
            break d.to_string();
        }
        link = page["@odata.nextLink"].as_str().expect("a next or delta link").to_string();
    };
    assert_ne!(state[snapshot]["delta_link"].as_str().unwrap(), new);
    state[snapshot]["delta_link"] = serde_json::Value::String(new);
    std::fs::write(cache, serde_json::to_string(&state).unwrap()).unwrap();
}

/// Hostile run 21, finding 8: a delta cache whose group link was advanced
/// past a portal change hid it from every later pass. The tenant's marker
/// records when a self-heal pass last read users and groups in full; past
/// `TENANTCTL_DELTA_FULL_READ` (24 h) a pass reads them in full again,
/// whatever the cache says, and the change shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_delta_cache_hides_a_change_no_longer_than_the_bound() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let dir = w.join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n{}", sb.domain(), groups_toml(1, "declared"))).unwrap();
    let d = dir.to_str().unwrap();
    // Governance recorded on first use: the tenant carries a marker.
    let out = command(&sb, w).args(["apply", "--auto-approve", d]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t0 = common::now().with_nanosecond(0).unwrap();
    let at = |hours: i64| (t0 + chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let pass = |extra: &[&str], now: &str| {
        let out = command(&sb, w).args(["reconcile", d, "--once", "--now", now]).args(extra).output().unwrap();
        (out.status.code(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
    };
    // Pass 1 reads everything and records it in the tenant.
    let (code, all) = pass(&["--self-heal"], &at(0));
    assert_eq!(code, Some(0), "{all}");
    let g = client(&sb);
    let org = g.v1().get_json("/organization?$select=id").await.unwrap()["value"][0]["id"].as_str().unwrap().to_string();
    let marker = g.v1().get_json(&format!("/organization/{org}/extensions/com.tenantctl.governance")).await.unwrap();
    assert_eq!(marker["deltaFullRead"], at(0), "{marker}");
    // A portal change, and the cache's group link moved past it.
    let id = g.v1().list_all("/groups?$select=id").await.unwrap()[0]["id"].as_str().unwrap().to_string();
    g.v1().patch_json(&format!("/groups/{id}"), serde_json::json!({ "description": "portal edit" })).await.unwrap();
    advance_delta_link(&sb, &w.join("tenantctl.delta.json"), "groups").await;
    // Within the bound the cache is trusted (a quiet pass stays quiet).
    let (code, all) = pass(&[], &at(1));
    assert_eq!(code, Some(0), "{all}");
    assert!(!all.contains("reading every user and group in full"), "{all}");
    // Past it, users and groups are read in full: the change shows.
    let (code, all) = pass(&[], &at(25));
    assert!(all.contains("reading every user and group in full"), "{all}");
    assert_eq!(code, Some(2), "the portal change is drift:\n{all}");
    let history = w.join(".tenantctl/history");
    let mut reports: Vec<_> = std::fs::read_dir(&history).unwrap().map(|e| e.unwrap().path()).collect();
    reports.sort();
    let last: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(reports.last().unwrap()).unwrap()).unwrap();
    assert!(last["items"].as_array().unwrap().iter().any(|i| i["address"] == "group.gen-000"), "{last}");
    // A bad bound is a usage error naming the variable.
    let out = command(&sb, w).env("TENANTCTL_DELTA_FULL_READ", "daily").args(["reconcile", d, "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("TENANTCTL_DELTA_FULL_READ=`daily`"), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}

/// Hostile run 22, finding 2: a device configuration a killed apply
/// created, lagging past the replication window, was called gone and
/// created again (two copies once both replicated). Intune keeps no deleted
/// items to ask, so a create never seen applied is not gone within the
/// replication limit, whatever its kind: held, with a message saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_device_configuration_a_killed_run_created_is_not_created_again() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    let toml = format!("[tenant]\nprimary_domain = \"{}\"\n\n[device_configuration.lag-dc]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Lag DC\"\n\n[device_configuration.lag-dc.settings]\ncameraBlocked = true\n", sb.domain());
    std::fs::write(dir.join("tenant.toml"), toml).unwrap();
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.replication_lag_ms = 120_000)).unwrap();
    kill_apply_after_record(&sb, work.path(), &["--auto-approve", d, "--concurrency", "1"], "device_configuration.lag-dc");
    // The next apply waits its (short) window out; the policy still lags.
    for _ in 0..2 {
        let out = command(&sb, work.path()).env("TENANTCTL_REPLICATION_WINDOW", "1").args(["apply", "--auto-approve", d]).output().unwrap();
        let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("may still be replicating") && all.contains("keeps no deleted items") && !all.contains("it is gone"), "{all}");
    }
    sb.set_faults(sandbox::Faults::default()).unwrap();
    let configs = client(&sb).beta().list_all("/deviceManagement/deviceConfigurations?$select=id,displayName").await.unwrap();
    let copies = configs.iter().filter(|c| c["displayName"] == "Lag DC").count();
    assert_eq!(copies, 1, "a duplicate was created: {configs:?}");
    // Once it replicates, the ledger's object is used: nothing is sent.
    // The killed run recorded the create without its approved state, so
    // the object is ratified whole once (gov18), not created again.
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", d]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("Plan: 1 to update") && all.contains("the tenant already has desired state") && !all.contains("to create"), "{all}");
    sb.shutdown().await.unwrap();
}

/// Hostile run 28, finding 6: a run whose lease was broken less than a
/// renewal before its end still sealed and wrote the ledger (and removed
/// the log blob the new holder appends to), exiting 0: its last writes
/// looked only at the lease's last renewal. It now asks storage before
/// sealing and before writing the ledger, and stops with its log kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_was_just_broken_neither_seals_nor_writes_the_ledger() {
    let az = common::azurite::start();
    let c = container();
    let sb = sandbox().await;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("groups.toml"), groups_toml(3, "declared")).unwrap();
    std::fs::write(dir.join("state.toml"), common::azurite::state_table(&az, &c, "ci")).unwrap();
    let d = dir.to_str().unwrap();
    let out = tctl(&sb, t.path()).args(["apply", "--auto-approve", d]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("groups.toml"), groups_toml(3, "changed")).unwrap();
    let before = ledger_etag(&az, &c, &sb).await;
    assert!(before.is_some());
    let err_path = t.path().join("apply.stderr");
    let run = tctl(&sb, t.path())
        .env("TENANTCTL_TEST_PAUSE_BEFORE_SEAL", "6000")
        .args(["apply", "--auto-approve", d])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&err_path).unwrap_or_default().contains("pausing") {
        assert!(started.elapsed() < Duration::from_secs(180), "the apply never reached its seal");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let l = lease(&az, &c, &sb);
    break_and_take(&sb, t.path(), d, &l).await;
    let out = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("state lease") && err.contains("ci-runner-9"), "the stop names the lease holder:\n{err}");
    assert_eq!(ledger_etag(&az, &c, &sb).await, before, "the ledger blob was written without the lease:\n{err}");
    assert_eq!(l.holder().await.unwrap().map(|h| h.command), Some(other_run().command));
    l.release(&other_run()).await.unwrap();
    sb.shutdown().await.unwrap();
}
