//! Catalog resources and package roles other than groups: applications
//! (`AadApplication`, by service principal object id) and SharePoint
//! Online sites (`SharePointOnline`, by URL). A catalog's are in props as
//! `applications` / `sites` (lowercased origin ids), added with an
//! `adminAdd` resource request and removed with `adminRemove`; a package's
//! as `resource#role display name` strings, added as resource role scopes
//! (the role found among the catalog resource's roles, read with
//! `resources?$expand=roles`, at the resource's root scope) and removed by
//! deleting the role scope.

use std::collections::BTreeSet;

use engine::apply::ExecError;
use engine::{DesiredResource, Props};
use schema::kinds::access_resources::{site_key, ResourceRole, AAD_APPLICATION, SHAREPOINT_ONLINE};
use serde_json::{json, Value};

use super::str_field;
use crate::apply::{err, fail, Writer};
use crate::graph::{GraphClient, GraphRequest, Method};

pub const APPLICATIONS: &str = "applications";
pub const SITES: &str = "sites";
/// Each prop with the origin system its entries belong to.
pub const SYSTEMS: [(&str, &str); 2] = [(APPLICATIONS, AAD_APPLICATION), (SITES, SHAREPOINT_ONLINE)];

/// Whether a resource or role of `system` is one of these (not a group's).
pub fn is_other(system: &str) -> bool {
    system == AAD_APPLICATION || system == SHAREPOINT_ONLINE
}

/// A catalog's declared lists in props.
pub fn catalog_props(apps: Option<&Vec<String>>, sites: Option<&Vec<String>>, p: &mut Props) {
    for (prop, list) in [(APPLICATIONS, apps), (SITES, sites)] {
        if let Some(l) = list {
            let mut v: Vec<String> = l.iter().map(|x| site_key(x)).collect();
            v.sort();
            p.insert(prop.into(), json!(v));
        }
    }
}

/// A live catalog's applications and sites (from its read resources).
pub fn catalog_live(resources: &[Value], p: &mut Props) {
    for (prop, system) in SYSTEMS {
        let mut v: Vec<String> = resources.iter().filter(|r| str_field(r, "originSystem") == system).map(|r| site_key(str_field(r, "originId"))).collect();
        v.sort();
        p.insert(prop.into(), json!(v));
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// Exported lists of a live catalog: None when it holds none.
pub fn catalog_export(p: &Props, prop: &str) -> Option<Vec<String>> {
    Some(strings(p.get(prop))).filter(|l| !l.is_empty())
}

/// The catalog's declared applications and sites made so: the missing
/// added, the others of that system removed (only for the lists that
/// are declared and `touched`).
pub async fn sync_catalog(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, catalog: &str, live: &[Value], touched: &[&str]) -> Result<(), ExecError> {
    for (prop, system) in SYSTEMS {
        if !touched.contains(&prop) || !r.props.contains_key(prop) {
            continue;
        }
        let want: BTreeSet<String> = strings(r.props.get(prop)).into_iter().collect();
        let have: BTreeSet<String> = live.iter().filter(|x| str_field(x, "originSystem") == system).map(|x| site_key(str_field(x, "originId"))).collect();
        for origin in want.iter().filter(|o| !have.contains(*o)) {
            let req = json!({"requestType": "adminAdd", "resource": {"originId": origin, "originSystem": system}, "catalog": {"id": catalog}});
            w.send(api, Method::POST, super::access_catalog::RESOURCE_REQUESTS, Some(req)).await?;
        }
        for x in live.iter().filter(|x| str_field(x, "originSystem") == system && !want.contains(&site_key(str_field(x, "originId")))) {
            let req = json!({"requestType": "adminRemove", "resource": {"id": str_field(x, "id")}, "catalog": {"id": catalog}});
            w.send(api, Method::POST, super::access_catalog::RESOURCE_REQUESTS, Some(req)).await?;
        }
    }
    Ok(())
}

fn entry(resource: &str, role: &str) -> String {
    format!("{}#{role}", site_key(resource))
}

/// A package's declared application and site roles in props.
pub fn package_props(apps: &[ResourceRole], sites: &[ResourceRole], p: &mut Props) {
    for (prop, list) in [(APPLICATIONS, apps), (SITES, sites)] {
        let mut v: Vec<String> = list.iter().map(|r| entry(&r.resource, &r.role)).collect();
        v.sort();
        p.insert(prop.into(), json!(v));
    }
}

/// A live role scope as a package entry: (prop, `resource#role`), or
/// None for a group's role.
pub fn scope_entry(rs: &Value) -> Option<(&'static str, String)> {
    let role = rs.get("role")?;
    let system = str_field(role, "originSystem");
    let (prop, _) = SYSTEMS.iter().find(|(_, s)| *s == system)?;
    let resource = rs.get("scope").map(|s| str_field(s, "originId")).unwrap_or_default();
    Some((prop, entry(resource, str_field(role, "displayName"))))
}

/// A live package's application and site roles in props.
pub fn package_live(role_scopes: &[Value], p: &mut Props) {
    for (prop, _) in SYSTEMS {
        let mut v: Vec<String> = role_scopes.iter().filter_map(scope_entry).filter(|(q, _)| *q == prop).map(|(_, e)| e).collect();
        v.sort();
        p.insert(prop.into(), json!(v));
    }
}

/// Exported roles of a live package.
pub fn package_export(p: &Props, prop: &str) -> Vec<ResourceRole> {
    strings(p.get(prop))
        .into_iter()
        .filter_map(|e| e.split_once('#').map(|(resource, role)| ResourceRole { resource: resource.to_string(), role: role.to_string() }))
        .collect()
}

/// The package's declared application and site roles made so: each
/// missing one added as a role scope, each other one of those systems
/// deleted.
pub async fn write_roles(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, package_path: &str, catalog: &str, live: &[Value]) -> Result<(), ExecError> {
    let want: BTreeSet<String> = SYSTEMS.iter().flat_map(|(prop, _)| strings(r.props.get(*prop))).collect();
    let have: BTreeSet<String> = live.iter().filter_map(scope_entry).map(|(_, e)| e).collect();
    let missing: Vec<&String> = want.iter().filter(|e| !have.contains(*e)).collect();
    if !missing.is_empty() {
        let resources = api.list_all(&format!("{}?$expand=roles", super::access_catalog::resources_path(catalog))).await.map_err(fail)?;
        for e in missing {
            let (origin, role_name) = e.split_once('#').ok_or_else(|| err(format!("role entry `{e}` is malformed")))?;
            let res = resources
                .iter()
                .find(|x| is_other(str_field(x, "originSystem")) && site_key(str_field(x, "originId")) == origin)
                .ok_or_else(|| err(format!("`{origin}` is not a resource of the package's catalog")))?;
            let system = str_field(res, "originSystem");
            let role = res
                .get("roles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|x| str_field(x, "displayName") == role_name)
                .ok_or_else(|| {
                    let offered: Vec<&str> = res.get("roles").and_then(Value::as_array).into_iter().flatten().map(|x| str_field(x, "displayName")).collect();
                    err(format!("`{origin}` offers no role `{role_name}` (it offers: {})", offered.join(", ")))
                })?;
            let body = json!({
                "role": {"originId": str_field(role, "originId"), "originSystem": system, "resource": {"id": str_field(res, "id"), "originId": str_field(res, "originId"), "originSystem": system}},
                "scope": {"originId": str_field(res, "originId"), "originSystem": system, "isRootScope": true},
            });
            w.send(api, Method::POST, &format!("{package_path}/resourceRoleScopes"), Some(body)).await?;
        }
    }
    for rs in live {
        let Some((_, e)) = scope_entry(rs) else { continue };
        if !want.contains(&e) {
            let path = format!("{package_path}/resourceRoleScopes/{}", schema::object_id::path_segment(str_field(rs, "id")));
            match w.try_execute(api, GraphRequest::new(Method::DELETE, path)).await {
                Ok(_) => {}
                Err(x) if x.is_not_found() => {}
                Err(x) => return Err(fail(x)),
            }
        }
    }
    Ok(())
}
