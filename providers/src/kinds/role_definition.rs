//! Custom directory roles (`/roleManagement/directory/roleDefinitions`,
//! v1.0, `isBuiltIn = false`), matched by display name. Their permissions
//! are one `rolePermissions` entry's `allowedResourceActions`, compared as
//! a set. Built-in roles are never objects of this kind.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::RoleDefinition;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{resource, str_field};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::RoleDefinition,
    collection: "/roleManagement/directory/roleDefinitions",
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.role_definition { m.insert(desired(k, &d.value)); }
    },
    export_file: "role-definitions.toml",
    export_title: "Custom directory roles",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &[],
};

const ACTIONS: &str = "allowedResourceActions";

pub fn desired(key: &str, r: &RoleDefinition) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(r.display_name));
    if let Some(d) = &r.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("isEnabled".into(), json!(r.is_enabled));
    p.insert(ACTIONS.into(), json!(r.allowed_resource_actions));
    resource(Address::new(Kind::RoleDefinition, key), r.display_name.to_lowercase(), r.display_name.clone(), p)
}

/// Whether a live role definition is a tenant's own.
pub fn is_custom(raw: &Value) -> bool {
    raw.get("isBuiltIn").and_then(Value::as_bool) == Some(false)
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut p = Props::new();
    p.insert("displayName".into(), raw.get("displayName").cloned().unwrap_or(Value::Null));
    p.insert("description".into(), raw.get("description").cloned().unwrap_or(Value::Null));
    p.insert("isEnabled".into(), raw.get("isEnabled").cloned().unwrap_or(Value::Null));
    let actions: BTreeSet<&str> = raw
        .get("rolePermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|rp| rp.get(ACTIONS).and_then(Value::as_array).into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    p.insert(ACTIONS.into(), json!(actions));
    LiveObject {
        kind: Kind::RoleDefinition,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// Graph's body for `props` (the actions as one `rolePermissions` entry).
pub fn body(props: &Props) -> Value {
    let mut m: serde_json::Map<String, Value> = props.iter().filter(|(k, _)| k.as_str() != ACTIONS).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(a) = props.get(ACTIONS) {
        m.insert("rolePermissions".into(), json!([{ ACTIONS: a }]));
    }
    Value::Object(m)
}

pub fn export_one(o: &LiveObject) -> RoleDefinition {
    let p = &o.props;
    RoleDefinition {
        display_name: o.display_name.clone(),
        description: p.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
        is_enabled: p.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
        allowed_resource_actions: p.get(ACTIONS).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
    }
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let a = cx.key(Kind::RoleDefinition, &o.display_name, &o.id);
        t.insert(a.key.clone(), export_one(o));
        cx.record(a, &o.id);
    }
    cx.table(Kind::RoleDefinition, "", &t);
}

/// The tenant's custom roles (built-in ones are left out).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().list_all(PROVIDER.collection).await?;
        Ok(raw.iter().filter(|r| is_custom(r)).map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move { w.post_new(w.base(), body(&w.desired()?.props)).await })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let touched = w.scalar(&[])?;
        let seg = schema::object_id::path_segment(id);
        w.send(&w.api(), Method::PATCH, &format!("{}/{seg}", w.base()), Some(body(&touched))).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_one_permission_entry_compared_as_a_set() {
        let r = RoleDefinition { display_name: "Helpdesk".into(), description: None, is_enabled: true, allowed_resource_actions: vec!["microsoft.directory/users/password/update".into(), "microsoft.directory/users/basic/update".into()] };
        let d = desired("helpdesk", &r);
        let b = body(&d.props);
        assert_eq!(b["rolePermissions"][0][ACTIONS].as_array().map(Vec::len), Some(2));
        let mut live = b.clone();
        live["id"] = json!("x");
        live["isBuiltIn"] = json!(false);
        live["rolePermissions"][0][ACTIONS] = json!(["microsoft.directory/users/basic/update", "microsoft.directory/users/password/update"]);
        assert!(is_custom(&live));
        assert!(engine::diff::diff_props(&d.props, &normalize(&live).props).is_empty());
    }
}
