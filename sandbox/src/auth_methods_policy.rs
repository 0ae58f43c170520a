//! The authentication methods policy (`/policies/authenticationMethodsPolicy`,
//! v1.0): a singleton every tenant has, with Entra's default method
//! configurations. GET returns it with `authenticationMethodConfigurations`
//! expanded; PATCH updates the policy (not its configurations) or one
//! configuration (`authenticationMethodConfigurations/{id}`, which needs
//! the method's own `@odata.type`). Neither can be created or deleted.

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

const COLL: &str = "authenticationMethodsPolicy";
const CONFIGS: &str = "authenticationMethodConfigurations";
const ID: &str = "authenticationMethodsPolicy";

/// Entra's method configurations on a new tenant: (id, type, state).
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("MicrosoftAuthenticator", "microsoftAuthenticatorAuthenticationMethodConfiguration", "enabled"),
    ("Fido2", "fido2AuthenticationMethodConfiguration", "disabled"),
    ("TemporaryAccessPass", "temporaryAccessPassAuthenticationMethodConfiguration", "disabled"),
    ("Sms", "smsAuthenticationMethodConfiguration", "disabled"),
    ("Voice", "voiceAuthenticationMethodConfiguration", "disabled"),
    ("Email", "emailAuthenticationMethodConfiguration", "disabled"),
    ("SoftwareOath", "softwareOathAuthenticationMethodConfiguration", "disabled"),
    ("X509Certificate", "x509CertificateAuthenticationMethodConfiguration", "disabled"),
];

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "badRequest", msg)
}

fn default_config(id: &str, ty: &str, state: &str) -> Value {
    let all = json!([{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}]);
    let mut c = json!({"@odata.type": format!("#microsoft.graph.{ty}"), "id": id, "state": state, "excludeTargets": [], "includeTargets": all});
    match id {
        "MicrosoftAuthenticator" => {
            c["includeTargets"][0]["authenticationMode"] = json!("any");
            c["isSoftwareOathEnabled"] = json!(false);
            let feature = json!({"state": "default", "includeTarget": {"targetType": "group", "id": "all_users"}, "excludeTarget": {"targetType": "group", "id": "00000000-0000-0000-0000-000000000000"}});
            c["featureSettings"] = json!({"displayAppInformationRequiredState": feature.clone(), "displayLocationInformationRequiredState": feature});
        }
        "Fido2" => {
            c["isAttestationEnforced"] = json!(false);
            c["isSelfServiceRegistrationAllowed"] = json!(true);
            c["keyRestrictions"] = json!({"isEnforced": false, "enforcementType": "block", "aaGuids": []});
        }
        "TemporaryAccessPass" => {
            for (k, v) in [("defaultLifetimeInMinutes", json!(60)), ("defaultLength", json!(8)), ("minimumLifetimeInMinutes", json!(60)), ("maximumLifetimeInMinutes", json!(480)), ("isUsableOnce", json!(false))] {
                c[k] = v;
            }
        }
        "Email" => c["allowExternalIdToUseEmailOtp"] = json!("default"),
        "Voice" => c["isOfficePhoneAllowed"] = json!(false),
        _ => {}
    }
    c
}

/// Makes sure the policy exists, as on every tenant.
pub fn ensure(t: &mut Tenant) {
    if t.get(COLL, ID).is_some() {
        return;
    }
    let configs: Vec<Value> = DEFAULTS.iter().map(|(id, ty, state)| default_config(id, ty, state)).collect();
    let data = json!({
        "id": ID,
        "displayName": "Authentication Methods Policy",
        "description": "The tenant-wide policy that controls which authentication methods are allowed in the tenant, authentication method registration requirements, and self-service password reset settings",
        "lastModifiedDateTime": "2024-01-01T00:00:00Z",
        "policyVersion": "1.5",
        "policyMigrationState": "migrationComplete",
        "reconfirmationInDays": 0,
        "registrationEnforcement": {"authenticationMethodsRegistrationCampaign": {"snoozeDurationInDays": 1, "state": "default", "excludeTargets": [], "includeTargets": [{"id": "all_users", "targetType": "group", "targetedAuthenticationMethod": "microsoftAuthenticator"}]}},
    });
    let mut nav = Map::new();
    nav.insert(CONFIGS.into(), Value::Array(configs));
    t.put(COLL, ID, Record { data: data.as_object().cloned().unwrap_or_default(), nav, created_ms: 0 });
}

fn configs(t: &Tenant) -> Vec<Value> {
    t.get(COLL, ID).and_then(|r| r.nav.get(CONFIGS)).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Checks a list of targets: each an object with a `targetType` of user or
/// group and an `id` that is `all_users` or an existing object of it.
fn check_targets(t: &Tenant, v: &Value, what: &str, user_ok: bool) -> Result<(), GraphError> {
    let list = v.as_array().ok_or_else(|| bad(format!("{what} must be a collection.")))?;
    for x in list {
        let id = x.get("id").and_then(Value::as_str).ok_or_else(|| bad(format!("Each of {what} needs an id.")))?;
        let ty = x.get("targetType").and_then(Value::as_str).unwrap_or_default();
        let exists = match ty {
            "group" => id == "all_users" || t.get("groups", id).is_some(),
            "user" if user_ok => t.get("users", id).is_some(),
            _ => return Err(bad(format!("'{ty}' is not a valid targetType for {what}."))),
        };
        if !exists {
            return Err(GraphError::new(400, "badRequest", format!("The {ty} '{id}' in {what} does not exist.")));
        }
    }
    Ok(())
}

/// `/policies/authenticationMethodsPolicy[/authenticationMethodConfigurations[/{id}]]`.
pub fn handle(t: &mut Tenant, ctx: &Ctx, req: &GReq, rest: &[&str]) -> Result<GResp, GraphError> {
    ensure(t);
    match (req.method.as_str(), rest) {
        ("GET", []) => {
            let rec = t.get(COLL, ID).cloned().ok_or_else(|| GraphError::not_found(ID))?;
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context("policies/authenticationMethodsPolicy/$entity")));
            out.extend(rec.data);
            out.insert(format!("{CONFIGS}@odata.context"), json!(ctx.context("policies/authenticationMethodsPolicy/authenticationMethodConfigurations")));
            out.insert(CONFIGS.into(), Value::Array(configs(t)));
            Ok(GResp::json(200, Value::Object(out)))
        }
        ("PATCH", []) => {
            let body = body_object(req)?;
            if body.contains_key(CONFIGS) {
                return Err(bad("authenticationMethodConfigurations are updated each through its own resource."));
            }
            if let Some(c) = body.get("registrationEnforcement").and_then(|r| r.get("authenticationMethodsRegistrationCampaign")) {
                let state = c.get("state").and_then(Value::as_str).unwrap_or_default();
                if !["default", "enabled", "disabled"].contains(&state) {
                    return Err(bad(format!("'{state}' is not a valid registration campaign state.")));
                }
                let snooze = c.get("snoozeDurationInDays").and_then(Value::as_i64).unwrap_or(-1);
                if !(0..=14).contains(&snooze) {
                    return Err(bad("snoozeDurationInDays must be between 0 and 14."));
                }
                check_targets(t, c.get("includeTargets").unwrap_or(&json!([])), "includeTargets", true)?;
                check_targets(t, c.get("excludeTargets").unwrap_or(&json!([])), "excludeTargets", true)?;
            }
            let now = ctx.now_iso();
            t.update(COLL, ID, |r| {
                for (k, v) in body {
                    if k != "id" && !k.starts_with('@') {
                        r.data.insert(k, v);
                    }
                }
                r.data.insert("lastModifiedDateTime".into(), json!(now));
            });
            Ok(GResp::empty(204))
        }
        ("GET", [CONFIGS]) => Ok(GResp::json(200, json!({"@odata.context": ctx.context("policies/authenticationMethodsPolicy/authenticationMethodConfigurations"), "value": configs(t)}))),
        ("GET", [CONFIGS, id]) => {
            let c = configs(t).into_iter().find(|c| c.get("id").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(id))).ok_or_else(|| GraphError::not_found(id))?;
            Ok(GResp::json(200, c))
        }
        ("PATCH", [CONFIGS, id]) => {
            let body = body_object(req)?;
            let mut all = configs(t);
            let c = all.iter_mut().find(|c| c.get("id").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(id))).ok_or_else(|| GraphError::not_found(id))?;
            let ty = c.get("@odata.type").cloned().unwrap_or(Value::Null);
            if body.get("@odata.type") != Some(&ty) {
                return Err(bad(format!("The request's @odata.type must be {} for this authentication method.", ty.as_str().unwrap_or_default())));
            }
            if let Some(s) = body.get("state").and_then(Value::as_str) {
                if s != "enabled" && s != "disabled" {
                    return Err(bad(format!("'{s}' is not a valid authenticationMethodState.")));
                }
            }
            if let Some(v) = body.get("includeTargets") {
                check_targets(t, v, "includeTargets", false)?;
            }
            if let Some(v) = body.get("excludeTargets") {
                check_targets(t, v, "excludeTargets", false)?;
                if v.as_array().into_iter().flatten().any(|x| x.get("id").and_then(Value::as_str) == Some("all_users")) {
                    return Err(bad("all_users cannot be excluded."));
                }
            }
            let lifetimes = ["minimumLifetimeInMinutes", "defaultLifetimeInMinutes", "maximumLifetimeInMinutes"];
            for k in lifetimes {
                if let Some(n) = body.get(k).and_then(Value::as_i64).filter(|n| !(10..=43200).contains(n)) {
                    return Err(bad(format!("{k} must be between 10 and 43200, not {n}.")));
                }
            }
            if let Some(o) = c.as_object_mut() {
                for (k, v) in body {
                    if k != "id" && k != "@odata.type" {
                        o.insert(k, v);
                    }
                }
            }
            let min = c.get(lifetimes[0]).and_then(Value::as_i64).unwrap_or(0);
            let max = c.get(lifetimes[2]).and_then(Value::as_i64).unwrap_or(i64::MAX);
            let def = c.get(lifetimes[1]).and_then(Value::as_i64).unwrap_or(min);
            if min > max || def < min || def > max {
                return Err(bad("defaultLifetimeInMinutes must lie between minimumLifetimeInMinutes and maximumLifetimeInMinutes."));
            }
            t.update(COLL, ID, |r| {
                r.nav.insert(CONFIGS.into(), Value::Array(all));
            });
            Ok(GResp::empty(204))
        }
        ("POST" | "DELETE" | "PUT", _) => Err(GraphError::method_not_allowed()),
        (_, [seg, ..]) => Err(GraphError::no_segment(seg)),
        _ => Err(GraphError::method_not_allowed()),
    }
}
