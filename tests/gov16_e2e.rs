//! Governance that hostile run 22 still got around (issue 12), each
//! through the binary: undeclared accounts disabled without a bound
//! (finding 12), hardening flagged as local admin access and Windows LAPS
//! account management not flagged (findings 4 and 5), a dynamic approver
//! group a unit's rule reaches (finding 10), a licensed group's replace
//! silent about licences (finding 11), and `validate` judging what only
//! `plan` can (a `memberOf` rule).

mod common;

use std::path::Path;

use common::*;

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Plain people's accounts `user.p1` .. `user.p{n}`.
fn people(n: usize) -> String {
    (1..=n).map(|i| format!("\n[user.p{i}]\nuser_principal_name = \"p{i}.gov16@contoso.onmicrosoft.com\"\ndisplay_name = \"Person {i}\"\nmail_nickname = \"p{i}.gov16\"\nusage_location = \"US\"\n")).collect()
}

async fn enabled(sb: &sandbox::SandboxHandle, id: &str) -> bool {
    let live = graph(sb, reqwest::Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await;
    live["accountEnabled"] == serde_json::json!(true)
}

/// Hostile run 22, finding 12: a pull request that stops declaring six
/// people (pruning off for users, `max_deletions = 5`) disables none of
/// them unattended: the plan names the count and the limit, `apply`
/// refuses, `reconcile --self-heal` holds them. Within the limit (five)
/// reconcile still blocks their sign-in unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_undeclared_people_is_bounded_like_deletes() {
    let sb = sandbox().await;
    let six = people(6);
    let (work, dir) = converged(&sb, |dir| append(dir, "accounts.toml", &six)).await;
    let w = work.path();
    let ids: Vec<String> = (1..=6).map(|i| ledger_id(w, &format!("user.p{i}"))).collect();
    edit_file(&dir, "accounts.toml", |t| t.replace(&six, ""));

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    let bound = "the plan deletes 0 object(s) and blocks the sign-in of 6 account(s) desired state no longer declares: 6 removals, more than governance.prune.max_deletions (5)";
    assert!(out.contains(bound), "{out}");
    assert!(out.contains("a mass disable needs approval"), "sensitive: {out}");

    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("6 removals, more than"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert!(out.contains("held") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    for id in &ids {
        assert!(enabled(&sb, id).await, "nobody disabled past the bound: {id}\n{out}");
    }

    // One declared again: five removals, within the limit, unattended.
    append(&dir, "accounts.toml", &people(6).split("\n[user.").last().map(|s| format!("[user.{s}")).expect("p6"));
    let (code, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    for id in &ids[..5] {
        assert!(!enabled(&sb, id).await, "disabled within the bound: {id}\n{out}");
    }
    assert!(enabled(&sb, &ids[5]).await, "declared again: {out}");
    sb.shutdown().await.expect("the sandbox stops");
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

/// The lines of `out` that contain `prefix`.
fn lines<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(prefix)).collect()
}

const BASELINE: &str = r##"
[settings_catalog.baseline]
name = "security baseline"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.baseline.assignments]
include = ["licensed-users"]

[settings_catalog.baseline.settings]
device_vendor_msft_policy_config_accounts_allowmicrosoftaccountconnection = "device_vendor_msft_policy_config_accounts_allowmicrosoftaccountconnection_0"
device_vendor_msft_policy_config_accounts_allowaddingnonmicrosoftaccountsmanually = "device_vendor_msft_policy_config_accounts_allowaddingnonmicrosoftaccountsmanually_0"
device_vendor_msft_policy_config_userrights_debugprograms = "*S-1-5-32-544"
device_vendor_msft_policy_config_userrights_impersonateclient = "*S-1-5-32-544\uF000*S-1-5-19\uF000*S-1-5-20\uF000*S-1-5-6"

[device_configuration.baseline-oma]
odata_type = "windows10CustomConfiguration"
display_name = "Baseline (OMA-URI)"

[device_configuration.baseline-oma.settings]
omaSettings = [
  { "@odata.type" = "#microsoft.graph.omaSettingInteger", displayName = "msa", omaUri = "./Device/Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection", value = 0 },
  { "@odata.type" = "#microsoft.graph.omaSettingString", displayName = "debug", omaUri = "./Device/Vendor/MSFT/Policy/Config/UserRights/DebugPrograms", value = "<![CDATA[*S-1-5-32-544]]>" },
]

[settings_catalog.loosened]
name = "loosened"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.loosened.settings]
device_vendor_msft_policy_config_accounts_allowmicrosoftaccountconnection = "device_vendor_msft_policy_config_accounts_allowmicrosoftaccountconnection_1"
device_vendor_msft_policy_config_userrights_debugprograms = "*S-1-5-32-544\uF000*S-1-5-32-545"
"##;

/// Hostile run 22, finding 4: what Microsoft's security baselines set
/// (Microsoft accounts blocked, a user right held by Administrators or by
/// the machine's service principals) is hardening, not
/// `oma-local-accounts`, in a Settings Catalog policy and in an OMA-URI
/// profile; allowing Microsoft accounts or adding Users to a right still
/// is, and every gov15 case keeps its findings.
#[test]
fn hardening_is_not_local_admin_access() {
    let (code, out) = validate_edited(|dir| append(dir, "settings-catalog.toml", BASELINE));
    assert!(!out.contains("oma-local-accounts] settings_catalog.baseline"), "{out}");
    assert!(!out.contains("oma-local-accounts] device_configuration.baseline-oma"), "{out}");
    let loose = lines(&out, "error[oma-local-accounts] settings_catalog.loosened");
    assert_eq!(loose.len(), 2, "{out}");
    assert!(loose.iter().any(|l| l.contains("allowmicrosoftaccountconnection allows Microsoft accounts")), "{out}");
    assert!(loose.iter().any(|l| l.contains("user rights (debugprograms)")), "{out}");
    assert_ne!(code, Some(0), "{out}");
}

const LAPS: &str = r##"
[settings_catalog.laps]
name = "LAPS"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.laps.assignments]
include = ["licensed-users"]

[settings_catalog.laps.settings]
device_vendor_msft_laps_policies_backupdirectory = "device_vendor_msft_laps_policies_backupdirectory_1"
device_vendor_msft_laps_policies_automaticaccountmanagementenabled = "device_vendor_msft_laps_policies_automaticaccountmanagementenabled_true"
device_vendor_msft_laps_policies_automaticaccountmanagementenableaccount = "device_vendor_msft_laps_policies_automaticaccountmanagementenableaccount_1"
device_vendor_msft_laps_policies_automaticaccountmanagementtarget = "device_vendor_msft_laps_policies_automaticaccountmanagementtarget_1"

[settings_catalog.laps-backup]
name = "LAPS backup only"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.laps-backup.settings]
device_vendor_msft_laps_policies_backupdirectory = "device_vendor_msft_laps_policies_backupdirectory_1"
device_vendor_msft_laps_policies_automaticaccountmanagementenabled = "device_vendor_msft_laps_policies_automaticaccountmanagementenabled_false"

[device_configuration.laps-oma]
odata_type = "windows10CustomConfiguration"
display_name = "LAPS (OMA-URI)"

[device_configuration.laps-oma.settings]
omaSettings = [
  { "@odata.type" = "#microsoft.graph.omaSettingBoolean", displayName = "auto", omaUri = "./Device/Vendor/MSFT/LAPS/Policies/AutomaticAccountManagementEnabled", value = true },
]
"##;

/// Hostile run 22, finding 5: Windows LAPS automatic account management
/// (a local administrator account created or enabled) is
/// `oma-local-accounts`, in a Settings Catalog policy and an OMA-URI
/// profile, settled by a reasoned exception like the others; LAPS backing
/// up the password of an account that exists is not.
#[test]
fn laps_automatic_account_management_is_a_local_account() {
    let (code, out) = validate_edited(|dir| append(dir, "settings-catalog.toml", LAPS));
    assert_ne!(code, Some(0), "{out}");
    let laps = lines(&out, "error[oma-local-accounts] settings_catalog.laps:");
    assert_eq!(laps.len(), 2, "{out}");
    assert!(laps.iter().any(|l| l.contains("automaticaccountmanagementenabled turns on Windows LAPS automatic account management")), "{out}");
    assert!(laps.iter().any(|l| l.contains("automaticaccountmanagementenableaccount enables the local administrator account Windows LAPS manages")), "{out}");
    assert_eq!(lines(&out, "error[oma-local-accounts] device_configuration.laps-oma").len(), 1, "{out}");
    assert!(!out.contains("oma-local-accounts] settings_catalog.laps-backup"), "{out}");

    let (_, out) = validate_edited(|dir| {
        append(dir, "settings-catalog.toml", LAPS);
        common::gov7b::except(dir, "oma-local-accounts:settings_catalog.laps", "test: LAPS-managed admin account, approved in CHG-1");
    });
    assert!(!out.contains("oma-local-accounts] settings_catalog.laps:"), "{out}");
    assert!(out.contains("oma-local-accounts] device_configuration.laps-oma"), "{out}");
}

const DYNAMIC_APPROVERS: &str = r#"
[user.fin]
user_principal_name = "fin.gov16@contoso.onmicrosoft.com"
display_name = "Fin"
mail_nickname = "fin.gov16"
usage_location = "US"
department = "Finance"

[group.fin-approvers]
display_name = "Finance approvers"
mail_nickname = "fin-approvers"
membership_rule = '(user.department -eq "Finance")'
"#;

const FIN_UNIT: &str = r#"
[administrative_unit.z]
display_name = "Z"
membership_rule = '(user.department -eq "Finance") and (user.userPrincipalName -startsWith "fin.")'

[role_assignment.megan-z-auth]
principal = "megan"
role = "Authentication Administrator"
scope = { administrative_unit = "z" }
assignment = "eligible"
expires = 2027-03-31T00:00:00Z
"#;

/// Hostile run 22, finding 10: a dynamic unit whose rule matches a person
/// a dynamic approver group's rule holds (Fin, in Finance, approves Intune
/// Administrator activation through it) is
/// `unit-reaches-protected-account`; the same unit and people with the
/// group not approving are not.
#[test]
fn a_unit_reaching_a_dynamic_approver_group_member_is_refused() {
    let edit = |dir: &Path, group_approves: bool| {
        append(dir, "accounts.toml", DYNAMIC_APPROVERS);
        if group_approves {
            edit_file(dir, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"adele\", \"fin-approvers\"]"));
        }
        append(dir, "units.toml", FIN_UNIT);
    };
    let (code, out) = validate_edited(|dir| edit(dir, true));
    assert_ne!(code, Some(0), "{out}");
    let found = lines(&out, "error[unit-reaches-protected-account] administrative_unit.z");
    assert!(found.iter().any(|l| l.contains("holds user.fin through its membership rule") && l.contains("through group.fin-approvers, whose membership rule is not proved to leave it out")), "{out}");

    let (_, out) = validate_edited(|dir| edit(dir, false));
    assert!(!out.contains("unit-reaches-protected-account"), "{out}");
}

/// Hostile run 22, finding 11: replacing a licensed group (its
/// `isAssignableToRole` changes) says which licence its members lose and
/// who they are, in every format, as its delete does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_licensed_group_says_who_loses_which_licence() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, "groups.toml", |t| t.replace("members = [\"adele\", \"megan\"]\nlicenses", "members = [\"adele\", \"megan\"]\nis_assignable_to_role = true\nlicenses"));
    for format in ["text", "markdown", "json"] {
        let (_, out) = run(&sb, work.path(), &["plan", d(&dir), "--format", format]);
        assert!(out.contains("replacing it deletes it first: that takes licence SPE_E3 from its 2 direct members: user.adele, user.megan until the new group is licensed"), "{format}: {out}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// The gov15 leftover: a `memberOf` rule names groups by object id, which
/// only the plan resolves. `validate` does not refuse a licensed group, or
/// a policy's target, with such a rule as "could reach a service account";
/// the plan judges it and refuses the one naming a group that holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_of_rules_are_judged_by_the_plan_not_guessed_by_validate() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |dir| append(dir, "groups.toml", "[group.svc-holder]\ndisplay_name = \"svc holder\"\nmail_nickname = \"svc-holder\"\nmembers = [\"mstest\"]\n")).await;
    let id = ledger_id(work.path(), "group.svc-holder");
    append(&dir, "groups.toml", &format!("[group.lic-mo]\ndisplay_name = \"lic mo\"\nmail_nickname = \"lic-mo\"\nmembership_rule = \"user.memberOf -any (group.objectId -in ['{id}'])\"\nlicenses = [{{ sku = \"SPE_E3\" }}]\n"));
    append(&dir, "groups.toml", &format!("[group.target-mo]\ndisplay_name = \"target mo\"\nmail_nickname = \"target-mo\"\nmembership_rule = \"user.memberOf -any (group.objectId -in ['{id}'])\"\n"));
    append(&dir, "policies.toml", "[device_configuration.mo-policy]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"memberOf target\"\n\n[device_configuration.mo-policy.settings]\ncameraBlocked = true\n\n[device_configuration.mo-policy.assignments]\ninclude = [\"target-mo\"]\n");
    let (code, out) = run(&sb, work.path(), &["validate", d(&dir)]);
    assert_eq!(code, Some(0), "validate leaves memberOf rules to the plan: {out}");
    assert!(!out.contains("service-account-licensed") && !out.contains("service-account-targeted"), "{out}");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("error[service-account-licensed] group.lic-mo: group.lic-mo assigns licences to its members and reaches service account user.mstest through group.svc-holder"), "{out}");
    assert!(lines(&out, "error[service-account-targeted]").iter().any(|l| l.contains("user.mstest") && l.contains("group.target-mo")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
