//! The `authentication_strength` kind: a custom strength is created before
//! the policy that requires it by key, a converged tenant plans empty, a
//! changed combination goes through `updateAllowedCombinations` (never
//! PATCH, which Graph refuses for it) and a description through PATCH,
//! export writes the strength and the policy's reference by key, a
//! built-in strength is named by display name and never managed, and an
//! undeclared strength the ledger owns is deleted once unused.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const STRENGTH: &str = r#"
[authentication_strength.admin-keys]
display_name = "Admin security keys"
description = "FIDO2 or Windows Hello only"
allowed_combinations = ["fido2", "windowsHelloForBusiness"]

[conditional_access.admins-keys]
display_name = "Administrators use security keys"
state = "enabled"
users = { include_roles = ["Global Administrator"], exclude_users = ["breakglass-1"], exclude_groups = ["service-accounts"] }
applications = { include_applications = ["All"] }
grant = { authentication_strength = "admin-keys" }
"#;

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["authentication_strength", "conditional_access"], "the authentication_strength kind", "strengths.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_strength_is_created_updated_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(STRENGTH);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let s = p.changes.iter().find(|c| c.address.to_string() == "authentication_strength.admin-keys").expect("planned");
    assert_eq!(s.action, Action::Create);
    assert!(p.sensitive.contains_key(&s.address), "an authentication strength is sensitive: {:?}", p.sensitive);
    let policy = p.changes.iter().find(|c| c.address.to_string() == "conditional_access.admins-keys").unwrap();
    assert!(policy.waits_on.iter().any(|a| a.to_string() == "authentication_strength.admin-keys"), "{policy:#?}");
    apply(&c, &p, &mut ledger).await;
    let sid = id_of(&ledger, "authentication_strength.admin-keys");
    let live = c.v1().get_json(&format!("/policies/authenticationStrengthPolicies/{sid}")).await.unwrap();
    assert_eq!(live["policyType"], json!("custom"));
    assert_eq!(live["allowedCombinations"], json!(["fido2", "windowsHelloForBusiness"]));
    let pid = id_of(&ledger, "conditional_access.admins-keys");
    let policy = c.v1().get_json(&format!("/identity/conditionalAccess/policies/{pid}")).await.unwrap();
    assert_eq!(policy["grantControls"]["authenticationStrength"]["id"], json!(sid));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Combinations change through the action; the description through PATCH.
    let changed = STRENGTH.replace("[\"fido2\", \"windowsHelloForBusiness\"]", "[\"fido2\", \"x509CertificateMultiFactor\"]").replace("FIDO2 or Windows Hello only", "Keys or smart cards");
    std::fs::write(dst.join("strengths.toml"), changed).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let mut fields: Vec<&str> = p.changes[0].fields.iter().map(|f| f.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["allowedCombinations", "description"]);
    apply(&c, &p, &mut ledger).await;
    let live = c.v1().get_json(&format!("/policies/authenticationStrengthPolicies/{sid}")).await.unwrap();
    assert_eq!(live["allowedCombinations"], json!(["fido2", "x509CertificateMultiFactor"]));
    assert_eq!(live["description"], json!("Keys or smart cards"));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());
    // Graph refuses combinations through PATCH; so does the sandbox.
    let r = c.v1().patch_json(&format!("/policies/authenticationStrengthPolicies/{sid}"), json!({"allowedCombinations": ["fido2"]})).await;
    assert!(r.is_err(), "PATCH of allowedCombinations was accepted");

    // Export: the strength, and the policy requiring it by key.
    let (_tmp, out) = export_tenant(&sb);
    let exported = schema::load(&out).expect("the export loads");
    // Only the custom strength: the built-in ones Graph lists beside it are
    // named by policies, never exported as objects.
    assert_eq!(exported.authentication_strength.len(), 1, "{:?}", exported.authentication_strength.keys().collect::<Vec<_>>());
    let (key, s) = exported.authentication_strength.iter().next().expect("the strength is exported");
    assert_eq!(s.value.allowed_combinations, ["fido2", "x509CertificateMultiFactor"]);
    let policy = exported.conditional_access.values().find(|d| d.value.display_name == "Administrators use security keys").expect("policy exported");
    assert_eq!(policy.value.grant.authentication_strength.as_deref(), Some(key.as_str()));

    // Built-in strengths are listed by Graph but cannot be changed or deleted.
    let all = c.v1().list_all("/policies/authenticationStrengthPolicies").await.unwrap();
    assert!(all.iter().any(|p| p["policyType"] == json!("builtIn") && p["displayName"] == json!("Phishing-resistant MFA")), "{all:?}");
    assert!(c.v1().delete("/policies/authenticationStrengthPolicies/00000000-0000-0000-0000-000000000004").await.is_err());
    // In use: Graph refuses the delete.
    assert!(c.v1().delete(&format!("/policies/authenticationStrengthPolicies/{sid}")).await.is_err());
    // The policy moves to the built-in strength (by name); the custom one,
    // undeclared, is deleted after the policy no longer uses it.
    let builtin = "[conditional_access.admins-keys]\ndisplay_name = \"Administrators use security keys\"\nstate = \"enabled\"\nusers = { include_roles = [\"Global Administrator\"], exclude_users = [\"breakglass-1\"], exclude_groups = [\"service-accounts\"] }\napplications = { include_applications = [\"All\"] }\ngrant = { authentication_strength = \"Phishing-resistant MFA\" }\n";
    std::fs::write(dst.join("strengths.toml"), builtin).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.iter().find(|c| c.address.to_string() == "authentication_strength.admin-keys").map(|c| c.action), Some(Action::Delete), "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    let policy = c.v1().get_json(&format!("/identity/conditionalAccess/policies/{pid}")).await.unwrap();
    assert_eq!(policy["grantControls"]["authenticationStrength"]["id"], json!("00000000-0000-0000-0000-000000000004"));
    assert!(c.v1().get_json(&format!("/policies/authenticationStrengthPolicies/{sid}")).await.is_err());
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_strengths_are_refused_before_any_plan() {
    let bad = STRENGTH.replace("[\"fido2\", \"windowsHelloForBusiness\"]", "[\"fido3\", \"password\", \"fido2\", \"fido2\"]").replace("authentication_strength = \"admin-keys\"", "authentication_strength = \"admin-keys\", built_in_controls = [\"mfa\"]");
    let err = match schema::load_str(&[("a.toml", &bad)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected validation errors, got {other:?}"),
    };
    assert!(err.contains("`fido3` is not an authentication method mode") && err.contains("did you mean `fido2`"), "{err}");
    assert!(err.contains("single factor"), "{err}");
    assert!(err.contains("listed twice"), "{err}");
    assert!(err.contains("`mfa` and an authentication strength"), "{err}");
}
