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
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
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
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.assignment_filter { m.insert(desired(k, &d.value, s)); }
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
    after_post: &[],
};

pub fn desired(key: &str, f: &AssignmentFilter, state: &DesiredState) -> DesiredResource {
    let mut p = engine::Props::new();
    p.insert("displayName".into(), json!(f.display_name));
    p.insert("platform".into(), json!(f.platform));
    p.insert("rule".into(), json!(f.rule));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &f.description {
        p.insert("description".into(), json!(d));
    }
    // Scope tags: Graph's `roleScopeTags` (tag ids), as references; undeclared, not managed.
    super::scope_tag::insert_desired(&mut p, state, &f.scope_tags);
    if let Some(tags) = p.remove("roleScopeTagIds") {
        p.insert(TAGS.into(), tags);
    }
    let mut r = resource(Address::new(Kind::AssignmentFilter, key), f.display_name.to_lowercase(), f.display_name.clone(), p);
    // Intune does not change a filter's platform: a new one is made.
    r.immutable = vec!["platform".into()];
    r
}

/// Server-side properties tenantctl does not manage.
const UNMANAGED: &[&str] = &["@odata.type", "roleScopeTags", "assignmentFilterManagementType", "payloads"];

/// A filter's scope tags: Graph's `roleScopeTags`, a list of tag ids (not
/// `roleScopeTagIds`, as Intune's other objects have).
const TAGS: &str = "roleScopeTags";

/// Export only: the tenant's scope tag names by id (see `read`).
const TAG_NAMES: &str = "scopeTagNames@export";

pub fn normalize(raw: &Value) -> LiveObject {
    let mut props = live_props(raw, UNMANAGED);
    // As references, so they compare with declared tags by id.
    if let Some(ids) = raw.get(TAGS).and_then(Value::as_array) {
        props.insert(TAGS.into(), Value::Array(ids.iter().filter_map(Value::as_str).map(engine::model::reference).collect()));
    }
    LiveObject {
        kind: Kind::AssignmentFilter,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// A body's `roleScopeTags` references replaced by tag ids.
fn resolve_tags(body: &mut serde_json::Map<String, Value>, w: &Writer<'_>) -> Result<(), ExecError> {
    if let Some(Value::Array(tags)) = body.get_mut(TAGS) {
        for t in tags.iter_mut() {
            if let Some(target) = engine::model::as_reference(t).map(str::to_string) {
                *t = json!(w.ref_id(&target).ok_or_else(|| crate::apply::err(format!("{target} has no object id yet")))?);
            }
        }
    }
    Ok(())
}

/// The POST body of a new filter (device filters: `assignmentFilterManagementType` is Graph's default).
pub fn create_body(r: &DesiredResource) -> Value {
    let mut body = serde_json::Map::new();
    for k in ["displayName", "platform", "rule", "description", TAGS] {
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
        let mut objects: Vec<LiveObject> = raw.iter().map(normalize).collect();
        // Export: the names of the filters' scope tags, so the filters can
        // name them by key although tags export after filters (never
        // compared: desired state declares no such property).
        if cx.everything && objects.iter().any(|o| o.props.get(TAGS).and_then(Value::as_array).is_some_and(|t| !t.is_empty())) {
            let tags = cx.client.beta().list_all(&super::update_profile::list_path(Kind::ScopeTag)).await?;
            let names: serde_json::Map<String, Value> = tags.iter().map(|t| (str_field(t, "id").to_string(), json!(str_field(t, "displayName")))).collect();
            for o in &mut objects {
                o.props.insert(TAG_NAMES.into(), Value::Object(names.clone()));
            }
        }
        Ok(objects.into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let mut body = create_body(w.desired()?);
        if let Some(m) = body.as_object_mut() {
            resolve_tags(m, w)?;
        }
        let created = w.send(&w.api(), Method::POST, w.base(), Some(body)).await?;
        crate::apply::id_of(&created)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let body = w.scalar(&[])?;
        if !body.is_empty() {
            let mut body: serde_json::Map<String, Value> = body.into_iter().collect();
            resolve_tags(&mut body, w)?;
            w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(Value::Object(body))).await?;
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
                // A filter whose tags cannot all be named by key is
                // exported without them (not managed), with a warning.
                let tags: engine::Props = p.get(TAGS).map(|t| [("roleScopeTagIds".to_string(), t.clone())].into_iter().collect()).unwrap_or_default();
                // Key the filter's tags now (the scope tag export then uses the same keys).
                for id in p.get(TAGS).and_then(Value::as_array).into_iter().flatten().filter_map(engine::model::as_reference) {
                    let name = p.get(TAG_NAMES).and_then(|n| n.get(id)).and_then(Value::as_str);
                    if let (Some(name), false, None) = (name, super::scope_tag::is_default(id), cx.keys.key_of(id)) {
                        cx.key(Kind::ScopeTag, name, id);
                    }
                }
                let scope_tags = super::scope_tag::tags_of(cx, &tags).unwrap_or_else(|e| {
                    cx.warn(format!("assignment filter {} ({}): its scope tags are not exported ({e}); declare them by key", o.display_name, o.id));
                    Vec::new()
                });
                let f = AssignmentFilter {
                    display_name: o.display_name.clone(),
                    platform,
                    rule: crate::export::s(p, "rule").unwrap_or_default(),
                    description: crate::export::s(p, "description"),
                    scope_tags,
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
