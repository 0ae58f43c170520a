//! Intune enrollment configurations (beta
//! `deviceManagement/deviceEnrollmentConfigurations`): many types in one
//! collection. Every tenant has the built-in ones (priority 0: the default
//! Enrollment Status Page, device limit and platform restrictions), which
//! can be changed but not deleted, reprioritised or assigned. A new
//! configuration gets the next priority among those of its family (Intune
//! ignores a priority sent with it); `setPriority` moves it, shifting the
//! others, and a PATCH cannot change it. `/assign` takes
//! `enrollmentConfigurationAssignments` and replaces the set.

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::Spec;
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

pub const COLL: &str = "deviceEnrollmentConfigurations";

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

/// The types this collection takes, with the family each is ordered in.
const TYPES: &[(&str, &str)] = &[
    ("#microsoft.graph.windows10EnrollmentCompletionPageConfiguration", "esp"),
    ("#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration", "platform"),
    ("#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration", "platform"),
    ("#microsoft.graph.deviceEnrollmentLimitConfiguration", "limit"),
    ("#microsoft.graph.deviceEnrollmentWindowsHelloForBusinessConfiguration", "whfb"),
];

fn family(data: &Map<String, Value>) -> Option<&'static str> {
    let ty = data.get("@odata.type").and_then(Value::as_str)?;
    TYPES.iter().find(|(t, _)| *t == ty).map(|(_, f)| *f)
}

fn priority(r: &Record) -> i64 {
    r.data.get("priority").and_then(Value::as_i64).unwrap_or(0)
}

/// Makes sure the built-in configurations exist.
pub fn ensure_defaults(t: &mut Tenant) {
    let defaults = [
        ("DefaultWindows10EnrollmentCompletionPageConfiguration", json!({
            "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
            "displayName": "All users and all devices",
            "description": "This is the default enrollment status screen configuration applied with the lowest priority to all users and all devices regardless of group membership.",
            "priority": 0, "version": 1, "roleScopeTagIds": ["0"],
            "deviceEnrollmentConfigurationType": "windows10EnrollmentCompletionPageConfiguration",
            "showInstallationProgress": false, "blockDeviceSetupRetryByUser": true, "allowDeviceResetOnInstallFailure": false,
            "allowLogCollectionOnInstallFailure": false, "customErrorMessage": null, "installProgressTimeoutInMinutes": 60,
            "allowDeviceUseOnInstallFailure": false, "selectedMobileAppIds": [], "trackInstallProgressForAutopilotOnly": false,
            "disableUserStatusTrackingAfterFirstUser": false, "allowNonBlockingAppInstallation": false, "installQualityUpdates": false,
        })),
        ("DefaultLimit", json!({
            "@odata.type": "#microsoft.graph.deviceEnrollmentLimitConfiguration",
            "displayName": "All users and all devices",
            "description": "This is the default Device Limit Restriction applied with the lowest priority to all users regardless of group membership.",
            "priority": 0, "version": 1, "roleScopeTagIds": ["0"], "deviceEnrollmentConfigurationType": "limit", "limit": 5,
        })),
        ("DefaultPlatformRestrictions", json!({
            "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
            "displayName": "All users and all devices",
            "description": "This is the default Device Type Restriction applied with the lowest priority to all users regardless of group membership.",
            "priority": 0, "version": 1, "roleScopeTagIds": ["0"], "deviceEnrollmentConfigurationType": "platformRestrictions",
            "windowsRestriction": {"platformBlocked": false, "personalDeviceEnrollmentBlocked": false, "osMinimumVersion": null, "osMaximumVersion": null, "blockedManufacturers": [], "blockedSkus": []},
        })),
    ];
    let prefix = t.info.tenant_id.clone();
    for (suffix, data) in defaults {
        let id = format!("{prefix}_{suffix}");
        if t.get(COLL, &id).is_none() {
            let mut data = data.as_object().cloned().unwrap_or_default();
            data.insert("id".into(), json!(id));
            t.put(COLL, &id, Record { data, nav: Map::new(), created_ms: 0 });
        }
    }
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    let Some(fam) = family(&body) else {
        let ty = body.get("@odata.type").and_then(Value::as_str).unwrap_or("(none)");
        return Err(bad(&format!("'{ty}' is not a device enrollment configuration type this tenant can create.")));
    };
    if body.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration") {
        return Err(bad("The default platform restrictions cannot be created; create a single-platform restriction."));
    }
    if fam == "platform" && body.get("platformType").and_then(Value::as_str).is_none_or(|p| p == "allPlatforms") {
        return Err(bad("Property 'platformType' is required and must name one platform."));
    }
    if fam == "limit" && !body.get("limit").and_then(Value::as_i64).is_some_and(|n| (1..=15).contains(&n)) {
        return Err(bad("Property 'limit' is required and must be between 1 and 15."));
    }
    let next = t.coll(spec.coll).into_iter().flat_map(|m| m.values()).filter(|r| family(&r.data) == Some(fam)).map(priority).max().unwrap_or(0) + 1;
    body.insert("priority".into(), json!(next));
    crate::intune::create(t, ctx, spec, body)
}

pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    let current = t.get(spec.coll, id).map(priority);
    if let (Some(p), Some(current)) = (body.get("priority"), current) {
        if p.as_i64() != Some(current) {
            return Err(bad("The priority of an enrollment configuration is changed through setPriority."));
        }
    }
    crate::intune::patch(t, ctx, spec, id, body)
}

pub fn delete(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    if t.get(spec.coll, id).is_some_and(|r| priority(r) == 0) {
        return Err(bad("The default enrollment configuration cannot be deleted."));
    }
    crate::intune::delete(t, ctx, spec, id)
}

pub fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    if req.method != "POST" || !matches!(rest, ["setPriority"] | ["assign"]) {
        return crate::intune::sub(t, ctx, spec, req, id, rest, q);
    }
    let rec = t.get(spec.coll, id).cloned().ok_or_else(|| crate::graph::not_found(spec, id))?;
    if priority(&rec) == 0 {
        return Err(bad("The default enrollment configuration cannot be reprioritised or assigned."));
    }
    let body = body_object(req)?;
    if rest == ["setPriority"] {
        if let Some(k) = body.keys().find(|k| k.as_str() != "priority") {
            return Err(bad(&format!("The parameter '{k}' in the request payload is not a valid parameter for the operation.")));
        }
        let wanted = body.get("priority").and_then(Value::as_i64).filter(|p| *p >= 1).ok_or_else(|| bad("'priority' must be an integer of at least 1."))?;
        let fam = family(&rec.data);
        let mut order: Vec<(i64, String)> = t
            .coll(spec.coll)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(other, r)| other.as_str() != id && family(&r.data) == fam && priority(r) > 0)
            .map(|(other, r)| (priority(r), other.clone()))
            .collect();
        order.sort();
        let at = usize::try_from(wanted - 1).unwrap_or(0).min(order.len());
        order.insert(at, (0, id.to_string()));
        for (i, (_, other)) in order.iter().enumerate() {
            let n = i as i64 + 1;
            t.update(spec.coll, other, |r| {
                r.data.insert("priority".into(), json!(n));
            });
        }
        return Ok(GResp::empty(204));
    }
    if let Some(k) = body.keys().find(|k| k.as_str() != "enrollmentConfigurationAssignments") {
        return Err(bad(&format!("The parameter '{k}' in the request payload is not a valid parameter for the operation.")));
    }
    let list = body.get("enrollmentConfigurationAssignments").and_then(Value::as_array).cloned().ok_or_else(|| bad("Request body must contain 'enrollmentConfigurationAssignments'."))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut stored = Vec::new();
    for a in &list {
        let (key, mut made) = crate::intune::make_assignment(spec.coll, id, a)?;
        if let Some(m) = made.as_object_mut() {
            m.insert("id".into(), json!(format!("{id}_{key}")));
        }
        let ty = a.pointer("/target/@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
        if seen.insert((key, ty)) {
            stored.push(made);
        }
    }
    t.update(spec.coll, id, |r| {
        r.nav.insert("assignments".into(), Value::Array(stored.clone()));
    });
    Ok(GResp::empty(204))
}

/// The sandbox collection of `enrollment_status_page` and `enrollment_restriction`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::enrollment::create),
    patch: Some(crate::enrollment::patch),
    delete: Some(crate::enrollment::delete),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceEnrollmentConfigurations", seg),
    sub: crate::enrollment::sub,
    entity: Some("deviceEnrollmentConfiguration"),
    assignment_type: Some("#microsoft.graph.enrollmentConfigurationAssignment"),
    writes: &[crate::resources::assign_rule!("enrollmentConfigurationAssignments", "enrollmentConfigurationAssignment")],
    ..crate::resources::intune("deviceEnrollmentConfigurations", &["deviceManagement", "deviceEnrollmentConfigurations"], "deviceManagement/deviceEnrollmentConfigurations")
};
