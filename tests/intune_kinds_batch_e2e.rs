//! The Intune kinds of the `intune` branch (scope tags, device categories,
//! feature/quality/driver update profiles, and `scope_tags` on device
//! configurations) applied with batching on: their creates, `/assign`s,
//! PATCHes and deletes go through the apply `Writer` and so ride in
//! `$batch`; scope tags reach Graph as tag ids; every step converges (the
//! next plan is empty).

mod common;

use std::time::Duration;

use common::*;
use engine::apply::{ApplyOptions, ApplyReport, Status};
use engine::Ledger;
use providers::graph::GraphClient;
use serde_json::{json, Value};

const GROUP: &str = r#"
[group.helpdesk]
display_name = "Helpdesk devices"
mail_nickname = "helpdesk-devices"
"#;

fn state(camera_tags: &str, feature_tags: &str, category_description: &str) -> schema::DesiredState {
    let text = format!(
        r#"{GROUP}
[scope_tag.helpdesk]
display_name = "Helpdesk"
assignments = {{ include = ["helpdesk"] }}

[device_category.kiosk]
display_name = "Kiosk"
description = "{category_description}"
scope_tags = ["helpdesk"]

[device_configuration.camera]
odata_type = "windows10GeneralConfiguration"
display_name = "Camera off"
scope_tags = {camera_tags}
assignments = {{ include = ["helpdesk"] }}

[device_configuration.camera.settings]
cameraBlocked = true

[feature_update_profile.win11]
display_name = "Windows 11 24H2"
feature_update_version = "Windows 11, version 24H2"
scope_tags = {feature_tags}
assignments = {{ include = ["helpdesk"] }}

[quality_update_profile.expedite]
display_name = "Expedite November"
expedited_update_settings = {{ quality_update_release = 2026-11-10T00:00:00Z, days_until_forced_reboot = 1 }}
scope_tags = ["helpdesk"]
assignments = {{ include = ["helpdesk"] }}

[driver_update_profile.drivers]
display_name = "Drivers, automatic"
approval_type = "automatic"
deployment_deferral_in_days = 7
scope_tags = ["helpdesk"]
assignments = {{ include = ["helpdesk"] }}
"#
    );
    schema::load_str(&[("state.toml", &text)]).unwrap_or_else(|e| panic!("the test's desired state is valid: {e}"))
}

async fn apply_batched(client: &GraphClient, plan: &engine::Plan, ledger: &mut Ledger) -> ApplyReport {
    let exec = providers::apply::GraphExecutor::new(client.clone(), |_| None, opts().now)
        .with_create_retry_delay(Duration::from_millis(50))
        .with_batch_linger(Duration::from_millis(200));
    let report = engine::apply::apply(plan, ledger, &exec, &ApplyOptions { concurrency: 4 * 20, now: "2026-11-23T12:00:00Z".into() }, |_, _| {}).await;
    assert!(report.ok(), "{:#?}", report.results.iter().filter(|r| r.status != Status::Applied).collect::<Vec<_>>());
    report
}

fn item(counts: &sandbox::RequestCounts, key: &str) -> u64 {
    counts.batch_items.get(key).copied().unwrap_or(0)
}

fn id_of(ledger: &Ledger, address: &str) -> String {
    ledger.id(&address.parse().unwrap()).unwrap_or_else(|| panic!("{address} is not in the ledger")).to_string()
}

async fn tags_of(c: &GraphClient, path: &str) -> Value {
    c.beta().get_json(path).await.unwrap()["roleScopeTagIds"].clone()
}

const COLLECTIONS: [&str; 6] = [
    "roleScopeTags",
    "deviceCategories",
    "deviceConfigurations",
    "windowsFeatureUpdateProfiles",
    "windowsQualityUpdateProfiles",
    "windowsDriverUpdateProfiles",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intune_kinds_apply_through_batch_and_converge() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();

    // Create: every POST and /assign rides in a $batch.
    let first = state(r#"["helpdesk", "default"]"#, r#"["helpdesk"]"#, "Shared kiosks");
    let p = plan(&c, &first, &ledger).await;
    assert_eq!(p.changes.len(), 7, "{:#?}", p.changes);
    sb.reset_counts();
    apply_batched(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    for coll in COLLECTIONS {
        let key = format!("POST /beta/deviceManagement/{coll}");
        assert_eq!(counts.get(&key), 0, "{key} went alone: {counts:#?}");
        assert_eq!(item(&counts, &key), 1, "{key} in a batch: {counts:#?}");
        if coll != "deviceCategories" {
            let assign = format!("POST /beta/deviceManagement/{coll}/{{id}}/assign");
            assert_eq!(counts.get(&assign) + item(&counts, &assign), 1, "{assign}: {counts:#?}");
            assert_eq!(item(&counts, &assign), 1, "{assign} in a batch: {counts:#?}");
        }
    }
    assert!(plan(&c, &first, &ledger).await.changes.is_empty(), "converged after a batched create");

    // Scope tags reached Graph as ids.
    let tag = id_of(&ledger, "scope_tag.helpdesk");
    let camera = id_of(&ledger, "device_configuration.camera");
    let win11 = id_of(&ledger, "feature_update_profile.win11");
    let kiosk = id_of(&ledger, "device_category.kiosk");
    let mut camera_tags: Vec<Value> = tags_of(&c, &format!("/deviceManagement/deviceConfigurations/{camera}")).await.as_array().cloned().unwrap_or_default();
    camera_tags.sort_by_key(|v| v.to_string());
    let mut want = vec![json!("0"), json!(tag.clone())];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(camera_tags, want);
    assert_eq!(tags_of(&c, &format!("/deviceManagement/windowsFeatureUpdateProfiles/{win11}")).await, json!([tag.clone()]));
    assert_eq!(tags_of(&c, &format!("/deviceManagement/deviceCategories/{kiosk}")).await, json!([tag.clone()]));

    // Update: tag changes and a description are PATCHes in a batch.
    let second = state(r#"["helpdesk"]"#, r#"["default"]"#, "Kiosks in the lobby");
    let p = plan(&c, &second, &ledger).await;
    assert_eq!(p.changes.len(), 3, "{:#?}", p.changes);
    sb.reset_counts();
    apply_batched(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    for coll in ["deviceConfigurations", "windowsFeatureUpdateProfiles", "deviceCategories"] {
        let key = format!("PATCH /beta/deviceManagement/{coll}/{{id}}");
        assert_eq!(counts.get(&key), 0, "{key} went alone: {counts:#?}");
        assert_eq!(item(&counts, &key), 1, "{key} in a batch: {counts:#?}");
    }
    assert!(plan(&c, &second, &ledger).await.changes.is_empty(), "converged after a batched update");
    assert_eq!(tags_of(&c, &format!("/deviceManagement/deviceConfigurations/{camera}")).await, json!([tag.clone()]));
    assert_eq!(tags_of(&c, &format!("/deviceManagement/windowsFeatureUpdateProfiles/{win11}")).await, json!(["0"]));

    // Delete: what is no longer declared goes, in batches.
    let prune = r#"
[governance.prune]
kinds = ["scope_tag", "device_category", "device_configuration", "feature_update_profile", "quality_update_profile", "driver_update_profile"]
max_deletions = 6
"#;
    let last = schema::load_str(&[("state.toml", GROUP), ("governance.toml", prune)]).unwrap_or_else(|e| panic!("{e}"));
    let p = plan(&c, &last, &ledger).await;
    assert_eq!(p.changes.len(), 6, "{:#?}", p.changes);
    sb.reset_counts();
    apply_batched(&c, &p, &mut ledger).await;
    let counts = sb.request_counts();
    for coll in COLLECTIONS {
        let key = format!("DELETE /beta/deviceManagement/{coll}/{{id}}");
        assert_eq!(counts.get(&key), 0, "{key} went alone: {counts:#?}");
        assert_eq!(item(&counts, &key), 1, "{key} in a batch: {counts:#?}");
    }
    assert!(plan(&c, &last, &ledger).await.changes.is_empty(), "converged after a batched delete");
    assert_eq!(ledger.resources.len(), 1);
}

const D: &str = "device_vendor_msft_policy_config_defender_";

fn catalog(scope_tags: &str, cpu: u32) -> schema::DesiredState {
    let text = format!(
        r#"
[scope_tag.helpdesk]
display_name = "Helpdesk"

[settings_catalog.defender-av]
name = "Defender AV baseline"
platforms = "windows10"
technologies = "mdm,microsoftSense"
{scope_tags}

[settings_catalog.defender-av.settings]
{D}allowrealtimemonitoring = "{D}allowrealtimemonitoring_1"
{D}avgcpuloadfactor = {cpu}
"#
    );
    schema::load_str(&[("state.toml", &text)]).unwrap_or_else(|e| panic!("the test's desired state is valid: {e}"))
}

/// A Settings Catalog policy's declared `scope_tags` are written as ids
/// (its writes are PUTs of the whole policy); once no longer declared they
/// are not managed, and the PUT of another change keeps the live tags
/// rather than resetting them; export writes them by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_catalog_scope_tags_are_written_kept_and_exported() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();

    let tagged = catalog(r#"scope_tags = ["helpdesk"]"#, 50);
    let p = plan(&c, &tagged, &ledger).await;
    assert_eq!(p.changes.len(), 2, "{:#?}", p.changes);
    apply_batched(&c, &p, &mut ledger).await;
    let tag = id_of(&ledger, "scope_tag.helpdesk");
    let policy = id_of(&ledger, "settings_catalog.defender-av");
    let path = format!("/deviceManagement/configurationPolicies/{policy}");
    assert_eq!(tags_of(&c, &path).await, json!([tag.clone()]));
    assert!(plan(&c, &tagged, &ledger).await.changes.is_empty(), "converged");

    // Tags no longer declared: a settings change is a PUT that keeps them.
    let untagged = catalog("", 40);
    let p = plan(&c, &untagged, &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert!(p.changes[0].fields.iter().all(|f| f.field.starts_with("settings")), "{:#?}", p.changes[0]);
    apply_batched(&c, &p, &mut ledger).await;
    assert_eq!(tags_of(&c, &path).await, json!([tag.clone()]), "the PUT kept the live tags");
    assert!(plan(&c, &untagged, &ledger).await.changes.is_empty(), "converged");

    // Declared again as the built-in tag: written as "0".
    let default = catalog(r#"scope_tags = ["default"]"#, 40);
    let p = plan(&c, &default, &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    apply_batched(&c, &p, &mut ledger).await;
    assert_eq!(tags_of(&c, &path).await, json!(["0"]));

    // Export names a managed tag by its key.
    apply_batched(&c, &plan(&c, &tagged, &ledger).await, &mut ledger).await;
    let observed = providers::observe::observe_everything(&c).await.unwrap();
    let out = providers::export::export(&observed, &["contoso.onmicrosoft.com".to_string()], opts().now);
    let text = out.files.get("settings-catalog.toml").unwrap_or_else(|| panic!("no settings-catalog.toml: {:?}", out.files.keys()));
    assert!(text.contains("scope_tags = [\"helpdesk\"]"), "{text}");
    assert!(!out.warnings.iter().any(|w| w.contains("Defender AV")), "{:?}", out.warnings);
}
