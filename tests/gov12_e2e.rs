//! Issue 12 (gov12), through the binary: desired state is judged against
//! what was last approved (the sealed ledger), not only against the
//! tenant (hostile run 18, findings 1, 2 and 4).
//! * A portal loosening that a pull request then declares (an MFA
//!   exclusion, a member of a protected group) is a sensitive
//!   ratification, not "no changes"; applying it sends nothing to Graph
//!   and records the new approved state; reconcile holds it.
//! * A setting desired state stops declaring (BitLocker) is a planned,
//!   sensitive change ("no longer managed; live true").
//! * A resealing apply keeps `applied` of what it found in sync, and a
//!   kill between the seal and the compaction leaves a sealed ledger.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

const CA: &str = "conditional_access.require-mfa";
const ADMINS: &str = "group.intune-admins";
const BASELINE: &str = "compliance_policy.windows-baseline";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

async fn org(sb: &SandboxHandle) -> String {
    graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an organization id").to_string()
}

async fn seal_of(sb: &SandboxHandle) -> Option<String> {
    let org = org(sb).await;
    graph(sb, Method::GET, &format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance"), None).await["ledgerSeal"].as_str().map(str::to_string)
}

/// [`sealed_keyed`] of the shared set-up, with the seal checked against
/// the ledger as this test reads it.
async fn sealed_keyed_checked(sb: &SandboxHandle) -> (Keyed, PathBuf) {
    let (keyed, dir) = sealed_keyed(sb).await;
    let w = keyed.work.path().to_path_buf();
    assert_eq!(seal_of(sb).await.as_deref(), Some(engine::ledger_seal::digest(&ledger_of(&w), &org(sb).await).as_str()), "sealed");
    (keyed, dir)
}

/// The example needing no approvals, converged, adopted and sealed.
async fn sealed_unattended(sb: &SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let (work, dir) = converged(sb, |dir| {
        edit_file(dir, "tenant.toml", |t| t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of the ledger's records, not of approval\""))
    })
    .await;
    let (code, out) = run(sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(seal_of(sb).await.as_deref(), Some(engine::ledger_seal::digest(&ledger_of(work.path()), &org(sb).await).as_str()), "sealed");
    (work, dir)
}

fn json_plan(sb: &SandboxHandle, w: &Path, dir: &Path) -> engine::Plan {
    let o = cli(sb, w, &["plan", d(dir), "--format", "json"]);
    serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)))
}

fn applied_of(w: &Path, address: &str) -> Option<String> {
    ledger_of(w).resources[&address.parse().expect("an address")].applied.clone()
}

/// Finding 1: the portal excludes Adele from "Require MFA" and adds Megan
/// to the protected, role-assignable Intune admins group; a pull request
/// then declares both. The plan shows both as sensitive ratifications;
/// apply without approvals and reconcile hold them; the approved plan
/// records them without writing to Graph, and the tenant re-plans empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_loosening_declared_by_a_pull_request_is_a_sensitive_ratification() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_checked(&sb).await;
    let w = keyed.work.path();
    let ca = ledger_id(w, CA);
    let (adele, megan, admins) = (ledger_id(w, "user.adele"), ledger_id(w, "user.megan"), ledger_id(w, ADMINS));
    let live = graph(&sb, Method::GET, &format!("/v1.0/identity/conditionalAccess/policies/{ca}"), None).await;
    let mut conditions = live["conditions"].clone();
    conditions["users"]["excludeUsers"].as_array_mut().expect("a list").push(json!(adele));
    graph(&sb, Method::PATCH, &format!("/v1.0/identity/conditionalAccess/policies/{ca}"), Some(json!({"conditions": conditions}))).await;
    add_member(&sb, &admins, &megan).await;
    let approved_ca = applied_of(w, CA).expect("an approved record");

    edit_file(&dir, "conditional-access.toml", |t| t.replacen("exclude_users = [\"breakglass-1\"]", "exclude_users = [\"breakglass-1\", \"adele\"]", 1));
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"adele\"]\nowners = [\"adele\"]\nprotected = true", "members = [\"adele\", \"megan\"]\nowners = [\"adele\"]\nprotected = true"));

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "a change, not `no changes`: {out}");
    assert!(out.contains(&format!("~ {CA}")) && out.contains(&format!("~ {ADMINS}")), "{out}");
    assert!(out.contains("desired state moves from what was last approved (conditions); the tenant already has it, out of band"), "{out}");
    assert!(out.contains("desired state moves from what was last approved (members)"), "{out}");
    assert!(out.contains("nothing is sent to Graph"), "{out}");
    let p = json_plan(&sb, w, &dir);
    for a in [CA, ADMINS] {
        assert!(p.sensitive.contains_key(&a.parse().expect("an address")), "{a}: {:#?}", p.sensitive);
    }

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "needs the approvers: {out}");
    assert!(out.contains(&format!("{CA}:")) && out.contains(&format!("{ADMINS}:")), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("held: update {CA}")) && out.contains(&format!("held: update {ADMINS}")), "never unattended: {out}");
    assert_eq!(applied_of(w, CA).as_deref(), Some(approved_ca.as_str()), "the approved record stays until approved");

    approved_plan(&sb, &keyed, "ratify.json");
    let (code, out) = run(&sb, w, &["apply", "ratify.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_ne!(applied_of(w, CA).as_deref(), Some(approved_ca.as_str()), "the new desired state is recorded as approved");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).expect("a journal");
    let line: Value = journal.lines().rev().map(|l| serde_json::from_str::<Value>(l).expect("a journal line")).find(|l| l["address"] == json!(CA)).expect("the ratification is journalled");
    assert_eq!(line["outcome"], json!("applied"), "{line}");
    assert_eq!(line["request_ids"], json!([]), "nothing was sent to Graph: {line}");
    assert!(line["note"].as_str().unwrap_or_default().contains("nothing was sent to Graph"), "{line}");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "re-plans empty: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 4: a pull request stops declaring Defender real-time
/// monitoring, and BitLocker and encryption on the compliance baseline
/// (whose minimum OS version it also changes): each is planned and
/// sensitive, naming the live value, not "no changes" nor hidden behind
/// the other field's update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_no_longer_declared_is_a_sensitive_change() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    edit_file(&dir, "policies.toml", |t| t.replacen("defenderRequireRealTimeMonitoring = true\n", "", 1));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("~ device_configuration.windows-restrictions"), "{out}");
    assert!(out.contains("desired state moves from what was last approved (defenderRequireRealTimeMonitoring)"), "{out}");
    assert!(out.contains("- defenderRequireRealTimeMonitoring = true"), "{out}");
    assert!(out.contains("no longer managed: defenderRequireRealTimeMonitoring (live true)"), "{out}");
    edit_file(&dir, "policies.toml", |t| t.replacen("bitLockerEnabled = true\n", "", 1).replacen("storageRequireEncryption = true\n", "", 1).replacen("osMinimumVersion = \"10.0.19045\"", "osMinimumVersion = \"10.0.22000\"", 1));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("~ {BASELINE}")) && out.contains("~ osMinimumVersion"), "{out}");
    assert!(out.contains("no longer managed: bitLockerEnabled (live true), storageRequireEncryption (live true)"), "{out}");
    let p = json_plan(&sb, w, &dir);
    let why = &p.sensitive[&BASELINE.parse().expect("an address")];
    assert!(!why.is_empty(), "{why}");
    assert!(p.sensitive.contains_key(&"device_configuration.windows-restrictions".parse().expect("an address")), "{:#?}", p.sensitive);
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "needs the approvers: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 2: one fact of the sealed ledger edited (a broken seal); the
/// apply that carries out the whole plan reseals it and keeps `applied`
/// of every object it found in sync, so a portal weakening of BitLocker
/// afterwards is put back unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resealing_apply_keeps_what_was_approved_of_what_it_found_in_sync() {
    let sb = sandbox().await;
    let (work, dir) = sealed_unattended(&sb).await;
    let w = work.path();
    let count = |l: &engine::Ledger| l.resources.values().filter(|e| e.applied.is_some()).count();
    let before = count(&ledger_of(w));
    assert!(before > 40, "{before}");
    let path = w.join("tenantctl.lock");
    let text = std::fs::read_to_string(&path).expect("the ledger");
    std::fs::write(&path, text.replacen("expires = \"2027-03-31T17:00:00Z\"", "expires = \"2027-03-30T17:00:00Z\"", 1)).expect("one fact edited");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("the ledger does not match the seal the tenant records"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("Dropped the `applied`"), "{out}");
    let l = ledger_of(w);
    assert_eq!(seal_of(&sb).await.as_deref(), Some(engine::ledger_seal::digest(&l, &org(&sb).await).as_str()), "resealed");
    assert_eq!(count(&l), before, "every approved record kept");

    let id = ledger_id(w, BASELINE);
    patch_out_of_band(&sb, "deviceCompliancePolicies", &id, json!({"bitLockerEnabled": false})).await;
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("self-heal: update {BASELINE}")), "restored unattended: {out}");
    let live = graph(&sb, Method::GET, &format!("/beta/deviceManagement/deviceCompliancePolicies/{id}"), None).await;
    assert_eq!(live["bitLockerEnabled"], json!(true));
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 2, operator form: `kill -9` of an apply after it recorded the
/// seal and before it compacted the ledger. The next plan finds the
/// ledger (its log over the last compacted one) sealed: no warning that
/// it was edited, nothing "not proven", and its approved records kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_the_seal_and_the_compaction_leaves_a_sealed_ledger() {
    let sb = sandbox().await;
    let (work, dir) = sealed_unattended(&sb).await;
    let w = work.path();
    let before = ledger_of(w).resources.values().filter(|e| e.applied.is_some()).count();
    edit_file(&dir, "groups.toml", |t| t.replacen("description = \"Holds the Intune Administrator role\"", "description = \"Holds the Intune Administrator role (PIM)\"", 1));
    let mut child = command(&sb, w)
        .args(["apply", d(&dir), "--auto-approve"])
        .env("TENANTCTL_TEST_PAUSE_BEFORE_COMPACT", "30000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantctl starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a line");
        let pausing = line.contains("pausing");
        seen.push(line);
        if pausing {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("pausing")), "the apply reached the pause: {seen:#?}");
    child.kill().expect("killed");
    child.wait().expect("reaped");
    assert!(w.join("tenantctl.ledger-wal.jsonl").exists(), "the log is left");

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert!(!out.contains("does not match the seal"), "{out}");
    assert!(!out.contains("not proven"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let l = ledger_of(w);
    assert_eq!(l.resources.values().filter(|e| e.applied.is_some()).count(), before, "nothing dropped");
    assert_eq!(seal_of(&sb).await.as_deref(), Some(engine::ledger_seal::digest(&l, &org(&sb).await).as_str()), "sealed");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1 with a broken seal: what differs from the ledger's record is
/// still shown, as a ratification noted unproven (sensitive); the apply
/// that carries out the whole plan records it and reseals, and the tenant
/// then re-plans empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ratification_against_an_unproven_ledger_is_shown_and_sensitive() {
    let sb = sandbox().await;
    let (work, dir) = sealed_unattended(&sb).await;
    let w = work.path();
    let ca = ledger_id(w, CA);
    let adele = ledger_id(w, "user.adele");
    let live = graph(&sb, Method::GET, &format!("/v1.0/identity/conditionalAccess/policies/{ca}"), None).await;
    let mut conditions = live["conditions"].clone();
    conditions["users"]["excludeUsers"].as_array_mut().expect("a list").push(json!(adele));
    graph(&sb, Method::PATCH, &format!("/v1.0/identity/conditionalAccess/policies/{ca}"), Some(json!({"conditions": conditions}))).await;
    edit_file(&dir, "conditional-access.toml", |t| t.replacen("exclude_users = [\"breakglass-1\"]", "exclude_users = [\"breakglass-1\", \"adele\"]", 1));
    let path = w.join("tenantctl.lock");
    let text = std::fs::read_to_string(&path).expect("the ledger");
    std::fs::write(&path, text.replacen("expires = \"2027-03-31T17:00:00Z\"", "expires = \"2027-03-30T17:00:00Z\"", 1)).expect("one fact edited");

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("~ {CA}")) && out.contains("desired state moves from what was last approved (conditions)"), "{out}");
    assert!(out.contains("its record of what was last approved proves nothing"), "{out}");
    let p = json_plan(&sb, w, &dir);
    assert!(p.sensitive.contains_key(&CA.parse().expect("an address")), "{:#?}", p.sensitive);
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("held: update {CA}")), "{out}");

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(seal_of(&sb).await.as_deref(), Some(engine::ledger_seal::digest(&ledger_of(w), &org(&sb).await).as_str()), "resealed");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "re-plans empty: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 20, finding 11: a pull request that stops declaring a
/// group's members approves whoever the portal put there (a service
/// account added to the licence group): a sensitive change, not a quiet
/// ratification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_no_longer_declared_are_a_sensitive_change() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    add_member(&sb, &ledger_id(w, "group.licensed-users"), &ledger_id(w, "user.msadmin")).await;
    edit_file(&dir, "groups.toml", |t| t.replacen("members = [\"adele\", \"megan\"]\nlicenses", "licenses", 1));
    let p = json_plan(&sb, w, &dir);
    let why = p.sensitive.get(&"group.licensed-users".parse().expect("an address")).unwrap_or_else(|| panic!("sensitive: {:#?}", p.sensitive));
    assert!(why.contains("stops managing members of group.licensed-users"), "{why}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "needs the approvers: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
