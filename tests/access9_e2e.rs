//! Issue 16, the rest of hostile run 17 on access packages (access9),
//! through the binary against the sandbox:
//!
//! * what a plan deletes is shown with its settings (finding 6): a
//!   conditional access policy, an Intune policy, and a package's policy;
//! * a portal-made package policy of a name of its own, with an
//!   assignment through it, is ended (`adminRemove`) and deleted, not
//!   refused;
//! * a package the plan deletes is modelled in the state after the plan
//!   (finding 13): the lint on the members it delivered does not block it;
//! * applications and sites leave a catalog after the package roles that
//!   use them, and the sandbox refuses the other order;
//! * look-alike names (Unicode confusables) are a plan warning.

mod common;

use std::path::Path;

use common::gov::{converged, edit_file, graph, ledger_id, ledger_of, run};
use common::kind::*;
use common::*;
use engine::Ledger;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";
const PACKAGES: &str = "access-packages.toml";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// The example with `kinds` prunable and approvals off, edited by `edit`,
/// converged through the library and adopted by the binary.
async fn converged_prunable(sb: &sandbox::SandboxHandle, kinds: &[&str], edit: impl FnOnce(&Path)) -> (tempfile::TempDir, std::path::PathBuf) {
    let (scratch, dir) = kind_scratch(kinds, "access9", "access9-extra.toml", "[group.access9-extra]\ndisplay_name = \"access9 extra\"\nmail_nickname = \"access9-extra\"\n");
    edit(&dir);
    let c = client(sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(scratch.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(sb, scratch.path(), &["governance", "adopt", d(&dir), "--reason", "access9 setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");
    (scratch, dir)
}

/// The lines of the text plan `out` under the change headed `head`, up to
/// the next change.
fn section<'a>(out: &'a str, head: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.contains(head));
    let first = lines.next().into_iter();
    first.chain(lines.take_while(|l| !l.is_empty() && (!l.trim_start().starts_with(['+', '-', '~']) || l.starts_with("        ")))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_policy_is_shown_with_its_settings() {
    let sb = sandbox().await;
    let (work, dir) = converged_prunable(&sb, &["conditional_access"], |_| {}).await;
    edit_file(&dir, "conditional-access.toml", |t| {
        let start = t.find("[conditional_access.require-mfa]").expect("the MFA policy");
        let end = t.find("# Where people may sign in from").expect("what follows it");
        format!("{}{}", &t[..start], &t[end..])
    });
    edit_file(&dir, "policies.toml", |t| {
        let start = t.find("[compliance_policy.windows-baseline]").expect("the compliance policy");
        let end = t.find("[device_configuration.windows-restrictions]").expect("what follows it");
        format!("{}{}", &t[..start], &t[end..])
    });
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    let ca = section(&out, "- conditional_access.require-mfa");
    let ca_text = ca.join("\n");
    for part in ["- displayName = \"Require MFA for all users\"", "builtInControls = [\"mfa\"]", "includeUsers = [\"All\"]", "excludeGroups = [group.service-accounts]", "- state = \"enabled\""] {
        assert!(ca_text.contains(part), "`{part}` not in the delete of the CA policy:\n{ca_text}\n\n{out}");
    }
    let cp = section(&out, "- compliance_policy.windows-baseline").join("\n");
    for part in ["bitLockerEnabled = true", "osMinimumVersion = \"10.0.19045\"", "group.mwd-test"] {
        assert!(cp.contains(part), "`{part}` not in the delete of the compliance policy:\n{cp}\n\n{out}");
    }
    let (_, md) = run(&sb, work.path(), &["plan", d(&dir), "--format", "markdown"]);
    assert!(md.contains("- grantControls.builtInControls = [\"mfa\"]") && md.contains("- bitLockerEnabled = true"), "{md}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A policy made in the portal on the declared package, with a name of its
/// own, and Adele's assignment through it; the policy's id.
async fn portal_policy_with_assignment(sb: &sandbox::SandboxHandle, work: &Path) -> String {
    let package = ledger_id(work, "access_package.fabrikam-audit");
    let body = json!({"displayName": "Portal members", "description": "made in the portal", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}, "accessPackage": {"id": package}});
    let policy = graph(sb, Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(body)).await["id"].as_str().expect("an id").to_string();
    let adele = ledger_id(work, "user.adele");
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": adele, "assignmentPolicyId": policy, "accessPackageId": package}, "schedule": {"expiration": {"type": "noExpiration"}}});
    graph(sb, Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;
    policy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_policy_of_its_own_name_is_ended_with_its_assignments() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let policy = portal_policy_with_assignment(&sb, work.path()).await;
    let adele = ledger_id(work.path(), "user.adele");

    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(!out.contains("policy-in-use"), "not refused: {out}");
    let pkg = section(&out, "~ access_package.fabrikam-audit").join("\n");
    for part in ["- policies.portal members = ", "allowedTargetScope = \"allMemberUsers\"", "isApprovalRequiredForAdd = false", "first ends (adminRemove) the 1 assignment(s) through it"] {
        assert!(pkg.contains(part), "`{part}` not in the package's change:\n{pkg}\n\n{out}");
    }
    let (_, md) = run(&sb, work.path(), &["plan", d(&dir), "--format", "markdown"]);
    assert!(md.contains("- policies.portal members = {") && md.contains("allMemberUsers"), "{md}");

    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update access_package.fabrikam-audit") && !out.contains("FAILED"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once"]);
    assert_eq!(code, Some(0), "nothing is left of it: {out}");
    let policies = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies")).await.expect("policies");
    assert!(!policies.iter().any(|p| p["id"] == json!(policy)), "the portal-made policy is gone");
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let assignments = client(&sb).v1().list_all(&format!("{EM}/assignments?$filter=accessPackage/id eq '{package}'&$expand=target")).await.expect("assignments");
    assert!(!assignments.iter().any(|a| a["target"]["objectId"] == json!(adele) && a["state"] == json!("delivered")), "Adele's assignment is ended: {assignments:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A policy dropped from desired state while an assignment tenantctl made
/// goes through it is still refused: the declared policy removed with its
/// declared assignment (not pruned, so kept) would fail at Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_an_owned_assignment_goes_through_is_still_refused() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, PACKAGES, |t| {
        let start = t.find("[access_package.fabrikam-audit.policies.external]").expect("the policy");
        t[..start].to_string()
    });
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("removed");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[policy-in-use]: access_package.fabrikam-audit") && out.contains("access_package_assignment.fabrikam-auditor"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 13 for a whole package: a package made in the portal in the
/// declared catalog grants a ring group and delivered Megan into it. Its
/// removal takes her out, so the ring lint on her does not block it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_package_is_gone_from_the_state_after_the_plan() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let ledger = ledger_of(work.path());
    let (ring, megan, catalog) = (id_of(&ledger, "group.mwd-test"), id_of(&ledger, "user.megan"), id_of(&ledger, "access_catalog.guest-access"));
    let req = json!({"requestType": "adminAdd", "resource": {"originId": ring, "originSystem": "AadGroup"}, "catalog": {"id": catalog}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/resourceRequests"), Some(req)).await;
    let pkg = graph(&sb, Method::POST, &format!("/v1.0{EM}/accessPackages"), Some(json!({"displayName": "Ring self-service", "catalog": {"id": catalog}}))).await;
    let id = pkg["id"].as_str().expect("an id").to_string();
    let scope = json!({"role": {"displayName": "Member", "originId": format!("Member_{ring}"), "originSystem": "AadGroup"}, "scope": {"originId": ring, "originSystem": "AadGroup", "isRootScope": true}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/accessPackages/{id}/resourceRoleScopes"), Some(scope)).await;
    let policy = json!({"displayName": "Everyone", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []}, "accessPackage": {"id": id}});
    let pol = graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(policy)).await;
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": megan, "assignmentPolicyId": pol["id"], "accessPackageId": id}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;
    let members = graph(&sb, Method::GET, &format!("/v1.0/groups/{ring}/members?$select=id"), None).await;
    assert!(members["value"].as_array().is_some_and(|m| m.iter().any(|x| x["id"] == json!(megan))), "delivered into the ring: {members:#}");

    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains(&format!("- access_package.out-of-band-{id}")), "the package is removed: {out}");
    let ring_lint: Vec<&str> = out.lines().filter(|l| l.contains("[ring-devices-only]") && l.contains("group.mwd-test")).collect();
    assert!(!ring_lint.is_empty() && ring_lint.iter().all(|l| l.contains("warning")), "the ring lint does not block its remedy: {out}");
    assert!(ring_lint.iter().any(|l| l.contains("the state after this plan no longer has it")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const SP: &str = "5e1b7a2c-8d3f-4c6a-9b0e-1f2a3b4c5d6e";
const READER: &str = "a1a1a1a1-0000-4000-8000-000000000001";
const SITE: &str = "https://contoso.sharepoint.com/sites/fabrikamaudit";

/// An application (its service principal, with a user role) and a site,
/// registered behind the tool's back.
async fn seed_resources(sb: &sandbox::SandboxHandle) {
    let http = reqwest::Client::new();
    let sp = json!({"id": SP, "appId": "0f0f0f0f-1111-4222-8333-444455556666", "displayName": "Audit portal", "appRoles": [{"id": READER, "displayName": "Reader", "value": "Reader", "isEnabled": true, "allowedMemberTypes": ["User"]}]});
    let site = json!({"id": "contoso.sharepoint.com,1,2", "webUrl": "https://contoso.sharepoint.com/sites/FabrikamAudit", "displayName": "Fabrikam Audit"});
    for (coll, body) in [("servicePrincipals", sp), ("sites", site)] {
        let r = http.post(format!("{}/_sandbox/objects/{coll}", sb.base_url())).json(&body).send().await.expect("the sandbox answers");
        assert!(r.status().is_success(), "{coll}: {}", r.status());
    }
}

const CATALOG_LISTS: &str = "is_externally_visible = true\ngroups = [\"fabrikam-audit-guests\"]";
const PACKAGE_LISTS: &str = "catalog = \"guest-access\"\ngroups = [\"fabrikam-audit-guests\"]";

fn with_resources(t: String) -> String {
    t.replacen(CATALOG_LISTS, &format!("{CATALOG_LISTS}\napplications = [\"{SP}\"]\nsites = [\"{SITE}\"]"), 1).replacen(
        PACKAGE_LISTS,
        &format!("{PACKAGE_LISTS}\napplications = [{{ resource = \"{SP}\", role = \"Reader\" }}]\nsites = [{{ resource = \"{SITE}\", role = \"Fabrikam Audit Members\" }}]"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_and_sites_leave_the_catalog_after_the_package_roles() {
    let sb = sandbox().await;
    seed_resources(&sb).await;
    let (work, dir) = converged_prunable(&sb, &["access_catalog", "access_package"], |d| edit_file(d, PACKAGES, with_resources)).await;
    let (w, dd) = (work.path(), d(&dir));

    // The sandbox refuses removing a resource a package's role uses, as
    // Graph removes only one "no longer needed by the access packages".
    let catalog = ledger_id(w, "access_catalog.guest-access");
    let resources = client(&sb).v1().list_all(&format!("{EM}/catalogs/{catalog}/resources")).await.expect("resources");
    for system in ["AadApplication", "SharePointOnline"] {
        let res = resources.iter().find(|r| r["originSystem"] == json!(system)).expect("the resource");
        let req = json!({"requestType": "adminRemove", "resource": {"id": res["id"]}, "catalog": {"id": catalog}});
        let r = reqwest::Client::new().post(format!("{}/v1.0{EM}/resourceRequests", sb.base_url())).bearer_auth(sb.access_token()).json(&req).send().await.expect("the sandbox answers");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or_default();
        assert_eq!(status, 400, "{system}: {body:#}");
        assert!(body.to_string().contains("still grants one of its roles"), "{body:#}");
    }

    // Out of the package and the catalog in one plan: the package's roles
    // go first.
    edit_file(&dir, PACKAGES, |t| {
        t.replace(&format!("\napplications = [{{ resource = \"{SP}\", role = \"Reader\" }}]\nsites = [{{ resource = \"{SITE}\", role = \"Fabrikam Audit Members\" }}]"), "")
            .replace(&format!("\napplications = [\"{SP}\"]\nsites = [\"{SITE}\"]"), "\napplications = []\nsites = []")
    });
    let out = cli(&sb, w, &["plan", dd, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let (pkg, cat) = (changes_of(&p, "access_package.fabrikam-audit"), changes_of(&p, "access_catalog.guest-access"));
    assert!(pkg.len() == 1 && cat.len() == 1, "{:#?}", p.changes);
    assert!(pkg[0].wave < cat[0].wave, "the package first: {} then {}", pkg[0].wave, cat[0].wave);
    assert!(cat[0].waits_on.iter().any(|a| a.to_string() == "access_package.fabrikam-audit"), "{:?}", cat[0].waits_on);
    let (code, out) = run(&sb, w, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");
    let left = client(&sb).v1().list_all(&format!("{EM}/catalogs/{catalog}/resources")).await.expect("resources");
    assert!(left.iter().all(|r| r["originSystem"] == json!("AadGroup")), "{left:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_names_are_flagged_naming_both_and_the_code_points() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    // A portal-made policy whose name reads like the declared one's, with
    // a Cyrillic `а` (U+0430) for the Latin `a` (U+0061).
    let body = json!({"displayName": "Fabrik\u{0430}m auditors", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"}, "accessPackage": {"id": package}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(body)).await;
    // A declared group named like another declared one.
    edit_file(&dir, PACKAGES, |t| t + "\n[group.look-alike]\ndisplay_name = \"Fabrik\u{0430}m audit guests\"\nmail_nickname = \"look-alike\"\n");

    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    let warned: Vec<&str> = out.lines().filter(|l| l.contains("look-alike names")).collect();
    assert!(
        warned.iter().any(|l| l.contains("in access_package.fabrikam-audit, policy") && l.contains("`Fabrikam auditors`") && l.contains("U+0430 for U+0061")),
        "the package's policies: {out}"
    );
    assert!(warned.iter().any(|l| l.contains("group group.fabrikam-audit-guests `Fabrikam audit guests` and group.look-alike") && l.contains("U+0430 for U+0061")), "the groups: {out}");
    let (_, md) = run(&sb, work.path(), &["plan", d(&dir), "--format", "markdown"]);
    assert!(md.contains("look-alike names") && md.contains("U+0430 for U+0061"), "{md}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The guest policy's review settings, as Graph has them.
async fn live_review(sb: &sandbox::SandboxHandle, work: &Path) -> Value {
    let package = ledger_id(work, "access_package.fabrikam-audit");
    let all = client(sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    all.into_iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the package's policy")["reviewSettings"].clone()
}

const SCHEDULE: &str = "schedule = { start_date_time = 2027-01-04T09:00:00Z, duration = \"P7D\", recurrence = \"absoluteMonthly\", interval = 1";

/// Review schedules that end: on a date (`endDate`) or after a number of
/// reviews (`numbered`), created, updated, exported back to the same
/// plan; validation and the sandbox refuse what the docs' recurrenceRange
/// does not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_schedules_that_end_are_modelled() {
    let sb = sandbox().await;
    let (work, dir) = converged_prunable(&sb, &["access_package"], |d| edit_file(d, PACKAGES, |t| t.replace(&format!("{SCHEDULE} }}"), &format!("{SCHEDULE}, end_date = \"2027-06-30\" }}")))).await;
    let (w, dd) = (work.path(), d(&dir));
    let range = live_review(&sb, w).await["schedule"]["recurrence"]["range"].clone();
    assert_eq!((range["type"].clone(), range["startDate"].clone(), range["endDate"].clone()), (json!("endDate"), json!("2027-01-04"), json!("2027-06-30")), "{range:#}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Updated: four reviews in all.
    edit_file(&dir, PACKAGES, |t| t.replace("end_date = \"2027-06-30\"", "occurrences = 4"));
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("reviewSettings.schedule.recurrence.range.type: \"endDate\" -> \"numbered\"") && out.contains("numberOfOccurrences"), "{out}");
    let (code, out) = run(&sb, w, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let range = live_review(&sb, w).await["schedule"]["recurrence"]["range"].clone();
    assert_eq!((range["type"].clone(), range["numberOfOccurrences"].clone()), (json!("numbered"), json!(4)), "{range:#}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Exported: the end written back, and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join("access-packages.toml")).expect("the packages are exported");
    assert!(exported.contains("occurrences = 4"), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // Validation: both ends, an end before the first review, no review.
    for (end, said) in [("end_date = \"2027-06-30\", occurrences = 4", "either on end_date or after occurrences"), ("end_date = \"2026-12-31\"", "is before the first review starts"), ("occurrences = 0", "at least 1"), ("end_date = \"30/06/2027\"", "not a date as YYYY-MM-DD")] {
        edit_file(&dir, PACKAGES, |t| t.replace(&format!("{SCHEDULE}, occurrences = 4 }}"), &format!("{SCHEDULE}, {end} }}")));
        let (code, out) = run(&sb, w, &["validate", dd]);
        assert_ne!(code, Some(0), "{end}: {out}");
        assert!(out.contains("error[invalid-schedule]") && out.contains(said), "{end}: {out}");
        edit_file(&dir, PACKAGES, |t| t.replace(&format!("{SCHEDULE}, {end} }}"), &format!("{SCHEDULE}, occurrences = 4 }}")));
    }

    // The sandbox refuses a range the docs do not allow.
    let package = ledger_id(w, "access_package.fabrikam-audit");
    let adele = ledger_id(w, "user.adele");
    for range in [json!({"type": "endDate", "startDate": "2027-01-04"}), json!({"type": "numbered", "startDate": "2027-01-04", "numberOfOccurrences": 0}), json!({"type": "endDate", "endDate": "2027-06-30"}), json!({"type": "sometimes", "startDate": "2027-01-04"}), json!({"type": "endDate", "startDate": "2027-01-04", "endDate": "2026-06-30"})] {
        let body = json!({"displayName": "Reviewed", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"}, "accessPackage": {"id": package},
            "reviewSettings": {"isEnabled": true, "expirationBehavior": "removeAccess", "primaryReviewers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": adele}],
                "schedule": {"startDateTime": "2027-01-04T09:00:00Z", "expiration": {"type": "afterDuration", "duration": "P7D"}, "recurrence": {"pattern": {"type": "weekly", "interval": 1}, "range": range}}}});
        let r = reqwest::Client::new().post(format!("{}/v1.0{EM}/assignmentPolicies", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
        assert_eq!(r.status().as_u16(), 400, "{range}: {}", r.text().await.unwrap_or_default());
    }
    sb.shutdown().await.expect("the sandbox stops");
}

const REQUESTOR: &str = "requestor_settings = { enable_targets_to_self_add_access = true, enable_targets_to_self_remove_access = true }\n";
const QUESTIONS: &str = "questions = [\n  { text = \"Which audit engagement?\", is_required = true, choices = [{ value = \"fy26\", text = \"FY2026 audit\" }, { value = \"fy27\", text = \"FY2027 audit\" }] },\n  { text = \"Your engagement letter's reference\", regex_pattern = \"^EL-[0-9]+$\" },\n]\n";

/// Requestor questions on a policy: created in order with their types,
/// updated, exported back to the same plan; validation and the sandbox
/// refuse what v1.0 does not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_questions_are_modelled() {
    let sb = sandbox().await;
    let (work, dir) = converged_prunable(&sb, &["access_package"], |d| edit_file(d, PACKAGES, |t| t.replacen(REQUESTOR, &format!("{REQUESTOR}{QUESTIONS}"), 1))).await;
    let (w, dd) = (work.path(), d(&dir));
    let package = ledger_id(w, "access_package.fabrikam-audit");
    let policies = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage,questions")).await.expect("policies");
    let mine = policies.iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the policy");
    let qs = mine["questions"].as_array().expect("questions");
    assert_eq!(qs.len(), 2, "{mine:#}");
    assert_eq!((qs[0]["@odata.type"].clone(), qs[0]["sequence"].clone(), qs[0]["choices"][1]["actualValue"].clone()), (json!("#microsoft.graph.accessPackageMultipleChoiceQuestion"), json!(1), json!("fy27")));
    assert_eq!((qs[1]["@odata.type"].clone(), qs[1]["regexPattern"].clone()), (json!("#microsoft.graph.accessPackageTextInputQuestion"), json!("^EL-[0-9]+$")));
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Updated: the free-text question on several lines.
    edit_file(&dir, PACKAGES, |t| t.replace("regex_pattern = \"^EL-[0-9]+$\" }", "regex_pattern = \"^EL-[0-9]+$\", multiline = true }"));
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("policies.fabrikam auditors.questions") && out.contains("isSingleLineQuestion = false"), "{out}");
    let (code, out) = run(&sb, w, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Exported: the questions written back, and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join("access-packages.toml")).expect("the packages are exported");
    assert!(exported.contains("Which audit engagement?") && exported.contains("multiline = true") && exported.contains("value = \"fy26\""), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // Validation: a choice offered twice, a free-text setting on a choice.
    for (from, to, said) in [("value = \"fy27\"", "value = \"fy26\"", "offers the value `fy26` twice"), ("is_required = true, choices", "is_required = true, multiline = true, choices", "multiline (a free-text setting) does not apply")] {
        edit_file(&dir, PACKAGES, |t| t.replace(from, to));
        let (code, out) = run(&sb, w, &["validate", dd]);
        assert_ne!(code, Some(0), "{to}: {out}");
        assert!(out.contains(said), "{to}: {out}");
        edit_file(&dir, PACKAGES, |t| t.replace(to, from));
    }

    // The sandbox refuses questions v1.0 does not allow.
    for q in [json!({"text": "Untyped"}), json!({"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "No choices", "choices": []}), json!({"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": ""}), json!({"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "x", "choices": [{"actualValue": "a"}]})] {
        let body = json!({"displayName": "Asked", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"}, "accessPackage": {"id": package}, "questions": [q]});
        let r = reqwest::Client::new().post(format!("{}/v1.0{EM}/assignmentPolicies", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
        assert_eq!(r.status().as_u16(), 400, "{q}: {}", r.text().await.unwrap_or_default());
    }
    sb.shutdown().await.expect("the sandbox stops");
}
