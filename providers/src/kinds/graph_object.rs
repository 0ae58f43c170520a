//! The typed escape hatch (`graph_object`): objects of Graph collections
//! no kind models, among those graph-metadata lists. Each declared object
//! carries its collection and Graph version (`@tenantctl.collection`,
//! `beta:/deviceManagement/termsAndConditions`) and the body property its
//! natural key is (`@tenantctl.naturalKey`), in its desired and its live
//! props alike, so they compare equal and a delete knows where to go.
//! Only declared body properties are compared; the read lists only the
//! collections desired state declares. Declared `assignments` (on a
//! collection whose entity has an `assign` action) are compared in the
//! Intune kinds' normalized shape, read with `$expand=assignments` and
//! written with the collection's `assign` action (the whole set).

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::graph_object::{GraphApi, GraphObject};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::{resource, str_field};
use crate::apply::{err, fail, Writer};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// Where each object's collection and Graph version are kept.
pub const COLLECTION_PROP: &str = engine::ledger::LOCATION_PROP;
/// Which body property is the natural key.
pub const NATURAL_KEY_PROP: &str = "@tenantctl.naturalKey";

/// This kind in the provider registry (`super::registry`). Its collection
/// is each object's own; the one named here is the one the sandbox serves
/// (and the README's table shows).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::GraphObject,
    collection: "/deviceManagement/termsAndConditions",
    api: Api::Beta,
    // Found by natural key in its own collection by `create`.
    natural_key: None,
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.graph_object {
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "graph-objects.toml",
    export_title: "Graph objects (graph_object)",
    read: Read::Own(read),
    create,
    update,
    delete,
    export: export_all,
    import_paths: &[],
    listings: Vec::new,
    after_post: &["assignments"],
};

/// TOML to JSON, dates as strings (Graph's spelling), nested nulls gone.
fn to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => json!(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => json!(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Nested `@` annotations and nulls dropped (Graph adds them to complex
/// values; desired state does not write them).
fn plain(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(k, v)| !k.starts_with('@') && !v.is_null()).map(|(k, v)| (k.clone(), plain(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        other => other.clone(),
    }
}

/// `beta:/deviceManagement/x` for a declared object.
fn location(o: &GraphObject) -> String {
    format!("{}:{}", o.api.as_str(), o.collection.trim_end_matches('/'))
}

/// (client, collection path) of a `@tenantctl.collection` value.
fn parse_location<'a>(client: &GraphClient, loc: &'a str) -> Option<(GraphClient, &'a str)> {
    let (api, path) = loc.split_once(':')?;
    let api = match api {
        "beta" => client.beta(),
        "v1.0" => client.v1(),
        _ => return None,
    };
    // Only the collections graph-metadata lists (validation refused others),
    // and never one a kind manages: a ledger entry naming one (edited, or
    // of a forged ledger) must not make graph_object read or delete that
    // kind's objects (hostile run 15, finding 13).
    graph_metadata::metadata().collection(path)?;
    if schema::kinds::graph_object::modelled(path) {
        return None;
    }
    Some((api, path))
}

pub fn desired(key: &str, o: &GraphObject, state: &DesiredState) -> DesiredResource {
    let mut props = Props::new();
    for (k, v) in &o.body {
        props.insert(k.clone(), plain(&to_json(v)));
    }
    props.insert("@odata.type".into(), json!(schema::kinds::device_configuration::qualified_odata_type(&o.odata_type)));
    props.insert(COLLECTION_PROP.into(), json!(location(o)));
    props.insert(NATURAL_KEY_PROP.into(), json!(o.natural_key));
    let name = o.natural_value().unwrap_or_default().trim().to_string();
    let natural = natural(&o.collection, &name);
    if let Some(a) = &o.assignments {
        props.insert("assignments".into(), super::desired_assignments(state, a));
    }
    let mut r = resource(Address::new(Kind::GraphObject, key), natural, name, props);
    // A type or collection change is a different object.
    r.immutable = vec!["@odata.type".into(), COLLECTION_PROP.into()];
    if o.assignments.is_some() {
        r.assignment_props = vec!["assignments".into()];
    }
    r
}

/// The collection's `assign` action, when its entity has one.
fn assign_def(path: &str) -> Option<&'static graph_metadata::model::AssignDef> {
    graph_metadata::metadata().collection(path).and_then(|c| c.assign.as_ref())
}

/// The natural key of an object: its collection (whatever the version it
/// is read through) and its natural key property's value, lowercased.
fn natural(collection: &str, name: &str) -> String {
    format!("{}|{}", collection.trim_end_matches('/').to_lowercase(), name.trim().to_lowercase())
}

/// A live object of a declared collection, normalized: ids and Graph's
/// annotations gone, its location and natural key property noted.
fn normalize(raw: &Value, loc: &str, natural_key: &str) -> LiveObject {
    let mut props: Props = raw
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "id" && k.as_str() != "assignments" && (!k.starts_with('@') || k.as_str() == "@odata.type"))
        .map(|(k, v)| (k.clone(), if k.starts_with('@') { v.clone() } else { plain(v) }))
        .collect();
    if let Some(a) = raw.get("assignments").filter(|a| a.is_array()) {
        props.insert("assignments".into(), super::live_assignments(a));
    }
    props.insert(COLLECTION_PROP.into(), json!(loc));
    props.insert(NATURAL_KEY_PROP.into(), json!(natural_key));
    let name = str_field(raw, natural_key).trim().to_string();
    let path = loc.split_once(':').map_or(loc, |(_, p)| p);
    LiveObject { kind: Kind::GraphObject, id: str_field(raw, "id").to_string(), natural_key: natural(path, &name), display_name: name, props }
}

/// Lists every collection desired state declares objects in, once (through
/// beta when any object there is declared with beta; with the natural key
/// property the first of them names). Each live object is noted with the
/// location (version and path) of the declared object it is (by ledger id,
/// else by natural key), so the version an object is declared with is no
/// difference. A ledger-owned object found in none is refused (unknown,
/// never forgotten): its collection is not declared any more, or it was
/// deleted, and tenantctl cannot tell.
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        // path (lowercase) -> (read location, natural key property)
        let mut collections: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut by_natural: BTreeMap<&str, &str> = BTreeMap::new();
        let mut by_id: BTreeMap<&str, &str> = BTreeMap::new();
        for r in cx.desired.resources.values().filter(|r| r.address.kind == Kind::GraphObject) {
            let loc = str_field_p(&r.props, COLLECTION_PROP);
            let nk = str_field_p(&r.props, NATURAL_KEY_PROP);
            let Some((api, path)) = loc.split_once(':') else { continue };
            let e = collections.entry(path.to_lowercase()).or_insert_with(|| (loc.to_string(), nk.to_string()));
            if api == "beta" && !e.0.starts_with("beta:") {
                e.0 = format!("beta:{path}");
            }
            by_natural.insert(r.natural_key.as_str(), loc);
            if let Some(id) = cx.ledger.resources.get(&r.address).map(|e| e.id.as_str()) {
                by_id.insert(id, loc);
            }
        }
        // Owned objects desired state no longer names: their collection as
        // the ledger recorded it is read too, so they are deleted (or
        // reported) rather than unknown.
        for (_, e) in cx.ledger.resources.iter().filter(|(a, _)| a.kind == Kind::GraphObject && !cx.desired.resources.contains_key(*a)) {
            let Some(loc) = e.location.as_deref() else { continue };
            let Some((api, path)) = loc.split_once(':') else { continue };
            if parse_location(cx.client, loc).is_none() {
                continue;
            }
            let entry = collections.entry(path.to_lowercase()).or_insert_with(|| (loc.to_string(), "displayName".to_string()));
            if api == "beta" && !entry.0.starts_with("beta:") {
                entry.0 = format!("beta:{path}");
            }
            by_id.insert(e.id.as_str(), loc);
        }
        let mut out = Readout::default();
        let mut found: BTreeSet<String> = BTreeSet::new();
        for (loc, nk) in collections.values() {
            let Some((api, path)) = parse_location(cx.client, loc) else { continue };
            // Assignments are read wherever Graph assigns (export writes them).
            let expand = assign_def(path).is_some();
            let mut raws = api.list_all(&if expand { format!("{path}?$expand=assignments") } else { path.to_string() }).await?;
            if expand {
                // Filters on targets are compared by name, as on the Intune kinds.
                super::intune_common::read_filter_names(&cx.client.beta(), &mut raws).await?;
            }
            for raw in raws {
                let mut o = normalize(&raw, loc, nk);
                let declared = by_id.get(o.id.as_str()).or_else(|| by_natural.get(o.natural_key.as_str()));
                if let Some(d) = declared {
                    o.props.insert(COLLECTION_PROP.into(), json!(d));
                }
                found.insert(o.id.clone());
                out.objects.push(o);
            }
        }
        for (a, e) in cx.ledger.resources.iter().filter(|(a, _)| a.kind == Kind::GraphObject) {
            if !found.contains(&e.id) && !cx.desired.resources.contains_key(a) {
                let known: Vec<&str> = collections.values().map(|(l, _)| l.as_str()).collect();
                out.refused.insert(
                    a.clone(),
                    format!(
                        "object {} is in none of the collections declared graph_objects name ({}): its collection is no longer declared, or it was deleted; declare it again to manage or delete it",
                        e.id,
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                );
            }
        }
        Ok(out)
    })
}

fn str_field_p<'a>(p: &'a Props, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The write body: the given props without tenantctl's own notes.
fn body_of(props: impl Iterator<Item = (String, Value)>) -> Value {
    Value::Object(props.filter(|(k, _)| !k.starts_with("@tenantctl.") && k != "assignments").collect::<Map<String, Value>>())
}

/// `POST {path}/{id}/assign` with the whole desired set (the action
/// replaces it), group keys and filter names resolved to ids.
async fn assign(w: &Writer<'_>, api: &GraphClient, path: &str, id: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    let Some(assignments) = r.props.get("assignments") else { return Ok(()) };
    let def = assign_def(path).ok_or_else(|| err(format!("{}: {path} has no assign action", r.address)))?;
    let lookup = |a: &str| w.ref_id(a);
    let filters = if super::filters_named(assignments).is_empty() {
        Vec::new()
    } else {
        w.list(&w.client().beta(), "/deviceManagement/assignmentFilters").await.map_err(fail)?
    };
    let filter_id = |f: &str| super::resolve_filter(&filters, f);
    let body = super::assign_body(assignments, &lookup, &filter_id, &format!("#microsoft.graph.{}", def.assignment)).map_err(err)?;
    let list = body.get("assignments").cloned().unwrap_or(Value::Array(Vec::new()));
    let request = GraphRequest::new(Method::POST, format!("{path}/{id}/assign")).json(json!({ def.param.as_str(): list })).safe_to_retry(true);
    w.execute(api, request).await?;
    Ok(())
}

/// The change's collection (its desired props, else its live ones).
fn target<'a>(w: &'a Writer<'a>) -> Result<(GraphClient, String), ExecError> {
    let c = w.change();
    let loc = c
        .desired
        .as_ref()
        .map(|d| str_field_p(&d.props, COLLECTION_PROP))
        .filter(|s| !s.is_empty())
        .or_else(|| c.live.as_ref().map(|l| str_field_p(l, COLLECTION_PROP)))
        .unwrap_or_default();
    let (api, path) = parse_location(w.client(), loc).ok_or_else(|| err(format!("{}: `{loc}` is not a collection graph_object may write", c.address)))?;
    Ok((api, path.to_string()))
}

/// Looks the natural key up in the collection first (a create whose
/// response was lost is adopted, never duplicated; two matches is an
/// error naming both), then POSTs the declared body.
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let (api, path) = target(w)?;
        let nk = str_field_p(&r.props, NATURAL_KEY_PROP);
        let wanted = r.display_name.trim().to_lowercase();
        let existing: Vec<Value> = api.list_all(&path).await.map_err(fail)?.into_iter().filter(|o| str_field(o, nk).trim().to_lowercase() == wanted).collect();
        match existing.as_slice() {
            [] => {}
            [one] => {
                let id = str_field(one, "id").to_string();
                let body = body_of(r.props.iter().map(|(k, v)| (k.clone(), v.clone())));
                w.send(&api, Method::PATCH, &format!("{path}/{id}"), Some(body)).await?;
                w.created(&id)?;
                assign(w, &api, &path, &id).await?;
                return Ok(id);
            }
            many => {
                let ids: Vec<&str> = many.iter().map(|o| str_field(o, "id")).collect();
                return Err(err(format!("{} objects in {path} already have {nk} `{}`; refusing to guess: {}", many.len(), r.display_name, ids.join(", "))));
            }
        }
        let body = body_of(r.props.iter().map(|(k, v)| (k.clone(), v.clone())));
        let created = w.send(&api, Method::POST, &path, Some(body)).await?;
        let id = crate::apply::id_of(&created)?;
        w.created(&id)?;
        w.wait(&api, &format!("{path}/{id}")).await?;
        assign(w, &api, &path, &id).await?;
        Ok(id)
    })
}

/// PATCH the declared properties that changed, with `@odata.type`.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let (api, path) = target(w)?;
        let id = schema::object_id::path_segment(id);
        let mut body: Map<String, Value> = w.scalar(&[])?.into_iter().filter(|(k, _)| !k.starts_with("@tenantctl.") && k != "assignments").collect();
        if !body.is_empty() {
            body.insert("@odata.type".into(), w.desired()?.props.get("@odata.type").cloned().unwrap_or(Value::Null));
            w.send(&api, Method::PATCH, &format!("{path}/{id}"), Some(Value::Object(body))).await?;
        }
        if w.touched().contains("assignments") {
            assign(w, &api, &path, &id).await?;
        }
        Ok(())
    })
}

/// DELETE in its own collection; one already gone is done.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let (api, path) = target(w)?;
        let id = schema::object_id::path_segment(id);
        match w.try_execute(&api, GraphRequest::new(Method::DELETE, format!("{path}/{id}"))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(fail(e)),
        }
    })
}

/// Properties Graph sets on its own, never exported into a body.
const SERVER_SET: &[&str] = &["createdDateTime", "lastModifiedDateTime", "modifiedDateTime", "version"];

/// Export (with `--from`, which names the collections): every object of
/// the declared collections, as a graph_object with the writable
/// properties its type has in Graph's metadata (read-only ones,
/// relationships and unset ones left out).
fn export_all(cx: &mut crate::export::ExportCx, objects: Vec<&LiveObject>) {
    let m = graph_metadata::metadata();
    let mut t = BTreeMap::new();
    for o in objects {
        let loc = str_field_p(&o.props, COLLECTION_PROP);
        let nk = str_field_p(&o.props, NATURAL_KEY_PROP).to_string();
        let Some((api, path)) = loc.split_once(':') else { continue };
        let beta = api == "beta";
        let ty = str_field_p(&o.props, "@odata.type").to_string();
        let writable = m.properties(&ty, beta);
        let mut body = BTreeMap::new();
        for (k, v) in o.props.iter().filter(|(k, _)| !k.starts_with('@') && !SERVER_SET.contains(&k.as_str())) {
            let ok = matches!(writable.get(k.as_str()), Some(graph_metadata::PropInfo::Typed(p)) if !p.ro);
            if ok {
                if let Some(tv) = crate::export::json_to_toml(v) {
                    body.insert(k.clone(), tv);
                }
            }
        }
        // Desired state is kept in git: an object holding a secret is declared by hand.
        if let Some(what) = super::intune_common::holds_secret(&o.props) {
            cx.warn(format!("graph_object {} in {path} ({}): holds a secret ({what}): not exported; declare it by hand", o.display_name, o.id));
            continue;
        }
        if o.display_name.is_empty() {
            cx.warn(format!("graph_object in {path} ({}): it has no {nk}: not exported", o.id));
            continue;
        }
        // Assignments, when they were read (a collection with `assign`).
        let assignments = match o.props.get("assignments").filter(|_| assign_def(path).is_some()) {
            Some(_) => match super::intune_common::assignments(&o.props, &cx.keys) {
                Ok(a) => Some(a),
                Err(e) => {
                    cx.warn(format!("graph_object {} in {path} ({}): {e}: not exported", o.display_name, o.id));
                    continue;
                }
            },
            None => None,
        };
        let g = GraphObject {
            collection: path.to_string(),
            api: if beta { GraphApi::Beta } else { GraphApi::V1 },
            odata_type: ty,
            natural_key: nk,
            body,
            assignments,
        };
        let a = cx.key(Kind::GraphObject, &o.display_name, &o.id);
        t.insert(a.key.clone(), g);
        cx.record(a, &o.id);
    }
    cx.table(Kind::GraphObject, "", &t);
}

/// The collections a desired state's graph_objects name (for `export --from`).
pub fn declared_collections(state: &DesiredState) -> Vec<String> {
    let mut v: Vec<String> = state.graph_object.values().map(|d| location(&d.value)).collect();
    v.sort();
    v.dedup();
    v
}
