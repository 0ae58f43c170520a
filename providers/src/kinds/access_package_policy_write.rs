//! Writing an access package's assignment policies: each declared policy
//! is created, updated with a whole-policy `PUT` that keeps what tenantctl
//! does not model, or renamed in place (`access_policy_rename`); one no
//! longer declared is deleted.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::as_reference;
use engine::DesiredResource;
use schema::kinds::access_package as ap;
use serde_json::{json, Map, Value};

use super::access_package::{policy_package, GRAPH, POLICIES, POLICIES_LISTING, POLICIES_PROP};
use super::access_policy_stages as stages;
use super::str_field;
use crate::apply::{err, fail, Writer};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};

/// A props subject as Graph's subject set; ids from the writer.
fn subject_json(w: &Writer<'_>, v: &Value) -> Result<Value, ExecError> {
    if let Some(s) = v.as_str() {
        if let Some(t) = ap::special_approver(s) {
            return Ok(if t == "requestorManager" { json!({"@odata.type": format!("{GRAPH}{t}"), "managerLevel": 1}) } else { json!({"@odata.type": format!("{GRAPH}{t}")}) });
        }
        if let Some(rule) = super::access_policy_automatic::rule_json(s) {
            return Ok(rule);
        }
        if let Some(id) = s.strip_prefix(ap::CONNECTED_ORGANIZATION) {
            return Ok(json!({"@odata.type": format!("{GRAPH}connectedOrganizationMembers"), "connectedOrganizationId": id}));
        }
        return Err(err(format!("subject `{s}` cannot be written")));
    }
    let target = as_reference(v).ok_or_else(|| err(format!("subject {v} is not a reference")))?;
    let id = w.ref_id(target).ok_or_else(|| err(format!("{target} has no object id yet")))?;
    Ok(if target.starts_with("group.") { json!({"@odata.type": format!("{GRAPH}groupMembers"), "groupId": id}) } else { json!({"@odata.type": format!("{GRAPH}singleUser"), "userId": id}) })
}

fn subjects_json(w: &Writer<'_>, v: Option<&Value>) -> Result<Value, ExecError> {
    Ok(Value::Array(v.and_then(Value::as_array).into_iter().flatten().map(|s| subject_json(w, s)).collect::<Result<_, _>>()?))
}

/// Graph's body of a policy of package `package`; `exts` the extensions
/// of its catalog (listed when a declared policy has stages).
fn policy_body(w: &Writer<'_>, p: &Value, package: &str, exts: &[Value]) -> Result<Value, ExecError> {
    let mut m = Map::new();
    for k in ["displayName", "description", "allowedTargetScope"] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            m.insert(k.into(), v.clone());
        }
    }
    m.insert("specificAllowedTargets".into(), subjects_json(w, p.get("specificAllowedTargets"))?);
    if let Some(e) = p.get("expiration").and_then(Value::as_object) {
        m.insert("expiration".into(), Value::Object(e.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect()));
    }
    if let Some(a) = p.get("requestApprovalSettings").and_then(Value::as_object) {
        let mut am = a.clone();
        let stages: Vec<Value> = a
            .get("stages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                let mut sm = s.as_object().cloned().unwrap_or_default();
                sm.insert("primaryApprovers".into(), subjects_json(w, s.get("primaryApprovers"))?);
                sm.insert("fallbackPrimaryApprovers".into(), subjects_json(w, s.get("fallbackPrimaryApprovers"))?);
                super::access_policy_review::stage_body(s, &mut sm, &|v| subjects_json(w, v))?;
                Ok(Value::Object(sm))
            })
            .collect::<Result<_, ExecError>>()?;
        am.insert("stages".into(), Value::Array(stages));
        m.insert("requestApprovalSettings".into(), Value::Object(am));
    }
    if let Some(r) = p.get("requestorSettings") {
        m.insert("requestorSettings".into(), r.clone());
    }
    if let Some(r) = p.get("reviewSettings").filter(|r| r.is_object()) {
        m.insert("reviewSettings".into(), super::access_policy_review::review_body(r, &|v| subjects_json(w, v))?);
    }
    // Off is sent as null: a request-based policy (the PUT of a policy
    // automatic in the portal turns it back).
    let auto = super::access_policy_automatic::PROP;
    m.insert(auto.into(), super::access_policy_automatic::body(p.get(auto)));
    // Declared questions go inline (unset fields left out); undeclared,
    // none are sent (`keep_unmodelled` guards a live policy that has some).
    if let Some(Value::Array(qs)) = p.get("questions") {
        let qs = qs.iter().map(|q| Value::Object(q.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())).collect();
        m.insert("questions".into(), Value::Array(qs));
    }
    // Always sent (none as `[]`): a PUT without them keeps none, and a
    // stage added in the portal is drift this puts back.
    if let Some(stages) = stages::body(p, exts)? {
        m.insert(stages::PROP.into(), stages);
    }
    m.insert("accessPackage".into(), json!({"id": package}));
    Ok(Value::Object(m))
}

/// The package's live policies (raw), by the key the read gives them
/// ([`super::access_package::policy_keys`]).
pub(super) async fn live_policies(api: &GraphClient, id: &str, declared: &BTreeSet<String>) -> Result<BTreeMap<String, Value>, GraphError> {
    let all = api.list_all(POLICIES_LISTING).await?;
    let mine: Vec<Value> = all.into_iter().filter(|p| policy_package(p) == id).collect();
    Ok(super::access_package::policy_keys(&mine, declared).into_iter().map(|(k, p)| (k, p.clone())).collect())
}

/// Properties of a policy tenantctl does not model: Graph's update is a
/// whole-object PUT, so they are sent back as the tenant has them.
const UNMODELLED_POLICY_PROPS: &[&str] = &["reviewSettings", "notificationSettings", "requestorSettings", "requestApprovalSettings"];

/// Inside what desired state declares, the fields tenantctl does not model
/// are sent back as they are live (audit S1): the requestors who may ask
/// on behalf of others, and each approval stage's approver information
/// visibility (non-nullable in the CSDL). Graph's update replaces the
/// whole policy, so leaving them out would reset them with no plan line.
fn keep_unmodelled_fields(m: &mut Map<String, Value>, live: &Value) {
    if let (Some(Value::Object(rs)), Some(v)) = (m.get_mut("requestorSettings"), live.pointer("/requestorSettings/onBehalfRequestors").filter(|v| !v.is_null())) {
        rs.entry("onBehalfRequestors").or_insert_with(|| v.clone());
    }
    let live_stages = live.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(Value::Array(stages)) = m.get_mut("requestApprovalSettings").and_then(|a| a.get_mut("stages")) {
        for (s, l) in stages.iter_mut().zip(&live_stages) {
            if let (Value::Object(sm), Some(v)) = (s, l.get("approverInformationVisibility").filter(|v| !v.is_null())) {
                sm.entry("approverInformationVisibility").or_insert_with(|| v.clone());
            }
        }
    }
}

/// A live question as it is sent back: without annotations other than its
/// type, and without nulls.
fn carried_question(q: &Value) -> Value {
    match q {
        Value::Object(o) => Value::Object(o.iter().filter(|(k, v)| !v.is_null() && (!k.contains('@') || k.as_str() == "@odata.type")).map(|(k, v)| (k.clone(), v.clone())).collect()),
        other => other.clone(),
    }
}

/// The PUT body of the live policy at `path`: the declared properties over
/// what tenantctl does not model. Requestor questions desired state does
/// not declare (a navigation property a PUT would drop) are sent back as
/// they are live. Custom extension stages are always declared (none is
/// `[]`: `access_policy_stages`), so the guard below is a safety net.
async fn keep_unmodelled(w: &Writer<'_>, api: &GraphClient, live: &Value, body: Value, path: &str, name: &str) -> Result<Value, ExecError> {
    let Value::Object(mut m) = body else { return Ok(body) };
    for k in UNMODELLED_POLICY_PROPS {
        if let Some(v) = live.get(*k).filter(|v| !v.is_null()) {
            m.entry((*k).to_string()).or_insert_with(|| v.clone());
        }
    }
    keep_unmodelled_fields(&mut m, live);
    let full = w.send(api, Method::GET, &format!("{path}?$expand=questions,customExtensionStageSettings"), None).await?;
    // Questions desired state does not declare go back as the tenant has
    // them (ids, types, texts, choices), so an update of what is declared
    // neither drops them nor is refused for them: refusing let a portal
    // edit that added one pin every other portal change of the policy
    // (hostile run 26, finding 5).
    if !m.contains_key("questions") {
        if let Some(qs) = full.get("questions").and_then(Value::as_array).filter(|a| !a.is_empty()) {
            m.insert("questions".into(), Value::Array(qs.iter().map(carried_question).collect()));
        }
    }
    let held: Vec<String> = ["questions", "customExtensionStageSettings"]
        .iter()
        .filter(|k| !m.contains_key(**k))
        .filter_map(|k| full.get(*k).and_then(Value::as_array).filter(|a| !a.is_empty()).map(|a| format!("{} {k}", a.len())))
        .collect();
    if !held.is_empty() {
        return Err(err(format!(
            "{}: policy `{name}` has {} that tenantctl does not manage; Graph's update replaces the whole policy and would remove them. Change this policy in the portal, or remove them there first",
            w.address(),
            held.join(" and ")
        )));
    }
    Ok(Value::Object(m))
}

pub(super) async fn write_policies(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, id: &str, fresh: bool) -> Result<(), ExecError> {
    let want = r.props.get(POLICIES_PROP).and_then(Value::as_object).cloned().unwrap_or_default();
    let declared = super::access_package::declared_policy_names([r]);
    // Fewer policies listed than declared: one made by a run that was
    // killed after its POST may not be listed yet (replication lag), so
    // the listing is waited for within the replication delays before any
    // policy is made again (kill_lag_e2e); one listing when all are there.
    let have = if fresh {
        BTreeMap::new()
    } else {
        let listed = api.wait_until_listed(POLICIES_LISTING, |items| items.iter().filter(|p| policy_package(p) == id).count() >= want.len()).await.map_err(fail)?;
        let mine: Vec<Value> = listed.into_iter().filter(|p| policy_package(p) == id).collect();
        super::access_package::policy_keys(&mine, &declared).into_iter().map(|(k, p)| (k, p.clone())).collect()
    };
    // One policy renamed is updated in place (`access_policy_rename`).
    let renamed = super::access_policy_rename::rename(&want.keys().map(String::as_str).collect(), &have.keys().map(String::as_str).collect()).map(|(old, new)| (old.to_string(), new.to_string()));
    let catalog = super::access_package::catalog_id(w, r)?;
    let exts = if want.values().any(stages::any) { super::access_catalog_extensions::list(api, &catalog).await.map_err(fail)? } else { Vec::new() };
    for (name, p) in &want {
        let body = policy_body(w, p, id, &exts)?;
        let live = match &renamed {
            Some((old, new)) if new == name => have.get(old),
            _ => have.get(name),
        };
        match live {
            Some(live) => {
                let path = format!("{POLICIES}/{}", schema::object_id::path_segment(str_field(live, "id")));
                let body = keep_unmodelled(w, api, live, body, &path, name).await?;
                w.send(api, Method::PUT, &path, Some(body)).await?;
            }
            None => {
                // Readable before the package counts as written: an
                // assignment through the policy finds it by name.
                let made = w.send(api, Method::POST, POLICIES, Some(body)).await?;
                let pid = str_field(&made, "id");
                if !pid.is_empty() {
                    w.wait(api, &format!("{POLICIES}/{}", schema::object_id::path_segment(pid))).await?;
                }
            }
        }
    }
    for (name, live) in &have {
        if !want.contains_key(name) && renamed.as_ref().is_none_or(|(old, _)| old != name) {
            // What is assigned through it ends with it (Graph refuses
            // deleting a policy assignments go through). The plan lets it
            // come here only when those assignments were made outside
            // desired state (`access_policy_rename::guard`): through one
            // named like a declared policy, or one of a name of its own.
            super::access_package_removal::end_assignments_through(w, api, id, Some(str_field(live, "id"))).await?;
            delete_policy(w, api, str_field(live, "id")).await?;
        }
    }
    // Extensions the catalog left while these policies called them.
    stages::release(w, api, r, &catalog).await
}

pub(super) async fn delete_policy(w: &Writer<'_>, api: &GraphClient, id: &str) -> Result<(), ExecError> {
    match w.try_execute(api, GraphRequest::new(Method::DELETE, format!("{POLICIES}/{}", schema::object_id::path_segment(id)))).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(fail(e)),
    }
}
