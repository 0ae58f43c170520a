//! What the Intune policy kinds share, in each direction: reading a
//! collection with its assignments (modification times for the rollout
//! soak, assignment filters by name), writing `/assign` and PATCHing a
//! policy, and exporting assignments and settings. Each kind's module
//! calls these; none of them knows a kind.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::model::as_reference;
use engine::Props;
use schema::kinds::assignment::{AssignmentFilter, FilterMode};
use schema::kinds::Assignments;
use schema::Kind;
use serde_json::{json, Value};

use crate::apply::{err, fail, Writer};
use crate::export::{json_to_toml, s, Keys};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};

// ---- read

/// Policies' `lastModifiedDateTime` (deviceConfiguration and
/// deviceCompliancePolicy both carry it), by id, for the rollout soak.
pub(crate) fn record_modified(raw: &[Value], into: &std::sync::Mutex<BTreeMap<String, String>>) {
    if let Ok(mut m) = into.lock() {
        for p in raw {
            // Without a last change time, the creation time: the soak of a
            // rollout then counts from it (with neither, the ring waits).
            let time = |k: &str| p.get(k).and_then(Value::as_str).filter(|t| !t.trim().is_empty());
            if let Some(t) = time("lastModifiedDateTime").or_else(|| time("createdDateTime")) {
                m.insert(super::str_field(p, "id").to_string(), t.to_string());
            }
        }
    }
}

/// Assignment filters (beta) are named in desired state by display name or
/// id; when any target uses one, the tenant's filters are read so both
/// compare.
pub(crate) async fn read_filter_names(beta: &GraphClient, raw: &mut [Value]) -> Result<(), GraphError> {
    if super::uses_filters(raw) {
        let filters = beta.list_all("/deviceManagement/assignmentFilters").await?;
        super::annotate_filter_names(raw, &filters);
    }
    Ok(())
}

// ---- write

/// `/assign` replaces the whole set: always the complete desired set.
/// `odata` is the assignment type, e.g.
/// `#microsoft.graph.deviceConfigurationAssignment`.
pub(crate) async fn assign(w: &Writer<'_>, id: &str, odata: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    let lookup = |a: &str| w.ref_id(a);
    let assignments = r.props.get("assignments").unwrap_or(&Value::Null);
    // Assignment filters are named by display name or id: resolved
    // against the tenant's filters (beta) when any is used.
    let filters = if super::filters_named(assignments).is_empty() {
        Vec::new()
    } else {
        w.list(&w.client().beta(), "/deviceManagement/assignmentFilters").await.map_err(fail)?
    };
    let filter_id = |f: &str| super::resolve_filter(&filters, f);
    let body = super::assign_body(assignments, &lookup, &filter_id, odata).map_err(err)?;
    // `/assign` replaces the whole set, so sending it twice is harmless.
    let request = GraphRequest::new(Method::POST, format!("{}/{id}/assign", w.base())).json(body).safe_to_retry(true);
    w.execute(&w.api(), request).await?;
    Ok(())
}

/// `/assign` when the change touches assignments.
pub(crate) async fn assign_if_touched(w: &Writer<'_>, id: &str, odata: &str) -> Result<(), ExecError> {
    if w.touched().contains("assignments") {
        assign(w, id, odata).await?;
    }
    Ok(())
}

/// PATCH the touched properties but `skip` (and assignments), with the
/// object's `@odata.type`, which Intune refuses a PATCH without.
pub(crate) async fn patch_policy(w: &Writer<'_>, id: &str, skip: &[&str]) -> Result<(), ExecError> {
    let mut body = w.scalar(skip)?;
    // Declared scope tags are references: sent as tag ids.
    super::scope_tag::resolve(&mut body, &|a| w.ref_id(a)).map_err(err)?;
    if !body.is_empty() {
        body.insert("@odata.type".into(), w.desired()?.props.get("@odata.type").cloned().unwrap_or(Value::Null));
        w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(json!(body))).await?;
    }
    Ok(())
}

/// POST a new policy, wait until it is readable, then `/assign` it.
pub(crate) async fn create_policy(w: &Writer<'_>, body: Value, odata_assignment: &str) -> Result<String, ExecError> {
    let base = w.base();
    let id = w.post_new(base, body).await?;
    w.wait(&w.api(), &format!("{base}/{id}")).await?;
    assign(w, &id, odata_assignment).await?;
    Ok(id)
}

// ---- export

pub(crate) fn assignments(p: &Props, keys: &Keys) -> Result<Assignments, String> {
    let a = p.get("assignments").cloned().unwrap_or(Value::Null);
    let groups = |k: &str| -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for r in a.get(k).and_then(Value::as_array).into_iter().flatten() {
            let id = as_reference(r).unwrap_or_default();
            match keys.key_of(id) {
                Some(addr) if addr.kind == Kind::Group => out.push(addr.key.clone()),
                _ => return Err(format!("assigned to group {id}, which is not exported")),
            }
        }
        out.sort();
        Ok(out)
    };
    let mut out = Assignments {
        include: groups("include")?,
        exclude: groups("exclude")?,
        all_devices: a.get("allDevices").and_then(Value::as_bool).unwrap_or(false),
        all_users: a.get("allUsers").and_then(Value::as_bool).unwrap_or(false),
        filters: BTreeMap::new(),
    };
    // Filtered targets, under their filter's name where observe found it
    // (each is keyed by id and by name), else its id.
    let is_id = |f: &str| f.len() == 36 && f.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    for (key, targets) in a.get("filters").and_then(Value::as_object).into_iter().flatten() {
        let Some((filter, mode)) = key.rsplit_once('|') else { continue };
        let mode = match mode {
            "include" => FilterMode::Include,
            "exclude" => FilterMode::Exclude,
            other => return Err(format!("unknown assignment filter mode {other}")),
        };
        for t in targets.as_array().into_iter().flatten() {
            let target = match t.as_str() {
                Some("allDevices") => {
                    out.all_devices = true;
                    schema::kinds::assignment::ALL_DEVICES.to_string()
                }
                Some("allUsers") => {
                    out.all_users = true;
                    schema::kinds::assignment::ALL_USERS.to_string()
                }
                _ => {
                    let id = as_reference(t).unwrap_or_default();
                    match keys.key_of(id) {
                        Some(addr) if addr.kind == Kind::Group => addr.key.clone(),
                        _ => return Err(format!("assigned to group {id}, which is not exported")),
                    }
                }
            };
            let better = out.filters.get(&target).is_none_or(|f| is_id(&f.filter) && !is_id(filter));
            if better {
                out.filters.insert(target, AssignmentFilter { filter: keys.filter(filter), mode });
            }
        }
    }
    for g in out.filters.keys() {
        if !matches!(g.as_str(), schema::kinds::assignment::ALL_DEVICES | schema::kinds::assignment::ALL_USERS) && !out.include.contains(g) {
            out.include.push(g.clone());
        }
    }
    out.include.sort();
    Ok(out)
}

/// Settings of device configurations and compliance policies: every live
/// property but the modelled ones, by Graph name.
/// The name of the first secret a policy's properties hold, if any: a
/// secret-named property with a value, or a secret-named OMA setting.
pub(crate) fn holds_secret(p: &Props) -> Option<String> {
    fn walk(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) => {
                if engine::render::names_a_secret(m) && m.get("value").is_some_and(|x| !engine::diff::is_empty(x)) {
                    let name = m.get("displayName").and_then(Value::as_str).unwrap_or("a setting");
                    return Some(name.to_string());
                }
                m.iter().find_map(|(k, x)| {
                    if engine::render::is_secret_name(k) && !engine::diff::is_empty(x) {
                        Some(k.clone())
                    } else {
                        walk(x)
                    }
                })
            }
            Value::Array(a) => a.iter().find_map(walk),
            _ => None,
        }
    }
    p.iter().find_map(|(k, v)| if engine::render::is_secret_name(k) && !engine::diff::is_empty(v) { Some(k.clone()) } else { walk(v) })
}

pub(crate) fn settings(p: &Props, skip: &[&str]) -> BTreeMap<String, toml::Value> {
    p.iter()
        .filter(|(k, _)| !k.starts_with('@') && !skip.contains(&k.as_str()))
        .filter_map(|(k, v)| json_to_toml(v).map(|t| (k.clone(), t)))
        .collect()
}

pub(crate) fn bare_type(p: &Props) -> String {
    s(p, "@odata.type").unwrap_or_default().trim_start_matches('#').trim_start_matches("microsoft.graph.").to_string()
}
