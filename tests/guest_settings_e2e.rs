//! Guest settings: the `authorization_policy` singleton (who may invite
//! guests, the guest role by name, members' default permissions) and
//! `cross_tenant_access` (the default configuration, a singleton, and
//! partners by tenant id). The singletons are updated (never created or
//! deleted), only declared fields are compared and written (a complex
//! field merged into its live value), partners are created, updated and
//! deleted; a converged tenant plans empty, export writes them and
//! re-imports empty, and bad input is a located validation error.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const SETTINGS: &str = r#"
[authorization_policy.tenant]
allow_invites_from = "adminsAndGuestInviters"
guest_user_role = "Restricted Guest User"
block_msol_power_shell = true
default_user_role_permissions = { allowed_to_create_apps = false }

[cross_tenant_access.default]
inbound_trust = { is_mfa_accepted = true }
automatic_user_consent_settings = { inbound_allowed = false }

[cross_tenant_access.fabrikam]
tenant_id = "4a2ff5a1-8e9b-4b8c-9d2e-1f3a5b7c9d0e"
inbound_trust = { is_mfa_accepted = true, is_compliant_device_accepted = true }
b2b_collaboration_inbound = { users_and_groups = { access_type = "allowed", targets = [{ target = "AllUsers", target_type = "user" }] }, applications = { access_type = "allowed", targets = [{ target = "AllApplications", target_type = "application" }] } }
"#;

const FABRIKAM: &str = "4a2ff5a1-8e9b-4b8c-9d2e-1f3a5b7c9d0e";

fn scratch(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of guest settings\"")
            .replace("kinds = [\"device_configuration\"", "kinds = [\"cross_tenant_access\", \"authorization_policy\", \"device_configuration\"")
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("guest-settings.toml"), extra).unwrap();
    (dir, dst)
}

fn load(dir: &std::path::Path) -> schema::DesiredState {
    schema::load(dir).expect("the scratch tenant loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_settings_and_cross_tenant_access_are_updated_created_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(SETTINGS);
    let mut ledger = Ledger::default();

    // The singletons are updates; the partner a create.
    let p = plan(&c, &load(&dst), &ledger).await;
    let action = |a: &str| p.changes.iter().find(|c| c.address.to_string() == a).map(|c| c.action);
    assert_eq!(action("authorization_policy.tenant"), Some(Action::Update), "{:#?}", p.changes);
    assert_eq!(action("cross_tenant_access.default"), Some(Action::Update));
    assert_eq!(action("cross_tenant_access.fabrikam"), Some(Action::Create));
    let authz = p.changes.iter().find(|c| c.address.to_string() == "authorization_policy.tenant").unwrap();
    let fields: Vec<&str> = authz.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["allowInvitesFrom", "blockMsolPowerShell", "defaultUserRolePermissions.allowedToCreateApps", "guestUserRoleId"], "only declared fields are compared");
    apply(&c, &p, &mut ledger).await;

    let live = c.v1().get_json("/policies/authorizationPolicy").await.unwrap();
    assert_eq!(live["allowInvitesFrom"], json!("adminsAndGuestInviters"));
    assert_eq!(live["guestUserRoleId"], json!("2af84b1e-32c8-42b7-82bc-daa82404023b"));
    assert_eq!(live["defaultUserRolePermissions"]["allowedToCreateApps"], json!(false));
    assert_eq!(live["defaultUserRolePermissions"]["allowedToReadOtherUsers"], json!(true), "undeclared sub-fields are kept");
    assert_eq!(live["allowedToSignUpEmailBasedSubscriptions"], json!(true), "undeclared fields are kept");
    let default = c.v1().get_json("/policies/crossTenantAccessPolicy/default").await.unwrap();
    assert_eq!(default["inboundTrust"]["isMfaAccepted"], json!(true));
    assert_eq!(default["inboundTrust"]["isCompliantDeviceAccepted"], json!(false));
    let partner = c.v1().get_json(&format!("/policies/crossTenantAccessPolicy/partners/{FABRIKAM}")).await.unwrap();
    assert_eq!(partner["inboundTrust"]["isCompliantDeviceAccepted"], json!(true));
    assert_eq!(partner["b2bCollaborationInbound"]["usersAndGroups"]["targets"][0]["target"], json!("AllUsers"));

    // Converged.
    let again = plan(&c, &load(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Drift in the portal is an update back; a change is an update of that field alone.
    c.v1().patch_json("/policies/authorizationPolicy", json!({"allowInvitesFrom": "everyone"})).await.unwrap();
    std::fs::write(dst.join("guest-settings.toml"), SETTINGS.replace("is_mfa_accepted = true, is_compliant_device_accepted = true", "is_mfa_accepted = false, is_compliant_device_accepted = true")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    let mut changed: Vec<(String, Vec<String>)> = p.changes.iter().map(|c| (c.address.to_string(), c.fields.iter().map(|f| f.field.clone()).collect())).collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            ("authorization_policy.tenant".to_string(), vec!["allowInvitesFrom".to_string()]),
            ("cross_tenant_access.fabrikam".to_string(), vec!["inboundTrust.isMfaAccepted".to_string()]),
        ]
    );
    apply(&c, &p, &mut ledger).await;
    let partner = c.v1().get_json(&format!("/policies/crossTenantAccessPolicy/partners/{FABRIKAM}")).await.unwrap();
    assert_eq!(partner["inboundTrust"], json!({"isMfaAccepted": false, "isCompliantDeviceAccepted": true}));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // An undeclared partner added in the portal is unmanaged drift.
    c.v1().post_json("/policies/crossTenantAccessPolicy/partners", json!({"tenantId": "9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d"})).await.unwrap();
    let o = cli(&sb, dst.parent().unwrap(), &["drift", dst.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert!(out.contains("cross_tenant_access") && out.contains("9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d"), "{out}\n{}", text(&o.stderr));
    assert!(!out.contains("authorization_policy.(authorizationPolicy)"), "the singleton is never unmanaged: {out}");
    c.v1().delete("/policies/crossTenantAccessPolicy/partners/9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d").await.unwrap();

    // Export writes the policy, the default and the partner; re-imported, it plans empty.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported = schema::load(&out).expect("the export loads");
    let authz = &exported.authorization_policy.values().next().expect("policy exported").value;
    assert_eq!(authz.guest_user_role, Some(schema::kinds::authorization_policy::GuestUserRole::RestrictedGuestUser));
    assert!(exported.cross_tenant_access.get("default").is_some_and(|d| d.value.tenant_id.is_none()));
    assert!(exported.cross_tenant_access.values().any(|d| d.value.tenant_id.as_deref() == Some(FABRIKAM)));
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let p = plan(&c, &exported, &exported_ledger).await;
    assert_only_adoptions(&p);

    // Undeclared (pruning on): the partner is deleted; the singletons are left as they are.
    std::fs::remove_file(dst.join("guest-settings.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    let deletes: Vec<String> = p.changes.iter().filter(|c| c.action == Action::Delete).map(|c| c.address.to_string()).collect();
    assert_eq!(deletes, ["cross_tenant_access.fabrikam"], "{:#?}", p.changes);
    sb.shutdown().await.unwrap();
}

fn errors(text: &str) -> String {
    match schema::load_str(&[("a.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn bad_guest_settings_are_located_errors() {
    let twice = format!("{SETTINGS}\n[authorization_policy.again]\nblock_msol_power_shell = true\n\n[cross_tenant_access.other-default]\ninbound_trust = {{ is_mfa_accepted = false }}\n");
    let err = errors(&twice);
    assert!(err.contains("authorization_policy.tenant: the tenant has one authorization_policy") || err.contains("already declared as authorization_policy."), "{err}");
    assert!(err.contains("the tenant has one cross_tenant_access"), "{err}");
    assert!(err.contains("a.toml:"), "{err}");
    let err = errors(&SETTINGS.replace("guest_user_role = \"Restricted Guest User\"", "guest_user_role = \"Guest\""));
    assert!(err.contains("guest_user_role") || err.contains("Restricted Guest User"), "{err}");
    let err = errors(&SETTINGS.replace(FABRIKAM, "fabrikam.com").replace("target = \"AllApplications\", target_type = \"application\"", "target = \"AllApplications\", target_type = \"user\""));
    assert!(err.contains("tenant_id `fabrikam.com` is not a tenant id"), "{err}");
    assert!(err.contains("applications takes application targets"), "{err}");
}
