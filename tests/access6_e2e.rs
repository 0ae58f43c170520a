//! Approval escalation and access reviews on access package assignment
//! policies (issue 16), through the binary: each is created, updated,
//! turned off and exported back to the same plan; a review set in the
//! portal on a declared review is drift that apply corrects, and one no
//! longer declared is kept as the tenant has it. Escalation approvers and
//! reviewers are held to the approvers' rules (errors located where they
//! are written); a guest policy without a real review is a warning. The
//! sandbox refuses an escalation without approvers, as the portal does.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run, validate};
use common::kind::*;
use common::*;
use engine::Ledger;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";
const FILE: &str = "access-packages.toml";
const PACKAGE: &str = "access_package.fabrikam-audit";
const EXTRA: &str = r#"
[user.nestor]
user_principal_name = "nestor.wilke@contoso.onmicrosoft.com"
display_name = "Nestor Wilke"
mail_nickname = "nestor.wilke"
usage_location = "US"
"#;
const STAGE_END: &str = "is_approver_justification_required = true }]";

/// The example (with Nestor) converged through the library, its ledger
/// where the binary looks for it.
async fn converged_scratch(sb: &sandbox::SandboxHandle, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, std::path::PathBuf) {
    let (scratch, dir) = kind_scratch(&["access_catalog", "access_package"], "access6", "access6-extra.toml", EXTRA);
    edit(&dir);
    let c = client(sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(scratch.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    // The binary then trusts this [governance] on purpose (as an operator
    // taking over a tenant converged elsewhere would).
    let (code, out) = run(sb, scratch.path(), &["governance", "adopt", dir.to_str().expect("a UTF-8 path"), "--reason", "access6 setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");
    (scratch, dir)
}

/// The example package's one live policy.
async fn live_policy(sb: &sandbox::SandboxHandle, work: &Path) -> Value {
    let package = ledger_of(work).id(&PACKAGE.parse().expect("an address")).expect("the package is in the ledger").to_string();
    let all = client(sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let mine: Vec<Value> = all.into_iter().filter(|p| p["accessPackage"]["id"] == json!(package)).collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    mine[0].clone()
}

/// The package's policy changed in the portal: read, edited by `edit`, and
/// written back whole (Graph's update is a PUT).
async fn portal_put(sb: &sandbox::SandboxHandle, work: &Path, edit: impl FnOnce(&mut Value)) {
    let live = live_policy(sb, work).await;
    let mut body = live.clone();
    if let Some(m) = body.as_object_mut() {
        for k in ["id", "createdDateTime", "modifiedDateTime"] {
            m.remove(k);
        }
    }
    body["accessPackage"] = json!({"id": live["accessPackage"]["id"]});
    edit(&mut body);
    graph(sb, reqwest::Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{}", live["id"].as_str().expect("an id")), Some(body)).await;
}

/// The binary's plan as JSON: (action address, the fields it touches).
fn binary_plan(sb: &sandbox::SandboxHandle, work: &Path, d: &str) -> Vec<(String, Vec<String>)> {
    let out = cli(sb, work, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    p.changes.iter().map(|c| (format!("{} {}", c.action.as_str(), c.address), c.fields.iter().map(|f| f.field.clone()).collect())).collect()
}

fn apply_binary(sb: &sandbox::SandboxHandle, work: &Path, d: &str) {
    let (code, out) = run(sb, work, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
}

fn assert_converged(sb: &sandbox::SandboxHandle, work: &Path, d: &str) {
    let (code, out) = run(sb, work, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
}

fn single_user(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.singleUser", "userId": id})
}

fn canonical(d: &str) -> Value {
    json!(schema::kinds::role_policy::canonical_duration(d).expect("a duration"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_is_created_updated_exported_and_turned_off() {
    let sb = sandbox().await;
    let escalating = "is_approver_justification_required = true, is_escalation_enabled = true, duration_before_escalation = \"P2D\", escalation_approvers = [\"nestor\"], fallback_escalation_approvers = [\"megan\"] }]".to_string();
    let (work, dir) = converged_scratch(&sb, |d| edit_file(d, FILE, |t| t.replace(STAGE_END, &escalating))).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));
    let ledger = ledger_of(w);
    let (nestor, megan) = (id_of(&ledger, "user.nestor"), id_of(&ledger, "user.megan"));

    // Created with the package: escalation on, its approvers and delay.
    let stage = live_policy(&sb, w).await["requestApprovalSettings"]["stages"][0].clone();
    assert_eq!(stage["isEscalationEnabled"], json!(true), "{stage:#}");
    assert_eq!(stage["durationBeforeEscalation"], canonical("P2D"), "{stage:#}");
    assert_eq!((stage["escalationApprovers"].clone(), stage["fallbackEscalationApprovers"].clone()), (json!([single_user(&nestor)]), json!([single_user(&megan)])), "{stage:#}");
    assert_converged(&sb, w, d);

    // Updated: a shorter delay is a change of that field only, applied by the binary.
    edit_file(&dir, FILE, |t| t.replace("duration_before_escalation = \"P2D\"", "duration_before_escalation = \"PT12H\""));
    let p = binary_plan(&sb, w, d);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].0, format!("update {PACKAGE}"));
    assert_eq!(p[0].1, ["policies.fabrikam auditors.requestApprovalSettings.stages"], "approval stages compare whole");
    apply_binary(&sb, w, d);
    assert_eq!(live_policy(&sb, w).await["requestApprovalSettings"]["stages"][0]["durationBeforeEscalation"], canonical("PT12H"));
    assert_converged(&sb, w, d);

    // Changed in the portal (another escalation approver): drift, corrected.
    portal_put(&sb, w, |body| body["requestApprovalSettings"]["stages"][0]["escalationApprovers"] = json!([single_user(&megan)])).await;
    let p = binary_plan(&sb, w, d);
    assert!(p.len() == 1 && p[0].1.iter().any(|f| f.ends_with("requestApprovalSettings.stages")), "{p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(live_policy(&sb, w).await["requestApprovalSettings"]["stages"][0]["escalationApprovers"], json!([single_user(&nestor)]));

    // Exported: the escalation is written and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join(FILE)).expect("the packages are exported");
    assert!(exported.contains("is_escalation_enabled = true") && exported.contains("escalation_approvers"), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // Turned off: an update; Graph's stage says escalation is off.
    edit_file(&dir, FILE, |t| t.replace(&escalating.replace("P2D", "PT12H"), STAGE_END));
    let p = binary_plan(&sb, w, d);
    assert!(p.len() == 1 && p[0].1.iter().any(|f| f.ends_with("requestApprovalSettings.stages")), "{p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(live_policy(&sb, w).await["requestApprovalSettings"]["stages"][0]["isEscalationEnabled"], json!(false));
    assert_converged(&sb, w, d);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_are_created_diffed_field_by_field_exported_and_kept_when_undeclared() {
    let sb = sandbox().await;
    let (work, dir) = converged_scratch(&sb, |_| {}).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));
    let ledger = ledger_of(w);
    let (adele, megan) = (id_of(&ledger, "user.adele"), id_of(&ledger, "user.megan"));

    // Created from the example's review settings.
    let r = live_policy(&sb, w).await["reviewSettings"].clone();
    assert_eq!((r["isEnabled"].clone(), r["expirationBehavior"].clone()), (json!(true), json!("removeAccess")), "{r:#}");
    assert_eq!((r["primaryReviewers"].clone(), r["fallbackReviewers"].clone()), (json!([single_user(&adele)]), json!([single_user(&megan)])), "{r:#}");
    assert_eq!(r["schedule"]["recurrence"]["pattern"], json!({"type": "absoluteMonthly", "interval": 1}), "{r:#}");
    assert_eq!((r["schedule"]["startDateTime"].clone(), r["schedule"]["expiration"]["duration"].clone()), (json!("2027-01-04T09:00:00Z"), canonical("P7D")), "{r:#}");
    assert_converged(&sb, w, d);

    // Updated: quarterly instead of monthly, field by field.
    edit_file(&dir, FILE, |t| t.replace("recurrence = \"absoluteMonthly\", interval = 1", "recurrence = \"absoluteMonthly\", interval = 3"));
    let p = binary_plan(&sb, w, d);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].1.iter().all(|f| f.contains("reviewSettings.schedule.recurrence.pattern.interval")), "only the interval: {p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(live_policy(&sb, w).await["reviewSettings"]["schedule"]["recurrence"]["pattern"]["interval"], json!(3));
    assert_converged(&sb, w, d);

    // A reviewer changed in the portal is drift on that field, corrected.
    portal_put(&sb, w, |body| body["reviewSettings"]["primaryReviewers"] = json!([single_user(&megan)])).await;
    let p = binary_plan(&sb, w, d);
    assert!(p.len() == 1 && p[0].1.iter().all(|f| f.contains("reviewSettings.primaryReviewers")), "{p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(live_policy(&sb, w).await["reviewSettings"]["primaryReviewers"], json!([single_user(&adele)]));

    // Exported: written back and plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join(FILE)).expect("the packages are exported");
    assert!(exported.contains("review_settings") && exported.contains("interval = 3"), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // No longer declared: not managed, so an unrelated update sends the
    // tenant's review back as it is.
    edit_file(&dir, FILE, |t| {
        let cut = t.find("# The guests' access is reviewed").expect("the example's review");
        t[..cut].replace("2027-03-31T17:00:00Z", "2027-04-30T17:00:00Z")
    });
    let before = live_policy(&sb, w).await["reviewSettings"].clone();
    let (code, out) = validate(&sb, w);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("guest-access-without-review"), "a guest policy with no review is a warning: {out}");
    apply_binary(&sb, w, d);
    let after = live_policy(&sb, w).await;
    assert_eq!((after["expiration"]["endDateTime"].clone(), after["reviewSettings"].clone()), (json!("2027-04-30T17:00:00Z"), before), "{after:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

const RULES: &str = r#"[access_package.rules]
display_name = "Rules"
catalog = "guest-access"
groups = ["fabrikam-audit-guests"]

[access_package.rules.policies.guests]
display_name = "Guests"
allowed_target_scope = "allExternalUsers"
expiration = { type = "afterDuration", duration = "P30D" }
review_settings = { schedule = { start_date_time = 2027-01-04T09:00:00Z, recurrence = "weekly" }, primary_reviewers = ["msadmin", "fabrikam-auditor"] }

[access_package.rules.policies.guests.request_approval_settings]
is_approval_required_for_add = true
stages = [
  { primary_approvers = ["adele"], is_escalation_enabled = true, duration_before_escalation = "P2D", escalation_approvers = ["msadmin"] },
  { primary_approvers = ["adele"], is_escalation_enabled = true, duration_before_escalation = "P2D", escalation_approvers = ["fabrikam-auditor"] },
  { primary_approvers = ["adele"], is_escalation_enabled = true, duration_before_escalation = "P2D", escalation_approvers = ["requestor_manager"] },
]

[access_package.shapes]
display_name = "Shapes"
catalog = "guest-access"
groups = ["fabrikam-audit-guests"]

[access_package.shapes.policies.members]
display_name = "Members"
allowed_target_scope = "allMemberUsers"
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.shapes.policies.members.request_approval_settings]
is_approval_required_for_add = true
stages = [
  { primary_approvers = ["adele"], escalation_approvers = ["megan"] },
  { primary_approvers = ["adele"], is_escalation_enabled = true, duration_before_escalation = "P2D" },
  { primary_approvers = ["adele"], is_escalation_enabled = true, duration_before_escalation = "P15D", escalation_approvers = ["fabrikam-auditor"] },
]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_approvers_and_reviewers_are_held_to_the_approvers_rules() {
    let sb = sandbox().await;
    let (scratch, dir) = kind_scratch(&["access_package"], "access6 rules", "access6-rules.toml", RULES);
    let d = load_errors(&dir);
    // Escalation: a service account, a guest the policy admits, the
    // manager with no fallback (lines 15-17).
    assert_error_at(&d, "access6-rules.toml", "service-account-approver", 15);
    assert_error_at(&d, "access6-rules.toml", "self-approval", 16);
    assert_error_at(&d, "access6-rules.toml", "self-approval", 17);
    // Reviewers: the same two rules (line 10).
    assert_error_at(&d, "access6-rules.toml", "service-account-approver", 10);
    assert_error_at(&d, "access6-rules.toml", "self-approval", 10);
    // Shapes: escalation approvers with escalation off, escalation with
    // no approvers, a delay not shorter than the automatic denial.
    assert_error_at(&d, "access6-rules.toml", "escalation-disabled", 33);
    assert_error_at(&d, "access6-rules.toml", "missing-approvers", 34);
    assert_error_at(&d, "access6-rules.toml", "bad-duration", 35);
    // Through the binary, the same errors, located.
    let (code, out) = validate(&sb, scratch.path());
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[service-account-approver]") && out.contains("access6-rules.toml:15"), "{out}");
    assert!(out.contains("error[escalation-disabled]") && out.contains("access6-rules.toml:33"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[test]
fn a_guest_policy_reviewed_only_by_its_guests_is_a_warning() {
    let text = r#"[access_package.self]
display_name = "Self"
catalog = "guest-access"
groups = ["fabrikam-audit-guests"]

[access_package.self.policies.guests]
display_name = "Guests"
allowed_target_scope = "allExternalUsers"
expiration = { type = "afterDuration", duration = "P30D" }
review_settings = { is_self_review = true, schedule = { start_date_time = 2027-01-04T09:00:00Z, recurrence = "weekly" } }

[access_package.self.policies.guests.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"] }]
"#;
    let (_scratch, dir) = kind_scratch(&["access_package"], "access6 self-review", "access6-self.toml", text);
    let state = load_ok(&dir);
    let w = state.warnings.to_string();
    assert!(w.contains("guest-access-without-review") && w.contains("access6-self.toml:10") && w.contains("only the guests review their own access"), "{w}");
    // A reasoned exception silences it.
    edit_file(&dir, "tenant.toml", |t| t.replacen("[governance.exceptions]", "[governance.exceptions]\n\"guest-access-without-review:access_package.self\" = \"the auditors' firm recertifies them\"", 1));
    assert!(!load_ok(&dir).warnings.to_string().contains("access_package.self"), "excepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_an_escalation_without_approvers() {
    let sb = sandbox().await;
    let (work, _dir) = converged_scratch(&sb, |_| {}).await;
    let live = live_policy(&sb, work.path()).await;
    let mut body = live.as_object().cloned().expect("an object");
    for k in ["id", "createdDateTime", "modifiedDateTime"] {
        body.remove(k);
    }
    body.insert("accessPackage".into(), json!({"id": live["accessPackage"]["id"]}));
    body["requestApprovalSettings"]["stages"][0]["isEscalationEnabled"] = json!(true);
    body["requestApprovalSettings"]["stages"][0]["durationBeforeEscalation"] = json!("P2D");
    let url = format!("{}/v1.0{EM}/assignmentPolicies/{}", sb.base_url(), live["id"].as_str().expect("an id"));
    let r = reqwest::Client::new().put(&url).bearer_auth(sb.access_token()).json(&Value::Object(body.clone())).send().await.expect("the sandbox answers");
    assert_eq!(r.status().as_u16(), 400, "{}", r.text().await.unwrap_or_default());
    body["requestApprovalSettings"]["stages"][0]["escalationApprovers"] = json!([single_user("00000000-0000-0000-0000-00000000dead")]);
    let r = reqwest::Client::new().put(&url).bearer_auth(sb.access_token()).json(&Value::Object(body)).send().await.expect("the sandbox answers");
    assert_eq!(r.status().as_u16(), 400, "an unknown escalation approver: {}", r.text().await.unwrap_or_default());
    sb.shutdown().await.expect("the sandbox stops");
}

const SP: &str = "5e1b7a2c-8d3f-4c6a-9b0e-1f2a3b4c5d6e";
const READER: &str = "a1a1a1a1-0000-4000-8000-000000000001";
const WRITER: &str = "a1a1a1a1-0000-4000-8000-000000000002";
const SITE: &str = "https://contoso.sharepoint.com/sites/fabrikamaudit";

/// An application (its service principal, with two user roles and one
/// app-only role) and a site, made behind the tool's back as an
/// administrator registering them would.
async fn seed_resources(sb: &sandbox::SandboxHandle) {
    let http = reqwest::Client::new();
    let role = |id: &str, name: &str, who: &str| json!({"id": id, "displayName": name, "value": name, "isEnabled": true, "allowedMemberTypes": [who]});
    let sp = json!({"id": SP, "appId": "0f0f0f0f-1111-4222-8333-444455556666", "displayName": "Audit portal", "appRoles": [role(READER, "Reader", "User"), role(WRITER, "Writer", "User"), role("a1a1a1a1-0000-4000-8000-000000000003", "Sync", "Application")]});
    let site = json!({"id": "contoso.sharepoint.com,1,2", "webUrl": "https://contoso.sharepoint.com/sites/FabrikamAudit", "displayName": "Fabrikam Audit"});
    for (coll, body) in [("servicePrincipals", sp), ("sites", site)] {
        let r = http.post(format!("{}/_sandbox/objects/{coll}", sb.base_url())).json(&body).send().await.expect("the sandbox answers");
        assert!(r.status().is_success(), "{coll}: {}", r.status());
    }
}

fn with_resources(t: String) -> String {
    t.replacen("is_externally_visible = true\ngroups = [\"fabrikam-audit-guests\"]", &format!("is_externally_visible = true\ngroups = [\"fabrikam-audit-guests\"]\napplications = [\"{SP}\"]\nsites = [\"{SITE}\"]"), 1).replacen(
        "catalog = \"guest-access\"\ngroups = [\"fabrikam-audit-guests\"]",
        &format!("catalog = \"guest-access\"\ngroups = [\"fabrikam-audit-guests\"]\napplications = [{{ resource = \"{SP}\", role = \"Reader\" }}]\nsites = [{{ resource = \"{SITE}\", role = \"Fabrikam Audit Members\" }}]"),
        1,
    )
}

async fn package_roles(sb: &sandbox::SandboxHandle, work: &Path) -> Vec<(String, String)> {
    let package = ledger_of(work).id(&PACKAGE.parse().expect("an address")).expect("in the ledger").to_string();
    let live = client(sb).v1().get_json(&format!("{EM}/accessPackages/{package}?$expand=resourceRoleScopes($expand=role,scope)")).await.expect("the package");
    let mut out: Vec<(String, String)> = live["resourceRoleScopes"].as_array().into_iter().flatten().map(|rs| (rs["role"]["originSystem"].as_str().unwrap_or_default().to_string(), rs["role"]["originId"].as_str().unwrap_or_default().to_string())).filter(|(s, _)| s != "AadGroup").collect();
    out.sort();
    out
}

async fn catalog_resources(sb: &sandbox::SandboxHandle, work: &Path) -> Vec<(String, String)> {
    let catalog = ledger_of(work).id(&"access_catalog.guest-access".parse().expect("an address")).expect("in the ledger").to_string();
    let all = client(sb).v1().list_all(&format!("{EM}/catalogs/{catalog}/resources")).await.expect("resources");
    let mut out: Vec<(String, String)> = all.iter().map(|r| (r["originSystem"].as_str().unwrap_or_default().to_string(), r["originId"].as_str().unwrap_or_default().to_lowercase())).filter(|(s, _)| s != "AadGroup").collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_and_sites_are_catalog_resources_and_package_roles() {
    let sb = sandbox().await;
    seed_resources(&sb).await;
    let (work, dir) = converged_scratch(&sb, |d| edit_file(d, FILE, with_resources)).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));

    // Created: both in the catalog, their roles in the package.
    assert_eq!(catalog_resources(&sb, w).await, [("AadApplication".to_string(), SP.to_string()), ("SharePointOnline".to_string(), SITE.to_string())]);
    assert_eq!(package_roles(&sb, w).await, [("AadApplication".to_string(), READER.to_string()), ("SharePointOnline".to_string(), "5".to_string())]);
    assert_converged(&sb, w, d);

    // Updated: another app role; the site's role no longer granted, then
    // the site no longer in the catalog.
    edit_file(&dir, FILE, |t| t.replace("role = \"Reader\"", "role = \"Writer\"").replace(&format!("\nsites = [{{ resource = \"{SITE}\", role = \"Fabrikam Audit Members\" }}]"), ""));
    let p = binary_plan(&sb, w, d);
    assert_eq!(p, [(format!("update {PACKAGE}"), vec!["applications".to_string(), "sites".to_string()])], "{p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(package_roles(&sb, w).await, [("AadApplication".to_string(), WRITER.to_string())]);
    edit_file(&dir, FILE, |t| t.replace(&format!("\nsites = [\"{SITE}\"]"), ""));
    // Nothing is written; the plan only ratifies that desired state no
    // longer declares the sites (gov12), which applying records.
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    assert!(p.changes.iter().all(engine::governance::ratify::is_ratify), "a catalog that declares no sites does not manage them: {:?}", p.changes);
    apply_binary(&sb, w, d);
    assert!(binary_plan(&sb, w, d).is_empty(), "converged");
    edit_file(&dir, FILE, |t| t.replace(&format!("applications = [\"{SP}\"]"), &format!("applications = [\"{SP}\"]\nsites = []")));
    let p = binary_plan(&sb, w, d);
    assert_eq!(p, [("update access_catalog.guest-access".to_string(), vec!["sites".to_string()])], "{p:?}");
    apply_binary(&sb, w, d);
    assert_eq!(catalog_resources(&sb, w).await, [("AadApplication".to_string(), SP.to_string())]);
    assert_converged(&sb, w, d);

    // Exported: both lists written back, and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join("access-packages.toml")).expect("the packages are exported");
    assert!(exported.contains(SP) && exported.contains("role = \"Writer\""), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // A role the application does not offer to users: the apply fails
    // naming what it offers.
    edit_file(&dir, FILE, |t| t.replace("role = \"Writer\"", "role = \"Sync\""));
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("offers no role `Sync`") && out.contains("Reader, Writer"), "{out}");
    // Roles are added before the old ones go, so the failed change leaves
    // the package as it was.
    assert_eq!(package_roles(&sb, w).await, [("AadApplication".to_string(), WRITER.to_string())], "the unknown role was never added, the old one stays");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_unknown_resources_and_roles_they_do_not_offer() {
    let sb = sandbox().await;
    seed_resources(&sb).await;
    let (work, _dir) = converged_scratch(&sb, |_| {}).await;
    let ledger = ledger_of(work.path());
    let (catalog, package) = (id_of(&ledger, "access_catalog.guest-access"), id_of(&ledger, PACKAGE));
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let req = http.post(format!("{}/v1.0{EM}{path}", sb.base_url())).bearer_auth(sb.access_token()).json(&body);
        async move { req.send().await.expect("the sandbox answers").status().as_u16() }
    };
    let add = |origin: &str, system: &str| json!({"requestType": "adminAdd", "resource": {"originId": origin, "originSystem": system}, "catalog": {"id": catalog}});
    assert_eq!(post("/resourceRequests".into(), add("00000000-0000-4000-8000-00000000beef", "AadApplication")).await, 400, "an unknown service principal");
    assert_eq!(post("/resourceRequests".into(), add("https://contoso.sharepoint.com/sites/nowhere", "SharePointOnline")).await, 400, "an unknown site");
    assert_eq!(post("/resourceRequests".into(), add(SP, "AadApplication")).await, 201);
    assert_eq!(post("/resourceRequests".into(), add(SP, "AadApplication")).await, 409, "already in the catalog");
    let scope = |role: &str| json!({"role": {"originId": role, "originSystem": "AadApplication"}, "scope": {"originId": SP, "originSystem": "AadApplication", "isRootScope": true}});
    let roles = format!("/accessPackages/{package}/resourceRoleScopes");
    assert_eq!(post(roles.clone(), scope("a1a1a1a1-0000-4000-8000-000000000003")).await, 400, "an app-only role is not offered to users");
    assert_eq!(post(roles.clone(), scope(READER)).await, 201);
    // Roles are listed only when expanded.
    let listed = graph(&sb, reqwest::Method::GET, &format!("/v1.0{EM}/catalogs/{catalog}/resources"), None).await;
    assert!(listed["value"].as_array().into_iter().flatten().all(|r| r.get("roles").is_none()), "{listed:#}");
    let expanded = graph(&sb, reqwest::Method::GET, &format!("/v1.0{EM}/catalogs/{catalog}/resources?$expand=roles"), None).await;
    let app = expanded["value"].as_array().into_iter().flatten().find(|r| r["originId"] == json!(SP)).cloned().expect("the application");
    assert_eq!(app["roles"].as_array().map(Vec::len), Some(2), "{app:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[test]
fn resources_are_refused_where_they_are_written() {
    let text = r#"[access_catalog.apps]
display_name = "Apps"
applications = ["not-a-guid"]
sites = ["http://contoso.sharepoint.com/sites/x", "https://contoso.sharepoint.com/sites/a"]

[access_package.apps]
display_name = "Apps"
catalog = "apps"
applications = [{ resource = "5e1b7a2c-8d3f-4c6a-9b0e-1f2a3b4c5d6e", role = "Reader" }]
sites = [{ resource = "https://contoso.sharepoint.com/sites/A", role = "" }]
"#;
    let (_scratch, dir) = kind_scratch(&["access_package"], "access6 resources", "access6-apps.toml", text);
    let d = load_errors(&dir);
    assert_error_at(&d, "access6-apps.toml", "bad-value", 3);
    assert_error_at(&d, "access6-apps.toml", "bad-value", 4);
    assert_error_at(&d, "access6-apps.toml", "resource-not-in-catalog", 9);
    assert_error_at(&d, "access6-apps.toml", "empty-name", 10);
}
