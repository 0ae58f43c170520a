//! Security groups, assigned or dynamic (`/groups`). Members and owners are
//! read per group (through `$batch`) only for groups whose membership desired
//! state manages.

use engine::model::reference;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::Group;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{live_props, ref_to, resource, str_field};
use super::registry::{key_is, lit, Api, BoxFuture, Created, KindProvider, NaturalKey, Read};
use crate::apply::{delete_plain, err, fail, Writer};
use crate::export::{b, s, ExportCx};
use crate::graph::{BatchRequest, GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use engine::model::as_reference;
use std::collections::{BTreeMap, BTreeSet};

pub const SELECT: &str = "id,displayName,mailNickname,description,groupTypes,membershipRule,membershipRuleProcessingState,isAssignableToRole,securityEnabled,mailEnabled";

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::Group,
    collection: "/groups",
    api: Api::V1,
    natural_key: Some(NaturalKey {
        field: "mailNickname",
        select: "",
        filter: |r| {
            let nick = r.props.get("mailNickname").and_then(Value::as_str).unwrap_or_default();
            (format!("mailNickname eq {}", lit(nick)), nick.to_lowercase())
        },
        matches: |o, _, wanted| key_is(o, "mailNickname", wanted),
    }),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.group {
            if d.value.licenses.is_some() {
                m.origins.insert(Address::new(Kind::Group, k), schema::diagnostic::shown_path(&d.origin.file));
            }
            m.insert(desired(k, &d.value, s));
        }
    },
    export_file: "groups.toml",
    export_title: "Security groups",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || vec![list_path()],
    after_post: &["members", "owners", crate::licensing::PROP],
};

/// Delete a group. Entra refuses to delete one with licences assigned
/// (a 400): then its licences are removed and the delete is tried once
/// more, so a group with none costs no extra request.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        match w.try_execute(&w.api(), GraphRequest::new(Method::DELETE, format!("{}/{id}", w.base()))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            // Only Entra's licence refusal: licences removed, then the delete again.
            Err(e) if crate::licensing::refuses_licensed_delete(&e) => {
                crate::licensing::remove_all_from_group(w, id).await?;
                delete_plain(w, id).await
            }
            Err(e) => Err(fail(e)),
        }
    })
}

pub fn desired(key: &str, g: &Group, state: &DesiredState) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(g.display_name));
    p.insert("mailNickname".into(), json!(g.mail_nickname));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &g.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("securityEnabled".into(), json!(true));
    p.insert("mailEnabled".into(), json!(false));
    p.insert("isAssignableToRole".into(), json!(g.is_assignable_to_role));
    if let Some(rule) = &g.membership_rule {
        p.insert("groupTypes".into(), json!(["DynamicMembership"]));
        p.insert("membershipRule".into(), json!(rule));
        let state = g.membership_rule_processing_state.map(|s| format!("{s:?}")).unwrap_or_else(|| "On".into());
        p.insert("membershipRuleProcessingState".into(), json!(state));
    } else {
        p.insert("groupTypes".into(), json!([]));
    }
    if let Some(members) = &g.members {
        let refs: Vec<Value> = members.iter().map(|m| ref_to(state, m, &[Kind::User, Kind::Guest, Kind::Group])).collect();
        p.insert("members".into(), Value::Array(refs));
    }
    if let Some(owners) = &g.owners {
        p.insert("owners".into(), Value::Array(owners.iter().map(|o| ref_to(state, o, &[Kind::User])).collect()));
    }
    if let Some(licenses) = &g.licenses {
        p.insert(crate::licensing::PROP.into(), crate::licensing::desired_prop(licenses));
    }
    let mut r = resource(Address::new(Kind::Group, key), g.mail_nickname.to_lowercase(), g.display_name.clone(), p);
    // Graph cannot make an existing group role-assignable, or stop it being one.
    r.immutable = vec!["isAssignableToRole".into()];
    r
}

/// A live group. `members`/`owners` are the object ids read separately,
/// when they were read.
pub fn normalize(raw: &Value, members: Option<&[String]>, owners: Option<&[String]>) -> LiveObject {
    let mut props = live_props(raw, &["members", "owners"]);
    // Graph returns null for groups that are not role-assignable.
    if props.get("isAssignableToRole").is_none_or(Value::is_null) {
        props.insert("isAssignableToRole".into(), json!(false));
    }
    if let Some(m) = members {
        props.insert("members".into(), Value::Array(m.iter().map(reference).collect()));
    }
    if let Some(o) = owners {
        props.insert("owners".into(), Value::Array(o.iter().map(reference).collect()));
    }
    LiveObject {
        kind: Kind::Group,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "mailNickname").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// The POST /groups body (members and owners are added afterwards, one
/// `$ref` each, because they may not be readable yet).
pub fn create_body(r: &DesiredResource) -> Value {
    let mut body = serde_json::Map::new();
    for (k, v) in &r.props {
        if k != "members" && k != "owners" && k != crate::licensing::PROP && !v.is_null() {
            body.insert(k.clone(), v.clone());
        }
    }
    Value::Object(body)
}

/// Groups, with members and owners for the groups whose membership is
/// managed: those whose natural key or ledger id a desired group with
/// members/owners names (with `everything`, of every group: export).
/// The groups listing, with the properties tenantctl compares.
fn list_path() -> String {
    format!("/groups?$select={SELECT}&$top=999")
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { Ok(read_groups(cx).await?.into()) })
}

/// Groups; with `everything`, members and owners of every assigned group (export).
async fn read_groups(cx: &ReadCx<'_>) -> Result<Vec<LiveObject>, GraphError> {
    let (desired, ledger, everything) = (cx.desired, cx.ledger, cx.everything);
    let v1 = cx.client.v1();
    let raw = v1.list_all(&list_path()).await?;
    let mut wants_members = BTreeSet::new();
    let mut wants_owners = BTreeSet::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::Group) {
        let ids: Vec<String> = ledger.id(&r.address).map(str::to_string).into_iter().collect();
        let keys = std::iter::once(r.natural_key.clone()).chain(ids);
        for k in keys {
            if r.props.contains_key("members") {
                wants_members.insert(k.clone());
            }
            // A group under adoption review (the ledger records no approved
            // state of it) that declares no owners: its live owners are read
            // too, so the review shows them (hostile run 27, finding 3).
            if r.props.contains_key("owners") || under_adoption_review(r, ledger) {
                wants_owners.insert(k);
            }
        }
    }
    let mut requests = Vec::new();
    for g in &raw {
        let id = str_field(g, "id");
        let key = str_field(g, "mailNickname").to_lowercase();
        let dynamic = g.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
        if !dynamic && (everything || wants_members.contains(&key) || wants_members.contains(id)) {
            requests.push(("members", id.to_string()));
        }
        if everything || wants_owners.contains(&key) || wants_owners.contains(id) {
            requests.push(("owners", id.to_string()));
        }
    }
    let related = read_related(&v1, &requests).await?;
    Ok(raw
        .iter()
        .map(|g| {
            let id = str_field(g, "id").to_string();
            normalize(
                g,
                related.get(&("members", id.clone())).map(Vec::as_slice),
                related.get(&("owners", id)).map(Vec::as_slice),
            )
        })
        .collect())
}

/// Whether desired group `r` would be adopted as the tenant has it: the
/// ledger records no approved state of it (no entry, or one without
/// `applied`), so a live group matched by its natural key (or the entry's
/// id) is reviewed whole ([`engine::governance::unproven_record`]).
pub(crate) fn under_adoption_review(r: &engine::DesiredResource, ledger: &engine::Ledger) -> bool {
    ledger.resources.get(&r.address).is_none_or(|e| e.applied.is_none())
}

/// `/groups/{id}/{rel}` for each request, 20 per `$batch`, following any
/// further pages of large groups. Returns the member/owner ids.
async fn read_related(
    client: &GraphClient,
    requests: &[(&'static str, String)],
) -> Result<BTreeMap<(&'static str, String), Vec<String>>, GraphError> {
    let batch: Vec<BatchRequest> = requests
        .iter()
        .map(|(rel, id)| BatchRequest::get(format!("/groups/{id}/{rel}?$select=id&$top=999")))
        .collect();
    let responses = client.batch(batch).await?;
    let mut out = BTreeMap::new();
    for ((rel, id), response) in requests.iter().zip(responses) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut ids: Vec<String> = ids_of(&body);
        if let Some(next) = body.get("@odata.nextLink").and_then(Value::as_str) {
            for item in client.list_all(next).await? {
                if let Some(i) = item.get("id").and_then(Value::as_str) {
                    ids.push(i.to_string());
                }
            }
        }
        ids.sort();
        out.insert((*rel, id.clone()), ids);
    }
    Ok(out)
}

fn ids_of(body: &Value) -> Vec<String> {
    body.get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}


/// POST the group with up to 20 members and owners bound in it
/// (`members@odata.bind`, `owners@odata.bind`); once the group is readable
/// the rest are added one `$ref` each, concurrently (so they share `$batch`
/// calls when batching is on).
fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let (members, owners) = (w.ref_ids(r.props.get("members"))?, w.ref_ids(r.props.get("owners"))?);
        let prefix = format!("{}/v1.0/directoryObjects/", w.client().cloud().graph_base());
        let (body, rest) = crate::apply_batch::group_create_body(create_body(r), &members, &owners, &prefix);
        let (created, rest) = match w.execute_raw(&api, GraphRequest::new(Method::POST, w.base()).json(body)).await {
            Ok(resp) => (resp, rest),
            // A bound object not readable yet (replication): nothing was
            // created; create plain, then add each (waiting for it).
            Err(e) if e.is_not_found() && !(members.is_empty() && owners.is_empty()) => {
                let resp = w.execute_raw(&api, GraphRequest::new(Method::POST, w.base()).json(create_body(r))).await.map_err(fail)?;
                (resp, crate::apply_batch::all_refs(&members, &owners))
            }
            Err(e) => return Err(fail(e)),
        };
        let id = crate::apply::id_of(&created.body.unwrap_or(Value::Null))?;
        w.created(&id)?;
        w.wait(&api, &format!("/groups/{id}")).await?;
        add_refs(w, &api, &id, &rest).await?;
        crate::licensing::assign(w, Kind::Group, &id).await?;
        Ok(id)
    })
}

/// Adds members and owners concurrently (so they share `$batch` calls).
async fn add_refs(w: &Writer<'_>, api: &GraphClient, group: &str, refs: &[crate::apply_batch::PendingRef]) -> Result<(), ExecError> {
    let results = futures::future::join_all(refs.iter().map(|(rel, m)| add_ref(w, api, group, rel, m))).await;
    results.into_iter().collect()
}

/// PATCH the touched properties; members and owners added and removed
/// against the live set.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let fields = w.touched();
        let body = w.scalar(&["members", "owners", crate::licensing::PROP])?;
        if !body.is_empty() {
            w.send(&api, Method::PATCH, &format!("/groups/{id}"), Some(json!(body))).await?;
        }
        if fields.contains(crate::licensing::PROP) {
            crate::licensing::assign(w, Kind::Group, id).await?;
        }
        for rel in ["members", "owners"] {
            if !fields.contains(rel) {
                continue;
            }
            let want = w.ref_ids(r.props.get(rel))?;
            let have = related(&api, id, rel).await?;
            let add: Vec<crate::apply_batch::PendingRef> = want.difference(&have).map(|m| (rel, m.clone())).collect();
            add_refs(w, &api, id, &add).await?;
            let removals = have.difference(&want).map(|m| w.try_execute(&api, GraphRequest::new(Method::DELETE, format!("/groups/{id}/{rel}/{m}/$ref"))));
            for result in futures::future::join_all(removals).await {
                match result {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        Ok(())
    })
}

async fn related(api: &GraphClient, id: &str, rel: &str) -> Result<BTreeSet<String>, ExecError> {
    let list = api.list_all(&format!("/groups/{id}/{rel}?$select=id&$top=999")).await.map_err(fail)?;
    Ok(list.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect())
}

/// Add a member or owner; "already a member" is success, and a member
/// not yet replicated is waited for once.
async fn add_ref(w: &Writer<'_>, api: &GraphClient, group: &str, rel: &str, member: &str) -> Result<(), ExecError> {
    let body = json!({"@odata.id": format!("{}/v1.0/directoryObjects/{member}", w.client().cloud().graph_base())});
    let path = format!("/groups/{group}/{rel}/$ref");
    for attempt in 0..2 {
        // "Already a member" counts as success, so a repeat is harmless.
        match w.try_execute(api, GraphRequest::new(Method::POST, path.clone()).json(body.clone()).safe_to_retry(true)).await {
            Ok(_) => return Ok(()),
            Err(e) if e.to_string().contains("already exist") => return Ok(()),
            Err(e) if e.is_not_found() && attempt == 0 => {
                w.wait(api, &format!("/directoryObjects/{member}")).await?;
                w.wait(api, &format!("/groups/{group}")).await?;
            }
            Err(e) => return Err(fail(e)),
        }
    }
    Err(err(format!("{path}: {member} never became readable")))
}

/// Plain security groups only (Microsoft 365 and mail-enabled groups are
/// not a kind here). Every group gets its key before any table is built,
/// since groups may be members of groups. Membership or owners naming an
/// object that is not exported leave them unmanaged.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut groups = Vec::new();
    for o in objects {
        let security = b(&o.props, "securityEnabled") == Some(true) && b(&o.props, "mailEnabled") != Some(true);
        let unified = o.props.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "Unified"));
        if !security || unified {
            cx.warn(format!("group {} ({}) is not a security group: not exported", o.display_name, o.id));
            continue;
        }
        groups.push((cx.key(Kind::Group, &o.display_name, &o.id), o));
    }
    let mut t = BTreeMap::new();
    for (a, o) in &groups {
        let p = &o.props;
        let dynamic = p.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
        let refs = |field: &str, allowed: &[Kind]| -> Option<Vec<String>> {
            let list = p.get(field)?.as_array()?;
            let mut out = Vec::new();
            for r in list {
                let addr = cx.keys.key_of(as_reference(r)?).filter(|a| allowed.contains(&a.kind))?;
                out.push(addr.key.clone());
            }
            out.sort();
            Some(out)
        };
        // A group an access package grants gets its members from the
        // package's assignments: left undeclared (`access_package_groups`).
        let granted = cx.keys.package_groups.contains(&o.id);
        let members = if dynamic || granted { None } else { refs("members", &[Kind::User, Kind::Guest, Kind::Group]) };
        let owners = refs("owners", &[Kind::User]);
        for (field, got) in [("members", &members), ("owners", &owners)] {
            if p.contains_key(field) && got.is_none() && !((dynamic || granted) && field == "members") {
                cx.warn(format!("{a}: {field} include objects that are not exported; {field} are left unmanaged"));
            }
        }
        t.insert(
            a.key.clone(),
            Group {
                display_name: o.display_name.clone(),
                mail_nickname: s(p, "mailNickname").unwrap_or_else(|| a.key.clone()),
                description: s(p, "description"),
                members,
                owners,
                membership_rule: if dynamic { s(p, "membershipRule") } else { None },
                membership_rule_processing_state: if dynamic {
                    match s(p, "membershipRuleProcessingState").as_deref() {
                        Some("Paused") => Some(schema::kinds::group::ProcessingState::Paused),
                        _ => None,
                    }
                } else {
                    None
                },
                is_assignable_to_role: b(p, "isAssignableToRole").unwrap_or(false),
                protected: false,
                licenses: crate::licensing::export_list(p.get(crate::licensing::PROP)),
            },
        );
        cx.record(a.clone(), &o.id);
    }
    cx.table(Kind::Group, "", &t);
}
