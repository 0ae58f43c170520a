//! The `device_category` kind (beta `deviceManagement/deviceCategories`):
//! created, a converged tenant plans empty, a description change is an
//! update, a rename in Intune is drift, export writes it and re-imports
//! empty, an owned category no longer declared is deleted; two categories
//! with one name are a located error.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const CATEGORIES: &str = r#"
[device_category.kiosk]
display_name = "Kiosk"
description = "Shared kiosk devices"
"#;

const CATEGORY: &str = "device_category.kiosk";

fn changes(p: &engine::Plan) -> Vec<(String, Action, Vec<String>)> {
    p.changes.iter().filter(|c| c.address.to_string() == CATEGORY).map(|c| (c.address.to_string(), c.action, c.fields.iter().map(|f| f.field.clone()).collect())).collect()
}

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["device_category"], "the device_category kind", "categories.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_category_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(CATEGORIES);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(changes(&p).iter().map(|c| c.1).collect::<Vec<_>>(), [Action::Create]);
    apply(&c, &p, &mut ledger).await;
    let id = ledger.id(&CATEGORY.parse().unwrap()).unwrap().to_string();
    let path = format!("/deviceManagement/deviceCategories/{id}");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!((live["displayName"].clone(), live["description"].clone()), (json!("Kiosk"), json!("Shared kiosk devices")));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Update.
    std::fs::write(dst.join("categories.toml"), CATEGORIES.replace("Shared kiosk devices", "Shared kiosk and reception devices")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(changes(&p), vec![(CATEGORY.to_string(), Action::Update, vec!["description".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["description"], json!("Shared kiosk and reception devices"));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: renamed in Intune, put back.
    patch_out_of_band(&sb, "deviceCategories", &id, serde_json::json!({"displayName": "Kiosks"})).await;
    let state = load_ok(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    let report = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    assert!(report.items.iter().any(|i| i.address == CATEGORY && i.drift == engine::drift::DriftKind::Changed), "{:#?}", report.items);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["displayName"], json!("Kiosk"));

    // Export and re-import.
    let (tmp, out) = export_tenant(&sb);
    let exported_text = std::fs::read_to_string(out.join("device-categories.toml")).unwrap();
    assert!(exported_text.contains("[device_category.kiosk]"), "{exported_text}");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Delete.
    std::fs::remove_file(dst.join("categories.toml")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(changes(&p).iter().map(|c| c.1).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn two_categories_with_one_name_are_a_located_error() {
    let (_dir, dst) = scratch(&format!("{CATEGORIES}\n[device_category.kiosk2]\ndisplay_name = \"KIOSK\"\n"));
    let d = match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    };
    let e = d.errors().find(|e| e.code == "duplicate-natural-key").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(7), "{d}");
}
