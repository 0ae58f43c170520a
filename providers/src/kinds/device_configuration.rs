//! Intune device configuration profiles of any type
//! (`/beta/deviceManagement/deviceConfigurations`). Update rings live in the
//! same collection and are split off by type.

use engine::{DesiredResource, LiveObject};
use schema::kinds::device_configuration::qualified_odata_type;
use schema::kinds::DeviceConfiguration;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{desired_assignments, live_assignments, live_props, resource, settings_json, str_field};
use super::registry::{Api, KindProvider};

pub const UPDATE_RING_TYPE: &str = "#microsoft.graph.windowsUpdateForBusinessConfiguration";

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::DeviceConfiguration,
    collection: "/deviceManagement/deviceConfigurations",
    api: Api::Beta,
    natural_key: Some("displayName"),
    desired: |s, m| {
        for (k, d) in &s.device_configuration { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "device-configurations.toml",
    export_title: "Device configuration profiles",
};

pub fn desired(key: &str, d: &DeviceConfiguration, state: &DesiredState) -> DesiredResource {
    let mut p = settings_json(&d.settings);
    p.insert("@odata.type".into(), json!(qualified_odata_type(&d.odata_type)));
    p.insert("displayName".into(), json!(d.display_name));
    // An undeclared description is not managed (neither compared nor cleared).
    if let Some(d) = &d.description {
        p.insert("description".into(), json!(d));
    }
    super::scope_tag::insert_desired(&mut p, state, &d.scope_tags);
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
    if let Some(tags) = super::scope_tag::live(raw) {
        props.insert("roleScopeTagIds".into(), tags);
    }
    LiveObject {
        kind,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// The `secretReferenceValueId` of every encrypted OMA setting of a live
/// custom profile, in order.
///
/// On the beta endpoint, `*CustomConfiguration` profiles return string,
/// Base64 and XML OMA values encrypted: `isEncrypted: true`, a
/// `secretReferenceValueId`, and `value: "****"` (beta
/// `resources/intune-deviceconfig-omasetting.md` in
/// microsoft-graph-docs-contrib; the `****` is from GET responses quoted in
/// nicolonsky/ModernWorkplaceConcierge#86 and Microsoft365DSC PR #4059).
/// Integer and boolean settings are not encrypted.
pub fn encrypted_oma_references(raw: &Value) -> Vec<String> {
    oma_settings(raw)
        .filter(|s| s.get("isEncrypted") == Some(&Value::Bool(true)))
        .filter_map(|s| s.get("secretReferenceValueId").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn oma_settings(raw: &Value) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    raw.get("omaSettings").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object)
}

/// The path (below the version) of the function that returns one encrypted
/// setting's plain value, `{"value": "<plain text>"}` (beta
/// `api/intune-deviceconfig-deviceconfiguration-getomasettingplaintextvalue.md`).
/// The id is an OData string literal, so quotes are doubled.
pub fn oma_plain_value_path(profile_id: &str, reference: &str) -> String {
    format!("/deviceManagement/deviceConfigurations/{profile_id}/getOmaSettingPlainTextValue(secretReferenceValueId='{}')", reference.replace('\'', "''"))
}

/// Puts the plain values (by reference id) into a live profile's encrypted
/// OMA settings and drops the read-only `isEncrypted` and
/// `secretReferenceValueId` from every setting, so live props compare with
/// desired plain values. Returns the reference ids it had no value for.
pub fn decrypt_oma_settings(raw: &mut Value, plain: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let mut missing = Vec::new();
    let Some(settings) = raw.get_mut("omaSettings").and_then(Value::as_array_mut) else {
        return missing;
    };
    for s in settings.iter_mut().filter_map(Value::as_object_mut) {
        let encrypted = s.remove("isEncrypted") == Some(Value::Bool(true));
        let reference = s.remove("secretReferenceValueId");
        if !encrypted {
            continue;
        }
        let reference = reference.as_ref().and_then(Value::as_str).unwrap_or_default();
        match plain.get(reference) {
            Some(v) => {
                s.insert("value".into(), json!(v));
            }
            None => missing.push(reference.to_string()),
        }
    }
    missing
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn encrypted_values_are_replaced_and_read_only_properties_dropped() {
        let mut raw = json!({"id": "p1", "omaSettings": [
            {"@odata.type": "#microsoft.graph.omaSettingString", "omaUri": "./a", "value": "****", "isEncrypted": true, "secretReferenceValueId": "x_p1_y"},
            {"@odata.type": "#microsoft.graph.omaSettingInteger", "omaUri": "./b", "value": 3, "isEncrypted": false, "secretReferenceValueId": null}
        ]});
        assert_eq!(encrypted_oma_references(&raw), vec!["x_p1_y".to_string()]);
        let plain = BTreeMap::from([("x_p1_y".to_string(), "plain".to_string())]);
        assert!(decrypt_oma_settings(&mut raw, &plain).is_empty());
        assert_eq!(
            raw["omaSettings"],
            json!([{"@odata.type": "#microsoft.graph.omaSettingString", "omaUri": "./a", "value": "plain"}, {"@odata.type": "#microsoft.graph.omaSettingInteger", "omaUri": "./b", "value": 3}])
        );
    }

    #[test]
    fn an_encrypted_value_without_its_plain_value_is_reported() {
        let mut raw = json!({"omaSettings": [{"value": "****", "isEncrypted": true, "secretReferenceValueId": "r"}, {"value": "****", "isEncrypted": true}]});
        assert_eq!(decrypt_oma_settings(&mut raw, &BTreeMap::new()), vec!["r".to_string(), String::new()]);
        assert_eq!(oma_plain_value_path("p", "it's"), "/deviceManagement/deviceConfigurations/p/getOmaSettingPlainTextValue(secretReferenceValueId='it''s')");
    }
}
