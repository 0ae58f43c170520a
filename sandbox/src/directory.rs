//! Entra ID directory objects other than groups: users (create with Graph's
//! required properties and verified-domain UPNs, soft delete), invitations
//! (guest users), `/directory/deletedItems` (list, restore, purge),
//! `/directoryObjects/{id}`, `/organization` and `/domains`.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::{self, Spec, DIR_MAX, DIR_PAGE};
use crate::store::{ChangeKind, Tenant, MEMBERS};
use serde_json::{json, Map, Value};

/// Properties Graph returns for a user when no `$select` is given.
pub static USER_DEFAULT_SELECT: &[&str] =
    &["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"];

const DELETED: &str = "deletedItems";

pub fn lookup_user(t: &Tenant, seg: &str) -> Option<String> {
    if seg.contains('@') {
        t.user_by_upn(seg).map(str::to_string)
    } else {
        resources::lookup_id(t, "users", seg)
    }
}

fn invalid_value(prop: &str, resource: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid value specified for property '{prop}' of resource '{resource}'.")).with_detail("InvalidValue", prop)
}

/// Graph's rule for `mailNickname`: 1-64 ASCII characters, none of `@()\[]";:.<>,` or space.
pub fn valid_mail_nickname(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && !"@()\\[]\";:<>, ".contains(c))
}

fn check_upn(t: &Tenant, upn: &str, except: Option<&str>) -> Result<(), GraphError> {
    let (local, domain) = upn.rsplit_once('@').ok_or_else(|| invalid_value("userPrincipalName", "User"))?;
    if local.is_empty() || local.len() > 113 || local.starts_with('.') || local.contains(' ') {
        return Err(invalid_value("userPrincipalName", "User"));
    }
    if !domain.eq_ignore_ascii_case(&t.info.domain) {
        return Err(GraphError::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        )
        .with_detail("InvalidValue", "userPrincipalName"));
    }
    if let Some(existing) = t.user_by_upn(upn) {
        if Some(existing) != except {
            return Err(GraphError::bad_request("Another object with the same value for property userPrincipalName already exists.")
                .with_detail("ObjectConflict", "userPrincipalName"));
        }
    }
    Ok(())
}

fn check_common_user_props(body: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(v) = body.get("mailNickname") {
        if !v.as_str().is_some_and(valid_mail_nickname) {
            return Err(invalid_value("mailNickname", "User"));
        }
    }
    if let Some(v) = body.get("usageLocation") {
        let ok = v.is_null() || v.as_str().is_some_and(|s| s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()));
        if !ok {
            return Err(invalid_value("usageLocation", "User"));
        }
    }
    if let Some(v) = body.get("accountEnabled") {
        if !v.is_boolean() {
            return Err(invalid_value("accountEnabled", "User"));
        }
    }
    if let Some(v) = body.get("displayName") {
        if !v.as_str().is_some_and(|s| !s.trim().is_empty() && s.len() <= 256) {
            return Err(invalid_value("displayName", "User"));
        }
    }
    Ok(())
}

/// Fills the properties Graph always has on a user.
pub fn user_defaults(ctx: &Ctx, body: &mut Map<String, Value>, user_type: &str) {
    for k in ["givenName", "surname", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "usageLocation", "department", "employeeId"] {
        body.entry(k).or_insert(Value::Null);
    }
    body.entry("businessPhones").or_insert(json!([]));
    body.entry("userType").or_insert(json!(user_type));
    body.entry("createdDateTime").or_insert(json!(ctx.now_iso()));
    body.entry("passwordPolicies").or_insert(Value::Null);
    // Write-only: Graph never returns the password.
    body.remove("passwordProfile");
}

pub fn create_user(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    for prop in ["accountEnabled", "displayName", "mailNickname", "userPrincipalName"] {
        if body.get(prop).is_none_or(Value::is_null) {
            return Err(GraphError::bad_request(format!("Property '{prop}' is required when creating the object.")).with_detail("PropertyRequired", prop));
        }
    }
    let pw = body.get("passwordProfile").and_then(|p| p.get("password")).and_then(Value::as_str);
    match pw {
        None => return Err(GraphError::bad_request("Property 'passwordProfile' is required when creating the object.").with_detail("PropertyRequired", "passwordProfile")),
        Some(p) if p.len() < 8 => {
            return Err(GraphError::bad_request(
                "The specified password does not comply with password complexity requirements. Please provide a different password.",
            ))
        }
        Some(_) => {}
    }
    check_common_user_props(&body)?;
    let upn = body.get("userPrincipalName").and_then(Value::as_str).ok_or_else(|| invalid_value("userPrincipalName", "User"))?.to_string();
    check_upn(t, &upn, None)?;
    body.remove("id");
    user_defaults(ctx, &mut body, "Member");
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch_user(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    check_common_user_props(&body)?;
    if let Some(upn) = body.get("userPrincipalName") {
        let upn = upn.as_str().ok_or_else(|| invalid_value("userPrincipalName", "User"))?;
        check_upn(t, upn, Some(id))?;
    }
    body.remove("passwordProfile");
    resources::patch_merge(t, ctx, spec, id, body)
}

pub fn delete_user(t: &mut Tenant, ctx: &Ctx, _: &Spec, id: &str) -> Result<(), GraphError> {
    soft_delete(t, ctx, "users", id);
    Ok(())
}

/// Moves an object into deleted items (restorable for 30 days).
pub fn soft_delete(t: &mut Tenant, ctx: &Ctx, coll: &str, id: &str) {
    if let Some(mut rec) = t.remove(coll, id, ChangeKind::SoftDelete) {
        rec.data.insert("deletedDateTime".into(), json!(ctx.now_iso()));
        rec.nav.insert("_from".into(), json!(coll));
        t.put(DELETED, id, rec);
    }
}

/// Devices (Entra ID device objects): group members of type
/// `#microsoft.graph.device`, as Autopilot and enrolment add them to device
/// groups. Tests create them through the admin API.
pub const DEVICES: &str = "devices";

/// The `@odata.type` of a directory object `id` that groups may hold.
pub fn member_odata_type(t: &Tenant, id: &str) -> &'static str {
    ["groups", DEVICES].into_iter().find(|c| t.get(c, id).is_some()).map(odata_type_for).unwrap_or("#microsoft.graph.user")
}

fn odata_type_for(coll: &str) -> &'static str {
    match coll {
        "groups" => "#microsoft.graph.group",
        DEVICES => "#microsoft.graph.device",
        crate::administrative_units::UNITS => "#microsoft.graph.administrativeUnit",
        _ => "#microsoft.graph.user",
    }
}

/// An object as a directoryObject (with `@odata.type`).
pub fn as_directory_object(t: &Tenant, id: &str) -> Option<Map<String, Value>> {
    for coll in ["users", "groups", DEVICES] {
        if let Some(rec) = t.get(coll, id) {
            let mut out = Map::new();
            out.insert("@odata.type".into(), json!(odata_type_for(coll)));
            let data = if coll == "users" {
                crate::odata::select(rec.data.clone(), &USER_DEFAULT_SELECT.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &[])
            } else {
                rec.data.clone()
            };
            out.extend(data);
            return Some(out);
        }
    }
    None
}

pub fn user_sub(t: &mut Tenant, ctx: &Ctx, _: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    match rest {
        ["memberOf"] | ["transitiveMemberOf"] if req.method == "GET" => {
            let items: Vec<Map<String, Value>> = t.groups_with(MEMBERS, id).iter().filter_map(|g| as_directory_object(t, g)).collect();
            let base = format!("{}/users/{id}/{}", ctx.root(), rest[0]);
            graph::list_values(ctx, "directoryObjects", &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ["assignLicense"] => crate::subscribed_skus::assign(t, ctx, req, "users", id),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

pub fn invitations(t: &mut Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    if req.method != "POST" {
        return Err(GraphError::method_not_allowed());
    }
    let body = body_object(req)?;
    let email = body.get("invitedUserEmailAddress").and_then(Value::as_str).filter(|s| s.contains('@')).map(str::to_string);
    let Some(email) = email else {
        return Err(GraphError::new(400, "BadRequest", "Invalid value specified for property 'invitedUserEmailAddress' of resource 'Invitation'."));
    };
    let Some(redirect) = body.get("inviteRedirectUrl").and_then(Value::as_str).map(str::to_string) else {
        return Err(GraphError::new(400, "BadRequest", "Invalid value specified for property 'inviteRedirectUrl' of resource 'Invitation'."));
    };
    let user_type = body.get("invitedUserType").and_then(Value::as_str).unwrap_or("Guest").to_string();
    let display = body.get("invitedUserDisplayName").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let nick: String = email.replace('@', "_").chars().filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).take(64).collect();
    let upn = format!("{nick}#EXT#@{}", t.info.domain);
    let user_id = match t.user_by_upn(&upn) {
        Some(id) => id.to_string(),
        None => {
            let mut u = Map::new();
            u.insert("accountEnabled".into(), json!(true));
            u.insert("displayName".into(), json!(display));
            u.insert("mailNickname".into(), json!(nick));
            u.insert("userPrincipalName".into(), json!(upn));
            u.insert("mail".into(), json!(email));
            u.insert("otherMails".into(), json!([email]));
            u.insert("creationType".into(), json!("Invitation"));
            u.insert("externalUserState".into(), json!("PendingAcceptance"));
            user_defaults(ctx, &mut u, &user_type);
            resources::insert_new(t, ctx, "users", u, Map::new())
        }
    };
    let inv_id = resources::new_id();
    let send = body.get("sendInvitationMessage").cloned().unwrap_or(json!(false));
    let msg = body.get("invitedUserMessageInfo").cloned().unwrap_or(json!({"messageLanguage": null, "ccRecipients": [], "customizedMessageBody": null}));
    Ok(GResp::json(
        201,
        json!({
            "@odata.context": ctx.context("invitations/$entity"),
            "id": inv_id,
            "inviteRedeemUrl": format!("{}/redeem?rd={inv_id}", ctx.base),
            "invitedUserDisplayName": display,
            "invitedUserType": user_type,
            "invitedUserEmailAddress": email,
            "sendInvitationMessage": send,
            "resetRedemption": false,
            "inviteRedirectUrl": redirect,
            "status": "PendingAcceptance",
            "invitedUserMessageInfo": msg,
            "invitedUser": {"id": user_id}
        }),
    ))
}

fn deleted_view(rec: &crate::store::Record) -> Map<String, Value> {
    let from = rec.nav.get("_from").and_then(Value::as_str).unwrap_or("users");
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(odata_type_for(from)));
    out.extend(rec.data.clone());
    out
}

/// The resource type of a deleted item (`user`, `group` or
/// `administrativeUnit`), for the
/// permissions that depend on it.
fn deleted_kind(rec: &crate::store::Record) -> &'static str {
    match rec.nav.get("_from").and_then(Value::as_str) {
        Some("groups") => "group",
        Some(crate::administrative_units::UNITS) => "administrativeUnit",
        _ => "user",
    }
}

pub fn deleted_items(t: &mut Tenant, ctx: &Ctx, req: &GReq, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    match (req.method.as_str(), rest) {
        ("GET", [cast @ ("microsoft.graph.user" | "microsoft.graph.group" | "microsoft.graph.administrativeUnit")]) => {
            let want = match *cast {
                "microsoft.graph.user" => "users",
                "microsoft.graph.group" => "groups",
                _ => crate::administrative_units::UNITS,
            };
            let items: Vec<Map<String, Value>> = t
                .coll(DELETED)
                .map(|c| c.values().filter(|r| r.nav.get("_from").and_then(Value::as_str) == Some(want)).map(deleted_view).collect())
                .unwrap_or_default();
            let base = format!("{}/directory/deletedItems/{cast}", ctx.root());
            graph::list_values(ctx, &format!("directory/deletedItems/{cast}"), &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("GET", []) => Err(GraphError::bad_request("A type cast segment such as 'microsoft.graph.user' is required for deletedItems.")),
        ("GET", [id]) => {
            let rec = t.get(DELETED, id).ok_or_else(|| GraphError::not_found(id))?;
            crate::permissions::check_for(ctx, req, deleted_kind(rec))?;
            let mut out = deleted_view(rec);
            out.insert("@odata.context".into(), json!(ctx.context("directory/deletedItems/$entity")));
            graph::move_context_first(&mut out);
            Ok(GResp::json(200, Value::Object(out)))
        }
        ("DELETE", [id]) => {
            if let Some(rec) = t.get(DELETED, id) {
                crate::permissions::check_for(ctx, req, deleted_kind(rec))?;
            }
            let rec = t.remove(DELETED, id, ChangeKind::HardDelete).ok_or_else(|| GraphError::not_found(id))?;
            let from = rec.nav.get("_from").and_then(Value::as_str).unwrap_or("users").to_string();
            // Delta reports the permanent deletion against the original collection.
            t.log_external(&from, id, ChangeKind::HardDelete);
            t.purge_links(id);
            Ok(GResp::empty(204))
        }
        ("POST", [id, "restore"]) => {
            let rec = t.get(DELETED, id).cloned().ok_or_else(|| GraphError::not_found(id))?;
            crate::permissions::check_for(ctx, req, deleted_kind(&rec))?;
            let from = rec.nav.get("_from").and_then(Value::as_str).unwrap_or("users").to_string();
            if from == "users" {
                if let Some(upn) = rec.data.get("userPrincipalName").and_then(Value::as_str) {
                    if t.user_by_upn(upn).is_some() {
                        return Err(GraphError::bad_request("Another object with the same value for property userPrincipalName already exists.")
                            .with_detail("ObjectConflict", "userPrincipalName"));
                    }
                }
            }
            t.remove(DELETED, id, ChangeKind::HardDelete);
            let mut rec = rec;
            rec.nav.remove("_from");
            rec.data.insert("deletedDateTime".into(), Value::Null);
            t.put(&from, id, rec.clone());
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context("directoryObjects/$entity")));
            out.insert("@odata.type".into(), json!(odata_type_for(&from)));
            out.extend(rec.data);
            Ok(GResp::json(200, Value::Object(out)))
        }
        (_, [seg, ..]) if !seg.is_empty() => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::method_not_allowed()),
    }
}

pub fn directory_object(t: &mut Tenant, ctx: &Ctx, req: &GReq, id: &str, _: &Query) -> Result<GResp, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    let visible = ["users", "groups"].iter().any(|c| t.get(c, id).is_some_and(|r| !ctx.lagged(r)));
    let mut out = as_directory_object(t, id).filter(|_| visible).ok_or_else(|| GraphError::not_found(id))?;
    out.insert("@odata.context".into(), json!(ctx.context("directoryObjects/$entity")));
    graph::move_context_first(&mut out);
    Ok(GResp::json(200, Value::Object(out)))
}

pub fn organization(t: &mut Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    Ok(GResp::json(
        200,
        json!({
            "@odata.context": ctx.context("organization"),
            "value": [{
                "id": t.info.tenant_id,
                "displayName": t.info.display_name,
                "tenantType": "AAD",
                "verifiedDomains": [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": t.info.domain, "type": "Managed"}]
            }]
        }),
    ))
}

pub fn domains(t: &mut Tenant, ctx: &Ctx, req: &GReq) -> Result<GResp, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    Ok(GResp::json(
        200,
        json!({
            "@odata.context": ctx.context("domains"),
            "value": [{"id": t.info.domain, "authenticationType": "Managed", "isDefault": true, "isInitial": true, "isVerified": true, "supportedServices": ["Email", "OfficeCommunicationsOnline"]}]
        }),
    ))
}

/// The sandbox collection of `user` and `guest`, registered in `crate::resources::KIND_SPECS`.
pub static USERS_SPEC: crate::resources::Spec = crate::resources::Spec {
    default_select: Some(crate::directory::USER_DEFAULT_SELECT),
    create: Some(crate::directory::create_user),
    patch: Some(crate::directory::patch_user),
    delete: Some(crate::directory::delete_user),
    lookup: crate::directory::lookup_user,
    sub: crate::directory::user_sub,
    entity: Some("user"),
    delta: true,
    ..crate::resources::dir("users", &["users"], "users")
};
