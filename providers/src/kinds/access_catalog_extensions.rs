//! A catalog's custom workflow extensions
//! (`/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions`,
//! v1.0: List, Create (POST), Update (PUT, the whole extension), Delete;
//! `EntitlementManagement.ReadWrite.All`, as the catalog). In props they
//! are `customWorkflowExtensions`, a list sorted by lowercased display
//! name (an extension is matched by display name: Graph has no other
//! key), each entry flat:
//! `{displayName, description, type, subscriptionId, resourceGroupName,
//! logicAppWorkflowName, url, authentication, resourceId, timeoutDuration}`
//! (`url`: `endpointConfiguration.url`, where Entra calls; hostile run 26,
//! finding 3).
//! A list, not a map, so an extension live but not declared is drift.
//!
//! The callback timeout is written and read as `timeoutDuration`, the
//! property the v1.0 CSDL gives `customExtensionCallbackConfiguration`;
//! the Create page's example says `durationBeforeTimeout`, which the
//! CSDL does not have. The CSDL marks that type abstract; the pages'
//! requests name it as the `@odata.type` all the same, and so does this.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use engine::Props;
use schema::kinds::access_catalog_extensions::{CustomWorkflowExtension, ASSIGNMENT, POP, REQUEST, TOKEN};
use serde_json::{json, Map, Value};

use super::str_field;
use crate::apply::{fail, Writer};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};

pub const PROP: &str = "customWorkflowExtensions";
const REQUEST_TYPE: &str = "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension";
const ASSIGNMENT_TYPE: &str = "#microsoft.graph.accessPackageAssignmentWorkflowExtension";
const LOGIC_APP: &str = "#microsoft.graph.logicAppTriggerEndpointConfiguration";
const CALLBACK: &str = "#microsoft.graph.customExtensionCallbackConfiguration";

pub fn path(catalog: &str) -> String {
    format!("{}/{}/{PROP}", super::access_catalog::CATALOGS, schema::object_id::path_segment(catalog))
}

/// The extensions of a catalog as Graph lists them.
pub async fn list(api: &GraphClient, catalog: &str) -> Result<Vec<Value>, GraphError> {
    api.list_all(&path(catalog)).await
}

fn canonical_timeout(t: Option<&str>) -> Value {
    t.map_or(Value::Null, |t| json!(schema::kinds::role_policy::canonical_duration(t).unwrap_or_else(|| t.to_string())))
}

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_cached_key(|e| str_field(e, "displayName").to_lowercase());
    Value::Array(v)
}

/// A catalog's declared extensions in props (nothing when not declared).
pub fn catalog_props(exts: Option<&BTreeMap<String, CustomWorkflowExtension>>, p: &mut Props) {
    let Some(exts) = exts else { return };
    let v = exts
        .values()
        .map(|e| {
            let mut v = json!({
                "displayName": e.display_name,
                "description": e.description,
                "type": e.kind,
                "subscriptionId": e.subscription_id.to_lowercase(),
                "resourceGroupName": e.resource_group_name,
                "logicAppWorkflowName": e.logic_app_workflow_name,
                "authentication": e.authentication,
                "resourceId": e.resource_id.as_ref().map(|r| r.to_lowercase()),
                "timeoutDuration": canonical_timeout(e.timeout.as_deref()),
            });
            // Only when declared, so the props (and the ledger's record of
            // them) of an extension without one are as before.
            if let Some(u) = &e.url {
                v["url"] = json!(u);
            }
            v
        })
        .collect();
    p.insert(PROP.into(), sorted(v));
}

/// A live extension's `type` (`request`, `assignment`).
pub fn kind_of(raw: &Value) -> String {
    str_field(&entry(raw), "type").to_string()
}

/// One live extension as a props entry.
fn entry(raw: &Value) -> Value {
    let endpoint = raw.get("endpointConfiguration").cloned().unwrap_or(Value::Null);
    let auth = raw.get("authenticationConfiguration").cloned().unwrap_or(Value::Null);
    let kind = match str_field(raw, "@odata.type") {
        REQUEST_TYPE => REQUEST.to_string(),
        ASSIGNMENT_TYPE => ASSIGNMENT.to_string(),
        other => other.trim_start_matches("#microsoft.graph.").to_string(),
    };
    let timeout = raw.get("callbackConfiguration").and_then(|c| c.get("timeoutDuration")).and_then(Value::as_str);
    let mut e = json!({
        "displayName": str_field(raw, "displayName"),
        "description": raw.get("description").cloned().unwrap_or(Value::Null),
        "type": kind,
        "subscriptionId": str_field(&endpoint, "subscriptionId").to_lowercase(),
        "resourceGroupName": str_field(&endpoint, "resourceGroupName"),
        "logicAppWorkflowName": str_field(&endpoint, "logicAppWorkflowName"),
        "authentication": str_field(&auth, "@odata.type").trim_start_matches("#microsoft.graph."),
        "resourceId": auth.get("resourceId").and_then(Value::as_str).map(str::to_lowercase),
        "timeoutDuration": canonical_timeout(timeout),
    });
    // Where Entra calls (hostile run 26, finding 3): kept only when set,
    // as desired props keep it only when declared.
    if let Some(u) = endpoint.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        e["url"] = json!(u);
    }
    e
}

/// A live catalog's extensions in props.
pub fn catalog_live(raw: &[Value], p: &mut Props) {
    p.insert(PROP.into(), sorted(raw.iter().map(entry).collect()));
}

/// The POST / PUT body of a props entry.
fn body(e: &Value) -> Value {
    let request = str_field(e, "type") == REQUEST;
    let mut b = Map::new();
    b.insert("@odata.type".into(), json!(if request { REQUEST_TYPE } else { ASSIGNMENT_TYPE }));
    b.insert("displayName".into(), json!(str_field(e, "displayName")));
    b.insert("description".into(), e.get("description").cloned().unwrap_or(Value::Null));
    let mut endpoint = json!({"@odata.type": LOGIC_APP, "subscriptionId": str_field(e, "subscriptionId"), "resourceGroupName": str_field(e, "resourceGroupName"), "logicAppWorkflowName": str_field(e, "logicAppWorkflowName")});
    // PUT replaces: a URL not declared is sent as none, so one set live
    // does not stay.
    endpoint["url"] = e.get("url").filter(|u| !u.is_null()).cloned().unwrap_or(Value::Null);
    b.insert("endpointConfiguration".into(), endpoint);
    let mut auth = json!({"@odata.type": format!("#microsoft.graph.{}", str_field(e, "authentication"))});
    if str_field(e, "authentication") == TOKEN {
        auth["resourceId"] = json!(str_field(e, "resourceId"));
    }
    b.insert("authenticationConfiguration".into(), auth);
    if request {
        // PUT replaces: a timeout taken away is written as none.
        let timeout = e.get("timeoutDuration").filter(|t| !t.is_null());
        b.insert("callbackConfiguration".into(), timeout.map_or(Value::Null, |t| json!({"@odata.type": CALLBACK, "timeoutDuration": t})));
    }
    Value::Object(b)
}

/// The catalog's extensions made as declared: the missing created, the
/// changed written whole (a changed type is deleted and created again:
/// Graph does not change it), the undeclared deleted. Nothing when the
/// catalog does not declare them.
pub async fn sync(w: &Writer<'_>, api: &GraphClient, want: Option<&Value>, catalog: &str) -> Result<(), ExecError> {
    let Some(want) = want.and_then(Value::as_array) else { return Ok(()) };
    let base = path(catalog);
    let live = list(api, catalog).await.map_err(fail)?;
    let name = |v: &Value| str_field(v, "displayName").to_lowercase();
    let same_type = |x: &Value| want.iter().find(|e| name(e) == name(x)).is_some_and(|e| str_field(e, "type") == str_field(&entry(x), "type"));
    // Graph refuses to delete an extension a policy's stage calls: such
    // an extension is left for the package whose write stops calling it
    // (`access_policy_stages::release`); the plan refuses one that a
    // policy it does not change calls (`access_extension_guard`).
    let called = if live.iter().any(|x| !same_type(x)) { super::access_policy_stages::called(api).await.map_err(fail)? } else { Default::default() };
    for x in &live {
        if !same_type(x) && super::access_policy_stages::in_use(&called, x) {
            super::access_policy_stages::leave(w, &called, x)?;
        } else if !same_type(x) {
            let seg = schema::object_id::path_segment(str_field(x, "id")).into_owned();
            match w.try_execute(api, GraphRequest::new(Method::DELETE, format!("{base}/{seg}"))).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }
    for e in want {
        match live.iter().find(|x| name(x) == name(e) && str_field(&entry(x), "type") == str_field(e, "type")) {
            None => {
                w.send(api, Method::POST, &base, Some(body(e))).await?;
            }
            Some(x) if !engine::diff::diff_props(&one(e), &one(&entry(x))).is_empty() => {
                let seg = schema::object_id::path_segment(str_field(x, "id")).into_owned();
                w.send(api, Method::PUT, &format!("{base}/{seg}"), Some(body(e))).await?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn one(e: &Value) -> Props {
    let mut p = Props::new();
    p.insert("x".into(), e.clone());
    p
}

/// The keys a live catalog's extensions (props, in their sorted order)
/// are exported under: the slug of each display name, made unique with a
/// number (`notify-hr`, `notify-hr-2`). The one place they are given, so
/// the catalog's export and a policy stage naming an extension
/// ([`export_keys`]) agree.
fn keyed(p: &Props) -> Vec<(String, &Value)> {
    let mut taken = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for e in p.get(PROP).and_then(Value::as_array).into_iter().flatten() {
        let base = crate::export::slug(str_field(e, "displayName"));
        let mut key = base.clone();
        let mut n = 2;
        while taken.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        taken.insert(key.clone());
        out.push((key, e));
    }
    out
}

/// A live catalog's exported extension keys by lowercased display name
/// (how a policy's stage names its extension in props); the first key of
/// a name held twice (only while a changed type is made anew).
pub fn export_keys(p: &Props) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, e) in keyed(p) {
        out.entry(str_field(e, "displayName").to_lowercase()).or_insert(key);
    }
    out
}

/// A live catalog's extensions as TOML, keyed as [`keyed`] gives them;
/// None when it has none.
pub fn catalog_export(p: &Props) -> Option<BTreeMap<String, CustomWorkflowExtension>> {
    p.get(PROP).and_then(Value::as_array).filter(|l| !l.is_empty())?;
    let mut out = BTreeMap::new();
    for (key, e) in keyed(p) {
        let opt = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        out.insert(
            key,
            CustomWorkflowExtension {
                display_name: str_field(e, "displayName").to_string(),
                description: opt("description"),
                kind: str_field(e, "type").to_string(),
                subscription_id: str_field(e, "subscriptionId").to_string(),
                resource_group_name: str_field(e, "resourceGroupName").to_string(),
                logic_app_workflow_name: str_field(e, "logicAppWorkflowName").to_string(),
                url: opt("url"),
                authentication: opt("authentication").unwrap_or_else(|| POP.to_string()),
                resource_id: opt("resourceId"),
                timeout: opt("timeoutDuration"),
            },
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_extension_reads_as_its_declaration_writes_it() {
        let raw = json!({
            "@odata.type": REQUEST_TYPE, "id": "x1", "displayName": "Hook", "description": null,
            "endpointConfiguration": {"@odata.type": LOGIC_APP, "subscriptionId": "38AB2CCC-3747-4567-B36B-9478F5602F0D", "resourceGroupName": "rg", "logicAppWorkflowName": "app"},
            "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
            "callbackConfiguration": {"@odata.type": CALLBACK, "timeoutDuration": "PT60M"},
        });
        let e = entry(&raw);
        assert_eq!(e["type"], json!("request"));
        assert_eq!(e["timeoutDuration"], json!("PT1H"));
        assert_eq!(e["subscriptionId"], json!("38ab2ccc-3747-4567-b36b-9478f5602f0d"));
        let b = body(&e);
        assert_eq!(b["callbackConfiguration"]["timeoutDuration"], json!("PT1H"));
        assert_eq!(b["@odata.type"], json!(REQUEST_TYPE));
        assert!(b.get("durationBeforeTimeout").is_none());
    }
}
