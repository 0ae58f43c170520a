//! End-to-end tests of the state a run that writes keeps: the state lock
//! (concurrent applies, the holder named, --lock-timeout, stale locks,
//! unlock), recording before moving on (an unwritable ledger or journal),
//! and a no-change apply that fills in a ledger cut short.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;
use engine::Ledger;
use serde_json::Value;

fn read_ledger(work: &Path) -> Ledger {
    Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap()
}

fn journal(work: &Path) -> Vec<Value> {
    std::fs::read_to_string(work.join("tenantctl.journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every declared, unexpired address is in the ledger.
fn assert_complete(dir: &Path, ledger: &Ledger) {
    let state = schema::load(dir).unwrap();
    let now = common::now();
    for a in state.addresses() {
        let expired = match a.kind {
            schema::Kind::Guest => state.guest[&a.key].value.expires <= now,
            schema::Kind::RoleAssignment => state.role_assignment[&a.key].value.expires.is_some_and(|e| e <= now),
            _ => false,
        };
        if !expired {
            assert!(ledger.id(&a).is_some(), "{a} is missing from the ledger");
        }
    }
}

/// The journal and the ledger name the same objects: each ledger entry's
/// object was journaled under its address, and every object the journal
/// says was created for an address is the one the ledger holds.
fn assert_agree(ledger: &Ledger, journal: &[Value]) {
    for (a, e) in &ledger.resources {
        assert!(
            journal.iter().any(|j| j["address"] == a.to_string() && j["object_id"] == e.id.as_str() && j["outcome"] != "failed"),
            "{a} ({}) is in the ledger but not in the journal",
            e.id
        );
    }
    for j in journal.iter().filter(|j| j["action"] == "create" && j["outcome"] != "failed" && j["object_id"].is_string()) {
        let a: schema::Address = j["address"].as_str().unwrap().parse().unwrap();
        assert_eq!(ledger.id(&a), j["object_id"].as_str(), "the journal's create of {a} is not the ledger's object");
    }
}

fn spawn_apply(sb: &sandbox::SandboxHandle, work: &Path, dir: &Path, extra: &[&str]) -> Child {
    command(sb, work)
        .args(["apply", "--auto-approve", dir.to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn wait_all(children: Vec<Child>) -> Vec<Output> {
    tokio::task::spawn_blocking(move || children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()).await.unwrap()
}

/// `text` without the TOML table that starts with `header` (up to the next table).
fn drop_table(text: &str, header: &str) -> String {
    let Some(start) = text.find(header) else { return text.to_string() };
    let end = text[start + header.len()..].find("\n[").map(|e| start + header.len() + e + 1).unwrap_or(text.len());
    format!("{}{}", &text[..start], &text[end..])
}

/// A generated tenant of `groups` groups and `rings` update rings, each
/// ring assigned to a group, needing no approvals.
fn generated_tenant(groups: usize, rings: usize) -> (tempfile::TempDir, PathBuf) {
    let t = scratch_without_approvals();
    let dir = t.path().join("desired-state");
    let ring_template = {
        let text = std::fs::read_to_string(dir.join("update-rings.toml")).unwrap();
        let start = text.find("[update_ring.test]").unwrap();
        let rest = &text[start + 1..];
        let end = rest.find("\n[update_ring.").map(|e| e + 1).unwrap_or(rest.len());
        text[start..start + end].to_string()
    };
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap() != "tenant.toml" {
            std::fs::remove_file(p).unwrap();
        }
    }
    // Only [tenant] and [governance] stay; the Managed Desktop markings and
    // the protected break-glass account name objects this tenant lacks.
    let tenant = std::fs::read_to_string(dir.join("tenant.toml")).unwrap();
    let tenant = drop_table(&tenant, "[governance.managed_desktop]").replace("protected = [\"user.breakglass-1\"]\n", "");
    std::fs::write(dir.join("tenant.toml"), tenant).unwrap();
    let mut g = String::new();
    for i in 0..groups {
        g.push_str(&format!("[group.gen-{i:03}]\ndisplay_name = \"Generated {i:03}\"\nmail_nickname = \"generated-{i:03}\"\n\n"));
    }
    std::fs::write(dir.join("groups.toml"), g).unwrap();
    let mut r = String::new();
    for i in 0..rings {
        let ring = ring_template
            .replace("[update_ring.test]", &format!("[update_ring.gen-{i:03}]"))
            .replace("Modern Workplace Update Policy [Test]", &format!("Generated Ring {i:03}"));
        let ring = ring.lines().filter(|l| !l.trim_start().starts_with("assignments")).collect::<Vec<_>>().join("\n");
        r.push_str(&format!("{ring}\nassignments = {{ include = [\"gen-{:03}\"] }}\n\n", i % groups));
    }
    if rings > 0 {
        std::fs::write(dir.join("update-rings.toml"), r).unwrap();
    }
    let state = schema::load(&dir).unwrap_or_else(|e| panic!("the generated tenant is valid: {e}"));
    assert_eq!(state.addresses().len(), groups + rings);
    (t, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_applies_of_the_example_run_one_at_a_time() {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| f.latency_ms = 2)).unwrap();
    let t = scratch_without_approvals();
    let dir = t.path().join("desired-state");
    let work = tempfile::tempdir().unwrap();
    // They wait for each other: one applies, the others then find nothing to do.
    let children: Vec<Child> = (0..4).map(|_| spawn_apply(&sb, work.path(), &dir, &["--lock-timeout", "5m"])).collect();
    let outs = wait_all(children).await;
    for o in &outs {
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let changed = outs.iter().filter(|o| text(&o.stderr).contains("Applied ") && !text(&o.stderr).contains("Applied 0")).count();
    assert_eq!(changed, 1, "exactly one run made the changes: {:#?}", outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    sb.set_faults(sandbox::Faults::default()).unwrap();
    assert_eq!(duplicates(&client(&sb)).await, Vec::<String>::new());
    let ledger = read_ledger(work.path());
    assert_complete(&dir, &ledger);
    assert_agree(&ledger, &journal(work.path()));
    assert!(!providers::state_lock::LocalLock::for_ledger(&work.path().join("tenantctl.lock")).path().exists(), "the lock is released");
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_applies_of_300_resources_refuse_naming_the_holder() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(200, 100);
    let work = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..4).map(|_| spawn_apply(&sb, work.path(), &dir, &[])).collect();
    let outs = wait_all(children).await;
    let mut applied = 0;
    for o in &outs {
        let err = text(&o.stderr);
        if o.status.success() {
            applied += 1;
        } else {
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(err.contains("another run holds the state lock") && err.contains("`tenantctl apply` (pid ") && err.contains(" on "), "{err}");
        }
    }
    assert!(applied >= 1, "one run applied: {:#?}", outs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    let client = client(&sb);
    assert_eq!(duplicates(&client).await, Vec::<String>::new());
    let ledger = read_ledger(work.path());
    assert_complete(&dir, &ledger);
    assert_eq!(ledger.resources.len(), 300);
    assert_agree(&ledger, &journal(work.path()));
    let groups = client.v1().list_all("/groups?$select=id&$top=999").await.unwrap().len();
    let rings = client.beta().list_all("/deviceManagement/deviceConfigurations?$top=999").await.unwrap().len();
    assert_eq!((groups, rings), (200, 100), "exactly the declared objects exist");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_names_its_holder_waits_is_taken_over_when_stale_and_unlocks() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(2, 0);
    let d = dir.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let lock_path = providers::state_lock::LocalLock::for_ledger(&work.path().join("tenantctl.lock")).path().to_path_buf();
    // A live holder: a process of this host that keeps running.
    let mut sleeper = std::process::Command::new("sleep").arg("120").spawn().unwrap();
    let mut live = providers::state_lock::Holder::this_process("tenantctl apply");
    live.pid = sleeper.id();
    live.start_ticks = std::fs::read_to_string(format!("/proc/{}/stat", live.pid))
        .ok()
        .and_then(|s| s[s.rfind(')').unwrap() + 1..].split_whitespace().nth(19).and_then(|x| x.parse().ok()));
    std::fs::write(&lock_path, serde_json::to_string(&live).unwrap()).unwrap();

    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("`tenantctl apply` (pid {} on {}, since {})", live.pid, live.host, live.since)), "{err}");
    assert!(err.contains("tenantctl unlock"), "{err}");
    assert!(!work.path().join("tenantctl.lock").exists(), "nothing was applied");

    // --lock-timeout waits, then fails, still naming the holder.
    let started = std::time::Instant::now();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d, "--lock-timeout", "2s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    assert!(text(&out.stderr).contains(&format!("pid {}", live.pid)), "{}", text(&out.stderr));

    // A holder that lets go while another waits: the waiter goes on.
    let waiter = spawn_apply(&sb, work.path(), &dir, &["--lock-timeout", "60s"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::remove_file(&lock_path).unwrap();
    let out = wait_all(vec![waiter]).await.remove(0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_ledger(work.path()).resources.len(), 2);

    // The holder dies: its lock is stale and taken over, saying so.
    std::fs::write(&lock_path, serde_json::to_string(&live).unwrap()).unwrap();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("Took over the state lock left by `tenantctl apply` (pid {}", live.pid)), "{}", text(&out.stderr));
    assert!(!lock_path.exists(), "released at the end");

    // A lock from another host is never judged from here: `unlock` removes
    // it, only with --yes.
    let remote = providers::state_lock::Holder { host: "ci-runner-7".into(), pid: 4242, ..live.clone() };
    std::fs::write(&lock_path, serde_json::to_string(&remote).unwrap()).unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(text(&out.stderr).contains("pid 4242 on ci-runner-7"), "{}", text(&out.stderr));
    let ledger_flag = work.path().join("tenantctl.lock");
    let out = cli(&sb, work.path(), &["unlock", d, "--ledger", ledger_flag.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--yes") && lock_path.exists(), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["unlock", d, "--ledger", ledger_flag.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pid 4242 on ci-runner-7") && !lock_path.exists(), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The same lock committed to git (a pull request, a stray `git add
    // -A`) came with the checkout, not from a run: taken over, with a
    // warning (hostile run 23, finding 11).
    let git = |args: &[&str]| Command::new("git").arg("-C").arg(work.path()).args(args).env("GIT_AUTHOR_NAME", "t").env("GIT_AUTHOR_EMAIL", "t@example.com").env("GIT_COMMITTER_NAME", "t").env("GIT_COMMITTER_EMAIL", "t@example.com").output().unwrap();
    assert!(git(&["init", "-q"]).status.success());
    std::fs::write(&lock_path, serde_json::to_string(&remote).unwrap()).unwrap();
    assert!(git(&["add", "-f", lock_path.to_str().unwrap()]).status.success());
    assert!(git(&["commit", "-q", "-m", "a stray lock"]).status.success());
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("committed to git") && text(&out.stderr).contains("Took over the state lock left by"), "{}", text(&out.stderr));
    // A live lock written over that tracked path by a run on another host
    // differs from the commit: it is not taken over (hostile run 24,
    // finding 2).
    let other = providers::state_lock::Holder { host: "ci-runner-8".into(), pid: 4343, ..live.clone() };
    std::fs::write(&lock_path, serde_json::to_string(&other).unwrap()).unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("pid 4343 on ci-runner-8") && lock_path.exists(), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_stops_before_changing_anything_when_the_ledger_cannot_be_written() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(3, 0);
    let work = tempfile::tempdir().unwrap();
    // The ledger's folder cannot be made: a file stands in its way.
    std::fs::write(work.path().join("blocked"), "").unwrap();
    let ledger = work.path().join("blocked/state/tenantctl.lock");
    let out = command(&sb, work.path()).env("TENANTCTL_LEDGER", &ledger).args(["apply", "--auto-approve", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("blocked/state"), "{}", text(&out.stderr));
    // The journal cannot be opened (a folder has its name).
    std::fs::create_dir_all(work.path().join("tenantctl.journal.jsonl")).unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("before changing anything") && err.contains("tenantctl.journal.jsonl"), "{err}");
    let groups = client(&sb).v1().list_all("/groups?$select=id").await.unwrap();
    assert!(groups.is_empty(), "nothing was created: {groups:?}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_cannot_be_journaled_stops_the_run_naming_it() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(6, 0);
    let work = tempfile::tempdir().unwrap();
    // The trust root is recorded (and journalled) beforehand: a first apply
    // would journal its first-use recording before any change, and refuse
    // there, before changing anything, when that cannot be written.
    let out = cli(&sb, work.path(), &["governance", "adopt", dir.to_str().unwrap(), "--reason", "test setup"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every write to the journal fails, as on a full disk. (A link to
    // /dev/full no longer works: state files are never written through links.)
    let out = command(&sb, work.path())
        .env("TENANTCTL_TEST_JOURNAL_FULL", "1")
        .args(["apply", "--auto-approve", "--concurrency", "1", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("stopped: create group.gen-000") && err.contains("5 change(s) after it were not started"), "{err}");
    // Only the change named reached the tenant. It could not be journaled,
    // so the ledger does not claim it; it records that a create was sent.
    let groups = client(&sb).v1().list_all("/groups?$select=id,mailNickname").await.unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let made = groups[0]["id"].as_str().unwrap().to_string();
    let ledger = read_ledger(work.path());
    let gen0: schema::Address = "group.gen-000".parse().unwrap();
    assert_eq!(ledger.id(&gen0), None);
    assert!(ledger.pending.contains_key(&gen0), "{ledger:?}");
    // With a journal again, the next apply adopts it (journaled) and
    // finishes the rest, with no duplicate.
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ledger = read_ledger(work.path());
    assert_eq!(ledger.resources.len(), 6);
    assert_eq!(ledger.id(&gen0), Some(made.as_str()));
    assert!(ledger.pending.is_empty());
    assert_eq!(client(&sb).v1().list_all("/groups?$select=id").await.unwrap().len(), 6);
    assert_agree(&ledger, &journal(work.path()));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_apply_fills_in_a_ledger_cut_short() {
    let sb = sandbox().await;
    let t = scratch_without_approvals();
    let dir = t.path().join("desired-state");
    let d = dir.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let full = read_ledger(work.path());
    assert!(full.resources.len() >= 20, "{}", full.resources.len());
    // Cut the ledger to 10 entries.
    let mut cut = full.clone();
    let keep: BTreeSet<schema::Address> = full.resources.keys().take(10).cloned().collect();
    cut.resources.retain(|a, _| keep.contains(a));
    std::fs::write(work.path().join("tenantctl.lock"), cut.render()).unwrap();
    // The cut ledger no longer matches the seal the first apply recorded
    // in the tenant (gov10): what its kept entries record is shown again
    // (approvals_required = 0 here), and the apply seals the result.
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the ledger does not match the seal the tenant records"), "{}", text(&out.stderr));
    // (Controls whose approved record the cut ledger no longer proves are
    // reviewed whole, gov14: updates that send nothing, never creates.)
    assert!(!text(&out.stdout).contains(" to create") && !text(&out.stdout).lines().any(|l| l.trim_start().starts_with("+ ")), "nothing is created again: {}", text(&out.stdout));
    let again = cli(&sb, work.path(), &["plan", "--detailed-exitcode", d]);
    assert_eq!(again.status.code(), Some(0), "sealed again, in sync: {}{}", text(&again.stdout), text(&again.stderr));
    let refilled = read_ledger(work.path());
    let ids = |l: &Ledger| l.resources.iter().map(|(a, e)| (a.clone(), e.id.clone())).collect::<BTreeMap<_, _>>();
    assert_eq!(ids(&refilled), ids(&full), "the no-change apply recorded every natural-key match");
    // Each adoption is journaled: matched by natural key, or (a control or
    // grant whose cut record proves no approval, gov14) ratified.
    let ratified = |j: &serde_json::Value| j["action"] == "update" && j["note"].as_str().unwrap_or_default().contains("recorded as approved in the ledger");
    let adopted: BTreeSet<String> = journal(work.path()).iter().filter(|j| j["action"] == "adopt" || ratified(j)).map(|j| j["address"].as_str().unwrap().to_string()).filter(|a| !keep.contains(&a.parse().unwrap())).collect();
    assert_eq!(adopted.len(), full.resources.len() - 10, "{adopted:?}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_id_that_does_not_answer_yet_is_waited_for_not_created_again() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(2, 0);
    let state = schema::load(&dir).unwrap();
    let desired = providers::kinds::desired_model(&state);
    let client = client(&sb);
    sb.set_faults(faults(|f| f.replication_lag_ms = 1_500)).unwrap();
    // A run created group.gen-000, recorded it, and was killed.
    let made = client
        .v1()
        .post_json("/groups", serde_json::json!({"displayName": "Generated 000", "mailNickname": "generated-000", "mailEnabled": false, "securityEnabled": true}))
        .await
        .unwrap();
    let id = made.body.unwrap()["id"].as_str().unwrap().to_string();
    let mut ledger = Ledger::default();
    let now = common::now().to_rfc3339();
    ledger.record("group.gen-000".parse().unwrap(), id.clone(), None, Some(now.clone()));
    // Read at once, it is not there: planning now would forget and create it.
    let observed = providers::observe::observe(&client, &desired, &ledger).await.unwrap();
    let naive = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    assert!(naive.changes.iter().any(|c| c.address.to_string() == "group.gen-000" && c.action == engine::Action::Create), "the lag is visible");
    // Waited for within the replication window, it is matched.
    let (observed, settled) = providers::settle::observe_settled(&client, &desired, &ledger, None, Duration::from_secs(10)).await.unwrap();
    assert_eq!(settled.appeared, vec![("group.gen-000".parse().unwrap(), id.clone())]);
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    assert!(!p.changes.iter().any(|c| c.address.to_string() == "group.gen-000"), "{:?}", p.changes);
    assert_eq!(p.ids[&"group.gen-000".parse().unwrap()], id);
    // A create started but never recorded (killed mid-request) is waited
    // out too, then found by its natural key.
    let made = client
        .v1()
        .post_json("/groups", serde_json::json!({"displayName": "Generated 001", "mailNickname": "generated-001", "mailEnabled": false, "securityEnabled": true}))
        .await
        .unwrap();
    let id1 = made.body.unwrap()["id"].as_str().unwrap().to_string();
    ledger.pending.insert("group.gen-001".parse().unwrap(), common::now().to_rfc3339());
    let (observed, settled) = providers::settle::observe_settled(&client, &desired, &ledger, None, Duration::from_secs(3)).await.unwrap();
    assert_eq!(settled.pending, vec!["group.gen-001".parse().unwrap()]);
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    assert_eq!(p.ids.get(&"group.gen-001".parse().unwrap()), Some(&id1), "{:?}", p.changes);
    // A ledger id gone for longer than the window is not waited for.
    let mut stale = Ledger::default();
    stale.record("group.gen-000".parse().unwrap(), "00000000-0000-0000-0000-00000000dead".into(), None, Some("2026-01-01T00:00:00Z".into()));
    let started = std::time::Instant::now();
    let (_, settled) = providers::settle::observe_settled(&client, &desired, &stale, None, Duration::from_secs(30)).await.unwrap();
    assert_eq!(settled.gone.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(20), "no wait for what is long gone");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_export_and_self_heal_wait_for_the_lock_too() {
    let sb = sandbox().await;
    let (_t, dir) = generated_tenant(2, 0);
    let d = dir.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let lock_path = providers::state_lock::LocalLock::for_ledger(&work.path().join("tenantctl.lock")).path().to_path_buf();
    // Another host's run holds the lock.
    let other = providers::state_lock::Holder { host: "ci-runner-7".into(), pid: 4242, ..providers::state_lock::Holder::this_process("tenantctl apply") };
    std::fs::write(&lock_path, serde_json::to_string(&other).unwrap()).unwrap();
    let held = |o: &Output| text(&o.stderr).contains("another run holds the state lock") && text(&o.stderr).contains("pid 4242 on ci-runner-7");
    let out = cli(&sb, work.path(), &["import", "group.gen-000", "00000000-0000-0000-0000-000000000001", "--dir", d]);
    assert!(out.status.code() == Some(1) && held(&out), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["reconcile", d, "--once", "--self-heal"]);
    assert!(out.status.code() == Some(1) && held(&out), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["export", "--out", work.path().join("exported").to_str().unwrap()]);
    assert!(out.status.code() == Some(1) && held(&out), "{}", text(&out.stderr));
    // Drift detection alone writes nothing and needs no lock.
    let out = cli(&sb, work.path(), &["reconcile", d, "--once"]);
    assert!(!held(&out), "{}", text(&out.stderr));
    assert!(!work.path().join("tenantctl.lock").exists(), "nothing wrote the ledger");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_to_a_graph_url_creates_the_missing_state_folder_for_its_ledger() {
    let sb = sandbox().await;
    let (t, dir) = generated_tenant(2, 0);
    let state_dir = t.path().join(".tenantctl");
    assert!(!state_dir.exists());
    let out = command(&sb, t.path()).env_remove("TENANTCTL_LEDGER").args(["apply", "--auto-approve", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Keyed by the directory and the tenant.
    let keyed = state_dir.join(format!("desired-state/graph-url-{}", sb.tenant_id()));
    let ledger = Ledger::parse(&std::fs::read_to_string(keyed.with_extension("lock")).unwrap()).unwrap();
    assert_eq!(ledger.resources.len(), 2);
    assert_eq!(std::fs::read_to_string(keyed.with_extension("journal.jsonl")).unwrap().lines().filter(|l| l.contains("\"applied\"")).count(), 2);
    sb.shutdown().await.unwrap();
}
