//! The azurerm state backend against Azurite: concurrent applies, a lease
//! left by a killed run, a conflicting write, migration, and
//! `state show | pull | push | unlock`.
//!
//! Azurite is found through `TENANTCTL_TEST_AZURITE` (the account URL,
//! e.g. `http://127.0.0.1:10000/devstoreaccount1`, as `.ci/run` starts it);
//! without it the tests start `azurite-blob` from PATH on a free loopback
//! port, and fail when neither is there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use engine::Ledger;
use providers::state_blob::{BlobError, BlobStore, Condition};

use common::azurite::{container, host_port, store, Azurite, ACCOUNT, DEV_KEY};

fn azurite() -> Azurite {
    common::azurite::start()
}

fn state_table(az: &Azurite, container: &str) -> String {
    common::azurite::state_table(az, container, "ci")
}

/// `<tmp>/desired-state` with `groups` groups and, if given, `[state]`.
fn desired(groups: usize, state: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = String::new();
    for i in 0..groups {
        g.push_str(&format!("[group.gen-{i:03}]\ndisplay_name = \"Generated {i:03}\"\nmail_nickname = \"generated-{i:03}\"\n\n"));
    }
    std::fs::write(dir.join("groups.toml"), g).unwrap();
    if let Some(s) = state {
        std::fs::write(dir.join("state.toml"), s).unwrap();
    }
    (t, dir)
}

/// The binary against the sandbox at --graph-url (its ledger keyed by the
/// sandbox's tenant id), with the storage key of Azurite.
fn tctl(sb: &sandbox::SandboxHandle, cwd: &Path) -> Command {
    let mut c = command(sb, cwd);
    c.env_remove("TENANTCTL_LEDGER").env("AZURE_STORAGE_KEY", DEV_KEY).env_remove("AZURE_STORAGE_CONNECTION_STRING");
    c
}

fn run(sb: &sandbox::SandboxHandle, cwd: &Path, args: &[&str]) -> Output {
    tctl(sb, cwd).args(args).output().unwrap()
}

fn spawn(sb: &sandbox::SandboxHandle, cwd: &Path, args: &[&str]) -> Child {
    tctl(sb, cwd).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn ledger_blob(sb: &sandbox::SandboxHandle) -> String {
    format!("ci/{}/ledger.toml", sb.tenant_id())
}

async fn blob_ledger(s: &BlobStore, sb: &sandbox::SandboxHandle) -> Option<Ledger> {
    s.get(&ledger_blob(sb)).await.unwrap().map(|b| Ledger::parse(&String::from_utf8(b.body).unwrap()).unwrap())
}

/// Wait until `state show` names a holder of the lease.
fn wait_held(sb: &sandbox::SandboxHandle, cwd: &Path, d: &str) -> String {
    let started = Instant::now();
    loop {
        let out = run(sb, cwd, &["state", "show", d]);
        let t = text(&out.stdout);
        if t.contains("lock:    held by") {
            return t;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no run took the lease: {t}{}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn wait(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_applies_one_runs_and_the_other_is_refused_naming_the_holder_or_waits() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let (t, dir) = desired(6, Some(&state_table(&az, &c)));
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.latency_ms = 300)).unwrap();
    let first = spawn(&sb, t.path(), &["apply", "--auto-approve", d]);
    let shown = wait_held(&sb, t.path(), d);
    assert!(shown.contains("`tenantctl apply` (pid"), "{shown}");
    // A second runner (another checkout, same backend) is refused at once.
    let other = tempfile::tempdir().unwrap();
    let other_dir = other.path().join("desired-state");
    std::fs::create_dir_all(&other_dir).unwrap();
    for f in ["groups.toml", "state.toml"] {
        std::fs::copy(dir.join(f), other_dir.join(f)).unwrap();
    }
    let od = other_dir.to_str().unwrap();
    let out = run(&sb, other.path(), &["apply", "--auto-approve", od]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("another run holds the state lock") && err.contains(&format!("pid {}", first.id())) && err.contains("the lease on"), "{err}");
    // With --lock-timeout it waits for the first and then finds nothing to do.
    let waiter = spawn(&sb, other.path(), &["apply", "--auto-approve", od, "--lock-timeout", "5m"]);
    let a = wait(first).await;
    assert!(a.status.success(), "{}", text(&a.stderr));
    let b = wait(waiter).await;
    assert!(b.status.success(), "{}", text(&b.stderr));
    sb.set_faults(faults(|_| {})).unwrap();
    let s = store(&az, &c);
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 6, "one ledger in the blob, written by the first run");
    assert!(text(&b.stdout).contains("No changes") || !text(&b.stdout).contains("create"), "the waiter started from the first run's ledger: {}", text(&b.stdout));
    let out = run(&sb, other.path(), &["plan", od, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "in sync from the other checkout: {}{}", text(&out.stdout), text(&out.stderr));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_left_by_a_killed_run_expires_or_is_broken_and_its_log_is_kept() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let (t, dir) = desired(4, Some(&state_table(&az, &c)));
    let d = dir.to_str().unwrap();
    // Killed mid-run: the lease stays (for up to 60 s), naming the run.
    sb.set_faults(faults(|f| f.latency_ms = 1500)).unwrap();
    let mut killed = spawn(&sb, t.path(), &["apply", "--auto-approve", d, "--concurrency", "1"]);
    let pid = killed.id();
    wait_held(&sb, t.path(), d);
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    sb.set_faults(faults(|_| {})).unwrap();
    let out = run(&sb, t.path(), &["state", "show", d]);
    assert!(text(&out.stdout).contains(&format!("held by `tenantctl apply` (pid {pid}")), "{}", text(&out.stdout));
    let out = run(&sb, t.path(), &["apply", "--auto-approve", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("pid {pid}")), "{}", text(&out.stderr));
    // The refusal names what breaks a lease, not the lock file's `unlock`.
    assert!(text(&out.stderr).contains("`tenantctl state unlock DIR --yes` breaks the lease") && !text(&out.stderr).contains("within 0ns"), "{}", text(&out.stderr));
    // The next run waits for the lease to expire, then takes over, saying from whom.
    let out = run(&sb, t.path(), &["apply", "--auto-approve", d, "--lock-timeout", "3m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("Took the state lease over from `tenantctl apply` (pid {pid}")), "{}", text(&out.stderr));
    let s = store(&az, &c);
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 4);
    assert!(s.get(&format!("ci/{}/ledger-wal.jsonl", sb.tenant_id())).await.unwrap().is_none(), "the log was compacted");
    let groups = client(&sb).v1().list_all("/groups?$select=id&$top=999").await.unwrap().len();
    assert_eq!(groups, 4, "no duplicates from the killed run");

    // Killed again; this time `state unlock` breaks the lease at once.
    std::fs::write(dir.join("more.toml"), "[group.extra]\ndisplay_name = \"Extra\"\nmail_nickname = \"extra\"\n").unwrap();
    sb.set_faults(faults(|f| f.latency_ms = 1500)).unwrap();
    let mut killed = spawn(&sb, t.path(), &["apply", "--auto-approve", d]);
    let pid = killed.id();
    wait_held(&sb, t.path(), d);
    killed.kill().unwrap();
    killed.wait().unwrap();
    sb.set_faults(faults(|_| {})).unwrap();
    // The older `unlock` points to the command that breaks a lease.
    let out = run(&sb, t.path(), &["unlock", d, "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("tenantctl state unlock"), "{}", text(&out.stderr));
    let out = run(&sb, t.path(), &["state", "unlock", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--yes") && text(&out.stderr).contains(&format!("pid {pid}")), "{}", text(&out.stderr));
    let out = run(&sb, t.path(), &["state", "unlock", d, "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("Broke the state lease held by `tenantctl apply` (pid {pid}")), "{}", text(&out.stderr));
    let started = Instant::now();
    let out = run(&sb, t.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(50), "no wait for the expiry after a break");
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 5);
    let out = run(&sb, t.path(), &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_write_is_refused_and_nothing_is_lost() {
    let az = azurite();
    let c = container();
    let s = Arc::new(store(&az, &c));
    s.ensure_container().await.unwrap();
    // The blob API itself: a stale ETag and a create over an existing blob are refused.
    let e1 = s.put("x/ledger.toml", b"one".to_vec(), &Condition::IfAbsent).await.unwrap();
    let e2 = s.put("x/ledger.toml", b"two".to_vec(), &Condition::IfMatch(e1.clone())).await.unwrap();
    assert!(matches!(s.put("x/ledger.toml", b"three".to_vec(), &Condition::IfMatch(e1)).await, Err(BlobError::Conflict { .. })));
    assert!(matches!(s.put("x/ledger.toml", b"four".to_vec(), &Condition::IfAbsent).await, Err(BlobError::Conflict { .. })));
    let now = s.get("x/ledger.toml").await.unwrap().unwrap();
    assert_eq!((now.body, now.etag), (b"two".to_vec(), e2));

    // A run whose ledger blob is rewritten behind its lease refuses to
    // overwrite it, and says so.
    let sb = sandbox().await;
    let (t, dir) = desired(3, Some(&state_table(&az, &c)));
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.latency_ms = 400)).unwrap();
    let run1 = spawn(&sb, t.path(), &["apply", "--auto-approve", d]);
    wait_held(&sb, t.path(), d);
    let intruder = "# written by another tool\nversion = 1\n";
    s.put(&ledger_blob(&sb), intruder.as_bytes().to_vec(), &Condition::None).await.unwrap();
    let out = wait(run1).await;
    sb.set_faults(faults(|_| {})).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("the write was refused because the blob changed since this run read it"), "{err}");
    let kept = s.get(&ledger_blob(&sb)).await.unwrap().unwrap();
    assert_eq!(String::from_utf8(kept.body).unwrap(), intruder, "the other write was not overwritten");
    // What the run did is not lost either: each object it made is in its
    // log blob, which is kept (it is refused either before its first
    // change or at the end, depending on when the other write lands).
    let made = client(&sb).v1().list_all("/groups?$select=id&$top=999").await.unwrap().len();
    let log = s.get(&format!("ci/{}/ledger-wal.jsonl", sb.tenant_id())).await.unwrap().map(|b| String::from_utf8(b.body).unwrap()).unwrap_or_default();
    // Each object's address, once, whatever number of records the log
    // holds for it (the create's id, then what was applied).
    let recorded: std::collections::BTreeSet<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|op| op["op"] == "record")
        .filter_map(|op| op["address"].as_str().map(str::to_string))
        .collect();
    assert_eq!(recorded.len(), made, "every object made is recorded in the kept log: {log}");
    if made > 0 {
        let out = run(&sb, t.path(), &["state", "pull", d]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(Ledger::parse(&text(&out.stdout)).unwrap().resources.len(), made, "pull replays the kept log: {}", text(&out.stdout));
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_local_to_azurerm_keeps_the_plan_and_show_pull_push_work() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let (t, dir) = desired(5, None);
    let d = dir.to_str().unwrap();
    let out = run(&sb, t.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = run(&sb, t.path(), &["plan", d, "--detailed-exitcode"]);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before.stderr));
    let out = run(&sb, t.path(), &["state", "show", d]);
    assert!(text(&out.stdout).contains("backend: local files") && text(&out.stdout).contains("5 object(s)"), "{}", text(&out.stdout));

    // Switch to azurerm: reading before the migration refuses instead of
    // planning from an empty ledger.
    std::fs::write(dir.join("state.toml"), state_table(&az, &c)).unwrap();
    let out = run(&sb, t.path(), &["plan", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("state migrate --to azurerm"), "{}", text(&out.stderr));
    let out = run(&sb, t.path(), &["state", "migrate", "--to", "azurerm", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Migrated the ledger (5 object(s))"), "{}", text(&out.stderr));
    // Again: the same ledger is there already, which is fine; a different
    // one is refused without --force.
    let out = run(&sb, t.path(), &["state", "migrate", "--to", "azurerm", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = store(&az, &c);
    let mut other = blob_ledger(&s, &sb).await.unwrap();
    other.resources.remove(&"group.gen-000".parse().unwrap());
    s.put(&ledger_blob(&sb), other.render().into_bytes(), &Condition::None).await.unwrap();
    let out = run(&sb, t.path(), &["state", "migrate", "--to", "azurerm", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already holds a ledger; pass --force"), "{}", text(&out.stderr));
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 4, "nothing was changed");
    let out = run(&sb, t.path(), &["state", "migrate", "--to", "azurerm", d, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = run(&sb, t.path(), &["plan", d, "--detailed-exitcode"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));
    assert_eq!(text(&after.stdout), text(&before.stdout), "the plan is unchanged");
    // The blob is read, not the local file: removing it changes nothing.
    std::fs::remove_file(crate_state_dir(&dir).join(format!("desired-state/graph-url-{}.lock", sb.tenant_id()))).unwrap();
    let after = run(&sb, t.path(), &["plan", d, "--detailed-exitcode"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));

    // show / pull / push; the account key may come in a connection string
    // (its BlobEndpoint is used when [state] has no endpoint).
    let conn = format!("DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={};", az.url);
    let out = tctl(&sb, t.path()).env_remove("AZURE_STORAGE_KEY").env("AZURE_STORAGE_CONNECTION_STRING", conn).args(["state", "show", d]).output().unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains(&format!("backend: azurerm {}/{c}/ci/{}", az.url, sb.tenant_id())) && shown.contains("5 object(s)") && shown.contains("lock:    free"), "{shown}");
    let pulled = t.path().join("pulled.lock");
    let out = run(&sb, t.path(), &["state", "pull", d, "--out", pulled.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut l = Ledger::parse(&std::fs::read_to_string(&pulled).unwrap()).unwrap();
    assert_eq!(l.resources.len(), 5);
    l.resources.remove(&"group.gen-004".parse().unwrap());
    let edited = t.path().join("edited.lock");
    std::fs::write(&edited, l.render()).unwrap();
    let out = run(&sb, t.path(), &["state", "push", edited.to_str().unwrap(), d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 4);
    std::fs::write(&edited, "not a ledger [").unwrap();
    let out = run(&sb, t.path(), &["state", "push", edited.to_str().unwrap(), d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a tenantctl ledger"), "{}", text(&out.stderr));
    let out = run(&sb, t.path(), &["state", "push", pulled.to_str().unwrap(), d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(blob_ledger(&s, &sb).await.unwrap().resources.len(), 5);

    // And back to local.
    let out = run(&sb, t.path(), &["state", "migrate", "--to", "local", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_file(dir.join("state.toml")).unwrap();
    let back = run(&sb, t.path(), &["plan", d, "--detailed-exitcode"]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
    assert_eq!(text(&back.stdout), text(&before.stdout));
    sb.shutdown().await.unwrap();
}

fn side_blob(sb: &sandbox::SandboxHandle, name: &str) -> String {
    format!("ci/{}/{name}", sb.tenant_id())
}

/// A checkout of its own holding `dir`'s files (a fresh CI runner).
fn fresh_checkout(dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("desired-state");
    std::fs::create_dir_all(&d).unwrap();
    for f in ["groups.toml", "state.toml"] {
        std::fs::copy(dir.join(f), d.join(f)).unwrap();
    }
    (t, d)
}

/// The reports of `reconcile --once` in a checkout's history directory.
fn pass_reports(w: &Path) -> Vec<serde_json::Value> {
    let h = w.join(".tenantctl/history");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&h).map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    names.sort();
    names.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_root_delta_state_and_history_survive_a_fresh_checkout_through_the_blob_backend() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let (t, dir) = desired(3, Some(&state_table(&az, &c)));
    let d = dir.to_str().unwrap();
    // The first runner: apply records the trust root, reconcile the delta
    // state and the latest report; all in blobs, none in local files.
    let out = run(&sb, t.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("{}/trust.json", sb.tenant_id())), "the trust root is recorded in its blob: {}", text(&out.stderr));
    let out = run(&sb, t.path(), &["reconcile", d, "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = store(&az, &c);
    for name in ["trust.json", "delta.json", "history-latest.json"] {
        assert!(s.get(&side_blob(&sb, name)).await.unwrap().is_some(), "{name} is kept in the backend");
    }
    let keyed = crate_state_dir(&dir).join(format!("desired-state/graph-url-{}", sb.tenant_id()));
    assert!(!keyed.with_extension("trust.json").exists() && !keyed.with_extension("delta.json").exists(), "no local copies");
    let trust = s.get(&side_blob(&sb, "trust.json")).await.unwrap().unwrap();

    // A fresh checkout (a new CI runner): the trust root is there (no
    // first-use warning), and the quiet pass reads through delta instead
    // of resyncing the whole tenant.
    let (t2, dir2) = fresh_checkout(&dir);
    let d2 = dir2.to_str().unwrap();
    let out = run(&sb, t2.path(), &["plan", d2, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!text(&out.stderr).contains("first use"), "the trust root came from the blob: {}", text(&out.stderr));
    // Its journal stays on the first runner: the fresh runner's first
    // apply journals the trust root it found as `seen`, naming the
    // recording, not as a `first-seen` one (hostile run 21, finding 6).
    let out = run(&sb, t2.path(), &["apply", "--auto-approve", d2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let keyed2 = crate_state_dir(&dir2).join(format!("desired-state/graph-url-{}", sb.tenant_id()));
    let journal = std::fs::read_to_string(keyed2.with_extension("journal.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).filter(|l: &serde_json::Value| l["action"] == "trust-root").collect();
    assert_eq!(lines.len(), 1, "{journal}");
    assert_eq!(lines[0]["outcome"], "seen", "{journal}");
    assert!(lines[0]["note"].as_str().unwrap().contains("recorded on first use at") && lines[0]["note"].as_str().unwrap().contains("new to this runner's journal"), "{journal}");
    assert_eq!(lines[0]["approvers"], serde_json::json!([]), "the backend file's word names no approvers: {journal}");
    let out = run(&sb, t2.path(), &["reconcile", d2, "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let reports = pass_reports(t2.path());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["delta_full_resyncs"], 0, "the delta state came from the blob: {}", reports[0]);

    // pull carries them out, push back in, migrate to local brings them home.
    let pulled = t2.path().join("pulled.lock");
    let out = run(&sb, t2.path(), &["state", "pull", d2, "--out", pulled.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(pulled.with_extension("trust.json")).unwrap(), trust.body);
    assert!(pulled.with_extension("delta.json").exists() && pulled.with_extension("history-latest.json").exists());
    let out = run(&sb, t2.path(), &["state", "push", pulled.to_str().unwrap(), d2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("trust root"), "{}", text(&out.stderr));
    let out = run(&sb, t2.path(), &["state", "migrate", "--to", "local", d2]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let local = crate_state_dir(&dir2).join(format!("desired-state/graph-url-{}", sb.tenant_id()));
    assert_eq!(std::fs::read(local.with_extension("trust.json")).unwrap(), trust.body, "migrate carried the trust root");
    assert!(local.with_extension("delta.json").exists(), "migrate carried the delta state");
    std::fs::remove_file(dir2.join("state.toml")).unwrap();
    let out = run(&sb, t2.path(), &["plan", d2, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!text(&out.stderr).contains("first use"), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_larger_than_the_state_limit_is_refused_not_read() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let (t, dir) = desired(1, Some(&state_table(&az, &c)));
    let d = dir.to_str().unwrap();
    let s = store(&az, &c);
    s.ensure_container().await.unwrap();
    // A corrupt (or hostile) trust root of 64 KiB, over a 16 KiB limit.
    s.put(&side_blob(&sb, "trust.json"), vec![b' '; 64 * 1024], &Condition::None).await.unwrap();
    let out = tctl(&sb, t.path()).env("TENANTCTL_MAX_FILE_BYTES", "16384").args(["plan", d]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("trust.json is larger than 16384 bytes"), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}

/// A loopback proxy in front of Azurite that holds the first request whose
/// bytes contain `needle` until `go` is notified (after telling `hit`).
async fn holding_proxy(upstream: String, needle: String, hit: tokio::sync::mpsc::Sender<()>, go: Arc<tokio::sync::Notify>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/{ACCOUNT}", listener.local_addr().unwrap());
    let up = host_port(&upstream);
    let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (up, needle, hit, go, held) = (up.clone(), needle.clone(), hit.clone(), go.clone(), held.clone());
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&up).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { let _ = tokio::io::copy(&mut sr, &mut cw).await; });
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match cr.read(&mut buf).await { Ok(0) | Err(_) => break, Ok(n) => n };
                    if String::from_utf8_lossy(&buf[..n]).contains(&needle) && !held.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let _ = hit.send(()).await;
                        go.notified().await;
                    }
                    if sw.write_all(&buf[..n]).await.is_err() { break }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_write_to_the_trust_root_blob_is_refused() {
    let az = azurite();
    let c = container();
    let sb = sandbox().await;
    let s = store(&az, &c);
    // The run reads "no trust root" when it plans; its write of one is
    // held at a proxy while another writer records one: the run's write
    // is refused, the other kept.
    let (hit_tx, mut hit) = tokio::sync::mpsc::channel(1);
    let go = Arc::new(tokio::sync::Notify::new());
    let needle = format!("PUT /{ACCOUNT}/{c}/ci/{}/trust.json", sb.tenant_id());
    let proxied = holding_proxy(az.url.clone(), needle, hit_tx, go.clone()).await;
    let table = state_table(&az, &c).replace(&format!("endpoint = \"{}\"", az.url), &format!("endpoint = \"{proxied}\""));
    let (t, dir) = desired(2, Some(&table));
    let d = dir.to_str().unwrap();
    let run1 = spawn(&sb, t.path(), &["apply", "--auto-approve", d]);
    tokio::time::timeout(Duration::from_secs(120), hit.recv()).await.expect("the run writes its trust root").unwrap();
    let intruder = b"{\"written\": \"by another run\"}\n".to_vec();
    s.put(&side_blob(&sb, "trust.json"), intruder.clone(), &Condition::None).await.unwrap();
    go.notify_one();
    let out = wait(run1).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("trust.json") && err.contains("another run changed it since this one read it"), "{err}");
    assert_eq!(s.get(&side_blob(&sb, "trust.json")).await.unwrap().unwrap().body, intruder, "the other write was not overwritten");
    sb.shutdown().await.unwrap();
}

/// `.tenantctl/` beside the desired-state directory.
fn crate_state_dir(dir: &Path) -> PathBuf {
    dir.parent().unwrap().join(".tenantctl")
}
