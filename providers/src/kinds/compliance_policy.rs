//! Device compliance policies. Graph requires exactly one block action; it
//! is modelled as the virtual property `blockGracePeriodHours`, written on
//! create inside `scheduledActionsForRule` and afterwards through
//! `scheduleActionsForRules`.

use engine::{DesiredResource, LiveObject};
use schema::kinds::device_configuration::qualified_odata_type;
use schema::kinds::CompliancePolicy;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::normalize_policy;
use super::{desired_assignments, resource, settings_json};
use super::registry::{Api, KindProvider};

pub const BLOCK_GRACE: &str = "blockGracePeriodHours";

/// The virtual property holding the other scheduled actions, normalized:
/// `[{actionType, gracePeriodHours, notificationTemplateId?,
/// notificationMessageCCList?: [group refs]}]`, sorted.
pub const ACTIONS: &str = "scheduledActions";

/// Properties that are not PATCHed: they are written through
/// `scheduleActionsForRules`.
pub const NOT_PATCHED: &[&str] = &[BLOCK_GRACE, ACTIONS];

/// An all-zero GUID or empty template means "no template".
fn template(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|t| !t.is_empty() && t.chars().any(|c| c != '0' && c != '-')).map(str::to_string)
}

/// One normalized action; `cc` already as references (desired) or ids
/// turned into references (live).
fn action(ty: &str, grace: u64, template: Option<String>, cc: Vec<Value>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("actionType".into(), json!(ty));
    m.insert("gracePeriodHours".into(), json!(grace));
    if let Some(t) = template {
        m.insert("notificationTemplateId".into(), json!(t.to_lowercase()));
    }
    if !cc.is_empty() {
        m.insert("notificationMessageCCList".into(), Value::Array(cc));
    }
    Value::Object(m)
}

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|a| (a["actionType"].as_str().unwrap_or_default().to_string(), a["gracePeriodHours"].as_u64(), a.get("notificationTemplateId").map(Value::to_string)));
    Value::Array(v)
}

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::CompliancePolicy,
    collection: "/deviceManagement/deviceCompliancePolicies",
    api: Api::Beta,
    natural_key: Some("displayName"),
    desired: |s, m| {
        for (k, d) in &s.compliance_policy { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "compliance.toml",
    export_title: "Compliance policies",
};

pub fn desired(key: &str, c: &CompliancePolicy, state: &DesiredState) -> DesiredResource {
    let mut p = settings_json(&c.settings);
    p.insert("@odata.type".into(), json!(qualified_odata_type(&c.odata_type)));
    p.insert("displayName".into(), json!(c.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &c.description {
        p.insert("description".into(), json!(d));
    }
    p.insert(BLOCK_GRACE.into(), json!(c.grace_period_hours));
    // Undeclared actions are not managed: neither compared nor dropped.
    if let Some(actions) = &c.actions {
        let list = actions
            .iter()
            .map(|a| action(a.action_type.as_str(), a.grace_period_hours.into(), a.template.clone(), a.cc.iter().map(|g| super::ref_to(state, g, &[Kind::Group])).collect()))
            .collect();
        p.insert(ACTIONS.into(), sorted(list));
    }
    super::scope_tag::insert_desired(&mut p, state, &c.scope_tags);
    p.insert("assignments".into(), desired_assignments(state, &c.assignments));
    let mut r = resource(Address::new(Kind::CompliancePolicy, key), c.display_name.to_lowercase(), c.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// Read with `$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)`.
pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = normalize_policy(raw, Kind::CompliancePolicy);
    let grace = raw
        .get("scheduledActionsForRule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|r| r.get("scheduledActionConfigurations").and_then(Value::as_array).cloned().unwrap_or_default())
        .find(|c| c.get("actionType").and_then(Value::as_str) == Some("block"))
        .and_then(|c| c.get("gracePeriodHours").cloned());
    o.props.remove("scheduledActionsForRule");
    o.props.insert(BLOCK_GRACE.into(), grace.unwrap_or(Value::Null));
    let others = live_actions(raw)
        .iter()
        .map(|c| {
            let cc = c.get("notificationMessageCCList").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(engine::model::reference).collect();
            action(str_of(c, "actionType"), c.get("gracePeriodHours").and_then(Value::as_u64).unwrap_or(0), template(c.get("notificationTemplateId")), cc)
        })
        .collect();
    o.props.insert(ACTIONS.into(), sorted(others));
    o
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The live scheduled actions other than block, as Graph returns them
/// (from `$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)`).
pub fn live_actions(raw: &Value) -> Vec<Value> {
    raw.get("scheduledActionsForRule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|r| r.get("scheduledActionConfigurations").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter(|c| !matches!(str_of(c, "actionType"), "block" | "noAction"))
        .collect()
}

/// Desired actions as Graph's action items, group references resolved to
/// ids through `ids`; None when desired state does not declare them.
pub fn desired_actions(r: &DesiredResource, ids: &dyn Fn(&str) -> Option<String>) -> Result<Option<Vec<Value>>, String> {
    let Some(list) = r.props.get(ACTIONS).and_then(Value::as_array) else { return Ok(None) };
    let mut out = Vec::new();
    for a in list {
        let mut cc = Vec::new();
        for g in a.get("notificationMessageCCList").and_then(Value::as_array).into_iter().flatten() {
            let address = engine::model::as_reference(g).unwrap_or_default();
            cc.push(json!(ids(address).ok_or_else(|| format!("{address} has no object id yet"))?));
        }
        out.push(json!({
            "actionType": a["actionType"],
            "gracePeriodHours": a["gracePeriodHours"],
            "notificationTemplateId": a.get("notificationTemplateId").cloned().unwrap_or(json!("")),
            "notificationMessageCCList": cc,
        }));
    }
    Ok(Some(out))
}

/// Only what a `scheduleActionsForRules` item carries of a live action
/// (no ids or `@odata` annotations).
pub fn keep_action(c: &Value) -> Value {
    json!({
        "actionType": c["actionType"],
        "gracePeriodHours": c.get("gracePeriodHours").cloned().unwrap_or(json!(0)),
        "notificationTemplateId": c.get("notificationTemplateId").cloned().unwrap_or(json!("")),
        "notificationMessageCCList": c.get("notificationMessageCCList").cloned().unwrap_or(json!([])),
    })
}

/// The full scheduled action set: the one block action and `others`
/// (Graph action items). `scheduleActionsForRules` replaces the whole set,
/// so every action to keep is in it.
pub fn scheduled_actions(grace_hours: &Value, others: &[Value]) -> Value {
    let mut configs = vec![json!({
        "actionType": "block",
        "gracePeriodHours": grace_hours.as_u64().unwrap_or(0),
        "notificationTemplateId": "",
        "notificationMessageCCList": [],
    })];
    configs.extend(others.iter().cloned());
    json!([{
        "ruleName": "PasswordRequired",
        "scheduledActionConfigurations": configs,
    }])
}
