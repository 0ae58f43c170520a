//! Security baselines and endpoint security policies: Settings Catalog
//! policies made from a template (`settings_catalog` with `template`).
//!
//! When desired state declares a template-based policy, the read resolves
//! its template (`GET /beta/deviceManagement/configurationPolicyTemplates`,
//! by id or display name, the active version when several share the name)
//! and reads the template's settings with their definitions
//! (`…/configurationPolicyTemplates/{id}/settingTemplates?$expand=settingDefinitions`,
//! one per template, in one `$batch`). Each such policy is then:
//!
//! * refused (a plan error naming the policy) when the template does not
//!   exist, a declared setting is not one of the template's, a value is not
//!   what its definition takes, or declared platforms/technologies differ
//!   from the template's;
//! * completed (`engine::completed`): settings it does not declare take the
//!   template's defaults, platforms and technologies the template's, and
//!   `settingTemplateReferences` says for every setting which setting
//!   instance template (and value template) it is written against, as Graph
//!   requires of a template-based policy. The plan shows the defaults,
//!   compares them setting by setting and writes them.

use std::collections::{BTreeMap, BTreeSet};

use engine::completed::Completion;
use engine::{DesiredModel, DesiredResource};
use schema::{Address, Kind};
use serde_json::{json, Map, Value};

use crate::graph::{BatchRequest, GraphClient, GraphError};

/// The templates collection.
pub const TEMPLATES: &str = "/deviceManagement/configurationPolicyTemplates";

/// The prop naming, per setting definition id, the template references a
/// template-based policy's settings are written with:
/// `{"settingInstanceTemplateId": …, "settingValueTemplateId": …}`.
pub const REFERENCES: &str = "settingTemplateReferences";

const NS: &str = "#microsoft.graph.deviceManagementConfiguration";

/// One template's settings, by setting definition id.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub id: String,
    pub display_name: String,
    pub platforms: String,
    pub technologies: String,
    pub settings: BTreeMap<String, SettingTemplate>,
    /// Every definition the template's settings use (children included), by id.
    pub definitions: BTreeMap<String, Value>,
}

/// One setting of a template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingTemplate {
    pub instance_template_id: String,
    pub value_template_id: Option<String>,
    /// The template's default, normalized like a declared value (an option
    /// id, an integer, a string); None when the template has none.
    pub default: Option<Value>,
}

fn bare(v: &Value) -> &str {
    v.get("@odata.type").and_then(Value::as_str).unwrap_or_default().trim_start_matches(NS)
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A template's setting (`deviceManagementConfigurationSettingTemplate`) as
/// (definition id, what a policy is written with).
pub fn setting_template(raw: &Value) -> Option<(String, SettingTemplate)> {
    let inst = raw.get("settingInstanceTemplate")?;
    let id = inst.get("settingDefinitionId")?.as_str()?.to_string();
    let value = match bare(inst) {
        "ChoiceSettingInstanceTemplate" => inst.get("choiceSettingValueTemplate"),
        "SimpleSettingInstanceTemplate" => inst.get("simpleSettingValueTemplate"),
        "GroupSettingInstanceTemplate" => inst.get("groupSettingValueTemplate"),
        _ => None,
    };
    let value_template_id = value.and_then(|v| v.get("settingValueTemplateId")).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let default = value.and_then(|v| v.get("defaultValue")).and_then(|d| match bare(d) {
        "ChoiceSettingValueConstantDefaultTemplate" => d.get("settingDefinitionOptionId").filter(|o| o.is_string()).cloned(),
        "IntegerSettingValueConstantDefaultTemplate" | "StringSettingValueConstantDefaultTemplate" => d.get("constantValue").filter(|v| v.is_number() || v.is_string()).cloned(),
        _ => None,
    });
    Some((id, SettingTemplate { instance_template_id: text(inst, "settingInstanceTemplateId"), value_template_id, default }))
}

/// The template `wanted` names among `all`: by id, else by display name
/// (case-insensitive), the active version when several share it.
pub fn find<'a>(all: &'a [Value], wanted: &str) -> Result<&'a Value, String> {
    let w = wanted.trim();
    if let Some(t) = all.iter().find(|t| text(t, "id").eq_ignore_ascii_case(w)) {
        return Ok(t);
    }
    let named: Vec<&Value> = all.iter().filter(|t| text(t, "displayName").trim().eq_ignore_ascii_case(w)).collect();
    let active: Vec<&Value> = named.iter().copied().filter(|t| text(t, "lifecycleState") == "active").collect();
    match (named.as_slice(), active.as_slice()) {
        ([], _) => Err(format!("template `{wanted}` is not a configuration policy template of this tenant (give a template's display name or id)")),
        ([one], _) | (_, [one]) => Ok(one),
        (_, []) => Err(format!("template `{wanted}` has no active version ({}); name one by id", versions(&named))),
        (_, many) => Err(format!("template `{wanted}` names several active templates ({}); name one by id", versions(many))),
    }
}

fn versions(ts: &[&Value]) -> String {
    let mut v: Vec<String> = ts.iter().map(|t| format!("{} {} {}", text(t, "id"), text(t, "displayVersion"), text(t, "lifecycleState"))).collect();
    v.sort();
    v.join(", ")
}

/// The declared template of a desired policy (`templateReference.templateId`
/// as desired state gives it: a display name or an id).
pub fn declared_template(r: &DesiredResource) -> Option<&str> {
    r.props.get("templateReference").and_then(|t| t.get("templateId")).and_then(Value::as_str).filter(|t| !t.is_empty())
}

/// The templates' listing (prefetched with the kinds' listings when a
/// policy declares a template: `listing_batch`).
pub(crate) fn templates_listing() -> String {
    format!("{TEMPLATES}?$top=999")
}

/// Resolve and read the templates the declared policies name, then refuse
/// or complete each. Returns the refused and the completed, by address.
pub async fn complete(client: &GraphClient, desired: &DesiredModel) -> Result<(BTreeMap<Address, String>, BTreeMap<Address, Completion>), GraphError> {
    let declared: Vec<&DesiredResource> = desired.resources.values().filter(|r| r.address.kind == Kind::SettingsCatalog && declared_template(r).is_some()).collect();
    let mut refused = BTreeMap::new();
    let mut completed = BTreeMap::new();
    if declared.is_empty() {
        return Ok((refused, completed));
    }
    let beta = client.beta();
    let all = beta.list_all(&templates_listing()).await?;
    let mut wanted: BTreeMap<String, &Value> = BTreeMap::new();
    let mut resolved: BTreeMap<&Address, Result<String, String>> = BTreeMap::new();
    for r in &declared {
        let found = find(&all, declared_template(r).unwrap_or_default()).map(|t| {
            wanted.insert(text(t, "id"), t);
            text(t, "id")
        });
        resolved.insert(&r.address, found);
    }
    let ids: Vec<&String> = wanted.keys().collect();
    let requests = ids.iter().map(|id| BatchRequest::get(format!("{TEMPLATES}/{}/settingTemplates?$expand=settingDefinitions&$top=999", schema::object_id::path_segment(id)))).collect();
    let mut templates: BTreeMap<String, Template> = BTreeMap::new();
    for (id, response) in ids.into_iter().zip(beta.batch(requests).await?) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut items = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(next) = body.get("@odata.nextLink").and_then(Value::as_str) {
            items.extend(beta.list_all(next).await?);
        }
        let raw = wanted.get(id).copied().unwrap_or(&Value::Null);
        templates.insert(id.clone(), template(raw, &items));
    }
    for r in declared {
        match resolved.get(&r.address) {
            Some(Ok(id)) => match templates.get(id).map(|t| complete_one(r, t)) {
                Some(Ok(c)) => {
                    completed.insert(r.address.clone(), c);
                }
                Some(Err(why)) => {
                    refused.insert(r.address.clone(), why);
                }
                None => {
                    refused.insert(r.address.clone(), format!("template {id} was not read"));
                }
            },
            Some(Err(why)) => {
                refused.insert(r.address.clone(), why.clone());
            }
            None => {}
        }
    }
    Ok((refused, completed))
}

/// A template from its listing entry and its setting templates.
pub fn template(raw: &Value, setting_templates: &[Value]) -> Template {
    let mut t = Template {
        id: text(raw, "id"),
        display_name: text(raw, "displayName"),
        platforms: text(raw, "platforms"),
        technologies: text(raw, "technologies"),
        ..Template::default()
    };
    for s in setting_templates {
        if let Some((id, st)) = setting_template(s) {
            t.settings.insert(id, st);
        }
        for d in s.get("settingDefinitions").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = d.get("id").and_then(Value::as_str) {
                t.definitions.insert(id.to_string(), d.clone());
            }
        }
    }
    t
}

/// One declared policy checked against its template and completed.
pub fn complete_one(r: &DesiredResource, t: &Template) -> Result<Completion, String> {
    let mut problems = Vec::new();
    for (field, theirs) in [("platforms", &t.platforms), ("technologies", &t.technologies)] {
        if let Some(mine) = r.props.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            if !mine.eq_ignore_ascii_case(theirs) {
                problems.push(format!("{field} `{mine}` is not template \"{}\"'s `{theirs}` (leave it out to take the template's)", t.display_name));
            }
        }
    }
    let declared: Map<String, Value> = r.props.get("settings").and_then(Value::as_object).cloned().unwrap_or_default();
    for (id, v) in &declared {
        if !t.settings.contains_key(id) {
            let known: Vec<&str> = t.settings.keys().map(String::as_str).take(12).collect();
            problems.push(format!("setting `{id}` is not in template \"{}\" (its settings include {})", t.display_name, known.join(", ")));
            continue;
        }
        super::settings_catalog::check_value(id, v, &t.definitions, &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let mut props = r.props.clone();
    let mut settings = declared;
    let mut supplied = Vec::new();
    for (id, st) in &t.settings {
        if let (false, Some(d)) = (settings.contains_key(id), &st.default) {
            settings.insert(id.clone(), d.clone());
            supplied.push(format!("settings.{id}"));
        }
    }
    let references: Map<String, Value> = settings
        .keys()
        .filter_map(|id| t.settings.get(id).map(|st| (id, st)))
        .map(|(id, st)| {
            let mut m = Map::new();
            m.insert("settingInstanceTemplateId".into(), json!(st.instance_template_id));
            if let Some(v) = &st.value_template_id {
                m.insert("settingValueTemplateId".into(), json!(v));
            }
            (id.clone(), Value::Object(m))
        })
        .collect();
    props.insert("settingIds".into(), json!(settings.keys().collect::<Vec<_>>()));
    props.insert("settings".into(), Value::Object(settings));
    props.insert(REFERENCES.into(), Value::Object(references));
    props.insert("templateReference".into(), json!({ "templateId": t.id }));
    for (field, theirs) in [("platforms", &t.platforms), ("technologies", &t.technologies)] {
        if props.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
            props.insert(field.into(), json!(theirs));
        }
    }
    Ok(Completion { props, supplied, source: format!("template \"{}\"", t.display_name) })
}

/// A live policy's template references, by setting definition id (None
/// when no setting has one: a policy made from no template).
pub fn live_references(settings: &[Value]) -> Option<Value> {
    let refs: Map<String, Value> = settings
        .iter()
        .map(|s| s.get("settingInstance").unwrap_or(s))
        .filter_map(|inst| {
            let id = inst.get("settingDefinitionId")?.as_str()?;
            let instance = inst.pointer("/settingInstanceTemplateReference/settingInstanceTemplateId")?.as_str()?;
            let mut m = Map::new();
            m.insert("settingInstanceTemplateId".into(), json!(instance));
            let value = ["choiceSettingValue", "simpleSettingValue", "groupSettingValue"]
                .iter()
                .find_map(|k| inst.get(*k))
                .and_then(|v| v.pointer("/settingValueTemplateReference/settingValueTemplateId"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(v) = value {
                m.insert("settingValueTemplateId".into(), json!(v));
            }
            Some((id.to_string(), Value::Object(m)))
        })
        .collect();
    (!refs.is_empty()).then_some(Value::Object(refs))
}

/// Put a setting instance's template references on it (what Graph requires
/// of every setting of a template-based policy).
pub fn reference_instance(instance: &mut Value, references: Option<&Value>) {
    let Some(id) = instance.get("settingDefinitionId").and_then(Value::as_str).map(str::to_string) else { return };
    let Some(r) = references.and_then(|r| r.get(&id)) else { return };
    if let Some(m) = instance.as_object_mut() {
        if let Some(i) = r.get("settingInstanceTemplateId") {
            m.insert("settingInstanceTemplateReference".into(), json!({ "settingInstanceTemplateId": i }));
        }
        if let Some(v) = r.get("settingValueTemplateId") {
            for k in ["choiceSettingValue", "simpleSettingValue"] {
                if let Some(Value::Object(value)) = m.get_mut(k) {
                    value.insert("settingValueTemplateReference".into(), json!({ "settingValueTemplateId": v, "useTemplateDefault": false }));
                }
            }
        }
    }
}

/// The declared template-based policies (the plain definition check leaves
/// them to this module).
pub fn templated(desired: &DesiredModel) -> BTreeSet<&Address> {
    desired.resources.values().filter(|r| r.address.kind == Kind::SettingsCatalog && declared_template(r).is_some()).map(|r| &r.address).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Vec<Value> {
        vec![
            json!({"id": "t1_1", "displayName": "Windows security baseline", "lifecycleState": "superseded", "displayVersion": "23H2"}),
            json!({"id": "t1_2", "displayName": "Windows security baseline", "lifecycleState": "active", "displayVersion": "24H2"}),
            json!({"id": "t2_1", "displayName": "Microsoft Defender Antivirus", "lifecycleState": "active"}),
            json!({"id": "t3_1", "displayName": "Twice", "lifecycleState": "active"}),
            json!({"id": "t3_2", "displayName": "Twice", "lifecycleState": "active"}),
        ]
    }

    #[test]
    fn a_template_is_found_by_id_or_by_the_active_version_of_its_name() {
        let all = templates();
        assert_eq!(find(&all, "t1_1").map(|t| text(t, "id")), Ok("t1_1".into()));
        assert_eq!(find(&all, "windows security BASELINE").map(|t| text(t, "id")), Ok("t1_2".into()));
        assert!(find(&all, "Nope").is_err_and(|e| e.contains("not a configuration policy template")));
        assert!(find(&all, "Twice").is_err_and(|e| e.contains("several active") && e.contains("t3_1") && e.contains("t3_2")));
    }

    #[test]
    fn defaults_fill_undeclared_settings_and_every_setting_is_referenced() {
        let st = |id: &str, inst: &str, val: &str, default: Value| {
            json!({"settingInstanceTemplate": {"@odata.type": format!("{NS}ChoiceSettingInstanceTemplate"), "settingDefinitionId": id, "settingInstanceTemplateId": inst,
                "choiceSettingValueTemplate": {"settingValueTemplateId": val, "defaultValue": {"@odata.type": format!("{NS}ChoiceSettingValueConstantDefaultTemplate"), "settingDefinitionOptionId": default}}},
                "settingDefinitions": [{"@odata.type": format!("{NS}ChoiceSettingDefinition"), "id": id, "options": [{"itemId": format!("{id}_0")}, {"itemId": format!("{id}_1")}]}]})
        };
        let t = template(&json!({"id": "t", "displayName": "T", "platforms": "windows10", "technologies": "mdm"}), &[st("a_b", "i1", "v1", json!("a_b_1")), st("a_c", "i2", "v2", json!("a_c_0"))]);
        let mut r = engine::DesiredResource {
            address: "settings_catalog.x".parse().expect("test fixture"),
            natural_key: "x".into(),
            display_name: "x".into(),
            props: Default::default(),
            immutable: vec![],
            assignment_props: vec![],
            create_only: Default::default(),
            depends_on: vec![],
            expires: None,
        };
        r.props.insert("settings".into(), json!({"a_b": "a_b_0"}));
        let c = complete_one(&r, &t).expect("completes");
        assert_eq!(c.props["settings"], json!({"a_b": "a_b_0", "a_c": "a_c_0"}));
        assert_eq!(c.supplied, vec!["settings.a_c".to_string()]);
        assert_eq!(c.props[REFERENCES]["a_c"], json!({"settingInstanceTemplateId": "i2", "settingValueTemplateId": "v2"}));
        assert_eq!(c.props["platforms"], json!("windows10"));
        r.props.insert("settings".into(), json!({"a_z": "a_z_1", "a_b": "a_b_7"}));
        let why = complete_one(&r, &t).expect_err("refused");
        assert!(why.contains("`a_z` is not in template \"T\"") && why.contains("`a_b_7` is not one of its options"), "{why}");
    }
}
