//! Secret Settings Catalog values (`deviceManagementConfigurationSecretSettingValue`)
//! are never turned into plain text: a live policy holding a secret (Graph
//! returns only an encrypted token) is exported with the name of a variable
//! to set (`secret_env`, a warning says so) and nothing of the token
//! reaches the export; a secret's value declared in TOML is refused at plan
//! time without echoing the value (`tests/kinds6_e2e.rs` covers managing
//! them through `secret_env`).

mod common;

use common::baselines::*;
use common::*;
use serde_json::json;

const WIFI_KEY: &str = "vendor_msft_wifi_profile_sharedkey";
const PLAIN: &str = "Sup3r-S3cret-Wifi-Key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_holding_a_secret_is_never_exported_nor_declared_in_plain_text() {
    let sb = sandbox().await;
    let c = client(&sb);
    let ns = "#microsoft.graph.deviceManagementConfiguration";
    let body = json!({"name": "Wi-Fi with a key", "platforms": "windows10", "technologies": "mdm",
        "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
            "@odata.type": format!("{ns}SimpleSettingInstance"), "settingDefinitionId": WIFI_KEY,
            "simpleSettingValue": {"@odata.type": format!("{ns}SecretSettingValue"), "value": PLAIN, "valueState": "notEncrypted"}}}]});
    let created = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::POST, "/deviceManagement/configurationPolicies").json(body)).await.expect("created");
    let id = created.body.unwrap()["id"].as_str().unwrap().to_string();
    let settings = live_settings(&c, &id).await;
    let value = &instance(&settings, WIFI_KEY)["simpleSettingValue"];
    assert_eq!(value["valueState"], json!("encryptedValueToken"), "{value}");
    let token = value["value"].as_str().unwrap().to_string();
    assert!(!token.contains(PLAIN));

    // Export: the secret becomes a variable's name, with a warning; neither the token nor the secret is written.
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("exported");
    let out = cli(&sb, tmp.path(), &["export", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("secret_env = \"SECRET_WI_FI_WITH_A_KEY_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY\""), "{said}");
    for e in walk(&out_dir).into_iter().chain([tmp.path().join("tenantctl.lock")]) {
        let written = std::fs::read_to_string(&e).unwrap_or_default();
        assert!(!written.contains(&token) && !written.contains(PLAIN), "{}: {written}", e.display());
    }
    assert!(!said.contains(&token) && !said.contains(PLAIN));

    // Declared in TOML (which it must never be): refused, the value never echoed.
    let (dir, dst) = scratch(&format!("[settings_catalog.wifi]\nname = \"Wi-Fi declared\"\nplatforms = \"windows10\"\ntechnologies = \"mdm\"\nsettings = {{ {WIFI_KEY} = \"{PLAIN}\" }}\n"));
    for format in ["text", "json", "markdown"] {
        let out = cli(&sb, dir.path(), &["plan", dst.to_str().unwrap(), "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{}\n{}", text(&out.stdout), text(&out.stderr));
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(said.contains(&format!("setting `{WIFI_KEY}` is a secret: declare it as")), "{said}");
        assert!(!said.contains(PLAIN), "the secret was printed: {said}");
    }
    sb.shutdown().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
