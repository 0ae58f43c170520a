//! Every Microsoft Entra built-in role is known by name: export of a tenant
//! where someone holds a role outside the 21 tenantctl first knew names it
//! (not its id), the export validates and re-plans empty, and the same role
//! declared by its template id plans the same.

mod common;

use common::*;
use serde_json::json;

/// Teams Reader: outside the first 21 and not privileged (a permanent
/// privileged role would be standing access, refused).
const TEAMS_READER: &str = "1076ac91-f3d9-41a7-a339-dcdf5f480acc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_names_a_role_outside_the_first_21_and_replans_empty() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/users");
    req.body = Some(json!({
        "accountEnabled": true, "displayName": "Pat Helpdesk", "mailNickname": "pat", "userPrincipalName": "pat@contoso.onmicrosoft.com",
        "passwordProfile": {"password": "Xy7!kLm2#pQr9", "forceChangePasswordNextSignIn": true}
    }));
    let pat = c.v1().execute(req).await.expect("user created").body.unwrap();
    let pat = pat["id"].as_str().unwrap().to_string();
    c.v1()
        .post_json("/roleManagement/directory/roleAssignments", json!({"principalId": pat, "roleDefinitionId": TEAMS_READER, "directoryScopeId": "/"}))
        .await
        .expect("role assigned");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let roles = std::fs::read_to_string(out.join("roles.toml")).unwrap();
    assert!(roles.contains("role = \"Teams Reader\""), "{roles}");
    let o = cli(&sb, tmp.path(), &["validate", out.to_str().unwrap()]);
    assert!(o.status.success(), "the export does not validate:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    // (The adopted role assignment is ratified whole, sending nothing: gov18.)
    let o = cli(&sb, tmp.path(), &["plan", out.to_str().unwrap(), "--format", "json"]);
    assert_only_adoptions(&serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr))));
    // Declared by its template id (upper case, as a portal copy may give it),
    // the role is the same one: still no changes.
    std::fs::write(out.join("roles.toml"), roles.replace("role = \"Teams Reader\"", &format!("role = \"{}\"", TEAMS_READER.to_uppercase()))).unwrap();
    // (The adopted role assignment is ratified whole, sending nothing: gov18.)
    let o = cli(&sb, tmp.path(), &["plan", out.to_str().unwrap(), "--format", "json"]);
    assert_only_adoptions(&serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr))));
    sb.shutdown().await.unwrap();
}

#[test]
fn a_role_is_a_built_in_name_or_a_role_definition_id() {
    let base = "[user.pat]\nuser_principal_name = \"pat@contoso.onmicrosoft.com\"\ndisplay_name = \"Pat\"\nmail_nickname = \"pat\"\n\n[role_assignment.r]\nprincipal = \"pat\"\nassignment = \"eligible\"\n";
    for ok in ["Teams Reader", "Attack Payload Author", "Windows 365 Administrator", "0c6df0f2-1e7c-4dc3-b195-66dfbd24aa8f"] {
        let text = format!("{base}role = \"{ok}\"\n");
        if let Err(e) = schema::load_str(&[("t.toml", &text)]) {
            let e = format!("{e:?}");
            assert!(!e.contains("unknown-role") && !e.contains("not a built-in directory role"), "{ok}: {e}");
        }
    }
    for bad in ["Teams Wizard", "0c6df0f2-1e7c-4dc3-b195", "zc6df0f2-1e7c-4dc3-b195-66dfbd24aa8f"] {
        let text = format!("{base}role = \"{bad}\"\n");
        let e = format!("{:?}", schema::load_str(&[("t.toml", &text)]).expect_err(bad));
        assert!(e.contains("not a built-in directory role"), "{bad}: {e}");
    }
}
