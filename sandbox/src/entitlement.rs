//! Entitlement management (`/identityGovernance/entitlementManagement/...`,
//! v1.0): catalogs with their resources (added and removed through
//! `resourceRequests`), access packages with their resource role scopes,
//! assignment policies, and admin assignment requests. What Graph refuses
//! is refused here: a missing display name, a package in a catalog that
//! does not exist, a role scope for a group the catalog does not hold, a
//! policy naming a user or group that does not exist or needing approval
//! with no approvers, deleting a catalog that still has packages, and
//! deleting a package (or a policy) something is assigned through.
//! Assignments and their requests: `crate::entitlement_assignments`.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::{Expand, Query};
use crate::resources::{self, Spec, DIR_MAX, DIR_PAGE};
use crate::store::{ChangeKind, Record, Tenant};
use serde_json::{json, Map, Value};

pub const CATALOGS: &str = "accessPackageCatalogs";
pub const PACKAGES: &str = "accessPackages";
pub const POLICIES: &str = "accessPackageAssignmentPolicies";
pub const RESOURCE_REQUESTS: &str = "accessPackageResourceRequests";
pub const ASSIGNMENT_REQUESTS: &str = "accessPackageAssignmentRequests";
pub const ASSIGNMENTS: &str = "accessPackageAssignments";
const BASE: &str = "identityGovernance/entitlementManagement";
/// Where a catalog keeps its resources and a package its role scopes.
const RESOURCES: &str = "resources";
const ROLE_SCOPES: &str = "resourceRoleScopes";
/// The nav keys naming an object's parent.
const CATALOG_ID: &str = "catalogId";
const PACKAGE_ID: &str = "accessPackageId";
const POLICY_ID: &str = "assignmentPolicyId";

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "BadRequest", msg)
}

fn require_name(data: &Map<String, Value>, ty: &str) -> Result<(), GraphError> {
    if data.get("displayName").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
        return Err(bad(format!("The property 'displayName' is required on type '{ty}'.")).with_detail("PropertyRequired", "displayName"));
    }
    Ok(())
}

fn nav_str<'a>(r: &'a Record, k: &str) -> &'a str {
    r.nav.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn list_nav(r: Option<&Record>, k: &str) -> Vec<Value> {
    r.and_then(|r| r.nav.get(k)).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The id in `{"id": "..."}` (a navigation property bound by id).
fn bound_id(body: &Map<String, Value>, nav: &str) -> Option<String> {
    body.get(nav).and_then(|v| v.get("id")).and_then(Value::as_str).map(str::to_string)
}

fn stamp(data: &mut Map<String, Value>, ctx: &Ctx, created: bool) {
    let now = ctx.now_iso();
    if created {
        data.insert("createdDateTime".into(), json!(now));
    }
    data.insert("modifiedDateTime".into(), json!(now));
}

fn check_catalog(data: &Map<String, Value>) -> Result<(), GraphError> {
    require_name(data, "microsoft.graph.accessPackageCatalog")?;
    if let Some(t) = data.get("catalogType").and_then(Value::as_str).filter(|t| *t != "userManaged") {
        return Err(bad(format!("A catalog of type '{t}' cannot be created or changed.")));
    }
    Ok(())
}

pub fn create_catalog(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    check_catalog(&body)?;
    body.entry("state").or_insert(json!("published"));
    body.entry("isExternallyVisible").or_insert(json!(true));
    body.insert("catalogType".into(), json!("userManaged"));
    stamp(&mut body, ctx, true);
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch_catalog(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let mut merged = t.get(spec.coll, id).map(|r| r.data.clone()).ok_or_else(|| GraphError::not_found(id))?;
    merged.extend(body.clone());
    check_catalog(&merged)?;
    stamp(&mut body, ctx, false);
    resources::patch_merge(t, ctx, spec, id, body)
}

pub fn delete_catalog(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    let packages = t.coll(PACKAGES).map_or(0, |c| c.values().filter(|p| nav_str(p, CATALOG_ID) == id).count());
    if packages > 0 {
        return Err(bad(format!("The catalog '{id}' cannot be deleted because it still contains {packages} access package(s).")));
    }
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    Ok(())
}

pub fn catalog_sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    match (req.method.as_str(), rest) {
        ("GET", [RESOURCES]) => {
            let items: Vec<Map<String, Value>> = list_nav(t.get(spec.coll, id), RESOURCES).into_iter().filter_map(|v| v.as_object().cloned()).map(|r| crate::entitlement_resources::shown(r, q)).collect();
            let base = format!("{}/{BASE}/catalogs/{id}/resources", ctx.root());
            graph::list_values(ctx, "accessPackageResources", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        (_, [RESOURCES, ..]) => Err(GraphError::method_not_allowed()),
        (_, [crate::entitlement_extensions::NAV, more @ ..]) => crate::entitlement_extensions::handle(t, ctx, req, id, more, q),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// `POST /resourceRequests`: `adminAdd` of a group (by `originId`) to a
/// catalog, or `adminRemove` of a catalog's resource (by `id`).
pub fn create_resource_request(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    let kind = body.get("requestType").and_then(Value::as_str).unwrap_or_default().to_string();
    let catalog = bound_id(&body, "catalog").ok_or_else(|| bad("The request must name the catalog ('catalog': {'id': ...}).").with_detail("PropertyRequired", "catalog"))?;
    if t.get(CATALOGS, &catalog).is_none() {
        return Err(GraphError::not_found(&catalog));
    }
    let res = body.get("resource").and_then(Value::as_object).cloned().ok_or_else(|| bad("The request must name the resource.").with_detail("PropertyRequired", "resource"))?;
    let mut held = list_nav(t.get(CATALOGS, &catalog), RESOURCES);
    match kind.as_str() {
        "adminAdd" => {
            let system = res.get("originSystem").and_then(Value::as_str).unwrap_or_default();
            if system != "AadGroup" {
                // Applications and SharePoint Online sites.
                let added = crate::entitlement_resources::onboard(t, ctx, &res, &held)?;
                held.push(added);
                t.update(CATALOGS, &catalog, |r| {
                    r.nav.insert(RESOURCES.into(), Value::Array(held));
                });
                let mut data = Map::new();
                data.insert("requestType".into(), json!(kind));
                data.insert("state".into(), json!("delivered"));
                data.insert("createdDateTime".into(), json!(ctx.now_iso()));
                return Ok(resources::insert_new(t, ctx, spec.coll, data, Map::new()));
            }
            // "If using application permissions, the application requesting
            // to add the group should also be assigned the
            // Group.ReadWrite.All permission" (v1.0
            // entitlementmanagement-post-resourcerequests).
            if !ctx.granted.iter().any(|p| p.eq_ignore_ascii_case("Group.ReadWrite.All") || p.eq_ignore_ascii_case("Directory.ReadWrite.All")) {
                return Err(GraphError::new(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."));
            }
            let origin = res.get("originId").and_then(Value::as_str).unwrap_or_default().to_string();
            let group = t.get("groups", &origin).filter(|g| !ctx.lagged(g)).ok_or_else(|| bad(format!("The resource with originId '{origin}' was not found.")).with_detail("ResourceNotFound", "originId"))?;
            let name = group.data.get("displayName").cloned().unwrap_or(Value::Null);
            if held.iter().any(|r| r.get("originId").and_then(Value::as_str) == Some(origin.as_str())) {
                return Err(GraphError::new(409, "Conflict", format!("The resource '{origin}' is already in the catalog.")).with_detail("ResourceAlreadyOnboarded", "originId"));
            }
            held.push(json!({"id": resources::new_id(), "displayName": name, "originId": origin, "originSystem": "AadGroup", "createdDateTime": ctx.now_iso()}));
        }
        "adminRemove" => {
            let rid = res.get("id").and_then(Value::as_str).unwrap_or_default();
            // The docs' resource request removes "a resource ... that is no
            // longer needed by the access packages": one a package's role
            // still uses is refused (its role is removed first). A role
            // scope names its resource by the scope's origin (a group's,
            // an application's or a site's; a site's URL without case).
            let resource = held.iter().find(|r| r.get("id").and_then(Value::as_str) == Some(rid));
            let text = |v: Option<&Value>, k: &str| v.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or_default().to_string();
            let (origin, system) = (text(resource, "originId"), text(resource, "originSystem"));
            let uses = |rs: &Value| {
                rs.pointer("/role/resource/id").and_then(Value::as_str) == Some(rid)
                    || (!origin.is_empty()
                        && rs.pointer("/scope/originSystem").and_then(Value::as_str) == Some(system.as_str())
                        && rs.pointer("/scope/originId").and_then(Value::as_str).is_some_and(|o| crate::entitlement_resources::same(o, &origin)))
            };
            let user = t.coll(PACKAGES).and_then(|c| c.iter().find(|(_, p)| nav_str(p, CATALOG_ID) == catalog && list_nav(Some(p), ROLE_SCOPES).iter().any(uses)));
            if let Some((pid, _)) = user {
                return Err(bad(format!("The resource '{rid}' cannot be removed from the catalog: access package '{pid}' still grants one of its roles.")).with_detail("ResourceInUse", "resource"));
            }
            let before = held.len();
            held.retain(|r| r.get("id").and_then(Value::as_str) != Some(rid));
            if held.len() == before {
                return Err(GraphError::not_found(rid));
            }
        }
        other => return Err(bad(format!("requestType '{other}' is not supported for resource requests (adminAdd or adminRemove)."))),
    }
    t.update(CATALOGS, &catalog, |r| {
        r.nav.insert(RESOURCES.into(), Value::Array(held));
    });
    let mut data = Map::new();
    data.insert("requestType".into(), json!(kind));
    data.insert("state".into(), json!("delivered"));
    data.insert("createdDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, data, Map::new()))
}

fn check_package(data: &Map<String, Value>) -> Result<(), GraphError> {
    require_name(data, "microsoft.graph.accessPackage")
}

pub fn create_package(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    check_package(&body)?;
    let catalog = bound_id(&body, "catalog").ok_or_else(|| bad("An access package must name its catalog ('catalog': {'id': ...}).").with_detail("PropertyRequired", "catalog"))?;
    if t.get(CATALOGS, &catalog).is_none_or(|c| ctx.lagged(c)) {
        return Err(bad(format!("The catalog '{catalog}' does not exist.")).with_detail("ResourceNotFound", "catalog"));
    }
    body.remove("catalog");
    body.entry("isHidden").or_insert(json!(false));
    stamp(&mut body, ctx, true);
    let mut nav = Map::new();
    nav.insert(CATALOG_ID.into(), json!(catalog));
    nav.insert(ROLE_SCOPES.into(), json!([]));
    Ok(resources::insert_new(t, ctx, spec.coll, body, nav))
}

pub fn patch_package(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    if body.contains_key("catalog") {
        return Err(bad("The catalog of an access package cannot be changed with PATCH (use moveToCatalog)."));
    }
    let mut merged = t.get(spec.coll, id).map(|r| r.data.clone()).ok_or_else(|| GraphError::not_found(id))?;
    merged.extend(body.clone());
    check_package(&merged)?;
    stamp(&mut body, ctx, false);
    resources::patch_merge(t, ctx, spec, id, body)
}

fn assigned_through(t: &Tenant, nav: &str, id: &str) -> usize {
    t.coll(ASSIGNMENTS).map_or(0, |c| c.values().filter(|a| nav_str(a, nav) == id && a.data.get("state").and_then(Value::as_str) == Some("delivered")).count())
}

pub fn delete_package(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    let n = assigned_through(t, PACKAGE_ID, id);
    if n > 0 {
        return Err(bad(format!("The access package '{id}' cannot be deleted because it has {n} assignment(s).")));
    }
    let policies: Vec<String> = t.coll(POLICIES).map(|c| c.iter().filter(|(_, p)| nav_str(p, PACKAGE_ID) == id).map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    for p in policies {
        t.remove(POLICIES, &p, ChangeKind::HardDelete);
    }
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    crate::entitlement_incompatible::forget_package(t, id);
    Ok(())
}

pub fn expand_package(t: &Tenant, ctx: &Ctx, spec: &Spec, _: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    match e.name.as_str() {
        "catalog" => {
            let c = t.get(CATALOGS, nav_str(rec, CATALOG_ID)).map(|c| Value::Object(c.data.clone())).unwrap_or(Value::Null);
            out.insert("catalog".into(), c);
        }
        ROLE_SCOPES => {
            let nested: Vec<&str> = e.nested.iter().map(|n| n.name.as_str()).collect();
            if let Some(bad_name) = nested.iter().find(|n| !["role", "scope"].contains(*n)) {
                return Err(GraphError::bad_request(format!("Could not find a property named '{bad_name}' on type 'microsoft.graph.accessPackageResourceRoleScope'.")));
            }
            let scopes: Vec<Value> = list_nav(Some(rec), ROLE_SCOPES)
                .into_iter()
                .map(|mut rs| {
                    if let Some(m) = rs.as_object_mut() {
                        m.retain(|k, _| k == "id" || k == "createdDateTime" || nested.contains(&k.as_str()));
                    }
                    rs
                })
                .collect();
            // Paged past EXPANDED_PAGE, as Graph pages expanded
            // collections: the rest from the annotated next link.
            let id = rec.data.get("id").and_then(Value::as_str).unwrap_or_default();
            let (first, next) = crate::entitlement_query::page_expansion(scopes, &format!("{}/{BASE}/accessPackages/{id}/resourceRoleScopes", ctx.root()));
            out.insert(ROLE_SCOPES.into(), Value::Array(first));
            if let Some(link) = next {
                out.insert(format!("{ROLE_SCOPES}@odata.nextLink"), json!(link));
            }
        }
        other => return Err(GraphError::bad_request(format!("Could not find a property named '{other}' on type '{}'.", spec.context))),
    }
    Ok(())
}

pub fn package_sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let mut scopes = list_nav(t.get(spec.coll, id), ROLE_SCOPES);
    match (req.method.as_str(), rest) {
        ("GET", [ROLE_SCOPES]) => {
            let items = scopes.into_iter().filter_map(|v| v.as_object().cloned()).collect();
            let base = format!("{}/{BASE}/accessPackages/{id}/resourceRoleScopes", ctx.root());
            graph::list_values(ctx, "accessPackageResourceRoleScopes", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("POST", [ROLE_SCOPES]) => {
            let body = body_object(req)?;
            let role = body.get("role").and_then(Value::as_object).cloned().ok_or_else(|| bad("The role is required.").with_detail("PropertyRequired", "role"))?;
            let scope = body.get("scope").and_then(Value::as_object).cloned().ok_or_else(|| bad("The scope is required.").with_detail("PropertyRequired", "scope"))?;
            let s = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (system, origin) = (s(&role, "originSystem"), s(&role, "originId"));
            if system != "AadGroup" {
                let catalog = t.get(spec.coll, id).map(|r| nav_str(r, CATALOG_ID).to_string()).unwrap_or_default();
                let held = list_nav(t.get(CATALOGS, &catalog), RESOURCES);
                let entry = crate::entitlement_resources::role_scope(ctx, &held, &scopes, &role, &scope)?;
                scopes.push(entry.clone());
                t.update(spec.coll, id, |r| {
                    r.nav.insert(ROLE_SCOPES.into(), Value::Array(scopes));
                });
                return Ok(GResp::json(201, entry));
            }
            let group = match (system.as_str(), origin.split_once('_')) {
                ("AadGroup", Some(("Member" | "Owner", g))) => g.to_string(),
                _ => return Err(bad(format!("The role '{origin}' of origin system '{system}' is not a role of a group resource (Member_<id> or Owner_<id>)."))),
            };
            if s(&scope, "originId") != group || s(&scope, "originSystem") != "AadGroup" {
                return Err(bad("The scope must be the root scope of the role's group (its originId and originSystem AadGroup)."));
            }
            let catalog = t.get(spec.coll, id).map(|r| nav_str(r, CATALOG_ID).to_string()).unwrap_or_default();
            let held = list_nav(t.get(CATALOGS, &catalog), RESOURCES);
            let Some(resource) = held.iter().find(|r| r.get("originId").and_then(Value::as_str) == Some(group.as_str())) else {
                return Err(bad(format!("The resource '{group}' is not part of the access package's catalog; add it to the catalog first.")).with_detail("ResourceNotInCatalog", "role"));
            };
            let given = role.get("resource").and_then(|r| r.get("id")).and_then(Value::as_str);
            if given.is_some_and(|g| Some(g) != resource.get("id").and_then(Value::as_str)) {
                return Err(bad("The role's resource is not the catalog's resource for this group."));
            }
            if scopes.iter().any(|x| x.pointer("/role/originId").and_then(Value::as_str) == Some(origin.as_str())) {
                return Err(GraphError::new(409, "Conflict", format!("The access package already has the role '{origin}'.")));
            }
            let name = origin.split('_').next().unwrap_or_default().to_string();
            let entry = json!({
                "id": resources::new_id(),
                "createdDateTime": ctx.now_iso(),
                "role": {"id": resources::new_id(), "displayName": name, "originId": origin, "originSystem": "AadGroup"},
                "scope": {"id": resources::new_id(), "displayName": "Root", "description": "Root Scope", "originId": group, "originSystem": "AadGroup", "isRootScope": true},
            });
            scopes.push(entry.clone());
            let before = crate::entitlement_delivery::roles_of(t, id);
            t.update(spec.coll, id, |r| {
                r.nav.insert(ROLE_SCOPES.into(), Value::Array(scopes));
            });
            crate::entitlement_delivery::roles_changed(t, id, &before);
            Ok(GResp::json(201, entry))
        }
        ("DELETE", [ROLE_SCOPES, rsid]) => {
            let before = scopes.len();
            scopes.retain(|x| x.get("id").and_then(Value::as_str) != Some(*rsid));
            if scopes.len() == before {
                return Err(GraphError::not_found(rsid));
            }
            let before = crate::entitlement_delivery::roles_of(t, id);
            t.update(spec.coll, id, |r| {
                r.nav.insert(ROLE_SCOPES.into(), Value::Array(scopes));
            });
            crate::entitlement_delivery::roles_changed(t, id, &before);
            Ok(GResp::empty(204))
        }
        (_, [ROLE_SCOPES, ..]) => Err(GraphError::method_not_allowed()),
        (_, [crate::entitlement_incompatible::PACKAGES_NAV | crate::entitlement_incompatible::GROUPS_NAV, ..]) => crate::entitlement_incompatible::handle(t, ctx, req, id, rest, q),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// A subject set's object exists (users and groups by id).
pub(crate) fn check_subjects(t: &Tenant, ctx: &Ctx, list: Option<&Value>, field: &str) -> Result<(), GraphError> {
    for s in list.and_then(Value::as_array).into_iter().flatten() {
        let ty = s.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        let (coll, key) = match ty {
            "#microsoft.graph.singleUser" => ("users", "userId"),
            "#microsoft.graph.groupMembers" => ("groups", "groupId"),
            "" => return Err(bad(format!("Each subject set in '{field}' needs its '@odata.type'."))),
            "#microsoft.graph.attributeRuleMembers" => {
                if s.get("membershipRule").and_then(Value::as_str).is_none_or(|r| r.trim().is_empty()) {
                    return Err(bad(format!("An attributeRuleMembers subject in '{field}' needs its 'membershipRule'.")));
                }
                continue;
            }
            _ => continue,
        };
        let id = s.get(key).and_then(Value::as_str).unwrap_or_default();
        if t.get(coll, id).is_none_or(|r| ctx.lagged(r)) {
            return Err(bad(format!("The subject '{id}' in '{field}' was not found.")).with_detail("SubjectNotFound", field));
        }
    }
    Ok(())
}

fn check_policy(t: &Tenant, ctx: &Ctx, data: &Map<String, Value>) -> Result<(), GraphError> {
    require_name(data, "microsoft.graph.accessPackageAssignmentPolicy")?;
    let scope = data.get("allowedTargetScope").and_then(Value::as_str).unwrap_or("notSpecified");
    let targets = data.get("specificAllowedTargets").and_then(Value::as_array).map_or(0, Vec::len);
    if scope.starts_with("specific") && targets == 0 {
        return Err(bad(format!("allowedTargetScope '{scope}' requires specificAllowedTargets.")));
    }
    check_subjects(t, ctx, data.get("specificAllowedTargets"), "specificAllowedTargets")?;
    crate::entitlement_review::check_questions(data.get("questions"))?;
    if let Some(e) = data.get("expiration") {
        match e.get("type").and_then(Value::as_str) {
            Some("afterDuration") if e.get("duration").and_then(Value::as_str).is_none() => return Err(bad("An expiration of type 'afterDuration' requires a duration.")),
            Some("afterDateTime") if e.get("endDateTime").and_then(Value::as_str).is_none() => return Err(bad("An expiration of type 'afterDateTime' requires an endDateTime.")),
            _ => {}
        }
    }
    if let Some(a) = data.get("requestApprovalSettings") {
        let stages = a.get("stages").and_then(Value::as_array).cloned().unwrap_or_default();
        if a.get("isApprovalRequiredForAdd").and_then(Value::as_bool) == Some(true) && stages.is_empty() {
            return Err(bad("Approval is required but no approval stage is given."));
        }
        if stages.len() > 3 {
            return Err(bad("At most 3 approval stages are supported."));
        }
        for s in &stages {
            if s.get("primaryApprovers").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                return Err(bad("Each approval stage needs primaryApprovers."));
            }
            check_subjects(t, ctx, s.get("primaryApprovers"), "primaryApprovers")?;
            check_subjects(t, ctx, s.get("fallbackPrimaryApprovers"), "fallbackPrimaryApprovers")?;
            crate::entitlement_review::check_escalation(t, ctx, s)?;
        }
    }
    crate::entitlement_review::check_review(t, ctx, data.get("reviewSettings"))?;
    Ok(())
}

pub fn create_policy(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let package = bound_id(&body, "accessPackage").ok_or_else(|| bad("A policy must name its access package ('accessPackage': {'id': ...}).").with_detail("PropertyRequired", "accessPackage"))?;
    let Some(pkg) = t.get(PACKAGES, &package).filter(|p| !ctx.lagged(p)) else {
        return Err(bad(format!("The access package '{package}' does not exist.")).with_detail("ResourceNotFound", "accessPackage"));
    };
    let catalog = nav_str(pkg, CATALOG_ID).to_string();
    body.remove("accessPackage");
    check_policy(t, ctx, &body)?;
    crate::entitlement_extensions::check_stages(t, &catalog, body.get("customExtensionStageSettings"))?;
    store_stages(&mut body);
    crate::entitlement_automatic::check(t, &body, &package, None)?;
    stamp(&mut body, ctx, true);
    let mut nav = Map::new();
    nav.insert(PACKAGE_ID.into(), json!(package));
    nav.insert(CATALOG_ID.into(), json!(catalog));
    take_contained(&mut body, &mut nav);
    let id = resources::insert_new(t, ctx, spec.coll, body, nav);
    crate::entitlement_automatic::sync(t, ctx, &id);
    Ok(id)
}

/// `PUT /assignmentPolicies/{id}`: the policy replaced whole.
pub fn replace_policy(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let current = t.get(spec.coll, id).cloned().ok_or_else(|| GraphError::not_found(id))?;
    // The docs' update (PUT) requires the access package by id.
    match bound_id(&body, "accessPackage") {
        None => return Err(bad("The property 'accessPackage' is required when a policy is replaced.").with_detail("PropertyRequired", "accessPackage")),
        Some(p) if p != nav_str(&current, PACKAGE_ID) => return Err(bad("A policy cannot be moved to another access package.")),
        Some(_) => {}
    }
    body.remove("accessPackage");
    check_policy(t, ctx, &body)?;
    crate::entitlement_extensions::check_stages(t, nav_str(&current, CATALOG_ID), body.get("customExtensionStageSettings"))?;
    store_stages(&mut body);
    crate::entitlement_automatic::check(t, &body, nav_str(&current, PACKAGE_ID), Some(id))?;
    if let Some(c) = current.data.get("createdDateTime") {
        body.insert("createdDateTime".into(), c.clone());
    }
    stamp(&mut body, ctx, false);
    let mut contained = Map::new();
    take_contained(&mut body, &mut contained);
    t.update(spec.coll, id, |r| {
        for k in POLICY_CONTAINED {
            r.nav.remove(*k);
        }
        r.nav.extend(contained);
        let keep_type = r.data.get("@odata.type").cloned();
        r.data = Map::new();
        if let Some(tp) = keep_type {
            r.data.insert("@odata.type".into(), tp);
        }
        r.data.insert("id".into(), json!(id));
        r.data.extend(body);
    });
    crate::entitlement_automatic::sync(t, ctx, id);
    Ok(())
}

pub fn delete_policy(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    let n = assigned_through(t, POLICY_ID, id);
    if n > 0 {
        return Err(bad(format!("The policy '{id}' cannot be deleted because {n} assignment(s) were made through it.")));
    }
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    Ok(())
}

/// A policy's contained navigation properties (requestor questions and
/// custom extension stages): kept apart from its properties, listed only
/// when expanded, and dropped by a PUT that does not send them.
const POLICY_CONTAINED: &[&str] = &["questions", "customExtensionStageSettings"];

fn take_contained(body: &mut Map<String, Value>, nav: &mut Map<String, Value>) {
    for k in POLICY_CONTAINED {
        if let Some(v) = body.remove(*k) {
            nav.insert((*k).to_string(), v);
        }
    }
}

/// The stage settings of a policy body as held (`entitlement_extensions`).
fn store_stages(body: &mut Map<String, Value>) {
    if let Some(v) = body.get_mut(STAGES) {
        *v = crate::entitlement_extensions::stored_stages(v);
    }
}

const STAGES: &str = "customExtensionStageSettings";

pub fn expand_policy(t: &Tenant, _: &Ctx, spec: &Spec, _: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    if e.name == STAGES {
        out.insert(e.name.clone(), crate::entitlement_extensions::expanded_stages(t, nav_str(rec, CATALOG_ID), rec.nav.get(STAGES), &e.nested)?);
        return Ok(());
    }
    if POLICY_CONTAINED.contains(&e.name.as_str()) {
        out.insert(e.name.clone(), rec.nav.get(&e.name).cloned().unwrap_or_else(|| json!([])));
        return Ok(());
    }
    let (name, coll, nav) = match e.name.as_str() {
        "accessPackage" => ("accessPackage", PACKAGES, PACKAGE_ID),
        "catalog" => ("catalog", CATALOGS, CATALOG_ID),
        other => return Err(GraphError::bad_request(format!("Could not find a property named '{other}' on type '{}'.", spec.context))),
    };
    out.insert(name.into(), t.get(coll, nav_str(rec, nav)).map(|r| Value::Object(r.data.clone())).unwrap_or(Value::Null));
    Ok(())
}

/// The sandbox collection of `access_catalog`, registered in `crate::resources::KIND_SPECS`.
/// Entitlement management (crate::entitlement).
pub static CATALOGS_SPEC: crate::resources::Spec = crate::resources::Spec {
    family: crate::resources::Family::Other,
    create: Some(crate::entitlement::create_catalog),
    patch: Some(crate::entitlement::patch_catalog),
    delete: Some(crate::entitlement::delete_catalog),
    lookup: |t, seg| crate::resources::lookup_id(t, "accessPackageCatalogs", seg),
    sub: crate::entitlement::catalog_sub,
    entity: Some("accessPackageCatalog"),
    ..crate::resources::dir(crate::entitlement::CATALOGS, &["identityGovernance", "entitlementManagement", "catalogs"], "identityGovernance/entitlementManagement/catalogs")
};

/// The sandbox collection of `access_package`, registered in `crate::resources::KIND_SPECS`.
pub static PACKAGES_SPEC: crate::resources::Spec = crate::resources::Spec {
    family: crate::resources::Family::Other,
    create: Some(crate::entitlement::create_package),
    patch: Some(crate::entitlement::patch_package),
    delete: Some(crate::entitlement::delete_package),
    lookup: |t, seg| crate::resources::lookup_id(t, "accessPackages", seg),
    expand: crate::entitlement::expand_package,
    sub: crate::entitlement::package_sub,
    entity: Some("accessPackage"),
    writes: &[crate::resources::WriteRule { method: "POST", rest: &["{id}", "resourceRoleScopes"], body: crate::resources::WriteBody::Entity("accessPackageResourceRoleScope") }],
    ..crate::resources::dir(crate::entitlement::PACKAGES, &["identityGovernance", "entitlementManagement", "accessPackages"], "identityGovernance/entitlementManagement/accessPackages")
};
