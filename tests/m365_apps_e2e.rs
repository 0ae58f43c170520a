//! The `m365_apps` kind (beta `deviceAppManagement/mobileApps`,
//! `#microsoft.graph.officeSuiteApp`): created with products, excluded
//! apps, channel, architecture and languages; a channel change is an
//! update, an assignment change an `assign`; export re-imports empty; an
//! owned suite no longer declared is deleted; an update channel Graph
//! does not know is a located error.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const SUITE: &str = r#"
[m365_apps.office]
display_name = "Microsoft 365 Apps for Windows"
publisher = "Microsoft"
product_ids = ["o365ProPlusRetail"]
excluded_apps = { groove = true, lync = true }
update_channel = "monthlyEnterprise"
office_platform_architecture = "x64"
locales_to_install = ["en-US", "nl-nl"]
assignments = { required = { include = ["mwd-test"] } }
"#;

const ADDRESS: &str = "m365_apps.office";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_365_apps_are_created_updated_assigned_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch("office.toml", SUITE, &["m365_apps"]);
    let mut ledger = Ledger::default();

    let (id, live) = create_app(&c, &dst, &mut ledger, ADDRESS).await;
    let path = format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments");
    assert_eq!(live["@odata.type"], json!("#microsoft.graph.officeSuiteApp"));
    assert_eq!(live["productIds"], json!(["o365ProPlusRetail"]));
    assert_eq!(live["excludedApps"]["groove"], json!(true));
    // Graph answers with every app of excludedApps (those kept false).
    assert_eq!(live["excludedApps"]["word"], json!(false));
    assert_eq!(live["updateChannel"], json!("monthlyEnterprise"));
    assert_eq!(intents(&live).iter().map(|i| i.0.as_str()).collect::<Vec<_>>(), ["required"]);
    // Languages compare case-insensitively and as a set; Intune's
    // defaults for what is not declared are no drift.
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update.
    std::fs::write(dst.join("office.toml"), SUITE.replace("monthlyEnterprise", "current")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS), vec![(Action::Update, vec!["updateChannel".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["updateChannel"], json!("current"));

    // Assignment change: available to all users as well.
    let wider = SUITE.replace("monthlyEnterprise", "current").replace("required = { include = [\"mwd-test\"] }", "required = { include = [\"mwd-test\"] }, available = { all_users = true }");
    std::fs::write(dst.join("office.toml"), &wider).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(intents(&c.beta().get_json(&path).await.unwrap()).iter().map(|i| i.0.as_str()).collect::<Vec<_>>(), ["available", "required"]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    let files = export_reimports_empty(&sb, &c, None).await;
    let text = files.get("m365-apps.toml").expect("m365-apps.toml exported");
    assert!(text.contains("o365ProPlusRetail") && text.contains("update_channel = \"current\""), "{text}");

    std::fs::remove_file(dst.join("office.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&format!("/deviceAppManagement/mobileApps/{id}")).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn values_graph_does_not_know_are_located_errors() {
    let bad = SUITE.replace("monthlyEnterprise", "monthlyEnterprize").replace("groove = true", "grove = true").replace("o365ProPlusRetail", "office2000");
    let (_dir, dst) = scratch("office.toml", &bad, &[]);
    let d = errors(&dst);
    let channel = d.errors().find(|e| e.message.contains("update_channel")).unwrap_or_else(|| panic!("{d}"));
    assert_eq!(channel.location.as_ref().map(|l| l.line), Some(7), "{d}");
    assert_eq!(channel.help.as_deref(), Some("did you mean `monthlyEnterprise`?"), "{d}");
    let excluded = d.errors().find(|e| e.message.contains("`grove`")).unwrap_or_else(|| panic!("{d}"));
    assert_eq!(excluded.location.as_ref().map(|l| l.line), Some(6), "{d}");
    assert!(d.errors().any(|e| e.message.contains("`office2000`") && e.location.as_ref().map(|l| l.line) == Some(5)), "{d}");
}
