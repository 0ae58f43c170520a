//! Every collection `[graph_object]` may name (graph-metadata's
//! `collections`, found in Graph's metadata) that no [`crate::resources`]
//! line serves, served from the metadata alone, so a new collection needs
//! no sandbox code: bodies are checked by [`crate::validate_write`] against
//! the collection's entity type (unknown properties, read-only ones and
//! values of the wrong type refused, `@odata.type` required where the
//! entity is abstract), Intune's rules apply under `/deviceManagement` and
//! `/deviceAppManagement` (`@odata.type` and `displayName` on create,
//! `@odata.type` on PATCH), and a collection whose entity has an `assign`
//! action serves it (the whole set replaced, targets checked) with its
//! `assignments` navigation and `$expand=assignments`.

use std::sync::OnceLock;

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::{Expand, Query};
use crate::resources::{self, Family, Spec, INTUNE_MAX, INTUNE_PAGE};
use crate::store::{Record, Tenant};
use graph_metadata::metadata;
use serde_json::{json, Map, Value};

/// One generated collection: its spec and its `assign` action.
struct Generic {
    spec: Spec,
    /// (parameter, assignment entity) of `assign`.
    assign: Option<(&'static str, &'static str)>,
    /// The same as the action's parameter list `validate_write` takes.
    params: &'static [(&'static str, &'static str)],
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn any_id(_: &Tenant, seg: &str) -> Option<String> {
    Some(seg.to_string())
}

fn all() -> &'static [Generic] {
    static ALL: OnceLock<Vec<Generic>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = Vec::new();
        for c in metadata().collections() {
            let segs: Vec<&'static str> = c.path.split('/').filter(|s| !s.is_empty()).map(|s| leak(s.to_string())).collect();
            // Collections the resource table serves keep their own rules.
            if resources::all_specs().any(|s| s.path == segs.as_slice()) {
                continue;
            }
            let intune = matches!(segs.first(), Some(&"deviceManagement" | &"deviceAppManagement"));
            let family = if intune {
                Family::Intune
            } else if segs.first() == Some(&"policies") || segs.first() == Some(&"identity") {
                Family::Other
            } else {
                Family::Directory
            };
            let assign = c.assign.as_ref().map(|a| (leak(a.param.clone()), leak(a.assignment.clone())));
            let params: &'static [(&'static str, &'static str)] = match assign {
                Some(p) => Box::leak(vec![p].into_boxed_slice()),
                None => &[],
            };
            let path: &'static [&'static str] = Box::leak(segs.clone().into_boxed_slice());
            let spec = Spec {
                coll: leak(segs.join(".")),
                path,
                beta_only: c.beta_only,
                family,
                context: leak(segs.join("/")),
                default_page: if intune { INTUNE_PAGE } else { resources::DIR_PAGE },
                max_top: if intune { INTUNE_MAX } else { resources::DIR_MAX },
                default_select: None,
                create: Some(create),
                patch: Some(patch),
                put: false,
                patch_status: 204,
                delete: Some(resources::delete_hard),
                lookup: any_id,
                visible: resources::always_visible,
                expand,
                sub,
                entity: Some(leak(c.entity.clone())),
                assignment_type: assign.map(|(_, a)| leak(format!("#microsoft.graph.{a}"))),
                delta: false,
                writes: &[],
            };
            out.push(Generic { spec, assign, params });
        }
        out
    })
}

fn generic(spec: &Spec) -> Option<&'static Generic> {
    all().iter().find(|g| g.spec.coll == spec.coll)
}

/// The generated collection `segs` starts with (longest path first).
pub fn find(segs: &[&str]) -> Option<&'static Spec> {
    all()
        .iter()
        .map(|g| &g.spec)
        .filter(|s| segs.len() >= s.path.len() && s.path.iter().zip(segs).all(|(a, b)| a.eq_ignore_ascii_case(b)))
        .max_by_key(|s| s.path.len())
}

/// A generated collection by its store name (`deviceAppManagement.mobileAppConfigurations`).
pub fn by_coll(coll: &str) -> Option<&'static Spec> {
    all().iter().map(|g| &g.spec).find(|s| s.coll == coll)
}

/// What `validate_write` checks a write to a generated collection against:
/// the entity for POST to the collection and PATCH of a member, the
/// action's parameters for `assign`.
pub use crate::resources::WriteBody;

pub fn write_body(segs: &[&str], method: &str) -> Option<WriteBody> {
    let g = all().iter().find(|g| find(segs).is_some_and(|s| s.coll == g.spec.coll))?;
    let n = g.spec.path.len();
    match (method, segs.len()) {
        ("POST", l) if l == n => g.spec.entity.map(WriteBody::Entity),
        ("PATCH" | "PUT", l) if l == n + 1 => g.spec.entity.map(WriteBody::Entity),
        ("POST", l) if l == n + 2 && segs[n + 1] == "assign" && g.assign.is_some() => Some(WriteBody::Action(g.params)),
        _ => None,
    }
}

fn bad(spec: &Spec, msg: &str) -> GraphError {
    match spec.family {
        Family::Intune => GraphError::intune(400, "BadRequest", msg),
        _ => GraphError::bad_request(msg.to_string()),
    }
}

fn odata_type(body: &Map<String, Value>) -> Option<&str> {
    body.get("@odata.type").and_then(Value::as_str)
}

/// Create: Intune's rules under Intune (`crate::intune::create`); else an
/// abstract entity set needs `@odata.type` (validate_write has checked it
/// names the entity or a derived type).
fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    if spec.family == Family::Intune {
        return crate::intune::create(t, ctx, spec, body);
    }
    let entity = graph_metadata::full_name(spec.entity.unwrap_or_default());
    let abstract_ = metadata().type_def(&entity).is_some_and(|d| d.r#abstract);
    if odata_type(&body).is_none() {
        if abstract_ {
            return Err(bad(spec, &format!("A type name must be specified: '{entity}' is abstract.")));
        }
        body.insert("@odata.type".into(), json!(format!("#{entity}")));
    }
    body.remove("id");
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// PATCH: Intune's rules under Intune; else a merge that keeps the type.
fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    if spec.family == Family::Intune {
        return crate::intune::patch(t, ctx, spec, id, body);
    }
    let current = t.get(spec.coll, id).and_then(|r| r.data.get("@odata.type")).and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(ty) = odata_type(&body) {
        if !ty.eq_ignore_ascii_case(&current) {
            return Err(bad(spec, &format!("The type '{ty}' does not match the entity's type '{current}'.")));
        }
    }
    body.remove("@odata.type");
    resources::patch_merge(t, ctx, spec, id, body)
}

fn assignments(rec: &Record) -> Vec<Value> {
    rec.nav.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn expand(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    if e.name == "assignments" && generic(spec).is_some_and(|g| g.assign.is_some()) {
        out.insert("assignments@odata.context".into(), json!(ctx.context(&format!("{}('{id}')/assignments", spec.context))));
        out.insert("assignments".into(), Value::Array(assignments(rec)));
        return Ok(());
    }
    resources::no_expand(t, ctx, spec, id, rec, e, out)
}

/// `POST …/{id}/assign` (replaces the whole set) and `GET …/{id}/assignments`.
fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let Some((param, assignment)) = generic(spec).and_then(|g| g.assign) else {
        return resources::no_sub(t, ctx, spec, req, id, rest, q);
    };
    let rec = t.get(spec.coll, id).cloned().ok_or_else(|| graph::not_found(spec, id))?;
    match (req.method.as_str(), rest) {
        ("POST", ["assign"]) => {
            let body = body_object(req)?;
            let list = body.get(param).and_then(Value::as_array).cloned().ok_or_else(|| bad(spec, &format!("Request body must contain '{param}'.")))?;
            let mut seen = std::collections::BTreeSet::new();
            let mut stored = Vec::new();
            for a in &list {
                let target = a.get("target").cloned().ok_or_else(|| bad(spec, "Assignment must specify 'target'."))?;
                let key = crate::intune::target_key(&target)?;
                let ty = target.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
                if !seen.insert((key.clone(), ty)) {
                    continue;
                }
                let mut target = target.as_object().cloned().unwrap_or_default();
                target.entry("deviceAndAppManagementAssignmentFilterId").or_insert(Value::Null);
                target.entry("deviceAndAppManagementAssignmentFilterType").or_insert(json!("none"));
                stored.push(json!({"@odata.type": format!("#microsoft.graph.{assignment}"), "id": format!("{id}_{key}"), "target": target}));
            }
            t.update(spec.coll, id, |r| {
                r.nav.insert("assignments".into(), Value::Array(stored.clone()));
            });
            Ok(GResp::json(200, json!({"@odata.context": ctx.context(&format!("Collection(microsoft.graph.{assignment})")), "value": stored})))
        }
        ("GET", ["assignments"]) => {
            let base = format!("{}/{}/{id}", ctx.root(), spec.path.join("/"));
            let items = assignments(&rec).into_iter().filter_map(|v| v.as_object().cloned()).collect();
            graph::list_values(ctx, &format!("{}('{id}')/assignments", spec.context), &format!("{base}/assignments"), items, q, INTUNE_PAGE, INTUNE_MAX)
        }
        (_, ["assign" | "assignments", ..]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}


/// The sandbox collection of `graph_object` (the collection the sandbox serves for it), registered in `crate::resources::KIND_SPECS`.
/// A collection no kind models, for `graph_object`: the generic Intune
/// rules (type and name required, metadata-checked bodies).
pub static TERMS_SPEC: crate::resources::Spec = crate::resources::Spec {
    lookup: |t, seg| crate::resources::lookup_id(t, "termsAndConditions", seg),
    expand: crate::resources::no_expand,
    sub: crate::resources::no_sub,
    entity: Some("termsAndConditions"),
    ..crate::resources::intune("termsAndConditions", &["deviceManagement", "termsAndConditions"], "deviceManagement/termsAndConditions")
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collection_of_the_metadata_is_served_once() {
        // The resource table's own collections are not generated again.
        assert!(find(&["deviceManagement", "deviceConfigurations"]).is_none());
        let s = find(&["policies", "tokenLifetimePolicies", "x"]).expect("token lifetime policies served");
        assert_eq!((s.coll, s.entity, s.family), ("policies.tokenLifetimePolicies", Some("tokenLifetimePolicy"), Family::Other));
        let s = find(&["deviceAppManagement", "mobileAppConfigurations"]).expect("app configurations served");
        assert_eq!(s.assignment_type, Some("#microsoft.graph.managedDeviceMobileAppConfigurationAssignment"));
        assert!(matches!(write_body(&["deviceAppManagement", "mobileAppConfigurations", "1", "assign"], "POST"), Some(WriteBody::Action([("assignments", _)]))));
        assert!(find(&["deviceManagement", "nothingLikeThis"]).is_none());
    }
}
