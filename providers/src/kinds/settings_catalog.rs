//! Settings Catalog policies (`/beta/deviceManagement/configurationPolicies`).
//!
//! Desired settings are normalized to `settings`: definition id -> value
//! (an option id for a choice, `{value, <child id>: …}` for a choice with
//! children, an integer or string for a simple setting, an array for a
//! collection, an array of tables for a group collection), and
//! `settingIds`, the sorted ids: every live setting is managed, so one
//! added in Intune shows as a change of `settingIds`, and a changed value as
//! the change of `settings.<id>`. Writes send the whole policy: POST with
//! its settings, and PUT, Graph's update of a configuration policy (it
//! replaces the settings); assignments through `/assign`.
//!
//! Declared values are checked at plan time against the tenant's setting
//! definitions, read by id (`configurationSettings/{id}`, 20 per `$batch`)
//! for the ids desired state names only: the catalog holds thousands of
//! definitions, a policy a few dozen.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredModel, DesiredResource, LiveObject};
use schema::kinds::settings_catalog::CHOICE_VALUE;
use schema::kinds::SettingsCatalog;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::intune_common::{assign, assignments, read_filter_names, record_modified};
use super::registry::{key_is, lit, Api, BoxFuture, Created, KindProvider, NaturalKey, Read};
use super::{desired_assignments, live_assignments, live_props, resource, str_field};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{BatchRequest, GraphClient, GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::SettingsCatalog,
    collection: "/deviceManagement/configurationPolicies",
    api: Api::Beta,
    natural_key: Some(NaturalKey {
        field: "name",
        select: "",
        filter: |r| {
            let name = r.props.get("name").and_then(Value::as_str).unwrap_or_default();
            (format!("name eq {}", lit(name)), name.to_lowercase())
        },
        matches: |o, _, wanted| key_is(o, "name", wanted),
    }),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.settings_catalog {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "settings-catalog.toml",
    export_title: "Settings Catalog policies",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
    after_post: &["assignments"],
};

const ASSIGNMENT: &str = "#microsoft.graph.deviceManagementConfigurationPolicyAssignment";

use super::settings_catalog_secret as secret;

const NS: &str = "#microsoft.graph.deviceManagementConfiguration";

pub fn desired(key: &str, s: &SettingsCatalog, state: &DesiredState) -> DesiredResource {
    let mut p = engine::Props::new();
    p.insert("name".into(), json!(s.name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &s.description {
        p.insert("description".into(), json!(d));
    }
    // Left out with a template: the template's (completed by the read).
    for (k, v) in [("platforms", &s.platforms), ("technologies", &s.technologies)] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    // The template as declared (a display name or an id): the read resolves
    // it and completes the policy with the template's id, defaults and
    // setting references (`settings_catalog_template`).
    if let Some(t) = &s.template {
        p.insert("templateReference".into(), json!({ "templateId": t }));
    }
    // A secret (`{ secret_env = … }`) becomes a marker compared by whether
    // it is set; its variable's name goes with the change, never a value.
    let mut envs = Map::new();
    let settings: Map<String, Value> = s
        .settings
        .iter()
        .map(|(k, v)| {
            let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
            secret::desired_value(k, &mut v, &mut envs);
            (k.clone(), v)
        })
        .collect();
    p.insert("settingIds".into(), json!(s.settings.keys().collect::<Vec<_>>()));
    p.insert("settings".into(), Value::Object(settings));
    super::scope_tag::insert_desired(&mut p, state, &s.scope_tags);
    p.insert("assignments".into(), desired_assignments(state, &s.assignments));
    let mut r = resource(Address::new(Kind::SettingsCatalog, key), s.name.to_lowercase(), s.name.clone(), p);
    // Intune makes a new policy for another platform, technology or template.
    r.immutable = vec!["platforms".into(), "technologies".into(), "templateReference".into()];
    r.assignment_props = vec!["assignments".into()];
    if !envs.is_empty() {
        r.create_only.insert(secret::ENVS.into(), Value::Object(envs));
    }
    r
}

/// A live policy with `assignments` and `settings` (the setting objects).
pub fn normalize(raw: &Value) -> LiveObject {
    let mut props = live_props(
        raw,
        &["settings", "assignments", "settingCount", "creationSource", "isAssigned", "priorityMetaData", "roleScopeTagIds", "disableEntraGroupPolicyAssignment", "settings@odata.context"],
    );
    let settings: Map<String, Value> = raw.get("settings").and_then(Value::as_array).into_iter().flatten().filter_map(|s| instance_value(s.get("settingInstance").unwrap_or(s))).collect();
    if let Some(refs) = raw.get("settings").and_then(Value::as_array).and_then(|s| super::settings_catalog_template::live_references(s)) {
        props.insert(super::settings_catalog_template::REFERENCES.into(), refs);
    }
    props.insert("settingIds".into(), json!(settings.keys().collect::<Vec<_>>()));
    props.insert("settings".into(), Value::Object(settings));
    props.insert("assignments".into(), live_assignments(raw.get("assignments").unwrap_or(&Value::Null)));
    // Scope tags (as references) are managed when declared.
    if let Some(tags) = super::scope_tag::live(raw) {
        props.insert("roleScopeTagIds".into(), tags);
    }
    if let Some(Value::Object(t)) = props.get_mut("templateReference") {
        // A policy made from no template says so with an empty id.
        if t.get("templateId").and_then(Value::as_str).is_none_or(str::is_empty) {
            t.remove("templateId");
        }
    }
    LiveObject {
        kind: Kind::SettingsCatalog,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "name").to_lowercase(),
        display_name: str_field(raw, "name").to_string(),
        props,
    }
}

fn bare(v: &Value) -> &str {
    v.get("@odata.type").and_then(Value::as_str).unwrap_or_default().trim_start_matches(NS)
}

/// A setting instance as (definition id, normalized value).
fn instance_value(inst: &Value) -> Option<(String, Value)> {
    let id = inst.get("settingDefinitionId")?.as_str()?.to_string();
    let value = match bare(inst) {
        "ChoiceSettingInstance" => choice_value(inst.get("choiceSettingValue")?),
        // A secret (Graph returns only an encrypted token): whether it is
        // set, never the token, so it is neither exported nor compared as
        // a value.
        "SimpleSettingInstance" if inst.get("simpleSettingValue").is_some_and(secret::is_secret_value) => secret::live_value(inst.get("simpleSettingValue")?),
        "SimpleSettingInstance" => inst.pointer("/simpleSettingValue/value")?.clone(),
        "SimpleSettingCollectionInstance" => Value::Array(inst.get("simpleSettingCollectionValue")?.as_array()?.iter().filter_map(|v| v.get("value").cloned()).collect()),
        "GroupSettingCollectionInstance" => Value::Array(inst.get("groupSettingCollectionValue")?.as_array()?.iter().map(|g| Value::Object(children(g))).collect()),
        _ => return None,
    };
    Some((id, value))
}

fn children(v: &Value) -> Map<String, Value> {
    v.get("children").and_then(Value::as_array).into_iter().flatten().filter_map(instance_value).collect()
}

fn choice_value(v: &Value) -> Value {
    let option = v.get("value").cloned().unwrap_or(Value::Null);
    let kids = children(v);
    if kids.is_empty() {
        return option;
    }
    let mut m = kids;
    m.insert(CHOICE_VALUE.into(), option);
    Value::Object(m)
}

/// The setting instance Graph takes for a normalized value. A string that
/// is one of the definition's option ids (`<definition id>_…`, Intune's
/// convention, checked against the definition at plan time) is a choice.
pub fn instance(id: &str, v: &Value) -> Value {
    let simple = |v: &Value| match v {
        Value::Number(_) => json!({"@odata.type": format!("{NS}IntegerSettingValue"), "value": v}),
        _ => json!({"@odata.type": format!("{NS}StringSettingValue"), "value": v}),
    };
    let choice = |option: &Value, kids: Vec<Value>| {
        json!({
            "@odata.type": format!("{NS}ChoiceSettingInstance"),
            "settingDefinitionId": id,
            "choiceSettingValue": {"@odata.type": format!("{NS}ChoiceSettingValue"), "value": option, "children": kids},
        })
    };
    let group_children = |m: &Map<String, Value>| m.iter().filter(|(k, _)| k.as_str() != CHOICE_VALUE).map(|(k, v)| instance(k, v)).collect::<Vec<_>>();
    match v {
        Value::String(s) if is_option(id, s) => choice(v, Vec::new()),
        Value::Object(m) => choice(m.get(CHOICE_VALUE).unwrap_or(&Value::Null), group_children(m)),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => json!({
            "@odata.type": format!("{NS}GroupSettingCollectionInstance"),
            "settingDefinitionId": id,
            "groupSettingCollectionValue": items.iter().map(|g| json!({
                "@odata.type": format!("{NS}GroupSettingValue"),
                "children": g.as_object().map(|m| m.iter().map(|(k, v)| instance(k, v)).collect::<Vec<_>>()).unwrap_or_default(),
            })).collect::<Vec<_>>(),
        }),
        Value::Array(items) => json!({
            "@odata.type": format!("{NS}SimpleSettingCollectionInstance"),
            "settingDefinitionId": id,
            "simpleSettingCollectionValue": items.iter().map(simple).collect::<Vec<_>>(),
        }),
        other => json!({
            "@odata.type": format!("{NS}SimpleSettingInstance"),
            "settingDefinitionId": id,
            "simpleSettingValue": simple(other),
        }),
    }
}

fn is_option(id: &str, value: &str) -> bool {
    value.len() > id.len() + 1 && value[..id.len()].eq_ignore_ascii_case(id) && value.as_bytes()[id.len()] == b'_'
}

/// The POST and PUT body: the whole policy with its settings.
pub fn write_body(r: &DesiredResource) -> Value {
    let mut body = Map::new();
    for k in ["name", "description", "platforms", "technologies", "templateReference"] {
        if let Some(v) = r.props.get(k).filter(|v| !v.is_null()) {
            body.insert(k.into(), v.clone());
        }
    }
    let references = r.props.get(super::settings_catalog_template::REFERENCES);
    let settings = r.props.get("settings").and_then(Value::as_object).into_iter().flatten().map(|(id, v)| {
        let mut inst = instance(id, v);
        super::settings_catalog_template::reference_instance(&mut inst, references);
        json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": inst})
    });
    body.insert("settings".into(), Value::Array(settings.collect()));
    Value::Object(body)
}

// ---- read

/// Policies with assignments; their settings per policy, 20 per `$batch`
/// (`/settings`, every page followed); the declared settings checked
/// against the tenant's definitions.
/// The policies listing, assignments expanded (settings are read per
/// policy).
fn list_path() -> String {
    format!("{}?$expand=assignments&$top=999", PROVIDER.collection)
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let beta = cx.client.beta();
        let base = PROVIDER.collection;
        // The policies' settings, the declared settings' definitions and
        // the declared templates' settings depend on nothing but the
        // listings: read side by side, so their `$batch` items go in the
        // same dependency level (`coalesce`).
        let policies = async {
            let mut raw = beta.list_all(&list_path()).await?;
            record_modified(&raw, cx.modified);
            let requests = raw.iter().map(|p| BatchRequest::get(format!("{base}/{}/settings?$top=999", str_field(p, "id")))).collect();
            let responses = beta.batch(requests).await?;
            for (p, response) in raw.iter_mut().zip(responses) {
                let body = response.into_result()?.unwrap_or(Value::Null);
                let mut settings = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
                if let Some(next) = body.get("@odata.nextLink").and_then(Value::as_str) {
                    settings.extend(beta.list_all(next).await?);
                }
                if let Some(m) = p.as_object_mut() {
                    m.insert("settings".into(), Value::Array(settings));
                }
            }
            read_filter_names(&beta, &mut raw).await?;
            Ok::<_, GraphError>(raw)
        };
        let (raw, refused, templates) = crate::graph::coalesce::join3(policies, check_definitions(cx.client, cx.desired), super::settings_catalog_template::complete(cx.client, cx.desired)).await;
        let (raw, mut refused, (from_templates, completed)) = (raw?, refused?, templates?);
        refused.extend(from_templates);
        if let Ok(mut done) = cx.completed.lock() {
            done.extend(completed);
        }
        Ok(Readout { objects: raw.iter().map(normalize).collect(), after: None, refused })
    })
}

/// Every definition id a normalized value names (children included).
fn ids_in(id: &str, v: &Value, out: &mut BTreeSet<String>) {
    out.insert(id.to_string());
    let tables: Vec<&Map<String, Value>> = match v {
        Value::Object(m) => vec![m],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    for m in tables {
        for (k, x) in m.iter().filter(|(k, _)| k.as_str() != CHOICE_VALUE) {
            ids_in(k, x, out);
        }
    }
}

/// The declared settings' definitions, by id (absent: no such definition).
async fn definitions(client: &GraphClient, ids: &BTreeSet<String>) -> Result<BTreeMap<String, Value>, GraphError> {
    let beta = client.beta();
    let ids: Vec<&String> = ids.iter().collect();
    let requests = ids.iter().map(|id| BatchRequest::get(format!("/deviceManagement/configurationSettings/{}", schema::object_id::path_segment(id)))).collect();
    let mut out = BTreeMap::new();
    for (id, response) in ids.into_iter().zip(beta.batch(requests).await?) {
        match response.into_result() {
            Ok(body) => {
                out.insert(id.clone(), body.unwrap_or(Value::Null));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Declared settings Graph would refuse, by policy: why (naming the setting).
async fn check_definitions(client: &GraphClient, desired: &DesiredModel) -> Result<BTreeMap<Address, String>, GraphError> {
    // Template-based policies are checked against their template's own
    // definitions (`settings_catalog_template`).
    let templated = super::settings_catalog_template::templated(desired);
    let declared: Vec<&DesiredResource> = desired.resources.values().filter(|r| r.address.kind == Kind::SettingsCatalog && !templated.contains(&r.address)).collect();
    let mut ids = BTreeSet::new();
    for r in &declared {
        for (id, v) in r.props.get("settings").and_then(Value::as_object).into_iter().flatten() {
            ids_in(id, v, &mut ids);
        }
    }
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let defs = definitions(client, &ids).await?;
    let mut refused = BTreeMap::new();
    for r in declared {
        let mut problems = Vec::new();
        for (id, v) in r.props.get("settings").and_then(Value::as_object).into_iter().flatten() {
            check_value(id, v, &defs, &mut problems);
        }
        if !problems.is_empty() {
            refused.insert(r.address.clone(), problems.join("; "));
        }
    }
    Ok(refused)
}

/// What is wrong with one declared value, given the definitions.
pub fn check_value(id: &str, v: &Value, defs: &BTreeMap<String, Value>, problems: &mut Vec<String>) {
    let Some(def) = defs.get(id) else {
        problems.push(format!("setting `{id}` is not a setting definition in this tenant"));
        return;
    };
    let ty = def.get("@odata.type").and_then(Value::as_str).unwrap_or_default().trim_start_matches(NS);
    let options = || -> Vec<&str> { def.get("options").and_then(Value::as_array).into_iter().flatten().filter_map(|o| o.get("itemId").and_then(Value::as_str)).collect() };
    let kids = |m: &Map<String, Value>, problems: &mut Vec<String>| {
        for (k, x) in m.iter().filter(|(k, _)| k.as_str() != CHOICE_VALUE) {
            check_value(k, x, defs, problems);
        }
    };
    match ty {
        "ChoiceSettingDefinition" | "ChoiceSettingCollectionDefinition" => {
            let (option, children) = match v {
                Value::String(s) => (Some(s.as_str()), None),
                Value::Object(m) => (m.get(CHOICE_VALUE).and_then(Value::as_str), Some(m)),
                _ => (None, None),
            };
            match option {
                Some(o) if options().iter().any(|x| x.eq_ignore_ascii_case(o)) && is_option(id, o) => {}
                Some(o) => problems.push(format!("setting `{id}`: `{o}` is not one of its options ({})", options().join(", "))),
                None => problems.push(format!("setting `{id}` is a choice: give one of its options ({})", options().join(", "))),
            }
            if let Some(m) = children {
                kids(m, problems);
            }
        }
        "SimpleSettingDefinition" => {
            let value_type = def.pointer("/valueDefinition/@odata.type").and_then(Value::as_str).unwrap_or_default();
            check_simple(id, v, value_type, def, problems);
        }
        "SimpleSettingCollectionDefinition" => match v {
            Value::Array(items) => {
                let value_type = def.pointer("/valueDefinition/@odata.type").and_then(Value::as_str).unwrap_or_default();
                for x in items {
                    check_simple(id, x, value_type, def, problems);
                }
            }
            _ => problems.push(format!("setting `{id}` is a collection: give an array")),
        },
        "SettingGroupCollectionDefinition" | "SettingGroupDefinition" => match v {
            Value::Array(items) if items.iter().all(Value::is_object) => {
                for m in items.iter().filter_map(Value::as_object) {
                    kids(m, problems);
                }
            }
            _ => problems.push(format!("setting `{id}` is a group collection: give an array of tables")),
        },
        other => problems.push(format!("setting `{id}`: definitions of type {other} are not supported")),
    }
}

fn check_simple(id: &str, v: &Value, value_type: &str, def: &Value, problems: &mut Vec<String>) {
    if def.pointer("/valueDefinition/isSecret").and_then(Value::as_bool) == Some(true) {
        if !secret::is_marker(v) {
            // Never echoed: it may be the secret itself.
            problems.push(format!("setting `{id}` is a secret: declare it as `{{ secret_env = \"NAME\" }}` (the value comes from that environment variable at apply; a secret is never written in TOML)"));
        }
        return;
    }
    if secret::is_marker(v) {
        problems.push(format!("setting `{id}` is not a secret (its definition has no isSecret): give its value, not `secret_env`"));
        return;
    }
    if value_type.ends_with("IntegerSettingValueDefinition") {
        let Some(n) = v.as_i64() else {
            problems.push(format!("setting `{id}` takes an integer, not {v}"));
            return;
        };
        let min = def.pointer("/valueDefinition/minimumValue").and_then(Value::as_i64);
        let max = def.pointer("/valueDefinition/maximumValue").and_then(Value::as_i64);
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            problems.push(format!("setting `{id}`: {n} is outside {}..{}", min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX)));
        }
    } else if !v.is_string() {
        problems.push(format!("setting `{id}` takes a string, not {v}"));
    } else if v.as_str().is_some_and(|s| is_option(id, s)) {
        // Written as a choice by `instance`; Graph would refuse it.
        problems.push(format!("setting `{id}` takes a string, and `{}` reads as one of its option ids", v.as_str().unwrap_or_default()));
    }
}

// ---- write

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move { super::intune_common::create_policy(w, tagged_body(w).await?, ASSIGNMENT).await })
}

/// The whole policy as written (`write_body`) with its scope tags as ids.
/// PUT replaces the policy, so undeclared tags (not managed) are sent as
/// they are live, read with the policy's id, rather than reset to Intune's
/// default; a create without declared tags leaves them to Intune.
async fn tagged_body(w: &Writer<'_>) -> Result<Value, ExecError> {
    let r = w.desired()?;
    let mut body = write_body(r);
    secret::fill(w, &mut body).await?;
    let tags = match r.props.get("roleScopeTagIds") {
        Some(declared) => {
            let mut tags = engine::Props::from_iter([("roleScopeTagIds".to_string(), declared.clone())]);
            super::scope_tag::resolve(&mut tags, &|a| w.ref_id(a)).map_err(crate::apply::err)?;
            tags.remove("roleScopeTagIds")
        }
        None => match w.change().id.as_deref() {
            Some(id) if w.change().action != engine::Action::Replace => {
                let live = w.api().get_json(&format!("{}/{id}?$select=id,roleScopeTagIds", w.base())).await.map_err(crate::apply::fail)?;
                live.get("roleScopeTagIds").filter(|t| t.is_array()).cloned()
            }
            _ => None,
        },
    };
    if let (Some(tags), Some(m)) = (tags, body.as_object_mut()) {
        m.insert("roleScopeTagIds".into(), tags);
    }
    Ok(body)
}

/// Graph's update of a configuration policy is PUT of the whole policy
/// with its settings (PATCH does not change settings).
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let touched = w.touched();
        if touched.iter().any(|f| f != "assignments") {
            w.send(&w.api(), Method::PUT, &format!("{}/{id}", w.base()), Some(tagged_body(w).await?)).await?;
        }
        if touched.contains("assignments") {
            assign(w, id, ASSIGNMENT).await?;
        }
        Ok(())
    })
}

// ---- export

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    let mut secret_names = Vec::new();
    // Secrets' variables are named after the policy's key too (two
    // policies with the same secret setting need two values).
    let mut env_names = secret::EnvNames::default();
    for o in objects {
        let p = &o.props;
        let a = cx.key(Kind::SettingsCatalog, &o.display_name, &o.id);
        let settings: Result<BTreeMap<String, toml::Value>, String> = p
            .get("settings")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                // A secret is exported as the name of a variable to set.
                let v = secret::export_value(k, v, &mut |id| env_names.name(&a.key, id), &mut secret_names);
                crate::export::json_to_toml(&v).map(|t| (k.clone(), t)).ok_or_else(|| format!("setting {k} has no value"))
            })
            .collect();
        for name in std::mem::take(&mut secret_names) {
            cx.warn(format!("settings catalog policy {}: a secret setting is exported as `secret_env = \"{name}\"`; set that environment variable before applying (Graph returns only an encrypted token, never the value)", o.display_name));
        }
        let result = settings.and_then(|settings| Ok((settings, assignments(p, &cx.keys)?, super::scope_tag::tags_of(cx, p)?)));
        match result {
            Ok((settings, asg, scope_tags)) => {
                t.insert(
                    a.key.clone(),
                    SettingsCatalog {
                        name: o.display_name.clone(),
                        description: crate::export::s(p, "description"),
                        platforms: crate::export::s(p, "platforms").unwrap_or_default(),
                        technologies: crate::export::s(p, "technologies").unwrap_or_default(),
                        template: p.get("templateReference").and_then(|r| r.get("templateId")).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string),
                        rollout: None,
                        settings,
                        scope_tags,
                        assignments: asg,
                    },
                );
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("settings catalog policy {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::SettingsCatalog, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_setting_instances() {
        let cases = [
            ("a_b", json!("a_b_1")),
            ("a_b", json!(50)),
            ("a_b", json!("text")),
            ("a_b", json!(["x", "y"])),
            ("a_b", json!({"value": "a_b_1", "a_b_c": 3})),
            ("a_g", json!([{"a_g_name": "r1", "a_g_dir": "a_g_dir_in"}])),
        ];
        for (id, v) in cases {
            let inst = instance(id, &v);
            assert_eq!(instance_value(&inst), Some((id.to_string(), v.clone())), "{inst}");
        }
    }

    #[test]
    fn definitions_refuse_unknown_ids_bad_options_and_wrong_types() {
        let defs: BTreeMap<String, Value> = [
            ("c".to_string(), json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingDefinition", "options": [{"itemId": "c_0"}, {"itemId": "c_1"}]})),
            ("n".to_string(), json!({"@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingDefinition", "valueDefinition": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValueDefinition", "minimumValue": 0, "maximumValue": 100}})),
        ]
        .into_iter()
        .collect();
        let problems = |id: &str, v: Value| {
            let mut p = Vec::new();
            check_value(id, &v, &defs, &mut p);
            p
        };
        assert!(problems("c", json!("c_1")).is_empty());
        assert!(problems("n", json!(50)).is_empty());
        assert!(problems("x", json!(1))[0].contains("not a setting definition"));
        assert!(problems("c", json!("c_2"))[0].contains("not one of its options"));
        assert!(problems("n", json!("fifty"))[0].contains("takes an integer"));
        assert!(problems("n", json!(101))[0].contains("outside 0..100"));
    }
}
