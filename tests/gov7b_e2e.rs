//! Hostile run 14 of issue 12, the findings about what is declared, each
//! through the binary: `allowed_roles` entries say their namespace and
//! read-only is judged by what a role does (6); Managed Desktop reach is
//! judged on what a membership rule means (10); the plan names the person
//! who wrote the change, whose key may not approve it (20); an exception
//! stays with the principal and role it was approved for (23); Intune role
//! assignments are time-boxed, or standing privileged access (24); a
//! service account never approves PIM activations (26).

mod common;

use common::gov::*;
use common::*;
use serde_json::Value;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// `tenantctl validate` of the example with `edit` applied to its
/// directory: exit code and output.
fn validate_edited(sb: &sandbox::SandboxHandle, edit: impl FnOnce(&std::path::Path)) -> (Option<i32>, String) {
    let work = scratch_with(|t| t);
    edit(&work.path().join("desired-state"));
    validate(sb, work.path())
}

/// The SOC read-only account's `allowed_roles` line replaced by `roles`.
fn soc_roles(dir: &std::path::Path, roles: &str) {
    edit_file(dir, "accounts.toml", |t| t.replace("allowed_roles = [\"Security Reader\", \"Global Reader\"]", &format!("allowed_roles = {roles}")));
}

/// `[user.msadmin]` given `allowed_roles = roles`.
fn msadmin_roles(dir: &std::path::Path, roles: &str) {
    edit_file(dir, "accounts.toml", |t| {
        let at = t.find("[user.msadmin]").expect("the example declares msadmin");
        let end = t[at..].find("\n\n").map_or(t.len(), |e| at + e);
        format!("{}\nallowed_roles = {roles}{}", &t[..at + (end - at)], &t[end..])
    });
}

/// A time `days` from now, as TOML's offset date-time.
fn in_days(days: i64) -> String {
    (common::now() + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Finding 6: entries say which namespace they mean; a bare name both
/// namespaces know is a located error; a read-only account may allow an
/// Intune role that reads, never one that writes; a custom Intune role may
/// not take a declared directory role's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_roles_entries_say_their_namespace() {
    let sb = sandbox().await;
    // Namespaced entries, an Intune read-only role for the SOC account.
    let (code, out) = validate_edited(&sb, |dir| soc_roles(dir, "[\"directory:Global Reader\", \"intune:Read Only Operator\"]"));
    assert_eq!(code, Some(0), "{out}");

    // A bare name both namespaces know.
    let (code, out) = validate_edited(&sb, |dir| {
        append(dir, "roles.toml", "[role_definition.hdo]\ndisplay_name = \"Help Desk Operator\"\nallowed_resource_actions = [\"microsoft.directory/users/basic/update\"]\n");
        msadmin_roles(dir, "[\"Help Desk Operator\"]");
    });
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[ambiguous-role]") && out.contains("write `directory:Help Desk Operator` or `intune:Help Desk Operator`"), "{out}");
    assert!(out.contains("accounts.toml:"), "located: {out}");

    // A writing Intune role on the read-only account.
    let (code, out) = validate_edited(&sb, |dir| soc_roles(dir, "[\"intune:Policy and Profile manager\"]"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[read-only-role]") && out.contains("`intune:Policy and Profile manager` is not one"), "{out}");

    // A custom Intune role named like a declared custom directory role.
    let (code, out) = validate_edited(&sb, |dir| {
        append(dir, "roles.toml", "[role_definition.pw]\ndisplay_name = \"Password resetters\"\nallowed_resource_actions = [\"microsoft.directory/users/password/update\"]\n");
        append(dir, "roles.toml", "[intune_role_definition.pw]\ndisplay_name = \"Password resetters\"\nallowed_actions = [\"Microsoft.Intune_ManagedDevices_Wipe\"]\n");
    });
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[built-in-role-name]") && out.contains("is the name of the directory role role_definition.pw"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const SVC_GROUP: &str = "\n[group.svc-intune]\ndisplay_name = \"Service Intune operators\"\nmail_nickname = \"svc-intune\"\nmembers = [\"msadmin\", \"mwaas-soc-ro\"]\n";

/// An Intune role assignment of `role` to `group.svc-intune`, time-boxed
/// (so finding 24's lint stays out of the way).
fn intune_assignment(role: &str) -> String {
    format!("\n[intune_role_assignment.svc]\ndisplay_name = \"Service accounts\"\nrole = \"{role}\"\nmembers = [\"svc-intune\"]\nall_devices = true\nexpires = {}\n", in_days(30))
}

/// Finding 6 in the lints: a `directory:` entry never allows an Intune role
/// of the same name; the read-only account holds Intune's read-only role
/// when its `allowed_roles` says `intune:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intune_role_is_allowed_only_by_an_intune_entry() {
    let sb = sandbox().await;
    let setup = |msadmin: &'static str, soc: &'static str| {
        move |dir: &std::path::Path| {
            append(dir, "groups.toml", SVC_GROUP);
            append(dir, "roles.toml", &intune_assignment("Read Only Operator"));
            msadmin_roles(dir, msadmin);
            soc_roles(dir, soc);
        }
    };
    let (code, out) = validate_edited(&sb, setup("[\"directory:Global Reader\"]", "[\"directory:Global Reader\", \"intune:Read Only Operator\"]"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.msadmin may hold only the roles it declares in allowed_roles (directory:Global Reader); Intune role Read Only Operator"), "{out}");
    assert!(!out.contains("user.mwaas-soc-ro"), "the SOC account allows the Intune read-only role: {out}");

    let (code, out) = validate_edited(&sb, setup("[\"intune:Read Only Operator\"]", "[\"directory:Global Reader\", \"intune:Read Only Operator\"]"));
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A second Autopilot profile on a group whose rule is `rule`.
fn second_profile(dir: &std::path::Path, rule: &str) {
    append(dir, "groups.toml", &format!("[group.ap2]\ndisplay_name = \"Autopilot 2\"\nmail_nickname = \"ap2\"\nmembership_rule = '{rule}'\nmembership_rule_processing_state = \"On\"\n"));
    append(dir, "autopilot.toml", "[autopilot_profile.second]\ndisplay_name = \"Second\"\njoin_type = \"entra\"\ndevice_type = \"windowsPc\"\nassignments = { include = [\"ap2\"] }\n");
}

/// Finding 10: every rule variant of the hostile run that holds every
/// Autopilot device makes a second profile an error; rules that may hold
/// some, or provably none, do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_autopilot_profile_on_any_rule_holding_every_autopilot_device_is_refused() {
    let sb = sandbox().await;
    for rule in [
        r#"device.devicePhysicalIds -any (_ -contains "[ZTDId]")"#,
        r#"(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]"))"#,
        r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]")) or (device.deviceOSType -eq "x")"#,
        r#"(device.devicePhysicalIds -any (_ -contains "[ZTDId]")) and (device.accountEnabled -eq true)"#,
        r#"(device.deviceOSType -eq "Windows")"#,
    ] {
        let (code, out) = validate_edited(&sb, |dir| second_profile(dir, rule));
        assert_eq!(code, Some(1), "{rule}: {out}");
        assert!(out.contains("error[one-autopilot-profile]") && out.contains("autopilot_profile.second: at most one Autopilot profile targets the all-devices group mwd-all"), "{rule}: {out}");
    }
    for rule in [r#"(device.devicePhysicalIds -any (_ -match "ZTDId"))"#, r#"(device.deviceOSType -eq "iOS")"#] {
        let (_, out) = validate_edited(&sb, |dir| second_profile(dir, rule));
        assert!(!out.contains("one-autopilot-profile"), "{rule}: {out}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

const REACH_POLICIES: &str = r#"
[group.ap-match]
display_name = "Autopilot by match"
mail_nickname = "ap-match"
membership_rule = '(device.devicePhysicalIds -any (_ -match "ZTDId"))'
membership_rule_processing_state = "On"

[group.ios]
display_name = "iOS devices"
mail_nickname = "ios"
membership_rule = '(device.deviceOSType -eq "iOS")'
membership_rule_processing_state = "On"

[group.nests-all-windows]
display_name = "Nests all Windows"
mail_nickname = "nests-all-windows"
members = ["all-windows"]

[group.all-windows]
display_name = "All Windows"
mail_nickname = "all-windows"
membership_rule = '(device.deviceOSType -eq "Windows")'
membership_rule_processing_state = "On"

[device_configuration.on-match]
odata_type = "windows10GeneralConfiguration"
display_name = "On match"
assignments = { include = ["ap-match"] }
[device_configuration.on-match.settings]
passwordMinimumLength = 12

[device_configuration.on-ios]
odata_type = "windows10GeneralConfiguration"
display_name = "On iOS"
assignments = { include = ["ios"] }
[device_configuration.on-ios.settings]
passwordMinimumLength = 12

[device_configuration.on-nested]
odata_type = "windows10GeneralConfiguration"
display_name = "On nested"
assignments = { include = ["nests-all-windows"] }
[device_configuration.on-nested.settings]
passwordMinimumLength = 12

[device_configuration.on-users]
odata_type = "windows10GeneralConfiguration"
display_name = "On all users"
assignments = { all_users = true, exclude = ["service-accounts"] }
[device_configuration.on-users.settings]
passwordMinimumLength = 12
"#;

/// Finding 10: policies on a group whose rule may hold ring devices
/// (directly or nested), or on all users, are Managed Desktop objects; a
/// group provably disjoint from Autopilot devices is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_reaching_ring_devices_by_rule_or_all_users_are_managed_desktop_objects() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    std::fs::write(dir.join("reach.toml"), REACH_POLICIES).expect("reach.toml is written");
    let o = cli(&sb, work.path(), &["plan", d(&dir), "--format", "json"]);
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stderr)));
    let why = |a: &str| plan["sensitive"][a].as_str().unwrap_or_default().to_string();
    assert!(why("device_configuration.on-match").contains("Managed Desktop: device_configuration.on-match is assigned to group.ap-match, whose membership rule"), "{}", why("device_configuration.on-match"));
    assert!(why("device_configuration.on-nested").contains("through group.all-windows"), "{}", why("device_configuration.on-nested"));
    assert!(why("device_configuration.on-users").contains("all users, who include the ring devices' primary users"), "{}", why("device_configuration.on-users"));
    assert!(!why("device_configuration.on-ios").contains("Managed Desktop"), "{}", why("device_configuration.on-ios"));
    sb.shutdown().await.expect("the sandbox stops");
}

fn keygen(sb: &sandbox::SandboxHandle, dir: &std::path::Path, name: &str) -> String {
    let out = cli(sb, dir, &["keygen", "--out", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// Finding 20: CI's key signs the plan, `--author-name` names the person
/// who wrote the change; that person must be listed, their key cannot
/// approve it, and the journal names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_who_wrote_the_change_cannot_approve_it() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().expect("a temporary directory");
    let k = keys.path();
    let (ci, alice, bob, dan) = (keygen(&sb, k, "ci"), keygen(&sb, k, "alice"), keygen(&sb, k, "bob"), keygen(&sb, k, "dan"));
    let work = scratch_with(|t| {
        t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice)
            .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
            .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &ci)
            + &format!("\n[governance.approvers.dan]\nname = \"Dan\"\npublic_key = \"{dan}\"\n")
    });
    let w = work.path();
    let dir = w.join("desired-state");
    let d = d(&dir);
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();

    // Someone not listed cannot be named as the writer.
    let (code, o) = run(&sb, w, &["plan", d, "--out", "x.json", "--author-key", &key("ci"), "--author-name", "mallory"]);
    assert_eq!(code, Some(1), "{o}");
    assert!(o.contains("the change's author `mallory` is not listed in [governance.authors] or [governance.approvers] in force"), "{o}");

    let (code, o) = run(&sb, w, &["plan", d, "--out", "p.json", "--author-key", &key("ci"), "--author-name", "Alice"]);
    assert_eq!(code, Some(0), "{o}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(w.join("p.json")).expect("the plan")).expect("JSON");
    assert_eq!(saved["written_by"], "alice", "the listed key, as listed");
    let (code, o) = run(&sb, w, &["approve", "p.json", "--key", &key("alice"), "--dir", d]);
    assert_eq!(code, Some(1), "{o}");
    assert!(o.contains("this key is alice's, who wrote this change"), "{o}");
    for who in ["bob", "dan"] {
        let (code, o) = run(&sb, w, &["approve", "p.json", "--key", &key(who), "--dir", d]);
        assert_eq!(code, Some(0), "{o}");
        assert!(o.contains("Written by: alice"), "{o}");
    }
    // Naming someone else after the approvals breaks the signatures.
    let mut moved = saved.clone();
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(w.join("p.json")).expect("the plan")).expect("JSON");
    moved["approvals"] = signed["approvals"].clone();
    moved["written_by"] = Value::from("dan");
    std::fs::write(w.join("moved.json"), moved.to_string()).expect("written");
    let (code, o) = run(&sb, w, &["apply", "moved.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "{o}");

    let (code, o) = run(&sb, w, &["apply", "p.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).expect("the journal");
    assert!(journal.contains("\"author\":\"alice (signed by carol (Carol Cloud (tenant engineer)))\""), "{journal}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 23: the break-glass exception moved to another principal under
/// the same key re-raises the lint; restated for the new holder, the
/// change names both holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_stays_with_the_principal_it_was_approved_for() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    edit_file(&dir, "roles.toml", |t| t.replace("principal = \"breakglass-1\"\nrole = \"Global Administrator\"", "principal = \"megan\"\nrole = \"Global Administrator\""));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[standing-privileged-access] role_assignment.breakglass-1-ga: the exception `standing-privileged-access:role_assignment.breakglass-1-ga` was approved for user.breakglass-1 as Global Administrator; role_assignment.breakglass-1-ga now grants user.megan as Global Administrator:"),
        "{out}"
    );
    // Restated for megan: a governance change, and the reason names both.
    edit_file(&dir, "tenant.toml", |t| t.replace("emergency access account: permanent Global Administrator", "megan covers break-glass this week: permanent Global Administrator"));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("grants user.megan as Global Administrator under an exception made for user.breakglass-1 as Global Administrator"), "{out}");
    assert!(out.contains("declared.role_assignment.breakglass-1-ga.excepted"), "the binding is a governance change: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 24: a permanent Intune role that writes over all devices is
/// standing privileged access; time-boxed it is not, and past its
/// `expires` the plan ends it, applied without approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intune_role_assignments_are_time_boxed_or_standing_access() {
    let sb = sandbox().await;
    let permanent = "\n[intune_role_assignment.ops]\ndisplay_name = \"Ops over all devices\"\nrole = \"Policy and Profile manager\"\nmembers = [\"intune-admins\"]\nall_devices = true\n";
    let (code, out) = validate_edited(&sb, |dir| append(dir, "roles.toml", permanent));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[standing-privileged-access] intune_role_assignment.ops: Intune role Policy and Profile manager (a built-in role that writes) is held permanently over all devices"), "{out}");
    // Read only, or excepted with a reason: no error.
    let (code, out) = validate_edited(&sb, |dir| append(dir, "roles.toml", &permanent.replace("Policy and Profile manager", "Read Only Operator")));
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = validate_edited(&sb, |dir| {
        append(dir, "roles.toml", permanent);
        edit_file(dir, "tenant.toml", |t| t.replace("[governance.exceptions]\n", "[governance.exceptions]\n\"standing-privileged-access:intune_role_assignment.ops\" = \"the Intune operations team, reviewed quarterly\"\n"));
    });
    assert_eq!(code, Some(0), "{out}");

    // Time-boxed: applied, then ended unattended once past.
    let until = in_days(30);
    let boxed = format!("{permanent}expires = {until}\n");
    let (work, dir) = converged(&sb, |dir| append(dir, "roles.toml", &boxed)).await;
    let id = ledger_id(work.path(), "intune_role_assignment.ops");
    // Time passing, as the plan's clock sees it: the end moved into the past.
    let past = (common::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    edit_file(&dir, "roles.toml", |t| t.replace(&format!("expires = {until}"), &format!("expires = {past}")));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("intune_role_assignment.ops") && out.contains(&format!("access expired at {}", &past[..10])), "{out}");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "ending access needs no approval: {out}");
    let c = client(&sb);
    assert!(c.beta().get_json(&format!("/deviceManagement/roleAssignments/{id}")).await.is_err_and(|e| e.is_not_found()), "the assignment is gone");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 26: a service account approving a role's PIM activations,
/// directly or through a group, is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_never_approves_pim_activations() {
    let sb = sandbox().await;
    let (code, out) = validate_edited(&sb, |dir| edit_file(dir, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"msadmin\"]")));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[pim-approver-service-account] role_policy.intune-administrator: service account user.msadmin approves activations of Intune Administrator directly"), "{out}");
    let (code, out) = validate_edited(&sb, |dir| {
        append(dir, "groups.toml", "\n[group.pim-approvers]\ndisplay_name = \"PIM approvers\"\nmail_nickname = \"pim-approvers\"\nmembers = [\"adele\", \"mwaas-wdgsoc\"]\n");
        edit_file(dir, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
    });
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[pim-approver-service-account]") && out.contains("user.mwaas-wdgsoc"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 13, the rest: the trust root's protected ids are inside what the
/// journal records; a hand edit of them is refused like an edited
/// `[governance]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_the_trust_roots_protected_ids_is_refused() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "[group.plain]\ndisplay_name = \"Plain\"\nmail_nickname = \"plain\"\n")).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ring = ledger_id(w, "group.mwd-test");
    let path = w.join("tenantctl.trust.json");
    let trust = std::fs::read_to_string(&path).expect("a trust root");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).expect("the journal");
    assert!(journal.contains("\"protected_ids_fingerprint\""), "{journal}");
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "untouched, the trust root reads: {out}");
    let moved = trust.replace(&format!("\"{ring}\": \"group.mwd-test\""), &format!("\"{ring}\": \"group.plain\""));
    assert_ne!(moved, trust, "the ring's id is recorded: {trust}");
    std::fs::write(&path, moved).expect("the trust root is edited");
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("are not the ones the journal last recorded"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
