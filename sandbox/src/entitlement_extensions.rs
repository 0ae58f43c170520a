//! A catalog's custom workflow extensions
//! (`/catalogs/{id}/customWorkflowExtensions`, v1.0: List, Create (POST,
//! 201), Get, Update (PUT), Delete, `EntitlementManagement.ReadWrite.All`
//! to write) and the custom extension stages of an assignment policy
//! (`customExtensionStageSettings`: a stage and the extension it calls).
//!
//! Strict as the v1.0 pages and CSDL: an extension must say by
//! `@odata.type` whether it is an `accessPackageAssignmentRequestWorkflowExtension`
//! or an `accessPackageAssignmentWorkflowExtension`, and needs a
//! `displayName`, a `logicAppTriggerEndpointConfiguration` and an
//! authentication (`azureAdPopTokenAuthentication` or
//! `azureAdTokenAuthentication`); `callbackConfiguration` is documented for
//! the request extension only. A stage must be one of
//! `accessPackageCustomExtensionStage`'s members and name an extension of
//! the policy's own catalog. The sandbox's wording of each refusal is its
//! own (the pages document none).

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::{self, DIR_MAX, DIR_PAGE};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

/// The catalog's navigation (held on its record).
pub const NAV: &str = "customWorkflowExtensions";
pub const REQUEST_TYPE: &str = "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension";
pub const ASSIGNMENT_TYPE: &str = "#microsoft.graph.accessPackageAssignmentWorkflowExtension";
const LOGIC_APP: &str = "#microsoft.graph.logicAppTriggerEndpointConfiguration";
const AUTHENTICATIONS: &[&str] = &["#microsoft.graph.azureAdPopTokenAuthentication", "#microsoft.graph.azureAdTokenAuthentication"];
/// `accessPackageCustomExtensionStage` (v1.0 CSDL), but its sentinel.
pub const STAGES: &[&str] = &[
    "assignmentRequestCreated",
    "assignmentRequestApproved",
    "assignmentRequestGranted",
    "assignmentRequestRemoved",
    "assignmentFourteenDaysBeforeExpiration",
    "assignmentOneDayBeforeExpiration",
];
/// What a client may write (the rest is the server's).
const WRITABLE: &[&str] = &["@odata.type", "displayName", "description", "endpointConfiguration", "authenticationConfiguration", "clientConfiguration", "callbackConfiguration"];

fn bad(m: impl Into<String>) -> GraphError {
    GraphError::bad_request(m)
}

/// The extensions of `catalog`.
pub fn of(t: &Tenant, catalog: &str) -> Vec<Map<String, Value>> {
    t.get(crate::entitlement::CATALOGS, catalog)
        .and_then(|r| r.nav.get(NAV))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_object().cloned())
        .collect()
}

fn set(t: &mut Tenant, catalog: &str, list: Vec<Map<String, Value>>) {
    t.update(crate::entitlement::CATALOGS, catalog, |r| {
        r.nav.insert(NAV.into(), Value::Array(list.into_iter().map(Value::Object).collect()));
    });
}

fn odata_type(v: Option<&Value>) -> Option<&str> {
    v.and_then(|v| v.get("@odata.type")).and_then(Value::as_str)
}

/// An extension's body checked; `kind` is its `@odata.type`.
fn check(body: &Map<String, Value>, kind: &str) -> Result<(), GraphError> {
    if let Some(k) = body.keys().find(|k| !WRITABLE.contains(&k.as_str())) {
        return Err(bad(format!("Property '{k}' cannot be set on a custom workflow extension.")));
    }
    if body.get("displayName").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return Err(bad("The displayName of a custom workflow extension is required."));
    }
    let endpoint = body.get("endpointConfiguration");
    if odata_type(endpoint) != Some(LOGIC_APP) {
        return Err(bad(format!("The endpointConfiguration must be a '{}'.", &LOGIC_APP[1..])));
    }
    for p in ["subscriptionId", "resourceGroupName", "logicAppWorkflowName"] {
        if endpoint.and_then(|e| e.get(p)).and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(bad(format!("The endpointConfiguration requires '{p}'.")));
        }
    }
    match odata_type(body.get("authenticationConfiguration")) {
        Some(a) if AUTHENTICATIONS.contains(&a) => {}
        _ => return Err(bad("The authenticationConfiguration must be an azureAdPopTokenAuthentication or an azureAdTokenAuthentication.")),
    }
    if kind == ASSIGNMENT_TYPE && body.get("callbackConfiguration").is_some_and(|c| !c.is_null()) {
        return Err(bad("A callbackConfiguration is supported for an accessPackageAssignmentRequestWorkflowExtension only."));
    }
    Ok(())
}

/// `/catalogs/{catalog}/customWorkflowExtensions...`.
pub fn handle(t: &mut Tenant, ctx: &Ctx, req: &GReq, catalog: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let mut list = of(t, catalog);
    let find = |list: &[Map<String, Value>], id: &str| list.iter().position(|e| e.get("id").and_then(Value::as_str).is_some_and(|i| i.eq_ignore_ascii_case(id)));
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            let base = format!("{}/identityGovernance/entitlementManagement/catalogs/{catalog}/{NAV}", ctx.root());
            graph::list_values(ctx, "customCalloutExtension", &base, list, q, DIR_PAGE, DIR_MAX)
        }
        ("POST", []) => {
            let body = body_object(req)?;
            let kind = match body.get("@odata.type").and_then(Value::as_str) {
                Some(k) if k == REQUEST_TYPE || k == ASSIGNMENT_TYPE => k.to_string(),
                _ => return Err(bad("An @odata.type of accessPackageAssignmentRequestWorkflowExtension or accessPackageAssignmentWorkflowExtension is required.")),
            };
            check(&body, &kind)?;
            let mut e = body;
            let now = ctx.now_iso();
            e.insert("id".into(), json!(resources::new_id()));
            e.insert("createdDateTime".into(), json!(now));
            e.insert("lastModifiedDateTime".into(), json!(now));
            e.entry("clientConfiguration").or_insert(Value::Null);
            list.push(e.clone());
            set(t, catalog, list);
            Ok(GResp::json(201, Value::Object(e)))
        }
        ("GET", [id]) => find(&list, id).map(|i| GResp::json(200, Value::Object(list[i].clone()))).ok_or_else(|| GraphError::not_found(id)),
        ("PUT", [id]) => {
            let i = find(&list, id).ok_or_else(|| GraphError::not_found(id))?;
            let body = body_object(req)?;
            let kind = list[i].get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
            if body.get("@odata.type").and_then(Value::as_str).is_some_and(|k| k != kind) {
                return Err(bad("The type of a custom workflow extension cannot be changed."));
            }
            let mut merged = list[i].clone();
            for (k, v) in body {
                merged.insert(k, v);
            }
            let writable: Map<String, Value> = merged.iter().filter(|(k, _)| WRITABLE.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            check(&writable, &kind)?;
            merged.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
            list[i] = merged;
            set(t, catalog, list);
            Ok(GResp::empty(204))
        }
        ("DELETE", [id]) => {
            let i = find(&list, id).ok_or_else(|| GraphError::not_found(id))?;
            if used_by(t, id) {
                return Err(bad(format!("The custom workflow extension '{id}' is used by an assignment policy's customExtensionStageSettings.")));
            }
            list.remove(i);
            set(t, catalog, list);
            Ok(GResp::empty(204))
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

/// Whether a policy's stage calls extension `id`.
fn used_by(t: &Tenant, id: &str) -> bool {
    t.coll(crate::entitlement::POLICIES).is_some_and(|c| {
        c.values().any(|p| {
            p.nav.get("customExtensionStageSettings").and_then(Value::as_array).into_iter().flatten().any(|s| extension_id(s).is_some_and(|e| e.eq_ignore_ascii_case(id)))
        })
    })
}

fn extension_id(s: &Value) -> Option<&str> {
    s.get("customExtension").and_then(|e| e.get("id")).and_then(Value::as_str)
}

/// The stages an extension of `kind` runs at: a request extension at the
/// request's stages, an assignment extension before the assignment
/// expires (the two resource pages' "use cases").
fn stage_fits(kind: &str, stage: &str) -> bool {
    let expiry = stage.ends_with("BeforeExpiration");
    if kind == ASSIGNMENT_TYPE {
        expiry
    } else {
        !expiry
    }
}

/// A policy's `customExtensionStageSettings` (of a package in `catalog`)
/// checked: a known stage, an extension of the same catalog whose type
/// runs at that stage (and is the type the setting says, when it says).
pub fn check_stages(t: &Tenant, catalog: &str, settings: Option<&Value>) -> Result<(), GraphError> {
    let Some(settings) = settings.filter(|v| !v.is_null()) else { return Ok(()) };
    let Some(list) = settings.as_array() else { return Err(bad("customExtensionStageSettings must be a collection.")) };
    let held = of(t, catalog);
    for s in list {
        let stage = s.get("stage").and_then(Value::as_str).unwrap_or_default();
        if !STAGES.contains(&stage) {
            return Err(bad(format!("The value '{stage}' is not a valid accessPackageCustomExtensionStage.")));
        }
        let Some(id) = extension_id(s) else { return Err(bad("Each custom extension stage setting must name its customExtension by id.")) };
        let Some(ext) = held.iter().find(|e| e.get("id").and_then(Value::as_str).is_some_and(|i| i.eq_ignore_ascii_case(id))) else {
            return Err(bad(format!("The custom extension '{id}' is not in the access package's catalog.")));
        };
        let kind = ext.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        if odata_type(s.get("customExtension")).is_some_and(|k| k != kind) {
            return Err(bad(format!("The custom extension '{id}' is not a '{}'.", odata_type(s.get("customExtension")).unwrap_or_default().trim_start_matches('#'))));
        }
        if !stage_fits(kind, stage) {
            return Err(bad(format!("The custom extension '{id}' ({}) cannot run at stage '{stage}'.", kind.trim_start_matches("#microsoft.graph."))));
        }
    }
    Ok(())
}

/// Settings as held: each an entity of its own (`id`, `stage`) bound to
/// its extension by id.
pub fn stored_stages(settings: &Value) -> Value {
    let list = settings.as_array().into_iter().flatten().map(|s| json!({"id": resources::new_id(), "stage": s.get("stage").cloned().unwrap_or(Value::Null), "customExtension": {"id": extension_id(s).unwrap_or_default()}}));
    Value::Array(list.collect())
}

/// Held settings as Graph returns them: `customExtension` is a navigation
/// property of each, present only when expanded
/// (`$expand=customExtensionStageSettings($expand=customExtension)`, as
/// the customExtensionStageSetting page reads them), then whole.
pub fn expanded_stages(t: &Tenant, catalog: &str, held: Option<&Value>, nested: &[crate::odata::Expand]) -> Result<Value, GraphError> {
    if let Some(other) = nested.iter().find(|e| e.name != "customExtension") {
        return Err(bad(format!("Could not find a property named '{}' on type 'microsoft.graph.customExtensionStageSetting'.", other.name)));
    }
    let exts = of(t, catalog);
    let list = held.and_then(Value::as_array).into_iter().flatten().map(|s| {
        let mut out = json!({"id": s.get("id").cloned().unwrap_or(Value::Null), "stage": s.get("stage").cloned().unwrap_or(Value::Null)});
        if !nested.is_empty() {
            let id = extension_id(s).unwrap_or_default();
            let ext = exts.iter().find(|e| e.get("id").and_then(Value::as_str).is_some_and(|i| i.eq_ignore_ascii_case(id)));
            out["customExtension"] = ext.map_or(Value::Null, |e| Value::Object(e.clone()));
        }
        out
    });
    Ok(Value::Array(list.collect()))
}
