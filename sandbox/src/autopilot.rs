//! Windows Autopilot deployment profiles (beta only): PATCH answers 200 with
//! the entity, assignments are created and removed one at a time, and a
//! profile with assignments cannot be deleted.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::intune::make_assignment;
use crate::odata::Query;
use crate::resources::{Spec, INTUNE_MAX, INTUNE_PAGE};
use crate::store::{ChangeKind, Tenant};
use serde_json::{json, Map, Value};

fn assignments(t: &Tenant, spec: &Spec, id: &str) -> Vec<Value> {
    t.get(spec.coll, id).and_then(|r| r.nav.get("assignments")).and_then(Value::as_array).cloned().unwrap_or_default()
}

pub fn delete(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if !assignments(t, spec, id).is_empty() {
        return Err(GraphError::intune(400, "BadRequest", "The profile is assigned to one or more groups. Remove its assignments before deleting it."));
    }
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    Ok(())
}

pub fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let base = format!("{}/{}/{id}/assignments", ctx.root(), spec.path.join("/"));
    let context = format!("{}('{id}')/assignments", spec.context);
    match (req.method.as_str(), rest) {
        ("GET", ["assignments"]) => {
            let items = assignments(t, spec, id).into_iter().filter_map(|v| v.as_object().cloned()).collect();
            graph::list_values(ctx, &context, &base, items, q, INTUNE_PAGE, INTUNE_MAX)
        }
        ("POST", ["assignments"]) => {
            let body = body_object(req)?;
            let (_, made) = make_assignment(spec.coll, id, &Value::Object(body))?;
            let aid = made.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            let mut list = assignments(t, spec, id);
            if list.iter().any(|a| a.get("id").and_then(Value::as_str) == Some(&aid)) {
                return Err(GraphError::intune(409, "Conflict", "An assignment for this target already exists."));
            }
            list.push(made.clone());
            t.update(spec.coll, id, |r| {
                r.nav.insert("assignments".into(), Value::Array(list));
            });
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context(&format!("{context}/$entity"))));
            out.extend(made.as_object().cloned().unwrap_or_default());
            Ok(GResp::json(201, Value::Object(out)))
        }
        ("GET", ["assignments", aid]) => {
            let a = assignments(t, spec, id).into_iter().find(|a| a.get("id").and_then(Value::as_str) == Some(*aid)).ok_or_else(|| graph::not_found(spec, aid))?;
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context(&format!("{context}/$entity"))));
            out.extend(a.as_object().cloned().unwrap_or_default());
            Ok(GResp::json(200, Value::Object(out)))
        }
        ("DELETE", ["assignments", aid]) => {
            let mut list = assignments(t, spec, id);
            let before = list.len();
            list.retain(|a| a.get("id").and_then(Value::as_str) != Some(*aid));
            if list.len() == before {
                return Err(graph::not_found(spec, aid));
            }
            t.update(spec.coll, id, |r| {
                r.nav.insert("assignments".into(), Value::Array(list));
            });
            Ok(GResp::empty(204))
        }
        (_, ["assignments", ..]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// The sandbox collection of `autopilot_profile`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    patch_status: 200,
    delete: Some(crate::autopilot::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "windowsAutopilotDeploymentProfiles", seg),
    entity: Some("windowsAutopilotDeploymentProfile"),
    assignment_type: Some("#microsoft.graph.windowsAutopilotDeploymentProfileAssignment"),
    sub: crate::autopilot::sub,
    writes: &[crate::resources::WriteRule { method: "POST", rest: &["{id}", "assignments"], body: crate::resources::WriteBody::Entity("windowsAutopilotDeploymentProfileAssignment") }],
    ..crate::resources::intune("windowsAutopilotDeploymentProfiles", &["deviceManagement", "windowsAutopilotDeploymentProfiles"], "deviceManagement/windowsAutopilotDeploymentProfiles")
};
