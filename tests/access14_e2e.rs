//! Issue 16, the custom extension stages of access package policies
//! (access14), through the binary against the sandbox:
//!
//! * a policy's `custom_extension_stages` (Graph's
//!   `customExtensionStageSettings`) name extensions of the package's
//!   catalog by key, are validated with located errors, written with the
//!   extension's id, read back expanded, diffed (a stage added in the
//!   portal is drift the plan puts back), exported and adopted; adding one
//!   is sensitive; an extension is made before a policy calls it and
//!   deleted only after the policy stops calling it;
//! * an extension the plan deletes while a policy it does not change (one
//!   made in the portal) still calls it holds the catalog's change in the
//!   plan, naming the policy, instead of failing at apply.

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

const HOOKS: &str = r#"
[access_catalog.guest-access.custom_workflow_extensions.onboard]
display_name = "Onboard guest"
type = "request"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-onboarding"

[access_catalog.guest-access.custom_workflow_extensions.offboard]
display_name = "Offboard guest"
type = "assignment"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-offboarding"
"#;

const OFFBOARD: &str = r#"
[access_catalog.guest-access.custom_workflow_extensions.offboard]
display_name = "Offboard guest"
type = "assignment"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-offboarding"
"#;

const CREATED: &str = r#"
[[access_package.fabrikam-audit.policies.external.custom_extension_stages]]
stage = "assignmentRequestCreated"
extension = "onboard"
"#;

const EXPIRING: &str = r#"
[[access_package.fabrikam-audit.policies.external.custom_extension_stages]]
stage = "assignmentOneDayBeforeExpiration"
extension = "offboard"
"#;

async fn call(sb: &sandbox::SandboxHandle, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

/// The catalog's extensions, by display name.
async fn hooks(sb: &sandbox::SandboxHandle, catalog: &str) -> Vec<Value> {
    let mut v: Vec<Value> = graph(sb, Method::GET, &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"), None).await["value"].as_array().cloned().unwrap_or_default();
    v.sort_by_key(|e| e["displayName"].as_str().unwrap_or_default().to_string());
    v
}

/// The package's one policy, its stages expanded as the docs read them.
async fn policy(sb: &sandbox::SandboxHandle, package: &str) -> Value {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage,customExtensionStageSettings($expand=customExtension)"), None).await;
    let mine: Vec<Value> = all["value"].as_array().into_iter().flatten().filter(|p| p["accessPackage"]["id"] == json!(package)).cloned().collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    mine[0].clone()
}

/// `(stage, extension display name)` of a policy, sorted.
fn stages(p: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p["customExtensionStageSettings"].as_array().into_iter().flatten().map(|s| (s["stage"].as_str().unwrap_or_default().to_string(), s["customExtension"]["displayName"].as_str().unwrap_or_default().to_string())).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_custom_extension_stages_are_refused_where_they_are_declared() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let other = "\n[access_catalog.other]\ndisplay_name = \"Other\"\n\n[access_catalog.other.custom_workflow_extensions.elsewhere]\ndisplay_name = \"Elsewhere\"\ntype = \"request\"\nsubscription_id = \"38ab2ccc-3747-4567-b36b-9478f5602f0d\"\nresource_group_name = \"governance\"\nlogic_app_workflow_name = \"elm-elsewhere\"\n";
    edit_file(&dir, FILE, |t| t + HOOKS + other + CREATED + EXPIRING);
    let (code, out) = run(&sb, work.path(), &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    for (from, to, said) in [
        ("stage = \"assignmentRequestCreated\"", "stage = \"assignmentRequestDenied\"", "custom extension stage `assignmentRequestDenied` is not one of Graph's"),
        ("extension = \"onboard\"", "extension = \"nowhere\"", "custom extension `nowhere` is not one of access_catalog.guest-access's custom_workflow_extensions"),
        ("extension = \"onboard\"", "extension = \"offboard\"", "stage `assignmentRequestCreated` runs a `request` extension, but `offboard` is of type `assignment`"),
        ("extension = \"offboard\"", "extension = \"onboard\"", "stage `assignmentOneDayBeforeExpiration` runs a `assignment` extension, but `onboard` is of type `request`"),
        ("extension = \"onboard\"", "extension = \"elsewhere\"", "custom extension `elsewhere` is an extension of access_catalog.other, not of the package's catalog access_catalog.guest-access"),
        ("stage = \"assignmentOneDayBeforeExpiration\"\nextension = \"offboard\"", "stage = \"assignmentRequestCreated\"\nextension = \"onboard\"", "stage `assignmentRequestCreated` is given twice"),
    ] {
        let before = std::fs::read_to_string(dir.join(FILE)).expect("the file reads");
        edit_file(&dir, FILE, |t| t.replacen(from, to, 1));
        let (code, out) = run(&sb, work.path(), &["validate", d(&dir)]);
        assert_ne!(code, Some(0), "{to}: {out}");
        assert!(out.contains(said) && out.contains("access-packages.toml:") && out.contains("access_package.fabrikam-audit.policies.external"), "{to}: {out}");
        edit_file(&dir, FILE, |_| before);
    }
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_extension_stages_are_written_read_back_put_back_exported_and_released() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let (catalog, package) = (id_of(&ledger, "access_catalog.guest-access"), id_of(&ledger, "access_package.fabrikam-audit"));

    // The extensions and the stages that call them, in one apply: each
    // extension is made before the policy names it; adding stages is
    // sensitive (a Logic App runs on each request).
    edit_file(&dir, FILE, |t| t + HOOKS + CREATED + EXPIRING);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("custom extension stage added or re-pointed on access_package.fabrikam-audit") && out.contains("assignmentRequestCreated -> `Onboard guest`"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let live = hooks(&sb, &catalog).await;
    let (off, on) = (live[0]["id"].clone(), live[1]["id"].clone());
    let p = policy(&sb, &package).await;
    assert_eq!(stages(&p), vec![("assignmentOneDayBeforeExpiration".into(), "Offboard guest".into()), ("assignmentRequestCreated".into(), "Onboard guest".into())]);
    let by_stage = |p: &Value, stage: &str| p["customExtensionStageSettings"].as_array().into_iter().flatten().find(|s| s["stage"] == json!(stage)).cloned().unwrap_or(Value::Null);
    assert_eq!(by_stage(&p, "assignmentRequestCreated")["customExtension"]["id"], on);
    assert_eq!(by_stage(&p, "assignmentOneDayBeforeExpiration")["customExtension"]["id"], off);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The sandbox as Graph: the extension is a navigation property of each
    // setting (absent unless expanded), and a stage calls only an extension
    // of the policy's catalog, of the type that runs at that stage.
    let pid = p["id"].as_str().expect("its id").to_string();
    let plain = graph(&sb, Method::GET, &format!("{EM}/assignmentPolicies/{pid}?$expand=customExtensionStageSettings"), None).await;
    assert!(plain["customExtensionStageSettings"].as_array().is_some_and(|a| a.len() == 2 && a.iter().all(|s| s.get("customExtension").is_none() && s["id"].is_string())), "{plain:#}");
    let mut portal = p.clone();
    for k in ["id", "createdDateTime", "modifiedDateTime", "@odata.context", "@odata.etag"] {
        portal.as_object_mut().expect("an object").remove(k);
    }
    portal["accessPackage"] = json!({"id": package});
    let with = |extra: Vec<Value>| {
        let mut b = portal.clone();
        let mut list: Vec<Value> = p["customExtensionStageSettings"].as_array().into_iter().flatten().map(|s| json!({"stage": s["stage"], "customExtension": {"id": s["customExtension"]["id"]}})).collect();
        list.extend(extra);
        b["customExtensionStageSettings"] = Value::Array(list);
        b
    };
    let path = format!("{EM}/assignmentPolicies/{pid}");
    assert_eq!(call(&sb, Method::PUT, &path, with(vec![json!({"stage": "assignmentFourteenDaysBeforeExpiration", "customExtension": {"id": on}})])).await.0, 400, "a request extension before expiry");
    assert_eq!(call(&sb, Method::PUT, &path, with(vec![json!({"stage": "assignmentRequestGranted", "customExtension": {"id": "00000000-0000-0000-0000-000000000001"}})])).await.0, 400, "an unknown extension");

    // A stage added in the portal is drift the plan puts back.
    let (code, body) = call(&sb, Method::PUT, &path, with(vec![json!({"stage": "assignmentRequestGranted", "customExtension": {"id": on}})])).await;
    assert!(code < 300, "{code} {body}");
    assert_eq!(stages(&policy(&sb, &package).await).len(), 3);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("customExtensionStageSettings") && out.contains("assignmentRequestGranted"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(stages(&policy(&sb, &package).await).len(), 2);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Exported by key, and the export re-plans empty.
    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let pkg = e.access_package.values().find(|p| p.value.display_name == "Fabrikam audit").expect("the package is exported");
    let pol = pkg.value.policies.values().next().expect("its policy");
    let got: Vec<(&str, &str)> = pol.custom_extension_stages.iter().map(|s| (s.stage.as_str(), s.extension.as_str())).collect();
    assert_eq!(got, vec![("assignmentOneDayBeforeExpiration", "offboard-guest"), ("assignmentRequestCreated", "onboard-guest")]);
    assert_export_replans_empty(&client(&sb), &tmp, &exported).await;

    // The stage and its extension taken away in one apply: the policy is
    // rewritten before the extension is deleted (Graph refuses the other order).
    edit_file(&dir, FILE, |t| t.replace(EXPIRING, "").replace(OFFBOARD, ""));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let names: Vec<Value> = hooks(&sb, &catalog).await.iter().map(|e| e["displayName"].clone()).collect();
    assert_eq!(names, vec![json!("Onboard guest")]);
    assert_eq!(stages(&policy(&sb, &package).await), vec![("assignmentRequestCreated".into(), "Onboard guest".into())]);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_a_portal_policy_still_calls_holds_the_catalog_in_the_plan() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    edit_file(&dir, FILE, |t| t + HOOKS);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let catalog = id_of(&ledger_of(root), "access_catalog.guest-access");
    let off = hooks(&sb, &catalog).await[0]["id"].clone();

    // In the portal: a package of the catalog whose policy calls `offboard`.
    let (code, made) = call(&sb, Method::POST, &format!("{EM}/accessPackages"), json!({"displayName": "Portal package", "catalog": {"id": catalog}})).await;
    assert_eq!(code, 201, "{made}");
    let portal_pkg = made["id"].as_str().expect("its id").to_string();
    let body = json!({
        "displayName": "Portal hooked", "description": "made in the portal", "allowedTargetScope": "allMemberUsers",
        "expiration": {"type": "noExpiration"}, "accessPackage": {"id": portal_pkg},
        "customExtensionStageSettings": [{"stage": "assignmentOneDayBeforeExpiration", "customExtension": {"@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension", "id": off}}],
    });
    let (code, made) = call(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), body).await;
    assert_eq!(code, 201, "{made}");
    let portal_policy = made["id"].as_str().expect("its id").to_string();

    // The extension no longer declared: the plan says which policy calls it.
    edit_file(&dir, FILE, |t| t.replace(OFFBOARD, ""));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("access_catalog.guest-access") && out.contains("extension-in-use") && out.contains("policy `Portal hooked` of access package `Portal package`") && out.contains("calls extension `Offboard guest` at stage assignmentOneDayBeforeExpiration"), "{out}");
    // Applied, the rest of the plan goes ahead (the package made out of
    // band in a declared catalog is deleted, with its policy); the
    // extension is not touched, and Graph is not asked to delete it.
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(hooks(&sb, &catalog).await.len(), 2, "nothing was deleted");
    assert_eq!(call(&sb, Method::GET, &format!("{EM}/assignmentPolicies/{portal_policy}"), Value::Null).await.0, 404);

    // Once no policy calls it, the extension goes.
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let names: Vec<Value> = hooks(&sb, &catalog).await.iter().map(|e| e["displayName"].clone()).collect();
    assert_eq!(names, vec![json!("Onboard guest")]);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_a_policy_outside_desired_state_calls_fails_its_delete_by_name_never_silently() {
    // No access package declared nor owned, and a portal policy calling
    // the extension made after the plan was saved: apply's fresh look
    // holds the catalog now, so the saved plan is refused as stale, naming
    // it, rather than the extension's delete going to Graph (a plan made
    // then holds it: access16_e2e; apply still checks by name before each
    // DELETE, `access_policy_stages::leave`).
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("the assignments file goes");
    edit_file(&dir, FILE, |t| {
        let end = t.find("[access_package.fabrikam-audit]").expect("the example declares the package");
        t[..end].to_string() + HOOKS
    });
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let catalog = id_of(&ledger_of(root), "access_catalog.guest-access");
    let off = hooks(&sb, &catalog).await[0]["id"].clone();
    edit_file(&dir, FILE, |t| t.replace(OFFBOARD, ""));
    let saved = root.join("plan.json");
    let (code, out) = run(&sb, root, &["plan", dd, "--out", d(&saved)]);
    assert_eq!(code, Some(0), "{out}");

    let (code, made) = call(&sb, Method::POST, &format!("{EM}/accessPackages"), json!({"displayName": "Portal package", "catalog": {"id": catalog}})).await;
    assert_eq!(code, 201, "{made}");
    let body = json!({
        "displayName": "Portal hooked", "description": "made in the portal", "allowedTargetScope": "allMemberUsers",
        "expiration": {"type": "noExpiration"}, "accessPackage": {"id": made["id"]},
        "customExtensionStageSettings": [{"stage": "assignmentOneDayBeforeExpiration", "customExtension": {"id": off}}],
    });
    let (code, made) = call(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), body).await;
    assert_eq!(code, 201, "{made}");

    let (code, out) = run(&sb, root, &["apply", d(&saved), "--dir", dd, "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("plan is stale") && out.contains("access_catalog.guest-access"), "{out}");
    assert_eq!(hooks(&sb, &catalog).await.len(), 2, "nothing was deleted");
    sb.shutdown().await.expect("the sandbox stops");
}
