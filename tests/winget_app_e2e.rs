//! The `winget_app` kind (beta `deviceAppManagement/mobileApps`,
//! `#microsoft.graph.winGetApp`): created from its package id (Intune
//! fills the rest from the Store, which is no drift), a description change
//! is an update, an assignment change (by intent) is an `assign` through
//! `/assign` with `mobileAppAssignments`, a change of the install context
//! replaces the app, export writes it and re-imports empty, an owned app
//! no longer declared is deleted; a bad package id is a located error; an
//! app required for a service account is a governance error.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const APP: &str = r#"
[winget_app.company-portal]
display_name = "Company Portal"
package_identifier = "9WZDNCRFJ3PZ"
install_experience = { run_as_account = "user" }
publisher = "Microsoft Corporation"
assignments = { required = { include = ["mwd-test"] }, available = { all_users = true } }
"#;

const ADDRESS: &str = "winget_app.company-portal";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_app_is_created_assigned_by_intent_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch("apps.toml", APP, &["winget_app"]);
    let mut ledger = Ledger::default();

    // Create: POST, then /assign with both intents.
    let (id, live) = create_app(&c, &dst, &mut ledger, ADDRESS).await;
    let path = format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments");
    assert_eq!(live["@odata.type"], json!("#microsoft.graph.winGetApp"));
    assert_eq!((live["packageIdentifier"].clone(), live["installExperience"]["runAsAccount"].clone()), (json!("9WZDNCRFJ3PZ"), json!("user")));
    // What Intune fetched from the Store is there, and is not drift.
    assert!(live["description"].as_str().is_some_and(|d| !d.is_empty()), "{live}");
    let test_group = ledger.id(&"group.mwd-test".parse().unwrap()).unwrap().to_string();
    assert_eq!(
        intents(&live),
        [("available".to_string(), "allLicensedUsersAssignmentTarget".to_string(), String::new()), ("required".to_string(), "groupAssignmentTarget".to_string(), test_group.clone())]
    );
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update: a declared description.
    std::fs::write(dst.join("apps.toml"), APP.replace("publisher = ", "description = \"Install apps and manage your device\"\npublisher = ")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS), vec![(Action::Update, vec!["description".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["description"], json!("Install apps and manage your device"));

    // Assignment change: required moves ring, uninstall added.
    let moved = APP.replace(
        "assignments = { required = { include = [\"mwd-test\"] }, available = { all_users = true } }",
        "assignments = { required = { include = [\"mwd-first\"] }, available = { all_users = true }, uninstall = { include = [\"mwd-broad\"] } }",
    );
    std::fs::write(dst.join("apps.toml"), &moved).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    let ch = app_changes(&p, ADDRESS);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!(ch[0].0, Action::Assign, "{ch:?}");
    apply(&c, &p, &mut ledger).await;
    let first = ledger.id(&"group.mwd-first".parse().unwrap()).unwrap().to_string();
    let broad = ledger.id(&"group.mwd-broad".parse().unwrap()).unwrap().to_string();
    let got = intents(&c.beta().get_json(&path).await.unwrap());
    assert!(got.contains(&("required".into(), "groupAssignmentTarget".into(), first)) && got.contains(&("uninstall".into(), "groupAssignmentTarget".into(), broad)), "{got:?}");
    assert!(!got.iter().any(|g| g.2 == test_group), "{got:?}");
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Drift: an assignment added in Intune is put back.
    let body = json!({"mobileAppAssignments": [{"@odata.type": "#microsoft.graph.mobileAppAssignment", "intent": "required", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
    c.beta().post_json(&format!("/deviceAppManagement/mobileApps/{id}/assign"), body).await.unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign]);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export and re-import.
    let files = export_reimports_empty(&sb, &c, None).await;
    let text = files.get("winget-apps.toml").expect("winget-apps.toml exported");
    assert!(text.contains("[winget_app.company-portal]") && text.contains("package_identifier = \"9WZDNCRFJ3PZ\""), "{text}");

    // The install context cannot change in Intune: a replace.
    std::fs::write(dst.join("apps.toml"), moved.replace("run_as_account = \"user\"", "run_as_account = \"system\"")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Replace]);

    // Delete.
    std::fs::remove_file(dst.join("apps.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&format!("/deviceAppManagement/mobileApps/{id}")).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn a_bad_package_id_and_available_to_all_devices_are_located_errors() {
    let bad = APP.replace("9WZDNCRFJ3PZ", "9WZ DNC/../x").replace("available = { all_users = true }", "available = { all_devices = true }");
    let (_dir, dst) = scratch("apps.toml", &bad, &[]);
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-package-identifier").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| (l.line, l.file.ends_with("apps.toml"))), Some((4, true)), "{d}");
    let e = d.errors().find(|e| e.code == "available-to-devices").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(7), "{d}");
}

#[test]
fn an_app_required_for_service_accounts_is_a_governance_error() {
    for (target, why) in [("all_users = true", "all users"), ("include = [\"service-accounts\"]", "service-accounts")] {
        let text = APP.replace("required = { include = [\"mwd-test\"] }", &format!("required = {{ {target} }}")).replace("available = { all_users = true }", "available = { include = [\"mwd-test\"] }");
        let (_dir, dst) = scratch("apps.toml", &text, &[]);
        let desired = providers::kinds::desired_model(&load(&dst));
        let findings = engine::governance::lint_desired(&desired, opts().now);
        assert!(
            findings.iter().any(|f| f.lint == "service-account-targeted" && f.address == ADDRESS && f.severity == engine::governance::Severity::Error),
            "{why}: {findings:#?}"
        );
    }
    // Available (offered, never installed) is not.
    let text = APP.replace("required = { include = [\"mwd-test\"] }, ", "");
    let (_dir, dst) = scratch("apps.toml", &text, &[]);
    let desired = providers::kinds::desired_model(&load(&dst));
    let findings = engine::governance::lint_desired(&desired, opts().now);
    assert!(!findings.iter().any(|f| f.address == ADDRESS), "{findings:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_apps_permission_apps_are_unknown_naming_it() {
    let sb = sandbox().await;
    let c = client(&sb);
    let granted: Vec<String> = graph_metadata::metadata().documented_permissions().iter().filter(|p| *p != "DeviceManagementApps.ReadWrite.All").cloned().collect();
    let r = reqwest::Client::new().put(format!("{}/_sandbox/permissions", sb.base_url())).json(&json!({ "permissions": granted })).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (_dir, dst) = scratch("apps.toml", APP, &[]);
    let desired = providers::kinds::desired_model(&load(&dst));
    let observed = providers::observe::observe(&c, &desired, &Ledger::default()).await.unwrap();
    let why = observed.unreadable.get(&schema::Kind::WingetApp).unwrap_or_else(|| panic!("apps were read: {:#?}", observed.unreadable));
    assert!(why.contains("DeviceManagementApps.ReadWrite.All"), "{why}");
    let p = engine::plan(&desired, &observed, &Ledger::default(), &opts()).unwrap();
    assert!(p.unknown.iter().any(|u| u.address.to_string() == ADDRESS), "{:#?}", p.unknown);
    assert!(app_changes(&p, ADDRESS).is_empty());
    sb.shutdown().await.unwrap();
}
