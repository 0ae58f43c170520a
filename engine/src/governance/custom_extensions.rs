//! Custom workflow extensions of an access package catalog (issue 16):
//! each is a Logic App outside the tenant that Entra calls, with the
//! request's and the requester's details, at a stage of every request or
//! assignment. Adding one, or pointing one at another Logic App or
//! another authentication, is sensitive whatever else the change does;
//! taking one away or renaming it is not (by this rule).

use serde_json::Value;

use crate::plan::Change;

/// The catalog prop that holds the extensions (providers'
/// `access_catalog_extensions::PROP`).
pub const FIELD: &str = "customWorkflowExtensions";
/// What says where an extension calls and how it authenticates.
const CALLS: &[&str] = &["subscriptionId", "resourceGroupName", "logicAppWorkflowName", "url", "authentication", "resourceId"];

fn entries(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn target(e: &Value) -> Vec<&Value> {
    CALLS.iter().map(|k| e.get(*k).unwrap_or(&Value::Null)).collect()
}

/// Why the change is sensitive: an extension added or its endpoint or
/// authentication changed (matched by display name, without case).
pub fn reason(change: &Change) -> Option<String> {
    let f = change.fields.iter().find(|f| f.field == FIELD)?;
    // Put back exactly as approved and last applied (the ledger proves
    // it): the approved endpoints, not a re-pointing (hostile run 26,
    // finding 2); the rest of the change is judged as a restore
    // (`super::tightens`).
    if super::tightens::restores(change) {
        return None;
    }
    let name = |e: &Value| e.get("displayName").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let changed: Vec<String> = entries(f.after.as_ref())
        .filter(|e| !entries(f.before.as_ref()).any(|b| name(b) == name(e) && target(b) == target(e)))
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let url = e.get("url").and_then(Value::as_str).map(|u| format!(", URL {u}")).unwrap_or_default();
            format!("`{}` -> Logic App {} (subscription {}, resource group {}{url}, {})", s("displayName"), s("logicAppWorkflowName"), s("subscriptionId"), s("resourceGroupName"), s("authentication"))
        })
        .collect();
    (!changed.is_empty()).then(|| format!("custom workflow extension added or re-pointed on {} (Entra calls code outside the tenant on each request): {}", change.address, changed.join("; ")))
}
