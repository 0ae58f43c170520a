//! Issue 16, access packages (access11), through the binary against the
//! sandbox:
//!
//! * a question translation's language code is an ISO 639-1 language,
//!   optionally with an ISO 3166-1 country: `validate` refuses any other
//!   (`en_US`, `xx-12345`, `xx-yy`), located, and so does the sandbox;
//! * a deleted group leaves every package's incompatible groups;
//! * a plan that narrows a policy names the `userAdd` requests already
//!   waiting for approval on its package (Entra does not re-check them),
//!   read by the listing v1.0 documents, which the sandbox holds to;
//! * a package whose requestors are a group another package grants is the
//!   warning `package-chain`.

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

/// The status Graph answers `method path` with `body`.
async fn status(sb: &sandbox::SandboxHandle, method: Method, path: &str, body: Option<Value>) -> u16 {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token());
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.expect("the sandbox answers").status().as_u16()
}

const REQUESTOR: &str = "requestor_settings = { enable_targets_to_self_add_access = true, enable_targets_to_self_remove_access = true }\n";
const LOCALIZED: &str = r#"questions = [
  { text = "Which audit engagement?", is_required = true, localizations = [{ language_code = "fr-fr", text = "Quel audit ?" }, { language_code = "de", text = "Welche Prüfung?" }], choices = [{ value = "fy26", text = "FY2026 audit", localizations = [{ language_code = "fr-fr", text = "Audit 2026" }] }] },
]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_codes_are_held_to_the_iso_lists_by_validate_and_the_sandbox() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access11", "extra.toml", "[group.access11-extra]\ndisplay_name = \"access11 extra\"\nmail_nickname = \"access11-extra\"\n");
    edit_file(&dir, "access-packages.toml", |t| t.replacen(REQUESTOR, &format!("{REQUESTOR}{LOCALIZED}"), 1));
    let (root, dd) = (work.path(), d(&dir));

    // `xx-yy` has the form but names no language and no country.
    for bad in ["en_US", "xx-12345", "xx-yy", "en-zz", "qq"] {
        edit_file(&dir, "access-packages.toml", |t| t.replace("language_code = \"de\"", &format!("language_code = \"{bad}\"")));
        let (code, out) = run(&sb, root, &["validate", dd]);
        assert_ne!(code, Some(0), "{bad}: {out}");
        assert!(out.contains(&format!("`{bad}` is not a language code")) && out.contains("access-packages.toml:"), "{bad}: {out}");
        edit_file(&dir, "access-packages.toml", |t| t.replace(&format!("language_code = \"{bad}\""), "language_code = \"de\""));
    }
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // The sandbox refuses the same codes in a question and in a choice.
    let package = id_of(&ledger_of(root), "access_package.fabrikam-audit");
    let policy = |question: Value| json!({"displayName": "access11 codes", "accessPackage": {"id": package}, "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"}, "questions": [question]});
    let text = |code: &str| json!({"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Why?", "localizations": [{"languageCode": code, "text": "Pourquoi ?"}]});
    let choice = |code: &str| json!({"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "Which?", "choices": [{"actualValue": "a", "text": "A", "localizations": [{"languageCode": code, "text": "A"}]}]});
    for bad in ["en_US", "xx-12345", "xx-yy", "english"] {
        assert_eq!(status(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), Some(policy(text(bad)))).await, 400, "{bad}");
        assert_eq!(status(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), Some(policy(choice(bad)))).await, 400, "{bad}");
    }
    assert_eq!(status(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), Some(policy(json!({"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Why?", "localizations": [{"text": "x"}]})))).await, 400, "no code");
    assert_eq!(status(&sb, Method::POST, &format!("{EM}/assignmentPolicies"), Some(policy(text("en-US")))).await, 201);
    sb.shutdown().await.expect("the sandbox stops");
}

const SOD: &str = r#"
[group.access11-blocked]
display_name = "access11 blocked"
mail_nickname = "access11-blocked"

[access_package.contractor-desk]
display_name = "Contractor desk"
catalog = "guest-access"
groups = []
incompatible_groups = ["access11-blocked"]
"#;

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["value"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str()).map(str::to_string).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_group_leaves_the_incompatible_groups() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&["group"], "access11", "sod.toml", SOD);
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let (desk, blocked) = (id_of(&ledger, "access_package.contractor-desk"), id_of(&ledger, "group.access11-blocked"));
    let listed = || {
        let (sb, desk) = (&sb, desk.clone());
        async move { ids(&graph(sb, Method::GET, &format!("{EM}/accessPackages/{desk}/incompatibleGroups"), None).await) }
    };
    assert_eq!(listed().await, vec![blocked.clone()]);

    // A security group deleted in the portal is gone for good, and so is
    // its link: there is nothing left to unlink.
    graph(&sb, Method::DELETE, &format!("/v1.0/groups/{blocked}"), None).await;
    assert!(listed().await.is_empty());
    assert_eq!(status(&sb, Method::DELETE, &format!("{EM}/accessPackages/{desk}/incompatibleGroups/{blocked}/$ref"), None).await, 404);

    // The plan makes the group again and links the new one.
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.access11-blocked") && out.contains("incompatibleGroups"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let again = id_of(&ledger_of(root), "group.access11-blocked");
    assert_ne!(again, blocked);
    assert_eq!(listed().await, vec![again.clone()]);
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A Microsoft 365 group moved to deleted items leaves the list too, and
    // restoring it does not put it back.
    let m365 = graph(&sb, Method::POST, "/v1.0/groups", Some(json!({"displayName": "access11 m365", "mailEnabled": true, "mailNickname": "access11-m365", "securityEnabled": false, "groupTypes": ["Unified"]}))).await;
    let m365 = m365["id"].as_str().expect("the group's id").to_string();
    let link = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/groups/{m365}")});
    assert_eq!(status(&sb, Method::POST, &format!("{EM}/accessPackages/{desk}/incompatibleGroups/$ref"), Some(link)).await, 204);
    assert_eq!(listed().await.len(), 2);
    graph(&sb, Method::DELETE, &format!("/v1.0/groups/{m365}"), None).await;
    assert_eq!(listed().await, vec![again.clone()]);
    graph(&sb, Method::POST, &format!("/v1.0/directory/deletedItems/{m365}/restore"), None).await;
    assert_eq!(listed().await, vec![again], "a restored group is not incompatible again");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The id of the policy of `package` named `name`.
async fn policy_id(sb: &sandbox::SandboxHandle, package: &str, name: &str) -> String {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package) && p["displayName"] == json!(name)).and_then(|p| p["id"].as_str()).expect("the policy").to_string()
}

const PARTNER: &str = "partner_fabrikam.com#EXT#@contoso.onmicrosoft.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_narrowing_a_policy_names_the_requests_waiting_on_its_package() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access11", "extra.toml", "[group.access11-extra]\ndisplay_name = \"access11 extra\"\nmail_nickname = \"access11-extra\"\n");
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let policy = policy_id(&sb, &package, "Fabrikam auditors").await;

    // An external user asked in My Access and waits for Adele.
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/objects/users", sb.base_url()))
        .json(&json!({"displayName": "Pending Partner", "userPrincipalName": PARTNER, "mail": "partner@fabrikam.com", "userType": "Guest", "accountEnabled": true}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    let partner = r.json::<Value>().await.expect("the user")["id"].as_str().expect("its id").to_string();
    let request = sb.add_pending_request(&package, &policy, &partner).expect("the request waits");
    // The sandbox checks it as Graph would: the auditor already holds the
    // package, and a member is outside an external users' policy.
    let auditor = id_of(&ledger, "guest.fabrikam-auditor");
    assert!(sb.add_pending_request(&package, &policy, &auditor).is_err());
    assert!(sb.add_pending_request(&package, &policy, &id_of(&ledger, "user.adele")).is_err());

    // The documented listing finds it; an undocumented filter is refused.
    let filter = format!("accessPackage%2Fid%20eq%20'{package}'");
    let listed = graph(&sb, Method::GET, &format!("{EM}/assignmentRequests?$expand=accessPackage,requestor&$filter={filter}"), None).await;
    let found = listed["value"].as_array().into_iter().flatten().find(|r| r["id"] == json!(request)).cloned().expect("the waiting request is listed");
    assert_eq!((found["requestType"].clone(), found["state"].clone(), found["requestor"]["principalName"].clone(), found["accessPackage"]["id"].clone()), (json!("userAdd"), json!("pendingApproval"), json!(PARTNER), json!(package)));
    assert_eq!(status(&sb, Method::GET, &format!("{EM}/assignmentRequests?$filter=state%20eq%20'pendingApproval'"), None).await, 400);

    // Nothing narrowed: nothing said.
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(!out.contains("waiting for approval"), "{out}");

    // Approval taken off in the portal: putting it back narrows the policy.
    let off = json!({"requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}});
    patch_out_of_band(&sb, "accessPackageAssignmentPolicies", &policy, off).await;
    let (_, out) = run(&sb, root, &["plan", dd]);
    assert!(out.contains("access_package.fabrikam-audit") && out.contains("approval is now required"), "{out}");
    assert!(out.contains("1 request already waiting for approval through it is not re-checked") && out.contains(PARTNER) && out.contains(&request), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // Desired state stops self-requests: the waiting request is named again.
    edit_file(&dir, "access-packages.toml", |t| t.replacen("enable_targets_to_self_add_access = true", "enable_targets_to_self_add_access = false", 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("requestors may no longer ask for themselves") && out.contains(PARTNER), "{out}");

    // The requests cannot be read (an outage of that part of Graph): the
    // plan says so rather than naming none, and still plans the change.
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/identityGovernance/entitlementManagement/assignmentRequests".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("requestors may no longer ask for themselves") && out.contains("could not be read") && !out.contains(PARTNER), "{out}");
    assert!(out.contains("~ access_package.fabrikam-audit"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const CHAIN: &str = r#"
[group.access11-staff]
display_name = "access11 staff"
mail_nickname = "access11-staff"

[access_catalog.access11]
display_name = "access11"
groups = ["access11-staff"]

[access_package.access11-first]
display_name = "access11 first"
catalog = "access11"
groups = ["access11-staff"]

[access_package.access11-first.policies.members]
display_name = "Members"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["user.megan"]
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.access11-first.policies.members.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"] }]

[access_package.access11-second]
display_name = "access11 second"
catalog = "access11"
groups = []

[access_package.access11-second.policies.staff]
display_name = "Staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["group.access11-staff"]
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.access11-second.policies.staff.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"] }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requestors_a_package_grants_are_a_package_chain() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access11", "chain.toml", CHAIN);
    let (root, dd) = (work.path(), d(&dir));
    let (code, out) = run(&sb, root, &["validate", dd]);
    assert_eq!(code, Some(0), "a warning: {out}");
    assert!(out.contains("package-chain") && out.contains("chain.toml:33"), "{out}");
    assert!(out.contains("access_package.access11-second.policies.staff: its requestors are the members of group.access11-staff, which access_package.access11-first grants"), "{out}");
    assert_eq!(out.matches("package-chain").count(), 1, "{out}");

    // Named people instead: no warning.
    edit_file(&dir, "chain.toml", |t| t.replace("specific_allowed_targets = [\"group.access11-staff\"]", "specific_allowed_targets = [\"user.mstest\"]"));
    let (_, out) = run(&sb, root, &["validate", dd]);
    assert!(!out.contains("package-chain"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
