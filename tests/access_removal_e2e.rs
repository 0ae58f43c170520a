//! Issue 12, through the binary: removing access is never held for
//! approval ("Removing access is held"), and a lint never blocks its own
//! remedy nor unrelated corrections ("A lint freezes its own remedy").

mod common;

use std::path::Path;

use common::*;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

/// Just after the tests' clock (`common::opts`), before the real one.
const SOON: &str = "2026-11-23T12:00:01Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_is_removed_by_apply_without_approvals() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        edit_file(d, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", &format!("expires = {SOON}")));
    })
    .await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    // (Role assignments are time-boxed in Entra itself, through PIM
    // schedules; their removal by the plan is tested through reconcile.)
    // The deadline passed: the plan ends access, and nothing in it is held.
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).unwrap();
    let changes: Vec<String> = p.changes.iter().map(|c| format!("{} {}", c.action.as_str(), c.address)).collect();
    assert_eq!(changes, ["update guest.fabrikam-auditor"], "{}", text(&out.stdout));
    assert!(p.sensitive.is_empty(), "ending access needs no approval: {:?}", p.sensitive);
    // Straight from the directory, with two approvals required and none given.
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    assert!(journal.contains("guest.fabrikam-auditor"), "journalled: {journal}");
    let out = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Granting access again still needs approval.
    // (Within the expiry horizon: beyond it is standing guest access, an error.)
    let later = (common::now() + chrono::Duration::days(200)).format("%Y-%m-%dT00:00:00Z").to_string();
    edit_file(&dir, "guests.toml", |t| t.replace(&format!("expires = {SOON}"), &format!("expires = {later}")));
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("guest.fabrikam-auditor: extends guest access"), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_removes_expired_access_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    // After every deadline of the example (roles 2027-01-31 and 2027-03-31, guest 2027-03-31).
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2027-04-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    let r = last_report(w);
    let applied = addresses(&r["applied"]);
    for a in ["guest.fabrikam-auditor", "role_assignment.intune-admins-eligible", "role_assignment.megan-user-admin"] {
        assert!(applied.contains(&a.to_string()), "{a} applied unattended: {r:#}\n{log}");
    }
    assert!(addresses(&r["held"]).is_empty(), "nothing held: {r:#}");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    assert!(journal.contains("role_assignment.megan-user-admin") && journal.contains("self-heal"), "{journal}");
    let users = client(&sb).v1().list_all("/users?$select=mail,accountEnabled").await.unwrap();
    assert!(users.iter().any(|u| u["mail"] == "jane.doe@fabrikam.com" && u["accountEnabled"] == false), "{users:#?}");
    sb.shutdown().await.unwrap();
}

/// Assign a managed policy, behind the tool's back, to a group desired
/// state does not declare (plus its managed rings).
async fn assign_out_of_band(sb: &SandboxHandle, work: &Path) -> String {
    assign_out_of_band_to(sb, work, "device_configuration.windows-restrictions", &["mwd-test", "mwd-first", "mwd-fast", "mwd-broad"]).await
}

/// Assign `policy`, behind the tool's back, to a group desired state does
/// not declare plus its managed `groups`.
async fn assign_out_of_band_to(sb: &SandboxHandle, work: &Path, policy: &str, groups: &[&str]) -> String {
    let client = client(sb);
    let g = client
        .v1()
        .post_json("/groups", json!({"displayName": "Shadow IT", "mailNickname": "shadow-it", "mailEnabled": false, "securityEnabled": true}))
        .await
        .unwrap();
    let gid = g.body.as_ref().unwrap()["id"].as_str().unwrap().to_string();
    let policy = ledger_id(work, policy);
    let mut targets: Vec<Value> = groups
        .iter()
        .map(|k| json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": ledger_id(work, &format!("group.{k}"))}}))
        .collect();
    targets.push(json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid}}));
    let r = client.beta().post_json(&format!("/deviceManagement/deviceConfigurations/{policy}/assign"), json!({"assignments": targets})).await.unwrap();
    assert!(r.status < 300, "{r:?}");
    gid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lint_never_blocks_its_remedy() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    let gid = assign_out_of_band(&sb, w).await;
    // The plan removes the unmanaged assignment: the lint says so, and does not block.
    let out = cli(&sb, w, &["plan", d]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}\n{}", text(&out.stderr));
    assert!(shown.contains(&format!("warning[unmanaged-target] device_configuration.windows-restrictions: is assigned to group id:{gid}")), "{shown}");
    assert!(shown.contains("this plan removes it (assign device_configuration.windows-restrictions)"), "{shown}");
    // The remedy changes a ring policy, a Managed Desktop object: over a
    // ledger the change could have written (a git work tree), apply still
    // wants approvals for that, and names that rule, not the lint.
    std::fs::create_dir(w.join(".git")).unwrap();
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("sensitive change(s)") && err.contains("  - device_configuration.windows-restrictions: ") && !err.contains("breaks governance lints"), "{err}");
    // Over a ledger beyond the change's reach, the remedy puts the ring
    // policy back as it was approved: a control restored, unattended.
    std::fs::remove_dir(w.join(".git")).unwrap();
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("puts control device_configuration.windows-restrictions back as it was approved"), "{}", text(&out.stdout));
    // Where approvals are not required (in force from the start: lowering
    // them later is itself a governance change the approvers must sign),
    // apply carries the remedy out.
    let (work, dir) = converged(&sb, |d| edit_file(d, "tenant.toml", |t| t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"lab\""))).await;
    let (w, d) = (work.path(), dir.to_str().unwrap());
    assign_out_of_band(&sb, w).await;
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "remedied: {}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_only_what_a_lint_is_about() {
    let sb = sandbox().await;
    // A policy that is not a Managed Desktop one (assigned to no ring): its
    // drift is not protected, so self-heal may put it back (drift on a ring
    // policy is held; see managed_desktop_e2e.rs).
    let (work, dir) = converged(&sb, |dir| {
        let p = dir.join("policies.toml");
        let mut t = std::fs::read_to_string(&p).unwrap();
        t.push_str("\n[device_configuration.kiosk-restrictions]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Kiosk Restrictions\"\n\n[device_configuration.kiosk-restrictions.settings]\ncameraBlocked = true\n\n[device_configuration.kiosk-restrictions.assignments]\ninclude = [\"kiosks\"]\n");
        std::fs::write(&p, t).unwrap();
        let g = dir.join("groups.toml");
        let mut t = std::fs::read_to_string(&g).unwrap();
        t.push_str("\n[group.kiosks]\ndisplay_name = \"Kiosks\"\nmail_nickname = \"kiosks\"\n");
        std::fs::write(&g, t).unwrap();
    })
    .await;
    let w = work.path();
    // Remedied lint: reconcile applies the remedy.
    assign_out_of_band_to(&sb, w, "device_configuration.kiosk-restrictions", &["kiosks"]).await;
    // An unremedied lint error on another policy: it targets the service accounts.
    edit_file(&dir, "policies.toml", |t| {
        t.replacen("include = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"]", "include = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\", \"service-accounts\"]", 1)
    });
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    let r = last_report(w);
    assert_eq!(addresses(&r["applied"]), ["device_configuration.kiosk-restrictions"], "the remedy is applied: {r:#}\n{log}");
    let held = r["held"].as_array().unwrap();
    assert_eq!(addresses(&r["held"]), ["compliance_policy.windows-baseline"], "{r:#}");
    assert!(held[0]["reason"].as_str().unwrap().contains("breaks a governance lint"), "{r:#}");
    sb.shutdown().await.unwrap();
}
