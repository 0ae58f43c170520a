//! The Graph request model and router: a transport-independent request
//! ([`GReq`]) is resolved against the resource table ([`crate::resources`])
//! and answered by the generic collection handlers or a resource's own hooks.
//! HTTP requests and `$batch` items both come through [`dispatch`].

use crate::error::GraphError;
use crate::odata::{self, Cursor, Query};
use crate::resources::{self, Family, Spec};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

/// API version prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    Beta,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1.0",
            Version::Beta => "beta",
        }
    }
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "v1.0" => Some(Version::V1),
            "beta" => Some(Version::Beta),
            _ => None,
        }
    }
}

/// Per-request context.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub version: Version,
    pub now_ms: i64,
    /// Replication lag in ms (0 = off).
    pub lag_ms: u64,
    /// A new custom role's PIM policy lags this long (`Faults::pim_policy_lag_ms`).
    pub pim_policy_lag_ms: u64,
    /// Nested expansions on the assignment requests' listing are refused
    /// (`Faults::refuse_nested_request_expand`).
    pub refuse_nested_request_expand: bool,
    /// `ConsistencyLevel: eventual` was sent.
    pub eventual: bool,
    /// `Prefer: odata.maxpagesize=N` was sent (delta honours it).
    pub max_page_size: Option<usize>,
    /// The app's granted permissions ([`crate::permissions`]).
    pub granted: std::sync::Arc<Vec<String>>,
    /// The tenant's licence tier.
    pub licences: crate::licences::Licences,
}

impl Ctx {
    pub fn root(&self) -> String {
        format!("{}/{}", self.base, self.version.as_str())
    }
    pub fn context(&self, tail: &str) -> String {
        format!("{}/$metadata#{tail}", self.root())
    }
    /// Whether an object created at `created_ms` is still invisible.
    pub fn lagged(&self, rec: &Record) -> bool {
        self.lag_ms > 0 && self.now_ms.saturating_sub(rec.created_ms) < i64::try_from(self.lag_ms).unwrap_or(i64::MAX)
    }
    pub fn now_iso(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.now_ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// A Graph request independent of transport.
#[derive(Debug, Clone)]
pub struct GReq {
    pub method: String,
    /// Decoded path segments after the version.
    pub path: Vec<String>,
    /// Raw query string.
    pub query: String,
    pub body: Option<Value>,
}

/// A Graph response independent of transport.
#[derive(Debug, Clone)]
pub struct GResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Plain-text body (`/$count`).
    pub text: Option<String>,
}

impl GResp {
    pub fn json(status: u16, body: Value) -> GResp {
        GResp { status, headers: Vec::new(), body: Some(body), text: None }
    }
    pub fn empty(status: u16) -> GResp {
        GResp { status, headers: Vec::new(), body: None, text: None }
    }
    pub fn text(text: String) -> GResp {
        GResp { status: 200, headers: vec![("Content-Type".into(), "text/plain".into())], body: None, text: Some(text) }
    }
}

/// Decodes `%XX` escapes in one path segment.
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a path (without query) into decoded, non-empty segments.
pub fn split_path(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

/// Takes the JSON body or fails like Graph does.
pub fn body_object(req: &GReq) -> Result<Map<String, Value>, GraphError> {
    match &req.body {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) | None => Err(GraphError::new(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// Answers one Graph request against the tenant.
pub fn dispatch(t: &mut Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    // What Entra ends by time has ended by now (`entitlement_delivery`).
    crate::entitlement_delivery::expire_due(t, ctx.now_ms);
    crate::permissions::check(ctx, req)?;
    crate::validate_write::check(ctx, req)?;
    let q = Query::parse(&req.query)?;
    let segs: Vec<&str> = req.path.iter().map(String::as_str).collect();
    let first = segs.first().copied().unwrap_or("");
    // Resources outside the generic table.
    match segs.as_slice() {
        [] => return Ok(GResp::json(200, json!({"@odata.context": ctx.context(""), "value": []}))),
        ["invitations"] => return crate::directory::invitations(t, ctx, req),
        ["directory", "deletedItems", rest @ ..] => return crate::directory::deleted_items(t, ctx, req, rest, &q),
        ["directoryObjects", id] => return crate::directory::directory_object(t, ctx, req, id, &q),
        ["organization"] => return crate::directory::organization(t, ctx, req),
        ["organization", org, "extensions", rest @ ..] => return crate::org_extensions::handle(t, ctx, req, org, rest),
        ["domains"] => return crate::directory::domains(t, ctx, req),
        ["deviceManagement", "configurationSettings", rest @ ..] => return crate::settings_catalog::serve(ctx, req, rest),
        ["deviceManagement", "configurationPolicyTemplates", rest @ ..] => return crate::configuration_templates::serve(ctx, req, rest, &q),
        ["policies", "authenticationMethodsPolicy", rest @ ..] => return crate::auth_methods_policy::handle(t, ctx, req, rest),
        ["policies", coll @ ("roleManagementPolicies" | "roleManagementPolicyAssignments"), rest @ ..] => return crate::role_policies::handle(t, ctx, req, coll, rest),
        ["me", ..] => return Err(GraphError::new(400, "BadRequest", "/me request is only valid with delegated authentication flow.")),
        ["subscribedSkus"] => return crate::subscribed_skus::list(t, ctx, req),
        ["policies", "authorizationPolicy"] => return crate::tenant_policies::authorization_policy(t, ctx, req),
        ["policies", "crossTenantAccessPolicy", rest @ ..] => return crate::tenant_policies::cross_tenant_access(t, ctx, req, rest),
        _ => {}
    }
    let Some(spec) = resources::find(&segs) else {
        let bad = segs.iter().find(|s| !resources::is_known_segment(s)).copied().unwrap_or(first);
        return Err(GraphError::no_segment(bad));
    };
    if spec.beta_only && ctx.version != Version::Beta {
        return Err(GraphError::no_segment(spec.path.last().copied().unwrap_or(first)));
    }
    crate::licences::check(ctx, spec)?;
    let rest = &segs[spec.path.len()..];
    match rest {
        [] => match req.method.as_str() {
            "GET" => {
                crate::update_profiles::check_query(spec, &q)?;
                list(t, ctx, spec, &q)
            }
            "POST" => {
                let create = spec.create.ok_or_else(GraphError::method_not_allowed)?;
                let body = body_object(req)?;
                let id = create(t, ctx, spec, body)?;
                let rec = t.get(spec.coll, &id).cloned().ok_or_else(|| GraphError::not_found(&id))?;
                let mut out = render(t, ctx, spec, &id, &rec, &Query::default())?;
                out.insert("@odata.context".into(), json!(ctx.context(&format!("{}/$entity", spec.context))));
                move_context_first(&mut out);
                Ok(GResp::json(201, Value::Object(out)))
            }
            _ => Err(GraphError::method_not_allowed()),
        },
        ["delta"] | ["delta()"] if req.method == "GET" && spec.delta => crate::delta::delta(t, ctx, spec, &q),
        ["$count"] if req.method == "GET" => {
            if spec.family == Family::Directory && !ctx.eventual {
                return Err(GraphError::bad_request("$count is not currently supported."));
            }
            let n = t.coll(spec.coll).map_or(0, |c| c.values().filter(|r| visible(ctx, spec, r)).count());
            Ok(GResp::text(n.to_string()))
        }
        [id, sub @ ..] => {
            let id = (spec.lookup)(t, id).ok_or_else(|| not_found(spec, id))?;
            let rec = t.get(spec.coll, &id).cloned().ok_or_else(|| not_found(spec, &id))?;
            if ctx.lagged(&rec) || !(spec.visible)(&rec, ctx) {
                return Err(not_found(spec, &id));
            }
            if !sub.is_empty() {
                return (spec.sub)(t, ctx, spec, req, &id, sub, &q);
            }
            match req.method.as_str() {
                "GET" => {
                    let mut out = render(t, ctx, spec, &id, &rec, &q)?;
                    out.insert("@odata.context".into(), json!(ctx.context(&format!("{}/$entity", spec.context))));
                    move_context_first(&mut out);
                    Ok(GResp::json(200, Value::Object(out)))
                }
                "PATCH" | "PUT" => {
                    if req.method == "PUT" && !spec.put {
                        return Err(GraphError::method_not_allowed());
                    }
                    let patch = spec.patch.ok_or_else(GraphError::method_not_allowed)?;
                    let mut body = body_object(req)?;
                    // PUT replaces the object: scope tags it omits go back
                    // to Intune's built-in tag.
                    if req.method == "PUT" && spec.family == Family::Intune {
                        body.entry("roleScopeTagIds").or_insert(json!(["0"]));
                    }
                    patch(t, ctx, spec, &id, body)?;
                    if spec.patch_status == 204 {
                        return Ok(GResp::empty(204));
                    }
                    let rec = t.get(spec.coll, &id).cloned().ok_or_else(|| not_found(spec, &id))?;
                    let mut out = render(t, ctx, spec, &id, &rec, &Query::default())?;
                    out.insert("@odata.context".into(), json!(ctx.context(&format!("{}/$entity", spec.context))));
                    move_context_first(&mut out);
                    Ok(GResp::json(spec.patch_status, Value::Object(out)))
                }
                "DELETE" => {
                    let delete = spec.delete.ok_or_else(GraphError::method_not_allowed)?;
                    delete(t, ctx, spec, &id)?;
                    Ok(GResp::empty(204))
                }
                _ => Err(GraphError::method_not_allowed()),
            }
        }
    }
}

/// 404 in the family's style.
pub fn not_found(spec: &Spec, id: &str) -> GraphError {
    match spec.family {
        Family::Intune => GraphError::intune(404, "ResourceNotFound", &format!("Resource not found: {} with key '{id}'", spec.coll)),
        _ => GraphError::not_found(id),
    }
}

pub fn move_context_first(out: &mut Map<String, Value>) {
    if let Some(c) = out.remove("@odata.context") {
        let rest = std::mem::take(out);
        out.insert("@odata.context".into(), c);
        out.extend(rest);
    }
}

/// Whether a stored record is visible to reads now.
pub fn visible(ctx: &Ctx, spec: &Spec, rec: &Record) -> bool {
    !ctx.lagged(rec) && (spec.visible)(rec, ctx)
}

/// Produces the JSON of one object for a response.
pub fn render(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, q: &Query) -> Result<Map<String, Value>, GraphError> {
    let mut out = rec.data.clone();
    if spec.coll == "deviceConfigurations" {
        crate::oma::present(ctx, id, &mut out);
    }
    if let (Some(default), None) = (spec.default_select, &q.select) {
        let props: Vec<String> = default.iter().map(|s| s.to_string()).collect();
        out = odata::select(out, &props, &[]);
    }
    let mut expanded: Vec<&str> = Vec::new();
    for e in &q.expand {
        (spec.expand)(t, ctx, spec, id, rec, e, &mut out)?;
        expanded.push(e.name.as_str());
    }
    if let Some(sel) = &q.select {
        out = odata::select(out, sel, &expanded);
    }
    Ok(out)
}

/// Checks `$top` against the collection's maximum.
pub fn page_size(spec: &Spec, q: &Query) -> Result<usize, GraphError> {
    match q.top {
        Some(n) if n > spec.max_top => Err(match spec.family {
            Family::Intune => GraphError::intune(400, "BadRequest", &format!("Invalid page size specified: '{n}'. Must be between 1 and {} inclusive.", spec.max_top)),
            _ => GraphError::bad_request(format!("Invalid page size specified: '{n}'. Must be between 1 and {} inclusive.", spec.max_top)),
        }),
        Some(n) => Ok(n),
        None => Ok(spec.default_page),
    }
}

/// Validates the query options a directory collection accepts.
pub fn check_directory_query(spec: &Spec, ctx: &Ctx, q: &Query) -> Result<(), GraphError> {
    if spec.family != Family::Directory {
        return Ok(());
    }
    if q.skip.is_some() {
        return Err(GraphError::bad_request("'$skip' is not supported by the service."));
    }
    if q.count && !ctx.eventual {
        return Err(GraphError::bad_request("$count is not currently supported."));
    }
    let advanced = ctx.eventual && q.count;
    if (q.filter.as_ref().is_some_and(|f| f.needs_advanced()) || q.orderby.is_some() && q.filter.is_some()) && !advanced {
        return Err(GraphError::new(400, "Request_UnsupportedQuery", "Unsupported Query."));
    }
    Ok(())
}

/// GET on a collection: filter, order, page, select, expand.
pub fn list(t: &Tenant, ctx: &Ctx, spec: &Spec, q: &Query) -> Result<GResp, GraphError> {
    crate::query_props::check(spec.coll, q, matches!(ctx.version, Version::Beta))?;
    check_directory_query(spec, ctx, q)?;
    crate::entitlement_query::check_list(spec.coll, q, ctx)?;
    let size = page_size(spec, q)?;
    let cursor = q.skiptoken.as_deref().map(odata::decode_cursor).transpose()?;
    let empty = std::collections::BTreeMap::new();
    let coll = t.coll(spec.coll).unwrap_or(&empty);
    let keep = |r: &Record| visible(ctx, spec, r) && q.filter.as_ref().is_none_or(|f| crate::entitlement_query::matches(t, spec.coll, f, r));
    let mut page: Vec<(&String, &Record)> = Vec::with_capacity(size.min(1000));
    let mut next: Option<Cursor> = None;
    let indexed = q.orderby.is_none() && q.skip.is_none() && !matches!(cursor, Some(Cursor::Offset(_)));
    if indexed {
        let iter: Box<dyn Iterator<Item = (&String, &Record)>> = match &cursor {
            Some(Cursor::After(after)) => Box::new(coll.range::<String, _>((std::ops::Bound::Excluded(after.clone()), std::ops::Bound::Unbounded))),
            _ => Box::new(coll.iter()),
        };
        for (id, r) in iter.filter(|(_, r)| keep(r)) {
            if page.len() == size {
                next = page.last().map(|(id, _)| Cursor::After((*id).clone()));
                break;
            }
            page.push((id, r));
        }
    } else {
        let mut all: Vec<(&String, &Record)> = coll.iter().filter(|(_, r)| keep(r)).collect();
        if let Some((prop, desc)) = &q.orderby {
            all.sort_by(|a, b| {
                let av = a.1.data.get(prop).map(sort_key).unwrap_or_default();
                let bv = b.1.data.get(prop).map(sort_key).unwrap_or_default();
                let o = av.cmp(&bv).then_with(|| a.0.cmp(b.0));
                if *desc {
                    o.reverse()
                } else {
                    o
                }
            });
        }
        let start = match cursor {
            Some(Cursor::Offset(n)) => n,
            _ => q.skip.unwrap_or(0),
        };
        page = all.iter().skip(start).take(size).cloned().collect();
        if start + size < all.len() {
            next = Some(Cursor::Offset(start + size));
        }
    }
    let mut value = Vec::with_capacity(page.len());
    for (id, r) in page {
        let mut object = render(t, ctx, spec, id, r, q)?;
        crate::scripts::hide_content(spec, &mut object);
        value.push(Value::Object(object));
    }
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(ctx.context(spec.context)));
    if q.count && q.skiptoken.is_none() {
        let n = coll.values().filter(|r| keep(r)).count();
        body.insert("@odata.count".into(), json!(n));
    }
    if let Some(c) = next {
        let base = format!("{}/{}", ctx.root(), spec.path.join("/"));
        body.insert("@odata.nextLink".into(), json!(odata::link(&base, &q.raw, &[("$skiptoken", odata::encode_cursor(&c))])));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(GResp::json(200, Value::Object(body)))
}

fn sort_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_lowercase(),
        Value::Number(n) => format!("{:020.6}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

/// Pages an already materialised list (sub-collections such as members).
pub fn list_values(ctx: &Ctx, context: &str, link_base: &str, items: Vec<Map<String, Value>>, q: &Query, default_page: usize, max_top: usize) -> Result<GResp, GraphError> {
    if let Some(n) = q.top {
        if n > max_top {
            return Err(GraphError::bad_request(format!("Invalid page size specified: '{n}'. Must be between 1 and {max_top} inclusive.")));
        }
    }
    let size = q.top.unwrap_or(default_page);
    let mut items: Vec<Map<String, Value>> = match &q.filter {
        Some(f) => items.into_iter().filter(|o| f.matches(o)).collect(),
        None => items,
    };
    let total = items.len();
    let start = match q.skiptoken.as_deref().map(odata::decode_cursor).transpose()? {
        Some(Cursor::Offset(n)) => n,
        Some(Cursor::After(_)) => return Err(GraphError::bad_request("Invalid skip token.")),
        None => q.skip.unwrap_or(0),
    };
    let page: Vec<Value> = items
        .drain(..)
        .skip(start)
        .take(size)
        .map(|o| match &q.select {
            Some(sel) => Value::Object(odata::select(o, sel, &[])),
            None => Value::Object(o),
        })
        .collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(ctx.context(context)));
    if q.count && q.skiptoken.is_none() {
        body.insert("@odata.count".into(), json!(total));
    }
    if start + size < total {
        body.insert("@odata.nextLink".into(), json!(odata::link(link_base, &q.raw, &[("$skiptoken", odata::encode_cursor(&Cursor::Offset(start + size)))])));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(GResp::json(200, Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("%24ref"), "$ref");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(split_path("/v1.0//users/%24count/"), vec!["v1.0", "users", "$count"]);
    }
}
