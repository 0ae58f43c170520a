//! Windows update profiles (beta only): feature update profiles
//! (`windowsFeatureUpdateProfiles`), quality update (expedite) profiles
//! (`windowsQualityUpdateProfiles`) and driver update profiles
//! (`windowsDriverUpdateProfiles`). Types, enums and unknown properties are
//! refused by `validate_write` from the metadata; this adds what Intune
//! requires beyond the types (required properties, ranges, the Windows
//! versions it deploys, an approval type that cannot change) and what it
//! sets itself (scope tags, reporting properties, timestamps). PATCH goes
//! through the generic Intune rules (`@odata.type` required and matching).

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::store::Tenant;
use serde_json::{json, Map, Value};

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

fn required(body: &Map<String, Value>, prop: &str) -> Result<(), GraphError> {
    match body.get(prop) {
        None | Some(Value::Null) => Err(bad(&format!("Property '{prop}' is required."))),
        Some(Value::String(s)) if s.trim().is_empty() => Err(bad(&format!("Property '{prop}' is required."))),
        Some(_) => Ok(()),
    }
}

fn in_range(v: Option<&Value>, prop: &str, lo: f64, hi: f64) -> Result<(), GraphError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (lo..=hi).contains(&n) => Ok(()),
            _ => Err(bad(&format!("Invalid value for property '{prop}': must be an integer between {lo} and {hi}."))),
        },
    }
}

fn date(v: Option<&Value>, prop: &str) -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, GraphError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(Some)
            .ok_or_else(|| bad(&format!("Cannot convert the literal '{v}' to the expected type 'Edm.DateTimeOffset' of property '{prop}'."))),
    }
}

/// The feature update versions Intune offers (`Windows 11, version 24H2`).
fn feature_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("Windows 10, version ").or_else(|| v.strip_prefix("Windows 11, version ")) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 4 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'H' && b[3].is_ascii_digit()
}

/// The checks of one collection on a whole (merged) object.
fn check(coll: &str, body: &Map<String, Value>) -> Result<(), GraphError> {
    required(body, "displayName")?;
    match coll {
        "windowsFeatureUpdateProfiles" => {
            required(body, "featureUpdateVersion")?;
            let v = body.get("featureUpdateVersion").and_then(Value::as_str).unwrap_or_default();
            if !feature_version(v) {
                return Err(bad(&format!("Feature update version '{v}' is not a valid deployable content.")));
            }
            if let Some(Value::Object(r)) = body.get("rolloutSettings") {
                in_range(r.get("offerIntervalInDays"), "offerIntervalInDays", 1.0, 14.0)?;
                let start = date(r.get("offerStartDateTimeInUTC"), "offerStartDateTimeInUTC")?;
                let end = date(r.get("offerEndDateTimeInUTC"), "offerEndDateTimeInUTC")?;
                match (start, end) {
                    (None, Some(_)) => return Err(bad("An offer end date requires an offer start date.")),
                    (Some(s), Some(e)) if e <= s => return Err(bad("The offer end date must be after the offer start date.")),
                    _ => {}
                }
            }
        }
        "windowsQualityUpdateProfiles" => {
            required(body, "expeditedUpdateSettings")?;
            let e = body.get("expeditedUpdateSettings").and_then(Value::as_object).cloned().unwrap_or_default();
            required(&e, "qualityUpdateRelease")?;
            required(&e, "daysUntilForcedReboot")?;
            date(e.get("qualityUpdateRelease"), "qualityUpdateRelease")?;
            in_range(e.get("daysUntilForcedReboot"), "daysUntilForcedReboot", 0.0, 2.0)?;
        }
        "windowsDriverUpdateProfiles" => {
            required(body, "approvalType")?;
            in_range(body.get("deploymentDeferralInDays"), "deploymentDeferralInDays", 0.0, 30.0)?;
        }
        _ => {}
    }
    Ok(())
}

/// What Intune sets on a new profile of `coll`.
fn server_set(coll: &str, body: &mut Map<String, Value>) {
    body.entry("description").or_insert(json!(""));
    body.entry("roleScopeTagIds").or_insert(json!(["0"]));
    match coll {
        "windowsFeatureUpdateProfiles" => {
            let version = body.get("featureUpdateVersion").cloned().unwrap_or(Value::Null);
            body.insert("deployableContentDisplayName".into(), version);
            body.insert("endOfSupportDate".into(), json!("2028-10-10T00:00:00Z"));
            body.entry("installFeatureUpdatesOptional").or_insert(json!(false));
            body.entry("installLatestWindows10OnWindows11IneligibleDevice").or_insert(json!(false));
            body.entry("rolloutSettings").or_insert(json!({"offerStartDateTimeInUTC": null, "offerEndDateTimeInUTC": null, "offerIntervalInDays": null}));
        }
        "windowsQualityUpdateProfiles" => {
            let release = body.get("expeditedUpdateSettings").and_then(|e| e.get("qualityUpdateRelease")).cloned().unwrap_or(Value::Null);
            body.insert("releaseDateDisplayName".into(), release);
            body.insert("deployableContentDisplayName".into(), json!("Quality update"));
        }
        "windowsDriverUpdateProfiles" => {
            body.entry("deploymentDeferralInDays").or_insert(json!(0));
            body.insert("deviceReporting".into(), json!(0));
            body.insert("newUpdates".into(), json!(0));
            body.insert("inventorySyncStatus".into(), Value::Null);
        }
        _ => {}
    }
}

pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    check(spec.coll, &body)?;
    crate::scope_tags::check_ids(t, &body)?;
    body.remove("id");
    body.remove("assignments");
    body.entry("@odata.type").or_insert(json!(format!("#microsoft.graph.{}", spec.entity.unwrap_or_default())));
    server_set(spec.coll, &mut body);
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// PATCH: the merged object must still pass the collection's checks, and
/// a driver profile's approval type cannot change; then as every Intune
/// PATCH.
pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    if let Some(existing) = t.get(spec.coll, id).map(|r| r.data.clone()) {
        if spec.coll == "windowsDriverUpdateProfiles" {
            if let Some(want) = body.get("approvalType") {
                if existing.get("approvalType") != Some(want) {
                    return Err(bad("The approval type of a driver update profile cannot be changed."));
                }
            }
        }
        let mut merged = existing;
        merged.extend(body.clone());
        check(spec.coll, &merged)?;
    }
    crate::intune::patch(t, ctx, spec, id, body)
}

/// The Windows update profile collections answer a `$filter` with 400
/// ("Query option 'Filter' is not allowed": microsoftgraph/microsoft-graph-docs#21581,
/// Microsoft365DSC#4597): they are listed whole and matched by the client.
pub fn check_query(spec: &Spec, q: &crate::odata::Query) -> Result<(), GraphError> {
    let unfiltered = ["windowsFeatureUpdateProfiles", "windowsQualityUpdateProfiles", "windowsDriverUpdateProfiles"];
    if q.filter.is_some() && unfiltered.contains(&spec.coll) {
        return Err(GraphError::new(
            400,
            "BadRequest",
            "The query specified in the URI is not valid. Query option 'Filter' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.",
        ));
    }
    Ok(())
}

/// The sandbox collection of `feature_update_profile`, registered in `crate::resources::KIND_SPECS`.
pub static FEATURE_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::update_profiles::create),
    patch: Some(crate::update_profiles::patch),
    lookup: |t, seg| crate::resources::lookup_id(t, "windowsFeatureUpdateProfiles", seg),
    entity: Some("windowsFeatureUpdateProfile"),
    assignment_type: Some("#microsoft.graph.windowsFeatureUpdateProfileAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "windowsFeatureUpdateProfileAssignment")],
    ..crate::resources::intune("windowsFeatureUpdateProfiles", &["deviceManagement", "windowsFeatureUpdateProfiles"], "deviceManagement/windowsFeatureUpdateProfiles")
};

/// The sandbox collection of `quality_update_profile`, registered in `crate::resources::KIND_SPECS`.
pub static QUALITY_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::update_profiles::create),
    patch: Some(crate::update_profiles::patch),
    lookup: |t, seg| crate::resources::lookup_id(t, "windowsQualityUpdateProfiles", seg),
    entity: Some("windowsQualityUpdateProfile"),
    assignment_type: Some("#microsoft.graph.windowsQualityUpdateProfileAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "windowsQualityUpdateProfileAssignment")],
    ..crate::resources::intune("windowsQualityUpdateProfiles", &["deviceManagement", "windowsQualityUpdateProfiles"], "deviceManagement/windowsQualityUpdateProfiles")
};

/// The sandbox collection of `driver_update_profile`, registered in `crate::resources::KIND_SPECS`.
pub static DRIVER_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::update_profiles::create),
    patch: Some(crate::update_profiles::patch),
    lookup: |t, seg| crate::resources::lookup_id(t, "windowsDriverUpdateProfiles", seg),
    entity: Some("windowsDriverUpdateProfile"),
    assignment_type: Some("#microsoft.graph.windowsDriverUpdateProfileAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "windowsDriverUpdateProfileAssignment")],
    ..crate::resources::intune("windowsDriverUpdateProfiles", &["deviceManagement", "windowsDriverUpdateProfiles"], "deviceManagement/windowsDriverUpdateProfiles")
};
