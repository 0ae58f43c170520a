//! gov18 (issue 12), through the binary: what the ledger's seal proves
//! (hostile run 23, findings 1, 7, 8 and 16). A seal proves that tenantctl
//! wrote a ledger for this tenant, not that it is this directory's, nor
//! that a fact a pull request could have cut or added is true:
//! * a declared control the tenant matches that the ledger records no
//!   approved state of (the ledger cut to nothing, deleted, or another
//!   sealed ledger copied over it) is reviewed whole: a portal loosening a
//!   pull request copies is a sensitive ratification, never "no changes";
//! * which objects the ledger owns is a fact too: an entry the seal does
//!   not prove (a forged write-ahead-log line, a ledger new to the tenant)
//!   blocks nobody's sign-in unattended, a forged `service` mark keeps no
//!   undeclared account enabled, and a forged `forget` keeps no access.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

const BASELINE: &str = "compliance_policy.windows-baseline";
const ADOPTED: &str = "the ledger records no approved state";
const OWNER: &str = "the tenant's seal does not prove the ledger's ownership of";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn json_plan(sb: &SandboxHandle, w: &Path, dir: &Path) -> engine::Plan {
    let o = cli(sb, w, &["plan", d(dir), "--format", "json"]);
    serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)))
}

/// A plan of `dir` (in `w`) saved to `out`, written by `keyed`'s author
/// and approved by alice and bob, then applied.
fn approved_apply(sb: &SandboxHandle, keyed: &Keyed, w: &Path, dir: &Path, out: &str) {
    let key = |n: &str| keyed.keys.path().join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(sb, w, &["plan", d(dir), "--out", out, "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(sb, w, &["approve", out, "--key", &key(who), "--dir", d(dir)]);
        assert_eq!(code, Some(0), "{o}");
    }
    let (code, o) = run(sb, w, &["apply", out, "--dir", d(dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
}

/// The portal turns BitLocker off on the baseline, and the pull request
/// copies it into desired state (with the record intact, a ratification).
async fn portal_loosening_copied(sb: &SandboxHandle, w: &Path, dir: &Path) -> String {
    let id = ledger_id(w, BASELINE);
    patch_out_of_band(sb, "deviceCompliancePolicies", &id, json!({"bitLockerEnabled": false})).await;
    edit_file(dir, "policies.toml", |t| t.replacen("bitLockerEnabled = true", "bitLockerEnabled = false", 1));
    let p = json_plan(sb, w, dir);
    assert!(p.changes.iter().any(|c| c.address.to_string() == BASELINE && engine::governance::ratify::is_ratify(c)), "the control case: {:#?}", p.changes);
    id
}

/// What the pull request did to the ledger is not enough: the baseline is
/// a sensitive ratification naming BitLocker off, apply refuses it without
/// approvals, reconcile holds it, and nothing reaches the tenant.
async fn the_copy_is_reviewed_whole(sb: &SandboxHandle, w: &Path, dir: &Path, id: &str, case: &str) {
    let (code, out) = run(sb, w, &["plan", d(dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{case}: {out}");
    assert!(out.contains(&format!("~ {BASELINE}")), "{case}: {out}");
    let p = json_plan(sb, w, dir);
    let c = p.changes.iter().find(|c| c.address.to_string() == BASELINE).unwrap_or_else(|| panic!("{case}: {:#?}", p.changes));
    assert!(engine::governance::ratify::is_ratify(c), "{case}: nothing is sent to Graph: {c:#?}");
    assert!(c.fields.iter().any(|f| f.field == "bitLockerEnabled" && f.after == Some(json!(false))), "{case}: {:#?}", c.fields);
    let why = p.sensitive.get(&BASELINE.parse().expect("an address")).unwrap_or_else(|| panic!("{case}: sensitive: {:#?}", p.sensitive));
    assert!(why.contains(ADOPTED) || why.contains("proves no approved record"), "{case}: {why}");
    let (code, out) = run(sb, w, &["apply", d(dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{case}: needs the approvers: {out}");
    let (_, out) = run(sb, w, &["reconcile", d(dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("held: update {BASELINE}")), "{case}: never unattended: {out}");
    let live = graph(sb, Method::GET, &format!("/beta/deviceManagement/deviceCompliancePolicies/{id}"), None).await;
    assert_eq!(live["bitLockerEnabled"], json!(false), "{case}: nothing was written to the tenant");
}

/// Finding 1: the pull request cuts the ledger's identity, every `applied`
/// and every `approved_fields` (a ledger "new to the tenant"), or deletes
/// the ledger: the copied loosening is still reviewed; one approved apply
/// records it and reseals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_cut_to_nothing_or_deleted_does_not_launder_a_portal_loosening() {
    for deleted in [false, true] {
        let sb = sandbox().await;
        let (keyed, dir) = sealed_keyed(&sb).await;
        let w = keyed.work.path();
        let id = portal_loosening_copied(&sb, w, &dir).await;
        let case = if deleted {
            std::fs::remove_file(w.join("tenantctl.lock")).expect("the ledger is deleted");
            "ledger deleted"
        } else {
            let mut l = ledger_of(w);
            l.ledger_id = None;
            for e in l.resources.values_mut() {
                e.applied = None;
                e.approved_fields.clear();
            }
            std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
            "ledger cut"
        };
        let (_, out) = run(&sb, w, &["plan", d(&dir)]);
        assert!(out.contains("is new to the tenant"), "{case}: the seal judges it new: {out}");
        the_copy_is_reviewed_whole(&sb, w, &dir, &id, case).await;
        // The honest way out: one approved apply.
        approved_apply(&sb, &keyed, w, &dir, "adopt.json");
        let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
        assert_eq!(code, Some(0), "{case}: sealed and in sync: {out}");
        sb.shutdown().await.expect("the sandbox stops");
    }
}

/// Finding 7, and the honest second directory: a second desired-state
/// directory on the tenant (without the baseline) needs one approved
/// apply, then both are sealed. Its sealed ledger copied over the first
/// directory's owns no baseline entry: the copied portal loosening is
/// reviewed whole, not "no changes".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sealed_ledger_copied_over_does_not_launder_a_portal_loosening() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w = keyed.work.path();
    let second = tempfile::tempdir().expect("a temporary directory");
    let w2 = second.path();
    let dir2 = w2.join("desired-state");
    std::fs::create_dir_all(&dir2).expect("created");
    for e in std::fs::read_dir(&dir).expect("the desired state") {
        let p = e.expect("an entry").path();
        std::fs::copy(&p, dir2.join(p.file_name().expect("a name"))).expect("copied");
    }
    edit_file(&dir2, "policies.toml", |t| {
        let start = t.find(&format!("[{BASELINE}]")).expect("declared");
        let end = t.find("[device_configuration.windows-restrictions]").expect("declared");
        format!("{}{}", &t[..start], &t[end..])
    });
    for e in std::fs::read_dir(w).expect("the work folder") {
        let p = e.expect("an entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if p.is_file() && name.starts_with("tenantctl.") && name.contains("trust") {
            std::fs::copy(&p, w2.join(&name)).expect("copied");
        }
    }
    // New to the tenant: what it adopts is reviewed once, with approvals.
    let (code, out) = run(&sb, w2, &["plan", d(&dir2), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is new to the tenant"), "{out}");
    let (code, out) = run(&sb, w2, &["apply", d(&dir2), "--auto-approve"]);
    assert_eq!(code, Some(1), "an adoption of controls needs the approvers: {out}");
    approved_apply(&sb, &keyed, w2, &dir2, "second.json");
    for (at, dd) in [(w, &dir), (w2, &dir2)] {
        let (code, out) = run(&sb, at, &["plan", d(dd), "--detailed-exitcode"]);
        assert_eq!(code, Some(0), "both ledgers sealed and in sync: {out}");
    }

    let id = portal_loosening_copied(&sb, w, &dir).await;
    std::fs::copy(w2.join("tenantctl.lock"), w.join("tenantctl.lock")).expect("the other sealed ledger copied over");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    // The copy is sealed, but for the other directory (hostile run 28,
    // finding 1): none of its facts is proof here.
    assert!(out.contains("it is another directory's ledger"), "the copy is another directory's: {out}");
    the_copy_is_reviewed_whole(&sb, w, &dir, &id, "another sealed ledger").await;
    sb.shutdown().await.expect("the sandbox stops");
}

/// A user made in the portal, never declared nor in any ledger: its id.
async fn portal_user(sb: &SandboxHandle) -> String {
    let body = json!({
        "accountEnabled": true,
        "displayName": "Erin Portal",
        "mailNickname": "erin.portal",
        "userPrincipalName": "erin.portal@contoso.onmicrosoft.com",
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
    });
    graph(sb, Method::POST, "/v1.0/users", Some(body)).await["id"].as_str().expect("an id").to_string()
}

async fn enabled(sb: &SandboxHandle, id: &str) -> Value {
    graph(sb, Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await["accountEnabled"].clone()
}

fn wal(w: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(w.join("tenantctl.ledger-wal.jsonl"), text).expect("the log is written");
}

/// Finding 8: one forged log line over the sealed ledger, or a ledger new
/// to the tenant with one entry, names an undeclared portal user: blocking
/// its sign-in is sensitive (apply refuses it without approvals, reconcile
/// holds it), and the user stays enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_ledger_entry_blocks_nobodys_sign_in_unattended() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w = keyed.work.path();
    let erin = portal_user(&sb).await;
    let sealed = std::fs::read(w.join("tenantctl.lock")).expect("the ledger");
    for fresh in [false, true] {
        let case = if fresh {
            let _ = std::fs::remove_file(w.join("tenantctl.ledger-wal.jsonl"));
            let org = ledger_of(w).tenant_id.clone().expect("a sealed ledger names its tenant");
            std::fs::write(w.join("tenantctl.lock"), format!("version = 1\ntenant_id = \"{org}\"\n\n[resources.\"user.h23-erin\"]\nid = \"{erin}\"\n")).expect("written");
            "a one-entry ledger"
        } else {
            std::fs::write(w.join("tenantctl.lock"), &sealed).expect("restored");
            wal(w, &[json!({"op": "record", "address": "user.h23-erin", "entry": {"id": erin}})]);
            "a forged log line"
        };
        let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
        assert_eq!(code, Some(2), "{case}: {out}");
        let p = json_plan(&sb, w, &dir);
        let c = p.changes.iter().find(|c| c.address.to_string() == "user.h23-erin").unwrap_or_else(|| panic!("{case}: shown: {:#?}", p.changes));
        assert!(c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{case}: {c:#?}");
        let why = p.sensitive.get(&"user.h23-erin".parse().expect("an address")).unwrap_or_else(|| panic!("{case}: sensitive: {:#?}", p.sensitive));
        assert!(why.contains(OWNER) && why.contains(&erin), "{case}: names the unproven fact: {why}");
        let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
        assert_eq!(code, Some(1), "{case}: needs the approvers: {out}");
        let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
        assert!(out.contains("held: update user.h23-erin"), "{case}: {out}");
        assert_eq!(enabled(&sb, &erin).await, json!(true), "{case}: Erin keeps her sign-in");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// A contractor's account, added to the example's accounts.
const TEMP: &str = "\n[user.temp]\nuser_principal_name = \"temp.contractor@contoso.onmicrosoft.com\"\ndisplay_name = \"Temp Contractor\"\nmail_nickname = \"temp.contractor\"\nusage_location = \"US\"\n";

/// The example with [`TEMP`] converged, adopted and sealed by an apply.
async fn sealed_with_temp(sb: &SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let (work, dir) = converged(sb, |d| {
        let p = d.join("accounts.toml");
        let t = std::fs::read_to_string(&p).expect("the example's accounts");
        std::fs::write(&p, format!("{t}{TEMP}")).expect("written");
    })
    .await;
    let (code, out) = run(sb, work.path(), &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    (work, dir)
}

/// Finding 16: the pull request stops declaring an account tenantctl
/// created and forges a `service = true` log line for it: the mark does
/// not keep it enabled (its disable is shown, needs approval, and names
/// the mark). With a forged `forget` line instead, the sealed ledger's
/// ownership stands: the sign-in is blocked unattended, as without it.
/// Likewise a removed access package assignment forgotten by a log line
/// is still ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_service_mark_or_forget_keeps_no_access() {
    let sb = sandbox().await;
    let (work, dir) = sealed_with_temp(&sb).await;
    let w = work.path();
    let temp = ledger_id(w, "user.temp");
    let sealed = std::fs::read(w.join("tenantctl.lock")).expect("the ledger");
    edit_file(&dir, "accounts.toml", |t| t.replace(TEMP, "\n"));

    // A forged service mark.
    wal(w, &[json!({"op": "record", "address": "user.temp", "entry": {"id": temp, "service": true}})]);
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(2), "{out}");
    let p = json_plan(&sb, w, &dir);
    let c = p.changes.iter().find(|c| c.address.to_string() == "user.temp").unwrap_or_else(|| panic!("the disable is shown: {:#?}", p.changes));
    assert!(c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{c:#?}");
    assert!(c.notes.iter().any(|n| n.contains("does not prove that mark")), "names the unproven mark: {:#?}", c.notes);
    assert!(p.sensitive.contains_key(&"user.temp".parse().expect("an address")), "{:#?}", p.sensitive);
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(1), "not unattended: {out}");
    assert!(ledger_of(w).resources.get(&"user.temp".parse().expect("an address")).is_none_or(|e| !e.service), "the forged mark is never compacted and sealed");

    // A forged forget.
    std::fs::write(w.join("tenantctl.lock"), &sealed).expect("restored");
    wal(w, &[json!({"op": "forget", "address": "user.temp"})]);
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("user.temp") && out.contains("sign-in blocked"), "{out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "ending access of what the sealed ledger owns needs no approval: {out}");
    assert_eq!(enabled(&sb, &temp).await, json!(false), "blocked");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "sealed and settled: {out}");

    // A removed access package assignment, with a forged forget.
    let assignment = "access_package_assignment.fabrikam-auditor";
    let before = ledger_id(w, assignment);
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("the assignment is removed");
    wal(w, &[json!({"op": "forget", "address": assignment})]);
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("- {assignment}")), "still ended: {out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let live = graph(&sb, Method::GET, "/v1.0/identityGovernance/entitlementManagement/assignments", None).await;
    assert!(!live["value"].as_array().expect("a list").iter().any(|a| a["id"] == before.as_str() && a["state"] == "Delivered"), "the access ended: {live}");
    sb.shutdown().await.expect("the sandbox stops");
}
