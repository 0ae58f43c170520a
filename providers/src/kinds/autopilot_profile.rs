//! Windows Autopilot deployment profiles (beta only). Assignments are
//! created one by one and removed before the profile is deleted.

use engine::{DesiredResource, LiveObject};
use schema::kinds::autopilot_profile::JoinType;
use schema::kinds::AutopilotProfile;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::device_configuration::normalize_policy;
use super::{camel_props, desired_assignments, resource};

pub fn odata_type(join: JoinType) -> &'static str {
    match join {
        JoinType::Entra => "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        JoinType::Hybrid => "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile",
    }
}

pub fn desired(key: &str, a: &AutopilotProfile, state: &DesiredState) -> DesiredResource {
    let mut p = camel_props(a, &["assignments", "join_type", "description"]);
    p.insert("@odata.type".into(), json!(odata_type(a.join_type)));
    p.insert("description".into(), a.description.as_ref().map(|s| json!(s)).unwrap_or(Value::Null));
    p.insert("assignments".into(), desired_assignments(state, &a.assignments));
    let mut r = resource(Address::new(Kind::AutopilotProfile, key), a.display_name.to_lowercase(), a.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut o = normalize_policy(raw, Kind::AutopilotProfile);
    // The deprecated spellings are echoed by the service; only the current
    // ones are managed.
    for old in ["outOfBoxExperienceSettings", "enableWhiteGlove", "extractHardwareHash", "language"] {
        o.props.remove(old);
    }
    o
}
