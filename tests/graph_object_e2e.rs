//! The typed escape hatch `[graph_object.KEY]` (here Intune terms and
//! conditions, a collection no kind models): created, compared on its
//! declared body only, updated, drift put back, exported with `--from`
//! (the declared collections) and re-imported empty, deleted; bodies are
//! checked against Graph's metadata at load with located errors; it is
//! sensitive by default.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const TERMS: &str = r##"
[graph_object.terms]
collection = "/deviceManagement/termsAndConditions"
api = "beta"
odata_type = "#microsoft.graph.termsAndConditions"
natural_key = "displayName"
body = { displayName = "Contoso device terms", title = "Terms of use", bodyText = "Devices are company property.", acceptanceStatement = "I accept" }

[graph_object.guest-terms]
collection = "/deviceManagement/termsAndConditions"
api = "v1.0"
odata_type = "termsAndConditions"
natural_key = "displayName"
body = { displayName = "Contoso guest terms", title = "Guests", bodyText = "Be nice.", acceptanceStatement = "OK" }
"##;

const ADDRESS: &str = "graph_object.terms";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_object_is_created_compared_updated_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch("graph-objects.toml", TERMS, &["graph_object"]);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    assert!(p.sensitive.contains_key(&ADDRESS.parse().unwrap()), "graph_object is sensitive by default: {:#?}", p.sensitive);
    apply(&c, &p, &mut ledger).await;
    let id = ledger.id(&ADDRESS.parse().unwrap()).unwrap().to_string();
    let path = format!("/deviceManagement/termsAndConditions/{id}");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!((live["title"].clone(), live["bodyText"].clone()), (json!("Terms of use"), json!("Devices are company property.")));
    // What Graph sets on its own (version, dates, scope tags) is not compared.
    let again = plan(&c, &load(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update one body property.
    std::fs::write(dst.join("graph-objects.toml"), TERMS.replace("Terms of use", "Device terms of use")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS), vec![(Action::Update, vec!["title".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["title"], json!("Device terms of use"));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Drift in a declared property is put back; an undeclared one is not compared.
    let url = format!("{}/_sandbox/objects/termsAndConditions/{id}", sb.base_url());
    let r = reqwest::Client::new().patch(&url).json(&json!({"bodyText": "Changed in the portal", "description": "not declared"})).send().await.unwrap();
    assert!(r.status().is_success());
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS), vec![(Action::Update, vec!["bodyText".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export, told the collections by --from, re-imports empty.
    let files = export_reimports_empty(&sb, &c, Some(&dst)).await;
    let text = files.get("graph-objects.toml").expect("graph-objects.toml exported");
    assert!(text.contains("collection = \"/deviceManagement/termsAndConditions\"") && text.contains("Device terms of use"), "{text}");

    // Delete (the other object keeps its collection declared).
    let other = TERMS[TERMS.find("[graph_object.guest-terms]").unwrap()..].to_string();
    std::fs::write(dst.join("graph-objects.toml"), &other).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));

    // With no graph_object naming its collection, an owned object is
    // still read from the collection its ledger entry records, and deleted
    // as any owned object no longer declared.
    std::fs::remove_file(dst.join("graph-objects.toml")).unwrap();
    let guest: schema::Address = "graph_object.guest-terms".parse().unwrap();
    assert_eq!(ledger.resources[&guest].location.as_deref(), Some("v1.0:/deviceManagement/termsAndConditions"));
    // A ledger written before the collection was recorded: unknown, never
    // forgotten (the collection cannot be known).
    let mut older = ledger.clone();
    older.resources.get_mut(&guest).unwrap().location = None;
    let p = plan(&c, &load(&dst), &older).await;
    assert!(p.unknown.iter().any(|u| u.address == guest), "{:#?} {:#?}", p.unknown, p.changes);
    assert!(!p.changes.iter().any(|c| c.address == guest), "{:#?}", p.changes);
    let p = plan(&c, &load(&dst), &ledger).await;
    assert!(!p.unknown.iter().any(|u| u.address == guest), "{:#?}", p.unknown);
    assert_eq!(app_changes(&p, "graph_object.guest-terms").iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete], "{:#?}", p.changes);
    let guest_id = ledger.id(&guest).unwrap().to_string();
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&format!("/deviceManagement/termsAndConditions/{guest_id}")).await.is_err_and(|e| e.is_not_found()));
    assert!(ledger.id(&guest).is_none());
    sb.shutdown().await.unwrap();
}

#[test]
fn bodies_are_checked_against_graphs_metadata_at_their_location() {
    let bad = TERMS
        .replace("title = \"Terms of use\"", "titel = \"Terms of use\"")
        .replace("bodyText = \"Devices are company property.\"", "bodyText = 42, createdDateTime = \"2026-01-01T00:00:00Z\", assignments = []");
    let (_dir, dst) = scratch("graph-objects.toml", &bad, &[]);
    let d = errors(&dst);
    let find = |needle: &str| d.errors().find(|e| e.message.contains(needle)).unwrap_or_else(|| panic!("no error about {needle}:\n{d}"));
    let unknown = find("`titel`");
    assert_eq!(unknown.location.as_ref().map(|l| l.line), Some(7), "{d}");
    assert_eq!(unknown.help.as_deref(), Some("did you mean `title`?"));
    assert!(unknown.location.as_ref().is_some_and(|l| l.column > 1), "{d}");
    assert_eq!(find("`bodyText`").location.as_ref().map(|l| l.line), Some(7), "{d}");
    assert_eq!(find("`createdDateTime` is read-only").location.as_ref().map(|l| l.line), Some(7), "{d}");
    assert_eq!(find("`assignments` is a relationship").location.as_ref().map(|l| l.line), Some(7), "{d}");

    for (what, from, to, code, line) in [
        ("collection", "collection = \"/deviceManagement/termsAndConditions\"\napi = \"beta\"", "collection = \"/deviceManagement/termsAndConditionz\"\napi = \"beta\"", "unknown-collection", 3),
        ("modelled", "collection = \"/deviceManagement/termsAndConditions\"\napi = \"beta\"", "collection = \"/users\"\napi = \"beta\"", "unknown-collection", 3),
        ("type", "odata_type = \"#microsoft.graph.termsAndConditions\"", "odata_type = \"#microsoft.graph.windows10GeneralConfiguration\"", "graph-type", 5),
        ("natural key", "natural_key = \"displayName\"\nbody = { displayName = \"Contoso device terms\"", "natural_key = \"name\"\nbody = { displayName = \"Contoso device terms\"", "natural-key", 6),
        ("one natural key per collection", "natural_key = \"displayName\"\nbody = { displayName = \"Contoso guest", "natural_key = \"title\"\nbody = { displayName = \"Contoso guest", "natural-key", 6),
    ] {
        let (_dir, dst) = scratch("graph-objects.toml", &TERMS.replacen(from, to, 1), &[]);
        let d = errors(&dst);
        let e = d.errors().find(|e| e.code == code).unwrap_or_else(|| panic!("{what}: no {code}:\n{d}"));
        assert_eq!(e.location.as_ref().map(|l| l.line), Some(line), "{what}: {d}");
    }
    // A beta-only collection through v1.0.
    let beta_only = "[graph_object.script]\ncollection = \"/deviceManagement/deviceComplianceScripts\"\napi = \"v1.0\"\nodata_type = \"#microsoft.graph.deviceComplianceScript\"\nnatural_key = \"displayName\"\nbody = { displayName = \"Check\", detectionScriptContent = \"JA==\" }\n";
    let (_dir, dst) = scratch("graph-objects.toml", beta_only, &[]);
    let d = errors(&dst);
    assert!(d.errors().any(|e| e.code == "beta-only" && e.location.as_ref().map(|l| l.line) == Some(3)), "{d}");
}
