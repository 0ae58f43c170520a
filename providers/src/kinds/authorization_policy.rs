//! The authorization policy (`/policies/authorizationPolicy`, v1.0): the
//! tenant's guest settings (who may invite, the guest role) and members'
//! default permissions. One per tenant: matched by its fixed id, updated
//! with PATCH of the declared fields (a complex field merged into its live
//! value, so undeclared sub-fields are kept), never created or deleted.
//! Never reported as unmanaged (every tenant has it).

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::AuthorizationPolicy;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::resource;
use crate::apply::{err, fail, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// The policy's id (and natural key).
pub const ID: &str = "authorizationPolicy";

pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AuthorizationPolicy,
    collection: "/policies/authorizationPolicy",
    api: Api::V1,
    natural_key: None,
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.authorization_policy { m.insert(desired(k, &d.value)); }
    },
    export_file: "guest-settings.toml",
    export_title: "Guest settings (authorization policy)",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &[],
};

pub fn desired(key: &str, p: &AuthorizationPolicy) -> DesiredResource {
    let props: Props = crate::tenant_settings::to_graph(p).into_iter().collect();
    resource(Address::new(Kind::AuthorizationPolicy, key), ID.to_lowercase(), "Authorization policy".into(), props)
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut props: Props = crate::tenant_settings::live(raw).into_iter().collect();
    // Every tenant has it: never "unmanaged" drift (`engine::drift`).
    props.insert("isBuiltIn".into(), json!(true));
    LiveObject { kind: Kind::AuthorizationPolicy, id: ID.into(), natural_key: ID.to_lowercase(), display_name: "Authorization policy".into(), props }
}

/// The one policy. Older responses wrapped it in a collection (`value`).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().get_json(PROVIDER.collection).await?;
        let raw = raw.get("value").and_then(Value::as_array).and_then(|v| v.first()).cloned().unwrap_or(raw);
        Ok(vec![normalize(&raw)].into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move { Err(err(format!("{}: the authorization policy exists in every tenant and is only updated; it was not read", w.address()))) })
}

fn delete<'a>(w: &'a Writer<'a>, _: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move { Err(err(format!("{}: the authorization policy cannot be deleted; declare the settings wanted instead", w.address()))) })
}

/// The PATCH body: the touched fields; a complex one merged into its live
/// value, so sub-fields desired state does not declare are sent back as
/// they are.
pub(crate) async fn patch_body(w: &Writer<'_>, live_path: &str) -> Result<serde_json::Map<String, Value>, ExecError> {
    let mut body = w.scalar(&[])?;
    if body.values().any(Value::is_object) {
        let live = w.client().v1().get_json(live_path).await.map_err(fail)?;
        for (k, v) in body.iter_mut() {
            if let (Value::Object(want), Some(Value::Object(have))) = (&*v, live.get(k)) {
                let mut merged = have.clone();
                for (sk, sv) in want {
                    merged.insert(sk.clone(), sv.clone());
                }
                *v = Value::Object(merged);
            }
        }
    }
    Ok(body.into_iter().collect())
}

fn update<'a>(w: &'a Writer<'a>, _: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let body = patch_body(w, PROVIDER.collection).await?;
        if !body.is_empty() {
            w.send(&w.api(), Method::PATCH, PROVIDER.collection, Some(Value::Object(body))).await?;
        }
        Ok(())
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let props: serde_json::Map<String, Value> = o.props.iter().filter(|(k, _)| *k != "isBuiltIn").map(|(k, v)| (k.clone(), v.clone())).collect();
        match crate::tenant_settings::export::<AuthorizationPolicy>(&props) {
            Ok(p) => {
                let a = Address::new(Kind::AuthorizationPolicy, "tenant");
                cx.record(a, &o.id);
                t.insert("tenant".to_string(), p);
            }
            Err(e) => cx.warn(format!("authorization policy: {e}: not exported")),
        }
    }
    cx.table(Kind::AuthorizationPolicy, "", &t);
}
