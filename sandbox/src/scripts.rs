//! Intune scripts (beta only): platform scripts
//! (`deviceManagement/deviceManagementScripts`, deviceManagementScript)
//! and remediations (`deviceManagement/deviceHealthScripts`,
//! deviceHealthScript). As Intune: a display name and the script content
//! (base64) are required; lists carry no script content, a GET by id does;
//! `/assign` takes its own parameter (`deviceManagementScriptAssignments`,
//! `deviceHealthScriptAssignments`) and replaces the set; a remediation's
//! assignment keeps its `runSchedule` and `runRemediationScript`.
//! Every tenant also has Microsoft's own remediations (`isGlobalScript`),
//! which are read-only: they cannot be changed or deleted.

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::Spec;
use crate::store::Tenant;
use base64::Engine as _;
use serde_json::{json, Map, Value};

pub const PLATFORM: &str = "deviceManagementScripts";
pub const HEALTH: &str = "deviceHealthScripts";

/// The id of the Microsoft remediation every sandbox tenant has.
pub const GLOBAL_ID: &str = "7a2b8c1e-0000-4000-9000-00000000c2f0";

/// Makes sure Microsoft's own (global, read-only) remediation exists, as
/// in every Intune tenant.
pub fn ensure_global(t: &mut Tenant) {
    if t.get(HEALTH, GLOBAL_ID).is_none() {
        let data = json!({
            "@odata.type": "#microsoft.graph.deviceHealthScript",
            "id": GLOBAL_ID, "displayName": "Restart stopped Office C2R svc", "publisher": "Microsoft",
            "description": "Restarts the Click-to-Run service when it is stopped.",
            "isGlobalScript": true, "runAsAccount": "system", "enforceSignatureCheck": false, "runAs32Bit": false,
            "detectionScriptContent": base64::engine::general_purpose::STANDARD.encode("exit 0"),
            "remediationScriptContent": base64::engine::general_purpose::STANDARD.encode("exit 0"),
            "roleScopeTagIds": ["0"], "version": "1",
        });
        t.put(HEALTH, GLOBAL_ID, crate::store::Record { data: data.as_object().cloned().unwrap_or_default(), nav: Map::new(), created_ms: 0 });
    }
}

/// Microsoft's scripts are read-only ("Proprietary scripts are read-only").
fn refuse_global(t: &Tenant, coll: &str, id: &str) -> Result<(), GraphError> {
    if t.get(coll, id).is_some_and(|r| r.data.get("isGlobalScript") == Some(&Value::Bool(true))) {
        return Err(bad("Proprietary scripts are read-only."));
    }
    Ok(())
}

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

/// The content properties of a script collection, the first required.
fn contents(coll: &str) -> &'static [&'static str] {
    if coll == HEALTH {
        &["detectionScriptContent", "remediationScriptContent"]
    } else {
        &["scriptContent"]
    }
}

fn check_content(body: &Map<String, Value>, coll: &str) -> Result<(), GraphError> {
    for c in contents(coll) {
        match body.get(*c) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if base64::engine::general_purpose::STANDARD.decode(s).is_ok() => {}
            Some(_) => return Err(bad(&format!("Invalid value for property '{c}': not a valid base64 string."))),
        }
    }
    Ok(())
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    let wanted = if spec.coll == HEALTH { "#microsoft.graph.deviceHealthScript" } else { "#microsoft.graph.deviceManagementScript" };
    match body.get("@odata.type").and_then(Value::as_str) {
        Some(ty) if ty == wanted => {}
        Some(ty) => return Err(bad(&format!("The type '{ty}' is not a valid type for this entity set; expected '{wanted}'."))),
        None => return Err(bad("A type name must be specified: '@odata.type' is required for this entity set.")),
    }
    let first = contents(spec.coll)[0];
    if body.get(first).and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(bad(&format!("Property '{first}' is required.")));
    }
    check_content(&body, spec.coll)?;
    crate::intune::create(t, ctx, spec, body)
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    refuse_global(t, spec.coll, id)?;
    check_content(&body, spec.coll)?;
    let first = contents(spec.coll)[0];
    if body.get(first).is_some_and(|v| v.as_str().is_none_or(str::is_empty)) {
        return Err(bad(&format!("Property '{first}' cannot be cleared.")));
    }
    crate::intune::patch(t, ctx, spec, id, body)
}

pub fn delete(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    refuse_global(t, spec.coll, id)?;
    crate::intune::delete(t, ctx, spec, id)
}

/// Lists carry no script content (Intune returns it only by id).
pub fn hide_content(spec: &Spec, object: &mut Map<String, Value>) {
    if spec.coll == PLATFORM || spec.coll == HEALTH {
        for c in contents(spec.coll) {
            if object.contains_key(*c) {
                object.insert((*c).to_string(), Value::Null);
            }
        }
    }
}

/// A remediation's run schedule, checked as Intune checks it.
fn check_schedule(v: &Value) -> Result<(), GraphError> {
    let Value::Object(m) = v else { return Err(bad("Invalid value for 'runSchedule'.")) };
    let ty = m.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
    let interval = m.get("interval").and_then(Value::as_i64).unwrap_or(0);
    let (max, date) = match ty {
        "#microsoft.graph.deviceHealthScriptHourlySchedule" => (23, false),
        "#microsoft.graph.deviceHealthScriptDailySchedule" => (30, false),
        "#microsoft.graph.deviceHealthScriptRunOnceSchedule" => (1, true),
        other => return Err(bad(&format!("Invalid run schedule type '{other}'."))),
    };
    if !(1..=max).contains(&interval) {
        return Err(bad(&format!("Invalid run schedule interval {interval}.")));
    }
    if date && m.get("date").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(bad("A run-once schedule requires 'date'."));
    }
    Ok(())
}

pub fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    if !(req.method == "POST" && rest == ["assign"]) {
        return crate::intune::sub(t, ctx, spec, req, id, rest, q);
    }
    if t.get(spec.coll, id).is_none() {
        return Err(crate::graph::not_found(spec, id));
    }
    let key = if spec.coll == HEALTH { "deviceHealthScriptAssignments" } else { "deviceManagementScriptAssignments" };
    let body = body_object(req)?;
    if let Some(k) = body.keys().find(|k| k.as_str() != key && k.as_str() != "deviceManagementScriptGroupAssignments") {
        return Err(bad(&format!("The parameter '{k}' in the request payload is not a valid parameter for the operation.")));
    }
    let list = body.get(key).and_then(Value::as_array).cloned().ok_or_else(|| bad(&format!("Request body must contain '{key}'.")))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut stored = Vec::new();
    for a in &list {
        let target = a.get("target").cloned().ok_or_else(|| bad("Assignment must specify 'target'."))?;
        let group = crate::intune::target_key(&target)?;
        let mut target = target.as_object().cloned().unwrap_or_default();
        target.entry("deviceAndAppManagementAssignmentFilterId").or_insert(Value::Null);
        target.entry("deviceAndAppManagementAssignmentFilterType").or_insert(json!("none"));
        let mut made = json!({
            "@odata.type": crate::intune::assignment_type(spec.coll),
            "id": format!("{id}:{group}"),
            "target": target,
        });
        if spec.coll == HEALTH {
            let schedule = a.get("runSchedule").cloned().unwrap_or(Value::Null);
            if !schedule.is_null() {
                check_schedule(&schedule)?;
            }
            made["runRemediationScript"] = a.get("runRemediationScript").cloned().unwrap_or(json!(false));
            made["runSchedule"] = schedule;
        }
        let ty = target.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
        if seen.insert((group, ty)) {
            stored.push(made);
        }
    }
    t.update(spec.coll, id, |r| {
        r.nav.insert("assignments".into(), Value::Array(stored.clone()));
    });
    Ok(GResp::empty(204))
}

/// The sandbox collection of `platform_script`, registered in `crate::resources::KIND_SPECS`.
pub static PLATFORM_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::scripts::create),
    patch: Some(crate::scripts::patch),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceManagementScripts", seg),
    sub: crate::scripts::sub,
    entity: Some("deviceManagementScript"),
    assignment_type: Some("#microsoft.graph.deviceManagementScriptAssignment"),
    writes: &[crate::resources::assign_rule!("deviceManagementScriptAssignments", "deviceManagementScriptAssignment")],
    ..crate::resources::intune("deviceManagementScripts", &["deviceManagement", "deviceManagementScripts"], "deviceManagement/deviceManagementScripts")
};

/// The sandbox collection of `remediation`, registered in `crate::resources::KIND_SPECS`.
pub static HEALTH_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::scripts::create),
    patch: Some(crate::scripts::patch),
    delete: Some(crate::scripts::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceHealthScripts", seg),
    sub: crate::scripts::sub,
    entity: Some("deviceHealthScript"),
    assignment_type: Some("#microsoft.graph.deviceHealthScriptAssignment"),
    writes: &[crate::resources::assign_rule!("deviceHealthScriptAssignments", "deviceHealthScriptAssignment")],
    ..crate::resources::intune("deviceHealthScripts", &["deviceManagement", "deviceHealthScripts"], "deviceManagement/deviceHealthScripts")
};
