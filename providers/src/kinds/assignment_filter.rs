//! Assignment filters (`/deviceManagement/assignmentFilters`, beta only).
//! Matched by display name. Policies name a declared filter by key; their
//! normalized assignments key a filtered target by the filter's display
//! name, which is also how live assignments are keyed once observe has
//! put each filter's name beside its id, so both compare.

use engine::{DesiredModel, DesiredResource, LiveObject};
use schema::kinds::AssignmentFilter;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{live_props, resource, str_field};
use super::registry::{Api, BoxFuture, KindProvider, Read, BY_DISPLAY_NAME};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AssignmentFilter,
    collection: "/deviceManagement/assignmentFilters",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    desired: |s, m| {
        for (k, d) in &s.assignment_filter { m.insert(desired(k, &d.value)); }
    },
    export_file: "assignment-filters.toml",
    export_title: "Assignment filters",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
};

pub fn desired(key: &str, f: &AssignmentFilter) -> DesiredResource {
    let mut p = engine::Props::new();
    p.insert("displayName".into(), json!(f.display_name));
    p.insert("platform".into(), json!(f.platform));
    p.insert("rule".into(), json!(f.rule));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &f.description {
        p.insert("description".into(), json!(d));
    }
    let mut r = resource(Address::new(Kind::AssignmentFilter, key), f.display_name.to_lowercase(), f.display_name.clone(), p);
    // Intune does not change a filter's platform: a new one is made.
    r.immutable = vec!["platform".into()];
    r
}

/// Server-side properties tenantctl does not manage.
const UNMANAGED: &[&str] = &["@odata.type", "roleScopeTags", "assignmentFilterManagementType", "payloads"];

pub fn normalize(raw: &Value) -> LiveObject {
    LiveObject {
        kind: Kind::AssignmentFilter,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: live_props(raw, UNMANAGED),
    }
}

/// The POST body of a new filter (device filters: `assignmentFilterManagementType` is Graph's default).
pub fn create_body(r: &DesiredResource) -> Value {
    let mut body = serde_json::Map::new();
    for k in ["displayName", "platform", "rule", "description"] {
        if let Some(v) = r.props.get(k) {
            body.insert(k.into(), v.clone());
        }
    }
    Value::Object(body)
}

/// The declared filter a policy's `filter = "..."` names: `KEY` or
/// `assignment_filter.KEY` of a declared filter; None for a display name
/// or id of a filter tenantctl does not manage.
pub fn declared<'a>(state: &'a DesiredState, filter: &str) -> Option<(&'a String, &'a AssignmentFilter)> {
    let key = filter.strip_prefix("assignment_filter.").unwrap_or(filter);
    state.assignment_filter.get_key_value(key).map(|(k, d)| (k, &d.value))
}

/// Each resource whose assignments use a declared filter depends on it,
/// so the filter is created first and deleted last.
pub fn depend_on_filters(state: &DesiredState, m: &mut DesiredModel) {
    let by_name: std::collections::BTreeMap<String, Address> = state
        .assignment_filter
        .iter()
        .map(|(k, d)| (d.value.display_name.trim().to_lowercase(), Address::new(Kind::AssignmentFilter, k.as_str())))
        .collect();
    if by_name.is_empty() {
        return;
    }
    for r in m.resources.values_mut() {
        for f in super::filters_named(r.props.get("assignments").unwrap_or(&Value::Null)) {
            if let Some(a) = by_name.get(&f) {
                if !r.depends_on.contains(a) {
                    r.depends_on.push(a.clone());
                }
            }
        }
    }
}

/// Assignment filters as a kind (beta only).
/// The filters listing.
fn list_path() -> String {
    format!("{}?$top=999", PROVIDER.collection)
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.beta().list_all(&list_path()).await?;
        Ok(raw.iter().map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let created = w.send(&w.api(), Method::POST, w.base(), Some(create_body(w.desired()?))).await?;
        crate::apply::id_of(&created)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let body = w.scalar(&[])?;
        if !body.is_empty() {
            w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(json!(body))).await?;
        }
        Ok(())
    })
}

/// Filters get keys before the policies whose assignments name them.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = std::collections::BTreeMap::new();
    for o in objects {
        let p = &o.props;
        let platform = p.get("platform").cloned().unwrap_or(Value::Null);
        match serde_json::from_value::<schema::kinds::assignment_filter::FilterPlatform>(platform.clone()) {
            Ok(platform) => {
                let f = AssignmentFilter {
                    display_name: o.display_name.clone(),
                    platform,
                    rule: crate::export::s(p, "rule").unwrap_or_default(),
                    description: crate::export::s(p, "description"),
                };
                let a = cx.key(Kind::AssignmentFilter, &o.display_name, &o.id);
                cx.keys.filter_names.insert(o.display_name.trim().to_lowercase(), a.key.clone());
                t.insert(a.key.clone(), f);
                cx.record(a, &o.id);
            }
            Err(_) => cx.warn(format!("assignment filter {} ({}): platform {platform} is not a device platform tenantctl manages: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AssignmentFilter, "", &t);
}
