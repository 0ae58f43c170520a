//! Security baselines: a Settings Catalog policy made from the Windows
//! security baseline template (`template = "<display name>"`, the active
//! version). Through the binary: the plan shows (text, Markdown, JSON) the
//! template's defaults for the settings desired state does not declare;
//! apply writes every setting with its template references and leaves the
//! baseline unassigned (no lint objects); a re-plan is empty; a declared
//! override is an update naming that setting; a default changed in Intune
//! is drift; a template change replaces the policy (Intune does not change
//! a policy's template); export writes the template by id and re-imports
//! empty; an undeclared owned baseline is deleted. Unknown templates,
//! settings outside the template and bad values are plan errors naming the
//! policy and the setting, and the sandbox refuses what Graph refuses of
//! template-based policies.

mod common;

use common::baselines::*;
use common::*;
use engine::Ledger;
use serde_json::{json, Value};

const D: &str = "device_vendor_msft_policy_config_defender_";
const LOCK: &str = "device_vendor_msft_policy_config_devicelock_maxinactivitytimedevicelock";

fn baseline(extra: &str) -> String {
    format!(
        r#"
[settings_catalog.windows-baseline]
name = "Contoso Windows baseline"
description = "Created unassigned, as onboarding does"
template = "{BASELINE}"

[settings_catalog.windows-baseline.settings]
{LOCK} = 10
{extra}
"#
    )
}

fn ledger_of(dir: &std::path::Path) -> Ledger {
    Ledger::parse(&std::fs::read_to_string(dir.join("tenantctl.lock")).expect("a ledger")).expect("the ledger parses")
}

fn json_plan(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, dst: &std::path::Path) -> Value {
    let out = cli(sb, cwd, &["plan", dst.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "plan failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn changes_of<'a>(plan: &'a Value, address: &str) -> Vec<&'a Value> {
    plan["changes"].as_array().into_iter().flatten().filter(|c| c["address"] == json!(address)).collect()
}

fn empty(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, dst: &std::path::Path) {
    let out = cli(sb, cwd, &["plan", dst.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "the re-plan is not empty:\n{}\n{}", text(&out.stdout), text(&out.stderr));
}

fn apply_cli(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, dst: &std::path::Path) {
    let out = cli(sb, cwd, &["apply", dst.to_str().unwrap(), "--auto-approve"]);
    assert!(out.status.success(), "apply failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_baseline_shows_its_defaults_is_written_with_template_references_and_round_trips() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (dir, dst) = scratch(&baseline(""));
    let cwd = dir.path();
    let d = dst.to_str().unwrap();

    // The plan shows what the template sets, in every format.
    let out = cli(&sb, cwd, &["plan", d]);
    let shown = text(&out.stdout);
    assert!(shown.contains("settings_catalog.windows-baseline"), "{shown}");
    for default in [format!("{D}allowrealtimemonitoring_1"), format!("{D}puaprotection_1")] {
        assert!(shown.contains(&default), "the text plan does not show the default {default}:\n{shown}");
    }
    assert!(shown.contains(&format!("defaults of template \"{BASELINE}\" (not declared)")), "{shown}");
    let md = text(&cli(&sb, cwd, &["plan", d, "--format", "markdown"]).stdout);
    assert!(md.contains(&format!("{D}puaprotection_1")) && md.contains("defaults of template"), "{md}");
    let p = json_plan(&sb, cwd, &dst);
    let create = changes_of(&p, "settings_catalog.windows-baseline");
    assert_eq!(create.len(), 1, "{p:#}");
    assert_eq!(create[0]["action"], json!("create"));
    let fields: Vec<&Value> = create[0]["fields"].as_array().unwrap().iter().collect();
    let field = |f: &str| fields.iter().find(|x| x["field"] == json!(f)).map(|x| x["after"].clone());
    let settings = field("settings").expect("the settings are shown");
    assert_eq!(settings[format!("{D}puaprotection")], json!(format!("{D}puaprotection_1")), "{fields:#?}");
    assert_eq!(settings[LOCK], json!(10), "the declared value wins over the default (15)");
    assert_eq!(field("templateReference").map(|t| t["templateId"].clone()), Some(json!(BASELINE_ACTIVE)), "the active version: {fields:#?}");
    assert_eq!(field("platforms"), Some(json!("windows10")), "the template's platforms");
    let notes = create[0]["notes"].to_string();
    assert!(notes.contains(&format!("settings.{D}allowrealtimemonitoring")) && !notes.contains(&format!("settings.{LOCK}")), "{notes}");
    assert!(p["lints"].as_array().is_none_or(|l| l.iter().all(|f| f["severity"] != json!("error"))), "an unassigned baseline is no lint error: {:#}", p["lints"]);

    // Apply: every setting carries its template references; unassigned.
    apply_cli(&sb, cwd, &dst);
    let ledger = ledger_of(cwd);
    let (id, live) = live_policy(&c, &ledger, "settings_catalog.windows-baseline").await;
    assert_eq!(live["templateReference"]["templateId"], json!(BASELINE_ACTIVE));
    assert_eq!(live["templateReference"]["templateFamily"], json!("baseline"));
    let settings = live_settings(&c, &id).await;
    assert_eq!(settings.len(), 4, "four of the five template settings have a default; the one without stays unset: {settings:#?}");
    for s in &settings {
        let inst = &s["settingInstance"];
        assert!(inst["settingInstanceTemplateReference"]["settingInstanceTemplateId"].as_str().is_some_and(|i| !i.is_empty()), "{inst}");
    }
    assert_eq!(instance(&settings, LOCK)["simpleSettingValue"]["value"], json!(10));
    assert!(instance(&settings, LOCK)["simpleSettingValue"]["settingValueTemplateReference"]["settingValueTemplateId"].is_string());
    let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"], json!([]), "the baseline is left unassigned");
    empty(&sb, cwd, &dst);

    // A declared override of a default is an update naming that setting.
    std::fs::write(dst.join("baselines.toml"), baseline(&format!("{D}puaprotection = \"{D}puaprotection_2\""))).unwrap();
    let p = json_plan(&sb, cwd, &dst);
    let update = changes_of(&p, "settings_catalog.windows-baseline");
    assert_eq!(update.len(), 1, "{p:#}");
    assert_eq!(update[0]["action"], json!("update"));
    let names: Vec<&str> = update[0]["fields"].as_array().unwrap().iter().filter_map(|f| f["field"].as_str()).collect();
    assert_eq!(names, [format!("settings.{D}puaprotection")], "{p:#}");
    apply_cli(&sb, cwd, &dst);
    assert_eq!(instance(&live_settings(&c, &id).await, &format!("{D}puaprotection"))["choiceSettingValue"]["value"], json!(format!("{D}puaprotection_2")));
    empty(&sb, cwd, &dst);

    // A default changed in Intune is drift, shown as such.
    let mut settings = live_settings(&c, &id).await;
    for s in settings.iter_mut() {
        if s["settingInstance"]["settingDefinitionId"] == json!(format!("{D}allowrealtimemonitoring")) {
            s["settingInstance"]["choiceSettingValue"]["value"] = json!(format!("{D}allowrealtimemonitoring_0"));
        }
    }
    let mut body = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await.unwrap();
    body["settings"] = Value::Array(settings);
    for k in ["id", "@odata.context", "createdDateTime", "lastModifiedDateTime", "settingCount"] {
        body.as_object_mut().unwrap().remove(k);
    }
    let put = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::PUT, format!("/deviceManagement/configurationPolicies/{id}")).json(body)).await;
    assert!(put.is_ok(), "{put:?}");
    let p = json_plan(&sb, cwd, &dst);
    let drift = changes_of(&p, "settings_catalog.windows-baseline");
    assert_eq!(drift.len(), 1, "{p:#}");
    assert_eq!(drift[0]["fields"][0]["field"], json!(format!("settings.{D}allowrealtimemonitoring")));
    assert!(drift[0]["notes"].to_string().contains("defaults of template"), "{:#}", drift[0]);
    apply_cli(&sb, cwd, &dst);
    empty(&sb, cwd, &dst);

    // Export writes the template by id; the export re-imports empty.
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out_dir.to_str().unwrap()]);
    assert!(o.status.success(), "export failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported_text = std::fs::read_to_string(out_dir.join("settings-catalog.toml")).unwrap();
    assert!(exported_text.contains(&format!("template = \"{BASELINE_ACTIVE}\"")), "{exported_text}");
    let exported = schema::load(&out_dir).expect("the export loads");
    let again = plan(&c, &exported, &ledger_of(tmp.path())).await;
    assert_only_adoptions(&again);

    // Another template (the superseded version, by id) replaces the policy.
    std::fs::write(dst.join("baselines.toml"), baseline(&format!("{D}puaprotection = \"{D}puaprotection_2\"")).replace(&format!("template = \"{BASELINE}\""), &format!("template = \"{BASELINE_SUPERSEDED}\""))).unwrap();
    let p = json_plan(&sb, cwd, &dst);
    let replace = changes_of(&p, "settings_catalog.windows-baseline");
    assert_eq!(replace.len(), 1, "{p:#}");
    assert_eq!(replace[0]["action"], json!("replace"), "{p:#}");
    apply_cli(&sb, cwd, &dst);
    let (new_id, live) = live_policy(&c, &ledger_of(cwd), "settings_catalog.windows-baseline").await;
    assert_ne!(new_id, id);
    assert_eq!(live["templateReference"]["templateId"], json!(BASELINE_SUPERSEDED));
    empty(&sb, cwd, &dst);

    // No longer declared: the owned baseline is deleted.
    std::fs::remove_file(dst.join("baselines.toml")).unwrap();
    let p = json_plan(&sb, cwd, &dst);
    let delete = changes_of(&p, "settings_catalog.windows-baseline");
    assert_eq!(delete.len(), 1, "{p:#}");
    assert_eq!(delete[0]["action"], json!("delete"));
    apply_cli(&sb, cwd, &dst);
    let gone = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{new_id}")).await;
    assert!(gone.is_err_and(|e| e.is_not_found()), "the baseline is still there");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_problems_are_plan_errors_naming_the_policy_and_the_setting() {
    let sb = sandbox().await;
    let policies = format!(
        r#"
[settings_catalog.no-such]
name = "No such template"
template = "Security Baseline for Windows 98"

[settings_catalog.bad-baseline]
name = "Bad baseline"
template = "{BASELINE}"
platforms = "macOS"

[settings_catalog.bad-baseline.settings]
{LOCK} = 5000
{D}avgcpuloadfactor = 20
{D}puaprotection = "{D}puaprotection_9"
"#
    );
    let (dir, dst) = scratch(&policies);
    let out = cli(&sb, dir.path(), &["plan", dst.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("settings_catalog.no-such") && err.contains("template `Security Baseline for Windows 98` is not a configuration policy template"), "{err}");
    assert!(err.contains("settings_catalog.bad-baseline"), "{err}");
    assert!(err.contains(&format!("setting `{D}avgcpuloadfactor` is not in template \"{BASELINE}\"")), "{err}");
    assert!(err.contains(&format!("setting `{LOCK}`: 5000 is outside 0..999")), "{err}");
    assert!(err.contains(&format!("`{D}puaprotection_9` is not one of its options")), "{err}");
    assert!(err.contains("platforms `macOS` is not template"), "{err}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_what_graph_refuses_of_template_based_policies() {
    let sb = sandbox().await;
    let c = client(&sb);
    let ns = "#microsoft.graph.deviceManagementConfiguration";
    let templates = c.beta().list_all("/deviceManagement/configurationPolicyTemplates").await.unwrap();
    let families: std::collections::BTreeSet<&str> = templates.iter().filter_map(|t| t["templateFamily"].as_str()).collect();
    for f in ["baseline", "endpointSecurityAntivirus", "endpointSecurityFirewall", "endpointSecurityDiskEncryption", "endpointSecurityAttackSurfaceReduction", "endpointSecurityAccountProtection", "endpointSecurityEndpointDetectionAndResponse"] {
        assert!(families.contains(f), "no {f} template: {families:?}");
    }
    let st = c.beta().list_all(&format!("/deviceManagement/configurationPolicyTemplates/{BASELINE_ACTIVE}/settingTemplates?$expand=settingDefinitions")).await.unwrap();
    let lock = st.iter().find(|s| s["settingInstanceTemplate"]["settingDefinitionId"] == json!(LOCK)).expect("the lock setting");
    assert_eq!(lock["settingInstanceTemplate"]["simpleSettingValueTemplate"]["defaultValue"]["constantValue"], json!(15));
    assert_eq!(lock["settingDefinitions"][0]["id"], json!(LOCK));
    let inst_id = lock["settingInstanceTemplate"]["settingInstanceTemplateId"].as_str().unwrap().to_string();
    let value_id = lock["settingInstanceTemplate"]["simpleSettingValueTemplate"]["settingValueTemplateId"].as_str().unwrap().to_string();

    let policy = |setting: Value, template: &str| {
        json!({"name": "direct", "platforms": "windows10", "technologies": "mdm", "templateReference": {"templateId": template},
            "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": setting}]})
    };
    let lock_instance = |with_refs: bool| {
        let mut v = json!({"@odata.type": format!("{ns}SimpleSettingInstance"), "settingDefinitionId": LOCK,
            "simpleSettingValue": {"@odata.type": format!("{ns}IntegerSettingValue"), "value": 5}});
        if with_refs {
            v["settingInstanceTemplateReference"] = json!({"settingInstanceTemplateId": inst_id});
            v["simpleSettingValue"]["settingValueTemplateReference"] = json!({"settingValueTemplateId": value_id, "useTemplateDefault": false});
        }
        v
    };
    let post = |body: Value| {
        let c = c.clone();
        async move { c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::POST, "/deviceManagement/configurationPolicies").json(body)).await.map(|r| r.body.unwrap_or(Value::Null)) }
    };
    let refused = |r: Result<Value, providers::graph::GraphError>, what: &str| {
        let e = r.expect_err(what);
        assert!(format!("{e:?}").contains("400"), "{what}: {e:?}");
        format!("{e:?}")
    };
    let e = refused(post(policy(lock_instance(false), BASELINE_ACTIVE)).await, "a template policy without template references");
    assert!(e.contains("settingInstanceTemplateReference"), "{e}");
    let outside = json!({"@odata.type": format!("{ns}SimpleSettingInstance"), "settingDefinitionId": format!("{D}avgcpuloadfactor"),
        "settingInstanceTemplateReference": {"settingInstanceTemplateId": inst_id},
        "simpleSettingValue": {"@odata.type": format!("{ns}IntegerSettingValue"), "value": 5}});
    let e = refused(post(policy(outside, BASELINE_ACTIVE)).await, "a setting outside the template");
    assert!(e.contains("is not part of template"), "{e}");
    refused(post(policy(lock_instance(true), "00000000-0000-0000-0000-000000000000_1")).await, "an unknown template");
    let created = post(policy(lock_instance(true), BASELINE_ACTIVE)).await.expect("a well-formed template policy is created");
    let id = created["id"].as_str().unwrap();
    let mut changed = policy(lock_instance(true), BASELINE_SUPERSEDED);
    changed["name"] = json!("direct");
    let put = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::PUT, format!("/deviceManagement/configurationPolicies/{id}")).json(changed)).await.map(|r| r.body.unwrap_or(Value::Null));
    let e = refused(put, "a templateReference change on update");
    assert!(e.contains("cannot be changed"), "{e}");
    sb.shutdown().await.unwrap();
}
