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
