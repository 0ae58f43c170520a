//! Intune role assignments (beta `deviceManagement/roleAssignments`,
//! deviceAndAppManagementRoleAssignment): member groups, scope groups or
//! all devices / all users (`scopeType`, `resourceScopes`), scope tags,
//! and the role, bound on create (`roleDefinition@odata.bind`) and read
//! through `$expand=roleDefinition`. The role is compared by name
//! (`roleName`, a declared custom role's display name or a built-in
//! role's); a different role replaces the assignment.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject};
use schema::kinds::intune_role_definition::built_in_role;
use schema::kinds::IntuneRoleAssignment;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{ref_to, resource};
use crate::apply::{delete_plain, err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::IntuneRoleAssignment,
    collection: "/deviceManagement/roleAssignments",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.intune_role_assignment { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "intune-role-assignments.toml",
    export_title: "Intune role assignments",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![LIST.to_string()],
    after_post: &["members"],
};

pub const ODATA: &str = "#microsoft.graph.deviceAndAppManagementRoleAssignment";
const LIST: &str = "/deviceManagement/roleAssignments?$expand=roleDefinition&$top=999";
/// Where a create finds the role: a declared role's address, or a
/// built-in role's name.
const ROLE_REF: &str = "roleDefinition";
const BUILT_IN: &str = "builtInRole";

pub fn desired(key: &str, p: &IntuneRoleAssignment, state: &DesiredState) -> DesiredResource {
    let groups = |list: &[String]| Value::Array(list.iter().map(|g| ref_to(state, g, &[Kind::Group])).collect());
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(ODATA));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    let (role_name, custom) = match built_in_role(&p.role) {
        Some(b) => (b.to_string(), None),
        None => match schema::kinds::intune_role_assignment::declared_role(state, &p.role) {
            Some(a) => (state.intune_role_definition.get(a.key.as_str()).map_or(p.role.clone(), |d| d.value.display_name.clone()), Some(a)),
            None => (p.role.clone(), None),
        },
    };
    props.insert("roleName".into(), json!(role_name));
    props.insert("members".into(), groups(&p.members));
    props.insert("resourceScopes".into(), groups(&p.scope_members));
    props.insert("scopeType".into(), json!(p.scope_type()));
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    let mut r = resource(Address::new(Kind::IntuneRoleAssignment, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    match custom {
        Some(a) => {
            r.create_only.insert(ROLE_REF.into(), reference(a.to_string()));
            if !r.depends_on.contains(&a) {
                r.depends_on.push(a);
            }
        }
        None => {
            r.create_only.insert(BUILT_IN.into(), json!(role_name));
        }
    }
    r.immutable = vec!["@odata.type".into(), "roleName".into()];
    // Ended by tenantctl when past (engine::plan), recorded in the ledger.
    r.expires = p.expires;
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = super::device_configuration::normalize_policy(raw, Kind::IntuneRoleAssignment);
    o.props.remove("assignments");
    let refs = |k: &str| Value::Array(raw.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(reference).collect());
    o.props.insert("members".into(), refs("members"));
    o.props.insert("resourceScopes".into(), refs("resourceScopes"));
    for p in ["scopeMembers", "roleDefinition", "roleDefinition@odata.context"] {
        o.props.remove(p);
    }
    if let Some(name) = raw.pointer("/roleDefinition/displayName").and_then(Value::as_str) {
        o.props.insert("roleName".into(), json!(name));
    }
    o
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { Ok(cx.client.beta().list_all(LIST).await?.iter().map(normalize).collect::<Vec<_>>().into()) })
}

/// The ids of a list of group references.
fn ids(w: &Writer<'_>, v: Option<&Value>) -> Result<Vec<String>, ExecError> {
    Ok(w.ref_ids(v)?.into_iter().collect())
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let role_id = match (r.create_only.get(ROLE_REF).and_then(as_reference), r.create_only.get(BUILT_IN).and_then(Value::as_str)) {
            (Some(a), _) => w.ref_id(a).ok_or_else(|| err(format!("{a} has no object id yet")))?,
            (None, Some(name)) => {
                let roles = w.api().list_all(super::intune_role_definition::PROVIDER.collection).await.map_err(fail)?;
                super::intune_role_definition::role_id(&roles, name).map_err(err)?
            }
            (None, None) => return Err(err(format!("{}: the plan names no role", w.address()))),
        };
        let mut body = super::scope_tag::write_body(r, &["roleName", "members", "resourceScopes"], &|a| w.ref_id(a)).map_err(err)?;
        body["members"] = json!(ids(w, r.props.get("members"))?);
        body["resourceScopes"] = json!(ids(w, r.props.get("resourceScopes"))?);
        body["roleDefinition@odata.bind"] = json!(format!("{}/beta/deviceManagement/roleDefinitions('{role_id}')", w.client().cloud().graph_base()));
        let base = w.base();
        let id = w.post_new(base, body).await?;
        w.wait(&w.api(), &format!("{base}/{id}")).await?;
        Ok(id)
    })
}

/// PATCH what changed, member and scope groups as ids.
fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let mut body = w.scalar(&["roleName"])?;
        super::scope_tag::resolve(&mut body, &|a| w.ref_id(a)).map_err(err)?;
        for k in ["members", "resourceScopes"] {
            if body.contains_key(k) {
                body.insert(k.into(), json!(ids(w, r.props.get(k))?));
            }
        }
        if !body.is_empty() {
            body.insert("@odata.type".into(), json!(ODATA));
            w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(Value::Object(body.into_iter().collect()))).await?;
        }
        Ok(())
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let result = (|| -> Result<IntuneRoleAssignment, String> {
            let groups = |k: &str| -> Result<Vec<String>, String> {
                let mut out = Vec::new();
                for g in o.props.get(k).and_then(Value::as_array).into_iter().flatten() {
                    let id = as_reference(g).unwrap_or_default();
                    match cx.keys.key_of(id) {
                        Some(a) if a.kind == Kind::Group => out.push(a.key.clone()),
                        _ => return Err(format!("{k} names group {id}, which is not exported")),
                    }
                }
                out.sort();
                Ok(out)
            };
            let role_name = o.props.get("roleName").and_then(Value::as_str).ok_or("its role could not be read")?;
            // By name: a built-in role's, or an exported custom role's.
            let role = built_in_role(role_name).unwrap_or(role_name).to_string();
            let scope_type = o.props.get("scopeType").and_then(Value::as_str).unwrap_or("resourceScope");
            Ok(IntuneRoleAssignment {
                display_name: o.display_name.clone(),
                description: super::platform_script::description(o),
                role,
                members: groups("members")?,
                scope_members: groups("resourceScopes")?,
                all_devices: matches!(scope_type, "allDevices" | "allDevicesAndLicensedUsers"),
                all_users: matches!(scope_type, "allLicensedUsers" | "allDevicesAndLicensedUsers"),
                scope_tags: super::scope_tag::tags_of(cx, &o.props)?,
                expires: None,
            })
        })();
        match result {
            Ok(v) => {
                let a = cx.key(Kind::IntuneRoleAssignment, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("intune_role_assignment {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::IntuneRoleAssignment, "", &t);
}
