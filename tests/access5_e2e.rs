//! Issue 16, robustness of the access kinds, through the binary: what the
//! tenant refuses (a licence it lacks, a policy delete while assignments go
//! through it) is one located error, never the whole plan; the rest is
//! planned, shown and applied, and out-of-band privileged access is still
//! removed in the same pass.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const PRIVILEGED_ROLE_ADMIN: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const PACKAGES_FILE: &str = "access-packages.toml";

/// The sandbox's licence tier switched, as a tenant losing Entra ID P2.
async fn licences(sb: &sandbox::SandboxHandle, tier: &str) {
    let r = reqwest::Client::new().put(format!("{}/_sandbox/licences", sb.base_url())).json(&json!({"licences": tier})).send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
}

/// Megan made a permanent Privileged Role Administrator out of band; the
/// assignment's id.
async fn out_of_band_pra(sb: &sandbox::SandboxHandle, work: &std::path::Path) -> String {
    let megan = ledger_id(work, "user.megan");
    let pra = json!({"principalId": megan, "roleDefinitionId": PRIVILEGED_ROLE_ADMIN, "directoryScopeId": "/"});
    graph(sb, Method::POST, "/v1.0/roleManagement/directory/roleAssignments", Some(pra)).await["id"].as_str().expect("an id").to_string()
}

/// Whether the role assignment `id` is still live.
async fn still_live(sb: &sandbox::SandboxHandle, id: &str) -> bool {
    let all = graph(sb, Method::GET, "/v1.0/roleManagement/directory/roleAssignments", None).await;
    all["value"].as_array().expect("a list").iter().any(|a| a["id"] == json!(id))
}

/// The 1-based line of `header` in `dir/file`.
fn line_of(dir: &std::path::Path, file: &str, header: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).expect("the file");
    text.lines().position(|l| l == header).unwrap_or_else(|| panic!("{header} not in {file}")) + 1
}

/// Hostile run 15, finding 6, second half: the example (which declares
/// access packages and PIM eligibility) on a tenant that lost Entra ID P2.
/// Those declarations are located errors naming the licence; the rest of
/// the plan is planned and shown, `apply` applies it and exits 1, and
/// `reconcile --self-heal` removes an out-of-band Privileged Role
/// Administrator in that same pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_p2_plans_and_applies_everything_but_what_needs_p2() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    licences(&sb, "p1").await;
    let pra = out_of_band_pra(&sb, work.path()).await;

    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "refused declarations fail the plan's exit: {out}");
    assert!(out.contains(&format!("- role_assignment.out-of-band-{pra}")), "the rest is planned and shown: {out}");
    let line = line_of(&dir, PACKAGES_FILE, "[access_package.fabrikam-audit]");
    for part in [
        "error[needs-licence]: access_package.fabrikam-audit: needs Microsoft Entra ID P2",
        &format!("{PACKAGES_FILE}:{line}:"),
        "error[needs-licence]: access_catalog.guest-access",
        "error[needs-licence]: access_package_assignment.fabrikam-auditor",
        "error[needs-licence]: role_assignment.intune-admins-eligible",
        "Refused (not applied; the rest of the plan is):",
    ] {
        assert!(out.contains(part), "`{part}` not in: {out}");
    }
    assert!(!out.contains("problems matching desired resources"), "not the whole plan: {out}");

    // apply: the removal goes, the refused declarations do not, exit 1.
    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[needs-licence]: access_package.fabrikam-audit"), "{out}");
    assert!(!still_live(&sb, &pra).await, "apply removed the out-of-band Privileged Role Administrator: {out}");
    assert!(ledger_of(work.path()).id(&"access_package.fabrikam-audit".parse().expect("an address")).is_some(), "the refused package stays in the ledger");

    // reconcile --self-heal: a second one is removed in the same pass.
    let again = out_of_band_pra(&sb, work.path()).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(1), "refused declarations are not in sync: {out}");
    assert!(out.contains(&format!("applied: delete role_assignment.out-of-band-{again}")), "{out}");
    assert!(out.contains("refused: access_package.fabrikam-audit [needs-licence]"), "{out}");
    assert!(!still_live(&sb, &again).await, "{out}");
    let report = last_report(work.path());
    assert_eq!(report["in_sync"], json!(false), "{report:#}");
    assert!(report["refused"].as_array().is_some_and(|r| r.len() >= 4), "{report:#}");

    // The licence back: the same desired state converges with nothing refused.
    licences(&sb, "p2").await;
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A policy made in the portal on a declared package, with one
/// assignment through it (adele's); the policy's id.
async fn portal_policy_with_assignment(sb: &sandbox::SandboxHandle, work: &std::path::Path) -> String {
    let package = ledger_id(work, "access_package.fabrikam-audit");
    let body = json!({"displayName": "Portal members", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"}, "accessPackage": {"id": package}});
    let policy = graph(sb, Method::POST, &format!("{EM}/assignmentPolicies"), Some(body)).await["id"].as_str().expect("an id").to_string();
    let adele = ledger_id(work, "user.adele");
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": adele, "assignmentPolicyId": policy, "accessPackageId": package}, "schedule": {"expiration": {"type": "noExpiration"}}});
    graph(sb, Method::POST, &format!("{EM}/assignmentRequests"), Some(add)).await;
    policy
}

/// The ids of the live policies.
async fn policies(sb: &sandbox::SandboxHandle) -> Vec<String> {
    let v: Value = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies"), None).await;
    v["value"].as_array().expect("a list").iter().filter_map(|p| p["id"].as_str().map(str::to_string)).collect()
}

/// A refused policy deletion (the declared policy dropped from desired
/// state while the assignment tenantctl made through it is kept) holds
/// that package's change, naming the assignment; the rest of the plan
/// goes on (here: an out-of-band Privileged Role Administrator is
/// removed). A portal-made policy's assignments are ended instead
/// (`tests/access9_e2e.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_policy_deletion_holds_only_its_package() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, PACKAGES_FILE, |t| {
        let start = t.find("[access_package.fabrikam-audit.policies.external]").expect("the policy");
        t[..start].to_string()
    });
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("removed");
    let pra = out_of_band_pra(&sb, work.path()).await;

    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("- role_assignment.out-of-band-{pra}")), "{out}");
    for part in ["error[policy-in-use]: access_package.fabrikam-audit", "policy `fabrikam auditors` would be deleted, but 1 assignment(s) go through it", "access_package_assignment.fabrikam-auditor"] {
        assert!(out.contains(part), "`{part}` not in: {out}");
    }
    let before = policies(&sb).await;
    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("FAILED"), "nothing fails mid-apply: {out}");
    assert!(!still_live(&sb, &pra).await, "the rest was applied: {out}");
    assert_eq!(policies(&sb).await, before, "the policy in use is kept");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Part 3: the guard sees assignments tenantctl does not otherwise read.
/// With no package assignment declared nor in the ledger, the assignment
/// kind is not read; a portal policy's live assignment is still seen (read
/// by `accessPackage/id`): not refused, it is ended with the policy, and
/// nothing fails at Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_guard_reads_assignments_nothing_declares() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |dir| std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("removed")).await;
    assert!(ledger_of(work.path()).resources.keys().all(|a| a.kind != schema::Kind::AccessPackageAssignment), "nothing of the kind in the ledger");
    let policy = portal_policy_with_assignment(&sb, work.path()).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(!out.contains("error[policy-in-use]") && code != Some(1), "{out}");
    assert!(out.contains("- policies.portal members = ") && out.contains("first ends (adminRemove) the 1 assignment(s) through it"), "{out}");
    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update access_package.fabrikam-audit") && !out.contains("FAILED"), "nothing fails mid-apply: {out}");
    assert!(!policies(&sb).await.contains(&policy), "the policy is gone");
    let v = graph(&sb, Method::GET, &format!("{EM}/assignments"), None).await;
    assert!(!v["value"].as_array().expect("a list").iter().any(|a| a["state"] == json!("delivered")), "Adele's assignment is ended: {v:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Part 4: a package with more groups than Graph puts in one expansion
/// page (the sandbox pages an expanded `resourceRoleScopes` past 20) is
/// read whole: converged, it plans no change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_with_more_role_scopes_than_one_expansion_page_is_read_whole() {
    let sb = sandbox().await;
    let names: Vec<String> = (1..=24).map(|i| format!("audit-extra-{i:02}")).collect();
    let (work, dir) = converged(&sb, |dir| {
        edit_file(dir, PACKAGES_FILE, |t| {
            let list: String = names.iter().map(|n| format!(", \"{n}\"")).collect();
            let mut t = t.replace("groups = [\"fabrikam-audit-guests\"]", &format!("groups = [\"fabrikam-audit-guests\"{list}]"));
            for n in &names {
                t.push_str(&format!("\n[group.{n}]\ndisplay_name = \"{n}\"\nmail_nickname = \"{n}\"\n"));
            }
            t
        })
    })
    .await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let read = graph(&sb, Method::GET, &format!("{EM}/accessPackages/{package}?$expand=resourceRoleScopes($expand=role,scope)"), None).await;
    assert_eq!(read["resourceRoleScopes"].as_array().map(Vec::len), Some(20), "the sandbox pages the expansion: {read:#}");
    assert!(read["resourceRoleScopes@odata.nextLink"].is_string(), "{read:#}");
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "all 25 groups are read: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The sandbox's clock set to `now`, as time passing in the tenant.
async fn clock(sb: &sandbox::SandboxHandle, now: &str) {
    let r = reqwest::Client::new().put(format!("{}/_sandbox/clock", sb.base_url())).json(&json!({"now": now})).send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
}

/// The ids of the members of group `id`.
async fn members(sb: &sandbox::SandboxHandle, id: &str) -> Vec<String> {
    let v = graph(sb, Method::GET, &format!("/v1.0/groups/{id}/members"), None).await;
    v["value"].as_array().expect("a list").iter().filter_map(|m| m["id"].as_str().map(str::to_string)).collect()
}

/// Part 5: an assignment ends by time in the sandbox as in Entra: past
/// its end (the sandbox's clock moved), it is `expired` and its guest
/// leaves the package's group. tenantctl judges it ended: no drift to
/// correct, nothing requested again, and the expired guest is disabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_past_its_end_is_expired_and_judged_ended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let (group, guest, assignment) = (ledger_id(work.path(), "group.fabrikam-audit-guests"), ledger_id(work.path(), "guest.fabrikam-auditor"), ledger_id(work.path(), "access_package_assignment.fabrikam-auditor"));
    assert_eq!(members(&sb, &group).await, std::slice::from_ref(&guest), "delivered");
    let after = "2027-04-01T00:00:00Z";
    clock(&sb, after).await;
    let a = graph(&sb, Method::GET, &format!("{EM}/assignments/{assignment}"), None).await;
    assert_eq!((a["state"].as_str(), a["status"].as_str()), (Some("expired"), Some("Expired")), "{a:#}");
    assert!(members(&sb, &group).await.is_empty(), "the expired assignment's guest left the group");

    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal", "--now", after]);
    assert!(!out.contains("access_package_assignment.fabrikam-auditor"), "an ended assignment is neither drift nor requested again: {out}");
    assert!(out.contains("applied: update guest.fabrikam-auditor"), "the expired guest is disabled: {out}");
    // Judged ended, not unknown: an expired assignment still answers by
    // id, and was read as "not listed yet" (replication lag) before.
    let (code, out) = run(&sb, work.path(), &["drift", d(&dir), "--now", after, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("access_package_assignment.fabrikam-auditor expired at 2027-03-31T17:00:00+00:00; it is not created"), "{out}");
    assert!(!out.contains("not listed yet"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Part 5: a package's later role changes reach the assignments already
/// delivered (Entra re-evaluates them): a group added to the package gets
/// its current assignee, a group removed loses them. The plan sees no
/// drift in either (the groups' members are the package's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_changes_of_a_package_reach_assignments_already_delivered() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let c = client(&sb);
    let guest = ledger_id(work.path(), "guest.fabrikam-auditor");
    let mut ledger = ledger_of(work.path());
    let edit = |t: String, list: &str| t.replace("groups = [\"fabrikam-audit-guests\"]", &format!("groups = [{list}]"));
    edit_file(&dir, PACKAGES_FILE, |t| {
        format!("{}\n[group.audit-evidence]\ndisplay_name = \"Audit evidence\"\nmail_nickname = \"audit-evidence\"\n", edit(t, "\"fabrikam-audit-guests\", \"audit-evidence\""))
    });
    let p = plan(&c, &kind::load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (first, added) = (ledger_id(work.path(), "group.fabrikam-audit-guests"), ledger_id(work.path(), "group.audit-evidence"));
    assert_eq!(members(&sb, &added).await, std::slice::from_ref(&guest), "the assignee joined the group added to the package");
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "no drift: {out}");

    // The group taken out of the package (not out of the catalog): the
    // assignee leaves it and stays in the other.
    edit_file(&dir, PACKAGES_FILE, |t| {
        let (catalog, package) = t.split_at(t.find("[access_package.fabrikam-audit]").expect("the package"));
        format!("{catalog}{}", package.replacen("groups = [\"fabrikam-audit-guests\", \"audit-evidence\"]", "groups = [\"fabrikam-audit-guests\"]", 1))
    });
    let p = plan(&c, &kind::load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    assert!(members(&sb, &added).await.is_empty(), "the assignee left the group removed from the package");
    assert_eq!(members(&sb, &first).await, [guest], "and stays in the package's other group");
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "no drift: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
