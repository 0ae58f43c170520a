//! Intune device categories (beta `deviceManagement/deviceCategories`):
//! a display name is required and unique; no assignments. PATCH goes
//! through the generic Intune rules (`@odata.type` required and matching).

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let name = match body.get("displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_lowercase(),
        _ => return Err(bad("Property 'displayName' is required.")),
    };
    if t.coll(spec.coll).into_iter().flat_map(|m| m.values()).any(|r| r.data.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().to_lowercase() == name)) {
        return Err(bad("A device category with this name already exists."));
    }
    crate::scope_tags::check_ids(t, &body)?;
    body.remove("id");
    body.entry("@odata.type").or_insert(json!("#microsoft.graph.deviceCategory"));
    body.entry("description").or_insert(json!(""));
    body.entry("roleScopeTagIds").or_insert(json!(["0"]));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// The sandbox collection of `device_category`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: false,
    create: Some(crate::device_categories::create),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceCategories", seg),
    // No assignments: no `/assign`, nothing to expand.
    expand: crate::resources::no_expand,
    sub: crate::resources::no_sub,
    entity: Some("deviceCategory"),
    ..crate::resources::intune("deviceCategories", &["deviceManagement", "deviceCategories"], "deviceManagement/deviceCategories")
};
