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
use super::intune_common::{assign_if_touched, assignments, bare_type, create_policy, holds_secret, patch_policy, read_filter_names, record_modified, settings};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use super::str_field;
use crate::apply::{delete_plain, err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{BatchRequest, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use engine::model::as_reference;
use schema::kinds::compliance_policy::{ComplianceAction, ComplianceActionType};
use std::collections::BTreeMap;

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
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.compliance_policy { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "compliance.toml",
    export_title: "Compliance policies",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
    after_post: &["assignments"],
};

/// The assignment type `/assign` takes for this collection.
const ASSIGNMENT: &str = "#microsoft.graph.deviceCompliancePolicyAssignment";

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

/// With assignments and scheduled actions (the block grace period).
/// The scheduled actions (the noncompliance actions), expanded on reads.
const EXPAND: &str = "scheduledActionsForRule($expand=scheduledActionConfigurations)";

/// The listing, assignments and scheduled actions expanded.
fn list_path() -> String {
    format!("{}?$expand=assignments,{EXPAND}&$top=999", PROVIDER.collection)
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let (client, modified) = (cx.client, cx.modified);
        let beta = client.beta();
        let base = "/deviceManagement/deviceCompliancePolicies";
        let mut raw = beta.list_all(&list_path()).await?;
        record_modified(&raw, modified);
        // Graph documents this expansion on the single GET; should a list come
        // back without it, read those policies one by one (batched) rather than
        // take a missing block action for "no grace period".
        let missing: Vec<usize> = (0..raw.len()).filter(|i| raw[*i].get("scheduledActionsForRule").is_none()).collect();
        if !missing.is_empty() {
            let requests = missing
                .iter()
                .map(|i| BatchRequest::get(format!("{base}/{}?$expand={EXPAND}", str_field(&raw[*i], "id"))))
                .collect();
            for (i, response) in missing.into_iter().zip(beta.batch(requests).await?) {
                let body = response.into_result()?.unwrap_or(Value::Null);
                let rules = body.get("scheduledActionsForRule").cloned().unwrap_or(Value::Null);
                if let Some(m) = raw[i].as_object_mut() {
                    m.insert("scheduledActionsForRule".into(), rules);
                }
            }
        }
        read_filter_names(&beta, &mut raw).await?;
        Ok(raw.iter().map(normalize).collect::<Vec<_>>().into())
    })
}

/// Created with its scheduled actions (Graph requires the block action),
/// then assigned.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let mut body = super::scope_tag::write_body(r, NOT_PATCHED, &|a| w.ref_id(a)).map_err(err)?;
        let lookup = |a: &str| w.ref_id(a);
        let others = desired_actions(r, &lookup).map_err(err)?.unwrap_or_default();
        if let Some(m) = body.as_object_mut() {
            let grace = r.props.get(BLOCK_GRACE).cloned().unwrap_or(json!(0));
            m.insert("scheduledActionsForRule".into(), scheduled_actions(&grace, &others));
        }
        create_policy(w, body, ASSIGNMENT).await
    })
}

/// PATCH what changed; scheduled actions through `scheduleActionsForRules`;
/// `/assign` if assignments changed.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let base = w.base();
        patch_policy(w, id, NOT_PATCHED).await?;
        if NOT_PATCHED.iter().any(|f| w.touched().contains(*f)) {
            let grace = r.props.get(BLOCK_GRACE).cloned().unwrap_or(json!(0));
            // The call replaces every action: declared actions are sent as
            // declared, undeclared ones as they are live.
            let lookup = |a: &str| w.ref_id(a);
            let others = match desired_actions(r, &lookup).map_err(err)? {
                Some(declared) => declared,
                None => {
                    let live = api.get_json(&format!("{base}/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await.map_err(fail)?;
                    live_actions(&live).iter().map(keep_action).collect()
                }
            };
            let body = json!({"deviceComplianceScheduledActionForRules": scheduled_actions(&grace, &others)});
            // Replaces the rules: safe to repeat.
            let request = GraphRequest::new(Method::POST, format!("{base}/{id}/scheduleActionsForRules")).json(body).safe_to_retry(true);
            w.execute(&api, request).await?;
        }
        assign_if_touched(w, id, ASSIGNMENT).await
    })
}

/// A compliance policy's other scheduled actions in desired state's form
/// (None when it has none, so nothing is declared).
fn compliance_actions(p: &engine::Props, keys: &crate::export::Keys) -> Result<Option<Vec<ComplianceAction>>, String> {
    let list = p.get(ACTIONS).and_then(Value::as_array).cloned().unwrap_or_default();
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for a in list {
        let action_type: ComplianceActionType = serde_json::from_value(a["actionType"].clone()).map_err(|e| format!("scheduled action: {e}"))?;
        let mut cc = Vec::new();
        for r in a.get("notificationMessageCCList").and_then(Value::as_array).into_iter().flatten() {
            let id = as_reference(r).unwrap_or_default();
            let key = keys.key_of(id).filter(|k| k.kind == Kind::Group).ok_or_else(|| format!("a notification copies group {id}, which is not exported"))?;
            cc.push(key.key.clone());
        }
        out.push(ComplianceAction {
            action_type,
            grace_period_hours: a["gracePeriodHours"].as_u64().unwrap_or(0) as u32,
            template: a.get("notificationTemplateId").and_then(Value::as_str).map(str::to_string),
            cc,
        });
    }
    Ok(Some(out))
}

/// Policies holding a secret are not exported (desired state is kept in git).
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let p = &o.props;
        if let Some(what) = holds_secret(p) {
            cx.warn(format!("compliance policy {} ({}): holds a secret ({what}): not exported; declare it by hand", o.display_name, o.id));
            continue;
        }
        match assignments(p, &cx.keys).and_then(|asg| Ok((asg, compliance_actions(p, &cx.keys)?, super::scope_tag::tags_of(cx, p)?))) {
            Ok((asg, actions, scope_tags)) => {
                let a = cx.key(Kind::CompliancePolicy, &o.display_name, &o.id);
                t.insert(
                    a.key.clone(),
                    CompliancePolicy {
                        odata_type: bare_type(p),
                        display_name: o.display_name.clone(),
                        description: crate::export::s(p, "description"),
                        grace_period_hours: p.get(BLOCK_GRACE).and_then(Value::as_u64).unwrap_or(0) as u32,
                        actions,
                        settings: settings(p, &["displayName", "description", "assignments", "roleScopeTagIds", BLOCK_GRACE, ACTIONS]),
                        scope_tags,
                        assignments: asg,
                        rollout: None,
                    },
                );
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("compliance policy {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::CompliancePolicy, "", &t);
}
