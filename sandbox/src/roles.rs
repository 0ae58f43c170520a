//! Directory role definitions (the built-in roles, `id == templateId`) and
//! permanent role assignments.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::odata::Expand;
use crate::resources::{self, Spec};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

/// Built-in Entra roles with their well-known ids.
pub static BUILTIN_ROLES: &[(&str, &str)] = &[
    ("Global Administrator", "62e90394-69f5-4237-9190-012177145e10"),
    ("Intune Administrator", "3a2c62db-5318-420d-8d74-23affee5d9d5"),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c"),
    ("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    ("Conditional Access Administrator", "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"),
    ("Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814"),
    ("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8"),
    ("Cloud Device Administrator", "7698a772-787b-4ac8-901f-60d6b08affd2"),
    ("Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de"),
    ("Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"),
    ("Authentication Administrator", "c4e39bd9-1100-46d3-8c65-fb160da0071f"),
    // Two of the roles tenantctl knew only by id before it had the full
    // table: export must name them.
    ("Password Administrator", "966707d0-3269-4727-9be2-8c3a10f19b9d"),
    ("Teams Reader", "1076ac91-f3d9-41a7-a339-dcdf5f480acc"),
];

/// Makes sure every built-in role definition exists.
pub fn ensure_builtins(t: &mut Tenant) {
    for (name, id) in BUILTIN_ROLES {
        if t.get("roleDefinitions", id).is_none() {
            let data = json!({
                "id": id,
                "description": format!("Built-in role: {name}."),
                "displayName": name,
                "isBuiltIn": true,
                "isEnabled": true,
                "resourceScopes": ["/"],
                "templateId": id,
                "version": "1",
                "rolePermissions": [{"allowedResourceActions": [], "condition": null}]
            });
            let data = data.as_object().cloned().unwrap_or_default();
            t.put("roleDefinitions", id, Record { data, nav: Map::new(), created_ms: 0 });
        }
    }
}

/// Checks that a role principal exists and may hold a role.
pub fn check_principal(t: &Tenant, ctx: &Ctx, principal: &str) -> Result<(), GraphError> {
    if let Some(u) = t.get("users", principal) {
        if !ctx.lagged(u) {
            return Ok(());
        }
    }
    if let Some(g) = t.get("groups", principal) {
        if !ctx.lagged(g) {
            if g.data.get("isAssignableToRole").and_then(Value::as_bool) != Some(true) {
                return Err(GraphError::bad_request("The group is not role-assignable: isAssignableToRole must be true to assign a role to a group."));
            }
            return Ok(());
        }
    }
    Err(GraphError::not_found(principal))
}

pub fn check_role(t: &Tenant, role: &str) -> Result<(), GraphError> {
    if t.get("roleDefinitions", role).is_some() {
        Ok(())
    } else {
        Err(GraphError::not_found(role))
    }
}

pub fn required_str(body: &Map<String, Value>, prop: &str) -> Result<String, GraphError> {
    body.get(prop)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| GraphError::bad_request(format!("Property '{prop}' is required.")).with_detail("PropertyRequired", prop))
}

/// An opaque role-assignment id in the style Graph uses (`base64ish-1`).
fn assignment_id() -> String {
    use base64::Engine as _;
    let b: [u8; 24] = rand::random();
    format!("{}-1", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

pub fn create_assignment(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let role = required_str(&body, "roleDefinitionId")?;
    let principal = required_str(&body, "principalId")?;
    let scope = body.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/").to_string();
    check_role(t, &role)?;
    crate::administrative_units::check_scope(t, &scope, &role)?;
    check_principal(t, ctx, &principal)?;
    let dup = t.coll(spec.coll).is_some_and(|c| {
        c.values().any(|r| {
            r.data.get("principalId").and_then(Value::as_str) == Some(&principal)
                && r.data.get("roleDefinitionId").and_then(Value::as_str) == Some(&role)
                && r.data.get("directoryScopeId").and_then(Value::as_str) == Some(&scope)
        })
    });
    if dup {
        return Err(GraphError::bad_request("A conflicting object with one or more of the specified property values is present in the directory."));
    }
    body.remove("@odata.type");
    body.insert("id".into(), json!(assignment_id()));
    body.insert("directoryScopeId".into(), json!(scope));
    body.entry("appScopeId").or_insert(Value::Null);
    body.entry("condition").or_insert(Value::Null);
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// `$expand=roleDefinition` and `$expand=principal` on role assignments,
/// schedules and schedule requests.
pub fn expand(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), crate::error::GraphError> {
    match e.name.as_str() {
        "roleDefinition" => {
            let def = rec.data.get("roleDefinitionId").and_then(Value::as_str).and_then(|r| t.get("roleDefinitions", r)).map(|r| Value::Object(r.data.clone()));
            out.insert("roleDefinition".into(), def.unwrap_or(Value::Null));
            Ok(())
        }
        "principal" => {
            let p = rec.data.get("principalId").and_then(Value::as_str).and_then(|p| crate::directory::as_directory_object(t, p)).map(Value::Object);
            out.insert("principal".into(), p.unwrap_or(Value::Null));
            Ok(())
        }
        _ => resources::no_expand(t, ctx, spec, id, rec, e, out),
    }
}

/// The sandbox collection of `role_assignment`, registered in `crate::resources::KIND_SPECS`.
pub static ASSIGNMENTS_SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::roles::create_assignment),
    delete: Some(crate::resources::delete_hard),
    lookup: |t, seg| crate::resources::lookup_id(t, "roleAssignments", seg),
    visible: crate::pim::assignment_active,
    expand: crate::roles::expand,
    entity: Some("unifiedRoleAssignment"),
    ..crate::resources::dir("roleAssignments", &["roleManagement", "directory", "roleAssignments"], "roleManagement/directory/roleAssignments")
};
