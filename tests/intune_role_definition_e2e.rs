//! The `intune_role_definition` kind (beta `deviceManagement/roleDefinitions`):
//! a custom role created with its allowed operations, a converged tenant
//! plans empty (Intune's built-in roles are neither managed nor reported),
//! an added operation is an update, export writes the custom role only and
//! re-imports empty, an owned role no longer declared is deleted; a
//! built-in role's name or a malformed operation is a located error.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const ROLE: &str = "intune_role_definition.policy-reader";

fn toml(actions: &[&str]) -> String {
    let list: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"
[intune_role_definition.policy-reader]
display_name = "Managed Desktop policy reader"
description = "Reads device configuration and compliance"
allowed_actions = [{}]
"#,
        list.join(", ")
    )
}

const READ: &str = "Microsoft.Intune_DeviceConfigurations_Read";
const COMPLIANCE: &str = "Microsoft.Intune_DeviceCompliancePolices_Read";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_intune_role_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch_kind("intune_role_definition", "roles-intune.toml", &toml(&[READ]));
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ROLE).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    // Built-in roles are not reported as drift.
    assert!(p.changes.iter().all(|c| c.address.kind != schema::Kind::IntuneRoleDefinition || c.address.to_string() == ROLE), "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, ROLE);
    let path = format!("/deviceManagement/roleDefinitions/{id}");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!(live["rolePermissions"][0]["resourceActions"][0]["allowedResourceActions"], json!([READ]));
    assert_eq!(live["isBuiltIn"], json!(false));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update: one more operation.
    write(&dst, "roles-intune.toml", &toml(&[READ, COMPLIANCE]));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ROLE), vec![(Action::Update, vec!["rolePermissions".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let mut allowed: Vec<String> = serde_json::from_value(c.beta().get_json(&path).await.unwrap()["rolePermissions"][0]["resourceActions"][0]["allowedResourceActions"].clone()).unwrap();
    allowed.sort();
    assert_eq!(allowed, [COMPLIANCE, READ]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export: the custom role, not the built-in ones; re-imports empty.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("intune-roles.toml")).unwrap();
    assert!(exported.contains("[intune_role_definition.managed-desktop-policy-reader]"), "{exported}");
    assert!(!exported.contains("Help Desk Operator"), "{exported}");
    assert_only_adoptions(&again);

    // Delete.
    std::fs::remove_file(dst.join("roles-intune.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ROLE).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn a_built_in_name_or_a_bad_operation_is_a_located_error() {
    let text = toml(&[READ, "Intune.DeviceConfigurations Read"]).replace("Managed Desktop policy reader", "Help Desk Operator");
    let (_dir, dst) = scratch_kind("intune_role_definition", "roles-intune.toml", &text);
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "reserved-name").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(3), "{d}");
    let e = d.errors().find(|e| e.code == "invalid-action").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{d}");
}
