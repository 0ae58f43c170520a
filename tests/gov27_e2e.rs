//! gov27 (issue 12, hostile run 29, finding 1), through the binary
//! against the sandbox: a marker write built from a stale read and landing
//! late (a runner stalled between its read and its write, held here by
//! `TENANTCTL_TEST_PAUSE_BEFORE_MARKER_WRITE`) no longer rolls the trust
//! root back, says what it may have replaced, and the run whose claim and
//! seal it replaced puts them back at its end-of-run re-check.
//! * (a) repro 2: a slow claim of an unrelated plan landing after an
//!   approved [governance] change leaves the new approvers in force, and
//!   the runner holding the old trust root sees the newer one.
//! * (b) repro 1: a slow claim landing after another run's apply: the
//!   other run's claim and seal are put back by that run's re-check.
//! * (c) a marker from before gov27 (the trust root in the one extension)
//!   is read as before and migrates at the next recording.
//! * (d) the sandbox refuses a third open extension on the organization.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::gov::{append, approved_plan, edit_file, graph, keyed_example, keygen, run, Keyed};
use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

const HOLD_WRITE: &str = "TENANTCTL_TEST_PAUSE_BEFORE_MARKER_WRITE";
const HOLD_RECHECK: &str = "TENANTCTL_TEST_PAUSE_BEFORE_MARKER_RECHECK";
const FACTS: &str = "com.tenantctl.governance";
const TRUST: &str = "com.tenantctl.governance.trust";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// `from` copied into `to`, whole (a second CI runner's checkout).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("created");
    for e in std::fs::read_dir(from).expect("read") {
        let e = e.expect("an entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("a type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copied");
        }
    }
}

async fn org(sb: &SandboxHandle) -> String {
    graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an id").to_string()
}

async fn extension(sb: &SandboxHandle, name: &str) -> Value {
    let org = org(sb).await;
    graph(sb, Method::GET, &format!("/v1.0/organization/{org}/extensions/{name}"), None).await
}

/// The marker as tenantctl reads it (both extensions).
async fn marker(sb: &SandboxHandle) -> providers::tenant_marker::Marker {
    let org = org(sb).await;
    let list = graph(sb, Method::GET, &format!("/v1.0/organization/{org}/extensions"), None).await;
    providers::tenant_marker::from_extensions(list["value"].as_array().expect("a list")).expect("a marker")
}

/// A plan of the desired state in `work` saved to `out` there, written by
/// `keyed`'s author and approved by alice and bob (a second runner's
/// checkout: [`approved_plan`] plans in `keyed.work`).
fn approved_in(sb: &SandboxHandle, keyed: &Keyed, work: &Path, out: &str) {
    let k = keyed.keys.path();
    let dir = work.join("desired-state");
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(sb, work, &["plan", d(&dir), "--out", out, "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(sb, work, &["approve", out, "--key", &key(who), "--dir", d(&dir)]);
        assert_eq!(code, Some(0), "{o}");
    }
}

/// The tag the marker records for the saved plan `work/file`.
fn tag_of(work: &Path, file: &str) -> String {
    let p: engine::Plan = serde_json::from_str(&std::fs::read_to_string(work.join(file)).expect("the plan")).expect("a plan");
    providers::tenant_marker::plan_tag(&p.hash()).expect("a tag")
}

/// `apply PLAN` in `work`, in the background, with `env` set; its output
/// goes to `work/NAME.out`.
fn spawn(sb: &SandboxHandle, work: &Path, plan: &str, name: &str, env: &[(&str, &Path)]) -> (Child, PathBuf) {
    let out = work.join(format!("{name}.out"));
    let mut c = command(sb, work);
    c.args(["apply", plan, "--dir", d(&work.join("desired-state")), "--auto-approve"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.stdout(Stdio::from(std::fs::File::create(work.join(format!("{name}.stdout"))).expect("created"))).stderr(std::fs::File::create(&out).expect("created")).spawn().expect("tenantctl runs");
    (child, out)
}

fn output(path: &Path) -> String {
    let stdout = path.with_extension("stdout");
    format!("{}{}", std::fs::read_to_string(stdout).unwrap_or_default(), std::fs::read_to_string(path).unwrap_or_default())
}

/// Wait until `child`'s output holds `what` (it must not end first).
async fn until(child: &mut Child, out: &Path, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !output(out).contains(what) {
        assert!(std::time::Instant::now() < deadline, "never reached {what:?}:\n{}", output(out));
        assert!(child.try_wait().expect("waited").is_none(), "ended before {what:?}:\n{}", output(out));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The example with its governance recorded by a first approved apply;
/// a second runner's checkout of it (`runner2`).
async fn two_runners(sb: &SandboxHandle) -> (Keyed, tempfile::TempDir, PathBuf) {
    let keyed = keyed_example(sb);
    let w = keyed.work.path();
    approved_plan(sb, &keyed, "first.json");
    let (code, o) = run(sb, w, &["apply", "first.json", "--dir", d(&w.join("desired-state")), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    let second = tempfile::tempdir().expect("a temporary directory");
    let w2 = second.path().join("runner2");
    copy_dir(w, &w2);
    (keyed, second, w2)
}

/// (a) Repro 2: runner C's claim of an unrelated plan is read, then held;
/// runner B applies an approved [governance] change replacing bob's key
/// with dave's; C's claim lands after it. The trust root stays B's (dave
/// in force, bob's key gone); C says its slow write may have replaced
/// other runs' facts, naming the window; C, holding the old trust root,
/// sees the newer one; B is not locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_claim_landing_after_an_approved_governance_change_does_not_roll_the_trust_root_back() {
    let sb = sandbox().await;
    let (keyed, _second, w2) = two_runners(&sb).await;
    let w = keyed.work.path();
    let before = marker(&sb).await;
    assert_eq!(before.trust_seq, Some(1), "the first recording: {before:?}");
    append(&w2.join("desired-state"), "groups.toml", "\n[group.gov27-c]\ndisplay_name = \"gov27 c\"\nmail_nickname = \"gov27-c\"\n");
    approved_in(&sb, &keyed, &w2, "p3.json");
    let dave = keygen(&sb, keyed.keys.path(), "dave");
    edit_file(&w.join("desired-state"), "tenant.toml", |t| t.replace(&keyed.bob, &dave));
    approved_plan(&sb, &keyed, "pg.json");

    let gate = w2.join("gate");
    let (mut c, c_out) = spawn(&sb, &w2, "p3.json", "c", &[(HOLD_WRITE, &gate)]);
    until(&mut c, &c_out, &format!("({HOLD_WRITE})")).await;
    let (code, b) = run(&sb, w, &["apply", "pg.json", "--dir", d(&w.join("desired-state")), "--auto-approve"]);
    assert_eq!(code, Some(0), "B applies the approved [governance] change: {b}");
    let recorded = marker(&sb).await;
    // B's plan changes [governance] only (no claim, no wait): C is held
    // past the claim's bound (the window is 3 s in these tests).
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    std::fs::write(&gate, "go").expect("C's write goes");
    let code = c.wait().expect("waited").code();
    let co = output(&c_out);
    assert_eq!(code, Some(1), "C's claim was slow: it refuses, keeping its claim:\n{co}");
    assert!(co.contains("may have been replaced by this write") && co.contains(" between ") && co.contains("this run's claim of approved plan"), "C says what its slow write may have replaced, and when:\n{co}");

    let after = marker(&sb).await;
    let trust = extension(&sb, TRUST).await;
    assert_eq!(after.fingerprint, recorded.fingerprint, "the trust root B recorded stays: {trust:#}");
    assert_ne!(after.fingerprint, before.fingerprint);
    assert_eq!(after.trust_seq, Some(2), "{trust:#}");
    assert_eq!(after.trust_replaced.as_deref(), Some(before.fingerprint.as_str()), "{trust:#}");
    let keys = trust["approverKeys"].as_str().expect("approver keys");
    assert!(keys.contains(&dave) && !keys.contains(&keyed.bob), "dave in force, bob's key gone: {keys}");
    // The claims' extension carries no trust field C could have written.
    assert!(extension(&sb, FACTS).await.get("trustFingerprint").is_none());
    // C's runner, holding the old trust root, sees the newer one in force.
    let (code, cp) = run(&sb, &w2, &["plan", d(&w2.join("desired-state"))]);
    assert_eq!(code, Some(1), "{cp}");
    assert!(cp.contains("a newer one") && cp.contains("sequence 2") && cp.contains("sequence 1"), "{cp}");
    // B's runner is not locked out by C's write.
    let (code, bp) = run(&sb, w, &["plan", d(&w.join("desired-state"))]);
    assert_eq!(code, Some(0), "{bp}");
    assert!(!bp.contains("does not match the governance marker") && !bp.contains("rolled back"), "{bp}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// (b) Repro 1: runner A's claim is read, then held; runner B applies
/// another approved plan (claim, create, seal) and waits before its
/// end-of-run re-check; A's claim lands (replacing B's claim and seal,
/// which it had not read) and A says so; B's re-check finds both gone and
/// puts them back. After: both claims are recorded, and B's ledger is
/// proven (planned in sync, no seal warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_claim_landing_after_another_apply_is_said_and_the_other_run_puts_its_claim_and_seal_back() {
    let sb = sandbox().await;
    let (keyed, _second, w2) = two_runners(&sb).await;
    let w = keyed.work.path();
    append(&w2.join("desired-state"), "groups.toml", "\n[group.gov27-a]\ndisplay_name = \"gov27 a\"\nmail_nickname = \"gov27-a\"\n");
    approved_in(&sb, &keyed, &w2, "pa.json");
    append(&w.join("desired-state"), "groups.toml", "\n[group.gov27-b]\ndisplay_name = \"gov27 b\"\nmail_nickname = \"gov27-b\"\n");
    approved_plan(&sb, &keyed, "pb.json");

    let (gate_a, gate_b) = (w2.join("gate"), w.join("gate"));
    let (mut a, a_out) = spawn(&sb, &w2, "pa.json", "a", &[(HOLD_WRITE, &gate_a)]);
    until(&mut a, &a_out, &format!("({HOLD_WRITE})")).await;
    let (mut b, b_out) = spawn(&sb, w, "pb.json", "b", &[(HOLD_RECHECK, &gate_b)]);
    until(&mut b, &b_out, &format!("({HOLD_RECHECK})")).await;
    let sealed = marker(&sb).await;
    let tag_b = tag_of(w, "pb.json");
    assert!(sealed.applied_plans.iter().any(|e| e.starts_with(&tag_b)), "B's claim before A's write: {sealed:?}");
    std::fs::write(&gate_a, "go").expect("A's write goes");
    let code = a.wait().expect("waited").code();
    let ao = output(&a_out);
    assert_eq!(code, Some(1), "{ao}");
    assert!(ao.contains("may have been replaced by this write") && ao.contains(" between "), "A names the window of its slow write:\n{ao}");
    let replaced = marker(&sb).await;
    assert!(!replaced.applied_plans.iter().any(|e| e.starts_with(&tag_b)), "A's stale write replaced B's claim (what B's re-check is for): {replaced:?}");
    std::fs::write(&gate_b, "go").expect("B's re-check goes");
    let code = b.wait().expect("waited").code();
    let bo = output(&b_out);
    assert_eq!(code, Some(0), "{bo}");
    assert!(bo.contains("no longer held the claim of its approved plan") && bo.contains("its ledger's seal") && bo.contains("put back now"), "B finds its claim and seal gone and puts them back:\n{bo}");

    let after = marker(&sb).await;
    let tag_a = tag_of(&w2, "pa.json");
    assert!(after.applied_plans.iter().any(|e| e.starts_with(&tag_b)), "B's claim: {after:?}");
    assert!(after.applied_plans.iter().any(|e| e.starts_with(&tag_a)), "A's claim kept (fail closed): {after:?}");
    let (code, bp) = run(&sb, w, &["plan", d(&w.join("desired-state")), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "B's ledger is proven and in sync: {bp}");
    assert!(!bp.contains("does not match the seal"), "{bp}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// (c) A marker from before gov27: the trust root's fields in the one
/// extension, no trust extension. Planned as before; the next recording
/// (an approved [governance] change) writes the trust extension (sequence
/// 1, replacing the legacy fingerprint), and the claims' extension loses
/// its trust fields, keeping its facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_from_before_gov27_is_read_and_migrates_at_the_next_recording() {
    let sb = sandbox().await;
    let keyed = keyed_example(&sb);
    let w = keyed.work.path();
    let dir = w.join("desired-state");
    approved_plan(&sb, &keyed, "first.json");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    // As an older tenantctl left it: one extension, trust fields in it.
    let org = org(&sb).await;
    let trust = extension(&sb, TRUST).await;
    let mut facts = extension(&sb, FACTS).await;
    let f = facts.as_object_mut().expect("an object");
    f.retain(|k, _| k != "id" && !k.starts_with("@odata.context"));
    f.insert("@odata.type".into(), json!("microsoft.graph.openTypeExtension"));
    for k in ["trustFingerprint", "recordedAt", "recordedBy", "approverKeys", "authorKeys", "approvalsRequired"] {
        f.insert(k.into(), trust[k].clone());
    }
    graph(&sb, Method::PATCH, &format!("/v1.0/organization/{org}/extensions/{FACTS}"), Some(facts)).await;
    let (status, _) = raw(&sb, Method::DELETE, &format!("/v1.0/organization/{org}/extensions/{TRUST}"), None).await;
    assert_eq!(status, 204);
    let legacy = marker(&sb).await;
    assert_eq!(legacy.trust_seq, None);
    assert_eq!(legacy.fingerprint, trust["trustFingerprint"].as_str().expect("a fingerprint"));

    let (code, o) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the legacy marker reads as before: {o}");
    let dave = keygen(&sb, keyed.keys.path(), "dave");
    edit_file(&dir, "tenant.toml", |t| t.replace(&keyed.bob, &dave));
    approved_plan(&sb, &keyed, "pg.json");
    let (code, o) = run(&sb, w, &["apply", "pg.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");

    let migrated = extension(&sb, TRUST).await;
    assert_eq!(migrated["trustSeq"], "1", "{migrated:#}");
    assert_eq!(migrated["replacedFingerprint"], trust["trustFingerprint"], "{migrated:#}");
    assert!(migrated["approverKeys"].as_str().is_some_and(|k| k.contains(&dave) && !k.contains(&keyed.bob)), "{migrated:#}");
    let facts = extension(&sb, FACTS).await;
    assert!(facts.get("trustFingerprint").is_none() && facts.get("approverKeys").is_none(), "the claims' extension keeps no trust field: {facts:#}");
    assert!(facts["appliedPlans"].as_str().is_some_and(|p| p.contains(&tag_of(w, "first.json"))), "the facts are kept: {facts:#}");
    let (code, o) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{o}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A Graph call straight to the sandbox: its status and body.
async fn raw(sb: &SandboxHandle, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("the sandbox answers");
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// (d) Graph allows two open extensions per app on one directory object:
/// the sandbox refuses a third, and tenantctl's marker is two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_a_third_open_extension_and_the_marker_takes_two() {
    let sb = sandbox().await;
    let org = org(&sb).await;
    let path = format!("/v1.0/organization/{org}/extensions");
    let ext = |n: &str| json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": n, "x": "1"});
    for n in ["com.example.one", "com.example.two"] {
        let (status, body) = raw(&sb, Method::POST, &path, Some(ext(n))).await;
        assert_eq!(status, 201, "{body:#}");
    }
    let (status, body) = raw(&sb, Method::POST, &path, Some(ext("com.example.three"))).await;
    assert_eq!(status, 400, "{body:#}");
    assert!(body.to_string().contains("at most 2 open extensions"), "{body:#}");
    assert_eq!(graph(&sb, Method::GET, &path, None).await["value"].as_array().map(Vec::len), Some(2));
    for n in ["com.example.one", "com.example.two"] {
        assert_eq!(raw(&sb, Method::DELETE, &format!("{path}/{n}"), None).await.0, 204);
    }
    // tenantctl's marker: the claims' extension and the trust root's.
    let keyed = keyed_example(&sb);
    let w = keyed.work.path();
    approved_plan(&sb, &keyed, "first.json");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d(&w.join("desired-state")), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    let mut names: Vec<String> = graph(&sb, Method::GET, &path, None).await["value"].as_array().expect("a list").iter().map(|e| e["extensionName"].as_str().unwrap_or_default().to_string()).collect();
    names.sort();
    assert_eq!(names, vec![FACTS.to_string(), TRUST.to_string()]);
    sb.shutdown().await.expect("the sandbox stops");
}

/// A trust extension put back to an older recording (what a second
/// recording answered late, or a write of it from an old read, leaves):
/// the runner whose recording it replaced is told the tenant's trust root
/// was rolled back, naming both sequences, and refuses; nothing is put
/// back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_trust_root_is_named_as_such_by_the_runner_that_recorded_the_newer_one() {
    let sb = sandbox().await;
    let (keyed, _second, _w2) = two_runners(&sb).await;
    let w = keyed.work.path();
    let dir = w.join("desired-state");
    let org = org(&sb).await;
    let mut old = extension(&sb, TRUST).await;
    let dave = keygen(&sb, keyed.keys.path(), "dave");
    edit_file(&dir, "tenant.toml", |t| t.replace(&keyed.bob, &dave));
    approved_plan(&sb, &keyed, "pg.json");
    let (code, o) = run(&sb, w, &["apply", "pg.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    assert_eq!(extension(&sb, TRUST).await["trustSeq"], "2");
    let o = old.as_object_mut().expect("an object");
    o.retain(|k, _| k != "id" && !k.starts_with("@odata.context"));
    o.insert("@odata.type".into(), json!("microsoft.graph.openTypeExtension"));
    graph(&sb, Method::PATCH, &format!("/v1.0/organization/{org}/extensions/{TRUST}"), Some(old)).await;
    let (code, o) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{o}");
    assert!(o.contains("the tenant's trust root was rolled back") && o.contains("as sequence 2") && o.contains("now records sequence 1"), "{o}");
    assert_eq!(extension(&sb, TRUST).await["trustSeq"], "1", "not put back by itself");
    sb.shutdown().await.expect("the sandbox stops");
}
