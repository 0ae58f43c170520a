//! Intune device configuration profiles of any type
//! (`/beta/deviceManagement/deviceConfigurations`). Update rings live in the
//! same collection and are split off by type.

use engine::{DesiredResource, LiveObject};
use schema::kinds::device_configuration::qualified_odata_type;
use schema::kinds::DeviceConfiguration;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{desired_assignments, live_assignments, live_props, resource, settings_json, str_field};

pub const UPDATE_RING_TYPE: &str = "#microsoft.graph.windowsUpdateForBusinessConfiguration";

pub fn desired(key: &str, d: &DeviceConfiguration, state: &DesiredState) -> DesiredResource {
    let mut p = settings_json(&d.settings);
    p.insert("@odata.type".into(), json!(qualified_odata_type(&d.odata_type)));
    p.insert("displayName".into(), json!(d.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &d.description {
        p.insert("description".into(), json!(d));
    }
    p.insert("assignments".into(), desired_assignments(state, &d.assignments));
    let mut r = resource(Address::new(Kind::DeviceConfiguration, key), d.display_name.to_lowercase(), d.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r.assignment_props = vec!["assignments".into()];
    r
}

/// A live Intune policy with `$expand=assignments` (or assignments read
/// separately and put under "assignments"), as `kind`.
pub fn normalize_policy(raw: &Value, kind: Kind) -> LiveObject {
    let mut props = live_props(raw, &["roleScopeTagIds", "supportsScopeTags", "deviceManagementApplicabilityRuleOsEdition", "deviceManagementApplicabilityRuleOsVersion", "deviceManagementApplicabilityRuleDeviceMode", "scheduledActionsForRule@odata.context"]);
    props.insert("assignments".into(), live_assignments(raw.get("assignments").unwrap_or(&Value::Null)));
    LiveObject {
        kind,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// Which kind a deviceConfigurations item is.
pub fn kind_of(raw: &Value) -> Kind {
    if str_field(raw, "@odata.type") == UPDATE_RING_TYPE {
        Kind::UpdateRing
    } else {
        Kind::DeviceConfiguration
    }
}

/// Body for POST: every managed property that is set, but assignments (set with
/// `/assign`) and virtual properties. PATCH bodies carry `@odata.type`,
/// which Intune requires.
pub fn write_body(r: &DesiredResource, skip: &[&str]) -> Value {
    let mut body = serde_json::Map::new();
    for (k, v) in &r.props {
        // Unset properties are left to Graph's defaults on create.
        if k == "assignments" || skip.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}
