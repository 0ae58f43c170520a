//! Windows Autopilot deployment profiles (beta only). Assignments are
//! created one by one and removed before the profile is deleted.

use engine::{DesiredResource, LiveObject};
use schema::kinds::autopilot_profile::JoinType;
use schema::kinds::AutopilotProfile;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::normalize_policy;
use super::{camel_props, desired_assignments, resource};
use super::registry::{Api, KindProvider};

pub fn odata_type(join: JoinType) -> &'static str {
    match join {
        JoinType::Entra => "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        JoinType::Hybrid => "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile",
    }
}

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AutopilotProfile,
    collection: "/deviceManagement/windowsAutopilotDeploymentProfiles",
    api: Api::Beta,
    natural_key: Some("displayName"),
    desired: |s, m| {
        for (k, d) in &s.autopilot_profile { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "autopilot.toml",
    export_title: "Autopilot profiles",
};

pub fn desired(key: &str, a: &AutopilotProfile, state: &DesiredState) -> DesiredResource {
    let mut p = camel_props(a, &["assignments", "join_type", "description", "scope_tags", "role_scope_tag_ids"]);
    // Tags by id (`role_scope_tag_ids`) compare with live ones as references.
    if !a.role_scope_tag_ids.is_empty() {
        p.insert("roleScopeTagIds".into(), serde_json::Value::Array(a.role_scope_tag_ids.iter().map(|t| engine::model::reference(format!("id:{t}"))).collect()));
    }
    super::scope_tag::insert_desired(&mut p, state, &a.scope_tags);
    p.insert("@odata.type".into(), json!(odata_type(a.join_type)));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &a.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("assignments".into(), desired_assignments(state, &a.assignments));
    let mut r = resource(Address::new(Kind::AutopilotProfile, key), a.display_name.to_lowercase(), a.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    // Scope tags (as references) are managed when declared (Intune's
    // default is ["0"]).
    let mut o = normalize_policy(raw, Kind::AutopilotProfile);
    // Profiles written by older tools may only carry the deprecated
    // spellings; read them into the current ones when those are unset.
    let unset = |props: &engine::Props, k: &str| props.get(k).is_none_or(Value::is_null);
    for (old, new) in [("language", "locale"), ("extractHardwareHash", "hardwareHashExtractionEnabled"), ("enableWhiteGlove", "preprovisioningAllowed")] {
        if unset(&o.props, new) {
            if let Some(v) = raw.get(old).filter(|v| !v.is_null()) {
                o.props.insert(new.into(), v.clone());
            }
        }
    }
    if let Some(Value::Object(old)) = raw.get("outOfBoxExperienceSettings") {
        let mut oobe = match o.props.get("outOfBoxExperienceSetting") {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        for (old_name, new_name) in [
            ("hidePrivacySettings", "privacySettingsHidden"),
            ("hideEULA", "eulaHidden"),
            ("userType", "userType"),
            ("deviceUsageType", "deviceUsageType"),
            ("skipKeyboardSelectionPage", "keyboardSelectionPageSkipped"),
            ("hideEscapeLink", "escapeLinkHidden"),
        ] {
            if oobe.get(new_name).is_none_or(Value::is_null) {
                if let Some(v) = old.get(old_name).filter(|v| !v.is_null()) {
                    oobe.insert(new_name.into(), v.clone());
                }
            }
        }
        o.props.insert("outOfBoxExperienceSetting".into(), Value::Object(oobe));
    }
    for old in ["outOfBoxExperienceSettings", "enableWhiteGlove", "extractHardwareHash", "language"] {
        o.props.remove(old);
    }
    o
}
