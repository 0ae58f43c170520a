//! Custom Intune roles (beta `deviceManagement/roleDefinitions`,
//! deviceAndAppManagementRoleDefinition). Their permissions are compared
//! as one set of allowed operations (`rolePermissions`, normalized to one
//! permission with one resource action, sorted); Intune's built-in roles
//! (`isBuiltIn`) are neither read as objects of this kind nor ever
//! written: assignments name them (`super::intune_role_assignment`).

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredResource, LiveObject};
use schema::kinds::IntuneRoleDefinition;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{resource, str_field};
use crate::apply::{delete_plain, err, Writer};
use crate::export::ExportCx;
use crate::graph::GraphError;
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::IntuneRoleDefinition,
    collection: "/deviceManagement/roleDefinitions",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.intune_role_definition { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "intune-roles.toml",
    export_title: "Intune custom roles",
    read: Read::Own(read),
    create,
    update: |w, id| Box::pin(async move { super::intune_common::patch_policy(w, id, &[]).await }),
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![LIST.to_string()],
    after_post: &[],
};

pub const ODATA: &str = "#microsoft.graph.deviceAndAppManagementRoleDefinition";
const LIST: &str = "/deviceManagement/roleDefinitions?$top=999";

/// Permissions as Graph takes them: one permission, one resource action.
pub fn role_permissions(actions: &BTreeSet<String>) -> Value {
    json!([{ "resourceActions": [{ "allowedResourceActions": actions, "notAllowedResourceActions": [] }] }])
}

pub fn desired(key: &str, p: &IntuneRoleDefinition, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(ODATA));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    props.insert("rolePermissions".into(), role_permissions(&p.allowed_actions.iter().cloned().collect()));
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    let mut r = resource(Address::new(Kind::IntuneRoleDefinition, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    r.immutable = vec!["@odata.type".into()];
    r
}

/// The operations a live role allows (every permission's resource
/// actions), and whether it denies any.
fn allowed(raw: &Value) -> (BTreeSet<String>, bool) {
    let mut out = BTreeSet::new();
    let mut denies = false;
    for p in raw.get("rolePermissions").and_then(Value::as_array).into_iter().flatten() {
        for ra in p.get("resourceActions").and_then(Value::as_array).into_iter().flatten() {
            out.extend(ra.get("allowedResourceActions").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
            denies |= ra.get("notAllowedResourceActions").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
        }
        // v1.0's rolePermission.actions, when beta returns it too.
        out.extend(p.get("actions").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
    }
    (out, denies)
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = super::device_configuration::normalize_policy(raw, Kind::IntuneRoleDefinition);
    o.props.remove("assignments");
    for p in ["permissions", "isBuiltIn", "isBuiltInRoleDefinition", "roleAssignments@odata.context"] {
        o.props.remove(p);
    }
    let (actions, denies) = allowed(raw);
    let mut perms = role_permissions(&actions);
    if denies {
        // A denial set in Intune is kept, so it differs from a declared role.
        perms = raw.get("rolePermissions").cloned().unwrap_or(perms);
    }
    o.props.insert("rolePermissions".into(), perms);
    o
}

fn is_built_in(raw: &Value) -> bool {
    raw.get("isBuiltIn").and_then(Value::as_bool) == Some(true) || raw.get("isBuiltInRoleDefinition").and_then(Value::as_bool) == Some(true)
}

/// Every custom role (built-in ones are skipped).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.beta().list_all(LIST).await?;
        Ok(raw.iter().filter(|r| !is_built_in(r)).map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let body = super::scope_tag::write_body(w.desired()?, &[], &|a| w.ref_id(a)).map_err(err)?;
        let base = w.base();
        let id = w.post_new(base, body).await?;
        w.wait(&w.api(), &format!("{base}/{id}")).await?;
        Ok(id)
    })
}

/// The id of the role named `name` among `roles` (a role definitions
/// listing), built-in or custom; two of one name is an error.
pub fn role_id(roles: &[Value], name: &str) -> Result<String, String> {
    let found: Vec<&str> = roles.iter().filter(|r| str_field(r, "displayName").eq_ignore_ascii_case(name.trim())).map(|r| str_field(r, "id")).collect();
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!("the tenant has no Intune role named `{name}`")),
        many => Err(format!("{} Intune roles are named `{name}` ({})", many.len(), many.join(", "))),
    }
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let result = (|| -> Result<IntuneRoleDefinition, String> {
            let tags = super::scope_tag::tags_of(cx, &o.props)?;
            let perms = o.props.get("rolePermissions").cloned().unwrap_or(Value::Null);
            let (actions, denies) = allowed(&json!({ "rolePermissions": perms }));
            if denies {
                return Err("it denies operations (notAllowedResourceActions), which is not modelled".into());
            }
            Ok(IntuneRoleDefinition {
                display_name: o.display_name.clone(),
                description: super::platform_script::description(o),
                allowed_actions: actions.into_iter().collect(),
                scope_tags: tags,
            })
        })();
        match result {
            Ok(v) => {
                let a = cx.key(Kind::IntuneRoleDefinition, &o.display_name, &o.id);
                t.insert(a.key.clone(), v);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("intune_role_definition {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::IntuneRoleDefinition, "", &t);
}
