//! Requests already waiting under a policy the plan narrows.
//!
//! Narrowing an assignment policy (fewer people may request, self-requests
//! turned off, approval or an approval stage added) changes what Entra
//! admits from then on; requests already waiting for an approver are
//! neither re-checked nor cancelled, so an approver can still grant what
//! the policy no longer admits. The plan says so, naming them: for each
//! declared package matched live (the ledger's id, else its name) one of
//! whose policies the plan narrows, its requests are listed as "List
//! assignmentRequests" (v1.0) documents for one package
//! (`$expand=accessPackage&$filter=accessPackage/id eq '{id}'`, with
//! `requestor` expanded too, also documented there), and those of type
//! `userAdd` still waiting (`submitted`, `pendingApproval`, `scheduled`:
//! the v1.0 `accessPackageRequestState` members before a decision) are
//! listed in a plan warning. The page documents no filter on `state` or
//! `requestType`, so those are checked here, not asked of Graph. A request
//! does not say which policy it came through without the undocumented
//! nested expansion of its assignment's policy, so the warning names the
//! package's waiting requests and the policy narrowed.
//!
//! Costs nothing unless a policy is narrowed: one listing per such
//! package. A listing that fails (after the client's retries) is said in
//! the warning, never taken as "none waiting"; only an authentication
//! failure fails the plan.

use std::collections::BTreeMap;

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::Value;

use super::access_package_assignment::REQUESTS;
use super::registry::lit;
use super::str_field;
use crate::graph::{GraphClient, GraphError};

/// The states of a request no one has decided yet.
const WAITING: &[&str] = &["submitted", "pendingApproval", "scheduled"];

/// Where a package's props hold its policies, by lowercased name.
const POLICIES: &str = "policies";

/// Which scopes admit everyone another admits (`allowedTargetScope`).
fn covers(wide: &str, narrow: &str) -> bool {
    wide == narrow
        || match wide {
            "allDirectoryAndExternalUsers" => !narrow.contains("ServicePrincipal") && !narrow.contains("AgentIdentities") && narrow != "notSpecified",
            "allDirectoryUsers" => ["allMemberUsers", "specificDirectoryUsers"].contains(&narrow),
            "allExternalUsers" => ["specificConnectedOrganizationUsers", "allConfiguredConnectedOrganizationUsers"].contains(&narrow),
            "allConfiguredConnectedOrganizationUsers" => narrow == "specificConnectedOrganizationUsers",
            "allDirectoryServicePrincipals" => narrow == "specificDirectoryServicePrincipals",
            _ => false,
        }
}

fn flag(p: &Value, pointer: &str) -> bool {
    p.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}

fn stages(p: &Value) -> usize {
    p.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).map_or(0, Vec::len)
}

/// How the declared policy `want` narrows the live one `have`, if it does.
pub fn narrowing(want: &Value, have: &Value) -> Vec<String> {
    let mut why = Vec::new();
    let (ws, hs) = (str_field(want, "allowedTargetScope"), str_field(have, "allowedTargetScope"));
    if !covers(ws, hs) {
        why.push(format!("who may request goes from {hs} to {ws}"));
    } else if ws == hs && ws.starts_with("specific") {
        let kept = want.get("specificAllowedTargets").and_then(Value::as_array).cloned().unwrap_or_default();
        let dropped = have.get("specificAllowedTargets").and_then(Value::as_array).into_iter().flatten().filter(|t| !kept.contains(t)).count();
        if dropped > 0 {
            why.push(format!("{dropped} of its allowed requestors taken out"));
        }
    }
    // Settings desired state leaves out are not changed by the plan.
    let declared = want.get("requestorSettings").is_some_and(Value::is_object);
    if declared && flag(have, "/requestorSettings/enableTargetsToSelfAddAccess") && !flag(want, "/requestorSettings/enableTargetsToSelfAddAccess") {
        why.push("requestors may no longer ask for themselves".into());
    }
    let approval = "/requestApprovalSettings/isApprovalRequiredForAdd";
    if flag(want, approval) && !flag(have, approval) {
        why.push("approval is now required".into());
    } else if flag(want, approval) && stages(want) > stages(have) {
        why.push(format!("approval goes from {} to {} stage(s)", stages(have), stages(want)));
    }
    why
}

/// The declared packages matched live, each with the narrowed policies'
/// names and why.
fn narrowed<'a>(desired: &DesiredModel, ledger: &Ledger, live: &'a [LiveObject]) -> Vec<(String, &'a LiveObject, Vec<String>)> {
    let mut out = Vec::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage) {
        let id = ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        let (Some(want), Some(have)) = (r.props.get(POLICIES).and_then(Value::as_object), o.props.get(POLICIES).and_then(Value::as_object)) else { continue };
        let mut said = Vec::new();
        for (name, w) in want {
            let Some(h) = have.get(name) else { continue };
            let why = narrowing(w, h);
            if !why.is_empty() {
                said.push(format!("policy `{}` ({})", str_field(w, "displayName"), why.join("; ")));
            }
        }
        if !said.is_empty() {
            out.push((r.address.to_string(), o, said));
        }
    }
    out
}

/// The package's `userAdd` requests still waiting, as `who (request id)`,
/// in a stable order.
async fn waiting(client: &GraphClient, package: &str) -> Result<Vec<String>, GraphError> {
    let filter = crate::apply::urlencode(&format!("accessPackage/id eq {}", lit(package)));
    let listed = client.v1().list_all(&format!("{REQUESTS}?$expand=accessPackage,requestor&$filter={filter}")).await?;
    let mut who: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in listed.iter().filter(|r| str_field(r, "requestType") == "userAdd" && WAITING.contains(&str_field(r, "state"))) {
        let subject = r.get("requestor").cloned().unwrap_or(Value::Null);
        let name = [str_field(&subject, "principalName"), str_field(&subject, "displayName"), str_field(&subject, "objectId")].into_iter().find(|s| !s.is_empty()).unwrap_or("an unknown requestor").to_string();
        let id = str_field(r, "id").to_string();
        who.insert((name.to_lowercase(), id.clone()), format!("{name} ({id}, {})", str_field(r, "state")));
    }
    Ok(who.into_values().collect())
}

/// "1 request already waiting ... is not re-checked", "2 requests ...
/// are not re-checked".
fn waiting_said(n: usize) -> String {
    let (noun, verb) = if n == 1 { ("request", "is") } else { ("requests", "are") };
    format!("{n} {noun} already waiting for approval on the package {verb} not re-checked by Entra and")
}

/// Warn, for each package whose policy the plan narrows, of the requests
/// already waiting on it. Only an authentication failure is an error.
pub async fn read(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState) -> Result<(), GraphError> {
    if observed.unreadable.contains_key(&Kind::AccessPackage) {
        return Ok(());
    }
    let live = observed.objects.get(&Kind::AccessPackage).cloned().unwrap_or_default();
    for (address, o, said) in narrowed(desired, ledger, &live) {
        let narrowed = said.join(", ");
        match waiting(client, &o.id).await {
            Ok(who) if who.is_empty() => {}
            Ok(who) => observed.warnings.push(format!(
                "{address}: this plan narrows {narrowed}, but {} can still be approved: {}. Approvers: deny those the narrowed policy no longer admits",
                waiting_said(who.len()),
                who.join(", ")
            )),
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => observed.warnings.push(format!(
                "{address}: this plan narrows {narrowed}; the requests waiting for approval on the package could not be read ({e}), so any already waiting are not shown: approvers should check them"
            )),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn narrowing_is_told_from_widening() {
        let base = json!({"allowedTargetScope": "allExternalUsers", "requestorSettings": {"enableTargetsToSelfAddAccess": true}, "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{}]}});
        assert!(narrowing(&base, &base).is_empty());
        let mut wider = base.clone();
        wider["allowedTargetScope"] = json!("allDirectoryAndExternalUsers");
        assert!(narrowing(&wider, &base).is_empty(), "a wider scope narrows nothing");
        assert_eq!(narrowing(&base, &wider), vec!["who may request goes from allDirectoryAndExternalUsers to allExternalUsers".to_string()]);
        let mut two = base.clone();
        two["requestApprovalSettings"]["stages"] = json!([{}, {}]);
        assert_eq!(narrowing(&two, &base), vec!["approval goes from 1 to 2 stage(s)".to_string()]);
        let mut open = base.clone();
        open["requestApprovalSettings"]["isApprovalRequiredForAdd"] = json!(false);
        assert_eq!(narrowing(&base, &open), vec!["approval is now required".to_string()]);
        let mut closed = base.clone();
        closed["requestorSettings"]["enableTargetsToSelfAddAccess"] = json!(false);
        assert_eq!(narrowing(&closed, &base), vec!["requestors may no longer ask for themselves".to_string()]);
        let specific = |t: Value| json!({"allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": t});
        assert_eq!(narrowing(&specific(json!(["a"])), &specific(json!(["a", "b"]))), vec!["1 of its allowed requestors taken out".to_string()]);
        assert!(narrowing(&specific(json!(["a", "b"])), &specific(json!(["a"]))).is_empty());
    }
}
