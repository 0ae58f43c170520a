//! Administrative units (`/directory/administrativeUnits`, v1.0), matched
//! by display name. Assigned members are read (for the units whose
//! members desired state manages) from `/members` and changed one `$ref`
//! at a time; a dynamic unit's members come from its rule. Visibility and
//! restricted management are set when a unit is created: a change
//! replaces it.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::AdministrativeUnit;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{ref_to, resource, str_field};
use crate::apply::{delete_plain, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{BatchRequest, GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AdministrativeUnit,
    collection: "/directory/administrativeUnits",
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.administrative_unit { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "administrative-units.toml",
    export_title: "Administrative units",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &["members"],
};

const MEMBERS: &str = "members";
const DYNAMIC: &str = "Dynamic";
const ASSIGNED: &str = "Assigned";

pub fn desired(key: &str, u: &AdministrativeUnit, state: &DesiredState) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(u.display_name));
    p.insert("description".into(), u.description.as_ref().map_or(Value::Null, |d| json!(d)));
    match &u.membership_rule {
        Some(rule) => {
            p.insert("membershipType".into(), json!(DYNAMIC));
            p.insert("membershipRule".into(), json!(rule));
            p.insert("membershipRuleProcessingState".into(), json!(u.membership_rule_processing_state.as_deref().unwrap_or("On")));
        }
        None => {
            p.insert("membershipType".into(), json!(ASSIGNED));
        }
    }
    if let Some(v) = &u.visibility {
        p.insert("visibility".into(), json!(v));
    }
    p.insert("isMemberManagementRestricted".into(), json!(u.is_member_management_restricted));
    if let Some(m) = &u.members {
        p.insert(MEMBERS.into(), Value::Array(m.iter().map(|x| ref_to(state, x, &[Kind::User, Kind::Guest, Kind::Group])).collect()));
    }
    let mut r = resource(Address::new(Kind::AdministrativeUnit, key), u.display_name.to_lowercase(), u.display_name.clone(), p);
    // v1.0 "Update administrativeUnit" lists `visibility` among the
    // properties a PATCH may change; only `isMemberManagementRestricted`
    // (restricted management units) is fixed at creation. A replace would
    // drop the unit's members and every role assignment scoped to it.
    r.immutable = vec!["isMemberManagementRestricted".into()];
    r
}

/// A live unit; `members` the ids read, when they were.
pub fn normalize(raw: &Value, members: Option<&[String]>) -> LiveObject {
    let mut p = Props::new();
    for k in ["displayName", "description", "membershipRule", "membershipRuleProcessingState"] {
        p.insert(k.into(), raw.get(k).cloned().unwrap_or(Value::Null));
    }
    let dynamic = str_field(raw, "membershipType").eq_ignore_ascii_case(DYNAMIC);
    p.insert("membershipType".into(), json!(if dynamic { DYNAMIC } else { ASSIGNED }));
    p.insert("visibility".into(), json!(raw.get("visibility").and_then(Value::as_str).unwrap_or("Public")));
    p.insert("isMemberManagementRestricted".into(), json!(raw.get("isMemberManagementRestricted").and_then(Value::as_bool).unwrap_or(false)));
    if let Some(m) = members {
        p.insert(MEMBERS.into(), Value::Array(m.iter().map(reference).collect()));
    }
    LiveObject {
        kind: Kind::AdministrativeUnit,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// The POST body (members are added afterwards).
pub fn create_body(r: &DesiredResource) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &r.props {
        match k.as_str() {
            MEMBERS => {}
            "membershipType" if v == ASSIGNED => {}
            "visibility" if v == "Public" => {}
            _ if v.is_null() => {}
            _ => {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(m)
}

fn member_path(id: &str) -> String {
    format!("{}/{}/members?$select=id&$top=999", PROVIDER.collection, schema::object_id::path_segment(id))
}

async fn member_ids(api: &GraphClient, id: &str) -> Result<Vec<String>, GraphError> {
    let list = api.list_all(&member_path(id)).await?;
    let mut ids: Vec<String> = list.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    ids.sort();
    Ok(ids)
}

/// Units, with members for the assigned units whose members are managed
/// (all with `everything`: export).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let api = cx.client.v1();
        let raw = api.list_all(PROVIDER.collection).await?;
        let mut wanted = BTreeSet::new();
        for r in cx.desired.resources.values().filter(|r| r.address.kind == Kind::AdministrativeUnit && r.props.contains_key(MEMBERS)) {
            wanted.insert(r.natural_key.clone());
            if let Some(id) = cx.ledger.id(&r.address) {
                wanted.insert(id.to_string());
            }
        }
        let read_members = |u: &Value| {
            let dynamic = str_field(u, "membershipType").eq_ignore_ascii_case(DYNAMIC);
            !dynamic && (cx.everything || wanted.contains(str_field(u, "id")) || wanted.contains(&str_field(u, "displayName").to_lowercase()))
        };
        // Every unit's members in `$batch` calls, sent as the client's
        // concurrency allows (hostile run 30, finding E: one GET per unit,
        // one after another, on every reconcile pass).
        let ids: Vec<&str> = raw.iter().filter(|u| read_members(u)).map(|u| str_field(u, "id")).collect();
        let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        if !ids.is_empty() {
            let responses = api.batch(ids.iter().map(|id| BatchRequest::get(member_path(id))).collect()).await?;
            for (id, response) in ids.iter().zip(responses) {
                let body = response.into_result()?.unwrap_or(Value::Null);
                let mut items: Vec<Value> = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
                if let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str) {
                    items.extend(api.list_all(link).await?);
                }
                let mut list: Vec<String> = items.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect();
                list.sort();
                members.insert(id, list);
            }
        }
        Ok(raw.iter().map(|u| normalize(u, members.get(str_field(u, "id")).map(Vec::as_slice))).collect::<Vec<_>>().into())
    })
}

async fn add_member(w: &Writer<'_>, api: &GraphClient, unit: &str, member: &str) -> Result<(), ExecError> {
    let body = json!({"@odata.id": format!("{}/v1.0/directoryObjects/{member}", w.client().cloud().graph_base())});
    let path = format!("{}/{unit}/members/$ref", PROVIDER.collection);
    match w.try_execute(api, GraphRequest::new(Method::POST, path).json(body).safe_to_retry(true)).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("already exist") => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let members = w.ref_ids(r.props.get(MEMBERS))?;
        let id = w.post_new(w.base(), create_body(r)).await?;
        let api = w.api();
        // Read back before it counts as applied, members or none (see
        // `apply::reads_back_after_create`).
        w.wait(&api, &format!("{}/{id}", w.base())).await?;
        for m in &members {
            add_member(w, &api, &id, m).await?;
        }
        Ok(id)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let seg = schema::object_id::path_segment(id).into_owned();
        let mut body = w.scalar(&[MEMBERS])?;
        // A dynamic unit made assigned: its rule goes with the type, or
        // Graph refuses a rule on an assigned unit.
        if body.get("membershipType").and_then(Value::as_str) == Some(ASSIGNED) {
            body.insert("membershipRule".into(), Value::Null);
            body.insert("membershipRuleProcessingState".into(), Value::Null);
        }
        if !body.is_empty() {
            w.send(&api, Method::PATCH, &format!("{}/{seg}", w.base()), Some(json!(body))).await?;
        }
        if w.touched().contains(MEMBERS) {
            let want = w.ref_ids(r.props.get(MEMBERS))?;
            let have: BTreeSet<String> = member_ids(&api, &seg).await.map_err(fail)?.into_iter().collect();
            for m in want.difference(&have) {
                add_member(w, &api, &seg, m).await?;
            }
            for m in have.difference(&want) {
                match w.try_execute(&api, GraphRequest::new(Method::DELETE, format!("{}/{seg}/members/{m}/$ref", w.base()))).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        Ok(())
    })
}

/// A live unit as TOML; Err when a member is not exported.
pub fn export_one(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<AdministrativeUnit, String> {
    let p = &o.props;
    let s = |k: &str| p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
    let dynamic = s("membershipType").as_deref() == Some(DYNAMIC);
    let members = match p.get(MEMBERS).and_then(Value::as_array) {
        Some(list) if !dynamic => Some(
            list.iter()
                .map(|m| {
                    let id = as_reference(m).unwrap_or_default();
                    key_of(id).filter(|a| matches!(a.kind, Kind::User | Kind::Guest | Kind::Group)).map(|a| a.to_string()).ok_or_else(|| format!("member {id} is not exported"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        _ => None,
    };
    Ok(AdministrativeUnit {
        display_name: o.display_name.clone(),
        description: s("description"),
        members,
        membership_rule: if dynamic { s("membershipRule") } else { None },
        membership_rule_processing_state: if dynamic { s("membershipRuleProcessingState").filter(|v| v != "On") } else { None },
        visibility: s("visibility").filter(|v| v != "Public"),
        is_member_management_restricted: p.get("isMemberManagementRestricted").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        match export_one(o, &|id| cx.keys.key_of(id).cloned()) {
            Ok(u) => {
                let a = cx.key(Kind::AdministrativeUnit, &o.display_name, &o.id);
                t.insert(a.key.clone(), u);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("administrative unit {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::AdministrativeUnit, "", &t);
}
