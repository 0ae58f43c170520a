//! App assignments' `availableWithoutEnrollment` intent and per-intent
//! assignment settings (notifications, restart grace, install deadline,
//! delivery optimization): declared, written with `/assign` in the app
//! type's settings type (win32LobAppAssignmentSettings for a Win32 app
//! found by name, winGetAppAssignmentSettings for a Store app), compared
//! (a deadline changed in the portal is drift), exported and re-imported
//! empty; an intent without declared settings keeps the ones Intune has
//! (`/assign` replaces the whole set), and the plan of one intent's change
//! shows the whole resulting set. Bad settings are located errors.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const WIN32: &str = r#"
[app_assignment.vpn]
app = "Contoso VPN"

[app_assignment.vpn.assignments]
required = { include = ["mwd-test"] }
available_without_enrollment = { all_users = true }

[app_assignment.vpn.assignments.settings.required]
notifications = "showReboot"
delivery_optimization_priority = "foreground"
restart = { grace_period_minutes = 1440, countdown_minutes = 15, snooze_minutes = 240 }
install_time = { use_local_time = true, deadline = "2026-12-07T08:00:00Z" }
"#;

const ADDRESS: &str = "app_assignment.vpn";

async fn seed_app(sb: &sandbox::SandboxHandle, name: &str) -> String {
    let url = format!("{}/_sandbox/objects/mobileApps", sb.base_url());
    let body = json!({"@odata.type": "#microsoft.graph.win32LobApp", "displayName": name, "publisher": "Contoso", "fileName": "vpn.intunewin"});
    let r = reqwest::Client::new().post(&url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// (intent, settings) of a live app's assignments, sorted.
fn settings(app: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut v: Vec<(String, serde_json::Value)> = app["assignments"].as_array().into_iter().flatten().map(|a| (a["intent"].as_str().unwrap_or_default().to_string(), a["settings"].clone())).collect();
    v.sort_by_key(|(i, s)| (i.clone(), s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_the_without_enrollment_intent_round_trip() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = seed_app(&sb, "Contoso VPN").await;
    let (_dir, dst) = scratch("app-assignments.toml", WIN32, &["app_assignment"]);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign], "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    let path = format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!(intents(&live).iter().map(|i| (i.0.as_str(), i.1.as_str())).collect::<Vec<_>>(), [("availableWithoutEnrollment", "allLicensedUsersAssignmentTarget"), ("required", "groupAssignmentTarget")]);
    let s = settings(&live);
    assert_eq!(s[0].1, serde_json::Value::Null, "no settings declared for availableWithoutEnrollment: {s:?}");
    let req = &s[1].1;
    assert_eq!(req["@odata.type"], json!("#microsoft.graph.win32LobAppAssignmentSettings"), "{req}");
    assert_eq!((req["notifications"].clone(), req["deliveryOptimizationPriority"].clone()), (json!("showReboot"), json!("foreground")));
    assert_eq!(req["restartSettings"]["gracePeriodInMinutes"], json!(1440));
    assert_eq!(req["installTimeSettings"], json!({"useLocalTime": true, "deadlineDateTime": "2026-12-07T08:00:00Z"}));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // A deadline moved in the portal is drift, put back.
    let mut assignments = live["assignments"].clone();
    for a in assignments.as_array_mut().unwrap() {
        if a["intent"] == json!("required") {
            a["settings"]["installTimeSettings"]["deadlineDateTime"] = json!("2027-01-01T08:00:00Z");
        }
        a.as_object_mut().unwrap().remove("id");
    }
    c.beta().post_json(&format!("/deviceAppManagement/mobileApps/{id}/assign"), json!({"mobileAppAssignments": assignments})).await.unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS), vec![(Action::Assign, vec!["settingsRequired.installTimeSettings.deadlineDateTime".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(settings(&c.beta().get_json(&path).await.unwrap())[1].1["installTimeSettings"]["deadlineDateTime"], json!("2026-12-07T08:00:00Z"));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Settings set in the portal on an intent that declares none are
    // kept when another intent's change rewrites the whole set, and the
    // plan shows the whole resulting set.
    let mut assignments = c.beta().get_json(&path).await.unwrap()["assignments"].clone();
    for a in assignments.as_array_mut().unwrap() {
        if a["intent"] == json!("availableWithoutEnrollment") {
            a["settings"] = json!({"@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings", "notifications": "hideAll"});
        }
        a.as_object_mut().unwrap().remove("id");
    }
    c.beta().post_json(&format!("/deviceAppManagement/mobileApps/{id}/assign"), json!({"mobileAppAssignments": assignments})).await.unwrap();
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty(), "undeclared settings are not compared");
    std::fs::write(dst.join("app-assignments.toml"), WIN32.replace("required = { include = [\"mwd-test\"] }", "required = { include = [\"mwd-test\", \"mwd-first\"] }")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    let change = p.changes.iter().find(|c| c.address.to_string() == ADDRESS).expect("a change");
    let note = change.notes.iter().find(|n| n.contains("replaces the whole set")).unwrap_or_else(|| panic!("{:#?}", change.notes));
    assert!(note.contains("assignments = include group.mwd-first, group.mwd-test") && note.contains("assignmentsAvailableWithoutEnrollment = all users") && note.contains("assignmentsUninstall = none"), "{note}");
    apply(&c, &p, &mut ledger).await;
    let s = settings(&c.beta().get_json(&path).await.unwrap());
    assert_eq!(s[0].1["notifications"], json!("hideAll"), "{s:?}");
    assert_eq!(s.len(), 3, "{s:?}");

    // Export writes the intent and the settings; the export plans empty.
    let files = export_reimports_empty(&sb, &c, None).await;
    let text = files.get("app-assignments.toml").expect("app-assignments.toml exported");
    assert!(text.contains("available_without_enrollment") && text.contains("deadline = \"2026-12-07T08:00:00Z\"") && text.contains("notifications = \"hideAll\""), "{text}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_apps_settings_are_winget_settings() {
    let sb = sandbox().await;
    let c = client(&sb);
    let app = r#"
[winget_app.company-portal]
display_name = "Company Portal"
package_identifier = "9WZDNCRFJ3PZ"
install_experience = { run_as_account = "user" }
publisher = "Microsoft Corporation"
assignments = { required = { include = ["mwd-test"] }, settings = { required = { notifications = "hideAll", restart = { grace_period_minutes = 60, countdown_minutes = 5 }, install_time = { deadline = "2026-12-07T08:00:00Z" } } } }
"#;
    let (_dir, dst) = scratch("apps.toml", app, &["winget_app"]);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load(&dst), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let id = ledger.id(&"winget_app.company-portal".parse().unwrap()).unwrap().to_string();
    let live = c.beta().get_json(&format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments")).await.unwrap();
    let s = &live["assignments"][0]["settings"];
    assert_eq!(s["@odata.type"], json!("#microsoft.graph.winGetAppAssignmentSettings"), "{s}");
    assert_eq!(s["restartSettings"]["countdownDisplayBeforeRestartInMinutes"], json!(5));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_settings_are_located_errors() {
    for (what, from, to, code, line) in [
        ("settings of an intent without targets", "[app_assignment.vpn.assignments.settings.required]", "[app_assignment.vpn.assignments.settings.uninstall]", "settings-without-targets", 9),
        ("a time that is not RFC 3339", "deadline = \"2026-12-07T08:00:00Z\"", "deadline = \"next monday\"", "bad-time", 9),
        ("available without enrollment to devices", "available_without_enrollment = { all_users = true }", "available_without_enrollment = { all_devices = true }", "available-to-devices", 7),
    ] {
        let (_dir, dst) = scratch("app-assignments.toml", &WIN32.replace(from, to), &[]);
        let d = errors(&dst);
        assert!(d.errors().any(|e| e.code == code && e.location.as_ref().is_some_and(|l| l.line == line)), "{what}: {d}");
    }
    // A Store app has no delivery optimization priority.
    let app = "[winget_app.cp]\ndisplay_name = \"Company Portal\"\npackage_identifier = \"9WZDNCRFJ3PZ\"\ninstall_experience = { run_as_account = \"user\" }\npublisher = \"Microsoft Corporation\"\nassignments = { required = { include = [\"mwd-test\"] }, settings = { required = { delivery_optimization_priority = \"foreground\" } } }\n";
    let (_dir, dst) = scratch("apps.toml", app, &[]);
    let d = errors(&dst);
    assert!(d.errors().any(|e| e.code == "settings-not-supported" && e.location.as_ref().is_some_and(|l| l.line == 6)), "{d}");
}
