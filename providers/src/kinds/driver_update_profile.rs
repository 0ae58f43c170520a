//! Windows driver update profiles (beta
//! `deviceManagement/windowsDriverUpdateProfiles`), assigned with
//! `/assign`; shared behaviour in `super::update_profile`. The approval
//! type cannot change on an existing profile: a change replaces it.

use engine::{DesiredResource, LiveObject};
use schema::kinds::driver_update_profile::ApprovalType;
use schema::kinds::{Assignments, DriverUpdateProfile};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, Created, KindProvider, Read};
use crate::apply::delete_plain;
use super::update_profile;
use super::{desired_assignments, resource};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::DriverUpdateProfile,
    collection: "/deviceManagement/windowsDriverUpdateProfiles",
    api: Api::Beta,
    natural_key: Some(super::update_profile::BY_DISPLAY_NAME_UNFILTERED),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.driver_update_profile { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "driver-update-profiles.toml",
    export_title: "Windows driver update profiles",
    read: Read::Own(|cx| super::update_profile::read_kind(cx, Kind::DriverUpdateProfile)),
    create: super::update_profile::create,
    update: super::update_profile::update,
    delete: delete_plain,
    export: |cx, objects| super::update_profile::export_kind(cx, Kind::DriverUpdateProfile, objects),
    import_paths: &[],
    listings: || vec![super::update_profile::list_path(Kind::DriverUpdateProfile)],
    after_post: &["assignments"],
};

/// Graph's read-only reporting properties of a profile.
const READ_ONLY: &[&str] = &["deviceReporting", "newUpdates", "inventorySyncStatus"];

pub fn desired(key: &str, p: &DriverUpdateProfile, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(update_profile::odata_types(Kind::DriverUpdateProfile).0));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    props.insert("approvalType".into(), json!(p.approval_type));
    if let Some(n) = p.deployment_deferral_in_days {
        props.insert("deploymentDeferralInDays".into(), json!(n));
    }
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    props.insert("assignments".into(), desired_assignments(state, &p.assignments));
    let mut r = resource(Address::new(Kind::DriverUpdateProfile, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    r.immutable = vec!["@odata.type".into(), "approvalType".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    update_profile::normalize(raw, Kind::DriverUpdateProfile, READ_ONLY, &[])
}

/// A live profile as desired state declares it (export).
pub fn export(o: &LiveObject, description: Option<String>, scope_tags: Vec<String>, assignments: Assignments) -> Result<DriverUpdateProfile, String> {
    let approval_type: ApprovalType = serde_json::from_value(o.props.get("approvalType").cloned().unwrap_or(Value::Null)).map_err(|e| format!("approvalType: {e}"))?;
    let deferral = o.props.get("deploymentDeferralInDays").and_then(Value::as_f64).map(|n| n as u32);
    Ok(DriverUpdateProfile {
        display_name: o.display_name.clone(),
        description,
        approval_type,
        // Graph reports a deferral on manual profiles too; it is declared
        // only where it applies.
        deployment_deferral_in_days: if approval_type == ApprovalType::Automatic { deferral } else { None },
        scope_tags,
        assignments,
    })
}
