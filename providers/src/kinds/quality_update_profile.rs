//! Windows quality update (expedite) profiles (beta
//! `deviceManagement/windowsQualityUpdateProfiles`), assigned with
//! `/assign`; shared behaviour in `super::update_profile`.

use engine::{DesiredResource, LiveObject};
use schema::kinds::quality_update_profile::ExpeditedUpdateSettings;
use schema::kinds::{Assignments, QualityUpdateProfile};
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::registry::{Api, Created, KindProvider, Read};
use crate::apply::delete_plain;
use super::update_profile::{self, live_date};
use super::{desired_assignments, resource};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::QualityUpdateProfile,
    collection: "/deviceManagement/windowsQualityUpdateProfiles",
    api: Api::Beta,
    natural_key: Some(super::update_profile::BY_DISPLAY_NAME_UNFILTERED),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.quality_update_profile { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "quality-update-profiles.toml",
    export_title: "Windows quality update (expedite) profiles",
    read: Read::Own(|cx| super::update_profile::read_kind(cx, Kind::QualityUpdateProfile)),
    create: super::update_profile::create,
    update: super::update_profile::update,
    delete: delete_plain,
    export: |cx, objects| super::update_profile::export_kind(cx, Kind::QualityUpdateProfile, objects),
    import_paths: &[],
    listings: || vec![super::update_profile::list_path(Kind::QualityUpdateProfile)],
    after_post: &["assignments"],
};

/// Graph's read-only reporting properties of a profile.
const READ_ONLY: &[&str] = &["deployableContentDisplayName", "releaseDateDisplayName"];
/// expeditedWindowsQualityUpdateSettings' date.
const DATES: &[&str] = &["qualityUpdateRelease"];

pub fn desired(key: &str, p: &QualityUpdateProfile, state: &DesiredState) -> DesiredResource {
    let mut props = engine::Props::new();
    props.insert("@odata.type".into(), json!(update_profile::odata_types(Kind::QualityUpdateProfile).0));
    props.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        props.insert("description".into(), json!(d));
    }
    let e = &p.expedited_update_settings;
    props.insert(
        "expeditedUpdateSettings".into(),
        json!({
            "qualityUpdateRelease": e.quality_update_release.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "daysUntilForcedReboot": e.days_until_forced_reboot,
        }),
    );
    super::scope_tag::insert_desired(&mut props, state, &p.scope_tags);
    props.insert("assignments".into(), desired_assignments(state, &p.assignments));
    let mut r = resource(Address::new(Kind::QualityUpdateProfile, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    update_profile::normalize(raw, Kind::QualityUpdateProfile, READ_ONLY, &[("expeditedUpdateSettings", DATES)])
}

/// A live profile as desired state declares it (export).
pub fn export(o: &LiveObject, description: Option<String>, scope_tags: Vec<String>, assignments: Assignments) -> Result<QualityUpdateProfile, String> {
    let e = o.props.get("expeditedUpdateSettings").and_then(Value::as_object).ok_or("it has no expeditedUpdateSettings")?;
    let release = live_date(e.get("qualityUpdateRelease"))?.ok_or("it has no qualityUpdateRelease")?;
    let days = e.get("daysUntilForcedReboot").and_then(Value::as_f64).ok_or("it has no daysUntilForcedReboot")?;
    Ok(QualityUpdateProfile {
        display_name: o.display_name.clone(),
        description,
        expedited_update_settings: ExpeditedUpdateSettings { quality_update_release: release, days_until_forced_reboot: days as u32 },
        scope_tags,
        assignments,
    })
}
