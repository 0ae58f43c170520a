//! The `role_definition` kind (custom directory roles): created before
//! the role assignment that names it by key, converged plans are empty
//! (the assignment's role is matched through the ledger), a change of
//! actions or a description changed in the portal is one update, export
//! writes the role and the assignment naming it by key and plans empty,
//! and deleting both removes the assignment first (Graph refuses deleting
//! an assigned role). Bad actions and unknown roles are refused where
//! they are written.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const FILE: &str = "custom-roles.toml";
const ROLES: &str = r#"
[role_definition.helpdesk-passwords]
display_name = "Helpdesk password reset"
description = "Resets passwords of people who are not admins"
allowed_resource_actions = ["microsoft.directory/users/password/update", "microsoft.directory/users/basic/update"]

[role_assignment.megan-helpdesk]
principal = "megan"
role = "helpdesk-passwords"
assignment = "eligible"
expires = 2027-03-31T00:00:00Z
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_roles_are_created_assigned_by_key_updated_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let scratch = scratch_with(|t| {
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of the role_definition kind\"")
            .replace("kinds = [\"device_configuration\"", "kinds = [\"role_definition\", \"role_assignment\", \"device_configuration\"")
    });
    let dst = scratch.path().join("desired-state");
    std::fs::write(dst.join(FILE), ROLES).unwrap();
    let load = || schema::load(&dst).expect("valid");
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(), &ledger).await;
    let role = p.changes.iter().find(|c| c.address.to_string() == "role_definition.helpdesk-passwords").expect("planned");
    assert_eq!(role.action, Action::Create);
    let assignment = p.changes.iter().find(|c| c.address.to_string() == "role_assignment.megan-helpdesk").expect("planned");
    assert!(assignment.waits_on.iter().any(|a| a.to_string() == "role_definition.helpdesk-passwords"), "{assignment:#?}");
    apply(&c, &p, &mut ledger).await;
    let id = ledger.id(&"role_definition.helpdesk-passwords".parse().unwrap()).unwrap().to_string();
    let live = c.v1().get_json(&format!("/roleManagement/directory/roleDefinitions/{id}")).await.unwrap();
    assert_eq!(live["isBuiltIn"], json!(false));
    assert_eq!(live["rolePermissions"][0]["allowedResourceActions"].as_array().map(Vec::len), Some(2));
    let schedules = c.v1().list_all("/roleManagement/directory/roleEligibilitySchedules").await.unwrap();
    assert!(schedules.iter().any(|s| s["roleDefinitionId"] == json!(id)), "the eligibility names the custom role's id: {schedules:#?}");
    let again = plan(&c, &load(), &ledger).await;
    assert!(again.changes.is_empty(), "converged: {:#?}", again.changes);

    // Update: one action fewer is an update of the role alone.
    std::fs::write(dst.join(FILE), ROLES.replace(", \"microsoft.directory/users/basic/update\"", "")).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!((p.changes[0].address.to_string(), p.changes[0].action), ("role_definition.helpdesk-passwords".to_string(), Action::Update));
    apply(&c, &p, &mut ledger).await;
    let live = c.v1().get_json(&format!("/roleManagement/directory/roleDefinitions/{id}")).await.unwrap();
    assert_eq!(live["rolePermissions"][0]["allowedResourceActions"], json!(["microsoft.directory/users/password/update"]));
    // Drift: a description changed in the portal is set back.
    c.v1().patch_json(&format!("/roleManagement/directory/roleDefinitions/{id}"), json!({"description": "changed"})).await.unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load(), &ledger).await.changes.is_empty());

    // Graph refuses changing a built-in role and deleting an assigned one.
    assert!(c.v1().patch_json("/roleManagement/directory/roleDefinitions/62e90394-69f5-4237-9190-012177145e10", json!({"description": "x"})).await.is_err());
    assert!(c.v1().delete(&format!("/roleManagement/directory/roleDefinitions/{id}")).await.is_err());

    // Export: the role, and the assignment naming it by key; planning it is empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = load_ok(&out);
    let (key, _) = exported.role_definition.iter().find(|(_, d)| d.value.display_name == "Helpdesk password reset").expect("exported");
    assert!(exported.role_assignment.values().any(|d| d.value.role == format!("role_definition.{key}")), "{:#?}", exported.role_assignment);
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Delete both: the assignment goes first, then the role.
    std::fs::remove_file(dst.join(FILE)).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    let deleted = deletes_of(&p);
    assert_eq!(deleted.len(), 2, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert!(c.v1().get_json(&format!("/roleManagement/directory/roleDefinitions/{id}")).await.is_err());
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_actions_and_unknown_roles_are_refused_where_they_are_written() {
    let text = "[user.a]\nuser_principal_name = \"a@contoso.onmicrosoft.com\"\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n\n[role_definition.r]\ndisplay_name = \"Global Administrator\"\nallowed_resource_actions = [\"microsoft.azure/users/read\", \"microsoft.directory/users//update\", \"microsoft.directory/users/basic/update\", \"microsoft.directory/users/basic/update\"]\n\n[role_assignment.x]\nprincipal = \"a\"\nrole = \"helpdesk\"\n";
    let err = match schema::load_str(&[("c.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected errors, got {other:?}"),
    };
    assert!(err.contains("c.toml:7") && err.contains("is a built-in role's name"), "{err}");
    assert!(err.contains("does not start with `microsoft.directory/`"), "{err}");
    assert!(err.contains("invalid segment ``"), "{err}");
    assert!(err.contains("is listed twice"), "{err}");
    assert!(err.contains("`helpdesk` is not a built-in directory role tenantctl knows, a declared role_definition"), "{err}");
}
