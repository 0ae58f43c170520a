//! The `app_assignment` kind: an app that exists in the tenant but is not
//! declared (here a Win32 app made behind tenantctl's back) is found by
//! its display name and only its assignments are managed: assigned,
//! changed, exported and re-imported empty, and, no longer declared,
//! its assignments removed while the app stays. A name that matches no
//! app, or two, is refused at plan time, naming them.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const ASSIGNMENT: &str = r#"
[app_assignment.vpn]
app = "Contoso VPN"
assignments = { required = { include = ["mwd-test"] } }
"#;

const ADDRESS: &str = "app_assignment.vpn";

async fn seed_app(sb: &sandbox::SandboxHandle, name: &str) -> String {
    let url = format!("{}/_sandbox/objects/mobileApps", sb.base_url());
    let body = json!({"@odata.type": "#microsoft.graph.win32LobApp", "displayName": name, "publisher": "Contoso", "fileName": "vpn.intunewin"});
    let r = reqwest::Client::new().post(&url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_apps_assignments_are_managed_and_the_app_is_never_touched() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = seed_app(&sb, "Contoso VPN").await;
    let (_dir, dst) = scratch("app-assignments.toml", ASSIGNMENT, &["app_assignment"]);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign], "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(ledger.id(&ADDRESS.parse().unwrap()), Some(id.as_str()));
    let path = format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments");
    let test_group = ledger.id(&"group.mwd-test".parse().unwrap()).unwrap().to_string();
    assert_eq!(intents(&c.beta().get_json(&path).await.unwrap()), [("required".into(), "groupAssignmentTarget".into(), test_group)]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Assignment change.
    std::fs::write(dst.join("app-assignments.toml"), ASSIGNMENT.replace("required = { include = [\"mwd-test\"] }", "available = { all_users = true }")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(intents(&c.beta().get_json(&path).await.unwrap()), [("available".into(), "allLicensedUsersAssignmentTarget".into(), String::new())]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export writes it by the app's name; planning the export is empty.
    let files = export_reimports_empty(&sb, &c, None).await;
    let text = files.get("app-assignments.toml").expect("app-assignments.toml exported");
    assert!(text.contains("app = \"Contoso VPN\""), "{text}");

    // No longer declared: the assignments go, the app stays.
    std::fs::remove_file(dst.join("app-assignments.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!(live["displayName"], json!("Contoso VPN"));
    assert!(intents(&live).is_empty(), "{live}");
    sb.shutdown().await.unwrap();
}

/// The plan's error, which must be a refusal of the app assignment.
async fn refusal(c: &providers::graph::GraphClient, dst: &std::path::Path) -> String {
    let desired = providers::kinds::desired_model(&load(dst));
    let observed = providers::observe::observe(c, &desired, &Ledger::default()).await.unwrap();
    match engine::plan(&desired, &observed, &Ledger::default(), &opts()) {
        Err(e) => e.to_string(),
        Ok(p) => panic!("planned: {:#?}", p.changes),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_matching_no_app_or_two_is_refused_at_plan() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch("app-assignments.toml", ASSIGNMENT, &[]);
    let why = refusal(&c, &dst).await;
    assert!(why.contains(ADDRESS) && why.contains("no app named `Contoso VPN`"), "{why}");

    let a = seed_app(&sb, "Contoso VPN").await;
    let b = seed_app(&sb, "contoso vpn").await;
    let why = refusal(&c, &dst).await;
    assert!(why.contains("2 apps are named") && why.contains(&a) && why.contains(&b), "{why}");
    sb.shutdown().await.unwrap();
}

#[test]
fn assigning_a_declared_app_through_app_assignment_is_a_located_error() {
    let text = format!("{ASSIGNMENT}\n[winget_app.vpn-app]\ndisplay_name = \"Contoso VPN\"\npackage_identifier = \"Contoso.VPN\"\ninstall_experience = {{ run_as_account = \"system\" }}\npublisher = \"Contoso\"\n");
    let (_dir, dst) = scratch("app-assignments.toml", &text, &[]);
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "declared-app").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(3), "{d}");
}
