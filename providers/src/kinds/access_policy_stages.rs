//! An assignment policy's custom extension stages
//! (`customExtensionStageSettings`, v1.0: `customExtensionStageSetting
//! { stage, customExtension }`) between TOML, props and Graph.
//!
//! In props a policy's stages are a list sorted by stage, each
//! `{stage, customExtension}` with the extension named by its display name
//! (how a catalog's extension is found: `access_catalog_extensions`), so
//! a stage added in the portal, or pointed at another extension, is drift.
//! Read back as the customExtensionStageSetting page does,
//! `$expand=customExtensionStageSettings($expand=customExtension)` (the
//! extension is a navigation property of each setting, absent unless
//! expanded); written inline in the policy's POST / PUT as the Create
//! page's example does, `customExtension: {@odata.type, id}` with the
//! extension's id and type listed from the package's catalog.
//!
//! Order: the catalog (which makes its extensions) is written before the
//! packages that refer to it, so a new extension exists before a policy
//! names it. Graph refuses to delete an extension a stage still calls, so
//! the catalog leaves such an extension ([`in_use`]) and the package's
//! write deletes it once its policies no longer name it ([`release`]),
//! when its catalog no longer declares it (the names the catalog declares
//! travel with the package's change in `create_only`, [`CATALOG_EXTENSIONS`]).

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::DesiredResource;
use schema::kinds::access_package::AccessPackage;
use schema::kinds::access_package_stages::CustomExtensionStage;
use schema::{DesiredState, Kind};
use serde_json::{json, Value};

use super::str_field;
use crate::apply::{err, fail, Writer};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};

/// The policy prop (Graph's name).
pub const PROP: &str = "customExtensionStageSettings";
/// `create_only` of a package: the lowercased display names of the
/// extensions its catalog declares (absent: the catalog does not manage them).
pub const CATALOG_EXTENSIONS: &str = "catalogExtensions";
/// `create_only` of a package: each of those names' declared type, so an
/// extension whose type changed is released too (absent in plans saved
/// before access16: names only).
pub const CATALOG_EXTENSION_TYPES: &str = "catalogExtensionTypes";
/// How policies are listed with the extension each stage calls.
pub const LISTING: &str = "/identityGovernance/entitlementManagement/assignmentPolicies?$expand=accessPackage,customExtensionStageSettings($expand=customExtension)";

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_cached_key(|s| (str_field(s, "stage").to_string(), str_field(s, "customExtension").to_lowercase()));
    Value::Array(v)
}

/// A package's declared stages of one policy in props: each extension key
/// as its display name in the package's catalog.
pub fn props(stages: &[CustomExtensionStage], p: &AccessPackage, state: &DesiredState) -> Value {
    let exts = state.resolve(&p.catalog, &[Kind::AccessCatalog]).ok().and_then(|a| state.access_catalog.get(a.key.as_str())).and_then(|c| c.value.custom_workflow_extensions.clone()).unwrap_or_default();
    sorted(stages.iter().map(|s| json!({"stage": s.stage, "customExtension": exts.get(&s.extension).map_or(s.extension.as_str(), |e| e.display_name.as_str())})).collect())
}

/// The `create_only` entry of a package whose catalog declares its extensions.
pub fn carry_catalog(r: &mut DesiredResource, p: &AccessPackage, state: &DesiredState) {
    let exts = state.resolve(&p.catalog, &[Kind::AccessCatalog]).ok().and_then(|a| state.access_catalog.get(a.key.as_str())).and_then(|c| c.value.custom_workflow_extensions.as_ref());
    if let Some(exts) = exts {
        let names: BTreeSet<String> = exts.values().map(|e| e.display_name.to_lowercase()).collect();
        r.create_only.insert(CATALOG_EXTENSIONS.into(), json!(names));
        let types: BTreeMap<String, &str> = exts.values().map(|e| (e.display_name.to_lowercase(), e.kind.as_str())).collect();
        r.create_only.insert(CATALOG_EXTENSION_TYPES.into(), json!(types));
    }
}

/// Live stages (expanded with their extensions) in props form; a stage
/// whose extension is not expanded names the extension by id.
pub fn normalize(raw: Option<&Value>) -> Value {
    let list = raw.and_then(Value::as_array).into_iter().flatten().map(|s| {
        let ext = s.get("customExtension").filter(|e| e.is_object());
        let name = ext.map(|e| str_field(e, "displayName")).filter(|n| !n.is_empty()).or_else(|| ext.map(|e| str_field(e, "id"))).unwrap_or_default();
        json!({"stage": str_field(s, "stage"), "customExtension": name})
    });
    sorted(list.collect())
}

/// Live stages (props form) as TOML: each extension by the key its
/// catalog's export gave it (`ext_key`, by display name:
/// `access_catalog_extensions::export_keys`, numbered where two names
/// slug alike); Err naming the extension when its catalog exported none.
pub fn toml(v: Option<&Value>, ext_key: &dyn Fn(&str) -> Option<String>) -> Result<Vec<CustomExtensionStage>, String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let name = str_field(s, "customExtension");
            let extension = ext_key(name).ok_or_else(|| format!("stage {} calls custom workflow extension `{name}`, which its catalog's export does not hold", str_field(s, "stage")))?;
            Ok(CustomExtensionStage { stage: str_field(s, "stage").to_string(), extension })
        })
        .collect()
}

/// Whether the policy props declare stages.
pub fn any(p: &Value) -> bool {
    p.get(PROP).and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

/// The stages of a policy's props as Graph's body, each extension by the
/// id and type of the catalog's extension of that display name (`exts`,
/// the catalog's extensions as listed), of the type that runs at the
/// stage when there are two (one whose type changed is made anew before
/// the old one can go).
pub fn body(p: &Value, exts: &[Value]) -> Result<Option<Value>, ExecError> {
    let Some(list) = p.get(PROP).and_then(Value::as_array) else { return Ok(None) };
    let out = list
        .iter()
        .map(|s| {
            let name = str_field(s, "customExtension");
            let fits = |e: &Value| schema::kinds::access_package_stages::stage_type(str_field(s, "stage")).is_some_and(|t| super::access_catalog_extensions::kind_of(e) == t);
            let named: Vec<&Value> = exts.iter().filter(|e| str_field(e, "displayName").eq_ignore_ascii_case(name)).collect();
            let e = named.iter().copied().find(|e| fits(e)).or_else(|| named.first().copied()).ok_or_else(|| err(format!("custom workflow extension `{name}` is not in the package's catalog")))?;
            Ok(json!({"stage": str_field(s, "stage"), "customExtension": {"@odata.type": str_field(e, "@odata.type"), "id": str_field(e, "id")}}))
        })
        .collect::<Result<Vec<_>, ExecError>>()?;
    Ok(Some(Value::Array(out)))
}

/// One policy's stage calling an extension.
#[derive(Debug, Clone)]
pub struct Caller {
    pub policy: String,
    pub package_id: String,
    pub package: String,
    pub stage: String,
}

/// The live policies' stages, by the (lowercased) id of the extension each calls.
pub async fn called(api: &GraphClient) -> Result<BTreeMap<String, Vec<Caller>>, GraphError> {
    let mut out: BTreeMap<String, Vec<Caller>> = BTreeMap::new();
    for p in api.list_all(LISTING).await? {
        let pkg = p.get("accessPackage").cloned().unwrap_or(Value::Null);
        for s in p.get(PROP).and_then(Value::as_array).into_iter().flatten() {
            let id = s.get("customExtension").map(|e| str_field(e, "id").to_lowercase()).unwrap_or_default();
            if !id.is_empty() {
                let caller = Caller { policy: str_field(&p, "displayName").to_string(), package_id: str_field(&pkg, "id").to_string(), package: str_field(&pkg, "displayName").to_string(), stage: str_field(s, "stage").to_string() };
                out.entry(id).or_default().push(caller);
            }
        }
    }
    Ok(out)
}

/// Whether a stage still calls extension `x` (a live extension): the
/// catalog leaves it to the package that stops calling it ([`release`]).
pub fn in_use(called: &BTreeMap<String, Vec<Caller>>, x: &Value) -> bool {
    called.contains_key(&str_field(x, "id").to_lowercase())
}

/// The extension `x` the catalog no longer declares, which a stage still
/// calls: left for the packages tenantctl manages that call it (their
/// writes release it); an error naming the policy when a package it does
/// not manage calls it (made after the plan, which would have held the
/// catalog: `access_extension_guard`), since Graph refuses the delete.
pub fn leave(w: &Writer<'_>, called: &BTreeMap<String, Vec<Caller>>, x: &Value) -> Result<(), ExecError> {
    let foreign: Vec<String> = called
        .get(&str_field(x, "id").to_lowercase())
        .into_iter()
        .flatten()
        .filter(|c| !w.knows(Kind::AccessPackage, &c.package_id))
        .map(|c| format!("policy `{}` of access package `{}` ({}) at stage {}", c.policy, c.package, c.package_id, c.stage))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(err(format!(
        "{}: custom workflow extension `{}` is still called by {}, which desired state does not manage; Graph deletes an extension only once no stage calls it",
        w.address(),
        str_field(x, "displayName"),
        foreign.join(", ")
    )))
}

/// After a package's policies are written: the extensions of its catalog
/// the catalog no longer declares, or declares with another type (made
/// anew beside it), left while a stage called them, deleted once no
/// policy's stage calls them, so a type change settles in one apply.
pub async fn release(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, catalog: &str) -> Result<(), ExecError> {
    let Some(declared) = r.create_only.get(CATALOG_EXTENSIONS).and_then(Value::as_array) else { return Ok(()) };
    let declared: BTreeSet<String> = declared.iter().filter_map(Value::as_str).map(str::to_lowercase).collect();
    let types = r.create_only.get(CATALOG_EXTENSION_TYPES).and_then(Value::as_object);
    let exts = super::access_catalog_extensions::list(api, catalog).await.map_err(fail)?;
    let stale_one = |x: &Value| {
        let name = str_field(x, "displayName").to_lowercase();
        let retyped = types.and_then(|t| t.get(&name)).and_then(Value::as_str).is_some_and(|t| t != super::access_catalog_extensions::kind_of(x));
        !declared.contains(&name) || retyped
    };
    let stale: Vec<&Value> = exts.iter().filter(|x| stale_one(x)).collect();
    if stale.is_empty() {
        return Ok(());
    }
    let called = called(api).await.map_err(fail)?;
    for x in stale.into_iter().filter(|x| !in_use(&called, x)) {
        let path = format!("{}/{}", super::access_catalog_extensions::path(catalog), schema::object_id::path_segment(str_field(x, "id")));
        match w.try_execute(api, GraphRequest::new(Method::DELETE, path)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_stages_read_as_declared_and_write_with_the_extensions_ids() {
        let live = json!([
            {"id": "s2", "stage": "assignmentRequestGranted", "customExtension": {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": "x1", "displayName": "Onboard guest"}},
            {"id": "s1", "stage": "assignmentRequestCreated", "customExtension": {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": "x1", "displayName": "Onboard guest"}},
        ]);
        let n = normalize(Some(&live));
        assert_eq!(n, json!([{"stage": "assignmentRequestCreated", "customExtension": "Onboard guest"}, {"stage": "assignmentRequestGranted", "customExtension": "Onboard guest"}]));
        let exts = vec![json!({"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": "x1", "displayName": "ONBOARD GUEST"})];
        let b = body(&json!({PROP: n}), &exts).expect("resolves").expect("declared");
        assert_eq!(b[0], json!({"stage": "assignmentRequestCreated", "customExtension": {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": "x1"}}));
        assert!(body(&json!({PROP: [{"stage": "assignmentRequestCreated", "customExtension": "gone"}]}), &exts).is_err());
        let keys = |name: &str| (name == "Onboard guest").then(|| "onboard-guest".to_string());
        assert_eq!(toml(Some(&n), &keys).expect("exported")[0], CustomExtensionStage { stage: "assignmentRequestCreated".into(), extension: "onboard-guest".into() });
        assert!(toml(Some(&json!([{"stage": "assignmentRequestCreated", "customExtension": "gone"}])), &keys).is_err());
        // Not expanded: nothing names it, so it never equals a declared stage.
        assert_eq!(normalize(Some(&json!([{"stage": "assignmentRequestCreated"}])))[0]["customExtension"], json!(""));
    }
}
