//! Issue 15's remaining parts (branch kinds7), through the binary against
//! the sandbox:
//! * a `graph_object` adopted by natural key and never changed gets its
//!   location in the ledger (and an older ledger's entry is filled in), so
//!   once its collection is no longer declared it is still found;
//! * two Settings Catalog policies holding the same secret setting export
//!   two variables, named after each policy's key;
//! * a Graph error that echoes a secret tenantctl sent (here the sandbox
//!   refusing a Wi-Fi key of the wrong length and quoting it back) is
//!   shown with `***` in its place, in the output, the journal and every
//!   file apply writes.

mod common;

use common::kind::*;
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
"##;

const TERMS_ADDRESS: &str = "graph_object.terms";
const TERMS_LOCATION: &str = "beta:/deviceManagement/termsAndConditions";
const WIFI_KEY: &str = "vendor_msft_wifi_profile_sharedkey";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_adopted_by_natural_key_records_where_it_lives() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (dir, dst) = kind_scratch(&["graph_object"], "graph_object locations", "graph-objects.toml", TERMS);
    let work = dir.path();
    let d = dst.to_str().expect("a UTF-8 path");
    let address: schema::Address = TERMS_ADDRESS.parse().expect("an address");

    // Converged, then the graph object's entry lost (a create whose
    // response never came back, or an object made before tenantctl): the
    // object exists with the desired body, the ledger does not know it.
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, TERMS_ADDRESS);
    ledger.forget(&address);
    std::fs::write(work.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(&sb, work, &["governance", "adopt", d, "--reason", "test setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");

    // Apply adopts it by natural key; nothing changes it, yet the ledger
    // records where it lives.
    let (code, out) = run(&sb, work, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let owned = ledger_of(work);
    assert_eq!(owned.id(&address), Some(id.as_str()), "adopted: {out}");
    assert_eq!(owned.resources[&address].location.as_deref(), Some(TERMS_LOCATION), "{out}");

    // A ledger written before locations were kept is filled in by the next
    // apply that reads the object.
    let mut older = owned.clone();
    older.resources.get_mut(&address).expect("the entry").location = None;
    std::fs::write(work.join("tenantctl.lock"), older.render()).expect("the ledger is written");
    let (code, out) = run(&sb, work, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(ledger_of(work).resources[&address].location.as_deref(), Some(TERMS_LOCATION), "{out}");

    // No graph_object names its collection any more: the owned object is
    // still read where the ledger says (not unknown). It was adopted, so
    // pruning keeps it as an orphan unless prune.adopted (gov22), and with
    // it deletes it as any owned object no longer declared.
    std::fs::remove_file(dst.join("graph-objects.toml")).expect("removed");
    let mut owned = ledger_of(work);
    assert_eq!(owned.resources[&address].origin, Some(engine::ledger::Origin::Adopted));
    let p = plan(&c, &load_ok(&dst), &owned).await;
    assert!(!p.unknown.iter().any(|u| u.address == address), "{:#?}", p.unknown);
    assert!(changes_of(&p, TERMS_ADDRESS).is_empty(), "{:#?}", p.changes);
    assert!(p.orphans.iter().any(|o| o.address == address && o.reason.contains("adopted")), "{:#?}", p.orphans);
    edit_file(&dst, "tenant.toml", |t| t.replace("max_deletions = 5", "max_deletions = 5\nadopted = true"));
    let p = plan(&c, &load_ok(&dst), &owned).await;
    assert_eq!(changes_of(&p, TERMS_ADDRESS).iter().map(|c| c.action).collect::<Vec<_>>(), [Action::Delete], "{:#?}", p.changes);
    apply(&c, &p, &mut owned).await;
    assert!(c.beta().get_json(&format!("/deviceManagement/termsAndConditions/{id}")).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.expect("the sandbox stops");
}

/// A Settings Catalog policy holding one secret Wi-Fi key, made out of band.
async fn wifi_policy(c: &providers::graph::GraphClient, name: &str, key: &str) -> String {
    use providers::graph::{GraphRequest, Method};
    let ns = "#microsoft.graph.deviceManagementConfiguration";
    let body = json!({"name": name, "platforms": "windows10", "technologies": "mdm",
        "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
            "@odata.type": format!("{ns}SimpleSettingInstance"), "settingDefinitionId": WIFI_KEY,
            "simpleSettingValue": {"@odata.type": format!("{ns}SecretSettingValue"), "value": key, "valueState": "notEncrypted"}}}]});
    let created = c.beta().execute(GraphRequest::new(Method::POST, "/deviceManagement/configurationPolicies").json(body)).await.expect("created");
    created.body.expect("a body")["id"].as_str().expect("an id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_policies_with_the_same_secret_setting_export_two_variables() {
    let sb = sandbox().await;
    let c = client(&sb);
    wifi_policy(&c, "Office Wi-Fi", "0ffice-Wifi-Key-5521").await;
    wifi_policy(&c, "Lab Wi-Fi", "L4b-Wifi-Key-9043").await;
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let out_dir = tmp.path().join("exported");
    let (code, said) = run(&sb, tmp.path(), &["export", "--out", out_dir.to_str().expect("a UTF-8 path")]);
    assert_eq!(code, Some(0), "{said}");
    let exported = std::fs::read_to_string(out_dir.join("settings-catalog.toml")).expect("settings-catalog.toml exported");
    let (office, lab) = ("SECRET_OFFICE_WI_FI_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY", "SECRET_LAB_WI_FI_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY");
    for name in [office, lab] {
        assert_eq!(exported.matches(&format!("secret_env = \"{name}\"")).count(), 1, "{name}: {exported}");
        assert!(said.contains(&format!("secret_env = \"{name}\"")), "the warning names {name}: {said}");
    }
    // The same tenant exported again: the same names.
    let again_dir = tmp.path().join("again");
    let (code, said) = run(&sb, tmp.path(), &["export", "--force", "--out", again_dir.to_str().expect("a UTF-8 path")]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(std::fs::read_to_string(again_dir.join("settings-catalog.toml")).expect("exported again").lines().filter(|l| l.contains("secret_env")).collect::<Vec<_>>(), exported.lines().filter(|l| l.contains("secret_env")).collect::<Vec<_>>());
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_graph_echoes_back_is_never_shown() {
    // Too short for a WPA key: the sandbox refuses it and quotes it back.
    const SHORT: &str = "Ech0-k7";
    let sb = sandbox().await;
    let toml = format!("[settings_catalog.wifi]\nname = \"Wi-Fi with a key\"\nplatforms = \"windows10\"\ntechnologies = \"mdm\"\nsettings = {{ {WIFI_KEY} = {{ secret_env = \"KINDS7_WIFI_KEY\" }} }}\n");
    let (dir, dst) = kind_scratch(&["settings_catalog"], "secrets Graph echoes", "wifi.toml", &toml);
    let work = dir.path();
    let d = dst.to_str().expect("a UTF-8 path");
    let mut said = String::new();
    // Plain, and with debug logs as JSON (what a log collector keeps).
    for extra in [&[][..], &["-vv", "--log-format", "json"][..]] {
        let out = command(&sb, work).args(["apply", d, "--auto-approve"]).args(extra).env("KINDS7_WIFI_KEY", SHORT).output().expect("tenantctl runs");
        let text = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_ne!(out.status.code(), Some(0), "the create is refused: {text}");
        said.push_str(&text);
    }
    // Graph's text came through, with the secret masked.
    assert!(said.contains("value '***' must be 8 to 63 characters long"), "{said}");
    assert!(!said.contains(SHORT), "the secret Graph echoed was printed: {said}");
    for f in files(work) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(SHORT), "{} holds the secret", f.display());
    }
    sb.shutdown().await.expect("the sandbox stops");
}
