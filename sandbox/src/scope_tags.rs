//! Intune scope tags (beta `deviceManagement/roleScopeTags`): every tenant
//! has the built-in `Default` tag (id `0`), which cannot be changed or
//! deleted; a new tag needs a display name. Devices of the groups a tag is
//! assigned to (`/assign`, roleScopeTagAutoAssignment) get it automatically.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

/// The built-in tag's id.
pub const DEFAULT_ID: &str = "0";

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

/// Makes sure the built-in `Default` tag exists.
pub fn ensure_default(t: &mut Tenant) {
    if t.get("roleScopeTags", DEFAULT_ID).is_none() {
        let data = json!({
            "@odata.type": "#microsoft.graph.roleScopeTag",
            "id": DEFAULT_ID,
            "displayName": "Default",
            "description": "Default scope tag",
            "isBuiltIn": true,
        });
        t.put("roleScopeTags", DEFAULT_ID, Record { data: data.as_object().cloned().unwrap_or_default(), nav: Map::new(), created_ms: 0 });
    }
}

fn named(body: &Map<String, Value>) -> Result<(), GraphError> {
    match body.get("displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        _ => Err(bad("Property 'displayName' is required.")),
    }
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    named(&body)?;
    let name = body.get("displayName").and_then(Value::as_str).unwrap_or_default().trim().to_lowercase();
    if t.coll(spec.coll).into_iter().flat_map(|m| m.values()).any(|r| r.data.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().to_lowercase() == name)) {
        return Err(bad("A scope tag with this name already exists."));
    }
    if body.get("isBuiltIn") == Some(&Value::Bool(true)) {
        return Err(bad("A built-in scope tag cannot be created."));
    }
    body.remove("id");
    body.remove("assignments");
    body.entry("@odata.type").or_insert(json!("#microsoft.graph.roleScopeTag"));
    body.entry("description").or_insert(json!(""));
    body.insert("isBuiltIn".into(), json!(false));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    if id == DEFAULT_ID {
        return Err(bad("The built-in scope tag cannot be changed."));
    }
    if body.contains_key("displayName") {
        named(&body)?;
    }
    crate::intune::patch(t, ctx, spec, id, body)
}

pub fn delete(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if id == DEFAULT_ID {
        return Err(bad("The built-in scope tag cannot be deleted."));
    }
    crate::intune::delete(t, ctx, spec, id)
}

/// Refuses `roleScopeTagIds` naming a tag the tenant does not have, as
/// Intune does.
pub fn check_ids(t: &Tenant, body: &Map<String, Value>) -> Result<(), GraphError> {
    for id in body.get("roleScopeTagIds").and_then(Value::as_array).into_iter().flatten() {
        let id = id.as_str().unwrap_or_default();
        if t.get("roleScopeTags", id).is_none() {
            return Err(bad(&format!("Scope tag '{id}' was not found.")));
        }
    }
    Ok(())
}

/// The sandbox collection of `scope_tag`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::scope_tags::create),
    patch: Some(crate::scope_tags::patch),
    delete: Some(crate::scope_tags::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "roleScopeTags", seg),
    entity: Some("roleScopeTag"),
    assignment_type: Some("#microsoft.graph.roleScopeTagAutoAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "roleScopeTagAutoAssignment")],
    ..crate::resources::intune("roleScopeTags", &["deviceManagement", "roleScopeTags"], "deviceManagement/roleScopeTags")
};
