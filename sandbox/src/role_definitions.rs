//! Custom directory roles (`POST/PATCH/DELETE /roleManagement/directory/roleDefinitions`):
//! what Entra refuses. Built-in roles cannot be changed or deleted; a
//! custom role needs a unique display name and directory resource actions,
//! and cannot be deleted while it is assigned.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::{ChangeKind, Tenant};
use serde_json::{json, Map, Value};

const DEFS: &str = "roleDefinitions";

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "Request_BadRequest", msg)
}

fn built_in(t: &Tenant, id: &str) -> bool {
    t.get(DEFS, id).and_then(|r| r.data.get("isBuiltIn")).and_then(Value::as_bool) != Some(false)
}

fn check(t: &Tenant, id: Option<&str>, data: &Map<String, Value>) -> Result<(), GraphError> {
    let name = data.get("displayName").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(bad("Property 'displayName' is required."));
    }
    let taken = t.coll(DEFS).into_iter().flat_map(|c| c.iter()).any(|(other, r)| Some(other.as_str()) != id && r.data.get("displayName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)));
    if taken {
        return Err(GraphError::new(409, "Request_BadRequest", format!("A role definition named '{name}' already exists.")));
    }
    let perms = data.get("rolePermissions").and_then(Value::as_array).ok_or_else(|| bad("Property 'rolePermissions' is required."))?;
    let actions: Vec<&Value> = perms.iter().flat_map(|p| p.get("allowedResourceActions").and_then(Value::as_array).into_iter().flatten()).collect();
    if actions.is_empty() {
        return Err(bad("A custom role definition needs at least one allowed resource action."));
    }
    for a in actions {
        let ok = a.as_str().and_then(|a| a.strip_prefix("microsoft.directory/")).is_some_and(|rest| rest.split('/').count() >= 2 && rest.split('/').all(|s| !s.is_empty()));
        if !ok {
            return Err(bad(format!("The resource action {a} is not valid for a custom directory role.")));
        }
    }
    Ok(())
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    if body.get("isBuiltIn").and_then(Value::as_bool) == Some(true) {
        return Err(bad("Built-in role definitions cannot be created."));
    }
    check(t, None, &body)?;
    body.insert("isBuiltIn".into(), json!(false));
    body.entry("isEnabled").or_insert(json!(true));
    body.entry("resourceScopes").or_insert(json!(["/"]));
    body.insert("version".into(), json!("1"));
    let id = resources::insert_new(t, ctx, spec.coll, body, Map::new());
    t.update(spec.coll, &id, |r| {
        r.data.insert("templateId".into(), json!(id));
    });
    Ok(id)
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(GraphError::new(403, "Authorization_RequestDenied", "Built-in role definitions cannot be modified."));
    }
    if body.contains_key("isBuiltIn") {
        return Err(bad("Property 'isBuiltIn' is read-only."));
    }
    let mut merged = t.get(spec.coll, id).map(|r| r.data.clone()).unwrap_or_default();
    merged.extend(body.clone());
    check(t, Some(id), &merged)?;
    resources::patch_merge(t, ctx, spec, id, body)
}

pub fn delete(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(GraphError::new(403, "Authorization_RequestDenied", "Built-in role definitions cannot be deleted."));
    }
    let assigned = ["roleAssignments", "roleEligibilitySchedules", "roleAssignmentSchedules"]
        .iter()
        .any(|c| t.coll(c).into_iter().flat_map(|m| m.values()).any(|r| r.data.get("roleDefinitionId").and_then(Value::as_str) == Some(id)));
    if assigned {
        return Err(bad("The role definition cannot be deleted while it is assigned; remove its assignments first."));
    }
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    Ok(())
}

/// The sandbox collection of `role_definition`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::role_definitions::create),
    patch: Some(crate::role_definitions::patch),
    delete: Some(crate::role_definitions::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "roleDefinitions", seg),
    entity: Some("unifiedRoleDefinition"),
    ..crate::resources::dir("roleDefinitions", &["roleManagement", "directory", "roleDefinitions"], "roleManagement/directory/roleDefinitions")
};
