//! Intune RBAC (beta `deviceManagement/roleDefinitions` and
//! `deviceManagement/roleAssignments`): every tenant has the built-in
//! roles (`isBuiltIn`), which cannot be created, changed or deleted. A
//! custom role needs a unique display name and at least one allowed
//! operation, and cannot be deleted while assigned. A role assignment
//! binds its role on create (`roleDefinition@odata.bind`, which must name
//! an existing role), needs member groups that exist, and reads its role
//! through `$expand=roleDefinition`.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::odata::Expand;
use crate::resources::{self, Spec};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

pub const DEFINITIONS: &str = "deviceManagementRoleDefinitions";
pub const ASSIGNMENTS: &str = "deviceManagementRoleAssignments";

/// The built-in roles every tenant has, with fixed ids.
const BUILT_IN: &[(&str, &str, &str)] = &[
    ("0bd113fe-6be5-400c-a28f-ae5553f9c0be", "Help Desk Operator", "Microsoft.Intune_ManagedDevices_Read"),
    ("9e0cc482-82df-4ab2-a24c-0c23a3f52e1e", "Read Only Operator", "Microsoft.Intune_DeviceConfigurations_Read"),
    ("c1d9fcbb-cba5-40b0-bf6b-527006585f4b", "Application Manager", "Microsoft.Intune_MobileApps_Read"),
    ("7f5a5c6d-6a1e-4a43-bd3e-0f7b2e7dfbe0", "Policy and Profile manager", "Microsoft.Intune_DeviceConfigurations_Update"),
    ("2d00d0d3-f2a9-4c3b-8a49-4e9b6b5f4d1a", "Endpoint Security Manager", "Microsoft.Intune_SecurityBaselines_Read"),
    ("4c2e7a1b-8d5f-4f0a-9b6e-3a1c2d4e5f60", "Intune Role Administrator", "Microsoft.Intune_Roles_Read"),
];

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

/// Makes sure the built-in roles exist.
pub fn ensure_builtins(t: &mut Tenant) {
    for (id, name, action) in BUILT_IN {
        if t.get(DEFINITIONS, id).is_none() {
            let data = json!({
                "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition",
                "id": id, "displayName": name, "description": format!("{name} (built-in)"),
                "isBuiltIn": true, "isBuiltInRoleDefinition": true, "roleScopeTagIds": ["0"],
                "rolePermissions": [{"resourceActions": [{"allowedResourceActions": [action], "notAllowedResourceActions": []}]}],
            });
            t.put(DEFINITIONS, id, Record { data: data.as_object().cloned().unwrap_or_default(), nav: Map::new(), created_ms: 0 });
        }
    }
}

fn built_in(t: &Tenant, id: &str) -> bool {
    t.get(DEFINITIONS, id).is_some_and(|r| r.data.get("isBuiltIn") == Some(&Value::Bool(true)))
}

fn check_permissions(body: &Map<String, Value>, required: bool) -> Result<(), GraphError> {
    let Some(perms) = body.get("rolePermissions") else {
        return if required { Err(bad("Property 'rolePermissions' is required.")) } else { Ok(()) };
    };
    let allowed: usize = perms
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p.get("resourceActions").and_then(Value::as_array).into_iter().flatten())
        .map(|ra| ra.get("allowedResourceActions").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if allowed == 0 {
        return Err(bad("A role definition must allow at least one resource action."));
    }
    Ok(())
}

fn unique_name(t: &Tenant, coll: &str, body: &Map<String, Value>, except: Option<&str>) -> Result<(), GraphError> {
    let Some(name) = body.get("displayName").and_then(Value::as_str) else { return Ok(()) };
    let clash = t.coll(coll).into_iter().flat_map(|m| m.iter()).any(|(id, r)| Some(id.as_str()) != except && r.data.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim())));
    if clash {
        return Err(bad(&format!("An object named '{name}' already exists.")));
    }
    Ok(())
}

pub fn create_definition(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    if body.get("isBuiltIn") == Some(&Value::Bool(true)) {
        return Err(bad("A built-in role definition cannot be created."));
    }
    check_permissions(&body, true)?;
    unique_name(t, spec.coll, &body, None)?;
    let mut body = body;
    body.insert("isBuiltIn".into(), json!(false));
    crate::intune::create(t, ctx, spec, body)
}

pub fn patch_definition(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(bad("A built-in role definition cannot be changed."));
    }
    check_permissions(&body, false)?;
    unique_name(t, spec.coll, &body, Some(id))?;
    crate::intune::patch(t, ctx, spec, id, body)
}

pub fn delete_definition(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(bad("A built-in role definition cannot be deleted."));
    }
    let assigned = t.coll(ASSIGNMENTS).into_iter().flat_map(|m| m.values()).any(|r| r.nav.get("roleDefinition").and_then(Value::as_str) == Some(id));
    if assigned {
        return Err(bad("The role definition is assigned; delete its role assignments first."));
    }
    crate::intune::delete(t, ctx, spec, id)
}

/// The role id an `@odata.bind` URL names (`.../roleDefinitions('id')` or
/// `.../roleDefinitions/id`).
fn bound_role(url: &str) -> Option<String> {
    let rest = &url[url.find("roleDefinitions")? + "roleDefinitions".len()..];
    let id = rest.trim_start_matches(['(', '/', '\'']).split(['\'', ')', '/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_string())
}

fn check_groups(t: &Tenant, body: &Map<String, Value>, key: &str) -> Result<(), GraphError> {
    for g in body.get(key).and_then(Value::as_array).into_iter().flatten() {
        let id = g.as_str().unwrap_or_default();
        if t.get("groups", id).is_none() {
            return Err(bad(&format!("The group '{id}' in '{key}' was not found.")));
        }
    }
    Ok(())
}

pub fn create_assignment(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let bind = body.remove("roleDefinition@odata.bind");
    let role = bind.as_ref().and_then(Value::as_str).and_then(bound_role).ok_or_else(|| bad("A role assignment must bind its role definition ('roleDefinition@odata.bind')."))?;
    if t.get(DEFINITIONS, &role).is_none() {
        return Err(bad(&format!("The role definition '{role}' was not found.")));
    }
    if body.get("members").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err(bad("Property 'members' is required."));
    }
    check_groups(t, &body, "members")?;
    check_groups(t, &body, "resourceScopes")?;
    unique_name(t, spec.coll, &body, None)?;
    let id = crate::intune::create(t, ctx, spec, body)?;
    t.update(spec.coll, &id, |r| {
        r.nav.insert("roleDefinition".into(), json!(role));
    });
    Ok(id)
}

pub fn patch_assignment(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    if body.keys().any(|k| k.starts_with("roleDefinition")) {
        return Err(bad("The role of an assignment cannot be changed."));
    }
    check_groups(t, &body, "members")?;
    check_groups(t, &body, "resourceScopes")?;
    unique_name(t, spec.coll, &body, Some(id))?;
    crate::intune::patch(t, ctx, spec, id, body)
}

pub fn expand_assignment(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    if e.name != "roleDefinition" {
        return resources::no_expand(t, ctx, spec, id, rec, e, out);
    }
    let role = rec.nav.get("roleDefinition").and_then(Value::as_str).and_then(|r| t.get(DEFINITIONS, r));
    out.insert("roleDefinition".into(), role.map_or(Value::Null, |r| Value::Object(r.data.clone())));
    Ok(())
}

/// The sandbox collection of `intune_role_definition`, registered in `crate::resources::KIND_SPECS`.
pub static DEFINITIONS_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::intune_roles::create_definition),
    patch: Some(crate::intune_roles::patch_definition),
    delete: Some(crate::intune_roles::delete_definition),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceManagementRoleDefinitions", seg),
    // No assignments: no `/assign`, nothing to expand.
    expand: crate::resources::no_expand,
    sub: crate::resources::no_sub,
    entity: Some("deviceAndAppManagementRoleDefinition"),
    ..crate::resources::intune(crate::intune_roles::DEFINITIONS, &["deviceManagement", "roleDefinitions"], "deviceManagement/roleDefinitions")
};

/// The sandbox collection of `intune_role_assignment`, registered in `crate::resources::KIND_SPECS`.
pub static ASSIGNMENTS_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::intune_roles::create_assignment),
    patch: Some(crate::intune_roles::patch_assignment),
    delete: Some(crate::resources::delete_hard),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceManagementRoleAssignments", seg),
    expand: crate::intune_roles::expand_assignment,
    sub: crate::resources::no_sub,
    entity: Some("deviceAndAppManagementRoleAssignment"),
    ..crate::resources::intune(crate::intune_roles::ASSIGNMENTS, &["deviceManagement", "roleAssignments"], "deviceManagement/roleAssignments")
};
