//! Issue 16, the access kinds against Graph's documented behaviour:
//!
//! * the packages are listed as v1.0 documents the list (no `$expand`, which
//!   the sandbox refuses there), then read by id with their role scopes,
//!   20 per `$batch`; a package that cannot be read is unknown, never in
//!   sync;
//! * delivering an assignment puts its target in the package's group (and
//!   ending it takes them out), which is not drift; a granted group that
//!   declares its members as well is a located error;
//! * renaming a policy that has assignments is an update of the policy,
//!   and a change that would delete it under its assignments is refused
//!   by the plan, naming both;
//! * export keys policies that slug alike apart, and the assignment names
//!   the right one: the export plans empty.

mod common;

use common::gov::{edit_file, graph};
use common::kind::*;
use common::*;
use engine::{Action, Ledger};
use sandbox::Faults;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";
const PACKAGES_FILE: &str = "access-packages.toml";
const ASSIGNMENTS_FILE: &str = "access-package-assignments.toml";
const PACKAGE: &str = "access_package.fabrikam-audit";
const ASSIGNMENT: &str = "access_package_assignment.fabrikam-auditor";

/// The example in a scratch directory, unattended, with its access
/// package assignments (written back as they are).
fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(example_dir().join(ASSIGNMENTS_FILE)).expect("the example declares assignments");
    kind_scratch(&["access_package", "access_package_assignment"], "issue 16's access kinds", ASSIGNMENTS_FILE, &text)
}

/// The example applied: its client, directory and ledger.
async fn applied(sb: &sandbox::SandboxHandle) -> (providers::graph::GraphClient, tempfile::TempDir, std::path::PathBuf, Ledger) {
    let c = client(sb);
    let (tmp, dir) = scratch();
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    (c, tmp, dir, ledger)
}

/// The status and body of a GET straight to the sandbox.
async fn raw_get(sb: &sandbox::SandboxHandle, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new().get(format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token()).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn members(c: &providers::graph::GraphClient, group: &str) -> Vec<String> {
    c.v1().list_all(&format!("/groups/{group}/members?$select=id")).await.expect("members").iter().filter_map(|m| m["id"].as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_are_listed_as_v1_documents_then_read_by_id_in_batches_and_a_failed_read_is_unknown() {
    let sb = sandbox().await;
    let (c, _tmp, dir, ledger) = applied(&sb).await;
    let package = id_of(&ledger, PACKAGE);

    // The sandbox refuses the list form v1.0 does not document, and serves
    // the documented ones.
    let (status, body) = raw_get(&sb, &format!("/v1.0{EM}/accessPackages?$expand=resourceRoleScopes($expand=role,scope)")).await;
    assert_eq!(status, 400, "{body:#}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("$expand")), "{body:#}");
    assert_eq!(raw_get(&sb, &format!("/v1.0{EM}/accessPackages?$expand=catalog")).await.0, 400);
    assert_eq!(raw_get(&sb, &format!("/v1.0{EM}/accessPackages")).await.0, 200);
    let (status, one) = raw_get(&sb, &format!("/v1.0{EM}/accessPackages/{package}?$expand=catalog,resourceRoleScopes($expand=role,scope)")).await;
    assert_eq!(status, 200, "{one:#}");
    assert_eq!(one["resourceRoleScopes"].as_array().map(Vec::len), Some(1), "{one:#}");

    // A converged plan reads the package by id inside a `$batch`, never
    // one request per package.
    sb.reset_counts();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    assert!(p.changes.is_empty() && p.unknown.is_empty(), "converged: {:#?} {:#?}", p.changes, p.unknown);
    let counts = sb.request_counts();
    let per_package = |m: &std::collections::BTreeMap<String, u64>| m.iter().filter(|(k, _)| k.starts_with("GET /v1.0/identityGovernance/entitlementManagement/accessPackages/{id}")).map(|(_, n)| *n).sum::<u64>();
    assert_eq!((per_package(&counts.batch_items), per_package(&counts.requests)), (1, 0), "{counts:#?}");
    let list = "GET /v1.0/identityGovernance/entitlementManagement/accessPackages";
    assert_eq!(counts.requests.get(list).copied().unwrap_or(0), 0, "the list's first page comes in the listings' batch: {counts:#?}");
    let batches = counts.requests.get("POST /v1.0/$batch").copied().unwrap_or(0);

    // 101 more packages (made in the portal): two pages of the list (100
    // a page, no `$top`: v1.0 documents none), 102 reads by id, 20 per
    // batch (6 batches where there was 1). In a catalog desired state does
    // not declare, granting nothing: left alone (in a declared catalog the
    // plan would remove them, access7_e2e).
    let portal = graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/catalogs"), Some(json!({"displayName": "Portal catalog"}))).await;
    let catalog = portal["id"].as_str().expect("an id").to_string();
    for i in 0..101 {
        graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages"), Some(json!({"displayName": format!("Portal package {i:03}"), "catalog": {"id": catalog}}))).await;
    }
    sb.reset_counts();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    assert!(p.changes.is_empty() && p.unknown.is_empty(), "{:#?}", p.changes);
    let counts = sb.request_counts();
    assert_eq!((per_package(&counts.batch_items), per_package(&counts.requests)), (102, 0), "{counts:#?}");
    assert_eq!(counts.requests.get(list).copied().unwrap_or(0), 1, "the second page: {counts:#?}");
    assert_eq!(counts.requests.get("POST /v1.0/$batch").copied().unwrap_or(0), batches + 5, "{counts:#?}");

    // Every read of a package by id fails (the list still answers): the
    // declared package is unknown, not in sync and not created again;
    // the other kinds plan as before.
    sb.set_faults(Faults { fail_paths: vec![format!("{EM}/accessPackages/")], retry_after_secs: 0, ..Faults::none() }).expect("faults");
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    assert!(changes_of(&p, PACKAGE).is_empty(), "{:#?}", p.changes);
    assert!(p.unknown.iter().any(|u| u.address.to_string() == PACKAGE), "{:#?}", p.unknown);
    assert!(!p.unchanged.iter().any(|a| a.to_string() == PACKAGE), "never in sync");
    assert!(p.changes.is_empty(), "nothing is written on what was not read: {:#?}", p.changes);
    sb.set_faults(Faults::none()).expect("faults");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "converged again once Graph answers");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_assignment_puts_its_target_in_the_package_group_which_is_not_drift() {
    let sb = sandbox().await;
    let (c, _tmp, dir, mut ledger) = applied(&sb).await;
    let (group, guest) = (id_of(&ledger, "group.fabrikam-audit-guests"), id_of(&ledger, "guest.fabrikam-auditor"));
    assert_eq!(members(&c, &group).await, std::slice::from_ref(&guest), "Entra adds the assignee to the package's group");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "the group does not declare its members: the assignee is not drift");

    // The package also grants the Owner role of a second group (added in
    // the portal): a new assignee becomes its owner too.
    let owners_group = graph(&sb, reqwest::Method::POST, "/v1.0/groups", Some(json!({"displayName": "Audit leads", "mailNickname": "audit-leads", "mailEnabled": false, "securityEnabled": true}))).await;
    let owners_group = owners_group["id"].as_str().expect("an id").to_string();
    let catalog = id_of(&ledger, "access_catalog.guest-access");
    let package = id_of(&ledger, PACKAGE);
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/resourceRequests"), Some(json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": owners_group, "originSystem": "AadGroup"}}))).await;
    let role = json!({"role": {"displayName": "Owner", "originId": format!("Owner_{owners_group}"), "originSystem": "AadGroup"}, "scope": {"originId": owners_group, "originSystem": "AadGroup", "isRootScope": true}});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages/{package}/resourceRoleScopes"), Some(role)).await;
    let policies = c.v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let policy = policies.iter().find(|p| p["accessPackage"]["id"] == json!(package)).and_then(|p| p["id"].as_str()).expect("the policy").to_string();
    let second = graph(&sb, reqwest::Method::POST, "/v1.0/invitations", Some(json!({"invitedUserEmailAddress": "lead@fabrikam.example", "inviteRedirectUrl": "https://myapps.microsoft.com", "sendInvitationMessage": false}))).await;
    let second = second["invitedUser"]["id"].as_str().expect("the invited user").to_string();
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": second, "assignmentPolicyId": policy, "accessPackageId": package}, "schedule": {"expiration": {"type": "afterDateTime", "endDateTime": "2027-01-31T17:00:00Z"}}});
    let req = graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;
    let mut owners: Vec<String> = c.v1().list_all(&format!("/groups/{owners_group}/owners?$select=id")).await.expect("owners").iter().filter_map(|m| m["id"].as_str().map(str::to_string)).collect();
    owners.sort();
    let mut both = vec![guest.clone(), second.clone()];
    both.sort();
    // The role added later reached the assignee already delivered too
    // (Entra re-evaluates existing assignments; access5).
    assert_eq!(owners, both, "the Owner role makes each assignee an owner");
    assert_eq!(members(&c, &group).await, both);

    // The portal's assignee ends: out of the owners, and out of the members.
    let request = graph(&sb, reqwest::Method::GET, &format!("/v1.0{EM}/assignmentRequests/{}?$expand=assignment", req["id"].as_str().expect("a request id")), None).await;
    let assignment = request["assignment"]["id"].as_str().expect("the assignment").to_string();
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(json!({"requestType": "adminRemove", "assignment": {"id": assignment}}))).await;
    let owners: Vec<String> = c.v1().list_all(&format!("/groups/{owners_group}/owners?$select=id")).await.expect("owners").iter().filter_map(|m| m["id"].as_str().map(str::to_string)).collect();
    assert_eq!(owners, std::slice::from_ref(&guest), "the ended assignee is no longer an owner");
    assert_eq!(members(&c, &group).await, std::slice::from_ref(&guest));

    // Ended through tenantctl (no longer declared): the guest leaves the group.
    std::fs::remove_file(dir.join(ASSIGNMENTS_FILE)).expect("removed");
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    assert_eq!(changes_of(&p, ASSIGNMENT).iter().map(|c| c.action).collect::<Vec<_>>(), [Action::Delete], "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert!(members(&c, &group).await.is_empty(), "the package no longer grants the group");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty());

    // A granted group that declares its members would fight the package:
    // a located error at its `members`.
    edit_file(&dir, PACKAGES_FILE, |t| t.replacen("mail_nickname = \"fabrikam-audit-guests\"\n", "mail_nickname = \"fabrikam-audit-guests\"\nmembers = []\n", 1));
    let text = std::fs::read_to_string(dir.join(PACKAGES_FILE)).expect("the file");
    let line = text.lines().position(|l| l == "members = []").expect("the members line") + 1;
    assert_error_at(&load_errors(&dir), PACKAGES_FILE, "package-group-members", line);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_a_policy_with_assignments_updates_it_and_deleting_it_under_them_is_refused_by_the_plan() {
    let sb = sandbox().await;
    let (c, _tmp, dir, mut ledger) = applied(&sb).await;
    let package = id_of(&ledger, PACKAGE);
    let assignment = id_of(&ledger, ASSIGNMENT);
    let live_policies = || async {
        let all = c.v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
        all.into_iter().filter(|p| p["accessPackage"]["id"] == json!(package)).map(|p| (p["id"].as_str().unwrap_or_default().to_string(), p["displayName"].as_str().unwrap_or_default().to_string())).collect::<Vec<_>>()
    };
    let before = live_policies().await;
    assert_eq!(before.len(), 1);

    // Renamed: the package is updated, the assignment is untouched.
    edit_file(&dir, PACKAGES_FILE, |t| t.replace("display_name = \"Fabrikam auditors\"", "display_name = \"Fabrikam external auditors\""));
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    // The assignment names the policy by its new name: desired state moved
    // from what was approved, while the tenant's assignment is the same,
    // so it is a ratification (nothing sent to Graph), never a write.
    let writes: Vec<(String, Action)> = p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(writes, [(PACKAGE.to_string(), Action::Update)], "{:#?}", p.changes);
    assert!(p.changes.iter().all(|c| c.address.to_string() == PACKAGE || (c.address.to_string() == ASSIGNMENT && engine::governance::ratify::is_ratify(c))), "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_policies().await, [(before[0].0.clone(), "Fabrikam external auditors".to_string())], "the same policy, renamed in place");
    assert_eq!(id_of(&ledger, ASSIGNMENT), assignment);
    let live = c.v1().list_all(&format!("{EM}/assignments?$expand=target,accessPackage,assignmentPolicy")).await.expect("assignments");
    assert_eq!(live.iter().filter(|a| a["state"] == json!("delivered")).map(|a| a["id"].clone()).collect::<Vec<_>>(), [json!(assignment)], "the assignment was never ended");
    assert!(plan(&c, &load_ok(&dir), &ledger).await.changes.is_empty(), "converged after the rename");

    // Two policies in place of the assigned one: not a rename; deleting
    // the assigned policy would fail mid-apply, so the plan refuses it,
    // naming the policy and the assignment.
    edit_file(&dir, PACKAGES_FILE, |t| {
        let second = "\n[access_package.fabrikam-audit.policies.members]\ndisplay_name = \"Members\"\nallowed_target_scope = \"allMemberUsers\"\nexpiration = { type = \"afterDuration\", duration = \"P30D\" }\n";
        format!("{}{second}", t.replace("display_name = \"Fabrikam external auditors\"", "display_name = \"Fabrikam auditors, second round\""))
    });
    let state = load_ok(&dir);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.expect("read");
    // Refused, not fatal: the package's change is held, named (access5).
    let p = engine::plan(&desired, &observed, &ledger, &opts()).expect("the rest is planned");
    assert!(changes_of(&p, PACKAGE).is_empty(), "{:#?}", p.changes);
    let err: String = p.refused.iter().map(|r| format!("{}: {}\n", r.address, r.reason)).collect();
    for part in [PACKAGE, "fabrikam external auditors", ASSIGNMENT, "1 assignment"] {
        assert!(err.contains(part), "`{part}` not in: {err}");
    }
    assert_eq!(live_policies().await.len(), 1, "nothing was written");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_keys_policies_that_slug_alike_apart_and_the_assignment_names_its_own() {
    let sb = sandbox().await;
    let (c, _tmp, _dir, ledger) = applied(&sb).await;
    let package = id_of(&ledger, PACKAGE);
    // A portal policy whose name slugs like the assigned one's and sorts
    // before it ("fabrikam  auditors" < "fabrikam auditors").
    let portal = json!({"displayName": "Fabrikam  auditors", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "afterDuration", "duration": "P30D"}, "accessPackage": {"id": package}});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(portal)).await;

    let (tmp, out) = export_tenant(&sb);
    let exported = load_ok(&out);
    let (pkg, p) = exported.access_package.iter().find(|(_, d)| d.value.display_name == "Fabrikam audit").expect("the package is exported");
    let keys: Vec<(String, String)> = p.value.policies.iter().map(|(k, v)| (k.clone(), v.display_name.clone())).collect();
    assert_eq!(keys, [("fabrikam-auditors".to_string(), "Fabrikam  auditors".to_string()), ("fabrikam-auditors-2".to_string(), "Fabrikam auditors".to_string())]);
    let a = exported.access_package_assignment.values().next().expect("the assignment is exported");
    assert_eq!((a.value.package.as_str(), a.value.policy.as_str()), (pkg.as_str(), "fabrikam-auditors-2"), "the assignment names the policy it goes through");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // The same tenant exports the same keys again.
    let (_tmp2, out2) = export_tenant(&sb);
    let again = load_ok(&out2);
    let keys_again: Vec<(String, String)> = again.access_package[pkg.as_str()].value.policies.iter().map(|(k, v)| (k.clone(), v.display_name.clone())).collect();
    assert_eq!(keys_again, keys);
    assert_eq!(again.access_package_assignment.values().next().map(|a| a.value.policy.clone()), Some("fabrikam-auditors-2".to_string()));
    sb.shutdown().await.expect("the sandbox stops");
}

#[test]
fn approvers_primary_or_fallback_are_never_service_accounts_nor_people_the_policy_admits() {
    let (_tmp, dir) = scratch();
    // A service account as fallback approver, and the guest the policy
    // admits (an external user) as a second fallback.
    edit_file(&dir, PACKAGES_FILE, |t| t.replace("fallback_primary_approvers = [\"megan\"]", "fallback_primary_approvers = [\"megan\",\n  \"msadmin\",\n  \"fabrikam-auditor\"]"));
    let text = std::fs::read_to_string(dir.join(PACKAGES_FILE)).expect("the file");
    let line = |needle: &str| text.lines().position(|l| l.trim_start().starts_with(needle)).expect("the line") + 1;
    let d = load_errors(&dir);
    assert_error_at(&d, PACKAGES_FILE, "service-account-approver", line("\"msadmin\""));
    assert_error_at(&d, PACKAGES_FILE, "self-approval", line("\"fabrikam-auditor\""));
    assert!(d.to_string().contains("fallback_primary_approvers"), "{d}");

    // The same as a primary approver, through a group holding the service
    // account.
    let (_tmp, dir) = scratch();
    edit_file(&dir, PACKAGES_FILE, |t| {
        t.replace("primary_approvers = [\"adele\"]", "primary_approvers = [\n  \"audit-approvers\"]") + "\n[group.audit-approvers]\ndisplay_name = \"Audit approvers\"\nmail_nickname = \"audit-approvers\"\nmembers = [\"adele\", \"msadmin\"]\n"
    });
    let text = std::fs::read_to_string(dir.join(PACKAGES_FILE)).expect("the file");
    let at = text.lines().position(|l| l.trim_start().starts_with("\"audit-approvers\"")).expect("the line") + 1;
    let d = load_errors(&dir);
    assert_error_at(&d, PACKAGES_FILE, "service-account-approver", at);
    assert!(d.to_string().contains("it holds user.msadmin"), "{d}");
}
