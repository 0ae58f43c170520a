//! Findings of hostile run 15, each through the binary: a pull request
//! that enables a conditional access policy approved as report-only (1),
//! or adds PIM approvers while approval is switched off out of band (2),
//! is a change of desired state and needs approval; only a correction of
//! drift (desired state unchanged since it was last applied) may be judged
//! "only tightens" and run unattended.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const CA_FILE: &str = "conditional-access.toml";
const BLOCK: &str = "[conditional_access.block-untrusted-locations]";

/// `conditional-access.toml` with the block policy's state set to `state`.
fn block_state(dir: &std::path::Path, state: &str) {
    let path = dir.join(CA_FILE);
    let text = std::fs::read_to_string(&path).expect("the file");
    let (head, tail) = text.split_at(text.find(BLOCK).expect("the policy"));
    let tail = tail.replacen("state = \"enabled\"", &format!("state = \"{state}\""), 1).replacen("state = \"enabledForReportingButNotEnforced\"", &format!("state = \"{state}\""), 1);
    std::fs::write(&path, format!("{head}{tail}")).expect("written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_a_policy_approved_as_report_only_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |dir| block_state(dir, "enabledForReportingButNotEnforced")).await;
    block_state(&dir, "enabled");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(!out.contains("only puts conditional_access.block-untrusted-locations back to enabled"), "{out}");
    assert!(out.contains("sensitive:"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "held, not applied: {out}");
    assert!(out.contains("held: update conditional_access.block-untrusted-locations"), "{out}");

    // Drift back to report-only of a policy applied as enabled is still put
    // back unattended: that is a restore.
    let sb2 = sandbox().await;
    let (work, dir) = converged(&sb2, |_| {}).await;
    let id = ledger_id(work.path(), "conditional_access.block-untrusted-locations");
    graph(&sb2, Method::PATCH, &format!("/v1.0/identity/conditionalAccess/policies/{id}"), Some(json!({"state": "enabledForReportingButNotEnforced"}))).await;
    let (code, out) = run(&sb2, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update conditional_access.block-untrusted-locations"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
    sb2.shutdown().await.expect("the sandbox stops");
}

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_pim_approvers_while_approval_is_off_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    let pid = v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"] == json!(INTUNE_ADMIN)).and_then(|a| a["policyId"].as_str()).expect("a policy").to_string();
    let policy = format!("/v1.0/policies/roleManagementPolicies/{pid}");
    graph(&sb, Method::PATCH, &policy, Some(json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": false, "approvalStages": []}}]}))).await;
    let path = dir.join("role-policies.toml");
    let text = std::fs::read_to_string(&path).expect("the file");
    std::fs::write(&path, text.replace("approvers = [\"adele\"]", "approvers = [\"adele\", \"megan\"]")).expect("written");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(!out.contains("only tightens the PIM settings of role_policy.intune-administrator"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "held, not applied: {out}");
    assert!(out.contains("held: update role_policy.intune-administrator"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const INTUNE_OPS: &str = include_str!("fixtures/intune-ops-group.toml");
const FULL_INTUNE: &str = include_str!("fixtures/full-intune-role.toml");

/// Finding 5: an approved Intune role assignment's `expires` is recorded
/// in the ledger, so moving it later (or removing it) is a sensitive
/// change the plan shows, and an earlier end runs unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_an_intune_role_assignment_needs_approval() {
    let sb = sandbox().await;
    let role = |expires: &str| format!("{INTUNE_OPS}\n{}\n{expires}\n", FULL_INTUNE.trim_end());
    let (work, dir) = converged(&sb, |dir| std::fs::write(dir.join("intune-ops.toml"), role("expires = 2027-01-31T00:00:00Z")).expect("written")).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    std::fs::write(dir.join("intune-ops.toml"), role("expires = 2027-11-30T00:00:00Z")).expect("written");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("sensitive: extends the access of intune_role_assignment.ops from 2027-01-31T00:00:00Z to 2027-11-30T00:00:00Z"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "held: {out}");

    // No end, or one years away, is standing access (findings 5 and 9).
    for end in ["", "expires = 9999-12-31T00:00:00Z"] {
        std::fs::write(dir.join("intune-ops.toml"), role(end)).expect("written");
        let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
        assert!(code != Some(0) && out.contains("standing-privileged-access") && out.contains("intune_role_assignment.ops"), "{end}: {out}");
    }

    std::fs::write(dir.join("intune-ops.toml"), role("expires = 2027-01-15T00:00:00Z")).expect("written");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "an earlier end runs unattended: {out}");
    assert!(out.contains("applied: update intune_role_assignment.ops"), "{out}");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "recorded: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 13: a ledger entry of a graph_object whose location names a
/// collection a kind manages (an edited or forged ledger) does not make
/// the plan delete that kind's objects as graph_objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_object_ledger_location_cannot_name_a_modelled_collection() {
    let sb = sandbox().await;
    let c = client(&sb);
    // Pruning of graph_objects on (a governance change approvers would see).
    let work = scratch_with(|t| t.replace("kinds = [\"device_configuration\", \"compliance_policy\", \"update_ring\"]", "kinds = [\"device_configuration\", \"compliance_policy\", \"update_ring\", \"graph_object\"]"));
    let dir = work.path().join("desired-state");
    assert!(std::fs::read_to_string(dir.join("tenant.toml")).expect("the file").contains("\"update_ring\", \"graph_object\"]"), "pruning of graph_objects is on");
    let state = schema::load(&dir).expect("the example loads");
    let mut ledger = engine::Ledger::default();
    let p = plan(&c, &state, &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let mfa: schema::Address = "conditional_access.require-mfa".parse().expect("an address");
    let mut entry = ledger.resources.remove(&mfa).expect("applied");
    entry.location = Some("v1.0:/identity/conditionalAccess/policies".into());
    let id = entry.id.clone();
    ledger.resources.insert("graph_object.forged".parse().expect("an address"), entry);
    let p = plan(&c, &state, &ledger).await;
    assert!(!p.changes.iter().any(|ch| ch.action == engine::Action::Delete && ch.id.as_deref() == Some(id.as_str())), "{:#?}", p.changes.iter().map(|c| (c.address.to_string(), c.action)).collect::<Vec<_>>());
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 15: an author name given empty (a CI step that found no pull
/// request) fails the plan instead of meaning "no writer".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_author_name_is_refused() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--out", "p.json", "--author-name", ""]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("--author-name (or TENANTCTL_AUTHOR_NAME) is empty"), "{out}");
    assert!(!work.path().join("p.json").exists(), "no plan saved");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 8: an out-of-band custom Intune role (write and wipe over all
/// devices) and its assignment are seen: the assignment is the
/// `unmanaged-intune-admin` error and is removed unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_custom_intune_role_assignment_is_removed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, INTUNE_OPS))
    .await;
    let def = json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "displayName": "Shadow wipers", "rolePermissions": [{"resourceActions": [{"allowedResourceActions": ["Microsoft.Intune_ManagedDevices_Read", "Microsoft.Intune_ManagedDevices_Wipe", "Microsoft.Intune_DeviceConfigurations_Update"], "notAllowedResourceActions": []}]}], "roleScopeTagIds": ["0"]});
    let role = graph(&sb, Method::POST, "/beta/deviceManagement/roleDefinitions", Some(def)).await["id"].as_str().expect("an id").to_string();
    let admins = ledger_id(work.path(), "group.intune-admins");
    let body = json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment", "displayName": "Shadow wipe", "members": [admins], "scopeType": "allDevices", "resourceScopes": [], "roleDefinition@odata.bind": format!("{}/beta/deviceManagement/roleDefinitions('{role}')", sb.base_url())});
    let shadow = graph(&sb, Method::POST, "/beta/deviceManagement/roleAssignments", Some(body)).await["id"].as_str().expect("an id").to_string();
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("unmanaged-intune-admin") && out.contains("`Shadow wipe` gives Shadow wipers"), "{out}");
    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("applied: delete intune_role_assignment.out-of-band-{shadow}")), "{out}");
    let left = graph(&sb, Method::GET, "/beta/deviceManagement/roleAssignments", None).await;
    assert!(!left["value"].as_array().expect("a list").iter().any(|a| a["id"] == json!(shadow)), "{left:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

const COMPLIANCE_PILOT: &str = r#"
[group.compliance-pilot]
display_name = "Compliance pilot users"
mail_nickname = "compliance-pilot"
members = ["megan", "adele"]

[compliance_policy.pilot]
odata_type = "windows10CompliancePolicy"
display_name = "Pilot compliance"
settings = { bitLockerEnabled = true }
assignments = { include = ["compliance-pilot"] }
"#;

/// Finding 14: taking someone out of a group a compliance policy includes
/// lets them escape the control: sensitive, held by reconcile. Adding
/// someone (a control more) is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_compliance_group_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("pilot.toml"), COMPLIANCE_PILOT).expect("written")).await;
    std::fs::write(dir.join("pilot.toml"), COMPLIANCE_PILOT.replace("members = [\"megan\", \"adele\"]", "members = [\"megan\"]")).expect("written");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("sensitive: takes members out of group.compliance-pilot, which compliance_policy.pilot includes"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "held: {out}");
    sb.shutdown().await.expect("the sandbox stops");

    let sb = sandbox().await;
    let one = COMPLIANCE_PILOT.replace("members = [\"megan\", \"adele\"]", "members = [\"megan\"]");
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("pilot.toml"), &one).expect("written")).await;
    std::fs::write(dir.join("pilot.toml"), COMPLIANCE_PILOT).expect("written");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update group.compliance-pilot"), "joining adds a control, needs no approval ({code:?}): {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 10: permanent Intune write access scoped to the Managed Desktop
/// device groups (a ring, or all Autopilot devices) is standing access as
/// `all_devices` is.
#[test]
fn permanent_intune_write_over_the_rings_is_standing_access() {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let scoped = FULL_INTUNE.replace("all_devices = true", "scope_members = [\"mwd-all\"]");
    std::fs::write(dir.join("intune-ops.toml"), format!("{INTUNE_OPS}\n{scoped}")).expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl")).args(["validate", d(&dir)]).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("standing-privileged-access") && text.contains("the Managed Desktop devices (group.mwd-all)"), "{text}");
}

/// Finding 12: the break-glass exception does not follow its key to
/// another person when the assignment also gains an end years away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_does_not_follow_its_key_with_an_expiry_added() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, "roles.toml", |t| t.replace("principal = \"breakglass-1\"\nrole = \"Global Administrator\"", "principal = \"megan\"\nexpires = 9999-12-31T00:00:00Z\nrole = \"Global Administrator\""));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("was approved for user.breakglass-1 as Global Administrator; role_assignment.breakglass-1-ga now grants user.megan as Global Administrator"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 11: an access package granted to a service account that is one
/// by the service-accounts group's rule (not by `kind`) is an error.
#[test]
fn an_access_package_for_a_service_account_by_rule_is_refused() {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    append(&dir, "accounts.toml", "\n[user.svc-x]\nuser_principal_name = \"MSADMIN@contoso.com\"\ndisplay_name = \"Ops robot\"\nmail_nickname = \"opsrobot\"\nusage_location = \"US\"\n");
    append(&dir, "access-packages.toml", "\n[group.ops-tools]\ndisplay_name = \"Ops tools\"\nmail_nickname = \"ops-tools\"\n\n[access_package.ops]\ndisplay_name = \"Ops tools\"\ncatalog = \"guest-access\"\ngroups = [\"ops-tools\"]\n\n[access_package.ops.policies.members]\ndisplay_name = \"Members, 90 days\"\nallowed_target_scope = \"allMemberUsers\"\nexpiration = { type = \"afterDuration\", duration = \"P90D\" }\n");
    edit_file(&dir, "access-packages.toml", |t| t.replace("groups = [\"fabrikam-audit-guests\"]\n", "groups = [\"fabrikam-audit-guests\", \"ops-tools\"]\n"));
    append(&dir, "access-package-assignments.toml", "\n[access_package_assignment.svcx]\npackage = \"ops\"\npolicy = \"members\"\ntarget = \"svc-x\"\nexpires = 2027-01-31T00:00:00Z\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl")).args(["validate", d(&dir)]).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("service-account-access-package") && text.contains("user.svc-x is a service account"), "{text}");
}

/// Finding 17: a package delivery stuck in `delivering` makes its
/// assignment unknown; reconcile still removes out-of-band privileged
/// access read live (ending access grants nothing), and holds the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_delivery_does_not_keep_out_of_band_privileged_access() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let assignment = ledger_id(work.path(), "access_package_assignment.fabrikam-auditor");
    patch_out_of_band(&sb, "accessPackageAssignments", &assignment, json!({"state": "delivering", "status": "Delivering"})).await;
    let megan = ledger_id(work.path(), "user.megan");
    let pra = json!({"principalId": megan, "roleDefinitionId": "e8611ab8-c189-46e8-94e1-60213ab1f814", "directoryScopeId": "/"});
    let id = graph(&sb, Method::POST, "/v1.0/roleManagement/directory/roleAssignments", Some(pra)).await["id"].as_str().expect("an id").to_string();
    let (_, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("incomplete: 1 resource(s) could not be read"), "{out}");
    assert!(out.contains(&format!("applied: delete role_assignment.out-of-band-{id}")), "{out}");
    let left = graph(&sb, Method::GET, &format!("/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{megan}'"), None).await;
    assert!(!left["value"].as_array().expect("a list").iter().any(|a| a["id"] == json!(id)), "{left:#}");
    sb.shutdown().await.expect("the sandbox stops");
}
