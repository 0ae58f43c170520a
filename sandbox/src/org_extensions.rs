//! Open extensions on the organization object
//! (`/organization/{id}/extensions[/{name}]`), as Graph serves them: an
//! `openTypeExtension` named by `extensionName`, with any custom
//! properties. Unknown organization or extension: 404; a second create of
//! the same name: 409; a third open extension: 400 (Graph allows two open
//! extensions per app on one directory object, extensibility overview,
//! "Limits"; the sandbox serves one app, so every extension it holds is
//! that app's); permissions are checked by `permissions::check`
//! from the generated rules (Organization.Read.All to read,
//! Organization.ReadWrite.All to write).

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::store::{ChangeKind, Record, Tenant};

/// Where the sandbox keeps them (by extension name, lower case).
const COLL: &str = "organizationExtensions";

const TYPE: &str = "#microsoft.graph.openTypeExtension";

fn not_found(name: &str) -> GraphError {
    GraphError::new(404, "ResourceNotFound", format!("Extension '{name}' was not found."))
}

/// Open extensions one app may keep on one directory object.
const MAX_PER_APP: usize = 2;

/// Graph keeps at most 2 KB of data in an open extension on a directory
/// object (the extension's definition included); more is refused.
const MAX_BYTES: usize = 2048;

fn too_large(body: &Map<String, Value>) -> Option<GraphError> {
    let size = Value::Object(body.clone()).to_string().len();
    (size > MAX_BYTES).then(|| GraphError::bad_request(format!("An open extension on a directory object holds at most {MAX_BYTES} bytes; this one would hold {size}.")))
}

fn render(rec: &Record) -> Value {
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(TYPE));
    out.extend(rec.data.clone());
    Value::Object(out)
}

/// `GET|POST /organization/{org}/extensions`, `GET|PATCH|DELETE
/// /organization/{org}/extensions/{name}`.
pub fn handle(t: &mut Tenant, ctx: &Ctx, req: &GReq, org: &str, rest: &[&str]) -> Result<GResp, GraphError> {
    if !org.eq_ignore_ascii_case(&t.info.tenant_id) {
        return Err(GraphError::not_found(org));
    }
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            let value: Vec<Value> = t.coll(COLL).into_iter().flat_map(|c| c.values()).map(render).collect();
            Ok(GResp::json(200, json!({"@odata.context": ctx.context(&format!("organization('{org}')/extensions")), "value": value})))
        }
        ("POST", []) => {
            let body = body_object(req)?;
            if let Some(e) = too_large(&body) {
                return Err(e);
            }
            let ty = body.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
            if ty.trim_start_matches('#') != "microsoft.graph.openTypeExtension" {
                return Err(GraphError::bad_request("An open extension needs \"@odata.type\": \"microsoft.graph.openTypeExtension\"."));
            }
            let name = body.get("extensionName").and_then(Value::as_str).filter(|n| !n.trim().is_empty()).map(str::to_string).ok_or_else(|| GraphError::bad_request("extensionName is required."))?;
            let key = name.to_lowercase();
            if t.get(COLL, &key).is_some() {
                return Err(GraphError::new(409, "NameAlreadyExists", format!("An extension named '{name}' already exists.")));
            }
            let held = t.coll(COLL).map(|c| c.len()).unwrap_or(0);
            if held >= MAX_PER_APP {
                return Err(GraphError::bad_request(format!("An application can have at most {MAX_PER_APP} open extensions on a directory object; this organization already has {held}.")));
            }
            let mut data: Map<String, Value> = body.into_iter().filter(|(k, _)| !k.starts_with('@') && k != "id").collect();
            data.insert("id".into(), json!(name));
            t.put(COLL, &key, Record { data, nav: Map::new(), created_ms: ctx.now_ms });
            let rec = t.get(COLL, &key).cloned().ok_or_else(|| not_found(&name))?;
            Ok(GResp::json(201, render(&rec)))
        }
        ("GET", [name]) => t.get(COLL, &name.to_lowercase()).map(|r| GResp::json(200, render(r))).ok_or_else(|| not_found(name)),
        ("PATCH", [name]) => {
            // As Graph documents the update of an open extension on a
            // directory object (v1.0 opentypeextension-update): the body
            // carries "@odata.type" and "extensionName" (required), and its
            // data replaces the extension's (properties left out are gone).
            let body = body_object(req)?;
            if let Some(e) = too_large(&body) {
                return Err(e);
            }
            let ty = body.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
            if ty.trim_start_matches('#') != "microsoft.graph.openTypeExtension" {
                return Err(GraphError::bad_request("Updating an open extension needs \"@odata.type\": \"microsoft.graph.openTypeExtension\"."));
            }
            let named = body.get("extensionName").and_then(Value::as_str).unwrap_or_default().to_string();
            if named.trim().is_empty() {
                return Err(GraphError::bad_request("extensionName is required."));
            }
            if !named.eq_ignore_ascii_case(name) {
                return Err(GraphError::bad_request(format!("extensionName '{named}' does not name the extension '{name}'.")));
            }
            let key = name.to_lowercase();
            let changed = t.update(COLL, &key, |r| {
                let id = r.data.get("id").cloned().unwrap_or_else(|| json!(named));
                r.data = body.into_iter().filter(|(k, _)| !k.starts_with('@') && k != "id").collect();
                r.data.insert("id".into(), id);
            });
            if !changed {
                return Err(not_found(name));
            }
            Ok(GResp::empty(204))
        }
        ("DELETE", [name]) => t.remove(COLL, &name.to_lowercase(), ChangeKind::HardDelete).map(|_| GResp::empty(204)).ok_or_else(|| not_found(name)),
        (_, [] | [_]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.last().copied().unwrap_or("extensions"))),
    }
}
