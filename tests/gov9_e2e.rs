//! Issue 12's remaining parts, through the binary: hostile run 15's
//! findings 4 (a dynamic group of every enabled member user reaches the
//! ring devices' primary users like all users), 7 (a device rule's
//! `memberOf` naming a group nothing resolves may hold anything) and 16
//! (`[ZTDId]` prefixes covering every Autopilot id are all Autopilot
//! devices), and the name of a Settings Catalog secret's variable in the
//! plan.

mod common;

use common::gov::*;
use common::*;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A Defender exclusions policy on `include`, the service accounts
/// excluded unless `exclude` is false.
fn exclusions(key: &str, include: &str, exclude: bool) -> String {
    let exclude = if exclude { r#", exclude = ["service-accounts"]"# } else { "" };
    format!(
        r#"
[settings_catalog.{key}]
name = "Exclusions {key}"
platforms = "windows10"
technologies = "mdm,microsoftSense"
settings = {{ device_vendor_msft_policy_config_defender_excludedextensions = [".dll", ".exe", ".ps1"] }}
assignments = {{ include = ["{include}"]{exclude} }}
"#
    )
}

/// A dynamic group `key` with `rule`.
fn dynamic(key: &str, rule: &str) -> String {
    format!("\n[group.{key}]\ndisplay_name = \"Dynamic {key}\"\nmail_nickname = \"{key}\"\nmembership_rule = '''{rule}'''\nmembership_rule_processing_state = \"On\"\n")
}

/// The plan's `sensitive:` line for `address`, if any.
fn sensitive_line<'a>(out: &'a str, address: &str) -> Option<&'a str> {
    let mut lines = out.lines().skip_while(|l| !l.trim_start().starts_with(&format!("+ {address} ")) && !l.trim_start().starts_with(&format!("~ {address} ")));
    lines.next()?;
    lines.take_while(|l| l.starts_with("        ")).find(|l| l.trim_start().starts_with("sensitive:"))
}

/// Finding 4: a policy on a dynamic group holding every enabled member
/// user reaches the ring devices' primary users, as one on all users
/// does: a Managed Desktop object, sensitive, so `apply` from the
/// directory refuses it. A guests-only rule is provably disjoint. Without
/// the service accounts excluded, the same group targets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_group_of_every_enabled_member_counts_like_all_users() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    append(&dir, "groups.toml", &dynamic("everyone", r#"(user.accountEnabled -eq true) and (user.userType -eq "Member")"#));
    append(&dir, "groups.toml", &dynamic("guests-only", r#"(user.userType -eq "Guest")"#));
    append(&dir, "settings-catalog.toml", &exclusions("wide", "everyone", true));
    append(&dir, "settings-catalog.toml", &exclusions("guests", "guests-only", true));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let wide = sensitive_line(&out, "settings_catalog.wide").unwrap_or_else(|| panic!("the policy on group.everyone is sensitive:\n{out}"));
    assert!(wide.contains("Managed Desktop: settings_catalog.wide is assigned to group.everyone") && wide.contains("primary users"), "{wide}");
    assert_eq!(sensitive_line(&out, "settings_catalog.guests"), None, "a guests-only rule holds no primary user:\n{out}");

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "a Managed Desktop object is not applied unapproved: {out}");
    assert!(out.contains("settings_catalog.wide"), "{out}");
    assert!(!out.contains("ok      create settings_catalog.wide"), "{out}");

    // Not excluding the service accounts: the same group targets them.
    edit_file(&dir, "settings-catalog.toml", |t| t.replace(r#"include = ["everyone"], exclude = ["service-accounts"]"#, r#"include = ["everyone"]"#));
    let (code, out) = run(&sb, w, &["validate", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[service-account-targeted] settings_catalog.wide"), "{out}");
}

/// Finding 7: a device rule `memberOf` a group id nothing resolves (not
/// declared, not in the ledger) may hold anything, ring devices included,
/// as the service-account check says of the same id; a `memberOf` naming a
/// declared group of people is judged by that group, and holds no ring
/// device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_rule_naming_an_unknown_group_may_hold_ring_devices() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let admins = ledger_id(w, "group.intune-admins");
    append(&dir, "groups.toml", &dynamic("nested-devs", "device.memberOf -any (group.objectId -in ['0b6a3c1e-1111-4222-8333-944455556666'])"));
    append(&dir, "groups.toml", &dynamic("admins-devs", &format!("device.memberOf -any (group.objectId -in ['{admins}'])")));
    append(&dir, "settings-catalog.toml", &exclusions("nested", "nested-devs", true));
    append(&dir, "settings-catalog.toml", &exclusions("admins", "admins-devs", true));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let nested = sensitive_line(&out, "settings_catalog.nested").unwrap_or_else(|| panic!("the policy on group.nested-devs is sensitive:\n{out}"));
    assert!(nested.contains("Managed Desktop") && nested.contains("0b6a3c1e-1111-4222-8333-944455556666, which nothing resolves"), "{nested}");
    assert_eq!(sensitive_line(&out, "settings_catalog.admins"), None, "a memberOf of a declared group of people holds no ring device:\n{out}");

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "a Managed Desktop object is not applied unapproved: {out}");
    assert!(!out.contains("ok      create settings_catalog.nested"), "{out}");
}

/// Finding 16: sixteen OR'ed `[ZTDId]` prefixes, one per first hex digit
/// (in any case, nested), hold every Autopilot device: a second Autopilot
/// profile on that group is refused (`one-autopilot-profile`). Fifteen
/// leave some out: may hold, so allowed (and sensitive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ztdid_prefixes_covering_every_id_are_all_autopilot_devices() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let prefixes = |tag: &str, digits: &str| digits.chars().map(|h| format!(r#"(device.devicePhysicalIds -any (_ -contains "{tag}{h}"))"#)).collect::<Vec<_>>().join(" or ");
    let rule = format!("({}) or ({})", prefixes("[ZTDId]:", "01234567"), prefixes("[ZTDID]:", "89ABCDEF"));
    append(&dir, "groups.toml", &dynamic("all-autopilot-2", &rule));
    append(
        &dir,
        "autopilot.toml",
        r#"
[autopilot_profile.second]
display_name = "Second profile"
join_type = "entra"
device_type = "windowsPc"
device_name_template = "X-%RAND:7%"
locale = "os-default"
assignments = { include = ["all-autopilot-2"] }

[autopilot_profile.second.out_of_box_experience_setting]
user_type = "administrator"
device_usage_type = "singleUser"
"#,
    );
    let (code, out) = validate(&sb, work.path());
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("one-autopilot-profile"), "{out}");
    assert!(out.contains("autopilot_profile.second") || out.contains("autopilot.toml"), "{out}");

    // One digit left out: some Autopilot devices are not in the group.
    edit_file(&dir, "groups.toml", |t| t.replace(r#" or (device.devicePhysicalIds -any (_ -contains "[ZTDID]:F"))"#, ""));
    let (code, out) = validate(&sb, work.path());
    assert!(!out.contains("one-autopilot-profile"), "{out}");
    assert_eq!(code, Some(0), "{out}");
}

const WIFI_KEY: &str = "vendor_msft_wifi_profile_sharedkey";

fn wifi(var: &str) -> String {
    format!("[settings_catalog.wifi]\nname = \"Wi-Fi with a key\"\nplatforms = \"windows10\"\ntechnologies = \"mdm\"\nsettings = {{ {WIFI_KEY} = {{ secret_env = \"{var}\" }} }}\n")
}

/// The secret's live token (Graph returns a token, never the value).
async fn live_token(sb: &sandbox::SandboxHandle, id: &str) -> serde_json::Value {
    let c = client(sb);
    let settings = c.beta().list_all(&format!("/deviceManagement/configurationPolicies/{id}/settings")).await.expect("settings");
    let s = settings.iter().map(|s| s["settingInstance"].clone()).find(|i| i["settingDefinitionId"] == serde_json::json!(WIFI_KEY)).expect("the secret setting");
    s["simpleSettingValue"]["value"].clone()
}

/// The binary with `vars` set (and the test's variables otherwise unset).
fn run_with(sb: &sandbox::SandboxHandle, work: &std::path::Path, args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = command(sb, work);
    cmd.args(args).env_remove("GOV9_WIFI_KEY").env_remove("GOV9_WIFI_KEY_NEW");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("tenantctl runs");
    (out.status.code(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

/// The plan shows which environment variable a Settings Catalog secret is
/// sent from (text, Markdown and JSON), never its value; a change of
/// variable is a diff of its own (`~ secretEnv`), and apply sends the
/// secret again from the new variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_names_a_secrets_variable_and_a_new_variable_is_a_diff() {
    let sb = sandbox().await;
    let (work, dir) = common::kind::kind_scratch(&["settings_catalog"], "secret variables in the plan", "wifi.toml", &wifi("GOV9_WIFI_KEY"));
    let w = work.path();
    let (first, second) = ("Gov9-First-Wifi-Key-5521", "Gov9-Second-Wifi-Key-8830");
    for format in ["text", "markdown", "json"] {
        let (code, out) = run_with(&sb, w, &["plan", d(&dir), "--format", format], &[("GOV9_WIFI_KEY", first)]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("secretEnv") && out.contains("GOV9_WIFI_KEY"), "{format}: {out}");
        assert!(!out.contains(first), "{format} shows the value: {out}");
    }
    let (code, out) = run_with(&sb, w, &["apply", d(&dir), "--auto-approve"], &[("GOV9_WIFI_KEY", first)]);
    assert_eq!(code, Some(0), "{out}");
    let id = ledger_id(w, "settings_catalog.wifi");
    let before = live_token(&sb, &id).await;
    let (code, out) = run_with(&sb, w, &["plan", d(&dir), "--detailed-exitcode"], &[]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Another variable: a diff naming both, sent again from the new one.
    std::fs::write(dir.join("wifi.toml"), wifi("GOV9_WIFI_KEY_NEW")).expect("written");
    for format in ["text", "markdown", "json"] {
        let (code, out) = run_with(&sb, w, &["plan", d(&dir), "--format", format, "--detailed-exitcode"], &[]);
        assert_eq!(code, Some(2), "{format}: {out}");
        assert!(out.contains("from $GOV9_WIFI_KEY_NEW") && out.contains("from $GOV9_WIFI_KEY\""), "{format}: {out}");
    }
    let (code, out) = run_with(&sb, w, &["plan", d(&dir)], &[]);
    assert!(out.contains("~ secretEnv"), "{code:?} {out}");
    let (code, out) = run_with(&sb, w, &["apply", d(&dir), "--auto-approve"], &[("GOV9_WIFI_KEY_NEW", second)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(second), "{out}");
    let after = live_token(&sb, &id).await;
    assert_ne!(before, after, "the secret is sent again from the new variable");
    let (code, out) = run_with(&sb, w, &["plan", d(&dir), "--detailed-exitcode"], &[]);
    assert_eq!(code, Some(0), "converged again: {out}");
}

/// The live PIM settings of every privileged role someone is eligible
/// for: an eligible User Administrator whose settings are not declared,
/// and which the tenant lets be activated without approval, is
/// `privileged-activation-without-approval` (an error naming the live
/// weakness); declaring the settings settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eligible_privileged_role_with_weak_live_settings_is_an_error_even_undeclared() {
    let sb = sandbox().await;
    let eligible = "[role_assignment.megan-ua]\nprincipal = \"megan\"\nrole = \"User Administrator\"\nassignment = \"eligible\"\nexpires = 2027-06-30T00:00:00Z\njustification = \"User administration, change CHG-4001\"\n";
    let (work, dir) = common::kind::kind_scratch(&["role_assignment"], "live PIM settings", "eligible.toml", eligible);
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[privileged-activation-without-approval] role_assignment.megan-ua: User Administrator is privileged"), "{out}");
    assert!(out.contains("live, activating it needs no approval"), "{out}");

    // Its settings declared (MFA and approval on activation): settled.
    let declared = "\n[role_policy.user-administrator]\nrole = \"User Administrator\"\nactivation = { max_duration = \"PT2H\", require_mfa = true, require_justification = true, require_approval = true, approvers = [\"adele\"] }\neligible_expiry = \"P180D\"\nactive_expiry = \"P15D\"\n";
    append(&dir, "eligible.toml", declared);
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("privileged-activation-without-approval] role_assignment.megan-ua"), "{out}");
    assert_eq!(code, Some(0), "{out}");
}

/// An undeclared group among an authentication method's live include
/// targets is judged by its live members: a service account in it is
/// reached (`service-account-targeted`, naming the group); a group of
/// people only is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_group_among_a_methods_live_targets_is_judged_by_its_members() {
    use reqwest::Method;
    use serde_json::json;
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let new_group = |nick: &str| json!({"displayName": format!("Out of band {nick}"), "mailEnabled": false, "mailNickname": nick, "securityEnabled": true});
    let with_svc = graph(&sb, Method::POST, "/v1.0/groups", Some(new_group("oob-sms-svc"))).await["id"].as_str().expect("an id").to_string();
    let people = graph(&sb, Method::POST, "/v1.0/groups", Some(new_group("oob-sms-people"))).await["id"].as_str().expect("an id").to_string();
    add_member(&sb, &with_svc, &ledger_id(w, "user.adele")).await;
    add_member(&sb, &with_svc, &ledger_id(w, "user.msadmin")).await;
    add_member(&sb, &people, &ledger_id(w, "user.adele")).await;
    let sms = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms";
    let target = |g: &str| json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "includeTargets": [{"targetType": "group", "id": g, "isRegistrationRequired": false}]});
    graph(&sb, Method::PATCH, sms, Some(target(&with_svc))).await;
    append(&dir, "authentication-methods.toml", "[authentication_methods_policy.tenant.methods.sms]\nstate = \"enabled\"\n");
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("error[service-account-targeted] authentication_methods_policy.tenant: method Sms reaches service account user.msadmin through group id:{with_svc}, a live member")), "{out}");

    graph(&sb, Method::PATCH, sms, Some(target(&people))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("error[service-account-targeted]"), "{out}");
    assert!(out.contains(&format!("include group id:{people}")), "{out}");
}

/// A new custom role's PIM policy that Entra lists only a moment after
/// the role is created (replication lag, modelled by the sandbox per
/// test) is waited for within the apply, not failed: the role and its
/// declared PIM settings land in one apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_custom_roles_pim_policy_that_replicates_late_is_waited_for() {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| f.pim_policy_lag_ms = 1500)).expect("faults set");
    let custom = "[role_definition.pwreset]\ndisplay_name = \"Password resetters\"\nallowed_resource_actions = [\"microsoft.directory/users/password/update\"]\n\n[role_policy.pwreset]\nrole = \"pwreset\"\nactivation = { max_duration = \"PT2H\", require_mfa = true, require_justification = true, require_approval = true, approvers = [\"adele\"] }\neligible_expiry = \"P180D\"\nactive_expiry = \"P15D\"\n";
    let (work, dir) = common::kind::kind_scratch(&["role_policy"], "custom role PIM lag", "custom-roles.toml", custom);
    let w = work.path();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let role = ledger_id(w, "role_definition.pwreset");
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let listed = graph(&sb, reqwest::Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}%20and%20roleDefinitionId%20eq%20'{role}'"), None).await;
    let policy = listed["value"][0]["policyId"].as_str().expect("the role's policy is listed by now").to_string();
    assert_eq!(ledger_id(w, "role_policy.pwreset"), policy);
    let rules = graph(&sb, reqwest::Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{policy}?$expand=rules"), None).await;
    let duration = rules["rules"].as_array().expect("rules").iter().find(|r| r["id"] == "Expiration_EndUser_Assignment").expect("the rule")["maximumDuration"].clone();
    assert_eq!(duration, serde_json::json!("PT2H"));
}
