//! Catalog resources other than groups, as strictly as Graph: an
//! application (`originSystem` `AadApplication`, its `originId` the
//! service principal's object id) and a SharePoint Online site
//! (`SharePointOnline`, its `originId` the site's URL). The resource must
//! exist (`servicePrincipals`, or a `sites` record whose `webUrl` is the
//! URL, case aside); its roles are what it offers: the service
//! principal's enabled app roles that users may hold, else `Default
//! Access`; a site's Owners, Visitors and Members groups (`3`, `4`, `5`,
//! SharePoint's defaults). A package's role scope must name one of those
//! roles at the resource's root scope. Roles and scopes are listed only
//! when expanded (`GET catalogs/{id}/resources?$expand=roles,scopes`, as
//! the docs give it).
//!
//! Delivery: the sandbox does not model app role assignments or site
//! membership, so an assignment of a package with such roles delivers
//! only its group roles (`entitlement_delivery`).

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::odata::Query;
use crate::resources;
use crate::store::Tenant;

pub const AAD_APPLICATION: &str = "AadApplication";
pub const SHAREPOINT: &str = "SharePointOnline";
/// The role Entra gives an application that defines no app role users may hold.
pub const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::bad_request(msg)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// A listed resource without what was not expanded.
pub fn shown(mut r: Map<String, Value>, q: &Query) -> Map<String, Value> {
    for nav in ["roles", "scopes"] {
        if q.has_expand(nav).is_none() {
            r.remove(nav);
        }
    }
    r
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `adminAdd` of an application or a site: the new catalog resource.
pub fn onboard(t: &Tenant, ctx: &Ctx, res: &Map<String, Value>, held: &[Value]) -> Result<Value, GraphError> {
    let system = res.get("originSystem").and_then(Value::as_str).unwrap_or_default();
    let origin = res.get("originId").and_then(Value::as_str).unwrap_or_default().to_string();
    let not_found = || bad(format!("The resource with originId '{origin}' was not found.")).with_detail("ResourceNotFound", "originId");
    let role = |origin_id: &str, name: &str| json!({"id": resources::new_id(), "displayName": name, "description": null, "originId": origin_id, "originSystem": system});
    let (name, roles) = match system {
        AAD_APPLICATION => {
            let sp = t.get("servicePrincipals", &origin).filter(|r| !ctx.lagged(r)).ok_or_else(not_found)?;
            let offered: Vec<Value> = sp
                .data
                .get("appRoles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| r.get("isEnabled").and_then(Value::as_bool) != Some(false))
                .filter(|r| r.get("allowedMemberTypes").and_then(Value::as_array).is_some_and(|m| m.iter().any(|x| x == "User")))
                .map(|r| role(s(r, "id"), s(r, "displayName")))
                .collect();
            let roles = if offered.is_empty() { vec![role(DEFAULT_ACCESS, "Default Access")] } else { offered };
            (sp.data.get("displayName").cloned().unwrap_or(Value::Null), roles)
        }
        SHAREPOINT => {
            let site = t.coll("sites").into_iter().flat_map(|c| c.values()).find(|r| !ctx.lagged(r) && same(r.data.get("webUrl").and_then(Value::as_str).unwrap_or_default(), &origin)).ok_or_else(not_found)?;
            let title = site.data.get("displayName").and_then(Value::as_str).unwrap_or_default().to_string();
            let roles = [("3", "Owners"), ("4", "Visitors"), ("5", "Members")].iter().map(|(id, n)| role(id, &format!("{title} {n}"))).collect();
            (json!(title), roles)
        }
        other => return Err(bad(format!("Resources of origin system '{other}' are not supported here (AadGroup, AadApplication or SharePointOnline)."))),
    };
    if held.iter().any(|r| s(r, "originSystem") == system && same(s(r, "originId"), &origin)) {
        return Err(GraphError::new(409, "Conflict", format!("The resource '{origin}' is already in the catalog.")).with_detail("ResourceAlreadyOnboarded", "originId"));
    }
    Ok(json!({
        "id": resources::new_id(), "displayName": name, "description": null, "originId": origin, "originSystem": system, "createdDateTime": ctx.now_iso(),
        "roles": roles,
        "scopes": [{"id": resources::new_id(), "displayName": "Root", "description": "Root Scope", "originId": origin, "originSystem": system, "isRootScope": true}],
    }))
}

/// A package's new role scope of an application or site role: the role
/// must be one the catalog's resource offers, at its root scope.
pub fn role_scope(ctx: &Ctx, held: &[Value], scopes: &[Value], role: &Map<String, Value>, scope: &Map<String, Value>) -> Result<Value, GraphError> {
    let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (system, origin) = (text(role, "originSystem"), text(role, "originId"));
    let given = role.get("resource").and_then(|r| r.get("id")).and_then(Value::as_str);
    let resource = held
        .iter()
        .find(|r| s(r, "originSystem") == system && given.map_or_else(|| same(s(r, "originId"), &text(scope, "originId")), |g| s(r, "id") == g))
        .ok_or_else(|| bad("The role's resource is not part of the access package's catalog; add it to the catalog first.").with_detail("ResourceNotInCatalog", "role"))?;
    let offered = resource
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| s(r, "originId") == origin)
        .ok_or_else(|| bad(format!("The role '{origin}' is not a role of the resource '{}'.", s(resource, "originId"))).with_detail("RoleNotFound", "role"))?;
    if !same(&text(scope, "originId"), s(resource, "originId")) || text(scope, "originSystem") != system {
        return Err(bad("The scope must be the root scope of the role's resource (its originId and originSystem)."));
    }
    if scopes.iter().any(|x| x.pointer("/role/originId").and_then(Value::as_str) == Some(origin.as_str()) && x.pointer("/scope/originId").and_then(Value::as_str).is_some_and(|o| same(o, s(resource, "originId")))) {
        return Err(GraphError::new(409, "Conflict", format!("The access package already has the role '{origin}'.")));
    }
    Ok(json!({
        "id": resources::new_id(),
        "createdDateTime": ctx.now_iso(),
        "role": {"id": s(offered, "id"), "displayName": s(offered, "displayName"), "originId": origin, "originSystem": system},
        "scope": {"id": resources::new_id(), "displayName": "Root", "description": "Root Scope", "originId": s(resource, "originId"), "originSystem": system, "isRootScope": true},
    }))
}
