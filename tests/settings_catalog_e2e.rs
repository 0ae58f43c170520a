//! The `settings_catalog` kind: a Settings Catalog policy declared by
//! setting definition id (choice, simple integer, simple collection, group
//! collection) is created with its settings and assigned, plans empty once
//! converged, a changed setting is an update naming that setting (sent as
//! a PUT of the whole policy), an assignment change is an assignment, a
//! setting the tenant's catalog does not define (or a choice option it
//! does not offer) is a plan error naming the policy and the setting,
//! export writes it back readable and re-imports empty, and an undeclared
//! policy the ledger owns is deleted.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

const D: &str = "device_vendor_msft_policy_config_defender_";

fn policy() -> String {
    format!(
        r#"
[settings_catalog.defender-av]
name = "Defender AV baseline"
platforms = "windows10"
technologies = "mdm,microsoftSense"
assignments = {{ include = ["mwd-test"] }}

[settings_catalog.defender-av.settings]
{D}allowrealtimemonitoring = "{D}allowrealtimemonitoring_1"
{D}avgcpuloadfactor = 50
{D}excludedextensions = [".log", ".tmp"]
vendor_msft_firewall_mdmstore_firewallrules = [{{ vendor_msft_firewall_mdmstore_firewallrules_name = "Block telnet", vendor_msft_firewall_mdmstore_firewallrules_direction = "vendor_msft_firewall_mdmstore_firewallrules_direction_out" }}]
"#
    )
}

/// The example, applicable without approvals and pruning settings catalog
/// policies, plus `policies`.
fn scratch(policies: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of the settings_catalog kind\"")
            .replace("kinds = [\"device_configuration\"", "kinds = [\"settings_catalog\", \"device_configuration\"")
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("settings.toml"), policies).unwrap();
    (dir, dst)
}

fn load(dir: &std::path::Path) -> schema::DesiredState {
    schema::load(dir).expect("the scratch tenant loads")
}

fn fields(c: &engine::Change) -> Vec<&str> {
    c.fields.iter().map(|f| f.field.as_str()).collect()
}

async fn live_settings(c: &providers::graph::GraphClient, id: &str) -> Vec<Value> {
    c.beta().list_all(&format!("/deviceManagement/configurationPolicies/{id}/settings")).await.unwrap()
}

fn setting<'a>(settings: &'a [Value], id: &str) -> &'a Value {
    settings.iter().map(|s| &s["settingInstance"]).find(|i| i["settingDefinitionId"] == json!(id)).unwrap_or_else(|| panic!("no setting {id}: {settings:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_catalog_policy_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(&policy());
    let mut ledger = Ledger::default();

    // Create: the policy with its four settings, assigned to the Test ring.
    let p = plan(&c, &load(&dst), &ledger).await;
    let create: Vec<_> = p.changes.iter().filter(|c| c.address.to_string() == "settings_catalog.defender-av").collect();
    assert_eq!(create.len(), 1, "{:#?}", p.changes);
    assert_eq!(create[0].action, Action::Create);
    apply(&c, &p, &mut ledger).await;
    let id = ledger.id(&"settings_catalog.defender-av".parse().unwrap()).unwrap().to_string();
    let live = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await.unwrap();
    assert_eq!(live["name"], json!("Defender AV baseline"));
    assert_eq!(live["technologies"], json!("mdm,microsoftSense"));
    let settings = live_settings(&c, &id).await;
    assert_eq!(settings.len(), 4, "{settings:#?}");
    let choice = setting(&settings, &format!("{D}allowrealtimemonitoring"));
    assert_eq!(choice["@odata.type"], json!("#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"));
    assert_eq!(choice["choiceSettingValue"]["value"], json!(format!("{D}allowrealtimemonitoring_1")));
    let load_factor = setting(&settings, &format!("{D}avgcpuloadfactor"));
    assert_eq!(load_factor["simpleSettingValue"]["@odata.type"], json!("#microsoft.graph.deviceManagementConfigurationIntegerSettingValue"));
    assert_eq!(load_factor["simpleSettingValue"]["value"], json!(50));
    let extensions = setting(&settings, &format!("{D}excludedextensions"));
    assert_eq!(extensions["simpleSettingCollectionValue"].as_array().map(Vec::len), Some(2));
    let rules = setting(&settings, "vendor_msft_firewall_mdmstore_firewallrules");
    assert_eq!(rules["groupSettingCollectionValue"][0]["children"].as_array().map(Vec::len), Some(2), "{rules}");
    let test_group = ledger.id(&"group.mwd-test".parse().unwrap()).unwrap().to_string();
    let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(test_group), "{assigned}");

    // Converged: empty.
    let again = plan(&c, &load(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update: one setting changed is an update naming that setting.
    std::fs::write(dst.join("settings.toml"), policy().replace("avgcpuloadfactor = 50", "avgcpuloadfactor = 30")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(fields(&p.changes[0]), [format!("settings.{D}avgcpuloadfactor")]);
    apply(&c, &p, &mut ledger).await;
    let settings = live_settings(&c, &id).await;
    assert_eq!(settings.len(), 4, "the PUT kept the other settings: {settings:#?}");
    assert_eq!(setting(&settings, &format!("{D}avgcpuloadfactor"))["simpleSettingValue"]["value"], json!(30));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // A setting added in Intune (not declared) is drift of `settingIds`.
    let mut body = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await.unwrap();
    let mut all = settings.clone();
    all.push(json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": format!("{D}puaprotection"),
        "choiceSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue", "value": format!("{D}puaprotection_2"), "children": []}}}));
    body["settings"] = Value::Array(all);
    for k in ["id", "@odata.context", "createdDateTime", "lastModifiedDateTime", "settingCount"] {
        body.as_object_mut().unwrap().remove(k);
    }
    let put = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::PUT, format!("/deviceManagement/configurationPolicies/{id}")).json(body)).await;
    assert!(put.is_ok(), "{put:?}");
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert!(fields(&p.changes[0]).contains(&"settingIds"), "{:#?}", p.changes[0]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_settings(&c, &id).await.len(), 4, "the undeclared setting was removed");

    // Assignment change: Test -> First ring.
    let first = policy().replace("avgcpuloadfactor = 50", "avgcpuloadfactor = 30").replace("include = [\"mwd-test\"]", "include = [\"mwd-first\"]");
    std::fs::write(dst.join("settings.toml"), &first).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Assign);
    apply(&c, &p, &mut ledger).await;
    let first_group = ledger.id(&"group.mwd-first".parse().unwrap()).unwrap().to_string();
    let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(first_group), "{assigned}");
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export: readable settings, and the export plans empty.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "export failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported_text = std::fs::read_to_string(out.join("settings-catalog.toml")).unwrap();
    assert!(exported_text.contains("[settings_catalog.defender-av-baseline"), "{exported_text}");
    assert!(exported_text.contains(&format!("{D}avgcpuloadfactor = 30")), "{exported_text}");
    let exported = schema::load(&out).expect("the export loads");
    let exported_ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let again = plan(&c, &exported, &exported_ledger).await;
    assert_only_adoptions(&again);

    // Delete: no longer declared, the owned policy is removed.
    std::fs::remove_file(dst.join("settings.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Delete);
    apply(&c, &p, &mut ledger).await;
    let gone = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await;
    assert!(gone.is_err_and(|e| e.is_not_found()), "the policy is still there");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_the_catalog_refuses_are_plan_errors_naming_policy_and_setting() {
    let sb = sandbox().await;
    let c = client(&sb);
    let bad = policy()
        .replace(&format!("{D}allowrealtimemonitoring = \"{D}allowrealtimemonitoring_1\""), &format!("{D}allowrealtimemonitoring = \"{D}allowrealtimemonitoring_7\""))
        .replace("avgcpuloadfactor = 50", "avgcpuloadfactor = 500")
        .replace(&format!("{D}excludedextensions"), &format!("{D}nosuchsetting"));
    let (_dir, dst) = scratch(&bad);
    let state = load(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &Ledger::default()).await.unwrap();
    let err = engine::plan(&desired, &observed, &Ledger::default(), &opts()).expect_err("the plan is refused");
    let text = err.to_string();
    assert!(text.contains("settings_catalog.defender-av"), "{text}");
    assert!(text.contains(&format!("`{D}allowrealtimemonitoring_7` is not one of its options")), "{text}");
    assert!(text.contains("500 is outside 0..100"), "{text}");
    assert!(text.contains(&format!("`{D}nosuchsetting` is not a setting definition")), "{text}");
    sb.shutdown().await.unwrap();
}

#[test]
fn badly_shaped_settings_are_located_errors() {
    let (_dir, dst) = scratch(&policy().replace("avgcpuloadfactor = 50", "avgcpuloadfactor = 5.5"));
    let err = match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    };
    let e = err.errors().find(|d| d.code == "invalid-setting").expect("the float is refused");
    let loc = e.location.as_ref().expect("located");
    assert!(loc.file.ends_with("settings.toml") && loc.line == 10, "{loc:?}");
    assert!(e.message.contains("settings_catalog.defender-av") && e.message.contains("avgcpuloadfactor"), "{}", e.message);
}
