//! The `scope_tag` kind (beta `deviceManagement/roleScopeTags`): a tag is
//! created and auto-assigned to its groups' devices with `/assign`, a
//! converged tenant plans empty, a description change is an update, a
//! group change is an assignment, a rename in Intune is drift, export
//! writes the tag (never Intune's built-in Default tag) and re-imports
//! empty, and an owned tag no longer declared is deleted. The built-in tag
//! is never reported as unmanaged; bad tags are located errors.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const TAGS: &str = r#"
[scope_tag.helpdesk]
display_name = "Helpdesk Amsterdam"
description = "Devices the Amsterdam helpdesk manages"
assignments = { include = ["mwd-test"] }
"#;

const TAG: &str = "scope_tag.helpdesk";

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["scope_tag"], "the scope_tag kind", "tags.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_tag_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(TAGS);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let create: Vec<_> = p.changes.iter().filter(|c| c.address.to_string() == TAG).collect();
    assert_eq!(create.len(), 1, "{:#?}", p.changes);
    assert_eq!(create[0].action, Action::Create);
    assert!(create[0].waits_on.iter().any(|w| w.to_string() == "group.mwd-test"), "{:#?}", create[0]);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, TAG);
    let live = c.beta().get_json(&format!("/deviceManagement/roleScopeTags/{id}")).await.unwrap();
    assert_eq!((live["displayName"].clone(), live["isBuiltIn"].clone()), (json!("Helpdesk Amsterdam"), json!(false)));
    let assigned = c.beta().get_json(&format!("/deviceManagement/roleScopeTags/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["@odata.type"], json!("#microsoft.graph.roleScopeTagAutoAssignment"), "{assigned}");
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(id_of(&ledger, "group.mwd-test")), "{assigned}");

    // Converged: empty, and the built-in Default tag is not unmanaged drift.
    let state = load_ok(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    assert!(observed.objects[&schema::Kind::ScopeTag].iter().any(|o| o.id == "0"), "the built-in tag is read");
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    assert!(p.changes.is_empty(), "{:#?}", p.changes);
    let report = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    assert!(!report.items.iter().any(|i| i.address.starts_with("scope_tag.")), "{:#?}", report.items);

    // Update and assignment change.
    let described = TAGS.replace("Devices the Amsterdam", "Devices the Amsterdam and Utrecht");
    std::fs::write(dst.join("tags.toml"), &described).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(p.changes[0].fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["description"]);
    apply(&c, &p, &mut ledger).await;
    std::fs::write(dst.join("tags.toml"), described.replace("include = [\"mwd-test\"]", "include = [\"mwd-first\"]")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let tag: Vec<_> = p.changes.iter().filter(|c| c.address.to_string() == TAG).collect();
    assert_eq!(tag.len(), 1, "{:#?}", p.changes);
    assert_eq!(tag[0].action, Action::Assign, "{:#?}", tag[0]);
    assert!(tag[0].fields.iter().any(|f| f.field.starts_with("assignments")), "{:#?}", tag[0]);
    apply(&c, &p, &mut ledger).await;
    let assigned = c.beta().get_json(&format!("/deviceManagement/roleScopeTags/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(id_of(&ledger, "group.mwd-first")), "{assigned}");
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: renamed in Intune.
    patch_out_of_band(&sb, "roleScopeTags", &id, serde_json::json!({"displayName": "Helpdesk"})).await;
    let state = load_ok(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    let report = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    let item = report.items.iter().find(|i| i.address == TAG).expect("the tag drifted");
    assert_eq!(item.drift, engine::drift::DriftKind::Changed);
    apply(&c, &p, &mut ledger).await;

    // Export: the tag, not the built-in one; re-imported empty.
    let (tmp, out) = export_tenant(&sb);
    let tags = std::fs::read_to_string(out.join("scope-tags.toml")).unwrap();
    assert!(tags.contains("[scope_tag.helpdesk-amsterdam]") && !tags.contains("Default"), "{tags}");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Delete.
    std::fs::remove_file(dst.join("tags.toml")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let delete: Vec<_> = p.changes.iter().filter(|c| c.address.to_string() == TAG).collect();
    assert_eq!(delete.len(), 1, "{:#?}", p.changes);
    assert_eq!(delete[0].action, Action::Delete);
    apply(&c, &p, &mut ledger).await;
    let gone = c.beta().get_json(&format!("/deviceManagement/roleScopeTags/{id}")).await;
    assert!(gone.is_err_and(|e| e.is_not_found()), "the tag is still there");
    // The built-in tag cannot be deleted, as in Intune.
    let refused = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::DELETE, "/deviceManagement/roleScopeTags/0")).await;
    assert!(refused.is_err(), "the built-in tag was deleted");
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_scope_tags_are_located_errors() {
    let bad = r#"
[scope_tag.default]
display_name = "Default"

[scope_tag.everyone]
display_name = "Everyone"
assignments = { include = ["mwd-test"], exclude = ["mwd-broad"] }
"#;
    let (_dir, dst) = scratch(bad);
    let d = load_errors(&dst);
    let at = |code: &str, line: usize| assert_error_at(&d, "tags.toml", code, line);
    at("reserved-name", 3);
    at("unsupported-assignment", 7);
}

const TAGGED: &str = r#"
[scope_tag.helpdesk]
display_name = "Helpdesk Amsterdam"

[device_configuration.tagged-restrictions]
odata_type = "windows10GeneralConfiguration"
display_name = "Tagged Restrictions"
settings = { passwordRequired = true }
scope_tags = ["helpdesk", "default"]
assignments = { include = ["mwd-test"] }

[feature_update_profile.tagged]
display_name = "Tagged Windows"
feature_update_version = "Windows 11, version 24H2"
scope_tags = ["scope_tag.helpdesk"]
"#;

/// The sorted scope tag ids of a live object.
async fn live_tags(c: &providers::graph::GraphClient, path: &str) -> Vec<String> {
    let live = c.beta().get_json(path).await.unwrap();
    let mut tags: Vec<String> = live["roleScopeTagIds"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    tags.sort();
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_carry_scope_tags_by_key_written_read_and_exported_as_ids() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(TAGGED);
    let mut ledger = Ledger::default();

    let p = plan(&c, &load_ok(&dst), &ledger).await;
    for a in ["device_configuration.tagged-restrictions", "feature_update_profile.tagged"] {
        let ch = p.changes.iter().find(|c| c.address.to_string() == a).unwrap_or_else(|| panic!("{a} is not planned"));
        assert!(ch.waits_on.iter().any(|w| w.to_string() == TAG), "{a} does not wait for its tag: {ch:#?}");
    }
    apply(&c, &p, &mut ledger).await;
    let tag = id_of(&ledger, TAG);
    let config = format!("/deviceManagement/deviceConfigurations/{}", id_of(&ledger, "device_configuration.tagged-restrictions"));
    let profile = format!("/deviceManagement/windowsFeatureUpdateProfiles/{}", id_of(&ledger, "feature_update_profile.tagged"));
    let mut both = vec!["0".to_string(), tag.clone()];
    both.sort();
    assert_eq!(live_tags(&c, &config).await, both);
    assert_eq!(live_tags(&c, &profile).await, vec![tag.clone()]);
    // Converged: empty (and the example's policies, tagged Default by
    // Intune and declaring no tags, are no drift).
    let again = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // A change of tags is an update of roleScopeTagIds, written as ids.
    std::fs::write(dst.join("tags.toml"), TAGGED.replace("scope_tags = [\"helpdesk\", \"default\"]", "scope_tags = [\"default\"]")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["roleScopeTagIds"]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_tags(&c, &config).await, vec!["0".to_string()]);
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: the profile's tag removed in Intune.
    let url = format!("{}/_sandbox/objects/windowsFeatureUpdateProfiles/{}", sb.base_url(), id_of(&ledger, "feature_update_profile.tagged"));
    let r = reqwest::Client::new().patch(&url).json(&json!({"roleScopeTagIds": ["0"]})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let ch = p.changes.iter().find(|c| c.address.to_string() == "feature_update_profile.tagged").expect("the removed tag is drift");
    assert_eq!(ch.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["roleScopeTagIds"]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_tags(&c, &profile).await, vec![tag.clone()]);

    // Export names the tag by key, and re-imports empty.
    let (tmp, out) = export_tenant(&sb);
    let profiles = std::fs::read_to_string(out.join("feature-update-profiles.toml")).unwrap();
    assert!(profiles.contains("scope_tags = [\"helpdesk-amsterdam\"]"), "{profiles}");
    let configs = std::fs::read_to_string(out.join("device-configurations.toml")).unwrap();
    assert!(!configs.contains("roleScopeTagIds"), "{configs}");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Graph refuses a tag id it does not have.
    let refused = c
        .beta()
        .execute(providers::graph::GraphRequest::new(providers::graph::Method::PATCH, config.clone()).json(json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "roleScopeTagIds": ["424242"]})))
        .await;
    assert!(refused.is_err_and(|e| e.to_string().contains("424242")), "an unknown tag id is accepted");
    sb.shutdown().await.unwrap();
}

#[test]
fn an_undeclared_scope_tag_is_a_located_error() {
    let (_dir, dst) = scratch(&TAGGED.replace("scope_tags = [\"scope_tag.helpdesk\"]", "scope_tags = [\"scope_tag.helpdesc\"]"));
    let d = match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    };
    let e = d.errors().find(|e| e.code == "unknown-reference").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(15), "{d}");
}
