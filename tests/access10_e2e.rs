//! Issue 16, the Entra kinds' remaining gaps (access10), through the
//! binary against the sandbox:
//!
//! * PIM rules are written with one PATCH of the policy carrying its
//!   rules: the per-rule update is delegated-only in v1.0, and the sandbox
//!   (application tokens only) refuses it (audit U1).

mod common;

use std::path::Path;

use common::gov::{graph, run};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

async fn pim_policy_id(sb: &sandbox::SandboxHandle, role: &str) -> String {
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"] == json!(role)).and_then(|a| a["policyId"].as_str()).expect("the role's policy").to_string()
}

fn rule<'a>(policy: &'a Value, id: &str) -> &'a Value {
    policy["rules"].as_array().into_iter().flatten().find(|r| r["id"] == json!(id)).expect("the rule")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_rules_are_written_through_the_policy_with_an_application_token() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    sb.reset_counts();
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let counts = sb.request_counts();
    // One PATCH of the policy for the example's one role_policy (alone or
    // in a `$batch`), none per rule.
    let patch = "PATCH /v1.0/policies/roleManagementPolicies/{id}";
    assert_eq!(counts.get(patch) + counts.batch_items.get(patch).copied().unwrap_or(0), 1, "{counts:#?}");
    assert!(!counts.requests.keys().chain(counts.batch_items.keys()).any(|k| k.contains("roleManagementPolicies/{id}/rules")), "{counts:#?}");
    let pid = pim_policy_id(&sb, INTUNE_ADMIN).await;
    let live = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules"), None).await;
    assert_eq!(rule(&live, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT4H"));
    assert_eq!(rule(&live, "Approval_EndUser_Assignment")["setting"]["isApprovalRequired"], json!(true));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The per-rule update answers 403 to the application token the sandbox issues.
    let r = reqwest::Client::new()
        .patch(format!("{}/v1.0/policies/roleManagementPolicies/{pid}/rules/Expiration_EndUser_Assignment", sb.base_url()))
        .bearer_auth(sb.access_token())
        .json(&json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true, "maximumDuration": "PT2H"}))
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(r.status().as_u16(), 403);
    // The policy update refuses what it cannot change and rules the policy lacks.
    for body in [json!({"displayName": "x"}), json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_Nobody"}]})] {
        let r = reqwest::Client::new().patch(format!("{}/v1.0/policies/roleManagementPolicies/{pid}", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}
