//! Issue 16, custom extensions of Entra ID Governance catalogs, tenantctl's
//! side (access13), through the binary against the sandbox:
//!
//! * a catalog's `custom_workflow_extensions` (Logic Apps Entra calls at
//!   stages of a request or before an assignment expires) are validated
//!   with located errors, created, updated, deleted, diffed (one made in
//!   the portal is drift) and exported; the export re-plans empty;
//! * adding one, or pointing one at another Logic App, is sensitive: it
//!   calls code outside the tenant on each request.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const FILE: &str = "access-packages.toml";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const ONBOARD: &str = r#"
[access_catalog.guest-access.custom_workflow_extensions.onboard]
display_name = "Onboard guest"
description = "Tells the audit team a guest asked"
type = "request"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-onboarding"
timeout = "PT60M"
"#;

const OFFBOARD: &str = r#"
[access_catalog.guest-access.custom_workflow_extensions.offboard]
display_name = "Offboard guest"
type = "assignment"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-offboarding"
authentication = "azureAdTokenAuthentication"
resource_id = "0b9b3f1e-5b8a-4b7e-9a53-1c6f0f4c2d11"
"#;

/// The catalog's extensions as Graph lists them, by display name.
async fn hooks(sb: &sandbox::SandboxHandle, catalog: &str) -> Vec<Value> {
    let mut v: Vec<Value> = graph(sb, Method::GET, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), None).await["value"].as_array().cloned().unwrap_or_default();
    v.sort_by_key(|e| e["displayName"].as_str().unwrap_or_default().to_string());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_custom_workflow_extensions_are_refused_where_they_are_declared() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    edit_file(&dir, FILE, |t| t + ONBOARD + OFFBOARD);
    let (code, out) = run(&sb, work.path(), &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    for (from, to, said) in [
        ("type = \"request\"", "type = \"approval\"", "custom workflow extension `onboard`: type `approval` is not one of request, assignment"),
        ("subscription_id = \"38ab2ccc-3747-4567-b36b-9478f5602f0d\"\nresource_group_name = \"governance\"\nlogic_app_workflow_name = \"elm-onboarding\"", "subscription_id = \"prod\"\nresource_group_name = \"governance\"\nlogic_app_workflow_name = \"elm-onboarding\"", "subscription_id `prod` is not an Azure subscription id"),
        ("logic_app_workflow_name = \"elm-offboarding\"", "logic_app_workflow_name = \" \"", "`offboard`: logic_app_workflow_name must not be empty"),
        ("timeout = \"PT60M\"", "timeout = \"PT2M\"", "timeout `PT2M` is outside Graph's range for entitlement management, PT5M to P14D"),
        ("timeout = \"PT60M\"", "timeout = \"P15D\"", "timeout `P15D` is outside Graph's range"),
        ("timeout = \"PT60M\"", "timeout = \"an hour\"", "timeout `an hour` is not an ISO 8601 duration"),
        ("resource_id = \"0b9b3f1e-5b8a-4b7e-9a53-1c6f0f4c2d11\"", "timeout = \"PT1H\"", "`offboard`: an assignment extension takes no callback timeout"),
        ("authentication = \"azureAdTokenAuthentication\"", "authentication = \"basicAuthentication\"", "authentication `basicAuthentication` is not one of azureAdPopTokenAuthentication, azureAdTokenAuthentication"),
        ("resource_id = \"0b9b3f1e-5b8a-4b7e-9a53-1c6f0f4c2d11\"", "# resource_id left out", "azureAdTokenAuthentication needs resource_id"),
        ("display_name = \"Offboard guest\"", "display_name = \"ONBOARD GUEST\"", "`onboard`: display name `Onboard guest` is used by another extension of the catalog"),
    ] {
        edit_file(&dir, FILE, |t| t.replace(from, to));
        let (code, out) = run(&sb, work.path(), &["validate", d(&dir)]);
        assert_ne!(code, Some(0), "{to}: {out}");
        assert!(out.contains(said) && out.contains("access-packages.toml:"), "{to}: {out}");
        edit_file(&dir, FILE, |t| t.replace(to, from));
    }
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_workflow_extensions_are_created_updated_deleted_and_exported() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let catalog = id_of(&ledger_of(root), "access_catalog.guest-access");
    assert!(hooks(&sb, &catalog).await.is_empty());

    // Created: adding them is sensitive (a Logic App outside the tenant).
    edit_file(&dir, FILE, |t| t + ONBOARD + OFFBOARD);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("custom workflow extension added or re-pointed on access_catalog.guest-access") && out.contains("`Onboard guest` -> Logic App elm-onboarding"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let live = hooks(&sb, &catalog).await;
    assert_eq!(live.len(), 2, "{live:#?}");
    let (off, on) = (&live[0], &live[1]);
    assert_eq!(on["@odata.type"], json!("#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension"));
    assert_eq!(on["endpointConfiguration"]["logicAppWorkflowName"], json!("elm-onboarding"));
    assert_eq!(on["authenticationConfiguration"]["@odata.type"], json!("#microsoft.graph.azureAdPopTokenAuthentication"));
    // The CSDL's name of the timeout, in Graph's canonical form.
    assert_eq!(on["callbackConfiguration"]["timeoutDuration"], json!("PT1H"), "{on:#}");
    assert_eq!(off["@odata.type"], json!("#microsoft.graph.accessPackageAssignmentWorkflowExtension"));
    assert_eq!(off["authenticationConfiguration"], json!({"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": "0b9b3f1e-5b8a-4b7e-9a53-1c6f0f4c2d11"}));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Updated: another Logic App is sensitive; the extension keeps its id.
    let id = on["id"].clone();
    edit_file(&dir, FILE, |t| t.replace("elm-onboarding", "elm-onboarding-v2").replace("timeout = \"PT60M\"", "timeout = \"P1D\""));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("`Onboard guest` -> Logic App elm-onboarding-v2") && !out.contains("`Offboard guest` -> Logic App"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let live = hooks(&sb, &catalog).await;
    assert_eq!(live[1]["id"], id);
    assert_eq!(live[1]["endpointConfiguration"]["logicAppWorkflowName"], json!("elm-onboarding-v2"));
    assert_eq!(live[1]["callbackConfiguration"]["timeoutDuration"], json!("P1D"));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // One made in the portal is drift, deleted; so is one no longer declared.
    let portal = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension", "displayName": "Portal hook",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.logicAppTriggerEndpointConfiguration", "subscriptionId": "38ab2ccc-3747-4567-b36b-9478f5602f0d", "resourceGroupName": "governance", "logicAppWorkflowName": "elsewhere"},
        "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
    });
    graph(&sb, Method::POST, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), Some(portal)).await;
    edit_file(&dir, FILE, |t| t.replace(OFFBOARD, ""));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("Portal hook") && out.contains("Offboard guest"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let names: Vec<Value> = hooks(&sb, &catalog).await.iter().map(|e| e["displayName"].clone()).collect();
    assert_eq!(names, vec![json!("Onboard guest")]);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Exported as declared, and the export re-plans empty.
    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let c = e.access_catalog.values().find(|c| c.value.display_name == "Guest access").expect("the catalog is exported");
    let ext = c.value.custom_workflow_extensions.as_ref().and_then(|x| x.get("onboard-guest")).expect("its extension is exported");
    assert_eq!((ext.kind.as_str(), ext.logic_app_workflow_name.as_str(), ext.timeout.as_deref()), ("request", "elm-onboarding-v2", Some("P1D")));
    assert_export_replans_empty(&client(&sb), &tmp, &exported).await;
    sb.shutdown().await.expect("the sandbox stops");
}
