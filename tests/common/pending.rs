//! Waiting access-package requests in the tests of access17 and access18:
//! a policy's id, the plan's warnings naming waiting requests, and how
//! many requests for requests and policies the sandbox counted.

use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::json;

use super::gov::graph;

/// Entitlement management's base path (v1.0).
pub const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// The id of the policy of `package` named `name`.
pub async fn policy_id(sb: &SandboxHandle, package: &str, name: &str) -> String {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package) && p["displayName"] == json!(name)).and_then(|p| p["id"].as_str()).expect("the policy").to_string()
}

/// The plan's waiting-requests warnings (the lines naming them), or "".
pub fn warning(out: &str) -> String {
    out.lines().filter(|l| l.contains("already waiting for approval")).collect::<Vec<_>>().join("\n")
}

/// Requests for access-package requests and policies, the sandbox's count
/// (direct and inside `$batch`).
pub fn reads(sb: &SandboxHandle) -> u64 {
    let c = sb.request_counts();
    c.requests.iter().chain(&c.batch_items).filter(|(k, _)| k.contains("assignmentRequests") || k.contains("assignmentPolicies")).map(|(_, n)| *n).sum()
}
