//! Governance lints that hostile run 24 got around (issue 12), each
//! through the binary: the mass-disable bound walked around by disabling
//! declared accounts or by moving guests' ends into the past (findings 1
//! and 3), service identities holding admin rights (finding 4), a rule
//! taken for a `memberOf` one and a `memberOf` group's live members
//! (findings 6 and 7), OMA-URIs written to hide a node (finding 10).

mod common;

use std::path::Path;

use common::*;

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Plain people's accounts `user.q1` .. `user.q{n}`.
fn people(n: usize) -> String {
    (1..=n).map(|i| format!("\n[user.q{i}]\nuser_principal_name = \"q{i}.gov20@contoso.onmicrosoft.com\"\ndisplay_name = \"Person {i}\"\nmail_nickname = \"q{i}.gov20\"\nusage_location = \"US\"\n")).collect()
}

/// Guests `guest.g1` .. `guest.g{n}` whose access ends at `expires`.
fn guests(n: usize, expires: &str) -> String {
    (1..=n)
        .map(|i| format!("\n[guest.g{i}]\nemail = \"g{i}.gov20@fabrikam.com\"\ndisplay_name = \"Guest {i}\"\nredirect_url = \"https://myapps.microsoft.com\"\nexpires = {expires}\nsponsor = \"adele\"\n"))
        .collect()
}

async fn enabled(sb: &sandbox::SandboxHandle, collection: &str, id: &str) -> bool {
    let live = graph(sb, reqwest::Method::GET, &format!("/v1.0/{collection}/{id}?$select=accountEnabled"), None).await;
    live["accountEnabled"] == serde_json::json!(true)
}

/// Hostile run 24, finding 1: the pull request that keeps six people
/// declared and sets `account_enabled = false` on each (`max_deletions =
/// 5`) is bounded like the one that drops them: the plan names the count
/// and the limit, `apply` refuses, `reconcile --self-heal` holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_declared_people_is_bounded_like_deletes() {
    let sb = sandbox().await;
    let six = people(6);
    let (work, dir) = converged(&sb, |dir| append(dir, "accounts.toml", &six)).await;
    let w = work.path();
    let ids: Vec<String> = (1..=6).map(|i| ledger_id(w, &format!("user.q{i}"))).collect();
    let disabled = six.replace("usage_location = \"US\"\n", "usage_location = \"US\"\naccount_enabled = false\n");
    edit_file(&dir, "accounts.toml", |t| t.replace(&six, &disabled));

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("blocks the sign-in of 6 account(s)") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    assert!(out.contains("a mass disable needs approval"), "sensitive: {out}");

    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("6 removals, more than"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert!(out.contains("held") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    for id in &ids {
        assert!(enabled(&sb, "users", id).await, "nobody disabled past the bound: {id}\n{out}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 24, finding 3: moving six guests' `expires` into the past
/// in one pull request is a mass disable this plan makes: bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_moved_into_the_past_are_bounded() {
    let sb = sandbox().await;
    let future = guests(6, "2027-03-31T17:00:00Z");
    let (work, dir) = converged(&sb, |dir| append(dir, "guests.toml", &future)).await;
    let w = work.path();
    let ids: Vec<String> = (1..=6).map(|i| ledger_id(w, &format!("guest.g{i}"))).collect();
    edit_file(&dir, "guests.toml", |t| t.replace(&future, &guests(6, "2026-01-01T00:00:00Z")));

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("an end this plan sets (the end last applied was 2027-03-31T17:00:00Z)"), "{out}");
    assert!(out.contains("blocks the sign-in of 6 account(s)") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("6 removals, more than"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert!(out.contains("held") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    for id in &ids {
        assert!(enabled(&sb, "users", id).await, "nobody disabled past the bound: {id}\n{out}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// The other side of finding 3: six guests whose applied end (recorded
/// when the library converged them, on 2026-11-23) passed on its own are
/// ended unattended, past the bound too: ended access is ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_that_passed_on_their_own_are_not_counted() {
    let sb = sandbox().await;
    let ending = guests(6, "2026-11-30T00:00:00Z");
    let (work, dir) = converged(&sb, |dir| append(dir, "guests.toml", &ending)).await;
    let w = work.path();
    let ids: Vec<String> = (1..=6).map(|i| ledger_id(w, &format!("guest.g{i}"))).collect();

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("access expired at 2026-11-30") && !out.contains("removals, more than") && !out.contains("an end this plan sets"), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    for id in &ids {
        assert!(!enabled(&sb, "users", id).await, "ended on its own, ended unattended: {id}\n{out}");
    }
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

const SERVICE_RIGHTS: &str = r##"
[settings_catalog.service-rights]
name = "service rights"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.service-rights.assignments]
include = ["licensed-users"]

[settings_catalog.service-rights.settings]
device_vendor_msft_policy_config_userrights_debugprograms = "*S-1-5-32-544\uF000*S-1-5-19"
device_vendor_msft_policy_config_userrights_actaspartoftheoperatingsystem = "*S-1-5-6"
device_vendor_msft_policy_config_userrights_loadunloaddevicedrivers = "*S-1-5-20"
device_vendor_msft_policy_config_userrights_takeownership = "*S-1-5-32-544\uF000*S-1-5-20"

[settings_catalog.admin-rights]
name = "admin rights as the baseline sets them"
platforms = "windows10"
technologies = "mdm"

[settings_catalog.admin-rights.assignments]
include = ["licensed-users"]

[settings_catalog.admin-rights.settings]
device_vendor_msft_policy_config_userrights_createtoken = "Administrators"
device_vendor_msft_policy_config_userrights_debugprograms = "*S-1-5-32-544"
device_vendor_msft_policy_config_userrights_impersonateclient = "*S-1-5-32-544\uF000*S-1-5-19\uF000*S-1-5-20\uF000*S-1-5-6"
"##;

/// Hostile run 24, finding 4: LOCAL SERVICE, NETWORK SERVICE and SERVICE
/// given a right that amounts to admin (debug programs, act as part of
/// the operating system, load drivers, take ownership) is
/// `oma-local-accounts`; Administrators alone, and the service identities
/// where the baseline gives them the right (impersonate a client), are
/// not.
#[test]
fn service_identities_holding_admin_rights_are_local_admin_access() {
    let (code, out) = validate_edited(|dir| append(dir, "settings-catalog.toml", SERVICE_RIGHTS));
    let found = lines(&out, "error[oma-local-accounts] settings_catalog.service-rights");
    for right in ["debugprograms", "actaspartoftheoperatingsystem", "loadunloaddevicedrivers", "takeownership"] {
        assert!(found.iter().any(|l| l.contains(&format!("user rights ({right})"))), "{right}: {out}");
    }
    assert!(!out.contains("oma-local-accounts] settings_catalog.admin-rights"), "{out}");
    assert_ne!(code, Some(0), "{out}");
}

/// An OMA-URI profile of `uri` = `value` (a string setting).
fn oma(key: &str, uri: &str, value: &str) -> String {
    format!(
        "\n[device_configuration.{key}]\nodata_type = \"windows10CustomConfiguration\"\ndisplay_name = \"{key}\"\n\n[device_configuration.{key}.settings]\nomaSettings = [\n  {{ \"@odata.type\" = \"#microsoft.graph.omaSettingString\", displayName = \"x\", omaUri = \"{uri}\", value = \"{value}\" }},\n]\n"
    )
}

/// Hostile run 24, finding 10: an OMA-URI with a percent-escaped letter,
/// a doubled `/`, a trailing `/` or a trailing blank is read as the device
/// reads it, and `oma-local-accounts` finds the node.
#[test]
fn oma_uris_are_normalized_before_matching() {
    let cases = [
        ("escaped", "./Device/Vendor/MSFT/Policy/Config/User%52ights/DebugPrograms", "*S-1-5-32-545"),
        ("doubled", "./Device/Vendor/MSFT/Policy/Config//UserRights/DebugPrograms", "*S-1-5-32-545"),
        ("laps-escaped", "./Device/Vendor/MSFT/LAPS/Policies/%41utomaticAccountManagementEnabled", "true"),
        ("laps-slash", "./Device/Vendor/MSFT/LAPS/Policies/AutomaticAccountManagementEnabled/", "true"),
        ("msa-blank", "./Device/Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection ", "1"),
    ];
    let text: String = cases.iter().map(|(k, u, v)| oma(k, u, v)).collect();
    let (code, out) = validate_edited(|dir| append(dir, "settings-catalog.toml", &text));
    for (k, _, _) in cases {
        assert_eq!(lines(&out, &format!("error[oma-local-accounts] device_configuration.{k}")).len(), 1, "{k}: {out}");
    }
    assert_ne!(code, Some(0), "{out}");
}

/// Hostile run 24, finding 6: a licensed group whose rule matches every
/// enabled account and only mentions `.memberOf [ID]` in a string literal
/// is evaluated as the rule it is: `service-account-licensed` (its
/// department clause cannot be evaluated against the accounts' declared
/// properties, so it could match them).
#[test]
fn a_rule_that_only_mentions_member_of_is_evaluated() {
    let lic = "\n[group.gov20-lic]\ndisplay_name = \"gov20 lic\"\nmail_nickname = \"gov20-lic\"\nmembership_rule = '(user.accountEnabled -eq true) -and (user.department -ne \".memberOf [37776fd2-c878-4f0e-aba6-7796b7ee989d]\")'\nlicenses = [{ sku = \"SPE_E3\" }]\n";
    let (code, out) = validate_edited(|dir| append(dir, "groups.toml", lic));
    assert_ne!(code, Some(0), "{out}");
    let found = lines(&out, "error[service-account-licensed] group.gov20-lic");
    assert!(!found.is_empty() && found.iter().all(|l| l.contains("has a membership rule over users, which could match a service account")), "evaluated, not taken for nesting: {out}");
}

/// Hostile run 24, finding 7: a licensed group whose `memberOf` rule names
/// a declared group with unmanaged membership, holding a service account
/// added in the portal, is `service-account-licensed` in the plan, naming
/// the account and the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_group_with_live_members_is_followed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |dir| append(dir, "groups.toml", "\n[group.gov20-unm]\ndisplay_name = \"gov20 unm\"\nmail_nickname = \"gov20-unm\"\n")).await;
    let w = work.path();
    let unm = ledger_id(w, "group.gov20-unm");
    add_member(&sb, &unm, &ledger_id(w, "user.msadmin")).await;
    add_member(&sb, &unm, &ledger_id(w, "user.megan")).await;
    append(
        &dir,
        "groups.toml",
        &format!("\n[group.gov20-lic]\ndisplay_name = \"gov20 lic\"\nmail_nickname = \"gov20-lic\"\nmembership_rule = \"user.memberOf -any (group.objectId -in ['{unm}'])\"\nlicenses = [{{ sku = \"SPE_E3\" }}]\n"),
    );
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    let found = lines(&out, "error[service-account-licensed] group.gov20-lic");
    assert_eq!(found.len(), 1, "{out}");
    assert!(found[0].contains("the members of group.gov20-unm (its memberOf rule) and service account user.msadmin is a live member"), "{out}");
    assert_ne!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Two packages: `gov20-first` grants `group.gov20-staff`; `gov20-second`
/// admits the members of `TARGET` as requestors.
const CHAIN: &str = r#"
[group.gov20-staff]
display_name = "gov20 staff"
mail_nickname = "gov20-staff"

[group.gov20-outer]
display_name = "gov20 outer"
mail_nickname = "gov20-outer"
members = ["group.gov20-staff"]

[group.gov20-dyn]
display_name = "gov20 dyn"
mail_nickname = "gov20-dyn"
membership_rule = "user.memberof -any (group.objectId -in ['37776fd2-c878-4f0e-aba6-7796b7ee989d'])"
membership_rule_processing_state = "On"

[access_catalog.gov20]
display_name = "gov20"
groups = ["gov20-staff"]

[access_package.gov20-first]
display_name = "gov20 first"
catalog = "gov20"
groups = ["gov20-staff"]

[access_package.gov20-first.policies.members]
display_name = "Members"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["user.megan"]
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.gov20-first.policies.members.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"] }]

[access_package.gov20-second]
display_name = "gov20 second"
catalog = "gov20"
groups = []

[access_package.gov20-second.policies.staff]
display_name = "Staff"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["TARGET"]
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.gov20-second.policies.staff.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"] }]
"#;

/// Hostile run 24, finding 8: `package-chain` follows the requestor
/// group's nested groups, and says a `memberOf` rule's chain cannot be
/// ruled out; named people are no chain.
#[test]
fn package_chains_through_nested_and_member_of_groups_are_warned() {
    let with = |target: &str| validate_edited(|dir| std::fs::write(dir.join("chain.toml"), CHAIN.replace("TARGET", target)).expect("written"));
    let (code, out) = with("group.gov20-outer");
    assert_eq!(code, Some(0), "a warning: {out}");
    assert!(
        out.contains("access_package.gov20-second.policies.staff: its requestors are the members of group.gov20-outer, which access_package.gov20-first (through group.gov20-staff, nested in it) grants"),
        "{out}"
    );
    let (code, out) = with("group.gov20-dyn");
    assert_eq!(code, Some(0), "a warning: {out}");
    assert!(out.contains("its requestors are the members of group.gov20-dyn, and group.gov20-dyn holds the members of groups its memberOf rule names by object id"), "{out}");
    let (_, out) = with("user.mstest");
    assert!(!out.contains("package-chain"), "{out}");
}
