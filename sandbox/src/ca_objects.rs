//! Named locations (`/identity/conditionalAccess/namedLocations`) and
//! authentication strengths (`/policies/authenticationStrengthPolicies`):
//! what Entra refuses when they are written, and that neither can be
//! deleted while a conditional access policy uses it. Conditional access
//! policies' references to them are checked in `crate::conditional_access`.

use crate::error::GraphError;
use crate::graph::{self, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::{self, Spec};
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

pub const LOCATIONS: &str = "namedLocations";
pub const STRENGTHS: &str = "authenticationStrengthPolicies";
const POLICIES: &str = "conditionalAccessPolicies";

const IP: &str = "#microsoft.graph.ipNamedLocation";
const COUNTRY: &str = "#microsoft.graph.countryNamedLocation";

/// The built-in strengths every tenant has (id, display name).
pub const BUILT_IN_STRENGTHS: &[(&str, &str)] = &[
    ("00000000-0000-0000-0000-000000000002", "Multifactor authentication"),
    ("00000000-0000-0000-0000-000000000003", "Passwordless MFA"),
    ("00000000-0000-0000-0000-000000000004", "Phishing-resistant MFA"),
];

/// `authenticationMethodModes` members (v1.0), without `unknownFutureValue`.
const MODES: &[&str] = &[
    "password", "voice", "hardwareOath", "softwareOath", "sms", "fido2", "windowsHelloForBusiness", "microsoftAuthenticatorPush", "deviceBasedPush",
    "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "email", "x509CertificateSingleFactor", "x509CertificateMultiFactor",
    "federatedSingleFactor", "federatedMultiFactor", "qrCodePin",
];

/// Makes sure the built-in strengths exist, as Graph lists them beside a
/// tenant's own (`policyType: builtIn`).
pub fn ensure_builtins(t: &mut Tenant) {
    let combos: [&[&str]; 3] = [
        &["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse", "password,microsoftAuthenticatorPush", "password,softwareOath", "password,hardwareOath", "password,sms", "password,voice", "federatedMultiFactor", "microsoftAuthenticatorPush,federatedSingleFactor", "softwareOath,federatedSingleFactor", "hardwareOath,federatedSingleFactor", "sms,federatedSingleFactor", "voice,federatedSingleFactor"],
        &["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush"],
        &["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"],
    ];
    for ((id, name), allowed) in BUILT_IN_STRENGTHS.iter().zip(combos) {
        if t.get(STRENGTHS, id).is_none() {
            let data = json!({
                "id": id,
                "createdDateTime": "2022-01-01T00:00:00Z",
                "modifiedDateTime": "2022-01-01T00:00:00Z",
                "displayName": name,
                "description": format!("Built-in authentication strength: {name}."),
                "policyType": "builtIn",
                "requirementsSatisfied": "mfa",
                "allowedCombinations": allowed,
            });
            t.put(STRENGTHS, id, Record { data: data.as_object().cloned().unwrap_or_default(), nav: Map::new(), created_ms: 0 });
        }
    }
}

fn built_in(t: &Tenant, id: &str) -> bool {
    t.get(STRENGTHS, id).and_then(|r| r.data.get("policyType")).and_then(Value::as_str) == Some("builtIn")
}

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "BadRequest", msg)
}

fn odata_type(body: &Map<String, Value>) -> Option<&str> {
    body.get("@odata.type").and_then(Value::as_str)
}

/// Whether `cidr` is `ADDRESS/BITS` with the address family's bits
/// (IPv4 /8 to /32, IPv6 /8 to /128) and no host bits set.
fn valid_cidr(cidr: &str, v6: bool) -> bool {
    let Some((addr, bits)) = cidr.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u32>() else { return false };
    if v6 {
        let Ok(a) = addr.parse::<std::net::Ipv6Addr>() else { return false };
        (8..=128).contains(&bits) && u128::from(a) & u128::MAX.checked_shr(bits).unwrap_or(0) == 0
    } else {
        let Ok(a) = addr.parse::<std::net::Ipv4Addr>() else { return false };
        (8..=32).contains(&bits) && u32::from(a) & u32::MAX.checked_shr(bits).unwrap_or(0) == 0
    }
}

fn check_location(body: &Map<String, Value>, ty: &str) -> Result<(), GraphError> {
    if body.get("displayName").is_some_and(|n| n.as_str().is_none_or(|s| s.trim().is_empty())) {
        return Err(bad("displayName must not be empty."));
    }
    if ty == IP {
        if let Some(ranges) = body.get("ipRanges") {
            let ranges = ranges.as_array().ok_or_else(|| bad("ipRanges must be a collection."))?;
            if ranges.is_empty() {
                return Err(bad("An IP named location needs at least one IP range."));
            }
            for r in ranges {
                let v6 = match r.get("@odata.type").and_then(Value::as_str) {
                    Some("#microsoft.graph.iPv4CidrRange") => false,
                    Some("#microsoft.graph.iPv6CidrRange") => true,
                    _ => return Err(bad("Each IP range needs an @odata.type of #microsoft.graph.iPv4CidrRange or #microsoft.graph.iPv6CidrRange.")),
                };
                let cidr = r.get("cidrAddress").and_then(Value::as_str).unwrap_or_default();
                if !valid_cidr(cidr, v6) {
                    return Err(bad(format!("The IP range '{cidr}' is not a valid CIDR range.")));
                }
            }
        }
    } else if let Some(c) = body.get("countriesAndRegions") {
        let c = c.as_array().ok_or_else(|| bad("countriesAndRegions must be a collection."))?;
        for code in c {
            let ok = code.as_str().is_some_and(|s| s.len() == 2 && s.chars().all(|x| x.is_ascii_uppercase()));
            if !ok {
                return Err(bad(format!("{code} is not a valid country or region code.")));
            }
        }
    }
    Ok(())
}

pub fn create_location(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let ty = odata_type(&body).map(str::to_string).ok_or_else(|| bad("The @odata.type of the named location is required."))?;
    if ty != IP && ty != COUNTRY {
        return Err(bad(format!("'{ty}' is not a named location type.")));
    }
    if body.get("displayName").is_none() {
        return Err(bad("displayName is required."));
    }
    if ty == IP && body.get("ipRanges").is_none() {
        return Err(bad("An IP named location needs at least one IP range."));
    }
    if ty == COUNTRY && body.get("countriesAndRegions").is_none() {
        return Err(bad("countriesAndRegions is required."));
    }
    check_location(&body, &ty)?;
    if ty == IP {
        body.entry("isTrusted").or_insert(json!(false));
    } else {
        body.entry("includeUnknownCountriesAndRegions").or_insert(json!(false));
        body.entry("countryLookupMethod").or_insert(json!("clientIpAddress"));
    }
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("modifiedDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch_location(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let stored = t.get(spec.coll, id).and_then(|r| r.data.get("@odata.type")).and_then(Value::as_str).unwrap_or_default().to_string();
    // Entra needs the location's type in every update, and it must be the
    // stored one: a location's type does not change.
    match odata_type(&body) {
        None => return Err(bad("The @odata.type of the named location is required.")),
        Some(ty) if ty != stored => return Err(bad(format!("The named location is a {stored}; its type cannot change."))),
        Some(_) => {}
    }
    check_location(&body, &stored)?;
    body.remove("@odata.type");
    body.insert("modifiedDateTime".into(), json!(ctx.now_iso()));
    resources::patch_merge(t, ctx, spec, id, body)
}

/// The conditional access policies naming `id` at `pointers`.
fn used_by(t: &Tenant, id: &str, pointers: &[&str]) -> Vec<String> {
    let Some(policies) = t.coll(POLICIES) else { return vec![] };
    policies
        .values()
        .filter(|r| {
            let v = Value::Object(r.data.clone());
            pointers.iter().any(|p| match v.pointer(p) {
                Some(Value::Array(a)) => a.iter().any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(id))),
                Some(Value::String(s)) => s.eq_ignore_ascii_case(id),
                _ => false,
            })
        })
        .map(|r| r.data.get("displayName").and_then(Value::as_str).unwrap_or_default().to_string())
        .collect()
}

pub fn delete_location(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    let users = used_by(t, id, &["/conditions/locations/includeLocations", "/conditions/locations/excludeLocations"]);
    if !users.is_empty() {
        return Err(bad(format!("The named location is used by conditional access policies ({}); remove it from them first.", users.join(", "))));
    }
    resources::delete_hard(t, ctx, spec, id)
}

fn check_combinations(v: &Value) -> Result<(), GraphError> {
    let list = v.as_array().ok_or_else(|| bad("allowedCombinations must be a collection."))?;
    if list.is_empty() {
        return Err(bad("allowedCombinations must not be empty."));
    }
    for c in list {
        let s = c.as_str().ok_or_else(|| bad("Each allowed combination is a string."))?;
        for m in s.split(',').map(str::trim) {
            if !MODES.contains(&m) {
                return Err(bad(format!("Requested value '{m}' was not found in authenticationMethodModes.")));
            }
        }
    }
    Ok(())
}

pub fn create_strength(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    if body.get("displayName").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return Err(bad("displayName is required."));
    }
    check_combinations(body.get("allowedCombinations").unwrap_or(&Value::Null))?;
    match body.get("policyType").and_then(Value::as_str) {
        None | Some("custom") => {}
        Some(other) => return Err(bad(format!("Only custom authentication strengths can be created, not '{other}'."))),
    }
    let name = body.get("displayName").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let taken = BUILT_IN_STRENGTHS.iter().any(|(_, n)| n.to_lowercase() == name)
        || t.coll(spec.coll).is_some_and(|c| c.values().any(|r| r.data.get("displayName").and_then(Value::as_str).is_some_and(|n| n.to_lowercase() == name)));
    if taken {
        return Err(bad("An authentication strength with this display name already exists."));
    }
    body.insert("policyType".into(), json!("custom"));
    body.insert("requirementsSatisfied".into(), json!("mfa"));
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("modifiedDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

pub fn patch_strength(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(bad("A built-in authentication strength cannot be updated."));
    }
    if body.contains_key("allowedCombinations") {
        return Err(bad("allowedCombinations cannot be updated with PATCH; use the updateAllowedCombinations action."));
    }
    if body.contains_key("policyType") {
        return Err(bad("policyType cannot be changed."));
    }
    body.insert("modifiedDateTime".into(), json!(ctx.now_iso()));
    resources::patch_merge(t, ctx, spec, id, body)
}

pub fn delete_strength(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if built_in(t, id) {
        return Err(bad("A built-in authentication strength cannot be deleted."));
    }
    let users = used_by(t, id, &["/grantControls/authenticationStrength/id"]);
    if !users.is_empty() {
        return Err(bad(format!("The authentication strength is used by conditional access policies ({}); remove it from them first.", users.join(", "))));
    }
    resources::delete_hard(t, ctx, spec, id)
}

/// `POST .../{id}/updateAllowedCombinations`.
pub fn strength_sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], _: &Query) -> Result<GResp, GraphError> {
    match (req.method.as_str(), rest) {
        ("POST", ["updateAllowedCombinations"]) => {
            if built_in(t, id) {
                return Err(bad("A built-in authentication strength cannot be updated."));
            }
            let body = graph::body_object(req)?;
            if let Some(k) = body.keys().find(|k| k.as_str() != "allowedCombinations") {
                return Err(bad(format!("The parameter '{k}' in the request payload is not a valid parameter for the operation 'updateAllowedCombinations'.")));
            }
            let now = body.get("allowedCombinations").cloned().unwrap_or(Value::Null);
            check_combinations(&now)?;
            let before = t.get(spec.coll, id).and_then(|r| r.data.get("allowedCombinations")).cloned().unwrap_or(json!([]));
            let stamp = ctx.now_iso();
            t.update(spec.coll, id, |r| {
                r.data.insert("allowedCombinations".into(), now.clone());
                r.data.insert("modifiedDateTime".into(), json!(stamp));
            });
            Ok(GResp::json(
                200,
                json!({
                    "@odata.context": ctx.context("microsoft.graph.updateAllowedCombinationsResult"),
                    "previousCombinations": before,
                    "currentCombinations": now,
                    "additionalInformation": null,
                    "conditionalAccessReferences": used_by(t, id, &["/grantControls/authenticationStrength/id"]),
                }),
            ))
        }
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// Checks a policy's references to named locations and authentication
/// strengths, and expands the strength as Graph returns it.
pub fn check_policy_references(t: &Tenant, body: &mut Map<String, Value>) -> Result<(), GraphError> {
    let v = Value::Object(body.clone());
    for side in ["includeLocations", "excludeLocations"] {
        for l in v.pointer(&format!("/conditions/locations/{side}")).and_then(Value::as_array).into_iter().flatten() {
            let s = l.as_str().unwrap_or_default();
            if s != "All" && s != "AllTrusted" && t.get(LOCATIONS, s).is_none() {
                return Err(bad(format!("The named location '{s}' does not exist.")));
            }
        }
    }
    if let Some(Value::Object(grant)) = body.get_mut("grantControls") {
        match grant.get("authenticationStrength") {
            None | Some(Value::Null) => {}
            Some(s) => {
                let id = s.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                let found = BUILT_IN_STRENGTHS
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map(|(i, n)| json!({ "id": i, "displayName": n, "policyType": "builtIn", "requirementsSatisfied": "mfa" }))
                    .or_else(|| t.get(STRENGTHS, &id).map(|r| Value::Object(r.data.clone())));
                let found = found.ok_or_else(|| bad(format!("The authentication strength '{id}' does not exist.")))?;
                grant.insert("authenticationStrength".into(), found);
            }
        }
    }
    Ok(())
}


/// The sandbox collection of `named_location`, registered in `crate::resources::KIND_SPECS`.
pub static LOCATIONS_SPEC: crate::resources::Spec = crate::resources::Spec {
    family: crate::resources::Family::Other,
    create: Some(crate::ca_objects::create_location),
    patch: Some(crate::ca_objects::patch_location),
    delete: Some(crate::ca_objects::delete_location),
    lookup: |t, seg| crate::resources::lookup_id(t, "namedLocations", seg),
    entity: Some("namedLocation"),
    ..crate::resources::dir(crate::ca_objects::LOCATIONS, &["identity", "conditionalAccess", "namedLocations"], "identity/conditionalAccess/namedLocations")
};

/// The sandbox collection of `authentication_strength`, registered in `crate::resources::KIND_SPECS`.
pub static STRENGTHS_SPEC: crate::resources::Spec = crate::resources::Spec {
    family: crate::resources::Family::Other,
    create: Some(crate::ca_objects::create_strength),
    patch: Some(crate::ca_objects::patch_strength),
    delete: Some(crate::ca_objects::delete_strength),
    lookup: |t, seg| crate::resources::lookup_id(t, "authenticationStrengthPolicies", seg),
    entity: Some("authenticationStrengthPolicy"),
    sub: crate::ca_objects::strength_sub,
    ..crate::resources::dir(crate::ca_objects::STRENGTHS, &["policies", "authenticationStrengthPolicies"], "policies/authenticationStrengthPolicies")
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_ranges_are_checked_like_entra() {
        assert!(valid_cidr("203.0.113.0/24", false));
        assert!(!valid_cidr("203.0.113.1/24", false));
        assert!(!valid_cidr("10.0.0.0/4", false));
        assert!(valid_cidr("2001:db8::/48", true));
        assert!(!valid_cidr("2001:db8::/48", false));
        assert!(!valid_cidr("203.0.113.0", false));
    }
}
