//! Issue 13 (perf3): apply of an app assignment reuses what the plan read
//! of the app (its intents' settings and its type, carried in the change's
//! `live`) instead of `GET mobileApps/{id}?$expand=assignments` before its
//! `/assign`, and reads the app again only when the plan carries none; the
//! settings desired state leaves undeclared are kept either way.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const DECLARED: &str = r#"
[app_assignment.vpn]
app = "Contoso VPN"

[app_assignment.vpn.assignments]
required = { include = ["mwd-test"] }
available_without_enrollment = { all_users = true }

[app_assignment.vpn.assignments.settings.required]
notifications = "showReboot"
"#;

/// The same targets, without the without-enrollment intent and without
/// the required intent's settings (kept from the live ones).
const NARROWED: &str = r#"
[app_assignment.vpn]
app = "Contoso VPN"

[app_assignment.vpn.assignments]
required = { include = ["mwd-test"] }
"#;

/// The without-enrollment intent back, still no settings declared.
const WIDENED: &str = r#"
[app_assignment.vpn]
app = "Contoso VPN"

[app_assignment.vpn.assignments]
required = { include = ["mwd-test"] }
available_without_enrollment = { all_users = true }
"#;

const ADDRESS: &str = "app_assignment.vpn";
const APP_READ: &str = "GET /beta/deviceAppManagement/mobileApps/{id}";
const ASSIGN: &str = "POST /beta/deviceAppManagement/mobileApps/{id}/assign";

async fn seed_app(sb: &sandbox::SandboxHandle) -> String {
    let url = format!("{}/_sandbox/objects/mobileApps", sb.base_url());
    let body = json!({"@odata.type": "#microsoft.graph.win32LobApp", "displayName": "Contoso VPN", "publisher": "Contoso", "fileName": "vpn.intunewin"});
    let r = reqwest::Client::new().post(&url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// The required intent's settings of the live app.
async fn required_settings(c: &providers::graph::GraphClient, id: &str) -> serde_json::Value {
    let app = c.beta().get_json(&format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments")).await.unwrap();
    app["assignments"].as_array().into_iter().flatten().find(|a| a["intent"] == json!("required")).map(|a| a["settings"].clone()).unwrap_or_default()
}

#[test]
fn the_engine_carries_every_settings_prop_and_the_app_type_the_provider_reads() {
    use providers::kinds::mobile_app::{APP_TYPE, SETTINGS_PROPS};
    let carried = engine::plan_app_live::CARRIED;
    for (_, p) in SETTINGS_PROPS {
        assert!(carried.contains(&p), "{p} is not carried in the plan");
    }
    assert!(carried.contains(&APP_TYPE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_assignment_is_assigned_from_the_plans_read_and_reread_only_without_one() {
    let sb = sandbox().await;
    let c = client(&sb);
    let id = seed_app(&sb).await;
    let (_dir, dst) = scratch("app-assignments.toml", DECLARED, &["app_assignment"]);
    let mut ledger = Ledger::default();

    // The first assign: the plan carries the app's type, no settings yet.
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign]);
    let carried = p.changes.iter().find(|c| c.address.to_string() == ADDRESS).and_then(|c| c.live.clone()).expect("the plan carries the app's read");
    assert_eq!(carried.get("@tenantctl.appType"), Some(&json!("#microsoft.graph.win32LobApp")), "{carried:?}");
    assert!(carried.keys().all(|k| engine::plan_app_live::CARRIED.contains(&k.as_str())), "only settings and the type, never targets: {carried:?}");
    sb.reset_counts();
    apply(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    assert_eq!(counts.get(APP_READ), 0, "the app is not read again before /assign: {counts:#?}");
    assert_eq!(counts.get(ASSIGN), 1, "{counts:#?}");
    let settings = required_settings(&c, &id).await;
    assert_eq!(settings["@odata.type"], json!("#microsoft.graph.win32LobAppAssignmentSettings"), "the settings type comes from the carried app type: {settings}");
    assert_eq!(settings["notifications"], json!("showReboot"));

    // Settings no longer declared are kept from the plan's read.
    std::fs::write(dst.join("app-assignments.toml"), NARROWED).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign], "{:#?}", p.changes);
    sb.reset_counts();
    apply(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    assert_eq!(counts.get(APP_READ), 0, "{counts:#?}");
    assert_eq!(required_settings(&c, &id).await["notifications"], json!("showReboot"), "undeclared settings are kept");

    // A plan without the read (made before plans carried it): the app is
    // read again, and its undeclared settings are still kept.
    std::fs::write(dst.join("app-assignments.toml"), WIDENED).unwrap();
    let mut p = plan(&c, &load(&dst), &ledger).await;
    let change = p.changes.iter_mut().find(|c| c.address.to_string() == ADDRESS).expect("the without-enrollment intent comes back");
    change.live = None;
    sb.reset_counts();
    apply(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    assert_eq!(counts.get(APP_READ), 1, "without the plan's read the app is read before /assign: {counts:#?}");
    assert_eq!(counts.get(ASSIGN), 1, "{counts:#?}");
    assert_eq!(required_settings(&c, &id).await["notifications"], json!("showReboot"));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}
