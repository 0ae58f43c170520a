//! Cross-tenant access (`/policies/crossTenantAccessPolicy`, v1.0): the
//! default configuration (`/default`, one per tenant: matched by the id
//! `default`, updated, never created or deleted, never unmanaged drift)
//! and partner configurations (`/partners`, keyed by the partner's tenant
//! id: created, updated and deleted; an undeclared partner is unmanaged
//! drift). Only declared fields are compared and written; a complex field
//! is merged into its live value on PATCH.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::CrossTenantAccess;
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read};
use super::resource;
use crate::apply::{err, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

const DEFAULT_PATH: &str = "/policies/crossTenantAccessPolicy/default";
/// The default configuration's id (and natural key).
pub const DEFAULT: &str = "default";

pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::CrossTenantAccess,
    collection: "/policies/crossTenantAccessPolicy/partners",
    api: Api::V1,
    natural_key: None,
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.cross_tenant_access { m.insert(desired(k, &d.value)); }
    },
    export_file: "cross-tenant-access.toml",
    export_title: "Cross-tenant access (default and partners)",
    read: Read::Own(read),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: || vec![DEFAULT_PATH.to_string(), PROVIDER.collection.to_string()],
    after_post: &[],
};

fn name(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("partner {t}"),
        None => "default configuration".into(),
    }
}

pub fn desired(key: &str, c: &CrossTenantAccess) -> DesiredResource {
    let mut props: Props = crate::tenant_settings::to_graph(c).into_iter().collect();
    let tenant = c.tenant_id.as_ref().map(|t| t.to_lowercase());
    if let Some(t) = &tenant {
        props.insert("tenantId".into(), json!(t));
    }
    resource(Address::new(Kind::CrossTenantAccess, key), tenant.clone().unwrap_or_else(|| DEFAULT.into()), name(tenant.as_deref()), props)
}

pub fn normalize(raw: &Value, default: bool) -> LiveObject {
    let mut props: Props = crate::tenant_settings::live(raw).into_iter().collect();
    let tenant = raw.get("tenantId").and_then(Value::as_str).map(str::to_lowercase);
    if default {
        props.remove("tenantId");
        // Every tenant has it: never "unmanaged" drift (`engine::drift`).
        props.insert("isBuiltIn".into(), json!(true));
    } else if let Some(t) = &tenant {
        props.insert("tenantId".into(), json!(t));
    }
    let id = if default { DEFAULT.to_string() } else { tenant.clone().unwrap_or_default() };
    LiveObject { kind: Kind::CrossTenantAccess, natural_key: id.clone(), id, display_name: name(if default { None } else { tenant.as_deref() }), props }
}

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let v1 = cx.client.v1();
        let default = v1.get_json(DEFAULT_PATH).await?;
        let partners = v1.list_all(PROVIDER.collection).await?;
        let mut out = vec![normalize(&default, true)];
        out.extend(partners.iter().map(|p| normalize(p, false)));
        Ok(out.into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let Some(tenant) = r.props.get("tenantId").and_then(Value::as_str).map(str::to_string) else {
            return Err(err(format!("{}: the default cross-tenant configuration exists in every tenant and is only updated; it was not read", w.address())));
        };
        let body: serde_json::Map<String, Value> = r.props.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        w.send(&w.api(), Method::POST, PROVIDER.collection, Some(Value::Object(body))).await?;
        Ok(tenant)
    })
}

fn path_of(id: &str) -> String {
    if id == DEFAULT {
        DEFAULT_PATH.to_string()
    } else {
        format!("{}/{}", PROVIDER.collection, schema::object_id::path_segment(id))
    }
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let path = path_of(id);
        let mut body = super::authorization_policy::patch_body(w, &path).await?;
        body.remove("tenantId");
        if !body.is_empty() {
            w.send(&w.api(), Method::PATCH, &path, Some(Value::Object(body))).await?;
        }
        Ok(())
    })
}

fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        if id == DEFAULT {
            return Err(err(format!("{}: the default cross-tenant configuration cannot be deleted; declare the settings wanted instead", w.address())));
        }
        match w.try_execute(&w.api(), crate::graph::GraphRequest::new(Method::DELETE, path_of(id))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(crate::apply::fail(e)),
        }
    })
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let props: serde_json::Map<String, Value> = o.props.iter().filter(|(k, _)| *k != "isBuiltIn").map(|(k, v)| (k.clone(), v.clone())).collect();
        match crate::tenant_settings::export::<CrossTenantAccess>(&props) {
            Ok(c) => {
                let a = if o.id == DEFAULT { Address::new(Kind::CrossTenantAccess, DEFAULT) } else { cx.key(Kind::CrossTenantAccess, &o.display_name, &o.id) };
                cx.record(a.clone(), &o.id);
                t.insert(a.key.clone(), c);
            }
            Err(e) => cx.warn(format!("cross-tenant access {}: {e}: not exported", o.display_name)),
        }
    }
    cx.table(Kind::CrossTenantAccess, "", &t);
}
