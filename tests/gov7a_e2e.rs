//! Findings of hostile run 14 against issue 12 that need the live tenant,
//! each through the binary: out-of-band Intune role assignments removed
//! unattended (16b); the live members of groups that hold a privileged
//! role, that conditional access excludes, or that hold an Intune role,
//! when desired state does not manage their membership (17, 18, 21), and
//! their lints holding only what they are about; a correction that only
//! tightens PIM settings or re-enables conditional access applied
//! unattended, and the live PIM settings linted (19); authentication
//! methods judged by their live targets (13).

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const INTUNE_OPS_UNMANAGED: &str = r#"
[group.intune-ops]
display_name = "Intune operators"
mail_nickname = "intune-ops"
description = "Membership managed in the portal"
"#;

const INTUNE_OPS: &str = include_str!("fixtures/intune-ops-group.toml");


/// A group nobody's change is about, for an unrelated change.
const PLAIN: &str = r#"
[group.plain]
display_name = "Plain group"
mail_nickname = "plain"
description = "before"
"#;

/// The sandbox's Intune role assignments.
async fn intune_assignments(sb: &sandbox::SandboxHandle) -> Vec<Value> {
    let v = graph(sb, Method::GET, "/beta/deviceManagement/roleAssignments", None).await;
    v["value"].as_array().cloned().unwrap_or_default()
}

/// Finding 16b: an out-of-band Intune role assignment of a declared custom
/// role is an error the plan settles by removing it, and reconcile removes
/// it unattended (approvals_required = 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_intune_role_assignment_is_removed_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, INTUNE_OPS))
    .await;
    let role = ledger_id(work.path(), "intune_role_definition.full-intune");
    let admins = ledger_id(work.path(), "group.intune-admins");
    let body = json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment", "displayName": "Shadow ops", "members": [admins], "scopeType": "allDevices", "resourceScopes": [], "roleDefinition@odata.bind": format!("{}/beta/deviceManagement/roleDefinitions('{role}')", sb.base_url())});
    let created = graph(&sb, Method::POST, "/beta/deviceManagement/roleAssignments", Some(body)).await;
    let shadow = created["id"].as_str().expect("an id").to_string();

    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "the removal settles the error: {out}");
    assert!(out.contains(&format!("intune_role_assignment.out-of-band-{shadow}")), "{out}");
    assert!(out.contains("unmanaged-intune-admin") && out.contains("`Shadow ops` gives Full Intune operator over all devices to group.intune-admins outside desired state"), "{out}");
    assert!(!out.contains("sensitive: ends the Intune role") && !out.contains(&format!("intune_role_assignment.out-of-band-{shadow}: deletes")), "{out}");

    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("applied: delete intune_role_assignment.out-of-band-{shadow}")) && out.contains("held 0"), "{out}");
    let left: Vec<String> = intune_assignments(&sb).await.iter().filter_map(|a| a["id"].as_str().map(str::to_string)).collect();
    assert!(!left.contains(&shadow), "removed: {left:?}");
    assert!(left.contains(&ledger_id(work.path(), "intune_role_assignment.ops")), "the declared one stays: {left:?}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 17: a group holding eligible Global Administrator whose
/// membership desired state does not manage: a person added live is
/// `unmanaged-privileged-holder`, a service account
/// `service-account-privileged`; neither refuses an unrelated change, and
/// a change to the role assignment they are about is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_members_of_an_unmanaged_role_group_are_judged() {
    let sb = sandbox().await;
    let ga = "\n[group.ga-holders]\ndisplay_name = \"GA holders\"\nmail_nickname = \"ga-holders\"\nis_assignable_to_role = true\n\n[role_assignment.ga-holders]\nprincipal = \"ga-holders\"\nrole = \"Global Administrator\"\nassignment = \"eligible\"\nexpires = 2027-03-31T00:00:00Z\njustification = \"Tenant administration, change CHG-2001\"\n";
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", ga);
        append(d, "groups.toml", PLAIN);
        common::gov9::except_pim_approval(d, &["role_assignment.ga-holders"]);
    })
    .await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "nobody in the group yet: {out}");
    let group = ledger_id(work.path(), "group.ga-holders");
    add_member(&sb, &group, &ledger_id(work.path(), "user.megan")).await;
    add_member(&sb, &group, &ledger_id(work.path(), "user.msadmin")).await;

    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[unmanaged-privileged-holder] group.ga-holders: user user.megan holds Global Administrator (eligible, role_assignment.ga-holders) through group.ga-holders, a live member (its membership is not managed in desired state)"), "{out}");
    assert!(out.contains("error[service-account-privileged] role_assignment.ga-holders: user.msadmin is a service account"), "{out}");

    // An unrelated change is applied, the errors said, not blocking it.
    edit_file(&dir, "groups.toml", |t| t.replace("description = \"before\"", "description = \"after\""));
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("does not block them") && out.contains("user user.megan holds Global Administrator"), "{out}");
    let plain = graph(&sb, Method::GET, &format!("/v1.0/groups/{}", ledger_id(work.path(), "group.plain")), None).await;
    assert_eq!(plain["description"], json!("after"));

    // A change of the assignment they are about is refused.
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"ga-holders\"\n", "mail_nickname = \"ga-holders\"\ndescription = \"Holds Global Administrator\"\n"));
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the plan breaks governance lints"), "{out}");

    // Reconcile holds the change they are about, and them, for a person.
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update group.ga-holders: group.ga-holders breaks a governance lint"), "{out}");
    assert!(out.contains("held: review role_assignment.ga-holders: error[service-account-privileged]: user.msadmin"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 18: a person added live to a group a conditional access policy
/// excludes, whose membership is not managed, is `ca-exempt-member`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_member_of_an_unmanaged_ca_exclusion_is_reported() {
    let sb = sandbox().await;
    let exempt = "\n[group.mfa-exempt]\ndisplay_name = \"MFA exempt\"\nmail_nickname = \"mfa-exempt\"\n";
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", exempt);
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"mfa-exempt\"]", 1));
    })
    .await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "nobody exempt yet: {out}");
    add_member(&sb, &ledger_id(work.path(), "group.mfa-exempt"), &ledger_id(work.path(), "user.megan")).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[ca-exempt-member] group.mfa-exempt: user user.megan is excluded from conditional access policy conditional_access.require-mfa through group.mfa-exempt"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: review group.mfa-exempt: error[ca-exempt-member]"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 21: the read-only SOC account added live to the member group
/// of an Intune role assignment (membership not managed) holds a writing
/// Intune role: `service-account-role`, naming the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_in_an_unmanaged_intune_role_group_is_an_error() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, INTUNE_OPS_UNMANAGED))
    .await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    add_member(&sb, &ledger_id(work.path(), "group.intune-ops"), &ledger_id(work.path(), "user.mwaas-soc-ro")).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-role] intune_role_assignment.ops: user.mwaas-soc-ro is read-only"), "{out}");
    assert!(out.contains("(Intune role) through group.intune-ops, a live member (its membership is not managed in desired state)"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The id of the PIM policy of role template `role`.
async fn pim_policy(sb: &sandbox::SandboxHandle, role: &str) -> String {
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"] == json!(role)).and_then(|a| a["policyId"].as_str()).expect("a policy").to_string()
}

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

/// Finding 19: Intune Administrator's activation loses MFA and approval
/// out of band: the plan names the live weakness, and reconcile restores
/// it unattended (it only tightens); loosening is still held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_pim_activation_rules_is_unattended_and_the_live_weakness_is_linted() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let pid = pim_policy(&sb, INTUNE_ADMIN).await;
    let policy = format!("/v1.0/policies/roleManagementPolicies/{pid}");
    graph(&sb, Method::PATCH, &policy, Some(json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule", "id": "Enablement_EndUser_Assignment", "enabledRules": ["Justification"]}]}))).await;
    graph(&sb, Method::PATCH, &policy, Some(json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": false, "approvalStages": []}}]}))).await;

    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("[privileged-activation-without-mfa] role_policy.intune-administrator: Intune Administrator is privileged and live, activating it needs no MFA now"), "{out}");
    assert!(out.contains("[privileged-activation-without-approval] role_policy.intune-administrator: Intune Administrator is privileged and live, activating it needs no approval now"), "{out}");
    assert!(out.contains("only tightens the PIM settings of role_policy.intune-administrator"), "{out}");
    assert!(!out.contains("sensitive: PIM role settings"), "{out}");

    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update role_policy.intune-administrator"), "{out}");
    let live = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules"), None).await;
    let rule = |id: &str| live["rules"].as_array().into_iter().flatten().find(|r| r["id"] == json!(id)).cloned().expect("a rule");
    assert!(rule("Enablement_EndUser_Assignment")["enabledRules"].as_array().expect("rules").contains(&json!("MultiFactorAuthentication")));
    assert_eq!(rule("Approval_EndUser_Assignment")["setting"]["isApprovalRequired"], json!(true));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "restored, nothing left: {out}");

    // Loosening (a longer activation) is held.
    graph(&sb, Method::PATCH, &policy, Some(json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true, "maximumDuration": "PT2H"}]}))).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update role_policy.intune-administrator"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 19 (variant): a conditional access policy disabled out of band
/// is enabled again by reconcile, unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enabling_conditional_access_is_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let id = ledger_id(work.path(), "conditional_access.require-mfa");
    let path = format!("/v1.0/identity/conditionalAccess/policies/{id}");
    graph(&sb, Method::PATCH, &path, Some(json!({"state": "disabled"}))).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update conditional_access.require-mfa"), "{out}");
    assert_eq!(graph(&sb, Method::GET, &path, None).await["state"], json!("enabled"));
    // Report-only is not enforced either: put back too.
    graph(&sb, Method::PATCH, &path, Some(json!({"state": "enabledForReportingButNotEnforced"}))).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(graph(&sb, Method::GET, &path, None).await["state"], json!("enabled"));
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 13: SMS enabled with no declared targets keeps its live ones
/// (all users), which reach the service accounts; a `default` campaign
/// including all users does too. The plan shows the effective targets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_without_declared_targets_are_judged_by_their_live_ones() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    append(&dir, "authentication-methods.toml", "[authentication_methods_policy.tenant.methods.sms]\nstate = \"enabled\"\n");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] authentication_methods_policy.tenant: method Sms reaches service account user.msadmin through all users through its live (not declared) targets (include all_users; exclude none)"), "{out}");
    assert!(out.contains("effective targets of method Sms: include all_users; exclude none (live (not declared))"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");

    edit_file(&dir, "authentication-methods.toml", |t| t.replace("[authentication_methods_policy.tenant.methods.sms]\nstate = \"enabled\"\n", "[authentication_methods_policy.tenant.registration_campaign]\nstate = \"default\"\ninclude = [\"all_users\"]\n"));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("the registration campaign (state default: Microsoft-managed, enabled) reaches service account user.msadmin"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
