//! Issue 12's remaining parts, each through the binary: a custom directory
//! role's PIM settings declared by its `role_definition` key (hostile run
//! 14, finding 26's first half); the Managed Desktop ring rule judged on
//! the ring's live group, whatever the ledger says; `approve` showing the
//! reasons the plan recorded with the tenant; and two limits of the live
//! judging: a person in an unmanaged Intune role group, and a service
//! account in an unmanaged CA-excluded group. (The Azure Pipelines
//! template's author flow, finding 20, is run in `tests/ci_templates.rs`.)

mod common;

use common::gov::*;
use common::kind::{id_of, kind_scratch};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A custom role, its PIM settings by its key, and an eligible assignment
/// of it (whose settings are then declared).
const CUSTOM: &str = r#"
[role_definition.pwreset]
display_name = "Password resetters"
allowed_resource_actions = ["microsoft.directory/users/password/update"]

[role_policy.pwreset]
role = "pwreset"
activation = { max_duration = "PT2H", require_mfa = true, require_justification = true, require_approval = true, approvers = ["adele"] }
eligible_expiry = "P180D"
active_expiry = "P15D"

[role_assignment.megan-pwreset]
principal = "megan"
role = "pwreset"
assignment = "eligible"
expires = 2027-06-30T00:00:00Z
justification = "Help desk password resets, change CHG-3001"
"#;

/// The PIM policy of role definition `role` in the sandbox, with its rules.
async fn policy_of(sb: &sandbox::SandboxHandle, role: &str) -> Value {
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    let pid = v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"].as_str().is_some_and(|r| r.eq_ignore_ascii_case(role))).and_then(|a| a["policyId"].as_str()).expect("the role has a policy").to_string();
    graph(sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules"), None).await
}

fn rule<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["rules"].as_array().expect("rules").iter().find(|r| r["id"] == json!(id)).expect("the rule")
}

/// Finding 26, first half: `role_policy.role` names a declared custom
/// role by its key. Created with the role in one apply (the policy Entra
/// gives the new role is found by its definition id and its rules set),
/// converged, updated, and an unknown key is a located error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_roles_pim_settings_are_declared_by_its_key() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&["role_policy"], "custom role PIM settings", "custom-roles.toml", CUSTOM);
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("role_policy.pwreset"), "{out}");
    assert!(!out.contains("privileged-role-pim-settings-undeclared] role_assignment.megan-pwreset"), "the custom role's settings are declared: {out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    let ledger = ledger_of(w);
    let role = id_of(&ledger, "role_definition.pwreset");
    let live = policy_of(&sb, &role).await;
    assert_eq!(id_of(&ledger, "role_policy.pwreset"), live["id"].as_str().expect("an id"), "the ledger holds the role's own policy");
    assert_eq!(rule(&live, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT2H"));
    assert_eq!(rule(&live, "Expiration_Admin_Eligibility")["maximumDuration"], json!("P180D"));
    assert_eq!(rule(&live, "Approval_EndUser_Assignment")["setting"]["isApprovalRequired"], json!(true));
    // Other roles keep Entra's defaults.
    let ga = policy_of(&sb, "62e90394-69f5-4237-9190-012177145e10").await;
    assert_eq!(rule(&ga, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT8H"));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Update: a shorter activation, matched by the role's key.
    edit_file(&dir, "custom-roles.toml", |t| t.replace("max_duration = \"PT2H\"", "max_duration = \"PT1H\""));
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("role_policy.pwreset"), "{out}");
    assert_eq!(rule(&policy_of(&sb, &role).await, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT1H"));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // An unknown key is a located error with the declared key suggested.
    edit_file(&dir, "custom-roles.toml", |t| t.replace("role = \"pwreset\"\nactivation", "role = \"pwrest\"\nactivation"));
    let (code, out) = validate(&sb, w);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("role_policy.pwreset: `pwrest` is not a built-in directory role's name, a declared role_definition key, nor a role definition id"), "{out}");
    assert!(out.contains("custom-roles.toml:7"), "located: {out}");
    assert!(out.contains("did you mean `pwreset`?"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A group made out of band (not declared); its id.
async fn create_group(sb: &sandbox::SandboxHandle, name: &str) -> String {
    let g = graph(sb, Method::POST, "/v1.0/groups", Some(json!({"displayName": name, "mailNickname": name, "mailEnabled": false, "securityEnabled": true}))).await;
    g["id"].as_str().expect("an id").to_string()
}

/// `ring-devices-only` judges the ring's live group (found by desired
/// state's natural key), so a ledger entry pointing the ring at another,
/// empty group cannot hide a person added to the real ring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_ledger_does_not_move_the_ring_rule_off_the_ring() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let ring = ledger_id(w, "group.mwd-test");
    add_member(&sb, &ring, &ledger_id(w, "user.adele")).await;
    let decoy = create_group(&sb, "decoy").await;
    let lock = w.join("tenantctl.lock");
    let text = std::fs::read_to_string(&lock).expect("the ledger");
    assert!(text.contains(&ring));
    std::fs::write(&lock, text.replace(&ring, &decoy)).expect("the ledger is rewritten");
    assert_eq!(ledger_id(w, "group.mwd-test"), decoy, "the ledger points the ring elsewhere");

    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[ring-devices-only] group.mwd-test") && out.contains("holds user user.adele live"), "{out}");
    assert!(out.contains(&format!("live group id:{ring} has the ring's natural key")) && out.contains(&format!("the ledger names id:{decoy}")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const NESTED: &str = "[device_configuration.nested]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Nested ring cfg\"\nassignments = { include = [\"loose\"] }\n[device_configuration.nested.settings]\npasswordMinimumLength = 12\n";

/// `approve` shows the reasons the plan recorded with the tenant: a
/// policy whose group nests a ring only live is sensitive for a reason
/// desired state alone does not give, and the approver sees it (marked),
/// with the plan's findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_shows_the_live_reasons_the_plan_recorded() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().expect("a directory");
    let k = keys.path();
    let (author, alice, bob) = (keygen(&sb, k, "author"), keygen(&sb, k, "alice"), keygen(&sb, k, "bob"));
    let (work, dir) = converged(&sb, |d| {
        edit_file(d, "tenant.toml", |t| {
            t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice)
                .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
                .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author)
        });
        append(d, "groups.toml", "[group.loose]\ndisplay_name = \"Loose\"\nmail_nickname = \"loose\"\n");
        append(d, "policies.toml", NESTED);
    })
    .await;
    let w = work.path();
    add_member(&sb, &ledger_id(w, "group.loose"), &ledger_id(w, "group.mwd-first")).await;
    edit_file(&dir, "policies.toml", |t| t.replace("passwordMinimumLength = 12", "passwordMinimumLength = 4"));
    let plan_file = w.join("plan.json");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--out", d(&plan_file), "--author-key", d(&k.join("author.key"))]);
    assert_eq!(code, Some(0), "{out}");
    let live_reason = "Managed Desktop: device_configuration.nested is assigned to group.loose, which reaches ring devices";
    assert!(out.contains(live_reason), "the plan found it with the tenant: {out}");

    let (code, out) = run(&sb, w, &["approve", d(&plan_file), "--key", d(&k.join("alice.key")), "--dir", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("sensitive: update device_configuration.nested ({live_reason}")), "the approver sees the live reason: {out}");
    assert!(out.contains("[judged at plan time with the tenant and the governance in force]"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const INTUNE_OPS_UNMANAGED: &str = "\n[group.intune-ops]\ndisplay_name = \"Intune operators\"\nmail_nickname = \"intune-ops\"\ndescription = \"Membership managed in the portal\"\n";


/// A person added live to the member group of an Intune role assignment,
/// whose membership desired state does not manage, holds that Intune role
/// outside desired state: `unmanaged-intune-admin`, naming the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_in_an_unmanaged_intune_role_group_is_reported() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| common::gov7b::intune_ops(d, INTUNE_OPS_UNMANAGED))
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "nobody in the group yet: {out}");
    add_member(&sb, &ledger_id(w, "group.intune-ops"), &ledger_id(w, "user.megan")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("error[unmanaged-intune-admin] group.intune-ops: user user.megan holds Intune role") && out.contains("(intune_role_assignment.ops) through group.intune-ops, a live member (its membership is not managed in desired state)"),
        "{out}"
    );
    sb.shutdown().await.expect("the sandbox stops");
}

/// A service account added live to a group conditional access excludes
/// (not the service accounts' own group), whose membership is not
/// managed, is an error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_in_an_unmanaged_ca_exclusion_is_an_error() {
    let sb = sandbox().await;
    let exempt = "\n[group.mfa-exempt]\ndisplay_name = \"MFA exempt\"\nmail_nickname = \"mfa-exempt\"\n";
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", exempt);
        edit_file(d, "conditional-access.toml", |t| t.replacen("exclude_groups = [\"service-accounts\"]", "exclude_groups = [\"service-accounts\", \"mfa-exempt\"]", 1));
    })
    .await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "nobody exempt yet: {out}");
    add_member(&sb, &ledger_id(w, "group.mfa-exempt"), &ledger_id(w, "user.msadmin")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[ca-exempt-member] group.mfa-exempt: service account user.msadmin is excluded from conditional access policy conditional_access.require-mfa through group.mfa-exempt"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
