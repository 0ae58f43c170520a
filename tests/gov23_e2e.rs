//! Hostile run 26, through the binary against the sandbox: a declared
//! group nested live into a group that grants something (finding 1), the
//! people of a PIM approver group nobody manages (finding 4), drift that
//! exits "in sync" over live lint errors (finding 6), restores of portal
//! widenings (finding 2), a custom workflow extension's endpoint URL
//! (finding 3) and confusable custom strength names (finding 7).

mod common;

use common::*;
use serde_json::json;


fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// `[group.KEY]` declared without members: its membership is live.
fn unmanaged(key: &str, display_name: &str) -> String {
    format!("\n[group.{key}]\ndisplay_name = \"{display_name}\"\nmail_nickname = \"{key}\"\n")
}

/// The live id of the group `work`'s ledger holds for `key`.
fn group_id(work: &std::path::Path, key: &str) -> String {
    ledger_id(work, &format!("group.{key}"))
}

/// Finding 1, conditional access: the declared `licensed-users` group
/// (members adele and megan) nested in the portal into `caex`, a group
/// "Require MFA" excludes whose membership desired state does not manage.
/// Each person so reached is `ca-exempt-member`, and the nesting itself is
/// named; `drift --detailed-exitcode` is drift (2), not "in sync".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_group_nested_into_a_ca_exclusion_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("caex", "MFA exempt (helpdesk)"));
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"caex\"]", 1));
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "caex"), &group_id(w, "licensed-users")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[ca-exempt-member] group.caex: user user.adele is excluded from conditional access policy conditional_access.require-mfa through group.caex > group.licensed-users, a live member (its membership is not managed in desired state); group.licensed-users is a live member of group.caex, whose membership is not managed in desired state: nobody approved that nesting"),
        "{out}"
    );
    assert!(out.contains("error[ca-exempt-member] group.caex: user user.megan is excluded"), "{out}");

    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "a live lint error is drift: {out}");
    assert!(!out.contains("in sync:"), "{out}");
    assert!(out.contains("error[ca-exempt-member]: user user.adele is excluded"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1, Intune role: the declared `licensed-users` group nested in
/// the portal into the member group of an Intune role assignment whose
/// membership desired state does not manage: each person so reached holds
/// the Intune role outside desired state (`unmanaged-intune-admin`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_group_nested_into_an_intune_role_group_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, &unmanaged("intune-ops", "Intune operators"))).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "intune-ops"), &group_id(w, "licensed-users")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[unmanaged-intune-admin] group.intune-ops: user user.adele holds Intune role Full Intune operator (intune_role_assignment.ops) through group.intune-ops > group.licensed-users, a live member"),
        "{out}"
    );
    assert!(out.contains("group.licensed-users is a live member of group.intune-ops, whose membership is not managed in desired state"), "{out}");
    assert!(out.contains("error[unmanaged-intune-admin] group.intune-ops: user user.megan holds"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1, variant C: the service accounts' group nested in the portal
/// into a PIM approver group nobody manages: every service account
/// approves activations (`pim-approver-service-account`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_accounts_group_nested_into_pim_approvers_is_flagged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("pim-approvers", "PIM approvers"));
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    add_member(&sb, &group_id(w, "pim-approvers"), &group_id(w, "service-accounts")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    for account in ["msadmin", "msadminint", "mwaas-soc-ro", "mwaas-wdgsoc", "mstest"] {
        assert!(
            out.contains(&format!("error[pim-approver-service-account] role_policy.intune-administrator: service account user.{account} approves activations of Intune Administrator through group.pim-approvers > group.service-accounts, a live member")),
            "{account}: {out}"
        );
    }
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 4: a guest, or a declared user, put in the portal into a PIM
/// approver group whose membership desired state does not manage
/// approves privileged activations: the guest is an error
/// (`unmanaged-pim-approver`), the declared user a warning. Declaring the
/// group's members clears both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_in_an_unmanaged_pim_approver_group_are_judged() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &unmanaged("pim-approvers", "PIM approvers"));
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    })
    .await;
    let w = work.path();
    let g = group_id(w, "pim-approvers");
    add_member(&sb, &g, &ledger_id(w, "guest.fabrikam-auditor")).await;
    add_member(&sb, &g, &ledger_id(w, "user.megan")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[unmanaged-pim-approver] role_policy.intune-administrator: user guest.fabrikam-auditor approves activations of Intune Administrator through group.pim-approvers, a live member (its membership is not managed in desired state): a guest"),
        "{out}"
    );
    assert!(out.contains("warning[unmanaged-pim-approver] role_policy.intune-administrator: user user.megan approves activations of Intune Administrator through group.pim-approvers"), "{out}");
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");

    // Its members declared: desired state judges them.
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"pim-approvers\"\n", "mail_nickname = \"pim-approvers\"\nmembers = [\"megan\"]\n"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("unmanaged-pim-approver"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 6: a person put directly into the member group of an Intune
/// role assignment (membership not managed) is `unmanaged-intune-admin`;
/// `drift --detailed-exitcode` reports it as drift (exit 2, not "in
/// sync").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_not_in_sync_over_live_lint_errors() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, &unmanaged("intune-ops", "Intune operators"))).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(out.contains("in sync:"), "{out}");

    add_member(&sb, &group_id(w, "intune-ops"), &ledger_id(w, "user.megan")).await;
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("in sync:"), "{out}");
    assert!(out.contains("drift: 1 changed"), "{out}");
    assert!(out.contains("error[unmanaged-intune-admin]: user user.megan holds Intune role Full Intune operator"), "{out}");
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record", "--format", "json"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("\"in_sync\": false"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}


/// Finding 2: portal widenings of a custom directory role (password reset
/// added), a custom Intune role (wipe added), the guest settings (invites
/// from everyone, guests as members, app registration) and an Intune role
/// assignment's scope (licensed users added to all devices) are put back
/// by `reconcile --self-heal` unattended: each restore of the approved,
/// sealed record only narrows what the live object grants. Widening the
/// same objects in desired state stays sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_that_only_narrow_run_unattended() {
    use reqwest::Method;
    let sb = sandbox().await;
    let roles = "\n[role_definition.reader]\ndisplay_name = \"User basic reader\"\nallowed_resource_actions = [\"microsoft.directory/users/basic/read\"]\n";
    let (work, dir) = converged(&sb, |d| {
        common::gov7b::intune_ops(d, include_str!("fixtures/intune-ops-group.toml"));
        std::fs::write(d.join("custom-roles.toml"), roles).expect("written");
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The portal widens each.
    let rd = format!("/v1.0/roleManagement/directory/roleDefinitions/{}", ledger_id(w, "role_definition.reader"));
    graph(&sb, Method::PATCH, &rd, Some(json!({"rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/basic/read", "microsoft.directory/users/password/update"]}]}))).await;
    let ird = format!("/beta/deviceManagement/roleDefinitions/{}", ledger_id(w, "intune_role_definition.full-intune"));
    let mut perms = graph(&sb, Method::GET, &ird, None).await["rolePermissions"].clone();
    perms[0]["resourceActions"][0]["allowedResourceActions"].as_array_mut().expect("a list").push(json!("Microsoft.Intune_RemoteTasks_Wipe"));
    graph(&sb, Method::PATCH, &ird, Some(json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition", "rolePermissions": perms}))).await;
    graph(&sb, Method::PATCH, "/v1.0/policies/authorizationPolicy", Some(json!({"allowInvitesFrom": "everyone", "guestUserRoleId": "a0b1b346-4d3e-4e8b-98f8-753987be4970", "defaultUserRolePermissions": {"allowedToCreateApps": true}}))).await;
    let ira = format!("/beta/deviceManagement/roleAssignments/{}", ledger_id(w, "intune_role_assignment.ops"));
    graph(&sb, Method::PATCH, &ira, Some(json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment", "scopeType": "allDevicesAndLicensedUsers"}))).await;

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("puts role_definition.reader back as it was approved and last applied, and only narrows what it grants now"), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "nothing is held: {out}");
    for a in ["role_definition.reader", "intune_role_definition.full-intune", "authorization_policy.tenant", "intune_role_assignment.ops"] {
        assert!(out.contains(&format!("applied: update {a}")), "{a}: {out}");
    }
    let live = graph(&sb, Method::GET, &rd, None).await;
    assert_eq!(live["rolePermissions"][0]["allowedResourceActions"], json!(["microsoft.directory/users/basic/read"]), "{live}");
    assert_eq!(graph(&sb, Method::GET, "/v1.0/policies/authorizationPolicy", None).await["allowInvitesFrom"], json!("adminsAndGuestInviters"));
    assert_eq!(graph(&sb, Method::GET, &ira, None).await["scopeType"], json!("allDevices"));

    // The same widening in desired state is reviewed.
    edit_file(&dir, "custom-roles.toml", |t| t.replace("[\"microsoft.directory/users/basic/read\"]", "[\"microsoft.directory/users/basic/read\", \"microsoft.directory/users/password/update\"]"));
    edit_file(&dir, "guest-settings.toml", |t| t.replace("allow_invites_from = \"adminsAndGuestInviters\"", "allow_invites_from = \"everyone\""));
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update role_definition.reader"), "{out}");
    assert!(out.contains("held: update authorization_policy.tenant"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 2, PIM approvers: an approver added in the portal to an
/// approval already required is taken out again unattended (fewer
/// approvers, back to the approved ones); approvers swapped stay reviewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_approvers_put_back_to_fewer_run_unattended() {
    use reqwest::Method;
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (adele, megan) = (ledger_id(w, "user.adele"), ledger_id(w, "user.megan"));
    let policy = ledger_id(w, "role_policy.intune-administrator");
    let rules = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{policy}/rules"), None).await;
    let approval = rules["value"].as_array().expect("rules").iter().find(|r| r["@odata.type"] == json!("#microsoft.graph.unifiedRoleManagementPolicyApprovalRule")).expect("an approval rule").clone();
    let with = |ids: &[&str]| {
        let mut r = approval.clone();
        r["setting"]["approvalStages"][0]["primaryApprovers"] = json!(ids.iter().map(|i| json!({"@odata.type": "#microsoft.graph.singleUser", "userId": i})).collect::<Vec<_>>());
        r
    };
    let url = format!("/v1.0/policies/roleManagementPolicies/{policy}");
    let with = |ids: &[&str]| json!({"rules": [with(ids)]});
    graph(&sb, Method::PATCH, &url, Some(with(&[&adele, &megan]))).await;
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update role_policy.intune-administrator"), "{out}");

    graph(&sb, Method::PATCH, &url, Some(with(&[&megan]))).await;
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "a swap adds an approver: {out}");
    assert!(out.contains("held: update role_policy.intune-administrator"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 7: a custom authentication strength whose name reads like a
/// built-in one through a non-breaking hyphen, a zero-width space or a
/// Greek capital Mu is `built-in-strength-name`, located.
#[test]
fn confusable_strength_names_are_refused() {
    for (name, odd) in [("Phishing\u{2011}resistant MFA", "U+2011"), ("Phishing-resistant MFA\u{200B}", "U+200B"), ("Phishing-resistant \u{039C}FA", "U+039C")] {
        let work = scratch_with(|t| t);
        let dir = work.path().join("desired-state");
        std::fs::write(dir.join("strengths.toml"), format!("[authentication_strength.weak]\ndisplay_name = \"{name}\"\nallowed_combinations = [\"password,sms\", \"fido2\"]\n")).expect("written");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl")).args(["validate", d(&dir)]).output().expect("tenantctl runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        assert!(text.contains("built-in-strength-name") && text.contains("reads like the built-in authentication strength `Phishing-resistant MFA`") && text.contains(odd), "{name}: {text}");
        assert!(text.contains("error[built-in-strength-name] authentication_strength.weak:"), "names the object: {text}");
    }
}

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

const ONBOARD: &str = r#"
[access_catalog.guest-access.custom_workflow_extensions.onboard]
display_name = "Onboard guest"
type = "request"
subscription_id = "38ab2ccc-3747-4567-b36b-9478f5602f0d"
resource_group_name = "governance"
logic_app_workflow_name = "elm-onboarding"
url = "https://prod-00.westeurope.logic.azure.com/workflows/elm-onboarding/triggers/manual/run"
timeout = "PT1H"
"#;

/// Finding 3 (and 2, variant G): a custom workflow extension's
/// `endpointConfiguration.url` (where Entra calls) is written, read and
/// compared: the portal re-pointing it is drift, `reconcile --self-heal`
/// puts the approved URL back unattended (a restore of the approved,
/// sealed record, not a re-pointing), and changing it in desired state is
/// sensitive, naming the URL. A URL that is not https is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_extension_url_is_managed() {
    use reqwest::Method;
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "access-packages.toml", ONBOARD)).await;
    let w = work.path();
    let catalog = ledger_id(w, "access_catalog.guest-access");
    let list = format!("{EM}/catalogs/{catalog}/customWorkflowExtensions");
    let live = graph(&sb, Method::GET, &list, None).await["value"][0].clone();
    assert_eq!(live["endpointConfiguration"]["url"], json!("https://prod-00.westeurope.logic.azure.com/workflows/elm-onboarding/triggers/manual/run"), "{live}");
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The portal points it elsewhere, the rest unchanged.
    let mut body = live.clone();
    for k in ["id", "createdDateTime", "lastModifiedDateTime"] {
        body.as_object_mut().expect("an object").remove(k);
    }
    body["endpointConfiguration"]["url"] = json!("https://evil.example/hook");
    graph(&sb, Method::PUT, &format!("{list}/{}", live["id"].as_str().expect("an id")), Some(body)).await;
    let (code, out) = run(&sb, w, &["drift", d(&dir), "--detailed-exitcode", "--no-record"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("https://evil.example/hook"), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "the approved endpoint is put back unattended: {out}");
    assert!(out.contains("applied: update access_catalog.guest-access"), "{out}");
    let live = graph(&sb, Method::GET, &list, None).await["value"][0].clone();
    assert_eq!(live["endpointConfiguration"]["url"], json!("https://prod-00.westeurope.logic.azure.com/workflows/elm-onboarding/triggers/manual/run"), "{live}");

    // Re-pointed in desired state: sensitive, the URL named.
    edit_file(&dir, "access-packages.toml", |t| t.replace("https://prod-00.westeurope.logic.azure.com/workflows/elm-onboarding/triggers/manual/run", "https://prod-01.westeurope.logic.azure.com/workflows/other/run"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("custom workflow extension added or re-pointed on access_catalog.guest-access"), "{out}");
    assert!(out.contains("URL https://prod-01.westeurope.logic.azure.com/workflows/other/run"), "{out}");

    edit_file(&dir, "access-packages.toml", |t| t.replace("https://prod-01.westeurope.logic.azure.com/workflows/other/run", "http://plain.example/run"));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("url `http://plain.example/run` is not an https URL"), "{out}");
    // Hostile run 28, finding 10: a user name before `@` hides the host.
    edit_file(&dir, "access-packages.toml", |t| t.replace("http://plain.example/run", "https://prod-00.westeurope.logic.azure.com@evil.example/run"));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("carries a user name before `@`"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
