//! Issue 16, the access packages' last unmodelled parts (access12),
//! through the binary against the sandbox:
//!
//! * packages naming each other as incompatible, in a ring (a -> b -> c
//!   -> a) or both ways, validate, plan and apply: a link is a `$ref`
//!   written once both packages exist, not an order between their creates
//!   (hostile 23/6);
//! * the waiting-requests warning says one request in the singular;
//! * the sandbox holds a catalog's custom workflow extensions and checks a
//!   policy's custom extension stages as Graph does (a stage of
//!   `accessPackageCustomExtensionStage`, an extension of the policy's own
//!   catalog).

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["value"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str()).map(str::to_string).collect();
    out.sort();
    out
}

fn package(key: &str, names: &[&str]) -> String {
    let listed: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[access_package.{key}]\ndisplay_name = \"Ring {key}\"\ncatalog = \"guest-access\"\ngroups = []\nincompatible_packages = [{}]\n\n", listed.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_naming_each_other_in_a_ring_or_both_ways_apply_and_converge() {
    // A ring (c names a, whose key sorts first), and a pair both ways.
    let text = [package("ring-a", &["ring-b"]), package("ring-b", &["ring-c"]), package("ring-c", &["ring-a"]), package("pair-x", &["pair-w"]), package("pair-w", &["pair-x"])].concat();
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access12", "ring.toml", &text);
    let root = work.path();
    let (code, out) = run(&sb, root, &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, root, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("dependency cycle"), "{out}");
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let id = |k: &str| id_of(&ledger, &format!("access_package.{k}"));
    let linked = |from: String| {
        let sb = &sb;
        async move { ids(&graph(sb, Method::GET, &format!("{EM}/accessPackages/{from}/incompatibleAccessPackages"), None).await) }
    };
    for (from, to) in [("ring-a", "ring-b"), ("ring-b", "ring-c"), ("ring-c", "ring-a"), ("pair-x", "pair-w"), ("pair-w", "pair-x")] {
        assert_eq!(linked(id(from)).await, vec![id(to)], "{from} -> {to}");
    }
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A package that exists names one made later (whose key sorts after
    // it): the new one's create writes the existing one's link.
    edit_file(&dir, "ring.toml", |t| {
        t.replace("incompatible_packages = [\"ring-b\"]", "incompatible_packages = [\"ring-b\", \"ring-z\"]") + &package("ring-z", &[])
    });
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let id = |k: &str| id_of(&ledger, &format!("access_package.{k}"));
    let mut want = vec![id("ring-b"), id("ring-z")];
    want.sort();
    assert_eq!(linked(id("ring-a")).await, want);
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Export writes the ring back by key, and it re-plans empty.
    let c = client(&sb);
    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let key_of = |name: &str| e.access_package.iter().find(|(_, p)| p.value.display_name == name).map(|(k, _)| k.to_string()).expect("exported");
    let c_toml = e.access_package.values().find(|p| p.value.display_name == "Ring ring-c").expect("exported");
    assert_eq!(c_toml.value.incompatible_packages, Some(vec![key_of("Ring ring-a")]));
    assert_export_replans_empty(&c, &tmp, &exported).await;
    sb.shutdown().await.expect("the sandbox stops");
}

async fn policy_id(sb: &sandbox::SandboxHandle, package: &str, name: &str) -> String {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package) && p["displayName"] == json!(name)).and_then(|p| p["id"].as_str()).expect("the policy").to_string()
}

/// An external user made in the portal: its id.
async fn external_user(sb: &sandbox::SandboxHandle, upn: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/objects/users", sb.base_url()))
        .json(&json!({"displayName": upn, "userPrincipalName": upn, "mail": "partner@fabrikam.com", "userType": "Guest", "accountEnabled": true}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Value>().await.expect("the user")["id"].as_str().expect("its id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_requests_warning_counts_in_the_plural() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access12", "extra.toml", "[group.access12-extra]\ndisplay_name = \"access12 extra\"\nmail_nickname = \"access12-extra\"\n");
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let policy = policy_id(&sb, &package, "Fabrikam auditors").await;
    for upn in ["one_fabrikam.com#EXT#@contoso.onmicrosoft.com", "two_fabrikam.com#EXT#@contoso.onmicrosoft.com"] {
        let user = external_user(&sb, upn).await;
        sb.add_pending_request(&package, &policy, &user).expect("the request waits");
    }
    let off = json!({"requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}});
    patch_out_of_band(&sb, "accessPackageAssignmentPolicies", &policy, off).await;
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 requests already waiting for approval through it are not re-checked by Entra"), "{out}");
    assert!(!out.contains("request(s) already waiting"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The status the sandbox answers `method path` with `body`, and the body.
async fn call(sb: &sandbox::SandboxHandle, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

fn extension(kind: &str) -> Value {
    json!({
        "@odata.type": format!("#microsoft.graph.{kind}"),
        "displayName": format!("{kind} hook"),
        "description": "calls the onboarding Logic App",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.logicAppTriggerEndpointConfiguration", "subscriptionId": "38ab2ccc-3747-4567-b36b-9478f5602f0d", "resourceGroupName": "governance", "logicAppWorkflowName": "elm-onboarding"},
        "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_holds_custom_extensions_and_checks_policy_stages_as_graph_does() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(work.path());
    let (catalog, package) = (id_of(&ledger, "access_catalog.guest-access"), id_of(&ledger, "access_package.fabrikam-audit"));
    let hooks = format!("{EM}/catalogs/{catalog}/customWorkflowExtensions");

    // An extension says which kind it is, calls a Logic App, authenticates;
    // only a request extension takes a callback.
    let mut untyped = extension("accessPackageAssignmentRequestWorkflowExtension");
    untyped.as_object_mut().expect("an object").remove("@odata.type");
    let mut no_app = extension("accessPackageAssignmentRequestWorkflowExtension");
    no_app["endpointConfiguration"].as_object_mut().expect("an object").remove("logicAppWorkflowName");
    let mut no_auth = extension("accessPackageAssignmentWorkflowExtension");
    no_auth["authenticationConfiguration"] = json!({"@odata.type": "#microsoft.graph.basicAuthentication"});
    let mut callback = extension("accessPackageAssignmentWorkflowExtension");
    callback["callbackConfiguration"] = json!({"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"});
    for body in [untyped, no_app, no_auth, callback] {
        assert_eq!(call(&sb, Method::POST, &hooks, body.clone()).await.0, 400, "{body}");
    }
    let mut request = extension("accessPackageAssignmentRequestWorkflowExtension");
    request["callbackConfiguration"] = json!({"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"});
    let (code, made) = call(&sb, Method::POST, &hooks, request).await;
    assert_eq!(code, 201, "{made}");
    let hook = made["id"].as_str().expect("its id").to_string();
    assert_eq!(ids(&graph(&sb, Method::GET, &hooks, None).await), vec![hook.clone()]);
    assert_eq!(call(&sb, Method::PUT, &format!("{hooks}/{hook}"), json!({"displayName": "renamed hook"})).await.0, 204);
    assert_eq!(graph(&sb, Method::GET, &format!("{hooks}/{hook}"), None).await["displayName"], json!("renamed hook"));
    assert_eq!(call(&sb, Method::PUT, &format!("{hooks}/{hook}"), json!({"@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension"})).await.0, 400);

    // Another catalog's extension.
    let (code, other) = call(&sb, Method::POST, &format!("{EM}/catalogs"), json!({"displayName": "Other catalog", "description": "elsewhere"})).await;
    assert_eq!(code, 201, "{other}");
    let other = other["id"].as_str().expect("its id").to_string();
    let (code, foreign) = call(&sb, Method::POST, &format!("{EM}/catalogs/{other}/customWorkflowExtensions"), extension("accessPackageAssignmentWorkflowExtension")).await;
    assert_eq!(code, 201, "{foreign}");
    let foreign = foreign["id"].as_str().expect("its id").to_string();

    // A policy's stages: Graph's stage names, its own catalog's extensions.
    let policy = |stage: &str, hook: &str| json!({"displayName": "Hooked", "description": "calls out", "accessPackage": {"id": package}, "customExtensionStageSettings": [{"stage": stage, "customExtension": {"id": hook}}]});
    assert_eq!(call(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), policy("assignmentRequestDenied", &hook)).await.0, 400);
    assert_eq!(call(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), policy("assignmentRequestCreated", &foreign)).await.0, 400);
    let (code, made) = call(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), policy("assignmentRequestCreated", &hook)).await;
    assert_eq!(code, 201, "{made}");
    // An extension a stage calls is not deleted; one no stage calls is.
    assert_eq!(call(&sb, Method::DELETE, &format!("{hooks}/{hook}"), Value::Null).await.0, 400);
    assert_eq!(call(&sb, Method::DELETE, &format!("{EM}/catalogs/{other}/customWorkflowExtensions/{foreign}"), Value::Null).await.0, 204);
    sb.shutdown().await.expect("the sandbox stops");
}
