//! The `intune_role_assignment` kind (beta `deviceManagement/roleAssignments`):
//! a custom role assigned to an admin group over a ring's devices, created
//! with its role bound, a converged tenant plans empty (the role read by
//! `$expand`), a member change is an update, a scope change (to all
//! devices) is an update, another role replaces it, export writes it and
//! re-imports empty, an owned assignment no longer declared is deleted.
//! It is sensitive; a service account in a member group must declare the
//! role in allowed_roles; an unknown role or no scope is a located error.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const ADDRESS: &str = "intune_role_assignment.ring-admins";

const ROLE: &str = r#"
[intune_role_definition.policy-reader]
display_name = "Managed Desktop policy reader"
allowed_actions = ["Microsoft.Intune_DeviceConfigurations_Read"]
"#;

fn toml(role: &str, members: &str, scope: &str) -> String {
    format!(
        r#"{ROLE}
[intune_role_assignment.ring-admins]
display_name = "Ring admins"
role = "{role}"
members = [{members}]
{scope}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intune_role_assignment_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch_kind("intune_role_assignment", "rbac.toml", &toml("policy-reader", "\"intune-admins\"", "scope_members = [\"mwd-test\"]"));
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    let change = p.changes.iter().find(|c| c.address.to_string() == ADDRESS).unwrap();
    assert!(engine::governance::classify(change, &providers::kinds::desired_model(&load(&dst)), p.changes.len()).is_some(), "granting Intune admin access is sensitive");
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, ADDRESS);
    let path = format!("/deviceManagement/roleAssignments/{id}");
    let live = c.beta().get_json(&format!("{path}?$expand=roleDefinition")).await.unwrap();
    assert_eq!(live["roleDefinition"]["displayName"], json!("Managed Desktop policy reader"));
    assert_eq!(live["members"], json!([id_of(&ledger, "group.intune-admins")]));
    assert_eq!((live["resourceScopes"].clone(), live["scopeType"].clone()), (json!([id_of(&ledger, "group.mwd-test")]), json!("resourceScope")));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Members change.
    write(&dst, "rbac.toml", &toml("policy-reader", "\"intune-admins\", \"mwd-first\"", "scope_members = [\"mwd-test\"]"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS), vec![(Action::Update, vec!["members".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["members"].as_array().unwrap().len(), 2);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Scope change: every device.
    write(&dst, "rbac.toml", &toml("policy-reader", "\"intune-admins\", \"mwd-first\"", "all_devices = true"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS), vec![(Action::Update, vec!["resourceScopes".to_string(), "scopeType".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!((live["resourceScopes"].clone(), live["scopeType"].clone()), (json!([]), json!("allDevices")));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Another role (a built-in one, by name) replaces the assignment.
    write(&dst, "rbac.toml", &toml("Help Desk Operator", "\"intune-admins\", \"mwd-first\"", "all_devices = true"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Replace]);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, ADDRESS);
    let path = format!("/deviceManagement/roleAssignments/{id}");
    assert_eq!(c.beta().get_json(&format!("{path}?$expand=roleDefinition")).await.unwrap()["roleDefinition"]["displayName"], json!("Help Desk Operator"));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export and re-import.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("intune-role-assignments.toml")).unwrap();
    assert!(exported.contains("[intune_role_assignment.ring-admins]") && exported.contains("role = \"Help Desk Operator\""), "{exported}");
    assert_only_adoptions(&again);

    // Delete.
    write(&dst, "rbac.toml", ROLE);
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn a_service_account_in_a_member_group_must_declare_the_role() {
    let groups = "\n[group.svc-helpdesk]\ndisplay_name = \"Service help desk\"\nmail_nickname = \"svc-helpdesk\"\nmembers = [\"msadmin\"]\n";
    let text = format!("{}{groups}", toml("Help Desk Operator", "\"svc-helpdesk\"", "all_devices = true"));
    let (_dir, dst) = scratch_kind("intune_role_assignment", "rbac.toml", &text);
    let desired = providers::kinds::desired_model(&load(&dst));
    let findings = engine::governance::lint_desired(&desired, opts().now);
    let f = findings.iter().find(|f| f.lint == "service-account-role" && f.address == ADDRESS).unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(f.message.contains("user.msadmin") && f.message.contains("Help Desk Operator"), "{f}");
    // Declared in allowed_roles, it is allowed.
    let accounts = std::fs::read_to_string(dst.join("accounts.toml")).unwrap();
    let at = accounts.find("[user.msadmin]").unwrap();
    let end = accounts[at..].find("\n\n").map_or(accounts.len(), |e| at + e);
    let edited = format!("{}\nallowed_roles = [\"Help Desk Operator\"]{}", &accounts[..end], &accounts[end..]);
    std::fs::write(dst.join("accounts.toml"), edited).unwrap();
    let desired = providers::kinds::desired_model(&load(&dst));
    let findings = engine::governance::lint_desired(&desired, opts().now);
    assert!(!findings.iter().any(|f| f.lint == "service-account-role" && f.address == ADDRESS), "{findings:#?}");
}

#[test]
fn an_unknown_role_or_no_scope_is_a_located_error() {
    let (_dir, dst) = scratch_kind("intune_role_assignment", "rbac.toml", &toml("Global Wizard", "\"intune-admins\"", ""));
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "unknown-role").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(8), "{d}");
    assert!(d.errors().any(|e| e.code == "invalid-scope"), "{d}");
}
