//! Groups: assigned and dynamic, members and owners through `$ref` and
//! `members@odata.bind`, with Graph's duplicate/missing-object errors;
//! security groups are deleted permanently, Microsoft 365 groups softly.

use crate::directory::{as_directory_object, soft_delete, valid_mail_nickname};
use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::{Expand, Query};
use crate::resources::{self, Spec, DIR_MAX, DIR_PAGE};
use crate::store::{ChangeKind, Record, Tenant, MEMBERS, OWNERS};
use serde_json::{json, Map, Value};

fn invalid_value(prop: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid value specified for property '{prop}' of resource 'Group'.")).with_detail("InvalidValue", prop)
}

fn is_dynamic(data: &Map<String, Value>) -> bool {
    data.get("groupTypes").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v.as_str() == Some("DynamicMembership")))
}

fn is_unified(data: &Map<String, Value>) -> bool {
    data.get("groupTypes").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v.as_str() == Some("Unified")))
}

/// The object id at the end of an `@odata.id` / `@odata.bind` URL.
pub fn id_from_ref(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let last = last.trim_start_matches("directoryObjects(").trim_start_matches('\'').trim_end_matches(')').trim_end_matches('\'');
    (!last.is_empty() && !last.contains(':')).then(|| last.to_string())
}

/// Looks up a directory object a reference points to, honouring replication lag.
fn referenced(t: &Tenant, ctx: &Ctx, id: &str) -> Result<(), GraphError> {
    let found = ["users", "groups", crate::directory::DEVICES].iter().any(|c| t.get(c, id).is_some_and(|r| !ctx.lagged(r)));
    if found {
        Ok(())
    } else {
        Err(GraphError::not_found(id))
    }
}

fn binds(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, GraphError> {
    match body.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().and_then(id_from_ref).ok_or_else(|| GraphError::bad_request(format!("Invalid URL format specified in @odata.bind for {}", key.trim_end_matches("@odata.bind")))))
            .collect(),
        Some(_) => Err(GraphError::bad_request(format!("Invalid value for '{key}': an array of URLs is expected."))),
    }
}

fn validate(body: &Map<String, Value>, existing: Option<&Map<String, Value>>) -> Result<(), GraphError> {
    if let Some(v) = body.get("mailNickname") {
        if !v.as_str().is_some_and(valid_mail_nickname) {
            return Err(invalid_value("mailNickname"));
        }
    }
    for b in ["mailEnabled", "securityEnabled"] {
        if body.get(b).is_some_and(|v| !v.is_boolean()) {
            return Err(invalid_value(b));
        }
    }
    if let Some(v) = body.get("groupTypes") {
        if !v.as_array().is_some_and(|a| a.iter().all(|x| matches!(x.as_str(), Some("Unified" | "DynamicMembership")))) {
            return Err(invalid_value("groupTypes"));
        }
    }
    let mut merged = existing.cloned().unwrap_or_default();
    merged.extend(body.clone());
    let dynamic = is_dynamic(&merged);
    if dynamic {
        if merged.get("membershipRule").and_then(Value::as_str).is_none_or(|r| r.trim().is_empty()) {
            return Err(invalid_value("membershipRule"));
        }
        if merged.get("isAssignableToRole").and_then(Value::as_bool) == Some(true) {
            return Err(GraphError::bad_request("A group with isAssignableToRole set to true cannot have dynamic membership.").with_detail("InvalidValue", "isAssignableToRole"));
        }
        if !binds(body, "members@odata.bind")?.is_empty() {
            return Err(GraphError::bad_request("Members cannot be added to or removed from a group with dynamic membership."));
        }
    }
    if let Some(state) = merged.get("membershipRuleProcessingState").and_then(Value::as_str) {
        if state != "On" && state != "Paused" {
            return Err(invalid_value("membershipRuleProcessingState"));
        }
    }
    if existing.is_some() && body.contains_key("isAssignableToRole") && body.get("isAssignableToRole") != existing.and_then(|e| e.get("isAssignableToRole")) {
        return Err(GraphError::bad_request("Property 'isAssignableToRole' is read-only and cannot be changed after creation.").with_detail("ReadOnly", "isAssignableToRole"));
    }
    Ok(())
}

pub fn create_group(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    for prop in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        if body.get(prop).is_none_or(Value::is_null) {
            return Err(GraphError::bad_request(format!("Property '{prop}' is required when creating the object.")).with_detail("PropertyRequired", prop));
        }
    }
    validate(&body, None)?;
    if assignable(&body) {
        role_management(ctx)?;
    }
    let members = binds(&body, "members@odata.bind")?;
    let owners = binds(&body, "owners@odata.bind")?;
    if members.len() + owners.len() > 20 {
        return Err(GraphError::bad_request("The maximum number of 20 relationships allowed at create time has been exceeded."));
    }
    for id in members.iter().chain(&owners) {
        referenced(t, ctx, id)?;
    }
    body.remove("members@odata.bind");
    body.remove("owners@odata.bind");
    body.remove("id");
    let dynamic = is_dynamic(&body);
    for (k, v) in [
        ("description", Value::Null),
        ("classification", Value::Null),
        ("createdDateTime", json!(ctx.now_iso())),
        ("deletedDateTime", Value::Null),
        ("expirationDateTime", Value::Null),
        ("groupTypes", json!([])),
        ("isAssignableToRole", Value::Null),
        ("mail", Value::Null),
        ("membershipRule", Value::Null),
        ("membershipRuleProcessingState", if dynamic { json!("On") } else { Value::Null }),
        ("proxyAddresses", json!([])),
        ("renewedDateTime", json!(ctx.now_iso())),
        ("securityIdentifier", json!(format!("S-1-12-1-{}", rand::random::<u32>()))),
        ("visibility", Value::Null),
    ] {
        body.entry(k).or_insert(v);
    }
    let id = resources::insert_new(t, ctx, spec.coll, body, Map::new());
    for m in members {
        t.add_link(&id, MEMBERS, &m);
    }
    for o in owners {
        t.add_link(&id, OWNERS, &o);
    }
    Ok(id)
}

pub fn patch_group(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let existing = t.get(spec.coll, id).map(|r| r.data.clone()).ok_or_else(|| GraphError::not_found(id))?;
    validate(&body, Some(&existing))?;
    let members = binds(&body, "members@odata.bind")?;
    let owners = binds(&body, "owners@odata.bind")?;
    if members.len() + owners.len() > 20 {
        return Err(GraphError::bad_request("A maximum of 20 objects can be added in a single request."));
    }
    for m in members.iter().chain(&owners) {
        referenced(t, ctx, m)?;
    }
    for m in &members {
        if t.links(id, MEMBERS).is_some_and(|s| s.contains(m)) {
            return Err(dup_error(MEMBERS));
        }
    }
    body.remove("members@odata.bind");
    body.remove("owners@odata.bind");
    resources::patch_merge(t, ctx, spec, id, body)?;
    for m in members {
        t.add_link(id, MEMBERS, &m);
    }
    for o in owners {
        t.add_link(id, OWNERS, &o);
    }
    Ok(())
}

pub fn delete_group(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    // Entra refuses to delete a group that still has licences assigned
    // (entra-docs licensing-group-advanced.md, "Deleting a group with an
    // assigned license": remove them first).
    if t.get(spec.coll, id).is_some_and(|r| r.data.get("assignedLicenses").and_then(Value::as_array).is_some_and(|l| !l.is_empty())) {
        return Err(GraphError::bad_request("Unable to delete the group because there is a product license assigned to the group. To delete this group, remove any product licenses first."));
    }
    let unified = t.get(spec.coll, id).is_some_and(|r| is_unified(&r.data));
    crate::entitlement_incompatible::forget_group(t, id);
    if unified {
        soft_delete(t, ctx, spec.coll, id);
    } else {
        // Security groups are deleted permanently (DC api/directory-deleteditems-restore.md).
        t.remove(spec.coll, id, ChangeKind::HardDelete);
        t.purge_links(id);
    }
    Ok(())
}

fn dup_error(rel: &str) -> GraphError {
    GraphError::bad_request(format!("One or more added object references already exist for the following modified properties: '{rel}'."))
}

fn related(t: &Tenant, ctx: &Ctx, id: &str, rel: &str) -> Vec<Map<String, Value>> {
    t.links(id, rel)
        .map(|s| {
            s.iter()
                .filter(|m| ["users", "groups", crate::directory::DEVICES].iter().any(|c| t.get(c, m).is_some_and(|r| !ctx.lagged(r))))
                .filter_map(|m| as_directory_object(t, m))
                .collect()
        })
        .unwrap_or_default()
}

pub fn expand(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    match e.name.as_str() {
        rel @ (MEMBERS | OWNERS) => {
            // Graph returns at most 20 expanded objects.
            let items: Vec<Value> = related(t, ctx, id, rel).into_iter().take(20).map(Value::Object).collect();
            out.insert(rel.to_string(), Value::Array(items));
            Ok(())
        }
        _ => resources::no_expand(t, ctx, spec, id, rec, e, out),
    }
}

/// Whether a group is role-assignable.
fn assignable(data: &Map<String, Value>) -> bool {
    data.get("isAssignableToRole").and_then(Value::as_bool) == Some(true)
}

/// Creating a role-assignable group, or changing its members or owners,
/// also needs RoleManagement.ReadWrite.Directory (Graph "Create group",
/// example 3; "Add members"): without it Graph answers 403.
fn role_management(ctx: &Ctx) -> Result<(), GraphError> {
    if ctx.granted.iter().any(|p| p.eq_ignore_ascii_case("RoleManagement.ReadWrite.Directory")) {
        return Ok(());
    }
    Err(GraphError::new(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
}

pub fn group_sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let dynamic = t.get(spec.coll, id).is_some_and(|r| is_dynamic(&r.data));
    if matches!(req.method.as_str(), "POST" | "DELETE") && t.get(spec.coll, id).is_some_and(|r| assignable(&r.data)) {
        role_management(ctx)?;
    }
    match (req.method.as_str(), rest) {
        (_, ["assignLicense"]) => crate::subscribed_skus::assign(t, ctx, req, spec.coll, id),
        ("GET", [rel @ (MEMBERS | OWNERS)]) => {
            graph::check_directory_query(spec, ctx, q)?;
            let items = related(t, ctx, id, rel);
            let base = format!("{}/groups/{id}/{rel}", ctx.root());
            graph::list_values(ctx, "directoryObjects", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("GET", [rel @ (MEMBERS | OWNERS), "$count"]) => {
            if !ctx.eventual {
                return Err(GraphError::bad_request("$count is not currently supported."));
            }
            Ok(GResp::text(related(t, ctx, id, rel).len().to_string()))
        }
        ("GET", [rel @ (MEMBERS | OWNERS), "$ref"]) => {
            let items = related(t, ctx, id, rel)
                .into_iter()
                .filter_map(|o| o.get("id").and_then(Value::as_str).map(|m| {
                    let mut r = Map::new();
                    r.insert("@odata.id".into(), json!(format!("{}/directoryObjects/{m}", ctx.root())));
                    r
                }))
                .collect();
            let base = format!("{}/groups/{id}/{rel}/$ref", ctx.root());
            graph::list_values(ctx, "Collection($ref)", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("POST", [rel @ (MEMBERS | OWNERS), "$ref"]) => {
            let body = body_object(req)?;
            let target = body
                .get("@odata.id")
                .and_then(Value::as_str)
                .and_then(id_from_ref)
                .ok_or_else(|| GraphError::bad_request("Invalid URL format specified in @odata.id."))?;
            if *rel == MEMBERS && dynamic {
                return Err(GraphError::bad_request("Members cannot be added to or removed from a group with dynamic membership."));
            }
            referenced(t, ctx, &target)?;
            if target == id && *rel == MEMBERS {
                return Err(GraphError::bad_request("A group cannot be a member of itself."));
            }
            if !t.add_link(id, rel, &target) {
                return Err(dup_error(rel));
            }
            Ok(GResp::empty(204))
        }
        ("DELETE", [rel @ (MEMBERS | OWNERS), member, "$ref"]) => {
            if *rel == MEMBERS && dynamic {
                return Err(GraphError::bad_request("Members cannot be added to or removed from a group with dynamic membership."));
            }
            if !t.remove_link(id, rel, member) {
                return Err(GraphError::not_found(member));
            }
            Ok(GResp::empty(204))
        }
        (_, [MEMBERS | OWNERS, ..]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// The sandbox collection of `group`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::groups::create_group),
    patch: Some(crate::groups::patch_group),
    delete: Some(crate::groups::delete_group),
    lookup: |t, seg| crate::resources::lookup_id(t, "groups", seg),
    expand: crate::groups::expand,
    sub: crate::groups::group_sub,
    entity: Some("group"),
    delta: true,
    ..crate::resources::dir("groups", &["groups"], "groups")
};
