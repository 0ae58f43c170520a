//! Windows feature update profiles (beta
//! `deviceManagement/windowsFeatureUpdateProfiles`), assigned with
//! `/assign`; shared behaviour in `super::update_profile`.

use engine::{DesiredResource, LiveObject};
use schema::kinds::feature_update_profile::RolloutSettings;
use schema::kinds::{Assignments, FeatureUpdateProfile};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::registry::{Api, Created, KindProvider, Read};
use crate::apply::delete_plain;
use super::update_profile::{self, live_date};
use super::{desired_assignments, resource};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::FeatureUpdateProfile,
    collection: "/deviceManagement/windowsFeatureUpdateProfiles",
    api: Api::Beta,
    natural_key: Some(super::update_profile::BY_DISPLAY_NAME_UNFILTERED),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.feature_update_profile { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "feature-update-profiles.toml",
    export_title: "Windows feature update profiles",
    read: Read::Own(|cx| super::update_profile::read_kind(cx, Kind::FeatureUpdateProfile)),
    create: super::update_profile::create,
    update: super::update_profile::update,
    delete: delete_plain,
    export: |cx, objects| super::update_profile::export_kind(cx, Kind::FeatureUpdateProfile, objects),
    import_paths: &[],
    listings: || vec![super::update_profile::list_path(Kind::FeatureUpdateProfile)],
    after_post: &["assignments"],
};

/// Graph's read-only reporting properties of a profile.
const READ_ONLY: &[&str] = &["deployableContentDisplayName", "endOfSupportDate"];
/// windowsUpdateRolloutSettings' dates.
const DATES: &[&str] = &["offerStartDateTimeInUTC", "offerEndDateTimeInUTC"];

fn rollout_settings(r: &RolloutSettings) -> Value {
    let mut m = Map::new();
    let date = |d: &chrono::DateTime<chrono::Utc>| json!(d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if let Some(d) = &r.offer_start {
        m.insert("offerStartDateTimeInUTC".into(), date(d));
    }
    if let Some(d) = &r.offer_end {
        m.insert("offerEndDateTimeInUTC".into(), date(d));
    }
    if let Some(n) = r.offer_interval_in_days {
        m.insert("offerIntervalInDays".into(), json!(n));
    }
    Value::Object(m)
}

pub fn desired(key: &str, p: &FeatureUpdateProfile, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(update_profile::odata_types(Kind::FeatureUpdateProfile).0));
    props.insert("displayName".into(), json!(p.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    props.insert("featureUpdateVersion".into(), json!(p.feature_update_version));
    if let Some(r) = &p.rollout_settings {
        props.insert("rolloutSettings".into(), rollout_settings(r));
    }
    if let Some(b) = p.install_latest_windows10_on_windows11_ineligible_device {
        props.insert("installLatestWindows10OnWindows11IneligibleDevice".into(), json!(b));
    }
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    props.insert("assignments".into(), desired_assignments(state, &p.assignments));
    let mut r = resource(Address::new(Kind::FeatureUpdateProfile, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    update_profile::normalize(raw, Kind::FeatureUpdateProfile, READ_ONLY, &[("rolloutSettings", DATES)])
}

/// A live profile as desired state declares it (export).
pub fn export(o: &LiveObject, description: Option<String>, scope_tags: Vec<String>, assignments: Assignments) -> Result<FeatureUpdateProfile, String> {
    let p = &o.props;
    let version = p.get("featureUpdateVersion").and_then(Value::as_str).ok_or("it has no featureUpdateVersion")?;
    let rollout_settings = match p.get("rolloutSettings") {
        Some(Value::Object(m)) if !m.is_empty() => Some(RolloutSettings {
            offer_start: live_date(m.get("offerStartDateTimeInUTC"))?,
            offer_end: live_date(m.get("offerEndDateTimeInUTC"))?,
            offer_interval_in_days: m.get("offerIntervalInDays").and_then(Value::as_f64).map(|n| n as u32),
        }),
        _ => None,
    };
    Ok(FeatureUpdateProfile {
        display_name: o.display_name.clone(),
        description,
        feature_update_version: version.to_string(),
        rollout_settings,
        install_latest_windows10_on_windows11_ineligible_device: p.get("installLatestWindows10OnWindows11IneligibleDevice").and_then(Value::as_bool),
        scope_tags,
        assignments,
        rollout: None,
    })
}
