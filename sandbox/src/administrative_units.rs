//! Administrative units (`/directory/administrativeUnits`, v1.0): what
//! Entra refuses when one is written (a rule without `Dynamic`, a change
//! of visibility or restricted management after creation), members by
//! `$ref` (users, groups, devices; none on a dynamic unit), and role
//! assignment scopes (`/administrativeUnits/{id}`) naming one that exists.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::{self, Spec, DIR_MAX, DIR_PAGE};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

pub const UNITS: &str = "administrativeUnits";
/// Where a unit's member ids are kept (in its record, apart from group links).
const MEMBERS: &str = "members";

fn members(t: &Tenant, id: &str) -> Vec<String> {
    t.get(UNITS, id).and_then(|r| r.nav.get(MEMBERS)).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

fn set_members(t: &mut Tenant, id: &str, list: Vec<String>) {
    t.update(UNITS, id, |r| {
        r.nav.insert(MEMBERS.into(), json!(list));
    });
}

fn dynamic(data: &Map<String, Value>) -> bool {
    data.get("membershipType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Dynamic"))
}

fn check(data: &Map<String, Value>) -> Result<(), GraphError> {
    if data.get("displayName").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
        return Err(GraphError::bad_request("Property 'displayName' is required.").with_detail("PropertyRequired", "displayName"));
    }
    if let Some(t) = data.get("membershipType").and_then(Value::as_str) {
        if !t.eq_ignore_ascii_case("Dynamic") && !t.eq_ignore_ascii_case("Assigned") {
            return Err(GraphError::bad_request(format!("Invalid value specified for property 'membershipType' of resource 'AdministrativeUnit': '{t}'.")));
        }
    }
    let rule = data.get("membershipRule").and_then(Value::as_str).filter(|r| !r.trim().is_empty());
    if rule.is_some() && !dynamic(data) {
        return Err(GraphError::bad_request("A membershipRule requires membershipType 'Dynamic'."));
    }
    if dynamic(data) && rule.is_none() {
        return Err(GraphError::bad_request("A dynamic administrative unit requires a membershipRule."));
    }
    if let Some(v) = data.get("visibility").and_then(Value::as_str) {
        if v != "HiddenMembership" && v != "Public" {
            return Err(GraphError::bad_request(format!("Invalid value specified for property 'visibility': '{v}'.")));
        }
    }
    Ok(())
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    check(&body)?;
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    let current = t.get(spec.coll, id).map(|r| r.data.clone()).ok_or_else(|| GraphError::not_found(id))?;
    // `visibility` may change on PATCH (v1.0 "Update administrativeUnit");
    // whether management is restricted is fixed at creation.
    let k = "isMemberManagementRestricted";
    if body.get(k).is_some_and(|v| Some(v) != current.get(k) && !(v == &json!(false) && current.get(k).is_none())) {
        return Err(GraphError::bad_request(format!("Property '{k}' can only be set when the administrative unit is created.")));
    }
    let mut merged = current;
    for (k, v) in &body {
        merged.insert(k.clone(), v.clone());
    }
    check(&merged)?;
    if dynamic(&merged) {
        set_members(t, id, Vec::new());
    }
    resources::patch_merge(t, ctx, spec, id, body)
}

/// Entra keeps a deleted administrative unit in the directory's deleted
/// items for 30 days (`directory-deleteditems-get` lists it among the
/// types it serves), restorable like a user.
pub fn delete(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    crate::directory::soft_delete(t, ctx, spec.coll, id);
    Ok(())
}

fn member_exists(t: &Tenant, ctx: &Ctx, id: &str) -> bool {
    ["users", "groups", crate::directory::DEVICES].iter().any(|c| t.get(c, id).is_some_and(|r| !ctx.lagged(r)))
}

pub fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let is_dynamic = t.get(spec.coll, id).is_some_and(|r| dynamic(&r.data));
    match (req.method.as_str(), rest) {
        ("GET", ["members"]) => {
            graph::check_directory_query(spec, ctx, q)?;
            let items: Vec<Map<String, Value>> = members(t, id)
                .iter()
                .filter(|m| member_exists(t, ctx, m))
                .filter_map(|m| crate::directory::as_directory_object(t, m))
                .collect();
            let base = format!("{}/directory/administrativeUnits/{id}/members", ctx.root());
            graph::list_values(ctx, "directoryObjects", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("POST", ["members", "$ref"]) => {
            let body = body_object(req)?;
            let target = body
                .get("@odata.id")
                .and_then(Value::as_str)
                .and_then(crate::groups::id_from_ref)
                .ok_or_else(|| GraphError::bad_request("Invalid URL format specified in @odata.id."))?;
            if is_dynamic {
                return Err(GraphError::bad_request("Members cannot be added to or removed from an administrative unit with dynamic membership."));
            }
            if !member_exists(t, ctx, &target) {
                return Err(GraphError::not_found(&target));
            }
            let mut list = members(t, id);
            if list.contains(&target) {
                return Err(GraphError::bad_request("One or more added object references already exist for the following modified properties: 'members'."));
            }
            list.push(target);
            set_members(t, id, list);
            Ok(GResp::empty(204))
        }
        ("DELETE", ["members", member, "$ref"]) => {
            if is_dynamic {
                return Err(GraphError::bad_request("Members cannot be added to or removed from an administrative unit with dynamic membership."));
            }
            let mut list = members(t, id);
            let before = list.len();
            list.retain(|m| m != member);
            if list.len() == before {
                return Err(GraphError::not_found(member));
            }
            set_members(t, id, list);
            Ok(GResp::empty(204))
        }
        (_, ["members", ..]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// The template ids of the built-in roles Entra assigns at an
/// administrative unit's scope (entra-docs `admin-units-assign-roles.md`).
const AU_SCOPED_ROLE_IDS: &[&str] = &[
    "c4e39bd9-1100-46d3-8c65-fb160da0071f", // Authentication Administrator
    "7698a772-787b-4ac8-901f-60d6b08affd2", // Cloud Device Administrator
    "fdd7a751-b60b-444a-984c-02652fe8fa1c", // Groups Administrator
    "729827e3-9c14-49f7-bb1b-9608f156bbb8", // Helpdesk Administrator
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a", // License Administrator
    "966707d0-3269-4727-9be2-8c3a10f19b9d", // Password Administrator
    "644ef478-e28f-4e28-b9dc-3fdde9aa0b1f", // Printer Administrator
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13", // Privileged Authentication Administrator
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c", // SharePoint Administrator
    "69091246-20e8-4a56-aa4d-066075b2a7a8", // Teams Administrator
    "3d762c5a-1b6c-493f-843e-55a3b42923d4", // Teams Devices Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1", // User Administrator
];

/// Whether `role` may be assigned at an administrative unit's scope: one
/// of the built-in roles the docs list, or a custom role with a permission
/// over users, groups or devices.
fn au_scopable(t: &Tenant, role: &str) -> bool {
    let Some(def) = t.get("roleDefinitions", role) else { return true };
    if def.data.get("isBuiltIn").and_then(Value::as_bool) != Some(false) {
        let template = def.data.get("templateId").and_then(Value::as_str).unwrap_or(role);
        return AU_SCOPED_ROLE_IDS.iter().any(|id| id.eq_ignore_ascii_case(template));
    }
    let actions = def.data.get("rolePermissions").and_then(Value::as_array).into_iter().flatten().filter_map(|p| p.get("allowedResourceActions").and_then(Value::as_array)).flatten().filter_map(Value::as_str);
    actions.map(str::to_lowercase).any(|a| ["users/", "groups/", "devices/"].iter().any(|p| a.starts_with(&format!("microsoft.directory/{p}"))))
}

/// A role assignment's `directoryScopeId`: `/`, or an administrative unit
/// that exists, for a role Entra scopes to administrative units (other
/// scopes are not modelled and pass).
pub fn check_scope(t: &Tenant, scope: &str, role: &str) -> Result<(), GraphError> {
    match scope.strip_prefix("/administrativeUnits/") {
        Some(id) if t.get(UNITS, id).is_none() => Err(GraphError::new(400, "Request_BadRequest", format!("The directory scope '{scope}' does not exist."))),
        Some(_) if !au_scopable(t, role) => Err(GraphError::new(400, "Request_BadRequest", format!("The role '{role}' is not supported for the scope '{scope}': only roles that apply to users, groups or devices can be assigned at an administrative unit's scope."))),
        _ => Ok(()),
    }
}

/// The sandbox collection of `administrative_unit`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::administrative_units::create),
    patch: Some(crate::administrative_units::patch),
    delete: Some(crate::administrative_units::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "administrativeUnits", seg),
    sub: crate::administrative_units::sub,
    entity: Some("administrativeUnit"),
    ..crate::resources::dir(crate::administrative_units::UNITS, &["directory", "administrativeUnits"], "directory/administrativeUnits")
};
