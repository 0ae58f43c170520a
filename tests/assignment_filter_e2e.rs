//! The `assignment_filter` kind, added through the kind registry: a filter
//! declared in TOML is created before the policy whose assignment names it
//! by key, the policy's target carries the new filter's id, a converged
//! tenant plans empty, a rule change is an update, a rule changed in Intune
//! is drift, a mode change is an assignment change, export writes the
//! filter and the policy's reference to it by key (and re-imports empty),
//! and an undeclared filter the ledger owns is deleted.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

const FILTERS: &str = include_str!("fixtures/filtered-policy.toml");

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["assignment_filter"], "the assignment_filter kind", "filters.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(FILTERS);
    let mut ledger = Ledger::default();

    // Create: the filter first, the policy waits on it.
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let filter = changes_of(&p, "assignment_filter.corporate-laptops");
    assert_eq!(filter.len(), 1, "{:#?}", p.changes);
    assert_eq!(filter[0].action, Action::Create);
    let policy = changes_of(&p, "device_configuration.filtered-restrictions");
    assert!(
        policy[0].waits_on.iter().any(|a| a.to_string() == "assignment_filter.corporate-laptops"),
        "the policy does not wait for its filter: {:#?}",
        policy[0]
    );
    apply(&c, &p, &mut ledger).await;
    let fid = id_of(&ledger, "assignment_filter.corporate-laptops");
    let pid = id_of(&ledger, "device_configuration.filtered-restrictions");
    let live = c.beta().get_json(&format!("/deviceManagement/assignmentFilters/{fid}")).await.unwrap();
    assert_eq!(live["displayName"], json!("Corporate laptops"));
    assert_eq!(live["platform"], json!("windows10AndLater"));
    assert_eq!(live["rule"], json!("(device.deviceOwnership -eq \"Corporate\")"));
    let assigned = c.beta().get_json(&format!("/deviceManagement/deviceConfigurations/{pid}/assignments")).await.unwrap();
    let target = &assigned["value"][0]["target"];
    assert_eq!(target["deviceAndAppManagementAssignmentFilterId"], json!(fid), "{assigned}");
    assert_eq!(target["deviceAndAppManagementAssignmentFilterType"], json!("include"), "{assigned}");

    // Converged: empty.
    let again = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update: a new rule is an update of the filter alone.
    let new_rule = r#"(device.deviceOwnership -eq "Corporate") and (device.model -startsWith "Surface")"#;
    std::fs::write(dst.join("filters.toml"), FILTERS.replace(r#"'(device.deviceOwnership -eq "Corporate")'"#, &format!("'{new_rule}'"))).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(p.changes[0].fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["rule"]);
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&format!("/deviceManagement/assignmentFilters/{fid}")).await.unwrap();
    assert_eq!(live["rule"], json!(new_rule));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: the rule changed in Intune shows as that change, in the drift report too.
    patch_out_of_band(&sb, "assignmentFilters", &fid, serde_json::json!({"rule": "(device.osVersion -startsWith \"10.0\")"})).await;
    let state = load_ok(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    let report = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    assert!(!report.in_sync);
    let item = report.items.iter().find(|i| i.address == "assignment_filter.corporate-laptops").expect("the filter drifted");
    assert_eq!(item.drift, engine::drift::DriftKind::Changed);
    apply(&c, &p, &mut ledger).await;

    // Assignment change: include -> exclude is a change of the policy's assignments.
    let excluded = std::fs::read_to_string(dst.join("filters.toml")).unwrap().replace("mode = \"include\"", "mode = \"exclude\"");
    std::fs::write(dst.join("filters.toml"), &excluded).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let policy = changes_of(&p, "device_configuration.filtered-restrictions");
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(policy[0].action, Action::Assign);
    assert!(policy[0].fields.iter().any(|f| f.field == "assignments.filters.corporate laptops|exclude"), "{:#?}", policy[0]);
    apply(&c, &p, &mut ledger).await;
    let assigned = c.beta().get_json(&format!("/deviceManagement/deviceConfigurations/{pid}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["deviceAndAppManagementAssignmentFilterType"], json!("exclude"), "{assigned}");
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Export: the filter is a table, the policy names it by key, and the
    // export plans empty against the tenant it came from.
    let (tmp, out) = export_tenant(&sb);
    let filters = std::fs::read_to_string(out.join("assignment-filters.toml")).unwrap();
    assert!(filters.contains("[assignment_filter.corporate-laptops]"), "{filters}");
    assert!(filters.contains("platform = \"windows10AndLater\""), "{filters}");
    let configs = std::fs::read_to_string(out.join("device-configurations.toml")).unwrap();
    assert!(configs.contains("filter = \"corporate-laptops\""), "{configs}");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Delete: no longer declared (nor used), the owned filter is removed.
    let policy_only = excluded
        .replace("filters = { mwd-test = { filter = \"corporate-laptops\", mode = \"exclude\" } }", "")
        .split("[device_configuration.filtered-restrictions]")
        .nth(1)
        .map(|rest| format!("[device_configuration.filtered-restrictions]{rest}"))
        .unwrap();
    std::fs::write(dst.join("filters.toml"), policy_only).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let delete = changes_of(&p, "assignment_filter.corporate-laptops");
    assert_eq!(delete.len(), 1, "{:#?}", p.changes);
    assert_eq!(delete[0].action, Action::Delete);
    apply(&c, &p, &mut ledger).await;
    let gone = c.beta().get_json(&format!("/deviceManagement/assignmentFilters/{fid}")).await;
    assert!(gone.is_err_and(|e| e.is_not_found()), "the filter is still there");
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_filters_are_located_errors() {
    let bad = r#"
[assignment_filter.broken]
display_name = "Broken"
platform = "windows10AndLater"
rule = '(device.deviceOwnership -eq "Corporate"'

[device_configuration.misfiltered]
odata_type = "windows10GeneralConfiguration"
display_name = "Misfiltered"

[device_configuration.misfiltered.assignments]
include = ["mwd-test"]
filters = { mwd-test = { filter = "assignment_filter.corporate", mode = "include" } }
"#;
    let (_dir, dst) = scratch(bad);
    let err = match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    };
    let rule = err.errors().find(|d| d.code == "invalid-filter-rule").expect("the rule is refused");
    let loc = rule.location.as_ref().expect("located");
    assert!(loc.file.ends_with("filters.toml") && loc.line == 5, "{loc:?}");
    assert!(rule.message.contains("unbalanced parentheses"), "{}", rule.message);
    let reference = err.errors().find(|d| d.code == "unknown-reference").expect("the reference is refused");
    let loc = reference.location.as_ref().expect("located");
    assert!(loc.file.ends_with("filters.toml") && loc.line == 13, "{loc:?}");
    assert!(reference.message.contains("assignment_filter"), "{}", reference.message);

    let (_dir, dst) = scratch(&bad.replace("platform = \"windows10AndLater\"", "platform = \"windows\""));
    match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => assert!(
            d.errors().any(|e| e.location.as_ref().is_some_and(|l| l.file.ends_with("filters.toml") && l.line == 4)),
            "{d:?}"
        ),
        other => panic!("expected errors, got {other:?}"),
    }
}

#[test]
fn a_filter_named_by_its_key_resolves_to_its_display_name() {
    let (_dir, dst) = scratch(FILTERS);
    let state = load_ok(&dst);
    let model = providers::kinds::desired_model(&state);
    let policy = model.resources.values().find(|r| r.address.to_string() == "device_configuration.filtered-restrictions").unwrap();
    let filters: &Value = &policy.props["assignments"]["filters"];
    assert!(filters.get("corporate laptops|include").is_some(), "{filters}");
}

#[test]
fn two_filters_with_one_display_name_or_a_malformed_reference_are_refused() {
    let text = r#"
[assignment_filter.a]
display_name = "Corporate laptops"
platform = "windows10AndLater"
rule = '(device.deviceOwnership -eq "Corporate")'

[assignment_filter.b]
display_name = "corporate LAPTOPS"
platform = "windows10AndLater"
rule = '(device.deviceOwnership -eq "Corporate")'

[group.devices]
display_name = "Devices"
mail_nickname = "devices"

[device_configuration.p]
odata_type = "windows10GeneralConfiguration"
display_name = "P"
assignments = { include = ["devices"], filters = { devices = { filter = "assignment_filter.", mode = "include" } } }
"#;
    let d = match schema::load_str(&[("f.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("accepted: {other:?}"),
    };
    let clash = d.errors().find(|e| e.code == "duplicate-natural-key").expect("the clash is refused");
    assert!(clash.message.contains("assignment_filter.b") && clash.message.contains("assignment_filter.a"), "{}", clash.message);
    assert_eq!(clash.location.as_ref().map(|l| l.line), Some(8));
    let reference = d.errors().find(|e| e.code == "unknown-reference").expect("the empty address is refused");
    assert_eq!(reference.location.as_ref().map(|l| l.line), Some(19));
}
