//! Issue 16, access packages (access15), through the binary against the
//! sandbox:
//!
//! * the requests already waiting that a plan names are those of the
//!   policies it narrows or deletes, matched by the policy's live id
//!   (`assignment($expand=assignmentPolicy)` on the documented listing),
//!   not every request on the package; a policy narrowed and renamed, or
//!   removed, still has its waiting requests named (hostile run 24,
//!   finding 12);
//! * an administrator's request (`adminAdd`, made by tenantctl) has a
//!   `requestor`: the subject assigned, as the v1.0 resource documents.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const PARTNER: &str = "partner_fabrikam.com#EXT#@contoso.onmicrosoft.com";
const STAFF: &str = "access15.staff@contoso.onmicrosoft.com";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const EXTRA: &str = r#"[user.access15-staff]
user_principal_name = "access15.staff@contoso.onmicrosoft.com"
display_name = "Access15 Staff"
mail_nickname = "access15.staff"
usage_location = "US"
"#;

/// A second policy on the guest package: one named member asks, Adele
/// (else Megan) approves.
const STAFF_POLICY: &str = r#"
[access_package.fabrikam-audit.policies.staff]
display_name = "Audit staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access15-staff"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }

[access_package.fabrikam-audit.policies.staff.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }]
"#;

const SELF_ADD: &str = "requestor_settings = { enable_targets_to_self_add_access = true, enable_targets_to_self_remove_access = true }";
const NO_SELF_ADD: &str = "requestor_settings = { enable_targets_to_self_add_access = false, enable_targets_to_self_remove_access = true }";

/// The id of the policy of `package` named `name`.
async fn policy_id(sb: &sandbox::SandboxHandle, package: &str, name: &str) -> String {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package) && p["displayName"] == json!(name)).and_then(|p| p["id"].as_str()).expect("the policy").to_string()
}

/// The package's requests as the documented listing gives them, with
/// `expand`.
async fn requests(sb: &sandbox::SandboxHandle, package: &str, expand: &str) -> Vec<Value> {
    let filter = format!("accessPackage%2Fid%20eq%20'{package}'");
    let listed = graph(sb, Method::GET, &format!("{EM}/assignmentRequests?$expand={expand}&$filter={filter}"), None).await;
    listed["value"].as_array().cloned().unwrap_or_default()
}

/// The plan's waiting-requests warning (the line naming them), or "".
fn warning(out: &str) -> String {
    out.lines().filter(|l| l.contains("already waiting for approval")).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_requests_are_named_per_policy_narrowed_renamed_or_deleted() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access15", "extra.toml", EXTRA);
    edit_file(&dir, "access-packages.toml", |t| format!("{t}{STAFF_POLICY}"));
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let external = policy_id(&sb, &package, "Fabrikam auditors").await;
    let staff_policy = policy_id(&sb, &package, "Audit staff").await;

    // An external user waits on the external policy, a member on the
    // staff policy.
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/objects/users", sb.base_url()))
        .json(&json!({"displayName": "Pending Partner", "userPrincipalName": PARTNER, "mail": "partner@fabrikam.com", "userType": "Guest", "accountEnabled": true}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    let partner = r.json::<Value>().await.expect("the user")["id"].as_str().expect("its id").to_string();
    let guest_request = sb.add_pending_request(&package, &external, &partner).expect("the guest's request waits");
    let staff = id_of(&ledger, "user.access15-staff");
    let staff_request = sb.add_pending_request(&package, &staff_policy, &staff).expect("the member's request waits");

    // Each waiting request's assignment names its policy when expanded.
    let listed = requests(&sb, &package, "requestor,assignment($expand=assignmentPolicy)").await;
    let policy_of = |id: &str| listed.iter().find(|r| r["id"] == json!(id)).map(|r| r["assignment"]["assignmentPolicy"]["id"].clone());
    assert_eq!((policy_of(&guest_request), policy_of(&staff_request)), (Some(json!(external)), Some(json!(staff_policy))), "{listed:?}");

    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(warning(&out).is_empty(), "{out}");

    // The external policy narrowed: only the request through it is named.
    edit_file(&dir, "access-packages.toml", |t| t.replacen(SELF_ADD, NO_SELF_ADD, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("narrows policy `Fabrikam auditors`") && w.contains(PARTNER) && w.contains(&guest_request) && w.contains("1 request already waiting"), "{out}");
    assert!(!w.contains(STAFF) && !w.contains(&staff_request), "the staff policy is not narrowed: {out}");

    // Narrowed and renamed at once: still named (by id, not name).
    edit_file(&dir, "access-packages.toml", |t| t.replacen("display_name = \"Fabrikam auditors\"", "display_name = \"Fabrikam audit partners\"", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains(PARTNER) && w.contains(&guest_request) && !w.contains(STAFF), "{out}");

    // The staff policy removed (and the other one back as it is): the
    // request waiting through the deleted policy is named.
    edit_file(&dir, "access-packages.toml", |t| t.replacen(NO_SELF_ADD, SELF_ADD, 1).replacen("display_name = \"Fabrikam audit partners\"", "display_name = \"Fabrikam auditors\"", 1).replacen(STAFF_POLICY, "", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("deletes policy `Audit staff`") && w.contains(STAFF) && w.contains(&staff_request) && !w.contains(PARTNER), "{out}");

    // Removed while the other is renamed (not a lone rename: both live
    // policies are deleted): both waiting requests are named, even though
    // the package's change is refused (the auditor's assignment goes
    // through the external policy).
    edit_file(&dir, "access-packages.toml", |t| t.replacen("display_name = \"Fabrikam auditors\"", "display_name = \"Fabrikam audit partners\"", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("policy-in-use"), "{out}");
    let w = warning(&out);
    assert!(w.contains("2 requests already waiting for approval through them") && w.contains(PARTNER) && w.contains(STAFF), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrators_request_names_the_subject_assigned_as_its_requestor() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access15", "extra.toml", EXTRA);
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let auditor = id_of(&ledger, "guest.fabrikam-auditor");
    // tenantctl's application made the auditor's assignment (adminAdd):
    // "the subject who requested or, if a direct assignment, was
    // assigned" is the auditor, never null.
    let listed = requests(&sb, &package, "requestor,assignment($expand=target)").await;
    let admin: Vec<&Value> = listed.iter().filter(|r| r["requestType"] == json!("adminAdd")).collect();
    assert_eq!(admin.len(), 1, "{listed:?}");
    assert_eq!(admin[0]["requestor"]["objectId"], json!(auditor), "{listed:?}");
    assert_eq!(admin[0]["requestor"]["subjectType"], json!("user"), "{listed:?}");
    assert_eq!(admin[0]["requestor"]["objectId"], admin[0]["assignment"]["target"]["objectId"], "{listed:?}");
    assert!(admin[0]["requestor"]["principalName"].as_str().is_some_and(|p| p.contains("#EXT#")), "{listed:?}");

    // Narrowing the policy names no administrator's request: only a
    // user's request waits for an approver.
    edit_file(&dir, "access-packages.toml", |t| t.replacen(SELF_ADD, NO_SELF_ADD, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(warning(&out).is_empty() && !out.contains(admin[0]["id"].as_str().expect("its id")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A group administered through an administrative unit (Adele manages
/// groups over it), granted by a package whose policy has no approval.
const UNIT: &str = r#"
[group.access15-sales]
display_name = "access15 sales"
mail_nickname = "access15-sales"

[group.access15-sales-desk]
display_name = "access15 sales desk"
mail_nickname = "access15-sales-desk"

[group.access15-sales-all]
display_name = "access15 sales (all)"
mail_nickname = "access15-sales-all"
members = ["access15-sales-desk"]

[administrative_unit.access15-sales]
display_name = "access15 Sales"
members = ["access15-sales", "access15-sales-all"]

[role_assignment.access15-sales-groups]
principal = "adele"
role = "Groups Administrator"
scope = { administrative_unit = "access15-sales" }
justification = "Adele runs the Sales groups"

[access_catalog.access15]
display_name = "access15"
groups = ["access15-sales", "access15-sales-desk"]

[access_package.access15-sales]
display_name = "access15 sales"
catalog = "access15"
groups = ["access15-sales"]

[access_package.access15-sales.policies.staff]
display_name = "Staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access15-staff"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }
request_approval_settings = { is_approval_required_for_add = false }
"#;

const APPROVED: &str = r#"request_approval_settings = { is_approval_required_for_add = true, stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }] }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_granting_a_group_an_admin_unit_administers_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access15", "extra.toml", &format!("{EXTRA}{UNIT}"));
    let (root, dd) = (work.path(), d(&dir));
    let unapproved = "request_approval_settings = { is_approval_required_for_add = false }";

    // The group itself is a member of the unit the role is scoped to.
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[access-without-approval]") && out.contains("access_package.access15-sales") && out.contains("administrative_unit.access15-sales") && out.contains("extra.toml:"), "{out}");

    // Nested: the group granted is a member of a group in the unit.
    edit_file(&dir, "extra.toml", |t| t.replace("groups = [\"access15-sales\"]\n\n[access_package.access15-sales.policies", "groups = [\"access15-sales-desk\"]\n\n[access_package.access15-sales.policies"));
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[access-without-approval]") && out.contains("group.access15-sales-desk is a member of group.access15-sales-all") && out.contains("administrative_unit.access15-sales"), "{out}");

    // With a stage of approvers, the package is admitted.
    edit_file(&dir, "extra.toml", |t| t.replace(unapproved, APPROVED));
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("access-without-approval"), "{out}");

    // The unit no longer scopes a role: granting its member is not privileged.
    edit_file(&dir, "extra.toml", |t| t.replace(APPROVED, unapproved).replace("scope = { administrative_unit = \"access15-sales\" }\n", ""));
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("access-without-approval"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
