//! Intune enrollment restrictions (beta
//! `deviceManagement/deviceEnrollmentConfigurations`): per-platform
//! restrictions (`deviceEnrollmentPlatformRestrictionConfiguration`) and
//! device limits (`deviceEnrollmentLimitConfiguration`). Read with the
//! Enrollment Status Pages and written as they are
//! (`super::enrollment_status_page`: priority through `setPriority`,
//! built-in ones only updated).

use engine::{DesiredResource, LiveObject};
use schema::kinds::enrollment_restriction::RestrictionType;
use schema::kinds::EnrollmentRestriction;
use schema::{DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::enrollment_status_page::{base_props, Base, create, delete, export_with, resource_of, update, COLLECTION};
use super::registry::{Api, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use crate::export::ExportCx;

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::EnrollmentRestriction,
    collection: COLLECTION,
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.enrollment_restriction { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "enrollment-restrictions.toml",
    export_title: "Intune enrollment restrictions",
    read: Read::With(Kind::EnrollmentStatusPage),
    create,
    update,
    delete,
    export,
    import_paths: &[],
    listings: Vec::new,
    after_post: &["assignments", "priority"],
};

pub const PLATFORM: &str = "#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration";
pub const LIMIT: &str = "#microsoft.graph.deviceEnrollmentLimitConfiguration";

pub fn desired(key: &str, p: &EnrollmentRestriction, state: &DesiredState) -> DesiredResource {
    let odata = match p.restriction {
        RestrictionType::Platform => PLATFORM,
        RestrictionType::Limit => LIMIT,
    };
    let base = Base { odata, name: &p.display_name, description: p.description.as_ref(), default: p.default, priority: p.priority, tags: &p.scope_tags, assignments: &p.assignments };
    let mut props = base_props(base, state);
    match p.restriction {
        RestrictionType::Limit => {
            if let Some(n) = p.limit {
                props.insert("limit".into(), json!(n));
            }
        }
        RestrictionType::Platform => {
            if let Some(pl) = &p.platform {
                props.insert("platformType".into(), json!(pl));
            }
            let mut r = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    r.insert(k.into(), v);
                }
            };
            put("platformBlocked", p.platform_blocked.map(Value::Bool));
            put("personalDeviceEnrollmentBlocked", p.personal_device_enrollment_blocked.map(Value::Bool));
            put("osMinimumVersion", p.os_minimum_version.as_ref().map(|v| json!(v)));
            put("osMaximumVersion", p.os_maximum_version.as_ref().map(|v| json!(v)));
            put("blockedManufacturers", p.blocked_manufacturers.as_ref().map(|v| json!(v)));
            if !r.is_empty() {
                props.insert("platformRestriction".into(), Value::Object(r));
            }
        }
    }
    resource_of(Kind::EnrollmentRestriction, key, &p.display_name, props)
}

fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    export_with(cx, Kind::EnrollmentRestriction, objects, &|o, mut m| {
        let restriction = if o.props.get("@odata.type").and_then(Value::as_str) == Some(LIMIT) { "limit" } else { "platform" };
        m.insert("restriction".into(), json!(restriction));
        if let Some(pl) = m.remove("platform_type") {
            m.insert("platform".into(), pl);
        }
        if let Some(Value::Object(r)) = m.remove("platform_restriction") {
            for (k, v) in r {
                // blockedSkus is not modelled; an empty list is Graph's default.
                if k != "blocked_skus" {
                    m.insert(k, v);
                }
            }
        }
        let p: EnrollmentRestriction = crate::export::typed(m)?;
        toml::Value::try_from(p).map_err(|e| e.to_string())
    });
}
