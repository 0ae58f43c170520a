//! Findings of hostile run 17 the lead fixed, each through the binary.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const EM: &str = "/identityGovernance/entitlementManagement";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// The declared guest policy of the example's package, as Graph has it.
async fn live_guest_policy(sb: &sandbox::SandboxHandle, work: &Path) -> Value {
    let package = ledger_id(work, "access_package.fabrikam-audit");
    let all = client(sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    all.into_iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the package's policy")
}

/// Controls weakened in the portal, out of band, on a tenant whose ledger
/// is beyond the change's reach (a file outside any git work tree):
///
/// * a person excluded from "require MFA" (finding 4),
/// * countries added to the trusted location (finding 4),
/// * BitLocker and the OS minimum dropped from the ring compliance policy
///   (finding 12),
/// * the guest package's policy opened to every directory user with no
///   approval and no end (finding 5).
///
/// Each correction puts back what was approved and last applied, so
/// `reconcile --self-heal` applies it unattended, with the example's
/// governance (two approvals) in force. Over a ledger in a git work tree
/// nothing proves that, and the same corrections are held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_weakened_out_of_band_are_put_back_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let (sb_ref, work_dir) = (&sb, work.path());
    let weaken = || async move {
        let (sb, work) = (sb_ref, work_dir);
        let ca = format!("/v1.0/identity/conditionalAccess/policies/{}", ledger_id(work, "conditional_access.require-mfa"));
        let mut conditions = graph(sb, Method::GET, &ca, None).await["conditions"].clone();
        let adele = ledger_id(work, "user.adele");
        conditions["users"]["excludeUsers"].as_array_mut().expect("a list").push(json!(adele));
        graph(sb, Method::PATCH, &ca, Some(json!({"conditions": conditions}))).await;

        let location = format!("/v1.0/identity/conditionalAccess/namedLocations/{}", ledger_id(work, "named_location.operating-countries"));
        graph(sb, Method::PATCH, &location, Some(json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "countriesAndRegions": ["BE", "DE", "GB", "NL", "US", "KP"], "includeUnknownCountriesAndRegions": true}))).await;

        let compliance = format!("/v1.0/deviceManagement/deviceCompliancePolicies/{}", ledger_id(work, "compliance_policy.windows-baseline"));
        graph(sb, Method::PATCH, &compliance, Some(json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "bitLockerEnabled": false, "osMinimumVersion": "6.0"}))).await;

        let live = live_guest_policy(sb, work).await;
        let mut body = live.clone();
        if let Some(m) = body.as_object_mut() {
            for k in ["id", "createdDateTime", "modifiedDateTime"] {
                m.remove(k);
            }
        }
        body["accessPackage"] = json!({"id": live["accessPackage"]["id"]});
        body["allowedTargetScope"] = json!("allDirectoryUsers");
        body["expiration"] = json!({"type": "noExpiration"});
        body["requestApprovalSettings"] = json!({"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []});
        graph(sb, Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{}", live["id"].as_str().expect("an id")), Some(body)).await;
    };
    let corrected = ["conditional_access.require-mfa", "named_location.operating-countries", "compliance_policy.windows-baseline", "access_package.fabrikam-audit"];

    // A ledger beyond the change's reach proves each correction a restore.
    weaken().await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("puts control compliance_policy.windows-baseline back as it was approved"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "nothing is held: {out}");
    for a in corrected {
        assert!(out.contains(&format!("applied: update {a}")), "{a}: {out}");
    }
    let compliance = format!("/v1.0/deviceManagement/deviceCompliancePolicies/{}", ledger_id(work.path(), "compliance_policy.windows-baseline"));
    assert_eq!(graph(&sb, Method::GET, &compliance, None).await["bitLockerEnabled"], json!(true));
    let ca = format!("/v1.0/identity/conditionalAccess/policies/{}", ledger_id(work.path(), "conditional_access.require-mfa"));
    let excluded = graph(&sb, Method::GET, &ca, None).await["conditions"]["users"]["excludeUsers"].clone();
    assert!(!excluded.as_array().expect("a list").contains(&json!(ledger_id(work.path(), "user.adele"))), "{excluded}");
    let policy = live_guest_policy(&sb, work.path()).await;
    assert_eq!(policy["allowedTargetScope"], json!("allExternalUsers"));
    assert_eq!(policy["requestApprovalSettings"]["isApprovalRequiredForAdd"], json!(true));

    // Over a ledger the pull request wrote (it no longer matches the seal
    // the tenant records), each is held.
    let mut forged = ledger_of(work.path());
    let adele: schema::Address = "user.adele".parse().expect("an address");
    forged.resources.get_mut(&adele).expect("adele is owned").changed_at = Some("2020-01-01T00:00:00Z".into());
    std::fs::write(work.path().join("tenantctl.lock"), forged.render()).expect("forged");
    weaken().await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    for a in corrected {
        assert!(out.contains(&format!("held: update {a}")), "{a}: {out}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// A restore of an access package that would grant again what was taken
/// out of band (a group removed from the package in an emergency) is not
/// a control put back: it is held for approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_restore_that_grants_again_is_held() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let scopes = graph(&sb, Method::GET, &format!("/v1.0{EM}/accessPackages/{package}/resourceRoleScopes"), None).await;
    let scope = scopes["value"][0]["id"].as_str().expect("the package grants its group").to_string();
    graph(&sb, Method::DELETE, &format!("/v1.0{EM}/accessPackages/{package}/resourceRoleScopes/{scope}"), None).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update access_package.fabrikam-audit"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 14: an account created with its password from an environment
/// variable is granted to whoever can read or set that variable (a public
/// runner variable, in the attack): the create is sensitive, so it needs
/// the approvers, and the plan says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_a_password_from_the_environment_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    append(&dir, "accounts.toml", "\n[user.backup]\nuser_principal_name = \"svc-backup@contoso.onmicrosoft.com\"\ndisplay_name = \"Backup service\"\nmail_nickname = \"svc-backup\"\nusage_location = \"US\"\npassword_env = \"JAVA_HOME_17_X64\"\n");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("sensitive: creates user.backup with the password environment variable `JAVA_HOME_17_X64` holds"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sensitive change(s)") && out.contains("user.backup"), "{out}");
    // A generated password is known to nobody: not sensitive by itself.
    edit_file(&dir, "accounts.toml", |t| t.replace("password_env = \"JAVA_HOME_17_X64\"\n", ""));
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("+ user.backup") && !out.contains("password environment variable"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 19: a policy made in the portal on a declared package, with an
/// assignment through it (Megan holds the guest package with no approval
/// and no end). The policy is taken out again; its assignment is ended
/// first (Graph refuses deleting a policy assignments go through), so the
/// correction does not fail at Graph on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_through_a_portal_made_policy_is_ended_with_the_policy() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let open = json!({"displayName": "FABRIKAM AUDITORS", "description": "x", "allowedTargetScope": "allDirectoryUsers", "specificAllowedTargets": [], "expiration": {"type": "noExpiration"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true}, "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false, "stages": []}, "accessPackage": {"id": package}});
    let made = graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentPolicies"), Some(open)).await;
    let policy = made["id"].as_str().expect("an id").to_string();
    let megan = ledger_id(work.path(), "user.megan");
    let add = json!({"requestType": "adminAdd", "assignment": {"targetId": megan, "assignmentPolicyId": policy, "accessPackageId": package}, "schedule": {"expiration": {"type": "noExpiration"}}});
    graph(&sb, Method::POST, &format!("/v1.0{EM}/assignmentRequests"), Some(add)).await;

    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update access_package.fabrikam-audit") && !out.contains("FAILED"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once"]);
    assert_eq!(code, Some(0), "nothing is left of it: {out}");
    let policies = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    assert!(!policies.iter().any(|p| p["id"] == json!(policy)), "the portal-made policy is gone");
    let assignments = client(&sb).v1().list_all(&format!("{EM}/assignments?$filter=accessPackage/id eq '{package}'&$expand=target")).await.expect("assignments");
    assert!(!assignments.iter().any(|a| a["target"]["objectId"] == json!(megan) && a["state"] == json!("delivered")), "Megan's assignment is ended: {assignments:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 8: bringing a role assignment's end earlier runs unattended,
/// so the justification Entra's audit trail records for it is tenantctl's
/// own, not the pull request's unreviewed text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattended_earlier_end_writes_no_unreviewed_justification() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, "roles.toml", |t| {
        t.replacen("expires = 2027-01-31T00:00:00Z", "expires = 2027-01-15T00:00:00Z", 1).replacen("Account migration project, change CHG-1057", "Approved by CISO CHG-9999", 1)
    });
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update role_assignment.megan-user-admin"), "{out}");
    let requests = graph(&sb, Method::GET, "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", None).await;
    let updates: Vec<&Value> = requests["value"].as_array().expect("a list").iter().filter(|r| r["action"] == json!("adminUpdate")).collect();
    assert_eq!(updates.len(), 1, "{requests:#}");
    let said = updates[0]["justification"].as_str().expect("a justification");
    assert!(!said.contains("CISO") && said.contains("End brought earlier to 2027-01-15"), "{said}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 9: an approved plan whose create Graph accepted, but whose
/// object a lagging read never showed, changed the tenant: it is not
/// given back as "nothing applied".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_create_keeps_the_approved_plan_applied() {
    let sb = sandbox().await;
    let keyed = keyed_example(&sb);
    let w = keyed.work.path();
    let dir = w.join("desired-state");
    let approved = |out: &str| approved_plan(&sb, &keyed, out);
    approved("first.json");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");

    append(&dir, "policies.toml", "\n[device_configuration.camera-off]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Camera off\"\nsettings = { cameraBlocked = true }\nassignments = { include = [\"mwd-test\"] }\n");
    approved("camera.json");
    // The create (a POST to the collection) is accepted; every request
    // about the new object after it fails.
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/deviceManagement/deviceConfigurations/".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    let out = command(&sb, w).args(["apply", "camera.json", "--dir", d(&dir), "--auto-approve"]).output().expect("tenantctl runs");
    let o = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{o}");
    assert!(!o.contains("it may be applied again as it is") && o.contains("Graph accepted at least one of its creates"), "{o}");
    sb.shutdown().await.expect("the sandbox stops");
}
