//! Hostile findings 2, 3, 4, 5 and 8 against issue 12, through the binary:
//! * membership changes that grant access (members, owners, a rule, or a
//!   user attribute a rule reads, of a group holding a role or one
//!   conditional access includes or excludes) need approval, and say which
//!   access they grant; a role-assignable group's create too;
//! * governance declared on objects (`protected`, `read_only`,
//!   `allowed_roles`, `kind`) is recorded in the trust root and its change
//!   is a governance change the approvers in force approve;
//! * Managed Desktop protection follows reach: all devices, and groups
//!   nesting a ring or the all-devices group;
//! * a second Autopilot profile reaching all devices through a nesting
//!   group or an equal rule is refused; any Autopilot profile is sensitive;
//! * an out-of-band member of a role-holding group is linted and removed
//!   unattended (protected groups included).

mod common;

use common::*;

const HELPDESK: &str = "[group.helpdesk]\ndisplay_name = \"Helpdesk admins\"\nmail_nickname = \"helpdesk-admins\"\nis_assignable_to_role = true\nmembers = [\"megan\"]\n";
const HELPDESK_GA: &str = "[role_assignment.helpdesk-ga]\nprincipal = \"helpdesk\"\nrole = \"Global Administrator\"\nassignment = \"eligible\"\nexpires = 2027-01-31T00:00:00Z\njustification = \"helpdesk\"\n";

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Finding 2a: adding a member (or an owner) to a group holding eligible
/// Global Administrator needs approval and says what it grants; creating a
/// role-assignable group does too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_member_to_a_role_holding_group_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", HELPDESK);
        append(d, "roles.toml", HELPDESK_GA);
        common::gov9::except_pim_approval(d, &["role_assignment.helpdesk-ga"]);
    })
    .await;
    let w = work.path();
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"megan\"]", "members = [\"megan\", \"adele\"]\nowners = [\"megan\"]"));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: adds user.adele to group.helpdesk"), "{out}");
    assert!(out.contains("adds owner user.megan to group.helpdesk (an owner can add members)"), "{out}");
    assert!(out.contains("which holds eligible Global Administrator"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    let gid = ledger_id(w, "group.helpdesk");
    let (_, members) = graph_get(&sb, &format!("/v1.0/groups/{gid}/members")).await;
    assert_eq!(members["value"].as_array().map(Vec::len), Some(1), "adele was not added: {members:#} {out}");

    // A new role-assignable group is sensitive by itself.
    append(&dir, "groups.toml", "[group.new-admins]\ndisplay_name = \"New admins\"\nmail_nickname = \"new-admins\"\nis_assignable_to_role = true\n");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("sensitive: creates role-assignable group.new-admins"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 2b and 2c: joining a group conditional access excludes (by
/// members, or by a user attribute its rule reads) needs approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_conditional_access_exclusion_needs_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", "[group.ca-exempt]\ndisplay_name = \"CA exempt\"\nmail_nickname = \"ca-exempt\"\nmembers = [\"adele\"]\n");
        append(d, "groups.toml", "[group.kiosk-exempt]\ndisplay_name = \"Kiosk exempt\"\nmail_nickname = \"kiosk-exempt\"\nmembership_rule = '(user.jobTitle -eq \"Kiosk\")'\nmembership_rule_processing_state = \"On\"\n");
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"ca-exempt\", \"kiosk-exempt\"]", 1));
    })
    .await;
    let w = work.path();
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"ca-exempt\"\nmembers = [\"adele\"]\n", "mail_nickname = \"ca-exempt\"\nmembers = [\"adele\", \"megan\"]\n"));
    edit_file(&dir, "accounts.toml", |t| t.replace("job_title = \"Service Desk Lead\"", "job_title = \"Kiosk\""));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: adds user.megan to group.ca-exempt, which is excluded from conditional_access.require-mfa"), "{out}");
    assert!(out.contains("sensitive: changes jobTitle of user.megan, read by the membership rule of group.kiosk-exempt, which is excluded from conditional_access.require-mfa"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    // Reconcile holds them too (its classifier is apply's).
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("held: update group.ca-exempt"), "{out}");
    assert!(out.contains("held: update user.megan"), "{out}");
    sb.shutdown().await.unwrap();
}

async fn graph_get(sb: &sandbox::SandboxHandle, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new().get(format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token()).send().await.expect("the sandbox answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Finding 3: dropping `protected = true` (with a member added in the same
/// edit) and relaxing the SOC account's `read_only`/`allowed_roles` are
/// governance changes for the approvers in force, shown in the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_declared_on_objects_is_in_the_trust_root() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let trust = std::fs::read_to_string(w.join("tenantctl.trust.json")).expect("a trust root");
    assert!(trust.contains("\"group.intune-admins\"") && trust.contains("\"protected\": true"), "{trust}");
    assert!(trust.contains("\"user.mwaas-soc-ro\""), "{trust}");

    // Dropping protection alone is no longer "no changes".
    edit_file(&dir, "groups.toml", |t| t.replace("owners = [\"adele\"]\nprotected = true\n", "owners = [\"adele\"]\n"));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("~ governance: sensitive: changes [governance] (declared.group.intune-admins)"), "{out}");
    // With a member added: judged by the stricter (protected in force).
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"adele\"]\nowners", "members = [\"adele\", \"megan\"]\nowners"));
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    let gid = ledger_id(w, "group.intune-admins");
    let (_, members) = graph_get(&sb, &format!("/v1.0/groups/{gid}/members")).await;
    assert_eq!(members["value"].as_array().map(Vec::len), Some(1), "megan was not added: {members:#} {out}");
    // Reconcile holds the pending governance change and the member.
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("held: update governance: desired [governance] differs from the trust root (declared.group.intune-admins)"), "{out}");
    assert!(out.contains("held: update group.intune-admins"), "{out}");

    // The SOC read-only account's relaxation shows in the plan.
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"adele\", \"megan\"]\nowners = [\"adele\"]\n", "members = [\"adele\"]\nowners = [\"adele\"]\nprotected = true\n"));
    edit_file(&dir, "accounts.toml", |t| t.replacen("read_only = true\n", "", 1));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("~ governance: sensitive: changes [governance] (declared.user.mwaas-soc-ro.read_only)"), "{out}");
    assert!(out.contains("declared.user.mwaas-soc-ro.read_only: true -> (absent)"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 3: `declared` cannot be written in [governance] by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_governance_is_not_written_by_hand() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t.replace("large_plan_threshold = 50", "large_plan_threshold = 50\n\n[governance.declared.\"group.intune-admins\"]\nprotected = false"));
    let (code, out) = validate(&sb, work.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("governance.declared is recorded by tenantctl"), "{out}");
    assert!(out.contains("tenant.toml:"), "located: {out}");
    sb.shutdown().await.unwrap();
}

const ALLDEV: &str = "[device_configuration.alldev]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"All devices cfg\"\nassignments = { all_devices = true }\n[device_configuration.alldev.settings]\npasswordMinimumLength = 12\n";
const NESTED: &str = "[device_configuration.nested]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Nested ring cfg\"\nassignments = { include = [\"ring-parent\"] }\n[device_configuration.nested.settings]\npasswordMinimumLength = 12\n";
const RING_PARENT: &str = "[group.ring-parent]\ndisplay_name = \"Ring parent\"\nmail_nickname = \"ring-parent\"\nmembers = [\"mwd-test\"]\n";

/// Finding 4: a policy reaching ring devices through all devices or a
/// group nesting a ring is protected; creating such a group is sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_desktop_protection_follows_reach() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", RING_PARENT);
        append(d, "policies.toml", ALLDEV);
        append(d, "policies.toml", NESTED);
    })
    .await;
    let w = work.path();
    edit_file(&dir, "policies.toml", |t| t.replace("passwordMinimumLength = 12", "passwordMinimumLength = 4"));
    append(&dir, "groups.toml", "[group.ring-grandparent]\ndisplay_name = \"Ring grandparent\"\nmail_nickname = \"ring-grandparent\"\nmembers = [\"ring-parent\"]\n");
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: Managed Desktop: device_configuration.alldev is assigned to all devices"), "{out}");
    assert!(out.contains("sensitive: Managed Desktop: device_configuration.nested is assigned to group.ring-parent, which reaches ring devices (group.ring-parent nests group.mwd-test)"), "{out}");
    assert!(out.contains("sensitive: Managed Desktop: group.ring-grandparent > group.ring-parent nests group.mwd-test"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "refused without approvals: {out}");
    sb.shutdown().await.unwrap();
}

/// Finding 4, live: a policy assigned to a group that nests a ring group
/// only live (added out of band) is protected too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_nested_live_protects_the_policy() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", "[group.loose]\ndisplay_name = \"Loose\"\nmail_nickname = \"loose\"\n");
        append(d, "policies.toml", &NESTED.replace("ring-parent", "loose"));
    })
    .await;
    let w = work.path();
    add_member(&sb, &ledger_id(w, "group.loose"), &ledger_id(w, "group.mwd-first")).await;
    edit_file(&dir, "policies.toml", |t| t.replace("passwordMinimumLength = 12", "passwordMinimumLength = 4"));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: Managed Desktop: device_configuration.nested is assigned to group.loose, which reaches ring devices"), "{out}");
    sb.shutdown().await.unwrap();
}

const SECOND: &str = "[autopilot_profile.second]\ndisplay_name = \"Second profile\"\njoin_type = \"entra\"\ndevice_type = \"windowsPc\"\ndevice_name_template = \"X-%RAND:7%\"\nlocale = \"os-default\"\nassignments = { include = [\"TARGET\"] }\n[autopilot_profile.second.out_of_box_experience_setting]\nprivacy_settings_hidden = true\neula_hidden = true\nuser_type = \"administrator\"\ndevice_usage_type = \"singleUser\"\n";

/// Finding 5: a second Autopilot profile on a group nesting the
/// all-devices group, or on a group with its rule, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_autopilot_profile_on_all_devices_is_refused() {
    let sb = sandbox().await;
    for (target, group) in [
        ("nest-all", "[group.nest-all]\ndisplay_name = \"Nest all\"\nmail_nickname = \"nest-all\"\nmembers = [\"mwd-all\"]\n"),
        ("nest-nest", "[group.nest-all]\ndisplay_name = \"Nest all\"\nmail_nickname = \"nest-all\"\nmembers = [\"mwd-all\"]\n\n[group.nest-nest]\ndisplay_name = \"Nest nest\"\nmail_nickname = \"nest-nest\"\nmembers = [\"nest-all\"]\n"),
        ("ztd2", "[group.ztd2]\ndisplay_name = \"All ZTD devices\"\nmail_nickname = \"ztd2\"\nmembership_rule = '(device.devicePhysicalIds  -any (_ -contains \"[ZTDId]\"))'\nmembership_rule_processing_state = \"On\"\n"),
    ] {
        let work = scratch_with(|t| t);
        let dir = work.path().join("desired-state");
        append(&dir, "groups.toml", group);
        append(&dir, "autopilot.toml", &SECOND.replace("TARGET", target));
        let (code, out) = validate(&sb, work.path());
        assert_eq!(code, Some(1), "{target}: {out}");
        assert!(out.contains("autopilot_profile.second: at most one Autopilot profile targets the all-devices group mwd-all"), "{target}: {out}");
        assert!(out.contains("autopilot.toml:"), "located: {out}");
    }
    sb.shutdown().await.unwrap();
}

/// Finding 5: any Autopilot profile is sensitive (one on a plain group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_autopilot_profile_is_sensitive() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "[group.plain]\ndisplay_name = \"Plain\"\nmail_nickname = \"plain\"\n")).await;
    append(&dir, "autopilot.toml", &SECOND.replace("TARGET", "plain"));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: Autopilot profile autopilot_profile.second (device provisioning)"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 8: a member added out of band to the protected, role-holding
/// intune-admins group is linted by name and removed unattended; a service
/// account so added is `service-account-privileged`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_member_of_a_role_holding_group_is_removed_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let gid = ledger_id(w, "group.intune-admins");
    add_member(&sb, &gid, &ledger_id(w, "user.megan")).await;
    add_member(&sb, &gid, &ledger_id(w, "user.msadmin")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("warning[unmanaged-privileged-holder] group.intune-admins: user.megan holds Intune Administrator (eligible) through group.intune-admins (a live member outside desired state)"), "{out}");
    assert!(out.contains("warning[service-account-privileged] group.intune-admins: user.msadmin is a service account"), "{out}");
    assert!(out.contains("this plan removes it (update group.intune-admins), unattended"), "{out}");
    assert!(!out.contains("sensitive: touches protected group.intune-admins"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("self-heal: update group.intune-admins"), "{out}");
    let (_, members) = graph_get(&sb, &format!("/v1.0/groups/{gid}/members")).await;
    let ids: Vec<&str> = members["value"].as_array().expect("members").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, vec![ledger_id(w, "user.adele").as_str()], "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 5, live: a second profile assigned out of band to a group that
/// nests the all-devices group is refused by plan, naming the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_autopilot_profile_on_a_nesting_group_live_is_refused() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "[group.nest-all]\ndisplay_name = \"Nest all\"\nmail_nickname = \"nest-all\"\nmembers = [\"mwd-all\"]\n")).await;
    let w = work.path();
    let r = reqwest::Client::new()
        .post(format!("{}/objects/windowsAutopilotDeploymentProfiles", sb.admin_url()))
        .json(&serde_json::json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "Rogue profile"}))
        .send()
        .await
        .expect("the sandbox answers");
    let rogue = r.json::<serde_json::Value>().await.expect("a profile")["id"].as_str().expect("an id").to_string();
    let target = serde_json::json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": ledger_id(w, "group.nest-all")}});
    graph(&sb, reqwest::Method::POST, &format!("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{rogue}/assignments"), Some(target)).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("error[one-autopilot-profile] autopilot_profile.({rogue}): autopilot_profile.({rogue}) \"Rogue profile\" targets the all-devices group group.mwd-all live")), "{out}");
    sb.shutdown().await.unwrap();
}
