//! The `role_policy` kind (PIM role settings): the example's privileged
//! role gets its activation rules, the rules PATCHed through the policy, each with its type and
//! target; a converged tenant plans empty; a rule changed in the portal is
//! drift set back; a role's policy is never created or deleted; export
//! writes the policies that differ from Entra's defaults and re-imports
//! empty; a privileged role activated without MFA or approval is a lint
//! error unless a reasoned exception allows it.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const FILE: &str = "role-policies.toml";
const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

async fn policy_of(c: &providers::graph::GraphClient, role: &str) -> serde_json::Value {
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let assignments = c.v1().list_all(&format!("/policies/roleManagementPolicyAssignments?{filter}")).await.unwrap();
    let pid = assignments.iter().find(|a| a["roleDefinitionId"] == json!(role)).map(|a| a["policyId"].as_str().unwrap().to_string()).unwrap();
    c.v1().get_json(&format!("/policies/roleManagementPolicies/{pid}?$expand=rules")).await.unwrap()
}

fn rule<'a>(p: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    p["rules"].as_array().unwrap().iter().find(|r| r["id"] == json!(id)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_settings_are_updated_rule_by_rule_compared_and_exported() {
    let sb = sandbox().await;
    let c = client(&sb);
    let scratch = scratch_without_approvals();
    let dst = scratch.path().join("desired-state");
    let load = || schema::load(&dst).expect("valid");
    let mut ledger = Ledger::default();

    // Graph refuses listing the policies without the scope filter.
    assert!(c.v1().list_all("/policies/roleManagementPolicies").await.is_err());

    let p = plan(&c, &load(), &ledger).await;
    let ch = p.changes.iter().find(|c| c.address.to_string() == "role_policy.intune-administrator").expect("planned");
    assert_eq!(ch.action, Action::Update, "a role's policy exists: updated, never created");
    assert!(ch.waits_on.iter().any(|a| a.to_string() == "user.adele"), "{ch:#?}");
    apply(&c, &p, &mut ledger).await;
    let users = c.v1().list_all("/users?$select=id,mailNickname").await.unwrap();
    let adele = users.iter().find(|u| u["mailNickname"] == json!("adele.vance")).map(|u| u["id"].as_str().unwrap().to_string()).unwrap();
    let live = policy_of(&c, INTUNE_ADMIN).await;
    assert_eq!(rule(&live, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT4H"));
    let mut enabled: Vec<String> = rule(&live, "Enablement_EndUser_Assignment")["enabledRules"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    enabled.sort();
    assert_eq!(enabled, ["Justification", "MultiFactorAuthentication"]);
    let approval = &rule(&live, "Approval_EndUser_Assignment")["setting"];
    assert_eq!(approval["isApprovalRequired"], json!(true));
    assert_eq!(approval["approvalStages"][0]["primaryApprovers"], json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": adele}]));
    assert_eq!(rule(&live, "Expiration_Admin_Assignment")["maximumDuration"], json!("P15D"));
    // Other roles keep Entra's defaults.
    let ga = policy_of(&c, "62e90394-69f5-4237-9190-012177145e10").await;
    assert_eq!(rule(&ga, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT8H"));
    assert!(plan(&c, &load(), &ledger).await.changes.is_empty(), "converged");

    // Approval switched off in the portal: drift, set back by one update.
    let pid = live["id"].as_str().unwrap().to_string();
    c.v1()
        .patch_json(
            &format!("/policies/roleManagementPolicies/{pid}"),
            json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule", "id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": false, "approvalStages": []}}]}),
        )
        .await
        .unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert!(p.changes[0].fields.iter().any(|f| f.field.starts_with("activation.isApprovalRequired")), "{:#?}", p.changes[0].fields);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(rule(&policy_of(&c, INTUNE_ADMIN).await, "Approval_EndUser_Assignment")["setting"]["isApprovalRequired"], json!(true));

    // Update: a shorter activation.
    let file = std::fs::read_to_string(dst.join(FILE)).unwrap();
    std::fs::write(dst.join(FILE), file.replacen("max_duration = \"PT4H\"", "max_duration = \"PT2H\"", 1)).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(rule(&policy_of(&c, INTUNE_ADMIN).await, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT2H"));
    assert!(plan(&c, &load(), &ledger).await.changes.is_empty());

    // The sandbox refuses a rule update Graph refuses: the wrong type.
    let wrong = c.v1().patch_json(&format!("/policies/roleManagementPolicies/{pid}"), json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule", "id": "Expiration_EndUser_Assignment", "enabledRules": []}]})).await;
    assert!(wrong.is_err());

    // Export writes only the policies that differ from Entra's defaults; the export plans empty.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported = schema::load(&out).expect("the export loads");
    let roles: Vec<&str> = exported.role_policy.values().map(|d| d.value.role.as_str()).collect();
    assert_eq!(roles, ["Intune Administrator"]);
    let e = &exported.role_policy.values().next().unwrap().value;
    assert_eq!(e.activation.as_ref().map(|a| a.approvers.clone()), Some(vec!["user.adele-vance".to_string()]));
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    assert_only_adoptions(&plan(&c, &exported, &exported_ledger).await);

    // Never deleted: undeclared, with pruning on for the kind, it is an orphan left alone.
    std::fs::remove_file(dst.join(FILE)).unwrap();
    let t = std::fs::read_to_string(dst.join("tenant.toml")).unwrap();
    std::fs::write(dst.join("tenant.toml"), t.replacen("kinds = [\"device_configuration\"", "kinds = [\"role_policy\", \"device_configuration\"", 1)).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert!(p.changes.iter().all(|c| c.address.kind != schema::Kind::RolePolicy), "{:#?}", p.changes);
    let orphan = p.orphans.iter().find(|o| o.address.to_string() == "role_policy.intune-administrator").expect("an orphan");
    assert!(orphan.reason.contains("cannot be deleted"), "{}", orphan.reason);
    sb.shutdown().await.unwrap();
}

fn lints_of(policy: &str) -> Vec<engine::governance::Finding> {
    let files: Vec<(String, String)> = std::fs::read_dir(example_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !policy.is_empty() || !p.ends_with(FILE))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = if name == FILE { policy.to_string() } else { std::fs::read_to_string(&p).unwrap() };
            (name, text)
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let state = schema::load_str(&refs).expect("loads");
    engine::governance::lint_desired(&providers::kinds::desired_model(&state), opts().now)
}

#[test]
fn a_privileged_role_activated_without_mfa_or_approval_is_an_error_unless_excepted() {
    let weak = "[role_policy.ia]\nrole = \"Intune Administrator\"\nactivation = { max_duration = \"PT4H\", require_justification = true }\nactive_expiry = \"P15D\"\n";
    let l = lints_of(weak);
    let mine: Vec<&str> = l.iter().filter(|f| f.address == "role_policy.ia").map(|f| f.lint.as_str()).collect();
    assert_eq!(mine, ["privileged-activation-without-approval", "privileged-activation-without-mfa"], "{l:#?}");
    assert!(l.iter().all(|f| f.severity == engine::governance::Severity::Error || f.address != "role_policy.ia"));
    // Without any role_policy, the eligible Intune Administrator assignment is flagged.
    let l = lints_of("");
    assert!(l.iter().any(|f| f.lint == "privileged-role-pim-settings-undeclared" && f.address == "role_assignment.intune-admins-eligible"), "{l:#?}");
    // A non-privileged role needs neither.
    let l = lints_of("[role_policy.gr]\nrole = \"Global Reader\"\nactivation = { max_duration = \"PT4H\" }\n");
    assert!(!l.iter().any(|f| f.address == "role_policy.gr"), "{l:#?}");
}

#[test]
fn bad_role_policies_are_refused_where_they_are_written() {
    let text = "[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n\n[role_policy.x]\nrole = \"Global Admin\"\nactivation = { max_duration = \"PT48H\", require_approval = true }\neligible_expiry = \"1 year\"\n\n[role_policy.y]\nrole = \"Intune Administrator\"\nactivation = { max_duration = \"PT4H\", require_approval = true, approvers = [\"bob\"] }\n\n[role_policy.z]\nrole = \"Intune Administrator\"\n";
    let err = match schema::load_str(&[("r.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected errors, got {other:?}"),
    };
    assert!(err.contains("r.toml:7") && err.contains("`Global Admin` is not a built-in directory role") && err.contains("did you mean `Global Administrator`"), "{err}");
    assert!(err.contains("30 minutes to 24 hours"), "{err}");
    assert!(err.contains("no approvers are named"), "{err}");
    assert!(err.contains("`1 year` is not an ISO 8601 duration"), "{err}");
    assert!(err.contains("`bob`"), "{err}");
    assert!(err.contains("already has its policy declared as role_policy.y"), "{err}");
}
