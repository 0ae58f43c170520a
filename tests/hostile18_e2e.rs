//! Findings of hostile run 18 the lead fixed, each through the binary.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Findings 3 and 13: what an administrator closed in the portal in an
/// emergency (the guest package's self-service switched off and its end
/// brought forward; guest invitations switched off) is not reopened by
/// `reconcile --self-heal`, though the ledger proves desired state is
/// what was approved: putting it back grants access again, which a person
/// approves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_closing_in_the_portal_is_not_reopened_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let all = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let live: Value = all.into_iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the package's policy");
    let mut body = live.clone();
    if let Some(m) = body.as_object_mut() {
        for k in ["id", "createdDateTime", "modifiedDateTime"] {
            m.remove(k);
        }
    }
    body["accessPackage"] = json!({"id": package});
    body["requestorSettings"]["enableTargetsToSelfAddAccess"] = json!(false);
    body["expiration"] = json!({"type": "afterDateTime", "endDateTime": "2026-12-02T00:00:00Z"});
    graph(&sb, Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{}", live["id"].as_str().expect("an id")), Some(body)).await;
    graph(&sb, Method::PATCH, "/v1.0/policies/authorizationPolicy", Some(json!({"allowInvitesFrom": "none"}))).await;

    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update access_package.fabrikam-audit"), "{out}");
    assert!(out.contains("held: update authorization_policy.tenant"), "{out}");
    assert_eq!(graph(&sb, Method::GET, "/v1.0/policies/authorizationPolicy", None).await["allowInvitesFrom"], json!("none"), "still closed");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 8: the declared policy renamed in the portal (other case) and a
/// look-alike made with the declared name exactly: the older policy is
/// the declared one, so the look-alike (open, its assignment) is what is
/// removed, and the guest's declared assignment through the real policy
/// stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_policy_with_the_exact_name_is_not_taken_for_the_declared_one() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let all = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let real: Value = all.into_iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the package's policy");
    let real_id = real["id"].as_str().expect("an id").to_string();
    let mut body = real.clone();
    if let Some(m) = body.as_object_mut() {
        for k in ["id", "createdDateTime", "modifiedDateTime"] {
            m.remove(k);
        }
    }
    body["accessPackage"] = json!({"id": package});
    body["displayName"] = json!("FABRIKAM AUDITORS");
    graph(&sb, Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{real_id}"), Some(body)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let open = json!({"displayName": "Fabrikam auditors", "description": "x", "allowedTargetScope": "allDirectoryUsers", "specificAllowedTargets": [], "expiration": {"type": "noExpiration"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true}, "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}, "accessPackage": {"id": package}});
    let fake = graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(open)).await["id"].as_str().expect("an id").to_string();
    let megan = ledger_id(work.path(), "user.megan");
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": megan, "assignmentPolicyId": fake, "accessPackageId": package}, "schedule": {"expiration": {"type": "noExpiration"}}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;

    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains(&format!("fabrikam auditors [{fake}]")), "the newer look-alike is the undeclared one: {out}");
    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update access_package.fabrikam-audit") && !out.contains("FAILED"), "{out}");
    let policies = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let mine: Vec<&Value> = policies.iter().filter(|p| p["accessPackage"]["id"] == json!(package)).collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0]["id"], json!(real_id), "the real policy stays");
    assert_eq!(mine[0]["displayName"], json!("Fabrikam auditors"), "its name is put back");
    let assignments = client(&sb).v1().list_all(&format!("{EM}/assignments?$filter=accessPackage/id eq '{package}'&$expand=target")).await.expect("assignments");
    let guest = ledger_id(work.path(), "guest.fabrikam-auditor");
    assert!(assignments.iter().any(|a| a["target"]["objectId"] == json!(guest) && a["state"] == json!("delivered")), "the guest keeps the declared assignment: {assignments:#?}");
    assert!(!assignments.iter().any(|a| a["target"]["objectId"] == json!(megan) && a["state"] == json!("delivered")), "Megan's look-alike assignment is ended: {assignments:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 11: a control deleted in the portal ("Require MFA") is made
/// again as approved, unattended, as a control edited there is put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_deleted_in_the_portal_is_made_again_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("in sync") || out.contains("applied 0"), "{out}");
    let ca = ledger_id(work.path(), "conditional_access.require-mfa");
    graph(&sb, Method::DELETE, &format!("/v1.0/identity/conditionalAccess/policies/{ca}"), None).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: create conditional_access.require-mfa"), "{code:?} {out}");
    let made = ledger_id(work.path(), "conditional_access.require-mfa");
    assert_eq!(graph(&sb, Method::GET, &format!("/v1.0/identity/conditionalAccess/policies/{made}"), None).await["state"], json!("enabled"));
    sb.shutdown().await.expect("the sandbox stops");
}
