//! Issue 12's effective targets and ordering, through the binary (hostile
//! run 17): approver and reviewer groups whose members desired state does
//! not declare are judged by their live members (finding 11), and so are
//! an authentication method's declared include groups (finding 10).

mod common;

use common::*;
use serde_json::json;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A group made in the tenant out of band, `display_name` and
/// `nickname`, holding the objects `members` (ids); its id.
async fn live_group(sb: &sandbox::SandboxHandle, display_name: &str, nickname: &str, members: &[String]) -> String {
    let binds: Vec<String> = members.iter().map(|m| format!("https://graph.microsoft.com/v1.0/directoryObjects/{m}")).collect();
    let g = graph(sb, reqwest::Method::POST, "/v1.0/groups", Some(json!({"displayName": display_name, "mailNickname": nickname, "mailEnabled": false, "securityEnabled": true, "members@odata.bind": binds}))).await;
    g["id"].as_str().expect("the group has an id").to_string()
}

/// `[group.KEY]` declared without members: its membership is live.
fn unmanaged(key: &str, display_name: &str) -> String {
    format!("\n[group.{key}]\ndisplay_name = \"{display_name}\"\nmail_nickname = \"{key}\"\n")
}

/// Finding 11: a declared group without `members` whose live members are
/// a person and a service account, named as the PIM activation approvers
/// of Intune Administrator and as an access package's approvers and
/// reviewers. `validate` cannot see who is in it; `plan` judges its live
/// members: `pim-approver-service-account` and `service-account-approver`
/// naming the account and the group, and once a guest is put in it,
/// `self-approval` for the policy admitting external users. Declaring the
/// group's members (people only) clears them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approver_groups_are_judged_by_their_live_members() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (adele, msadmin) = (ledger_id(w, "user.adele"), ledger_id(w, "user.msadmin"));
    let group = live_group(&sb, "Approvers", "approvers", &[adele, msadmin]).await;
    append(&dir, "groups.toml", &unmanaged("approvers", "Approvers"));
    edit_file(&dir, "role-policies.toml", |t| t.replace(r#"approvers = ["adele"]"#, r#"approvers = ["approvers"]"#));
    edit_file(&dir, "access-packages.toml", |t| t.replace(r#"primary_approvers = ["adele"]"#, r#"primary_approvers = ["approvers"]"#).replace(r#"primary_reviewers = ["adele"]"#, r#"primary_reviewers = ["approvers"]"#));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "desired state alone cannot tell who is in the group: {out}");

    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[pim-approver-service-account] role_policy.intune-administrator: service account user.msadmin approves activations of Intune Administrator through group.approvers, a live member"),
        "{out}"
    );
    assert!(out.contains("error[service-account-approver] access_package.fabrikam-audit: policy `fabrikam auditors`: stage 1 primaryApprovers group.approvers holds service account user.msadmin"), "{out}");
    assert!(out.contains("reviewSettings primaryReviewers group.approvers holds service account user.msadmin"), "{out}");
    assert!(!out.contains("error[self-approval]"), "no one the policy admits is in the group yet: {out}");

    // A guest in the group approves and reviews guests' requests.
    add_member(&sb, &group, &ledger_id(w, "guest.fabrikam-auditor")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[self-approval] access_package.fabrikam-audit: policy `fabrikam auditors`: stage 1 primaryApprovers group.approvers holds user guest.fabrikam-auditor"), "{out}");
    assert!(out.contains("(allExternalUsers: an external user)"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(!out.contains("ok      update role_policy.intune-administrator"), "{out}");

    // Its members declared (Adele only): desired state judges them, and
    // the live extras are the holders' business, not an approver's.
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"approvers\"\n", "mail_nickname = \"approvers\"\nmembers = [\"adele\"]\n"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("error[pim-approver-service-account]") && !out.contains("error[service-account-approver]") && !out.contains("error[self-approval]"), "{out}");
}

/// Finding 10: an authentication method's declared include group whose
/// members desired state does not declare is judged by its live members:
/// a Temporary Access Pass enabled for a group holding a service account
/// live is `service-account-targeted`, naming the account and the group.
/// Excluding the service accounts' group (which proves it holds them)
/// clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_include_group_is_judged_by_its_live_members() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (adele, msadmin) = (ledger_id(w, "user.adele"), ledger_id(w, "user.msadmin"));
    live_group(&sb, "TAP users", "tap-users", &[adele, msadmin]).await;
    append(&dir, "groups.toml", &unmanaged("tap-users", "TAP users"));
    let tap = "include = [\"intune-admins\"]\nexclude = [\"service-accounts\"]\nis_usable_once";
    edit_file(&dir, "authentication-methods.toml", |t| t.replace(tap, "include = [\"tap-users\"]\nis_usable_once"));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "desired state alone cannot tell who is in the group: {out}");

    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[service-account-targeted] authentication_methods_policy.tenant: method TemporaryAccessPass reaches service account user.msadmin through group.tap-users, which holds it live"),
        "{out}"
    );
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(!out.contains("ok      update authentication_methods_policy.tenant"), "{out}");

    // The service accounts excluded: proved out, nothing reached.
    edit_file(&dir, "authentication-methods.toml", |t| t.replace("include = [\"tap-users\"]\nis_usable_once", "include = [\"tap-users\"]\nexclude = [\"service-accounts\"]\nis_usable_once"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("error[service-account-targeted]"), "{out}");
}

/// PIM settings and assignments of two roles: Privileged Role
/// Administrator (built in), and a custom role made in the same plan.
const PIM_PAIRS: &str = r#"
[role_policy.pra]
role = "Privileged Role Administrator"
activation = { max_duration = "PT2H", require_mfa = true, require_justification = true, require_approval = true, approvers = ["adele"] }

[role_assignment.megan-pra]
principal = "megan"
role = "Privileged Role Administrator"
assignment = "eligible"
expires = 2027-01-31T00:00:00Z
justification = "CHG-2001"

[role_definition.pwreset]
display_name = "Helpdesk password reset"
allowed_resource_actions = ["microsoft.directory/users/password/update"]

[role_policy.pwreset]
role = "pwreset"
activation = { max_duration = "PT2H", require_mfa = true, require_justification = true, require_approval = true, approvers = ["adele"] }

[role_assignment.megan-pwreset]
principal = "megan"
role = "pwreset"
assignment = "eligible"
expires = 2027-01-31T00:00:00Z
justification = "CHG-2002"
"#;

/// The `waits on:` line of `address`'s change in a text plan.
fn waits_on<'a>(out: &'a str, address: &str) -> &'a str {
    let mut lines = out.lines().skip_while(|l| !l.trim_start().starts_with(&format!("+ {address} ")));
    assert!(lines.next().is_some(), "{address} is in the plan:\n{out}");
    lines.take_while(|l| l.starts_with("        ")).find(|l| l.trim_start().starts_with("waits on:")).unwrap_or_else(|| panic!("{address} waits on nothing:\n{out}"))
}

/// Finding 15: an eligible assignment waits on the declared PIM settings
/// of its role, built in or custom (with the custom role's definition),
/// and when writing those settings fails it is skipped, not created under
/// settings nobody approved (no approval on activation). Once Graph
/// answers, both are applied, settings first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eligible_assignment_waits_on_its_roles_pim_settings() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (w, dir) = (work.path(), work.path().join("desired-state"));
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    append(&dir, "roles.toml", PIM_PAIRS);
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(waits_on(&out, "role_assignment.megan-pra").contains("role_policy.pra"), "{out}");
    let custom = waits_on(&out, "role_assignment.megan-pwreset");
    assert!(custom.contains("role_definition.pwreset") && custom.contains("role_policy.pwreset"), "{custom}");

    // Writing PIM rules fails (reads still answer).
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/policies/roleManagementPolicies/".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "{out}");
    for a in ["role_assignment.megan-pra", "role_assignment.megan-pwreset"] {
        assert!(!out.contains(&format!("ok      create {a}")), "{a} is not created without its PIM settings: {out}");
        assert!(out.lines().any(|l| l.contains(a) && l.contains("skipped")), "{a} is skipped: {out}");
    }
    sb.set_faults(sandbox::Faults::none()).expect("faults");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("create role_assignment.megan-pra") && out.contains("create role_assignment.megan-pwreset"), "{out}");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
}

/// The plan's `sensitive:` line for the change of `address`, if any.
fn sensitive_line<'a>(out: &'a str, address: &str) -> Option<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.trim_start().starts_with(&format!("+ {address} ")) && !l.trim_start().starts_with(&format!("~ {address} ")));
    lines.next()?;
    lines.take_while(|l| l.starts_with("        ")).find(|l| l.trim_start().starts_with("sensitive:"))
}

/// A device configuration turning Defender's real-time protection off,
/// assigned to `group`.
fn av_relax(key: &str, group: &str) -> String {
    format!(
        r#"
[device_configuration.{key}]
odata_type = "windows10GeneralConfiguration"
display_name = "Performance tuning {key}"
[device_configuration.{key}.settings]
defenderRequireRealTimeMonitoring = false
[device_configuration.{key}.assignments]
include = ["{group}"]
"#
    )
}

/// Finding 16: a device policy (or a required app) assigned to a static
/// group of people reaches the devices they sign in to, the ring devices
/// among them: a Managed Desktop object, sensitive, so `apply` from the
/// directory refuses it. People declared as members count, and so do
/// people put live into a group whose membership desired state does not
/// manage; a group holding no one whose membership is unmanaged does
/// too, since it may be filled at any time. A permanent Intune write role
/// scoped to such a group is `standing-privileged-access`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_policy_on_a_static_group_of_people_is_a_managed_desktop_object() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    live_group(&sb, "Project Y", "project-y", &[ledger_id(w, "user.megan")]).await;
    live_group(&sb, "Nobody yet", "nobody-yet", &[]).await;
    append(&dir, "groups.toml", &unmanaged("project-y", "Project Y"));
    append(&dir, "groups.toml", &unmanaged("nobody-yet", "Nobody yet"));
    append(&dir, "policies.toml", &av_relax("declared", "licensed-users"));
    append(&dir, "policies.toml", &av_relax("live", "project-y"));
    append(&dir, "policies.toml", &av_relax("empty", "nobody-yet"));
    append(
        &dir,
        "policies.toml",
        r#"
[winget_app.remote]
display_name = "Remote help"
package_identifier = "XP89DCGQ3K6VLD"
install_experience = { run_as_account = "user" }
publisher = "Contoso"
assignments = { required = { include = ["licensed-users"] } }
"#,
    );
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let declared = sensitive_line(&out, "device_configuration.declared").unwrap_or_else(|| panic!("the policy on group.licensed-users is sensitive:\n{out}"));
    assert!(declared.contains("Managed Desktop: device_configuration.declared is assigned to group.licensed-users, a group of people (group.licensed-users holds user."), "{declared}");
    let live = sensitive_line(&out, "device_configuration.live").unwrap_or_else(|| panic!("the policy on group.project-y is sensitive:\n{out}"));
    assert!(live.contains("group.project-y holds user.megan live"), "{live}");
    let app = sensitive_line(&out, "winget_app.remote").unwrap_or_else(|| panic!("a required app on people is sensitive:\n{out}"));
    assert!(app.contains("Managed Desktop: winget_app.remote is assigned to group.licensed-users"), "{app}");
    // A group holding no one yet may be filled in the portal at any time
    // (hostile run 18, finding 10): sensitive, saying its membership is
    // unmanaged.
    let empty = sensitive_line(&out, "device_configuration.empty").unwrap_or_else(|| panic!("the policy on group.nobody-yet is sensitive:\n{out}"));
    assert!(empty.contains("group.nobody-yet, whose membership desired state does not manage"), "{empty}");

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "a Managed Desktop object is not applied unapproved: {out}");
    assert!(!out.contains("ok      create device_configuration.declared"), "{out}");

    // A permanent Intune write role over a group of people.
    let scoped = |group: &str| format!("\n[intune_role_assignment.ops-{group}]\ndisplay_name = \"Ops over {group}\"\nrole = \"Policy and Profile manager\"\nmembers = [\"intune-admins\"]\nscope_members = [\"{group}\"]\n");
    append(&dir, "roles.toml", &scoped("licensed-users"));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[standing-privileged-access] intune_role_assignment.ops-licensed-users: Intune role Policy and Profile manager (a built-in role that writes) is held permanently over the Managed Desktop devices (the devices of the people in group.licensed-users"), "{out}");
    edit_file(&dir, "roles.toml", |t| t.replace(&scoped("licensed-users"), &scoped("project-y")));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "desired state alone cannot tell who is in project-y: {out}");
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[standing-privileged-access] intune_role_assignment.ops-project-y") && out.contains("group.project-y holds user.megan live"), "{out}");
}
