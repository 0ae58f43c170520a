//! Automatic assignment on access package policies (issue 16, hostile run
//! 16 finding 6), through the binary: turned on in the portal it is drift
//! shown field by field, and its correction only removes access, so apply
//! carries it out with no approval given; declared, it is created,
//! delivered by the sandbox to the users its rule matches, exported back
//! to the same plan, and judged as a policy with no approval (a
//! privileged group, or a rule that may hold a service account, is an
//! error). The sandbox refuses the forms the docs do not give.

mod common;

use std::path::Path;

use common::gov::{converged, edit_file, graph, ledger_of, run, validate};
use common::kind::*;
use common::*;
use engine::Ledger;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";
const FILE: &str = "access-packages.toml";
const PACKAGE: &str = "access_package.fabrikam-audit";
const AUTO_FIELD: &str = "policies.fabrikam auditors.automaticRequestSettings.requestAccessForAllowedTargets";

/// The example package's live policies.
async fn live_policies(sb: &sandbox::SandboxHandle, work: &Path) -> Vec<Value> {
    let package = ledger_of(work).id(&PACKAGE.parse().expect("an address")).expect("the package is in the ledger").to_string();
    let all = client(sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    all.into_iter().filter(|p| p["accessPackage"]["id"] == json!(package)).collect()
}

/// The live assignments of the example package still granting access, as
/// (target id, policy id).
async fn live_assignments(sb: &sandbox::SandboxHandle) -> Vec<(String, String)> {
    let all = client(sb).v1().list_all(&format!("{EM}/assignments?$expand=target,assignmentPolicy")).await.expect("assignments");
    let mut out: Vec<(String, String)> = all
        .iter()
        .filter(|a| a["state"] == json!("delivered"))
        .map(|a| (a["target"]["id"].as_str().unwrap_or_default().to_string(), a["assignmentPolicy"]["id"].as_str().unwrap_or_default().to_string()))
        .collect();
    out.sort();
    out
}

async fn members(sb: &sandbox::SandboxHandle, group: &str) -> Vec<String> {
    let v = client(sb).v1().list_all(&format!("/groups/{group}/members?$select=id")).await.expect("members");
    v.iter().map(|m| m["id"].as_str().unwrap_or_default().to_string()).collect()
}

fn rule_target(rule: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.attributeRuleMembers", "description": "set in the portal", "membershipRule": rule})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_assignment_turned_on_in_the_portal_is_drift_corrected_without_approval() {
    let sb = sandbox().await;
    // Two approvals required, none given below.
    let (work, dir) = converged(&sb, |_| {}).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));
    let ledger = ledger_of(w);
    let (megan, group) = (id_of(&ledger, "user.megan"), id_of(&ledger, "group.fabrikam-audit-guests"));
    let policy = live_policies(&sb, w).await.remove(0);
    assert_eq!(policy["automaticRequestSettings"], Value::Null, "declared request-based, written so: {policy:#}");

    // In the portal: the policy assigns everyone in IT, automatically.
    let mut body = policy.clone();
    for k in ["id", "createdDateTime", "modifiedDateTime"] {
        body.as_object_mut().expect("an object").remove(k);
    }
    body["accessPackage"] = json!({"id": policy["accessPackage"]["id"]});
    body["allowedTargetScope"] = json!("specificDirectoryUsers");
    body["specificAllowedTargets"] = json!([rule_target("(user.department -eq \"IT\")")]);
    body["automaticRequestSettings"] = json!({"requestAccessForAllowedTargets": true, "removeAccessWhenTargetLeavesAllowedTargets": true});
    let pid = policy["id"].as_str().expect("an id").to_string();
    graph(&sb, reqwest::Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{pid}"), Some(body)).await;
    // Entra assigns the package to Megan (IT) with nobody asking: she is in the group.
    assert!(live_assignments(&sb).await.contains(&(megan.clone(), pid.clone())), "{:?}", live_assignments(&sb).await);
    assert!(members(&sb, &group).await.contains(&megan));

    // The plan shows it field by field, and does not hold it.
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let c = changes_of(&p, PACKAGE);
    assert_eq!(c.len(), 1, "{:#?}", p.changes);
    let f = c[0].fields.iter().find(|f| f.field == AUTO_FIELD).unwrap_or_else(|| panic!("automatic assignment is shown: {:?}", fields(c[0])));
    assert_eq!((f.before.clone(), f.after.clone()), (Some(json!(true)), Some(json!(false))));
    assert!(fields(c[0]).contains(&"policies.fabrikam auditors.allowedTargetScope"), "{:?}", fields(c[0]));
    assert!(!p.sensitive.contains_key(&PACKAGE.parse().expect("an address")), "turning it off removes access: {:?}", p.sensitive);
    assert!(c[0].notes.iter().any(|n| n.contains("only turns off automatic assignment")), "{:?}", c[0].notes);

    // Applied with no approval: the policy is request-based again, and
    // Megan's automatic assignment ended (she left the group).
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let policy = live_policies(&sb, w).await.remove(0);
    assert_eq!(policy["automaticRequestSettings"], Value::Null, "{policy:#}");
    assert_eq!(policy["allowedTargetScope"], json!("allExternalUsers"));
    assert!(!live_assignments(&sb).await.iter().any(|(t, _)| *t == megan), "{:?}", live_assignments(&sb).await);
    assert!(!members(&sb, &group).await.contains(&megan));
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A request-based package policy plus an automatic one for IT staff.
const STAFF: &str = r#"
[access_package.fabrikam-audit.policies.staff]
display_name = "IT staff"
allowed_target_scope = "specificDirectoryUsers"
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.fabrikam-audit.policies.staff.automatic_request_settings]
membership_rule = 'RULE'
grace_period_before_access_removal = "P2D"
"#;

/// IT staff, proved to leave out each of the example's service accounts
/// (and guests: a rule that may match them makes a guest policy).
const IT_NOT_SERVICE: &str = r#"(user.userType -eq "Member") -and (user.department -eq "IT") -and (user.userPrincipalName -ne "MSADMIN@contoso.onmicrosoft.com") -and (user.userPrincipalName -ne "MSADMININT@contoso.onmicrosoft.com") -and (user.userPrincipalName -ne "MWAAS_SOC_RO@contoso.onmicrosoft.com") -and (user.userPrincipalName -ne "MWAAS_WDGSOC@contoso.onmicrosoft.com") -and (user.userPrincipalName -ne "MSTEST@contoso.onmicrosoft.com")"#;

fn staff(rule: &str) -> String {
    STAFF.replace("RULE", rule)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_automatic_assignment_is_judged_as_no_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));

    // A rule not proved to leave out the service accounts (they declare no
    // department; members only, so not a guest policy).
    edit_file(&dir, FILE, |t| t + &staff("(user.userType -eq \"Member\") -and (user.department -eq \"IT\")"));
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-access-package]") && out.contains("may match service account user.msadmin"), "{out}");

    // Proved to leave them out: planned, and held for approval (it widens access).
    edit_file(&dir, FILE, |t| t.replace("'(user.userType -eq \"Member\") -and (user.department -eq \"IT\")'", &format!("'{IT_NOT_SERVICE}'")));
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    assert!(p.sensitive.contains_key(&PACKAGE.parse().expect("an address")), "turning it on is sensitive: {:?}", p.sensitive);
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "held: {out}");
    assert!(out.contains(PACKAGE), "{out}");

    // A package granting a protected group: no automatic policy (nobody approves).
    edit_file(&dir, FILE, |t| t.replace("description = \"Guests on the Fabrikam audit; granted through the access package\"", "description = \"Guests on the Fabrikam audit; granted through the access package\"\nprotected = true"));
    let (code, out) = validate(&sb, w);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[access-without-approval]") && out.contains("policies.staff: it grants privileged access") && out.contains("assigns the package automatically"), "{out}");
    assert!(out.contains(&format!("{FILE}:")), "located: {out}");

    // What the docs do not give is refused where it is written.
    edit_file(&dir, FILE, |t| t.replace("\nprotected = true", "").replace("allowed_target_scope = \"specificDirectoryUsers\"\nexpiration = { type = \"afterDuration\"", "allowed_target_scope = \"allMemberUsers\"\nexpiration = { type = \"afterDuration\""));
    let (code, out) = validate(&sb, w);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("allowed_target_scope must be `specificDirectoryUsers`"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_automatic_assignment_is_created_delivered_exported_and_turned_off() {
    let sb = sandbox().await;
    let (scratch, dir) = kind_scratch(&["access_catalog", "access_package"], "access7", "access7-extra.toml", "[group.it-staff]\ndisplay_name = \"IT staff\"\nmail_nickname = \"it-staff\"\n");
    edit_file(&dir, FILE, |t| t + &staff(IT_NOT_SERVICE));
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(scratch.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (w, d) = (scratch.path(), dir.to_str().expect("a UTF-8 path"));
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--reason", "access7 setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");

    // Written as the docs give it, and delivered to IT (Adele, Megan).
    let staff = live_policies(&sb, w).await.into_iter().find(|p| p["displayName"] == json!("IT staff")).expect("the staff policy");
    assert_eq!(staff["automaticRequestSettings"], json!({"requestAccessForAllowedTargets": true, "removeAccessWhenTargetLeavesAllowedTargets": true, "gracePeriodBeforeAccessRemoval": "P2D"}), "{staff:#}");
    assert_eq!(staff["specificAllowedTargets"][0]["@odata.type"], json!("#microsoft.graph.attributeRuleMembers"), "{staff:#}");
    let pid = staff["id"].as_str().expect("an id").to_string();
    let mut want = vec![(id_of(&ledger, "user.adele"), pid.clone()), (id_of(&ledger, "user.megan"), pid.clone())];
    want.sort();
    let got: Vec<(String, String)> = live_assignments(&sb).await.into_iter().filter(|(_, p)| *p == pid).collect();
    assert_eq!(got, want);
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Changed in the portal (no grace period): drift of that field.
    let mut body = staff.clone();
    for k in ["id", "createdDateTime", "modifiedDateTime"] {
        body.as_object_mut().expect("an object").remove(k);
    }
    body["accessPackage"] = json!({"id": staff["accessPackage"]["id"]});
    body["automaticRequestSettings"]["gracePeriodBeforeAccessRemoval"] = Value::Null;
    graph(&sb, reqwest::Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{pid}"), Some(body)).await;
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    assert_eq!(changes_of(&p, PACKAGE).iter().flat_map(|c| fields(c)).collect::<Vec<_>>(), ["policies.it staff.automaticRequestSettings.gracePeriodBeforeAccessRemoval"], "{:#?}", p.changes);
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // Exported: the table comes back and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join(FILE)).expect("the packages are exported");
    assert!(exported.contains("automatic_request_settings") && exported.contains("grace_period_before_access_removal"), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;

    // Turned off in desired state: request-based (it admits the IT staff
    // named one by one now), and the automatic assignments end.
    edit_file(&dir, FILE, |t| {
        let start = t.find("\n[access_package.fabrikam-audit.policies.staff.automatic_request_settings]").expect("declared");
        format!("{}\nspecific_allowed_targets = [\"adele\"]\n", &t[..start])
    });
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let staff = live_policies(&sb, w).await.into_iter().find(|p| p["displayName"] == json!("IT staff")).expect("the staff policy");
    assert_eq!(staff["automaticRequestSettings"], Value::Null, "{staff:#}");
    assert!(!live_assignments(&sb).await.iter().any(|(_, p)| *p == pid), "{:?}", live_assignments(&sb).await);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_automatic_assignment_graph_does_not_document() {
    let sb = sandbox().await;
    let (work, _dir) = converged(&sb, |_| {}).await;
    let policy = live_policies(&sb, work.path()).await.remove(0);
    let pid = policy["id"].as_str().expect("an id").to_string();
    let package = policy["accessPackage"]["id"].clone();
    let put = |body: Value| {
        let sb = &sb;
        let pid = pid.clone();
        async move {
            let r = reqwest::Client::new().put(format!("{}/v1.0{EM}/assignmentPolicies/{pid}", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
            (r.status().as_u16(), r.text().await.expect("a body"))
        }
    };
    let base = json!({"displayName": "Fabrikam auditors", "accessPackage": {"id": package}, "expiration": {"type": "noExpiration"}});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("an object") {
            b[k] = v.clone();
        }
        b
    };
    // Automatic for all external users: not a form the docs give.
    let (status, body) = put(with(json!({"allowedTargetScope": "allExternalUsers", "automaticRequestSettings": {"requestAccessForAllowedTargets": true}}))).await;
    assert_eq!(status, 400, "{body}");
    // A rule with no rule in it.
    let (status, body) = put(with(json!({"allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.attributeRuleMembers"}], "automaticRequestSettings": {"requestAccessForAllowedTargets": true}}))).await;
    assert_eq!(status, 400, "{body}");
    // A grace period that is not a duration.
    let (status, body) = put(with(json!({"allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": [rule_target("(user.department -eq \"IT\")")], "automaticRequestSettings": {"requestAccessForAllowedTargets": true, "gracePeriodBeforeAccessRemoval": "two days"}}))).await;
    assert_eq!(status, 400, "{body}");
    // A second automatic policy in the package.
    let (status, body) = put(with(json!({"allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": [rule_target("(user.department -eq \"IT\")")], "automaticRequestSettings": {"requestAccessForAllowedTargets": true}}))).await;
    assert!(status < 300, "the documented form is taken: {status} {body}");
    let second = json!({"displayName": "Second", "accessPackage": {"id": package}, "allowedTargetScope": "specificDirectoryUsers", "specificAllowedTargets": [rule_target("(user.department -eq \"HR\")")], "automaticRequestSettings": {"requestAccessForAllowedTargets": true}, "expiration": {"type": "noExpiration"}});
    let r = reqwest::Client::new().post(format!("{}/v1.0{EM}/assignmentPolicies", sb.base_url())).bearer_auth(sb.access_token()).json(&second).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    assert_eq!(status, 400, "one automatic policy per package: {}", r.text().await.expect("a body"));
    sb.shutdown().await.expect("the sandbox stops");
}

/// A package made in the portal in catalog `catalog`, granting the Member
/// role of `group` (added to the catalog first when `onboard`), with an
/// open policy (every member, no approval) through which `assignee` holds
/// it. Its id.
async fn portal_package(sb: &sandbox::SandboxHandle, catalog: &str, group: &str, onboard: bool, assignee: &str) -> String {
    if onboard {
        let req = json!({"requestType": "adminAdd", "resource": {"originId": group, "originSystem": "AadGroup"}, "catalog": {"id": catalog}});
        graph(sb, reqwest::Method::POST, &format!("/v1.0{EM}/resourceRequests"), Some(req)).await;
    }
    let resources = graph(sb, reqwest::Method::GET, &format!("/v1.0{EM}/catalogs/{catalog}/resources"), None).await;
    let res = resources["value"].as_array().expect("resources").iter().find(|r| r["originId"] == json!(group)).expect("the group is a resource of the catalog")["id"].clone();
    let pkg = graph(sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages"), Some(json!({"displayName": format!("Portal {group}"), "catalog": {"id": catalog}}))).await;
    let id = pkg["id"].as_str().expect("an id").to_string();
    let scope = json!({
        "role": {"displayName": "Member", "originId": format!("Member_{group}"), "originSystem": "AadGroup", "resource": {"id": res, "originId": group, "originSystem": "AadGroup"}},
        "scope": {"originId": group, "originSystem": "AadGroup", "isRootScope": true},
    });
    graph(sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages/{id}/resourceRoleScopes"), Some(scope)).await;
    let policy = json!({"displayName": "Everyone", "allowedTargetScope": "allMemberUsers", "expiration": {"type": "noExpiration"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []}, "accessPackage": {"id": id}});
    let pol = graph(sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(policy)).await;
    let req = json!({"requestType": "adminAdd", "assignment": {"targetId": assignee, "assignmentPolicyId": pol["id"], "accessPackageId": id}});
    graph(sb, reqwest::Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(req)).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_packages_in_declared_catalogs_or_granting_privileged_groups_are_removed_without_approval() {
    let sb = sandbox().await;
    // Two approvals required, none given below.
    let (work, dir) = converged(&sb, |_| {}).await;
    let (w, d) = (work.path(), dir.to_str().expect("a UTF-8 path"));
    let ledger = ledger_of(w);
    let (megan, guests, admins) = (id_of(&ledger, "user.megan"), id_of(&ledger, "group.fabrikam-audit-guests"), id_of(&ledger, "group.intune-admins"));
    // In the declared catalog: the guests group, to every member, no approval.
    let declared_catalog = id_of(&ledger, "access_catalog.guest-access");
    let in_declared = portal_package(&sb, &declared_catalog, &guests, false, &megan).await;
    // In a portal catalog: the protected, role-assignable admins group; and a plain portal group.
    let cat = graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/catalogs"), Some(json!({"displayName": "Portal catalog"}))).await["id"].as_str().expect("an id").to_string();
    let privileged = portal_package(&sb, &cat, &admins, true, &megan).await;
    let plain_group = graph(&sb, reqwest::Method::POST, "/v1.0/groups", Some(json!({"displayName": "Portal team", "mailNickname": "portal-team", "mailEnabled": false, "securityEnabled": true}))).await["id"].as_str().expect("an id").to_string();
    let plain = portal_package(&sb, &cat, &plain_group, true, &megan).await;
    assert!(members(&sb, &admins).await.contains(&megan), "the portal package made Megan an Intune admin");

    // The plan removes the first two (removing access: not held), and leaves the third.
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let deletes: Vec<String> = p.changes.iter().filter(|c| c.action == engine::Action::Delete && c.address.kind == schema::Kind::AccessPackage).map(|c| c.address.to_string()).collect();
    let mut want = vec![format!("access_package.out-of-band-{in_declared}"), format!("access_package.out-of-band-{privileged}")];
    want.sort();
    let mut got = deletes.clone();
    got.sort();
    assert_eq!(got, want, "{:#?}", p.changes);
    assert!(p.changes.iter().any(|c| c.reason.contains("desired state owns the packages of the catalogs it declares")), "{:#?}", p.changes);
    assert!(p.changes.iter().any(|c| c.reason.contains("group.intune-admins (protected)")), "{:#?}", p.changes);
    // Removing privileged access is never held; deleting a package that
    // only sits in a declared catalog is reviewed (hostile run 18,
    // finding 7: adopting a catalog by name would delete its packages).
    let held: Vec<String> = p.sensitive.keys().filter(|a| a.kind == schema::Kind::AccessPackage).map(|a| a.to_string()).collect();
    assert_eq!(held, [format!("access_package.out-of-band-{in_declared}")], "{:?}", p.sensitive);
    let (code, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains(&format!("access_package.out-of-band-{in_declared}")), "{code:?} {out}");

    // Self-heal with no approval: the privileged package goes (assignments
    // ended, policies and package deleted); the other is held.
    let (code, out) = run(&sb, w, &["reconcile", d, "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("held: delete access_package.out-of-band-{in_declared}")), "{out}");
    let left: Vec<String> = client(&sb).v1().list_all(&format!("{EM}/accessPackages")).await.expect("packages").iter().map(|p| p["id"].as_str().unwrap_or_default().to_string()).collect();
    assert!(left.contains(&in_declared) && !left.contains(&privileged) && left.contains(&plain), "{left:?}");
    assert!(!members(&sb, &admins).await.contains(&megan));
    assert!(members(&sb, &plain_group).await.contains(&megan), "a package of an undeclared catalog granting nothing privileged is left alone");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).expect("a journal");
    assert!(journal.contains(&format!("access_package.out-of-band-{privileged}")), "journalled: {journal}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_leaves_its_package_before_its_resource_leaves_the_catalog() {
    let sb = sandbox().await;
    let extra = "[group.audit-leads]\ndisplay_name = \"Audit leads\"\nmail_nickname = \"audit-leads\"\n";
    let (scratch, dir) = kind_scratch(&["access_catalog", "access_package"], "access7", "access7-extra.toml", extra);
    edit_file(&dir, FILE, |t| t.replace("groups = [\"fabrikam-audit-guests\"]", "groups = [\"fabrikam-audit-guests\", \"audit-leads\"]"));
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(scratch.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (w, d) = (scratch.path(), dir.to_str().expect("a UTF-8 path"));
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--reason", "access7 setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");

    // Out of both the package and the catalog in one plan: the package's
    // role goes first (Graph refuses removing a resource a role uses).
    edit_file(&dir, FILE, |t| t.replace("groups = [\"fabrikam-audit-guests\", \"audit-leads\"]", "groups = [\"fabrikam-audit-guests\"]"));
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let (pkg, cat) = (changes_of(&p, PACKAGE), changes_of(&p, "access_catalog.guest-access"));
    assert!(pkg.len() == 1 && cat.len() == 1, "{:#?}", p.changes);
    assert!(pkg[0].wave < cat[0].wave, "the package first: {} then {}", pkg[0].wave, cat[0].wave);
    assert!(cat[0].waits_on.iter().any(|a| a.to_string() == PACKAGE), "{:?}", cat[0].waits_on);
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A package granting it deleted (pruned) while the catalog loses it:
    // the catalog's update runs after the delete.
    let leads = "\n[access_package.leads]\ndisplay_name = \"Audit leads\"\ncatalog = \"guest-access\"\ngroups = [\"audit-leads\"]\n";
    edit_file(&dir, FILE, |t| t.replace("groups = [\"fabrikam-audit-guests\"]\n\n[access_package", "groups = [\"fabrikam-audit-guests\", \"audit-leads\"]\n\n[access_package") + leads);
    // (kind_scratch puts access_package among the pruned kinds.)
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    edit_file(&dir, FILE, |t| t.replace(leads, "").replace("groups = [\"fabrikam-audit-guests\", \"audit-leads\"]\n\n[access_package", "groups = [\"fabrikam-audit-guests\"]\n\n[access_package"));
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let (del, cat) = (changes_of(&p, "access_package.leads"), changes_of(&p, "access_catalog.guest-access"));
    assert!(del.len() == 1 && del[0].action == engine::Action::Delete && cat.len() == 1, "{:#?}", p.changes);
    assert!(del[0].wave < cat[0].wave, "the package's delete first: {} then {}", del[0].wave, cat[0].wave);
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_policy_shows_its_changes_before_and_after() {
    let sb = sandbox().await;
    let (scratch, dir) = kind_scratch(&["access_catalog", "access_package"], "access7", "access7-extra.toml", "[group.it-staff]\ndisplay_name = \"IT staff\"\nmail_nickname = \"it-staff\"\n");
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dir), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    std::fs::write(scratch.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (w, d) = (scratch.path(), dir.to_str().expect("a UTF-8 path"));
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--reason", "access7 setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");
    let before = live_policies(&sb, w).await.remove(0);

    // Renamed, and its description changed with it.
    edit_file(&dir, FILE, |t| {
        t.replace("display_name = \"Fabrikam auditors\"", "display_name = \"Fabrikam audit staff\"")
            .replace("description = \"External users request; a second person approves; access ends with the audit\"", "description = \"Auditors request; a second person approves\"")
    });
    let out = cli(&sb, w, &["plan", d, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&out.stdout)).expect("a JSON plan");
    let c = changes_of(&p, PACKAGE);
    assert_eq!(c.len(), 1, "{:#?}", p.changes);
    let field = |name: &str| c[0].fields.iter().find(|f| f.field == name).map(|f| (f.before.clone(), f.after.clone()));
    assert_eq!(field("policies.fabrikam audit staff.displayName"), Some((Some(json!("Fabrikam auditors")), Some(json!("Fabrikam audit staff")))), "{:?}", fields(c[0]));
    assert_eq!(
        field("policies.fabrikam audit staff.description"),
        Some((Some(json!("External users request; a second person approves; access ends with the audit")), Some(json!("Auditors request; a second person approves")))),
        "{:?}",
        fields(c[0])
    );
    assert!(!fields(c[0]).contains(&"policies.fabrikam audit staff"), "not shown as a new policy: {:?}", fields(c[0]));
    let (code, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("Fabrikam auditors") && out.contains("Fabrikam audit staff"), "{code:?} {out}");

    // Applied as an update in place: the same policy, renamed.
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let after = live_policies(&sb, w).await.remove(0);
    assert_eq!((after["id"].clone(), after["displayName"].clone()), (before["id"].clone(), json!("Fabrikam audit staff")));
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
