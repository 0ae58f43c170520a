//! Issue 15's remaining parts (branch kinds6): Settings Catalog secrets
//! declared `{ secret_env = "NAME" }` (the value from the environment at
//! apply, compared by whether it is set, kept by its token on other
//! updates, sent again only when `rotate = true` asks, exported as a
//! variable's name, and never in any output, plan, journal, ledger or
//! export); a live script with a byte-order mark or CRLF line ends that
//! the file lacks is a difference the plan names; Intune RBAC and scripts
//! name the permissions their docs pages give; `graph_object`'s collection
//! is spelled exactly as Graph's metadata spells it.

mod common;

use common::kind::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const WIFI_KEY: &str = "vendor_msft_wifi_profile_sharedkey";
const WIFI: &str = "settings_catalog.wifi";
const PLAIN: &str = "Sup3r-S3cret-Wifi-Key-7731";
const ROTATED: &str = "R0tated-Wifi-Key-4410";

fn wifi(description: &str, rotate: bool) -> String {
    let rotate = if rotate { ", rotate = true" } else { "" };
    format!("[settings_catalog.wifi]\nname = \"Wi-Fi with a key\"\ndescription = \"{description}\"\nplatforms = \"windows10\"\ntechnologies = \"mdm\"\nsettings = {{ {WIFI_KEY} = {{ secret_env = \"TEST_WIFI_KEY\"{rotate} }} }}\n")
}

/// The token the sandbox gives a secret value (it keeps a token derived
/// from the value, never the value, and returns only the token, as Graph
/// does): read from a throwaway policy written with that value, then
/// deleted.
async fn token_of(c: &providers::graph::GraphClient, plain: &str) -> String {
    use providers::graph::{GraphRequest, Method};
    let ns = "#microsoft.graph.deviceManagementConfiguration";
    let body = json!({"name": format!("token probe {}", plain.len()), "platforms": "windows10", "technologies": "mdm",
        "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
            "@odata.type": format!("{ns}SimpleSettingInstance"), "settingDefinitionId": WIFI_KEY,
            "simpleSettingValue": {"@odata.type": format!("{ns}SecretSettingValue"), "value": plain, "valueState": "notEncrypted"}}}]});
    let created = c.beta().execute(GraphRequest::new(Method::POST, "/deviceManagement/configurationPolicies").json(body)).await.expect("created");
    let id = created.body.expect("a body")["id"].as_str().expect("an id").to_string();
    let token = live_secret(c, &id).await["value"].as_str().expect("a token").to_string();
    c.beta().execute(GraphRequest::new(Method::DELETE, format!("/deviceManagement/configurationPolicies/{id}"))).await.expect("deleted");
    token
}

/// Every file under `dir`.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn live_secret(c: &providers::graph::GraphClient, id: &str) -> serde_json::Value {
    let settings = c.beta().list_all(&format!("/deviceManagement/configurationPolicies/{id}/settings")).await.expect("settings");
    settings.iter().map(|s| s["settingInstance"].clone()).find(|i| i["settingDefinitionId"] == json!(WIFI_KEY)).expect("the secret setting")["simpleSettingValue"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_setting_is_written_from_the_environment_compared_by_being_set_and_never_shown() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (dir, dst) = kind_scratch(&["settings_catalog"], "Settings Catalog secrets", "wifi.toml", &wifi("first", false));
    let work = dir.path();
    let d = dst.to_str().unwrap();
    let mut said = String::new();
    let mut run = |args: &[&str], env: Option<&str>| {
        let mut cmd = command(&sb, work);
        cmd.args(args).env_remove("TEST_WIFI_KEY");
        if let Some(v) = env {
            cmd.env("TEST_WIFI_KEY", v);
        }
        let out = cmd.output().expect("tenantctl runs");
        let text = format!("{}{}", text(&out.stdout), text(&out.stderr));
        said.push_str(&text);
        (out.status.code(), text)
    };

    // Without the variable, the create fails naming it (and nothing else).
    let (code, out) = run(&["apply", d, "--auto-approve"], None);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("TEST_WIFI_KEY") && out.contains("is not set"), "{out}");

    // Created with the value from the environment, sent notEncrypted: the
    // tenant holds the token of exactly that value.
    let (code, out) = run(&["apply", d, "--auto-approve"], Some(PLAIN));
    assert_eq!(code, Some(0), "{out}");
    let ledger = Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    let id = id_of(&ledger, WIFI);
    let v = live_secret(&c, &id).await;
    let plain_token = token_of(&c, PLAIN).await;
    assert_eq!((v["valueState"].clone(), v["value"].clone()), (json!("encryptedValueToken"), json!(plain_token)), "{v}");

    // Converged: set on both sides, nothing planned (the value is never
    // compared), and the plan says what it compares.
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(changes_of(&p, WIFI).is_empty(), "{:#?}", changes_of(&p, WIFI));

    // Another change (the description) PUTs the whole policy without the
    // variable: the secret goes back as its token and is kept.
    std::fs::write(dst.join("wifi.toml"), wifi("second", false)).unwrap();
    let (code, out) = run(&["apply", d, "--auto-approve"], None);
    assert_eq!(code, Some(0), "{out}");
    let live = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await.unwrap();
    assert_eq!(live["description"], json!("second"));
    assert_eq!(live_secret(&c, &id).await["value"], json!(plain_token));
    // The ledger the apply wrote (what it approved), not the one from before.
    let ledger = Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(changes_of(&p, WIFI).is_empty(), "{:#?}", changes_of(&p, WIFI));

    // Asked to rotate: the plan says it is sent again, apply sends the new value.
    std::fs::write(dst.join("wifi.toml"), wifi("second", true)).unwrap();
    let ledger = Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let ch = changes_of(&p, WIFI);
    assert_eq!(ch.iter().map(|c| c.action).collect::<Vec<_>>(), [Action::Update]);
    let f = ch[0].fields.iter().find(|f| f.field.contains(WIFI_KEY)).unwrap_or_else(|| panic!("{:#?}", ch[0].fields));
    assert_eq!(f.before, Some(json!("(secret: set, value not compared)")), "{f:?}");
    assert_eq!(f.after, Some(json!("(secret: sent again from the environment at apply)")), "{f:?}");
    let (code, out) = run(&["apply", d, "--auto-approve"], Some(ROTATED));
    assert_eq!(code, Some(0), "{out}");
    let rotated_token = token_of(&c, ROTATED).await;
    assert_ne!(rotated_token, plain_token);
    assert_eq!(live_secret(&c, &id).await["value"], json!(rotated_token));

    // Export writes the variable's name; re-imported (with rotate
    // dropped), it plans empty.
    std::fs::write(dst.join("wifi.toml"), wifi("second", false)).unwrap();
    let out_dir = work.join("exported");
    let (code, out) = run(&["export", "--force", "--out", out_dir.to_str().unwrap()], None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SECRET_WI_FI_WITH_A_KEY_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY"), "{out}");
    let exported = std::fs::read_to_string(out_dir.join("settings-catalog.toml")).unwrap();
    assert!(exported.contains("secret_env = \"SECRET_WI_FI_WITH_A_KEY_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY\""), "{exported}");
    let state = load_ok(&out_dir);
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    let again = plan(&c, &state, &exported_ledger).await;
    // (An adopted control is ratified whole once, sending nothing: gov18.)
    let sent: Vec<_> = again.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).collect();
    assert!(changes_of(&again, WIFI).iter().all(|c| engine::governance::ratify::is_ratify(c)) && sent.iter().all(|c| c.address.kind != schema::Kind::SettingsCatalog || c.display_name != "Wi-Fi with a key"), "{:#?}", again.changes);

    // Neither value, nor a token, anywhere: outputs, plan files, journal,
    // ledger, export.
    for secret in [PLAIN, ROTATED] {
        assert!(!said.contains(secret), "a secret was printed");
        for f in files(work) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            let written = String::from_utf8_lossy(&bytes);
            assert!(!written.contains(secret), "{} holds the secret", f.display());
            assert!(!written.contains(&rotated_token) && !written.contains(&plain_token), "{} holds a token", f.display());
        }
    }
    sb.shutdown().await.unwrap();
}

#[test]
fn a_secret_is_declared_by_its_variable_only() {
    for (value, wanted) in [
        ("{ secret_env = \"BAD-NAME\" }", "must name an environment variable"),
        ("{ secret_env = \"AZURE_CLIENT_SECRET\" }", "holds a credential of the run"),
        ("{ secret_env = \"OK\", value = \"x\" }", "is not one of its keys"),
        ("{ secret_env = \"OK\", rotate = \"yes\" }", "is true or false"),
    ] {
        let text = format!("[settings_catalog.wifi]\nname = \"Wi-Fi\"\nplatforms = \"windows10\"\ntechnologies = \"mdm\"\nsettings = {{ {WIFI_KEY} = {value} }}\n");
        let (_dir, dst) = kind_scratch(&[], "secret shapes", "wifi.toml", &text);
        let d = load_errors(&dst);
        assert_error_at(&d, "wifi.toml", "invalid-setting", 5);
        assert!(d.errors().any(|e| e.message.contains(wanted)), "{value}: {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_order_mark_or_crlf_the_file_lacks_is_a_difference_the_plan_names() {
    use base64::Engine as _;
    let sb = sandbox().await;
    let c = client(&sb);
    let toml = "[platform_script.tz]\ndisplay_name = \"Set time zone\"\nfile = \"tz.ps1\"\nrun_as_account = \"system\"\n";
    let (_dir, dst) = kind_scratch(&["platform_script"], "script encodings", "tz.toml", toml);
    let script = "Set-TimeZone -Id 'W. Europe Standard Time'\nexit 0\n";
    std::fs::write(dst.join("tz.ps1"), script).unwrap();
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, "platform_script.tz");

    // Re-uploaded in the portal with a mark and CRLF: the same text, other
    // bytes. Intune runs the bytes, so it is a change, and its notes say
    // what differs.
    let portal = format!("\u{feff}{}", script.replace('\n', "\r\n"));
    patch_out_of_band(&sb, "deviceManagementScripts", &id, json!({"scriptContent": base64::engine::general_purpose::STANDARD.encode(&portal)})).await;
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let ch = changes_of(&p, "platform_script.tz");
    assert_eq!(ch.iter().map(|c| c.action).collect::<Vec<_>>(), [Action::Update], "{:#?}", p.changes);
    assert_eq!(fields(ch[0]), ["scriptContentSha256"]);
    let notes = ch[0].notes.join("\n");
    assert!(notes.contains("starts with a UTF-8 byte-order mark the file does not have"), "{notes}");
    assert!(notes.contains("ends its lines with CRLF, the file with LF"), "{notes}");
    assert!(notes.contains("otherwise the same text"), "{notes}");

    // Applied: the file's bytes again, and the plan is empty.
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&format!("/deviceManagement/deviceManagementScripts/{id}")).await.unwrap();
    assert_eq!(live["scriptContent"], json!(base64::engine::general_purpose::STANDARD.encode(script)));
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(changes_of(&p, "platform_script.tz").is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn intune_rbac_and_scripts_name_the_permissions_their_docs_give() {
    use providers::graph::error::permission_for;
    for (path, wanted) in [
        ("/deviceManagement/roleScopeTags", "DeviceManagementRBAC.ReadWrite.All"),
        ("/deviceManagement/roleDefinitions", "DeviceManagementRBAC.ReadWrite.All"),
        ("/deviceManagement/roleAssignments", "DeviceManagementRBAC.ReadWrite.All"),
        ("/deviceManagement/deviceManagementScripts", "DeviceManagementScripts.ReadWrite.All"),
        ("/deviceManagement/deviceHealthScripts", "DeviceManagementScripts.ReadWrite.All"),
    ] {
        let p = permission_for("POST", path).unwrap_or_default();
        assert!(p.starts_with(wanted), "POST {path}: {p}");
        let p = permission_for("PATCH", &format!("{path}/1")).unwrap_or_default();
        assert!(p.starts_with(wanted), "PATCH {path}/1: {p}");
        // permissions.json's other grants still grant it.
        let rule = graph_metadata::metadata().permission_rule("POST", &path.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>()).unwrap();
        assert!(rule.allows(&["DeviceManagementConfiguration.ReadWrite.All".to_string()]) || path.ends_with("deviceManagementScripts"), "{path}");
    }
    // Reads name the read permission of the same family.
    let p = permission_for("GET", "/deviceManagement/deviceHealthScripts").unwrap_or_default();
    assert!(p.starts_with("DeviceManagementScripts.Read"), "{p}");
}

#[test]
fn a_graph_object_collection_is_spelled_as_the_metadata_spells_it() {
    for (spelled, line) in [("/devicemanagement/termsandconditions", 3), ("/deviceManagement/termsAndConditions/", 3)] {
        let text = format!("[graph_object.terms]\napi = \"beta\"\ncollection = \"{spelled}\"\nodata_type = \"#microsoft.graph.termsAndConditions\"\nnatural_key = \"displayName\"\nbody = {{ displayName = \"Terms\", title = \"T\", bodyText = \"B\", acceptanceStatement = \"OK\" }}\n");
        let (_dir, dst) = kind_scratch(&[], "collection spelling", "objects.toml", &text);
        let d = load_errors(&dst);
        assert_error_at(&d, "objects.toml", "collection-spelling", line);
        assert!(d.errors().any(|e| e.message.contains("`/deviceManagement/termsAndConditions`")), "{d}");
    }
}

#[test]
fn a_beta_only_collection_refuses_assignments_at_their_line() {
    // Graph publishes beta's types as names only, without actions: an
    // assign action cannot be known, so assignments are refused there.
    let text = "[graph_object.wdac]\napi = \"beta\"\ncollection = \"/deviceAppManagement/wdacSupplementalPolicies\"\nodata_type = \"#microsoft.graph.windowsDefenderApplicationControlSupplementalPolicy\"\nnatural_key = \"displayName\"\nbody = { displayName = \"WDAC supplement\" }\nassignments = { include = [\"mwd-test\"] }\n";
    let (_dir, dst) = kind_scratch(&[], "beta-only assignments", "objects.toml", text);
    let d = load_errors(&dst);
    assert_error_at(&d, "objects.toml", "assignments-not-supported", 7);
    assert!(d.errors().any(|e| e.message.contains("exists only in Graph beta")), "{d}");
}
