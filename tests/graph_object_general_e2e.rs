//! `graph_object` on any collection Graph's metadata defines (not a
//! hand-kept list): an Entra collection (`/policies/tokenLifetimePolicies`,
//! whose write permission the app must be granted) and an Intune one with
//! assignments (`/deviceAppManagement/mobileAppConfigurations`: written
//! with its `assign` action, read with `$expand=assignments`, the Intune
//! kinds' assignment shape and lints), served by the sandbox from the
//! metadata alone (no sandbox code for either), which refuses what Graph's
//! reader refuses.

mod common;
#[path = "common/apps.rs"]
mod apps;

use apps::*;
use common::kind::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const OBJECTS: &str = r##"
[graph_object.web-token-lifetime]
collection = "/policies/tokenLifetimePolicies"
api = "v1.0"
odata_type = "#microsoft.graph.tokenLifetimePolicy"
natural_key = "displayName"
body = { displayName = "Contoso web sign-in", definition = ['{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"8:00:00"}}'], isOrganizationDefault = false }

[graph_object.vpn-config]
collection = "/deviceAppManagement/mobileAppConfigurations"
api = "v1.0"
odata_type = "#microsoft.graph.iosMobileAppConfiguration"
natural_key = "displayName"
body = { displayName = "Contoso VPN settings", targetedMobileApps = [], settings = [{ appConfigKey = "server", appConfigKeyType = "stringType", appConfigKeyValue = "vpn.contoso.com" }] }
assignments = { include = ["mwd-test"], exclude = ["mwd-broad"] }
"##;

const TOKEN: &str = "graph_object.web-token-lifetime";
const VPN: &str = "graph_object.vpn-config";

/// The sandbox with the documented permissions and the one token lifetime
/// policies need (Policy.ReadWrite.ApplicationConfiguration).
async fn sandbox_for_policies() -> sandbox::SandboxHandle {
    let sb = sandbox().await;
    let mut p = sb.permissions();
    p.push("Policy.ReadWrite.ApplicationConfiguration".into());
    sb.set_permissions(p).unwrap();
    sb
}

/// (target type, group id) of a live object's assignments, sorted.
fn targets(live: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = live["value"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (a["target"]["@odata.type"].as_str().unwrap_or_default().trim_start_matches("#microsoft.graph.").to_string(), a["target"]["groupId"].as_str().unwrap_or_default().to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_and_an_assigned_intune_collection_round_trip() {
    let sb = sandbox_for_policies().await;
    let c = client(&sb);
    let (_dir, dst) = scratch("graph-objects.toml", OBJECTS, &["graph_object"]);
    let mut ledger = Ledger::default();

    // Create both; the app configuration is assigned through `assign`.
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, TOKEN).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    assert_eq!(app_changes(&p, VPN).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    apply(&c, &p, &mut ledger).await;
    let token = c.v1().get_json(&format!("/policies/tokenLifetimePolicies/{}", id_of(&ledger, TOKEN))).await.unwrap();
    assert_eq!(token["displayName"], json!("Contoso web sign-in"));
    let vpn_path = format!("/deviceAppManagement/mobileAppConfigurations/{}", id_of(&ledger, VPN));
    let assigned = c.v1().get_json(&format!("{vpn_path}/assignments")).await.unwrap();
    let (test, first, broad) = (id_of(&ledger, "group.mwd-test"), id_of(&ledger, "group.mwd-first"), id_of(&ledger, "group.mwd-broad"));
    assert_eq!(targets(&assigned), [("exclusionGroupAssignmentTarget".to_string(), broad.clone()), ("groupAssignmentTarget".to_string(), test.clone())]);
    assert_eq!(assigned["value"][0]["@odata.type"], json!("#microsoft.graph.managedDeviceMobileAppConfigurationAssignment"));
    let again = plan(&c, &load(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // An assignment change is the whole resulting set, sent with `assign`.
    std::fs::write(dst.join("graph-objects.toml"), OBJECTS.replace("include = [\"mwd-test\"]", "include = [\"mwd-test\", \"mwd-first\"]")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, VPN), vec![(Action::Assign, vec!["assignments.include".to_string()])]);
    assert!(app_changes(&p, TOKEN).is_empty());
    apply(&c, &p, &mut ledger).await;
    let assigned = c.v1().get_json(&format!("{vpn_path}/assignments")).await.unwrap();
    let mut want = vec![("exclusionGroupAssignmentTarget".to_string(), broad.clone()), ("groupAssignmentTarget".to_string(), test.clone()), ("groupAssignmentTarget".to_string(), first.clone())];
    want.sort();
    assert_eq!(targets(&assigned), want);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // An assignment added in the portal is drift, put back.
    let body = json!({"assignments": [{"@odata.type": "#microsoft.graph.managedDeviceMobileAppConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
    c.v1().post_json(&format!("{vpn_path}/assign"), body).await.unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, VPN).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Assign], "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(targets(&c.v1().get_json(&format!("{vpn_path}/assignments")).await.unwrap()), want);

    // A body property changed in the portal (Entra) is drift too.
    patch_out_of_band(&sb, "policies.tokenLifetimePolicies", &id_of(&ledger, TOKEN), json!({"isOrganizationDefault": true})).await;
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, TOKEN), vec![(Action::Update, vec!["isOrganizationDefault".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export (told the collections) writes the assignments and re-imports empty.
    let files = export_reimports_empty(&sb, &c, Some(&dst)).await;
    let text = files.get("graph-objects.toml").expect("graph-objects.toml exported");
    assert!(text.contains("collection = \"/policies/tokenLifetimePolicies\""), "{text}");
    assert!(text.contains("[graph_object.contoso-vpn-settings.assignments]") && text.contains("exclude = [\"") && text.contains("appConfigKeyValue = \"vpn.contoso.com\""), "{text}");

    // No longer declared, with another object keeping its collection
    // declared: deleted. (With none, its collection is not read: unknown,
    // never deleted blind; see graph_object_e2e.)
    let other = "\n[graph_object.other-config]\ncollection = \"/deviceAppManagement/mobileAppConfigurations\"\napi = \"v1.0\"\nodata_type = \"#microsoft.graph.iosMobileAppConfiguration\"\nnatural_key = \"displayName\"\nbody = { displayName = \"Contoso mail settings\" }\n";
    std::fs::write(dst.join("graph-objects.toml"), format!("{}{other}", &OBJECTS[..OBJECTS.find("[graph_object.vpn-config]").unwrap()])).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(app_changes(&p, VPN).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.v1().get_json(&vpn_path).await.is_err_and(|e| e.is_not_found()));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_collections_permission_the_write_is_refused_not_guessed() {
    // The default grant (tenantctl's documented list) has no
    // Policy.ReadWrite.ApplicationConfiguration: the sandbox refuses the
    // create as Graph does and apply reports it.
    let sb = sandbox().await;
    let (dir, dst) = scratch("graph-objects.toml", &OBJECTS[..OBJECTS.find("[graph_object.vpn-config]").unwrap()], &["graph_object"]);
    let o = cli(&sb, dir.path(), &["apply", dst.to_str().unwrap(), "--auto-approve"]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("graph_object.web-token-lifetime") && out.contains("403"), "{out}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_sandbox_collection_is_as_strict_as_graphs_reader() {
    let sb = sandbox_for_policies().await;
    let c = client(&sb);
    let base = "/deviceAppManagement/mobileAppConfigurations";
    let ok = json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration", "displayName": "X"});
    let id = c.v1().post_json(base, ok).await.expect("a valid body is created").body.unwrap()["id"].as_str().unwrap().to_string();
    for (what, body) in [
        ("unknown property", json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration", "displayName": "Y", "colour": "red"})),
        ("wrong type", json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration", "displayName": 7})),
        ("not a member of the enum", json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration", "displayName": "Y", "settings": [{"appConfigKey": "k", "appConfigKeyType": "colour", "appConfigKeyValue": "v"}]})),
        ("not a type of the collection", json!({"@odata.type": "#microsoft.graph.termsAndConditions", "displayName": "Y"})),
        ("no name", json!({"@odata.type": "#microsoft.graph.iosMobileAppConfiguration"})),
    ] {
        let e = c.v1().post_json(base, body).await.expect_err(what);
        assert!(e.to_string().contains("400"), "{what}: {e}");
    }
    // An entra collection: unknown property and wrong value type refused.
    for body in [json!({"displayName": "P", "definition": ["{}"], "deletedDateTime": "2026-01-01T00:00:00Z"}), json!({"displayName": "P", "definition": "{}"}), json!({"displayName": "P", "definition": ["{}"], "isOrganizationDefault": "yes"})] {
        let e = c.v1().post_json("/policies/tokenLifetimePolicies", body).await.expect_err("refused");
        assert!(e.to_string().contains("400"), "{e}");
    }
    // assign: a target type Graph does not have is refused; one of the
    // assignment type's properties is checked.
    let bad = json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget"}, "intent": "required"}]});
    assert!(c.v1().post_json(&format!("{base}/{id}/assign"), bad).await.is_err());
    // A collection Graph has no assign action for takes none.
    let t = c.v1().post_json("/policies/tokenLifetimePolicies", json!({"displayName": "P", "definition": ["{}"]})).await.unwrap().body.unwrap();
    let tid = t["id"].as_str().unwrap();
    assert!(c.v1().post_json(&format!("/policies/tokenLifetimePolicies/{tid}/assign"), json!({"assignments": []})).await.is_err());
    sb.shutdown().await.unwrap();
}

#[test]
fn assignments_and_collections_are_checked_at_load() {
    // assignments on a collection Graph does not assign.
    let terms = "[graph_object.terms]\ncollection = \"/deviceManagement/termsAndConditions\"\napi = \"beta\"\nodata_type = \"#microsoft.graph.termsAndConditions\"\nnatural_key = \"displayName\"\nbody = { displayName = \"T\", title = \"T\" }\nassignments = { include = [\"mwd-test\"] }\n";
    let (_dir, dst) = scratch("graph-objects.toml", terms, &[]);
    assert_error_at(&load_errors(&dst), "graph-objects.toml", "assignments-not-supported", 7);
    // An unknown group in assignments, at its line.
    let (_dir, dst) = scratch("graph-objects.toml", &OBJECTS.replace("exclude = [\"mwd-broad\"]", "exclude = [\"mwd-nope\"]"), &[]);
    let d = load_errors(&dst);
    assert!(d.errors().any(|e| e.message.contains("mwd-nope") && e.location.as_ref().is_some_and(|l| l.line == 15)), "{d}");
    // A collection a kind manages is refused, pointing at the kind; a typo gets a suggestion.
    for (from, to, help) in [
        ("/deviceAppManagement/mobileAppConfigurations", "/deviceManagement/deviceHealthScripts", "graph_object takes"),
        ("/policies/tokenLifetimePolicies", "/policies/tokenLifetimePolicys", "did you mean `/policies/tokenLifetimePolicies`?"),
    ] {
        let (_dir, dst) = scratch("graph-objects.toml", &OBJECTS.replace(from, to), &[]);
        let d = load_errors(&dst);
        let e = d.errors().find(|e| e.code == "unknown-collection").unwrap_or_else(|| panic!("{to}: {d}"));
        assert!(e.help.as_deref().is_some_and(|h| h.contains(help)), "{to}: {d}");
    }
    // Every collection a tenantctl kind manages is refused as graph_object.
    for p in providers::kinds::registry::all().filter(|p| p.kind != schema::Kind::GraphObject) {
        assert!(schema::kinds::graph_object::modelled(p.collection), "{}: {} is not refused as a graph_object collection", p.kind, p.collection);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_object_assigned_to_service_accounts_is_an_error() {
    let sb = sandbox().await;
    let (dir, dst) = scratch("graph-objects.toml", &OBJECTS.replace("include = [\"mwd-test\"], exclude = [\"mwd-broad\"]", "all_users = true"), &[]);
    let o = cli(&sb, dir.path(), &["validate", dst.to_str().unwrap()]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] graph_object.vpn-config: reaches service account"), "{out}");
    sb.shutdown().await.unwrap();
}
