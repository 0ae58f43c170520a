//! Tenant-wide policies outside the generic collections: the authorization
//! policy (`/policies/authorizationPolicy`, a singleton: GET and PATCH
//! only) and cross-tenant access (`/policies/crossTenantAccessPolicy/default`,
//! a singleton, and `/partners`, keyed by `tenantId`: POST, GET, PATCH,
//! DELETE). Write bodies are checked against Graph's metadata by
//! `validate_write` before they arrive here; here: what the metadata
//! cannot say (a partner needs a `tenantId` GUID, one configuration per
//! tenant, the singletons cannot be created or deleted). PATCH merges
//! complex properties into the stored ones, as Graph does for these.

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::store::{ChangeKind, Record, Tenant};

/// The collections served here rather than by the generic table
/// (`resources::SPECS`): the kind registry's test accepts them.
pub const SERVED: &[&str] = &["/policies/authorizationPolicy", "/policies/crossTenantAccessPolicy/partners"];

const AUTHZ: &str = "authorizationPolicy";
const DEFAULT: &str = "crossTenantAccessDefault";
const PARTNERS: &str = "crossTenantAccessPartners";

fn authorization_default() -> Map<String, Value> {
    json!({
        "id": "authorizationPolicy",
        "displayName": "Authorization Policy",
        "description": "Used to manage authorization related settings across the company.",
        "allowInvitesFrom": "everyone",
        "allowedToSignUpEmailBasedSubscriptions": true,
        "allowedToUseSSPR": true,
        "allowEmailVerifiedUsersToJoinOrganization": false,
        "allowUserConsentForRiskyApps": null,
        "blockMsolPowerShell": false,
        "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
        "defaultUserRolePermissions": {
            "allowedToCreateApps": true,
            "allowedToCreateSecurityGroups": true,
            "allowedToCreateTenants": true,
            "allowedToReadBitlockerKeysForOwnedDevice": true,
            "allowedToReadOtherUsers": true,
            "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]
        }
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn all(users: &str, apps: &str) -> Value {
    json!({
        "usersAndGroups": {"accessType": "allowed", "targets": [{"target": users, "targetType": "user"}]},
        "applications": {"accessType": "allowed", "targets": [{"target": apps, "targetType": "application"}]}
    })
}

fn cross_tenant_default() -> Map<String, Value> {
    json!({
        "isServiceDefault": true,
        "inboundTrust": {"isMfaAccepted": false, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false},
        "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": false},
        "b2bCollaborationInbound": all("AllUsers", "AllApplications"),
        "b2bCollaborationOutbound": all("AllUsers", "AllApplications"),
        "b2bDirectConnectInbound": {"usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]}, "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}},
        "b2bDirectConnectOutbound": {"usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]}, "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}}
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// `from` merged into `into`: complex values property by property.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        if k.starts_with('@') {
            continue;
        }
        match (into.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) if !new.contains_key("targets") => merge(old, new),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn singleton(t: &mut Tenant, coll: &str, init: fn() -> Map<String, Value>) -> Map<String, Value> {
    match t.get(coll, "singleton") {
        Some(r) => r.data.clone(),
        None => init(),
    }
}

fn store(t: &mut Tenant, ctx: &Ctx, coll: &str, id: &str, data: Map<String, Value>) {
    t.put(coll, id, Record { data, nav: Map::new(), created_ms: ctx.now_ms });
}

fn with_context(ctx: &Ctx, tail: &str, data: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx.context(tail)));
    out.extend(data);
    Value::Object(out)
}

/// `/policies/authorizationPolicy`.
pub fn authorization_policy(t: &mut Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    match req.method.as_str() {
        "GET" => Ok(GResp::json(200, with_context(ctx, "policies/authorizationPolicy/$entity", singleton(t, AUTHZ, authorization_default)))),
        "PATCH" => {
            let body = body_object(req)?;
            if let Some(role) = body.get("guestUserRoleId").and_then(Value::as_str) {
                const ROLES: [&str; 3] = ["a0b1b346-4d3e-4e8b-98f8-753987be4970", "10dae51f-b6af-4016-8d66-8c2a99b929b3", "2af84b1e-32c8-42b7-82bc-daa82404023b"];
                if !ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)) {
                    return Err(GraphError::bad_request(format!("Invalid value specified for property 'guestUserRoleId' of resource 'AuthorizationPolicy': {role} is not a guest user role.")));
                }
            }
            let mut data = singleton(t, AUTHZ, authorization_default);
            merge(&mut data, body);
            store(t, ctx, AUTHZ, "singleton", data);
            Ok(GResp::empty(204))
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn partner_not_found(id: &str) -> GraphError {
    GraphError::new(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."))
}

/// `/policies/crossTenantAccessPolicy/{default | partners[/{tenantId}]}`.
pub fn cross_tenant_access(t: &mut Tenant, ctx: &Ctx, req: &GReq, rest: &[&str]) -> Result<GResp, GraphError> {
    match (req.method.as_str(), rest) {
        ("GET", ["default"]) => Ok(GResp::json(200, with_context(ctx, "policies/crossTenantAccessPolicy/default/$entity", singleton(t, DEFAULT, cross_tenant_default)))),
        ("PATCH", ["default"]) => {
            let body = body_object(req)?;
            let mut data = singleton(t, DEFAULT, cross_tenant_default);
            merge(&mut data, body);
            data.insert("isServiceDefault".into(), json!(false));
            store(t, ctx, DEFAULT, "singleton", data);
            Ok(GResp::empty(204))
        }
        ("GET", ["partners"]) => {
            let value: Vec<Value> = t.coll(PARTNERS).into_iter().flat_map(|c| c.values()).map(|r| Value::Object(r.data.clone())).collect();
            Ok(GResp::json(200, json!({"@odata.context": ctx.context("policies/crossTenantAccessPolicy/partners"), "value": value})))
        }
        ("POST", ["partners"]) => {
            let body = body_object(req)?;
            let tenant = body.get("tenantId").and_then(Value::as_str).map(str::to_lowercase).unwrap_or_default();
            if !schema_guid(&tenant) {
                return Err(GraphError::bad_request("tenantId is required and must be a tenant id (a GUID)."));
            }
            if t.get(PARTNERS, &tenant).is_some() {
                return Err(GraphError::new(409, "Request_MultipleObjectsWithSameKeyValue", format!("A partner configuration for tenant {tenant} already exists.")));
            }
            let mut data = Map::new();
            data.insert("tenantId".into(), json!(tenant));
            data.insert("isServiceProvider".into(), json!(false));
            data.insert("isInMultiTenantOrganization".into(), json!(false));
            merge(&mut data, body);
            data.insert("tenantId".into(), json!(tenant));
            store(t, ctx, PARTNERS, &tenant, data.clone());
            Ok(GResp::json(201, with_context(ctx, "policies/crossTenantAccessPolicy/partners/$entity", data)))
        }
        ("GET", ["partners", id]) => t
            .get(PARTNERS, &id.to_lowercase())
            .map(|r| GResp::json(200, with_context(ctx, "policies/crossTenantAccessPolicy/partners/$entity", r.data.clone())))
            .ok_or_else(|| partner_not_found(id)),
        ("PATCH", ["partners", id]) => {
            let key = id.to_lowercase();
            let mut data = t.get(PARTNERS, &key).map(|r| r.data.clone()).ok_or_else(|| partner_not_found(id))?;
            let body = body_object(req)?;
            if body.get("tenantId").and_then(Value::as_str).is_some_and(|b| !b.eq_ignore_ascii_case(&key)) {
                return Err(GraphError::bad_request("tenantId cannot be changed."));
            }
            merge(&mut data, body);
            store(t, ctx, PARTNERS, &key, data);
            Ok(GResp::empty(204))
        }
        ("DELETE", ["partners", id]) => t.remove(PARTNERS, &id.to_lowercase(), ChangeKind::HardDelete).map(|_| GResp::empty(204)).ok_or_else(|| partner_not_found(id)),
        (_, ["default"] | ["partners"] | ["partners", _]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or("crossTenantAccessPolicy"))),
    }
}

fn schema_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36 && b.iter().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}
