//! The `authentication_methods_policy` kind: a singleton that is only
//! updated. The example's declared methods are written by PATCH with
//! their own `@odata.type`, a converged tenant plans empty, an undeclared
//! method is never touched nor reported, a target change is one update,
//! it is never deleted, it exports and re-imports empty, and a method
//! reaching a service account is refused naming the method and account.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const FILE: &str = "authentication-methods.toml";
const POLICY: &str = "/policies/authenticationMethodsPolicy";

fn config<'a>(live: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    live["authenticationMethodConfigurations"].as_array().unwrap().iter().find(|c| c["id"] == json!(id)).unwrap_or_else(|| panic!("{id} missing"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_updated_compared_exported_and_never_created_or_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let scratch = scratch_without_approvals();
    let dst = scratch.path().join("desired-state");
    let load = || schema::load(&dst).expect("valid");
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(), &ledger).await;
    let ch = p.changes.iter().find(|c| c.address.to_string() == "authentication_methods_policy.tenant").expect("the policy is planned");
    assert_eq!(ch.action, Action::Update, "the singleton exists: it is updated, never created");
    assert!(ch.waits_on.iter().any(|a| a.to_string() == "group.intune-admins"), "{ch:#?}");
    apply(&c, &p, &mut ledger).await;
    let groups = c.v1().list_all("/groups?$select=id,mailNickname").await.unwrap();
    let gid = |nick: &str| groups.iter().find(|g| g["mailNickname"] == json!(nick)).map(|g| g["id"].as_str().unwrap().to_string()).unwrap();
    let (admins, svc) = (gid("intune-admins"), gid("ModernWorkplaceServiceAccounts"));
    let live = c.v1().get_json(POLICY).await.unwrap();
    let fido = config(&live, "Fido2");
    assert_eq!(fido["state"], json!("enabled"));
    assert_eq!(fido["includeTargets"][0]["id"], json!(admins));
    assert_eq!(fido["excludeTargets"], json!([{"targetType": "group", "id": svc}]));
    let auth = config(&live, "MicrosoftAuthenticator");
    assert_eq!(auth["featureSettings"]["displayAppInformationRequiredState"]["state"], json!("enabled"));
    assert_eq!(auth["includeTargets"][0]["authenticationMode"], json!("any"));
    assert_eq!(config(&live, "TemporaryAccessPass")["isUsableOnce"], json!(true));
    assert_eq!(config(&live, "Sms")["state"], json!("disabled"), "an undeclared method is not touched");
    assert!(plan(&c, &load(), &ledger).await.changes.is_empty(), "converged");

    // An undeclared method changed in the portal is neither drift nor changed back.
    c.v1().patch_json(&format!("{POLICY}/authenticationMethodConfigurations/sms"), json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration", "state": "enabled"})).await.unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    assert!(p.orphans.is_empty(), "{:?}", p.orphans);

    // A declared method changed in the portal is drift, set back by one update.
    c.v1().patch_json(&format!("{POLICY}/authenticationMethodConfigurations/fido2"), json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "excludeTargets": []})).await.unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert!(p.changes[0].fields.iter().all(|f| f.field.starts_with("methods.Fido2")), "{:#?}", p.changes[0].fields);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(config(&c.v1().get_json(POLICY).await.unwrap(), "Fido2")["excludeTargets"], json!([{"targetType": "group", "id": svc}]));

    // Update: TAP for everyone.
    let file = std::fs::read_to_string(dst.join(FILE)).unwrap();
    let wider = file.replacen("include = [\"intune-admins\"]\nexclude = [\"service-accounts\"]\nis_usable_once", "include = [\"all_users\"]\nexclude = [\"service-accounts\"]\nis_usable_once", 1);
    assert_ne!(wider, file);
    std::fs::write(dst.join(FILE), &wider).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(config(&c.v1().get_json(POLICY).await.unwrap(), "TemporaryAccessPass")["includeTargets"][0]["id"], json!("all_users"));
    assert!(plan(&c, &load(), &ledger).await.changes.is_empty());

    // Export writes it; planning the export against its ledger is empty.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported = schema::load(&out).expect("the export loads");
    let e = exported.authentication_methods_policy.values().next().expect("exported").value.clone();
    assert_eq!(e.methods["fido2"].exclude.as_deref(), Some(&["group.modern-workplace-service-accounts".to_string()][..]), "{e:?}");
    assert_eq!(e.methods["sms"].state, "enabled");
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let again = plan(&c, &exported, &exported_ledger).await;
    assert_only_adoptions(&again);

    // Never deleted: no longer declared, it is left alone (even with pruning on).
    std::fs::remove_file(dst.join(FILE)).unwrap();
    let p = plan(&c, &load(), &ledger).await;
    assert!(p.changes.iter().all(|c| c.address.kind != schema::Kind::AuthenticationMethodsPolicy), "{:#?}", p.changes);
    sb.shutdown().await.unwrap();
}

fn errors(files: &[(&str, &str)]) -> String {
    match schema::load_str(files) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn bad_methods_are_refused_where_they_are_written() {
    let err = errors(&[(
        "a.toml",
        "[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n\n[authentication_methods_policy.t.methods.fido2]\nstate = \"on\"\ninclude = [\"g\"]\nis_usable_once = true\n\n[authentication_methods_policy.t.methods.fido3]\nstate = \"enabled\"\n\n[authentication_methods_policy.t.methods.temporary_access_pass]\nstate = \"enabled\"\ninclude = [\"nope\"]\nminimum_lifetime_in_minutes = 600\nmaximum_lifetime_in_minutes = 60\n\n[authentication_methods_policy.other]\n",
    )]);
    assert!(err.contains("a.toml:6") && err.contains("fido2's state `on`"), "{err}");
    assert!(err.contains("`is_usable_once` does not apply to fido2"), "{err}");
    assert!(err.contains("`fido3` is not an authentication method") && err.contains("did you mean `fido2`"), "{err}");
    assert!(err.contains("`nope`"), "{err}");
    assert!(err.contains("minimum_lifetime_in_minutes (600) is above"), "{err}");
    assert!(err.contains("one authentication methods policy"), "{err}");
}

/// The service model: service accounts get no MFA, so no enabled method
/// may reach them; the finding names the method and the account.
#[test]
fn a_method_reaching_the_service_accounts_is_an_error_naming_both() {
    let text = std::fs::read_to_string(example_dir().join(FILE)).unwrap();
    let without = text.replacen("include = [\"all_users\"]\nexclude = [\"service-accounts\"]", "include = [\"all_users\"]\nexclude = []", 1);
    assert_ne!(without, text);
    let mut files: Vec<(String, String)> = std::fs::read_dir(example_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())).collect();
    for f in files.iter_mut().filter(|f| f.0 == FILE) {
        f.1 = without.clone();
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let state = schema::load_str(&refs).expect("the edited example loads");
    let desired = providers::kinds::desired_model(&state);
    let lints = engine::governance::lint_desired(&desired, opts().now);
    let hit = lints.iter().find(|f| f.address == "authentication_methods_policy.tenant").unwrap_or_else(|| panic!("no finding: {lints:#?}"));
    assert_eq!(hit.lint, "service-account-targeted");
    assert!(hit.message.contains("MicrosoftAuthenticator") && hit.message.contains("user.msadmin") && hit.message.contains("exclude group.service-accounts"), "{hit}");
}

/// What a method's PATCH sends but desired state does not declare is kept
/// as it is live (the audit's S2): a feature scoped in the portal to a
/// pilot group, and registration required on an included target, survive
/// an update of another field of the method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_keeps_the_live_feature_targets_and_registration_requirement() {
    let sb = sandbox().await;
    let c = client(&sb);
    let scratch = scratch_without_approvals();
    let dst = scratch.path().join("desired-state");
    let load = || schema::load(&dst).expect("valid");
    let mut ledger = Ledger::default();
    let p = plan(&c, &load(), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let admins = ledger.id(&"group.intune-admins".parse().expect("an address")).expect("created").to_string();

    let path = format!("{POLICY}/authenticationMethodConfigurations/MicrosoftAuthenticator");
    let mut live = c.v1().get_json(&path).await.expect("the method");
    live["featureSettings"]["displayAppInformationRequiredState"]["includeTarget"] = json!({"targetType": "group", "id": admins});
    live["includeTargets"][0]["isRegistrationRequired"] = json!(true);
    let body = json!({"@odata.type": live["@odata.type"], "featureSettings": live["featureSettings"], "includeTargets": live["includeTargets"]});
    c.v1().patch_json(&path, body).await.expect("the portal edit");

    let file = dst.join(FILE);
    let text = std::fs::read_to_string(&file).expect("the methods file");
    std::fs::write(&file, text.replace("display_location_information = \"enabled\"", "display_location_information = \"disabled\"")).expect("written");
    let p = plan(&c, &load(), &ledger).await;
    assert!(p.changes.iter().any(|c| c.address.to_string() == "authentication_methods_policy.tenant"), "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    let live = c.v1().get_json(&path).await.expect("the method");
    assert_eq!(live["featureSettings"]["displayLocationInformationRequiredState"]["state"], json!("disabled"), "{live:#}");
    assert_eq!(live["featureSettings"]["displayAppInformationRequiredState"]["includeTarget"]["id"], json!(admins), "{live:#}");
    assert_eq!(live["includeTargets"][0]["isRegistrationRequired"], json!(true), "{live:#}");
    sb.shutdown().await.expect("the sandbox stops");
}
