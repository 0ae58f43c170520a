//! Intune apps (`deviceAppManagement/mobileApps`): a create needs its
//! `@odata.type`, `displayName` and `publisher`; a Store app
//! (`winGetApp`) needs `packageIdentifier` and
//! `installExperience.runAsAccount` (Graph: "Required at creation time,
//! cannot be modified on existing objects"), and Intune fills the rest
//! from the Store (description when none is given, icon, manifest hash);
//! Microsoft 365 Apps (`officeSuiteApp`) need at least one product.
//! Assignments go through `/assign` (`mobileAppAssignments`, each with its
//! `intent`) in `crate::intune`.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

const WINGET: &str = "#microsoft.graph.winGetApp";
const OFFICE: &str = "#microsoft.graph.officeSuiteApp";

fn text<'a>(body: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    body.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let ty = body.get("@odata.type").and_then(Value::as_str).map(str::to_string).ok_or_else(|| bad("A type name must be specified: '@odata.type' is required for this entity set."))?;
    for required in ["displayName", "publisher"] {
        if text(&body, required).is_none() {
            return Err(bad(&format!("Property '{required}' is required.")));
        }
    }
    match ty.as_str() {
        WINGET => {
            let package = text(&body, "packageIdentifier").ok_or_else(|| bad("Property 'packageIdentifier' is required."))?.to_string();
            let run_as = body.get("installExperience").and_then(|e| e.get("runAsAccount")).and_then(Value::as_str);
            if !matches!(run_as, Some("system" | "user")) {
                return Err(bad("Property 'installExperience.runAsAccount' is required: system or user."));
            }
            // What Intune fetches from the Store.
            body.entry("description").or_insert_with(|| json!(format!("{package} from the Microsoft Store.")));
            body.insert("manifestHash".into(), json!(hex::encode(package.as_bytes())));
            body.insert("largeIcon".into(), json!({"@odata.type": "#microsoft.graph.mimeContent", "type": "image/png", "value": "iVBORw0KGgo="}));
        }
        OFFICE => {
            if body.get("productIds").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                return Err(bad("Property 'productIds' must name at least one product."));
            }
            fill_excluded_apps(&mut body);
            body.entry("updateChannel").or_insert(json!("current"));
            body.entry("officePlatformArchitecture").or_insert(json!("x64"));
            body.entry("installProgressDisplayLevel").or_insert(json!("none"));
            body.entry("autoAcceptEula").or_insert(json!(false));
        }
        _ => {}
    }
    crate::scope_tags::check_ids(t, &body)?;
    body.remove("id");
    body.entry("description").or_insert(json!(""));
    body.entry("roleScopeTagIds").or_insert(json!(["0"]));
    body.insert("isAssigned".into(), json!(false));
    body.insert("publishingState".into(), json!("published"));
    body.insert("uploadState".into(), json!(1));
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// excludedApps is a complex value of non-nullable booleans: the apps a
/// body leaves out of it are `false`, and Graph answers with all of them.
fn fill_excluded_apps(body: &mut Map<String, Value>) {
    let Some(Value::Object(given)) = body.get_mut("excludedApps") else { return };
    for k in graph_metadata::metadata().properties("excludedApps", true).into_keys().filter(|k| !k.starts_with('@')) {
        given.entry(k.to_string()).or_insert(json!(false));
    }
}

/// The generic Intune PATCH, but a Store app's package and install
/// context cannot change.
pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    fill_excluded_apps(&mut body);
    if let Some(existing) = t.get(spec.coll, id).map(|r| r.data.clone()) {
        if existing.get("@odata.type").and_then(Value::as_str) == Some(WINGET) {
            for k in ["packageIdentifier", "installExperience"] {
                if body.get(k).is_some_and(|v| Some(v) != existing.get(k)) {
                    return Err(bad(&format!("Property '{k}' cannot be modified on existing objects.")));
                }
            }
        }
    }
    crate::intune::patch(t, ctx, spec, id, body)
}

/// The sandbox collection of `winget_app`, `m365_apps` and `app_assignment`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::mobile_apps::create),
    patch: Some(crate::mobile_apps::patch),
    lookup: |t, seg| crate::resources::lookup_id(t, "mobileApps", seg),
    entity: Some("mobileApp"),
    assignment_type: Some("#microsoft.graph.mobileAppAssignment"),
    writes: &[crate::resources::assign_rule!("mobileAppAssignments", "mobileAppAssignment")],
    ..crate::resources::intune("mobileApps", &["deviceAppManagement", "mobileApps"], "deviceAppManagement/mobileApps")
};
