//! Intune device configuration profiles of any type
//! (`/beta/deviceManagement/deviceConfigurations`). Update rings live in the
//! same collection and are split off by type.

use engine::{DesiredResource, LiveObject};
use schema::kinds::device_configuration::qualified_odata_type;
use schema::kinds::DeviceConfiguration;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{desired_assignments, live_assignments, live_props, resource, settings_json, str_field};
use super::intune_common::{assignments, bare_type, create_policy, holds_secret, patch_policy, read_filter_names, record_modified, settings};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME_AND_TYPE};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{BatchRequest, GraphClient, GraphError};
use crate::observe::{ReadCx, Readout};
use engine::apply::ExecError;
use std::collections::BTreeMap;

pub const UPDATE_RING_TYPE: &str = "#microsoft.graph.windowsUpdateForBusinessConfiguration";

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::DeviceConfiguration,
    collection: "/deviceManagement/deviceConfigurations",
    api: Api::Beta,
    natural_key: Some(BY_DISPLAY_NAME_AND_TYPE),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.device_configuration { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "device-configurations.toml",
    export_title: "Device configuration profiles",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![LIST.to_string()],
    after_post: &["assignments"],
};

/// The assignment type `/assign` takes for this collection.
pub const ASSIGNMENT: &str = "#microsoft.graph.deviceConfigurationAssignment";

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


/// `deviceConfigurations` with their assignments: device configurations
/// and update rings (`Read::With` this kind), split by type.
/// The listing (update rings are in it too), assignments expanded.
const LIST: &str = "/deviceManagement/deviceConfigurations?$expand=assignments&$top=999";

fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { Ok(read_all(cx.client, cx.modified).await?.into()) })
}

async fn read_all(client: &GraphClient, modified: &std::sync::Mutex<BTreeMap<String, String>>) -> Result<Vec<LiveObject>, GraphError> {
    let beta = client.beta();
    let mut raw = beta.list_all(LIST).await?;
    record_modified(&raw, modified);
    read_oma_plain_values(&beta, &mut raw).await?;
    read_filter_names(&beta, &mut raw).await?;
    Ok(raw
        .iter()
        .map(|p| {
            let kind = kind_of(p);
            let mut o = normalize_policy(p, kind);
            if kind == Kind::UpdateRing {
                super::update_ring::normalize_schedule(&mut o.props);
            }
            o
        })
        .collect())
}

/// Custom profiles come back from beta with string, Base64 and XML OMA
/// values encrypted (`****`); their plain values are read with
/// `getOmaSettingPlainTextValue`, through `$batch`, 20 at a time, only for
/// the encrypted settings, and put in place of the mask. A value that
/// cannot be read fails the read (the kinds become unknown), since
/// comparing a mask with desired state would show drift that is not there.
async fn read_oma_plain_values(beta: &GraphClient, raw: &mut [Value]) -> Result<(), GraphError> {
    let mut wanted: Vec<(usize, String)> = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        wanted.extend(encrypted_oma_references(p).into_iter().map(|r| (i, r)));
    }
    let mut plain: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    if !wanted.is_empty() {
        let requests = wanted
            .iter()
            .map(|(i, r)| BatchRequest::get(oma_plain_value_path(str_field(&raw[*i], "id"), r)))
            .collect();
        for ((i, reference), response) in wanted.into_iter().zip(beta.batch(requests).await?) {
            let request = response.request.clone();
            let body = response.into_result()?.unwrap_or(Value::Null);
            let value = body.get("value").and_then(Value::as_str).ok_or_else(|| GraphError::UnexpectedResponse {
                request,
                reason: "getOmaSettingPlainTextValue answered without a string 'value'".into(),
            })?;
            plain.entry(i).or_default().insert(reference, value.to_string());
        }
    }
    let none = BTreeMap::new();
    for (i, p) in raw.iter_mut().enumerate() {
        let missing = decrypt_oma_settings(p, plain.get(&i).unwrap_or(&none));
        if !missing.is_empty() {
            let id = str_field(p, "id").to_string();
            return Err(GraphError::UnexpectedResponse {
                request: crate::graph::RequestInfo { method: "GET".into(), path: format!("/beta/deviceManagement/deviceConfigurations/{id}") },
                reason: format!("{} encrypted OMA setting(s) without a readable plain value", missing.len()),
            });
        }
    }
    Ok(())
}

/// POST the profile, then `/assign` it once readable (update rings too).
pub(crate) fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let body = super::scope_tag::write_body(w.desired()?, &[], &|a| w.ref_id(a)).map_err(crate::apply::err)?;
        create_policy(w, body, ASSIGNMENT).await
    })
}

/// PATCH what changed (with `@odata.type`), `/assign` if assignments did.
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        patch_policy(w, id, &[]).await?;
        super::intune_common::assign_if_touched(w, id, ASSIGNMENT).await
    })
}

/// Profiles holding a secret (a pre-shared key, a password) are not
/// exported: desired state is kept in git; such a profile is declared by
/// hand.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        let p = &o.props;
        if let Some(what) = holds_secret(p) {
            cx.warn(format!("device configuration {} ({}): holds a secret ({what}): not exported; declare it by hand", o.display_name, o.id));
            continue;
        }
        match assignments(p, &cx.keys).and_then(|asg| Ok((asg, super::scope_tag::tags_of(cx, p)?))) {
            Ok((asg, scope_tags)) => {
                let a = cx.key(Kind::DeviceConfiguration, &o.display_name, &o.id);
                t.insert(
                    a.key.clone(),
                    DeviceConfiguration {
                        odata_type: bare_type(p),
                        display_name: o.display_name.clone(),
                        description: crate::export::s(p, "description"),
                        settings: settings(p, &["displayName", "description", "assignments", "roleScopeTagIds"]),
                        scope_tags,
                        assignments: asg,
                        rollout: None,
                    },
                );
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("device configuration {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::DeviceConfiguration, "", &t);
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
