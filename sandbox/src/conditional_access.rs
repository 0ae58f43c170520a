//! Conditional access policies under `/identity/conditionalAccess/policies`.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

const STATES: &[&str] = &["enabled", "disabled", "enabledForReportingButNotEnforced"];

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "BadRequest", msg)
}

/// Entra's answer to a policy its validation refuses (it names no field).
fn malformed() -> GraphError {
    bad("1037: The server could not process the request because it is malformed or incorrect.")
}

/// Whether any of `keys` of `v` is set: a non-empty list or a non-null value.
fn any_set(v: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| match v.get(*k) {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    })
}

fn validate(body: &Map<String, Value>, creating: bool) -> Result<(), GraphError> {
    if creating && body.get("displayName").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return Err(bad("The policy displayName is required."));
    }
    if let Some(s) = body.get("state") {
        if !s.as_str().is_some_and(|s| STATES.contains(&s)) {
            return Err(bad(format!("Invalid value for 'state'. Allowed values: {}.", STATES.join(", "))));
        }
    } else if creating {
        return Err(bad("The policy state is required."));
    }
    if creating {
        let c = body.get("conditions").ok_or_else(|| bad("The policy conditions are required."))?;
        if c.get("users").is_none() || c.get("applications").is_none() {
            return Err(bad("The policy conditions must include users and applications."));
        }
    }
    // What Entra's policy validation refuses, with its generic answer: a
    // policy that targets no application, or no user, group or role, or
    // that neither grants nor controls a session.
    if let Some(c) = body.get("conditions").filter(|c| !c.is_null()) {
        if let Some(apps) = c.get("applications") {
            if !any_set(apps, &["includeApplications", "includeUserActions", "includeAuthenticationContextClassReferences", "applicationFilter"]) {
                return Err(malformed());
            }
        }
        if let Some(users) = c.get("users") {
            if !any_set(users, &["includeUsers", "includeGroups", "includeRoles", "includeGuestsOrExternalUsers"]) {
                return Err(malformed());
            }
        }
    }
    let grant = body.get("grantControls");
    let session = body.get("sessionControls");
    if creating || (grant.is_some() && session.is_some()) {
        let grants = grant.is_some_and(|g| any_set(g, &["builtInControls", "authenticationStrength", "termsOfUse", "customAuthenticationFactors"]));
        let sessions = session.is_some_and(|s| s.as_object().is_some_and(|m| m.iter().any(|(k, v)| !k.starts_with('@') && !v.is_null() && v != &Value::Bool(false))));
        if !grants && !sessions {
            return Err(malformed());
        }
    }
    if let Some(op) = body.get("grantControls").and_then(|g| g.get("operator")) {
        if !matches!(op.as_str(), Some("OR" | "AND")) {
            return Err(bad("Invalid value for 'grantControls.operator'."));
        }
    }
    if let Some(g) = grant.filter(|g| !g.is_null()) {
        let controls: Vec<&str> = g.get("builtInControls").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let strength = g.get("authenticationStrength").is_some_and(|s| !s.is_null());
        let others = controls.len() + usize::from(strength) + g.get("termsOfUse").and_then(Value::as_array).map_or(0, Vec::len);
        if controls.contains(&"block") && others > 1 {
            return Err(bad("Block access cannot be combined with other grant controls."));
        }
        if controls.contains(&"mfa") && strength {
            return Err(bad("Require multifactor authentication and require authentication strength cannot be set together."));
        }
    }
    if let Some(f) = session.and_then(|s| s.get("signInFrequency")).filter(|f| f.get("isEnabled") == Some(&Value::Bool(true))) {
        match f.get("frequencyInterval").and_then(Value::as_str) {
            Some("everyTime") => {
                if f.get("value").is_some_and(|v| !v.is_null()) || f.get("type").is_some_and(|v| !v.is_null()) {
                    return Err(bad("signInFrequency with frequencyInterval everyTime takes no value or type."));
                }
            }
            _ => {
                let value = f.get("value").and_then(Value::as_i64);
                let max = match f.get("type").and_then(Value::as_str) {
                    Some("days") => 365,
                    Some("hours") => 23,
                    _ => return Err(bad("signInFrequency needs a type of days or hours.")),
                };
                if !value.is_some_and(|v| (1..=max).contains(&v)) {
                    return Err(bad(format!("signInFrequency value must be between 1 and {max}.")));
                }
            }
        }
    }
    Ok(())
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    validate(&body, true)?;
    crate::ca_objects::check_policy_references(t, &mut body)?;
    body.remove("id");
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("modifiedDateTime".into(), Value::Null);
    body.entry("templateId").or_insert(Value::Null);
    body.entry("sessionControls").or_insert(Value::Null);
    body.entry("grantControls").or_insert(Value::Null);
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    validate(&body, false)?;
    crate::ca_objects::check_policy_references(t, &mut body)?;
    body.remove("createdDateTime");
    body.insert("modifiedDateTime".into(), json!(ctx.now_iso()));
    resources::patch_merge(t, ctx, spec, id, body)
}

/// The sandbox collection of `conditional_access`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    family: crate::resources::Family::Other,
    create: Some(crate::conditional_access::create),
    patch: Some(crate::conditional_access::patch),
    delete: Some(crate::resources::delete_hard),
    lookup: |t, seg| crate::resources::lookup_id(t, "conditionalAccessPolicies", seg),
    entity: Some("conditionalAccessPolicy"),
    ..crate::resources::dir("conditionalAccessPolicies", &["identity", "conditionalAccess", "policies"], "identity/conditionalAccess/policies")
};
