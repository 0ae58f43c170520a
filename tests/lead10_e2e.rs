//! Findings the lead fixed in the tenth session, each through the binary.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::json;

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// `tenantctl validate` of a copy of the example edited by `edit` (given
/// the desired-state directory): its exit code and everything it printed.
fn validate_edited(edit: impl FnOnce(&Path)) -> (Option<i32>, String) {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    edit(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl")).args(["validate", d(&dir)]).output().expect("tenantctl runs");
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Appends `text` to the desired-state file `name`.
fn append(dir: &Path, name: &str, text: &str) {
    let file = dir.join(name);
    let old = std::fs::read_to_string(&file).unwrap_or_default();
    std::fs::write(&file, format!("{old}{text}")).expect("written");
}

/// Hostile run 17, finding 4: a person made a "service account" in the
/// portal (the service-accounts group's rule widened to admit them, which
/// exempts them from conditional access) is taken out again unattended,
/// and the plan names who loses the exemption. A portal edit that took a
/// real service account out of the exemption is not undone unattended:
/// putting the approved rule back would exempt an account the tenant does
/// not exempt now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_accounts_rule_widened_in_the_portal_is_put_back_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let group = format!("/v1.0/groups/{}", ledger_id(work.path(), "group.service-accounts"));
    let approved = graph(&sb, Method::GET, &group, None).await["membershipRule"].as_str().expect("a dynamic group").to_string();

    let widened = format!("{approved} or (user.userPrincipalName -startsWith \"adele\")");
    graph(&sb, Method::PATCH, &group, Some(json!({"membershipRule": widened}))).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no longer exempted: user.adele"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "nothing is held: {out}");
    assert!(out.contains("applied: update group.service-accounts"), "{out}");
    assert_eq!(graph(&sb, Method::GET, &group, None).await["membershipRule"], json!(approved));

    // An emergency edit that takes MSTEST out of the exemption: putting
    // the approved rule back exempts it again, so it is held.
    let narrowed = approved.replace(" or (user.userPrincipalName -startsWith \"MSTEST@\")", "");
    assert_ne!(narrowed, approved, "the example's rule names MSTEST@");
    graph(&sb, Method::PATCH, &group, Some(json!({"membershipRule": narrowed}))).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update group.service-accounts"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 19, finding 12: out-of-band privileged access scoped to an
/// administrative unit made in the portal, or through a custom role made
/// in the portal, is removed like any other: the live assignment names
/// objects desired state does not, by their ids, and those ids are what
/// the removal sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_access_through_portal_made_units_and_roles_is_removed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let adele = ledger_id(work.path(), "user.adele");
    let unit = graph(&sb, Method::POST, "/v1.0/directory/administrativeUnits", Some(json!({"displayName": "OOB unit"}))).await["id"].as_str().expect("an id").to_string();
    let role = graph(
        &sb,
        Method::POST,
        "/v1.0/roleManagement/directory/roleDefinitions",
        Some(json!({"displayName": "OOB password reset", "isEnabled": true, "rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/password/update"]}]})),
    )
    .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let assignments = "/v1.0/roleManagement/directory/roleAssignments";
    graph(&sb, Method::POST, assignments, Some(json!({"principalId": adele, "roleDefinitionId": "c4e39bd9-1100-46d3-8c65-fb160da0071f", "directoryScopeId": format!("/administrativeUnits/{unit}")}))).await;
    graph(&sb, Method::POST, assignments, Some(json!({"principalId": adele, "roleDefinitionId": role, "directoryScopeId": "/"}))).await;

    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    // Drift remains (the unit and the role themselves are unmanaged, and
    // reported), but nothing failed.
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("applied 2, failed 0") && !out.contains("has no object id"), "{out}");
    let live = graph(&sb, Method::GET, &format!("{assignments}?$filter=principalId eq '{adele}'"), None).await;
    let held: Vec<&str> = live["value"].as_array().expect("a list").iter().filter_map(|a| a["roleDefinitionId"].as_str()).collect();
    assert!(!held.contains(&"c4e39bd9-1100-46d3-8c65-fb160da0071f") && !held.contains(&role.as_str()), "{live:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 19, finding 11: a usage error exits 1, never 2 (which CI
/// reads as "changes found" / "drift remains"); `--help` and `--version`
/// exit 0.
#[test]
fn usage_errors_exit_1_not_the_changes_found_code() {
    let bin = env!("CARGO_BIN_EXE_tenantctl");
    let code = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(bin);
        c.args(args).env_remove("TENANTCTL_LOG_FORMAT");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("tenantctl runs").status.code()
    };
    assert_eq!(code(&["plan", "--detailed-exitcode", "--no-such-flag"], &[]), Some(1));
    assert_eq!(code(&["reconcile", ".", "--once", "--self-heall"], &[]), Some(1));
    assert_eq!(code(&["plan", "."], &[("TENANTCTL_LOG_FORMAT", "yaml")]), Some(1));
    assert_eq!(code(&["--help"], &[]), Some(0));
    assert_eq!(code(&["--version"], &[]), Some(0));
}

/// Hostile run 19, finding 5: an enabled conditional access policy that
/// reaches the break-glass account (all users, or a role it holds) and
/// does not exclude it is a located governance error; excluding it
/// clears the lint, and a report-only policy blocks no one.
#[test]
fn conditional_access_that_reaches_the_break_glass_account_is_refused() {
    let policy = |state: &str, exclude: &str| {
        format!(
            "\n[conditional_access.lockout]\ndisplay_name = \"Block everyone\"\nstate = \"{state}\"\n\n[conditional_access.lockout.users]\ninclude_users = [\"All\"]\nexclude_groups = [\"service-accounts\"]\nexclude_users = [{exclude}]\n\n[conditional_access.lockout.applications]\ninclude_applications = [\"All\"]\n\n[conditional_access.lockout.grant]\nbuilt_in_controls = [\"block\"]\n"
        )
    };
    let validate = |extra: String| validate_edited(|dir| append(dir, "conditional-access.toml", &extra));
    let (code, out) = validate(policy("enabled", ""));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("break-glass-not-excluded") && out.contains("conditional_access.lockout") && out.contains("user.breakglass-1 (all users)"), "{out}");
    let (code, out) = validate(policy("enabled", "\"breakglass-1\""));
    assert!(!out.contains("break-glass-not-excluded"), "{code:?} {out}");
    let (_, out) = validate(policy("enabledForReportingButNotEnforced", ""));
    assert!(!out.contains("break-glass-not-excluded"), "{out}");
}

/// Hostile run 19, finding 1: a rollout goes through the Managed Desktop
/// rings in the service's order, from Test, none skipped; any other order,
/// a skipped ring or a group that is not a ring is a located error, and a
/// soak under an hour is warned about.
#[test]
fn rollouts_go_through_the_rings_in_order() {
    let validate = |rings: &str, soak: &str| {
        let policy = format!("[device_configuration.ro-test]\ndisplay_name = \"Rollout test\"\nodata_type = \"#microsoft.graph.windows10GeneralConfiguration\"\nsettings = {{ passwordRequired = true }}\nrollout = {{ rings = [{rings}], soak = \"{soak}\" }}\n");
        validate_edited(|dir| append(dir, "rollout.toml", &policy))
    };
    for (rings, why) in [
        ("\"mwd-broad\", \"mwd-fast\", \"mwd-first\", \"mwd-test\"", "it starts in mwd-broad, not in mwd-test"),
        ("\"mwd-test\", \"mwd-broad\"", "out of order or skip one"),
        ("\"licensed-users\", \"mwd-broad\"", "group.licensed-users is not a Managed Desktop ring"),
    ] {
        let (code, out) = validate(rings, "48h");
        assert_eq!(code, Some(1), "{rings}: {out}");
        assert!(out.contains("rollout-ring-order") && out.contains(why) && out.contains("rollout.toml:"), "{rings}: {out}");
    }
    let (code, out) = validate("\"mwd-test\", \"mwd-first\"", "48h");
    assert!(!out.contains("rollout-ring-order"), "{code:?} {out}");
    let (_, out) = validate("\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"", "1s");
    assert!(out.contains("rollout-short-soak") && !out.contains("rollout-ring-order"), "{out}");
}

/// Hostile run 19, finding 2: an administrative unit holding the
/// service-accounts group (which every conditional access policy excludes)
/// or a person who approves PIM activation, with a role scoped to it, is a
/// governance error naming what it holds.
#[test]
fn units_holding_the_exemption_group_or_an_approver_are_refused() {
    let validate = |members: &str| {
        let units = format!("[administrative_unit.x]\ndisplay_name = \"Helpdesk unit\"\nmembers = [{members}]\n\n[role_assignment.adele-au]\nprincipal = \"adele\"\nrole = \"Groups Administrator\"\nscope = {{ administrative_unit = \"x\" }}\nassignment = \"active\"\nexpires = 2027-03-31T00:00:00Z\n");
        validate_edited(|dir| append(dir, "units.toml", &units))
    };
    let (code, out) = validate("\"service-accounts\"");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[unit-reaches-protected-account]") && out.contains("holds group.service-accounts, the service-accounts group"), "{out}");
    let (code, out) = validate("\"adele\"");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("holds user.adele, an approver or reviewer"), "{out}");
    let (code, out) = validate("\"licensed-users\"");
    assert!(!out.contains("unit-reaches-protected-account"), "{code:?} {out}");
}

/// Hostile run 19, finding 9: PIM settings that let a privileged role be
/// assigned active with no end are an error; eligible with no end is the
/// permanent-eligibility warning.
#[test]
fn pim_settings_allowing_endless_privileged_assignments_are_refused() {
    let validate = |from: &str, to: &str| {
        validate_edited(|dir| {
            let file = dir.join("role-policies.toml");
            let text = std::fs::read_to_string(&file).expect("the role policies");
            assert!(text.contains(from), "the example's role policy changed shape");
            std::fs::write(&file, text.replace(from, to)).expect("written");
        })
    };
    let (code, out) = validate("active_expiry = \"P15D\"", "active_expiry = \"never\"");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[privileged-assignment-without-expiry]") && out.contains("role_policy.intune-administrator"), "{out}");
    let (_, out) = validate("active_expiry = \"P15D\"\n", "");
    assert!(out.contains("warning[privileged-assignment-without-expiry]") && out.contains("does not declare active_expiry"), "undeclared, warned: {out}");
    let (code, out) = validate("eligible_expiry = \"P365D\"", "eligible_expiry = \"never\"");
    assert!(out.contains("warning[permanent-eligibility]") && out.contains("assigned eligible with no end"), "{code:?} {out}");
}

/// Hostile run 19, finding 8: the code that takes an Android device out
/// of kiosk mode is a secret: export withholds it from the TOML meant for
/// git.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_withholds_the_kiosk_exit_code() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().expect("a temporary directory");
    graph(
        &sb,
        Method::POST,
        "/beta/deviceManagement/deviceConfigurations",
        Some(json!({"@odata.type": "#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration", "displayName": "Kiosk", "kioskModeExitCode": "948213", "kioskModeApps": []})),
    )
    .await;
    let out_dir = work.path().join("exported");
    let (code, out) = run(&sb, work.path(), &["export", "--out", out_dir.to_str().expect("UTF-8")]);
    assert_eq!(code, Some(0), "{out}");
    let mut all = String::new();
    for e in std::fs::read_dir(&out_dir).expect("exported files") {
        all.push_str(&std::fs::read_to_string(e.expect("an entry").path()).unwrap_or_default());
    }
    assert!(out.contains("holds a secret (kioskModeExitCode): not exported"), "withheld, with the reason: {out}");
    assert!(!all.contains("948213"), "the exit code is withheld: {all}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 19, finding 10: a value holding backticks is shown in the
/// Markdown plan as it is applied, inside a fence longer than any run of
/// backticks it holds (it used to be rewritten to quotes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_shows_backticks_as_they_are_applied() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let file = dir.join("groups.toml");
    let text = std::fs::read_to_string(&file).expect("groups");
    std::fs::write(&file, text.replacen("description = \"Group-based licensing: Microsoft 365 E3\"", "description = \"E3 ```` `$env` \"", 1)).expect("written");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--format", "markdown"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("E3 ```` `$env`"), "the value as applied: {out}");
    assert!(out.contains("`````diff"), "a fence longer than the value's backticks: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The audit's S1: an access package policy's update (a whole-object PUT)
/// sends back what tenantctl does not model: the requestors who may ask
/// on behalf of others, and each approval stage's approver information
/// visibility, set in the portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_policy_update_keeps_what_tenantctl_does_not_model() {
    const EM: &str = "/identityGovernance/entitlementManagement";
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |t| {
        let tenant = t.join("tenant.toml");
        let text = std::fs::read_to_string(&tenant).expect("tenant");
        std::fs::write(&tenant, text.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"lead10 test\"")).expect("written");
    })
    .await;
    let package = ledger_id(work.path(), "access_package.fabrikam-audit");
    let all = client(&sb).v1().list_all(&format!("{EM}/assignmentPolicies?$expand=accessPackage")).await.expect("policies");
    let live = all.into_iter().find(|p| p["accessPackage"]["id"] == json!(package)).expect("the package's policy");
    let pid = live["id"].as_str().expect("an id").to_string();
    let mut body = live.clone();
    if let Some(m) = body.as_object_mut() {
        for k in ["id", "createdDateTime", "modifiedDateTime"] {
            m.remove(k);
        }
    }
    body["accessPackage"] = json!({"id": package});
    body["requestorSettings"]["onBehalfRequestors"] = json!([{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1}]);
    body["requestApprovalSettings"]["stages"][0]["approverInformationVisibility"] = json!("visible");
    graph(&sb, Method::PUT, &format!("/v1.0{EM}/assignmentPolicies/{pid}"), Some(body)).await;

    let file = dir.join("access-packages.toml");
    let text = std::fs::read_to_string(&file).expect("packages");
    let changed = text.replacen("duration_before_automatic_denial = \"P7D\"", "duration_before_automatic_denial = \"P5D\"", 1);
    assert_ne!(changed, text, "the example's stage changed shape");
    std::fs::write(&file, changed).expect("written");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let after = graph(&sb, Method::GET, &format!("/v1.0{EM}/assignmentPolicies/{pid}"), None).await;
    assert_eq!(after["requestApprovalSettings"]["stages"][0]["durationBeforeAutomaticDenial"], json!("P5D"), "{after:#}");
    assert_eq!(after["requestorSettings"]["onBehalfRequestors"][0]["managerLevel"], json!(1), "{after:#}");
    assert_eq!(after["requestApprovalSettings"]["stages"][0]["approverInformationVisibility"], json!("visible"), "{after:#}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 20, finding 4: conditional access on a dynamic group whose
/// rule matches the break-glass account reaches it too.
#[test]
fn conditional_access_through_a_dynamic_group_reaches_the_break_glass_account() {
    let extra = "\n[group.enabled-users]\ndisplay_name = \"All enabled users\"\nmail_nickname = \"enabled-users\"\nmembership_rule = '(user.accountEnabled -eq true)'\n\n[conditional_access.lockout]\ndisplay_name = \"Block enabled users\"\nstate = \"enabled\"\n\n[conditional_access.lockout.users]\ninclude_groups = [\"enabled-users\"]\nexclude_groups = [\"service-accounts\"]\n\n[conditional_access.lockout.applications]\ninclude_applications = [\"All\"]\n\n[conditional_access.lockout.grant]\nbuilt_in_controls = [\"block\"]\n";
    let (_, out) = validate_edited(|dir| append(dir, "lockout.toml", extra));
    assert!(out.contains("break-glass-not-excluded") && out.contains("through group.enabled-users"), "{out}");
}
