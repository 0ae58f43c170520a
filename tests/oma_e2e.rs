//! Custom profiles with OMA-URI settings against a sandbox that, like
//! Graph beta, returns string values encrypted (`****`): tenantctl reads
//! the plain values, so a converged profile plans empty, a value changed
//! behind its back shows as that change with plain values, secret-named
//! settings stay redacted.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

const PROFILES: &str = r##"
[device_configuration.custom-proxy]
odata_type = "windows10CustomConfiguration"
display_name = "Custom Proxy Settings"

[device_configuration.custom-proxy.settings]
omaSettings = [
  { "@odata.type" = "#microsoft.graph.omaSettingString", displayName = "ProxyServer", omaUri = "./Vendor/MSFT/Policy/Config/NetworkProxy/ProxyServer", value = "proxy.contoso.com:8080" },
  { "@odata.type" = "#microsoft.graph.omaSettingInteger", displayName = "ProxyAutoDetect", omaUri = "./Vendor/MSFT/Policy/Config/NetworkProxy/AutoDetect", value = 0 },
  { "@odata.type" = "#microsoft.graph.omaSettingBoolean", displayName = "ProxyEnabled", omaUri = "./Vendor/MSFT/Policy/Config/NetworkProxy/Enabled", value = true },
]

[device_configuration.custom-proxy.assignments]
include = ["mwd-test"]

[device_configuration.custom-wifi]
odata_type = "windows10CustomConfiguration"
display_name = "Custom Corporate WiFi"

[device_configuration.custom-wifi.settings]
omaSettings = [
  { "@odata.type" = "#microsoft.graph.omaSettingString", displayName = "PreSharedKey", omaUri = "./Vendor/MSFT/WiFi/Profile/Corp/PreSharedKey", value = "correct-horse-battery" },
]

[device_configuration.custom-wifi.assignments]
include = ["mwd-test"]
"##;

/// The example tenant, applicable without approvals, plus two custom profiles.
fn scratch() -> (tempfile::TempDir, schema::DesiredState) {
    let dir = scratch_without_approvals();
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("custom-profiles.toml"), PROFILES).unwrap();
    let state = schema::load(&dst).expect("the scratch tenant loads");
    (dir, state)
}

/// Change a stored object behind the tool's back (top-level merge).
async fn admin_patch(sb: &sandbox::SandboxHandle, id: &str, body: Value) {
    let url = format!("{}/_sandbox/objects/deviceConfigurations/{id}", sb.base_url());
    let r = reqwest::Client::new().patch(&url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

async fn stored(sb: &sandbox::SandboxHandle, id: &str) -> Value {
    let url = format!("{}/_sandbox/objects/deviceConfigurations/{id}", sb.base_url());
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    body["data"].clone()
}

fn id_of(ledger: &Ledger, address: &str) -> String {
    ledger.id(&address.parse().unwrap()).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_oma_values_compare_as_plain_text() {
    let sb = sandbox().await;
    let client = client(&sb);
    let (_dir, state) = scratch();
    let mut ledger = Ledger::default();
    apply(&client, &plan(&client, &state, &ledger).await, &mut ledger).await;
    let proxy = id_of(&ledger, "device_configuration.custom-proxy");
    let wifi = id_of(&ledger, "device_configuration.custom-wifi");

    // Graph beta shows the string settings masked: the false drift this guards against.
    let live = client.beta().get_json(&format!("/deviceManagement/deviceConfigurations/{proxy}")).await.unwrap();
    assert_eq!(live["omaSettings"][0]["value"], json!("****"), "{live}");
    assert_eq!(live["omaSettings"][0]["isEncrypted"], json!(true), "{live}");
    assert_eq!(live["omaSettings"][1]["value"], json!(0), "integers are not encrypted: {live}");

    // Planning again is empty, and costs one plain-value read per encrypted
    // setting, batched: two settings, one $batch.
    sb.reset_counts();
    let again = plan(&client, &state, &ledger).await;
    assert!(again.is_empty() && again.unknown.is_empty(), "{}", engine::render::text(&again, false));
    let counts = sb.request_counts();
    let function = "GET /beta/deviceManagement/deviceConfigurations/{id}/getOmaSettingPlainTextValue(…)";
    assert_eq!(counts.batch_items.get(function).copied(), Some(2), "{counts:#?}");
    // One beta $batch for the first pages of the Intune listings (issue 13),
    // and one for every kind's dependent reads together (`graph::coalesce`):
    // both plain values, the Autopilot assignments, the example's Settings
    // Catalog policies' three (their settings, the declared settings'
    // definitions, the templates' settings) and the example's remediation's
    // scripts (read by id).
    assert_eq!(counts.get("POST /beta/$batch"), 2, "{counts:#?}");
    assert_eq!(counts.requests.keys().filter(|k| k.contains("getOmaSettingPlainTextValue")).count(), 0, "never one request per value: {counts:#?}");

    // Change the string value (and the Wi-Fi key) behind the tool's back.
    let mut settings = stored(&sb, &proxy).await["omaSettings"].clone();
    settings[0]["value"] = json!("rogue.example.net:3128");
    admin_patch(&sb, &proxy, json!({"omaSettings": settings})).await;
    let mut wifi_settings = stored(&sb, &wifi).await["omaSettings"].clone();
    wifi_settings[0]["value"] = json!("hunter2-rotated-by-hand");
    admin_patch(&sb, &wifi, json!({"omaSettings": wifi_settings})).await;

    let p = plan(&client, &state, &ledger).await;
    let actions: Vec<(String, Action)> = p.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        vec![("device_configuration.custom-proxy".to_string(), Action::Update), ("device_configuration.custom-wifi".to_string(), Action::Update)],
        "{}",
        engine::render::text(&p, false)
    );
    let change = &p.changes[0];
    assert_eq!(change.fields.len(), 1, "{:#?}", change.fields);
    let field = &change.fields[0];
    // The diff is per property: the whole omaSettings list, in which only
    // the string setting differs, with plain values on both sides.
    assert_eq!(field.field, "omaSettings");
    let (before, after) = (field.before.as_ref().unwrap(), field.after.as_ref().unwrap());
    assert_eq!(before[0]["value"], json!("rogue.example.net:3128"));
    assert_eq!(after[0]["value"], json!("proxy.contoso.com:8080"));
    for i in [1, 2] {
        assert_eq!(before[i]["value"], after[i]["value"], "only the string setting changed");
    }
    for s in before.as_array().unwrap() {
        assert!(s.get("isEncrypted").is_none() && s.get("secretReferenceValueId").is_none(), "{s}");
    }
    let text = engine::render::text(&p, false);
    assert!(text.contains("rogue.example.net:3128") && text.contains("proxy.contoso.com:8080"), "{text}");
    assert!(!text.contains("****"), "{text}");

    // A secret-named setting's values are never shown, in any rendering.
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&client, &desired, &ledger).await.unwrap();
    let drift = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    let renderings = [
        ("text", text.clone()),
        ("markdown", engine::render::markdown(&p)),
        ("json", engine::render::json(&p)),
        ("drift", serde_json::to_string(&drift).unwrap()),
    ];
    for (name, shown) in &renderings {
        for secret in ["correct-horse-battery", "hunter2-rotated-by-hand"] {
            assert!(!shown.contains(secret), "{name} shows the Wi-Fi key {secret}:\n{shown}");
        }
    }

    // Apply restores the plain value; planning again is empty.
    apply(&client, &p, &mut ledger).await;
    assert_eq!(stored(&sb, &proxy).await["omaSettings"][0]["value"], json!("proxy.contoso.com:8080"));
    let converged = plan(&client, &state, &ledger).await;
    assert!(converged.is_empty() && converged.unknown.is_empty(), "{}", engine::render::text(&converged, false));
    sb.shutdown().await.unwrap();
}

/// A saved plan holds secret-valued settings redacted, yet applies: the
/// approved file and a fresh plan hash alike, and the fresh plan carries
/// the value to Graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_with_a_secret_setting_applies_without_holding_it() {
    let sb = sandbox().await;
    let (work, _) = scratch();
    let dir = work.path().join("desired-state");
    let plan_file = work.path().join("plan.json");
    let out = cli(&sb, work.path(), &["plan", dir.to_str().unwrap(), "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!saved.contains("correct-horse-battery"), "the saved plan holds the Wi-Fi key");
    assert!(saved.contains("(redacted)"));
    let out = cli(&sb, work.path(), &["apply", plan_file.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("correct-horse-battery") && !text(&out.stderr).contains("correct-horse-battery"));
    let ledger = Ledger::parse(&std::fs::read_to_string(work.path().join("tenantctl.lock")).unwrap()).unwrap();
    let live = stored(&sb, &id_of(&ledger, "device_configuration.custom-wifi")).await;
    assert_eq!(live["omaSettings"][0]["value"], serde_json::json!("correct-horse-battery"), "the real key reached Graph, not (redacted)");
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}

/// Export never writes a secret into desired state (kept in git): a
/// profile holding a pre-shared key is left out with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_leaves_out_profiles_that_hold_secrets() {
    let sb = sandbox().await;
    let (work, _) = scratch();
    let dir = work.path().join("desired-state");
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = work.path().join("exported");
    // Its own ledger: the one `cli` names is the applied directory's.
    let out = cli(&sb, work.path(), &["export", "--out", exported.to_str().unwrap(), "--ledger", work.path().join("exported.lock").to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("Custom Corporate WiFi") && err.contains("holds a secret"), "{err}");
    let mut all = String::new();
    for e in std::fs::read_dir(&exported).unwrap() {
        let path = e.unwrap().path();
        if path.is_file() {
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    assert!(all.contains("Custom Proxy Settings"), "profiles without secrets are exported");
    assert!(!all.contains("correct-horse-battery"), "the exported desired state holds the Wi-Fi key");
    sb.shutdown().await.unwrap();
}
