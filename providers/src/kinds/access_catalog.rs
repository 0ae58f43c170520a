//! Entitlement management catalogs
//! (`/identityGovernance/entitlementManagement/catalogs`, v1.0), matched by
//! display name, with the groups they hold as resources. Resources are
//! read from `catalogs/{id}/resources` (for the catalogs whose groups are
//! managed; every catalog for export) and changed through
//! `resourceRequests` (`adminAdd` with the group as `originId`,
//! `adminRemove` with the resource's id). Entra's built-in catalogs
//! (`catalogType` other than `userManaged`, e.g. "General") are never
//! objects of this kind.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::AccessCatalog;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::access_resources::{APPLICATIONS, SITES};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{ref_to, resource, str_field};
use crate::apply::{delete_plain, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphClient, GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AccessCatalog,
    collection: CATALOGS,
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.access_catalog { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "access-catalogs.toml",
    export_title: "Entitlement management catalogs",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![CATALOGS.to_string()],
    after_post: &["groups", "applications", "sites"],
};

pub const CATALOGS: &str = "/identityGovernance/entitlementManagement/catalogs";
pub const RESOURCE_REQUESTS: &str = "/identityGovernance/entitlementManagement/resourceRequests";
pub(crate) const GROUPS: &str = "groups";
use super::access_catalog_extensions::PROP as EXTENSIONS;
/// The origin system of a Microsoft Entra group resource.
pub const AAD_GROUP: &str = "AadGroup";

pub fn desired(key: &str, c: &AccessCatalog, state: &DesiredState) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(c.display_name));
    p.insert("description".into(), c.description.as_ref().map_or(Value::Null, |d| json!(d)));
    p.insert("state".into(), json!(c.state));
    p.insert("isExternallyVisible".into(), json!(c.is_externally_visible));
    if let Some(g) = &c.groups {
        p.insert(GROUPS.into(), Value::Array(g.iter().map(|x| ref_to(state, x, &[Kind::Group])).collect()));
    }
    super::access_resources::catalog_props(c.applications.as_ref(), c.sites.as_ref(), &mut p);
    super::access_catalog_extensions::catalog_props(c.custom_workflow_extensions.as_ref(), &mut p);
    resource(Address::new(Kind::AccessCatalog, key), c.display_name.to_lowercase(), c.display_name.clone(), p)
}

/// A resource of a catalog as a `groups` entry: a group reference, or
/// `originSystem:originId` for a resource of another kind (an app, a
/// site), which desired state cannot declare and so shows as drift.
pub fn resource_entry(r: &Value) -> Value {
    let origin = str_field(r, "originId");
    match str_field(r, "originSystem") {
        AAD_GROUP => reference(origin),
        other => json!(format!("{other}:{origin}")),
    }
}

/// A live catalog; `resources` and `extensions` those read, when they were.
pub fn normalize(raw: &Value, resources: Option<&[Value]>, extensions: Option<&[Value]>) -> LiveObject {
    let mut p = Props::new();
    for k in ["displayName", "description", "state"] {
        p.insert(k.into(), raw.get(k).cloned().unwrap_or(Value::Null));
    }
    p.insert("isExternallyVisible".into(), json!(raw.get("isExternallyVisible").and_then(Value::as_bool).unwrap_or(false)));
    if let Some(rs) = resources {
        // Applications and sites have their own lists; any other system
        // shows among the groups, as drift.
        p.insert(GROUPS.into(), Value::Array(rs.iter().filter(|r| !other(r)).map(resource_entry).collect()));
        super::access_resources::catalog_live(rs, &mut p);
    }
    if let Some(xs) = extensions {
        super::access_catalog_extensions::catalog_live(xs, &mut p);
    }
    LiveObject {
        kind: Kind::AccessCatalog,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

fn other(r: &Value) -> bool {
    super::access_resources::is_other(str_field(r, "originSystem"))
}

/// Whether a live catalog is one a tenant made (not Entra's own).
pub fn is_user_managed(raw: &Value) -> bool {
    raw.get("catalogType").and_then(Value::as_str).is_none_or(|t| t == "userManaged")
}

pub fn resources_path(catalog: &str) -> String {
    format!("{CATALOGS}/{}/resources", schema::object_id::path_segment(catalog))
}

/// The catalog's resources.
pub async fn resources(api: &GraphClient, catalog: &str) -> Result<Vec<Value>, GraphError> {
    api.list_all(&resources_path(catalog)).await
}

/// Read, or nothing on a tenant without the licence entitlement
/// management needs (`super::entitlement_licence`).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { super::entitlement_licence::or_unavailable(read_licensed(cx).await) })
}

fn read_licensed<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let api = cx.client.v1();
        let raw = api.list_all(CATALOGS).await?;
        // The catalogs that declare their resources / their extensions
        // (by name and by remembered id); every catalog for export.
        let wanted = |prop: &str| {
            let mut w = BTreeSet::new();
            for r in cx.desired.resources.values().filter(|r| r.address.kind == Kind::AccessCatalog && r.props.contains_key(prop)) {
                w.insert(r.natural_key.clone());
                if let Some(id) = cx.ledger.id(&r.address) {
                    w.insert(id.to_string());
                }
            }
            w
        };
        let (wanted, wanted_ext) = (wanted(GROUPS), wanted(super::access_catalog_extensions::PROP));
        let mut out = Vec::new();
        for c in raw.iter().filter(|c| is_user_managed(c)) {
            let id = str_field(c, "id");
            let name = str_field(c, "displayName").to_lowercase();
            let read_resources = cx.everything || wanted.contains(id) || wanted.contains(&name);
            let rs = if read_resources { Some(resources(&api, id).await?) } else { None };
            let read_ext = cx.everything || wanted_ext.contains(id) || wanted_ext.contains(&name);
            let xs = if read_ext { Some(super::access_catalog_extensions::list(&api, id).await?) } else { None };
            out.push(normalize(c, rs.as_deref(), xs.as_deref()));
        }
        Ok(Readout { objects: out, after: Some(super::access_extension_guard::guard), refused: BTreeMap::new() })
    })
}

/// The POST / PATCH body of the catalog's own properties.
fn body(props: &Props) -> Value {
    Value::Object(props.iter().filter(|(k, v)| !([GROUPS, APPLICATIONS, SITES, EXTENSIONS].contains(&k.as_str()) || k.as_str() == "description" && v.is_null())).map(|(k, v)| (k.clone(), v.clone())).collect())
}

async fn add_group(w: &Writer<'_>, api: &GraphClient, catalog: &str, group: &str) -> Result<(), ExecError> {
    let req = json!({"requestType": "adminAdd", "resource": {"originId": group, "originSystem": AAD_GROUP}, "catalog": {"id": catalog}});
    w.send(api, Method::POST, RESOURCE_REQUESTS, Some(req)).await.map(|_| ())
}

async fn remove_resource(w: &Writer<'_>, api: &GraphClient, catalog: &str, resource_id: &str) -> Result<(), ExecError> {
    let req = json!({"requestType": "adminRemove", "resource": {"id": resource_id}, "catalog": {"id": catalog}});
    w.send(api, Method::POST, RESOURCE_REQUESTS, Some(req)).await.map(|_| ())
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let groups = w.ref_ids(r.props.get(GROUPS))?;
        let id = w.post_new(w.base(), body(&r.props)).await?;
        let api = w.api();
        if !groups.is_empty() || [APPLICATIONS, SITES, EXTENSIONS].iter().any(|k| r.props.get(*k).and_then(Value::as_array).is_some_and(|a| !a.is_empty())) {
            w.wait(&api, &format!("{}/{id}", w.base())).await?;
        }
        for g in &groups {
            add_group(w, &api, &id, g).await?;
        }
        super::access_resources::sync_catalog(w, &api, r, &id, &[], &[APPLICATIONS, SITES]).await?;
        super::access_catalog_extensions::sync(w, &api, r.props.get(EXTENSIONS), &id).await?;
        Ok(id)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let seg = schema::object_id::path_segment(id).into_owned();
        let scalar = w.scalar(&[GROUPS, APPLICATIONS, SITES, EXTENSIONS])?;
        if !scalar.is_empty() {
            w.send(&api, Method::PATCH, &format!("{}/{seg}", w.base()), Some(body(&scalar))).await?;
        }
        if w.touched().contains(GROUPS) {
            let want = w.ref_ids(r.props.get(GROUPS))?;
            let live = resources(&api, &seg).await.map_err(fail)?;
            let have: BTreeSet<&str> = live.iter().filter(|x| str_field(x, "originSystem") == AAD_GROUP).map(|x| str_field(x, "originId")).collect();
            for g in want.iter().filter(|g| !have.contains(g.as_str())) {
                add_group(w, &api, &seg, g).await?;
            }
            for x in live.iter().filter(|x| !(other(x) || str_field(x, "originSystem") == AAD_GROUP && want.contains(str_field(x, "originId")))) {
                remove_resource(w, &api, &seg, str_field(x, "id")).await?;
            }
        }
        let touched: Vec<&str> = [APPLICATIONS, SITES].into_iter().filter(|k| w.touched().contains(*k)).collect();
        if !touched.is_empty() {
            let live = resources(&api, &seg).await.map_err(fail)?;
            super::access_resources::sync_catalog(w, &api, r, &seg, &live, &touched).await?;
        }
        if w.touched().contains(EXTENSIONS) {
            super::access_catalog_extensions::sync(w, &api, r.props.get(EXTENSIONS), &seg).await?;
        }
        Ok(())
    })
}

/// A live catalog as TOML; Err when one of its resources is not an
/// exported group.
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<AccessCatalog, String> {
    let p = &o.props;
    let groups = match p.get(GROUPS).and_then(Value::as_array) {
        Some(list) => Some(
            list.iter()
                .map(|g| match as_reference(g) {
                    Some(id) => key_of(id).filter(|a| a.kind == Kind::Group).map(|a| a.key.to_string()).ok_or_else(|| format!("group {id} is not exported")),
                    None => Err(format!("resource {} is not a group", g.as_str().unwrap_or_default())),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    Ok(AccessCatalog {
        display_name: o.display_name.clone(),
        description: p.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
        state: p.get("state").and_then(Value::as_str).unwrap_or(schema::kinds::access_catalog::PUBLISHED).to_string(),
        is_externally_visible: p.get("isExternallyVisible").and_then(Value::as_bool).unwrap_or(false),
        groups,
        applications: super::access_resources::catalog_export(p, APPLICATIONS),
        sites: super::access_resources::catalog_export(p, SITES),
        custom_workflow_extensions: super::access_catalog_extensions::catalog_export(p),
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        match export_one(o, &|id| cx.keys.key_of(id).cloned()) {
            Ok(c) => {
                for (name, key) in super::access_catalog_extensions::export_keys(&o.props) {
                    cx.keys.extension_keys.insert((o.id.clone(), name), key);
                }
                let a = cx.key(Kind::AccessCatalog, &o.display_name, &o.id);
                t.insert(a.key.clone(), c);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("catalog {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AccessCatalog, "", &t);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_of_other_systems_are_not_groups() {
        assert_eq!(resource_entry(&json!({"originId": "g1", "originSystem": "AadGroup"})), reference("g1"));
        assert_eq!(resource_entry(&json!({"originId": "https://x", "originSystem": "SharePointOnline"})), json!("SharePointOnline:https://x"));
        assert!(is_user_managed(&json!({"catalogType": "userManaged"})));
        assert!(!is_user_managed(&json!({"catalogType": "serviceDefault"})));
    }
}
