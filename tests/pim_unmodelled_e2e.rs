//! Hostile run 23, finding 13: Graph replaces a PIM rule whole, and the
//! activation approval rule holds settings desired state does not model
//! (approval of extensions, requestor justification, each stage's timeout
//! and escalation). A tightening of `max_duration` rebuilt the approval
//! rule from constants, so the approvers signed "PT4H -> PT2H" and the
//! tenant lost the portal's extension approval and escalation. The update
//! now sends back the live rule (as the plan read it, carried on the
//! change) with only the declared fields changed.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, run};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn approval(policy: &Value) -> Value {
    policy["rules"].as_array().into_iter().flatten().find(|r| r["id"] == json!("Approval_EndUser_Assignment")).expect("the approval rule")["setting"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pim_update_keeps_the_approval_settings_desired_state_does_not_model() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    let pid = v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"] == json!(INTUNE_ADMIN)).and_then(|a| a["policyId"].as_str()).expect("the role's policy").to_string();
    let path = format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules");
    let before = approval(&graph(&sb, Method::GET, &path, None).await);
    let adele = before["approvalStages"][0]["primaryApprovers"].clone();
    let megan = graph(&sb, Method::GET, "/v1.0/users?$filter=startswith(displayName,'Megan')", None).await["value"][0]["id"].as_str().expect("Megan").to_string();

    // The portal hardens activation: extending needs approval too, and a
    // request nobody answers in 2 hours escalates to Megan.
    let hardened = json!({
        "isApprovalRequired": true,
        "isApprovalRequiredForExtension": true,
        "isRequestorJustificationRequired": true,
        "approvalMode": "SingleStage",
        "approvalStages": [{"approvalStageTimeOutInDays": 2, "isApproverJustificationRequired": true, "escalationTimeInMinutes": 120, "isEscalationEnabled": true,
            "primaryApprovers": adele, "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": megan}]}],
    });
    let body = json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment", "setting": hardened}]});
    graph(&sb, Method::PATCH, &format!("/v1.0/policies/roleManagementPolicies/{pid}"), Some(body)).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "settings desired state does not model are not drift: {out}");

    // A pull request tightens the activation's duration only.
    edit_file(&dir, "role-policies.toml", |t| t.replacen("max_duration = \"PT4H\"", "max_duration = \"PT2H\"", 1));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PT4H") && out.contains("PT2H") && !out.contains("isApprovalRequiredForExtension"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let live = graph(&sb, Method::GET, &path, None).await;
    let after = approval(&live);
    assert_eq!(after["isApprovalRequiredForExtension"], json!(true), "{after}");
    let stage = &after["approvalStages"][0];
    assert_eq!((stage["isEscalationEnabled"].clone(), stage["escalationTimeInMinutes"].clone(), stage["approvalStageTimeOutInDays"].clone()), (json!(true), json!(120), json!(2)), "{after}");
    assert_eq!(stage["escalationApprovers"][0]["userId"], json!(megan), "{after}");
    assert_eq!(stage["primaryApprovers"], adele, "{after}");
    let duration = live["rules"].as_array().into_iter().flatten().find(|r| r["id"] == json!("Expiration_EndUser_Assignment")).expect("the duration rule")["maximumDuration"].clone();
    assert_eq!(duration, json!("PT2H"));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
