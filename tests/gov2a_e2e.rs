//! Hostile findings against issue 12 (governance that holds), through the
//! binary:
//! * reconcile --self-heal judges by the governance in force (the trust
//!   root), never by a desired [governance] nobody approved: its allow and
//!   prune take no effect until an approved apply records them.

mod common;

use std::path::Path;

use common::*;
use sandbox::SandboxHandle;
use serde_json::Value;

fn edit_file(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap_or_default();
    let edited = f(t.clone());
    assert_ne!(edited, t, "{file} edited");
    std::fs::write(&p, edited).unwrap();
}

fn run(sb: &SandboxHandle, work: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = cli(sb, work, args);
    (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
}

async fn graph(sb: &SandboxHandle, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token());
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The example applied on first use (no approvals needed), in `work`.
fn applied(sb: &SandboxHandle) -> tempfile::TempDir {
    let work = scratch_without_approvals();
    let d = work.path().join("desired-state");
    let (code, out) = run(sb, work.path(), &["apply", d.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(work.path().join("tenantctl.trust.json").exists(), "{out}");
    work
}

fn role_assignment_id(work: &Path, key: &str) -> String {
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    let address: schema::Address = format!("role_assignment.{key}").parse().unwrap();
    ledger.id(&address).unwrap_or_else(|| panic!("{address} in the ledger")).to_string()
}

/// pr1: role_assignment added to prune.kinds and an assignment removed
/// from desired state. The prune rule is not in force, so reconcile holds
/// the governance change; the assignment is removed anyway, because access
/// the ledger owns is ended when no longer declared whatever prune.kinds
/// says (removing access is never held: hostile run 14, finding 22).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_an_unapproved_prune_change_but_ends_undeclared_access() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let d = work.path().join("desired-state");
    let id = role_assignment_id(work.path(), "megan-user-admin");
    edit_file(&d, "tenant.toml", |t| t.replace("kinds = [\"device_configuration\", \"compliance_policy\", \"update_ring\"]", "kinds = [\"device_configuration\", \"compliance_policy\", \"update_ring\", \"role_assignment\"]"));
    edit_file(&d, "roles.toml", |t| {
        let start = t.find("[role_assignment.megan-user-admin]").unwrap();
        let end = t[start + 1..].find("\n[").map(|e| start + 1 + e).unwrap_or(t.len());
        format!("{}{}", &t[..start], &t[end..])
    });
    let (code, out) = run(&sb, work.path(), &["reconcile", d.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    assert_eq!(code, Some(2), "the governance change is held: {out}");
    assert!(out.contains("held: update governance: desired [governance] differs from the trust root (prune.kinds)"), "{out}");
    assert!(out.contains("delete role_assignment.megan-user-admin"), "the undeclared access is ended unattended: {out}");
    let (status, _) = graph(&sb, reqwest::Method::GET, &format!("/v1.0/roleManagement/directory/roleAssignments/{id}"), None).await;
    let (sched, _) = graph(&sb, reqwest::Method::GET, &format!("/v1.0/roleManagement/directory/roleAssignmentSchedules/{id}"), None).await;
    assert!(status != 200 && sched != 200, "the assignment is gone ({status}/{sched}): {out}");
    sb.shutdown().await.unwrap();
}

/// rc3: allow = ["service-account-targeted"] added to desired [governance]
/// with a device configuration on all users (service accounts included):
/// the allow is not in force, so the create is held, not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_does_not_use_an_unapproved_allow() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let d = work.path().join("desired-state");
    edit_file(&d, "tenant.toml", |t| t.replace("large_plan_threshold = 50", "large_plan_threshold = 50\nallow = [\"service-account-targeted\"]"));
    edit_file(&d, "policies.toml", |t| {
        format!("{t}\n[device_configuration.au]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"AU\"\n[device_configuration.au.settings]\ncameraBlocked = true\n[device_configuration.au.assignments]\nall_users = true\n")
    });
    let (code, out) = run(&sb, work.path(), &["reconcile", d.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("self-heal: create device_configuration.au"), "{out}");
    assert!(out.contains("held: create device_configuration.au"), "{out}");
    assert!(out.contains("held: update governance: desired [governance] differs from the trust root (allow)"), "{out}");
    let (status, list) = graph(&sb, reqwest::Method::GET, "/beta/deviceManagement/deviceConfigurations", None).await;
    assert_eq!(status, 200, "{list:#}");
    let names: Vec<&str> = list["value"].as_array().unwrap().iter().filter_map(|v| v["displayName"].as_str()).collect();
    assert!(names.contains(&"Windows restrictions") || !names.is_empty(), "{names:?}");
    assert!(!names.contains(&"AU"), "nothing created: {names:?} {out}");
    sb.shutdown().await.unwrap();
}

/// Both of the marker's extensions as one (the trust root's has its own
/// since gov27).
async fn marker(sb: &SandboxHandle) -> Value {
    common::gov::marker_view(sb).await
}

/// hostile 12 #3: `governance adopt` with a new --ledger over a tenant
/// whose marker records another [governance] (the intact trust root of the
/// default ledger) took over. Refused; re-adopting exactly the recorded
/// governance elsewhere chooses nobody new and is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_with_a_new_ledger_cannot_take_over_a_marked_tenant() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let w = work.path();
    let d = w.join("desired-state");
    let before = marker(&sb).await;
    let tenant = std::fs::read_to_string(d.join("tenant.toml")).unwrap();
    let other = w.join("other").join("x.lock");
    let taken = tenant.replace("[governance.approvers.bob]", "[governance.approvers.mallory]\nname = \"Mallory\"\npublic_key = \"ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=\"\n\n[governance.approvers.bob]");
    std::fs::write(d.join("tenant.toml"), &taken).unwrap();
    let (code, out) = run(&sb, w, &["governance", "adopt", d.to_str().unwrap(), "--ledger", other.to_str().unwrap(), "--reason", "I want it"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("refusing: this tenant carries tenantctl's governance marker"), "{out}");
    assert!(!other.with_extension("trust.json").exists(), "{out}");
    assert_eq!(marker(&sb).await, before, "the marker is untouched");
    // A wrong fingerprint typed does not help either.
    let (code, out) = run(&sb, w, &["governance", "adopt", d.to_str().unwrap(), "--ledger", other.to_str().unwrap(), "--reason", "I want it", "--replace-marker", "sha256:0000"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(marker(&sb).await, before, "the marker is untouched");
    // Exactly the governance the marker records: allowed on another ledger.
    std::fs::write(d.join("tenant.toml"), &tenant).unwrap();
    let (code, out) = run(&sb, w, &["governance", "adopt", d.to_str().unwrap(), "--ledger", other.to_str().unwrap(), "--reason", "state moved"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(marker(&sb).await["trustFingerprint"], before["trustFingerprint"], "the same governance");
    sb.shutdown().await.unwrap();
}

/// hostile 12 #10: the marker's update sends the body Graph documents for
/// an open extension on a directory object ("@odata.type" and
/// "extensionName" required; the data replaces the extension's), and the
/// sandbox refuses an update without them, as Graph does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marker_update_sends_the_documented_body() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let w = work.path();
    let d = w.join("desired-state");
    let (_, orgs) = graph(&sb, reqwest::Method::GET, "/v1.0/organization", None).await;
    let org = orgs["value"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance");
    let (status, body) = graph(&sb, reqwest::Method::PATCH, &path, Some(serde_json::json!({"recordedBy": "someone"}))).await;
    assert_eq!(status, 400, "{body:#}");
    let (status, body) = graph(&sb, reqwest::Method::PATCH, &path, Some(serde_json::json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.other", "recordedBy": "x"}))).await;
    assert_eq!(status, 400, "{body:#}");
    // The binary updates the marker (re-adopting on another ledger writes it again).
    let other = w.join("other").join("x.lock");
    let (code, out) = run(&sb, w, &["governance", "adopt", d.to_str().unwrap(), "--ledger", other.to_str().unwrap(), "--reason", "state moved"]);
    assert_eq!(code, Some(0), "{out}");
    let m = marker(&sb).await;
    assert_eq!(m["recordedBy"], "adopted", "{m:#}");
    assert!(m["trustFingerprint"].as_str().is_some_and(|f| f.starts_with("sha256:")), "{m:#}");
    // An update replaces the data: a property left out is gone.
    let (status, body) = graph(&sb, reqwest::Method::PATCH, &path, Some(serde_json::json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.tenantctl.governance", "recordedBy": "x"}))).await;
    assert_eq!(status, 204, "{body:#}");
    let (_, m) = graph(&sb, reqwest::Method::GET, &path, None).await;
    assert!(m.get("ledgerSeals").is_none() && m["recordedBy"] == "x", "{m:#}");
    sb.shutdown().await.unwrap();
}

/// hostile 12 #11: plan never checked the tenant's governance marker (it
/// exited 0, "the next apply records them", and apply then refused). Plan
/// now says apply would refuse (exit 1); the copy that recorded it plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_says_when_apply_would_refuse_by_the_marker() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let d = work.path().join("desired-state");
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    // A fresh copy (no trust root) with another [governance].
    let second = scratch_with(|t| t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"another copy\"").replace("large_plan_threshold = 50", "large_plan_threshold = 40"));
    let d2 = second.path().join("desired-state");
    let (code, out) = run(&sb, second.path(), &["plan", d2.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("apply would refuse this plan") && out.contains("this tenant carries tenantctl's governance marker"), "{out}");
    let (code, out) = run(&sb, second.path(), &["apply", d2.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(code, Some(1), "and apply refuses: {out}");
    sb.shutdown().await.unwrap();
}

const ROLLOUT: &str = "[update_ring.quality]\n\
    display_name = \"Windows Quality\"\n\
    quality_updates_deferral_period_in_days = 0\n\
    deadline_for_quality_updates_in_days = 2\n\
    rollout = { rings = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"], soak = \"48h\" }\n";

fn plan_json(sb: &SandboxHandle, work: &Path, d: &str) -> engine::Plan {
    let o = cli(sb, work, &["plan", d, "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_str(&text(&o.stdout)).unwrap()
}

/// The ring copies the plan writes; a ratification of one (an adoption
/// with the ledger lost, reviewed whole: gov18) sends nothing.
fn promoted(p: &engine::Plan) -> Vec<String> {
    p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).map(|c| c.address.to_string()).filter(|a| a.starts_with("update_ring.quality@")).collect()
}

/// hostile 12 #9: with the ledger lost and the live ring copy's
/// lastModifiedDateTime gone, the next ring was promoted at once. The soak
/// now counts from createdDateTime; with neither, the ring waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soak_without_timestamps_waits_rather_than_promotes() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    std::fs::write(dir.join("rollout.toml"), ROLLOUT).unwrap();
    let d = dir.to_str().unwrap();
    let (code, out) = run(&sb, work.path(), &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let id = {
        let ledger = engine::Ledger::parse(&std::fs::read_to_string(work.path().join("tenantctl.lock")).unwrap()).unwrap();
        ledger.id(&"update_ring.quality@mwd-test".parse().unwrap()).unwrap().to_string()
    };
    std::fs::remove_file(work.path().join("tenantctl.lock")).unwrap();
    patch_out_of_band(&sb, "deviceConfigurations", &id, serde_json::json!({"lastModifiedDateTime": null})).await;
    let p = plan_json(&sb, work.path(), d);
    assert!(promoted(&p).is_empty(), "no ring is promoted: {:?}", promoted(&p));
    let first = p.rollout.iter().find(|w| w.ring == "mwd-first").unwrap_or_else(|| panic!("{:#?}", p.rollout));
    assert!(first.until.is_some() && first.reason.contains("mwd-test changed at"), "from createdDateTime: {first:?}");
    patch_out_of_band(&sb, "deviceConfigurations", &id, serde_json::json!({"createdDateTime": null})).await;
    let p = plan_json(&sb, work.path(), d);
    assert!(promoted(&p).is_empty(), "no ring is promoted: {:?}", promoted(&p));
    let first = p.rollout.iter().find(|w| w.ring == "mwd-first").unwrap_or_else(|| panic!("{:#?}", p.rollout));
    assert!(first.until.is_none() && first.reason.contains("no earlier ring has a known change time"), "{first:?}");
    sb.shutdown().await.unwrap();
}

/// hostile 12 #12: approve had no --ledger. With it, the plan's governance
/// in force is checked against the trust root recorded beside that ledger
/// before signing (apply would refuse a plan claiming another).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_checks_the_plan_against_the_trust_root_of_its_ledger() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let keygen = |name: &str| {
        let o = cli(&sb, k, &["keygen", "--out", name]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).trim().to_string()
    };
    let (author, alice) = (keygen("author"), keygen("alice"));
    let work = scratch_with(|t| t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice).replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author));
    let w = work.path();
    let d = w.join("desired-state");
    let d = d.to_str().unwrap();
    let key = |n: &str| k.join(format!("{n}.key")).to_str().unwrap().to_string();
    let (code, out) = run(&sb, w, &["plan", d, "--out", "plan.json", "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{out}");
    // Another ledger whose trust root records another [governance].
    let other = scratch_with(|t| t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice).replace("large_plan_threshold = 50", "large_plan_threshold = 40"));
    let b = w.join("b").join("b.lock");
    let (code, out) = run(&sb, other.path(), &["governance", "adopt", other.path().join("desired-state").to_str().unwrap(), "--ledger", b.to_str().unwrap(), "--reason", "test"]);
    assert_eq!(code, Some(0), "{out}");
    let before = std::fs::read(w.join("plan.json")).unwrap();
    let (code, out) = run(&sb, w, &["approve", "plan.json", "--key", &key("alice"), "--dir", d, "--ledger", b.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("claims another governance in force than the trust root recorded at"), "{out}");
    assert_eq!(std::fs::read(w.join("plan.json")).unwrap(), before, "nothing signed");
    // Its own ledger: signed.
    let a = w.join("tenantctl.lock");
    let (code, out) = run(&sb, w, &["approve", "plan.json", "--key", &key("alice"), "--dir", d, "--ledger", a.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Approved by alice"), "{out}");
    sb.shutdown().await.unwrap();
}

/// hostile 12 #14: reconcile deleted an out-of-band Global Administrator
/// on a service account and still listed the lints about it as held for a
/// person. What the pass removed is not reported as waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_no_held_items_for_what_it_deleted() {
    let sb = sandbox().await;
    let work = applied(&sb);
    let w = work.path();
    let d = w.join("desired-state");
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    let msadmin = ledger.id(&"user.msadmin".parse().unwrap()).unwrap().to_string();
    let (status, ra) = graph(
        &sb,
        reqwest::Method::POST,
        "/v1.0/roleManagement/directory/roleAssignments",
        // Privileged Role Administrator: the plan never removes the last
        // active Global Administrator, and the example declares none.
        Some(serde_json::json!({"principalId": msadmin, "roleDefinitionId": "e8611ab8-c189-46e8-94e1-60213ab1f814", "directoryScopeId": "/"})),
    )
    .await;
    assert!(status < 300, "{ra:#}");
    let rid = ra["id"].as_str().unwrap().to_string();
    let (_, out) = run(&sb, w, &["reconcile", d.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    assert!(out.contains(&format!("applied: delete role_assignment.out-of-band-{rid}")), "{out}");
    assert!(!out.contains(&format!("held: review id:{rid}")), "no stale held item: {out}");
    let history = w.join(".tenantctl").join("history");
    let dir = if history.exists() { history } else { d.parent().unwrap().join(".tenantctl").join("history") };
    let mut reports: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    reports.sort();
    let last: Value = serde_json::from_str(&std::fs::read_to_string(reports.last().unwrap()).unwrap()).unwrap();
    let items = last["items"].as_array().unwrap();
    assert!(!items.iter().any(|i| i["address"] == format!("id:{rid}")), "{last:#}");
    assert!(!last["held"].as_array().unwrap().iter().any(|h| h["address"] == format!("id:{rid}")), "{last:#}");
    sb.shutdown().await.unwrap();
}
