//! Issue 16, access packages' leftovers (access16), through the binary
//! against the sandbox:
//!
//! * export: a policy's stage names its extension by the key the
//!   catalog's export gave that extension, numbered where two display
//!   names slug alike (`Notify HR`, `Notify-HR`), so the export re-plans
//!   empty;
//! * a whole declared package the plan deletes (no longer declared,
//!   pruning on) has the requests waiting for approval on it named, as a
//!   policy deleted inside a package has (access15);
//! * the waiting requests' listing with `assignment($expand=assignmentPolicy)`
//!   refused with Graph's 400 (a sandbox switch): the documented
//!   per-package listing names the same requests, saying their policy is
//!   not known;
//! * with no access package declared or owned (packages not read), a
//!   catalog dropping an extension a portal policy still calls is held in
//!   the plan (`extension-in-use`), naming the policy and stage; a plan
//!   that drops no extension reads nothing more;
//! * an extension whose type changes while a declared stage calls it is
//!   made anew and the old one deleted in the same apply (the re-plan is
//!   empty); while a portal policy still calls the old one, the plan
//!   holds the catalog, naming the policy and stage;
//! * a role assignment naming an administrative unit by id
//!   (`directory_scope_id = "/administrativeUnits/{id}"`, not `scope =
//!   { administrative_unit }`) is resolved to the declared unit, so a
//!   package without approval granting a group of that unit is
//!   `access-without-approval` in the plan (access15 judged the keyed
//!   form only).

mod common;

use std::path::Path;

use common::gov::{edit_file, ledger_of, run};
use common::kind::*;
use common::*;
use serde_json::{json, Value};

const FILE: &str = "access-packages.toml";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A request extension of the example's catalog named `name`, under `key`.
fn extension(key: &str, name: &str, kind: &str) -> String {
    format!(
        "\n[access_catalog.guest-access.custom_workflow_extensions.{key}]\ndisplay_name = \"{name}\"\ntype = \"{kind}\"\nsubscription_id = \"38ab2ccc-3747-4567-b36b-9478f5602f0d\"\nresource_group_name = \"governance\"\nlogic_app_workflow_name = \"elm-{key}\"\n"
    )
}

/// A stage of the example package's policy calling `extension`.
fn stage(stage: &str, extension: &str) -> String {
    format!("\n[[access_package.fabrikam-audit.policies.external.custom_extension_stages]]\nstage = \"{stage}\"\nextension = \"{extension}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_exports_its_extension_by_the_catalogs_numbered_key() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    // Two names with one slug; the stage calls the second in the
    // catalog's (lowercased name) order, which its export numbers.
    let hooks = extension("hr-one", "Notify HR", "request") + &extension("hr-two", "Notify-HR", "request") + &stage("assignmentRequestGranted", "hr-two");
    edit_file(&dir, FILE, |t| t + &hooks);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let catalog = e.access_catalog.values().find(|c| c.value.display_name == "Guest access").expect("the catalog is exported");
    let keys: Vec<(String, String)> = catalog.value.custom_workflow_extensions.iter().flatten().map(|(k, x)| (k.clone(), x.display_name.clone())).collect();
    assert_eq!(keys, vec![("notify-hr".to_string(), "Notify HR".to_string()), ("notify-hr-2".to_string(), "Notify-HR".to_string())]);
    let pkg = e.access_package.values().find(|p| p.value.display_name == "Fabrikam audit").expect("the package is exported");
    let pol = pkg.value.policies.values().next().expect("its policy");
    let got: Vec<(&str, &str)> = pol.custom_extension_stages.iter().map(|s| (s.stage.as_str(), s.extension.as_str())).collect();
    assert_eq!(got, vec![("assignmentRequestGranted", "notify-hr-2")], "the stage names `Notify-HR` by its exported key");
    assert_export_replans_empty(&client(&sb), &tmp, &exported).await;
    sb.shutdown().await.expect("the sandbox stops");
}

const STAFF: &str = "access16.staff@contoso.onmicrosoft.com";

const EXTRA: &str = r#"[user.access16-staff]
user_principal_name = "access16.staff@contoso.onmicrosoft.com"
display_name = "Access16 Staff"
mail_nickname = "access16.staff"
usage_location = "US"
"#;

/// A second package of the example's catalog: one named member asks,
/// Adele (else Megan) approves.
const DESK: &str = r#"
[access_package.access16-desk]
display_name = "access16 desk"
catalog = "guest-access"

[access_package.access16-desk.policies.staff]
display_name = "Desk staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access16-staff"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }

[access_package.access16-desk.policies.staff.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }]
"#;

/// The plan's waiting-requests warnings (the lines naming them), or "".
fn warning(out: &str) -> String {
    out.lines().filter(|l| l.contains("already waiting for approval")).collect::<Vec<_>>().join("\n")
}

/// The desk package applied with pruning on for access packages, and a
/// request by the staff member waiting on it: (work dir, desired state,
/// request id).
async fn desk_with_a_waiting_request(sb: &sandbox::SandboxHandle) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let (work, dir) = kind_scratch(&["access_package"], "access16", "extra.toml", &format!("{EXTRA}{DESK}"));
    let (code, out) = run(sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(work.path());
    let package = id_of(&ledger, "access_package.access16-desk");
    let all = common::gov::graph(sb, reqwest::Method::GET, "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies?$expand=accessPackage", None).await;
    let policy = all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package)).and_then(|p| p["id"].as_str()).expect("the desk policy").to_string();
    let request = sb.add_pending_request(&package, &policy, &id_of(&ledger, "user.access16-staff")).expect("the request waits");
    let (code, out) = run(sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(warning(&out).is_empty(), "{out}");
    (work, dir, request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_package_names_the_requests_waiting_on_it() {
    let sb = sandbox().await;
    let (work, dir, request) = desk_with_a_waiting_request(&sb).await;
    let (root, dd) = (work.path(), d(&dir));
    edit_file(&dir, "extra.toml", |t| t.replace(DESK, ""));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("access_package.access16-desk"), "the package is deleted: {out}");
    let w = warning(&out);
    assert!(
        w.contains("access_package.access16-desk: this plan deletes the access package") && w.contains("1 request is already waiting for approval on it") && w.contains(STAFF) && w.contains(&request) && w.contains("through policy `Desk staff`"),
        "{out}"
    );
    // Kept instead (pruning off for it): nothing deleted, nothing named.
    edit_file(&dir, "tenant.toml", |t| t.replacen("kinds = [\"access_package\", ", "kinds = [", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(warning(&out).is_empty(), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_listing_names_the_same_requests_when_the_nested_expand_is_refused() {
    let sb = sandbox().await;
    let (work, dir, request) = desk_with_a_waiting_request(&sb).await;
    let (root, dd) = (work.path(), d(&dir));
    // The policy narrowed: with the nested expand, the request is named
    // through its policy.
    edit_file(&dir, "extra.toml", |t| t.replacen("requestor_settings = { enable_targets_to_self_add_access = true }", "requestor_settings = { enable_targets_to_self_add_access = false }", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let combined = warning(&out);
    assert!(combined.contains(STAFF) && combined.contains(&request) && combined.contains("through policy `Desk staff`"), "{out}");

    // Refused as Graph refuses an expansion it does not parse.
    sb.set_faults(faults(|f| f.refuse_nested_request_expand = true)).expect("faults set");
    let filter = format!("accessPackage%2Fid%20eq%20'{}'", id_of(&ledger_of(root), "access_package.access16-desk"));
    let r = reqwest::Client::new()
        .get(format!("{}/v1.0/identityGovernance/entitlementManagement/assignmentRequests?$expand=requestor,assignment($expand=assignmentPolicy)&$filter={filter}", sb.base_url()))
        .bearer_auth(sb.access_token())
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("an error body");
    assert_eq!(body["error"]["code"], json!("BadRequest"), "{body}");

    // The fallback names the same request, its policy not known.
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let fallback = warning(&out);
    assert!(fallback.contains("narrows policy `Desk staff`") && fallback.contains(STAFF) && fallback.contains(&request) && fallback.contains("whose policy Graph did not give") && fallback.contains("1 request already waiting"), "{out}");

    // And for a package deleted whole.
    edit_file(&dir, "extra.toml", |t| t.replace(&DESK.replacen("enable_targets_to_self_add_access = true", "enable_targets_to_self_add_access = false", 1), ""));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("this plan deletes the access package") && w.contains(STAFF) && w.contains(&request) && !w.contains("through policy"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A policy made in the portal, on a new package of `catalog`, whose stage
/// `stage` calls extension `ext` (a live id).
async fn portal_policy(sb: &sandbox::SandboxHandle, catalog: &str, stage: &str, ext: &Value) {
    let em = "/v1.0/identityGovernance/entitlementManagement";
    let made = common::gov::graph(sb, reqwest::Method::POST, &format!("{em}/accessPackages"), Some(json!({"displayName": "Portal package", "catalog": {"id": catalog}}))).await;
    let body = json!({
        "displayName": "Portal hooked", "description": "made in the portal", "allowedTargetScope": "allMemberUsers",
        "expiration": {"type": "noExpiration"}, "accessPackage": {"id": made["id"]},
        "customExtensionStageSettings": [{"stage": stage, "customExtension": {"id": ext}}],
    });
    let made = common::gov::graph(sb, reqwest::Method::POST, &format!("{em}/assignmentPolicies"), Some(body)).await;
    assert!(made["id"].is_string(), "{made}");
}

/// The live extensions of `catalog`, sorted by display name.
async fn live_hooks(sb: &sandbox::SandboxHandle, catalog: &str) -> Vec<Value> {
    let listed = common::gov::graph(sb, reqwest::Method::GET, &format!("/v1.0/identityGovernance/entitlementManagement/catalogs/{catalog}/customWorkflowExtensions"), None).await;
    let mut v = listed["value"].as_array().cloned().unwrap_or_default();
    v.sort_by_key(|e| e["displayName"].as_str().unwrap_or_default().to_string());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_package_declared_the_plan_holds_an_extension_a_portal_policy_calls() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("the assignments file goes");
    let offboard = extension("offboard", "Offboard guest", "assignment");
    edit_file(&dir, FILE, |t| {
        let end = t.find("[access_package.fabrikam-audit]").expect("the example declares the package");
        t[..end].to_string() + &extension("onboard", "Onboard guest", "request") + &offboard
    });
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let catalog = id_of(&ledger_of(root), "access_catalog.guest-access");
    let off = live_hooks(&sb, &catalog).await[0]["id"].clone();
    portal_policy(&sb, &catalog, "assignmentOneDayBeforeExpiration", &off).await;

    // Nothing dropped: the policies are not listed (the plan reads what it did).
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    let policies = |c: &sandbox::RequestCounts| c.requests.iter().chain(&c.batch_items).filter(|(k, _)| k.contains("assignmentPolicies")).map(|(_, n)| *n).sum::<u64>();
    assert_eq!(policies(&sb.request_counts()), 0, "no extension dropped, no policy read: {:?}", sb.request_counts().requests);

    // The extension dropped: the plan holds the catalog, naming the policy.
    edit_file(&dir, FILE, |t| t.replace(&offboard, ""));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(policies(&sb.request_counts()) > 0, "the policies were read");
    assert!(
        out.contains("access_catalog.guest-access") && out.contains("access_catalog.guest-access [extension-in-use]") && out.contains("policy `Portal hooked` of access package `Portal package`") && out.contains("calls extension `Offboard guest` at stage assignmentOneDayBeforeExpiration"),
        "{out}"
    );
    let (_, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert!(!out.contains("is still called by"), "apply does not try the delete: {out}");
    assert_eq!(live_hooks(&sb, &catalog).await.len(), 2, "nothing was deleted");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The package's one policy's stages as `(stage, extension id)`.
async fn policy_stages(sb: &sandbox::SandboxHandle, package: &str) -> Vec<(String, String)> {
    let all = common::gov::graph(sb, reqwest::Method::GET, "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies?$expand=accessPackage,customExtensionStageSettings($expand=customExtension)", None).await;
    let mine: Vec<&Value> = all["value"].as_array().into_iter().flatten().filter(|p| p["accessPackage"]["id"] == json!(package)).collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    mine[0]["customExtensionStageSettings"].as_array().into_iter().flatten().map(|s| (s["stage"].as_str().unwrap_or_default().to_string(), s["customExtension"]["id"].as_str().unwrap_or_default().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_whose_type_changes_under_a_stage_is_settled_in_one_apply_or_held() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    let (request, granted) = (extension("hook", "Hook", "request"), stage("assignmentRequestGranted", "hook"));
    edit_file(&dir, FILE, |t| t + &request + &granted);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let (catalog, package) = (id_of(&ledger, "access_catalog.guest-access"), id_of(&ledger, "access_package.fabrikam-audit"));
    let old = live_hooks(&sb, &catalog).await[0]["id"].as_str().expect("its id").to_string();

    // The type changed, and the stage moved to one where that type runs:
    // one apply makes the new extension, points the stage at it and
    // deletes the old one.
    let (assignment, expiring) = (extension("hook", "Hook", "assignment"), stage("assignmentOneDayBeforeExpiration", "hook"));
    edit_file(&dir, FILE, |t| t.replace(&request, &assignment).replace(&granted, &expiring));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let live = live_hooks(&sb, &catalog).await;
    assert_eq!(live.len(), 1, "the old extension is gone: {live:#?}");
    assert_eq!(live[0]["@odata.type"], json!("#microsoft.graph.accessPackageAssignmentWorkflowExtension"));
    assert_ne!(live[0]["id"], json!(old));
    assert_eq!(policy_stages(&sb, &package).await, vec![("assignmentOneDayBeforeExpiration".to_string(), live[0]["id"].as_str().unwrap_or_default().to_string())]);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A portal policy calls it; the type changed back: the plan holds the
    // catalog, naming that policy and its stage, and nothing is deleted.
    let now = live[0]["id"].clone();
    portal_policy(&sb, &catalog, "assignmentFourteenDaysBeforeExpiration", &now).await;
    edit_file(&dir, FILE, |t| t.replace(&assignment, &request).replace(&expiring, &granted));
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("access_catalog.guest-access [extension-in-use]") && out.contains("policy `Portal hooked` of access package `Portal package`") && out.contains("calls extension `Hook` at stage assignmentFourteenDaysBeforeExpiration"),
        "{out}"
    );
    sb.shutdown().await.expect("the sandbox stops");
}

/// Groups administered through a unit, and a package without approval
/// granting one of them.
const UNIT: &str = r#"
[group.access16-sales]
display_name = "access16 sales"
mail_nickname = "access16-sales"

[group.access16-sales-desk]
display_name = "access16 sales desk"
mail_nickname = "access16-sales-desk"

[group.access16-sales-all]
display_name = "access16 sales (all)"
mail_nickname = "access16-sales-all"
members = ["access16-sales-desk"]

[administrative_unit.access16-sales]
display_name = "access16 Sales"
members = ["access16-sales", "access16-sales-all"]

[access_catalog.access16]
display_name = "access16"
groups = ["access16-sales", "access16-sales-desk"]
"#;

const UNAPPROVED: &str = "request_approval_settings = { is_approval_required_for_add = false }";

/// The package (granting `group`) and the role scoped to the unit by `id`.
fn unit_package(group: &str, unit_id: &str) -> String {
    format!(
        r#"
[role_assignment.access16-sales-groups]
principal = "adele"
role = "Groups Administrator"
directory_scope_id = "/administrativeUnits/{unit_id}"
justification = "Adele runs the Sales groups"

[access_package.access16-sales]
display_name = "access16 sales"
catalog = "access16"
groups = ["{group}"]

[access_package.access16-sales.policies.staff]
display_name = "Staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access16-staff"]
expiration = {{ type = "afterDuration", duration = "P30D" }}
requestor_settings = {{ enable_targets_to_self_add_access = true }}
{UNAPPROVED}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_named_by_id_in_a_role_scope_makes_its_groups_packages_need_approval() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access16", "extra.toml", &format!("{EXTRA}{UNIT}"));
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let unit = id_of(&ledger_of(root), "administrative_unit.access16-sales");

    // The group itself is a member of the unit the role names by id:
    // validation cannot tell (no ids), the plan can.
    edit_file(&dir, "extra.toml", |t| t + &unit_package("access16-sales", &unit));
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("access-without-approval") && out.contains("access_package.access16-sales") && out.contains("group.access16-sales, a member of administrative_unit.access16-sales") && out.contains("role_assignment.access16-sales-groups"), "{out}");

    // Nested: the group granted is a member of a group in the unit.
    edit_file(&dir, "extra.toml", |t| t.replace("groups = [\"access16-sales\"]\n\n[access_package.access16-sales.policies", "groups = [\"access16-sales-desk\"]\n\n[access_package.access16-sales.policies"));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("access-without-approval") && out.contains("(through group.access16-sales-all, which it is nested in)"), "{out}");

    // With a stage of approvers, the package is admitted.
    let approved = r#"request_approval_settings = { is_approval_required_for_add = true, stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }] }"#;
    edit_file(&dir, "extra.toml", |t| t.replace(UNAPPROVED, approved));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("access-without-approval"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
