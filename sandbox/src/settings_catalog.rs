//! The Settings Catalog's setting definitions
//! (`/beta/deviceManagement/configurationSettings`) the sandbox knows, and
//! the checks Intune makes of a configuration policy's settings on POST and
//! PUT: every setting instance names a known definition, has the instance
//! type its definition calls for, a choice value among its options, an
//! integer within its range. The catalog is a small slice of Intune's
//! (Defender antivirus and a firewall rule group), enough for the example
//! tenant and the tests; real definitions carry many more properties.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::error::GraphError;
use crate::graph::{Ctx, GReq, GResp, Version};

const NS: &str = "#microsoft.graph.deviceManagementConfiguration";

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

pub(crate) fn choice(id: &str, name: &str, options: &[&str]) -> Value {
    json!({
        "@odata.type": format!("{NS}ChoiceSettingDefinition"),
        "id": id,
        "name": name,
        "displayName": name,
        "defaultOptionId": format!("{id}_{}", options[0]),
        "options": options.iter().map(|o| json!({"itemId": format!("{id}_{o}"), "name": o, "displayName": o, "optionValue": {"@odata.type": format!("{NS}StringSettingValue"), "value": o}})).collect::<Vec<_>>(),
    })
}

pub(crate) fn integer(id: &str, name: &str, min: i64, max: i64) -> Value {
    json!({
        "@odata.type": format!("{NS}SimpleSettingDefinition"),
        "id": id,
        "name": name,
        "displayName": name,
        "valueDefinition": {"@odata.type": format!("{NS}IntegerSettingValueDefinition"), "minimumValue": min, "maximumValue": max},
    })
}

pub(crate) fn string(id: &str, name: &str, collection: bool) -> Value {
    let ty = if collection { "SimpleSettingCollectionDefinition" } else { "SimpleSettingDefinition" };
    json!({
        "@odata.type": format!("{NS}{ty}"),
        "id": id,
        "name": name,
        "displayName": name,
        "valueDefinition": {"@odata.type": format!("{NS}StringSettingValueDefinition")},
    })
}

/// `d` with the length its string values must have (`minimumLength`,
/// `maximumLength`): a WPA pre-shared key is 8 to 63 characters.
fn length(mut d: Value, min: i64, max: i64) -> Value {
    d["valueDefinition"]["minimumLength"] = json!(min);
    d["valueDefinition"]["maximumLength"] = json!(max);
    d
}

/// A string setting whose value is a secret (`isSecret`): written as a
/// `SecretSettingValue`, read back as an encrypted token.
fn secret(id: &str, name: &str) -> Value {
    let mut d = string(id, name, false);
    d["valueDefinition"]["isSecret"] = json!(true);
    d
}

/// Every definition the sandbox serves, by id.
pub fn catalog() -> &'static Map<String, Value> {
    static CATALOG: OnceLock<Map<String, Value>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let d = "device_vendor_msft_policy_config_defender_";
        let fw = "vendor_msft_firewall_mdmstore_firewallrules";
        let mut group = json!({
            "@odata.type": format!("{NS}SettingGroupCollectionDefinition"),
            "id": fw,
            "name": "FirewallRules",
            "displayName": "Firewall Rules",
            "childIds": [format!("{fw}_name"), format!("{fw}_direction")],
        });
        group["minimumCount"] = json!(0);
        group["maximumCount"] = json!(100);
        [
            choice(&format!("{d}allowrealtimemonitoring"), "AllowRealtimeMonitoring", &["0", "1"]),
            choice(&format!("{d}allowcloudprotection"), "AllowCloudProtection", &["0", "1"]),
            choice(&format!("{d}puaprotection"), "PUAProtection", &["0", "1", "2"]),
            integer(&format!("{d}avgcpuloadfactor"), "AvgCPULoadFactor", 0, 100),
            string(&format!("{d}excludedextensions"), "ExcludedExtensions", true),
            group,
            string(&format!("{fw}_name"), "Name", false),
            length(secret("vendor_msft_wifi_profile_sharedkey", "Wi-Fi shared key"), 8, 63),
            choice(&format!("{fw}_direction"), "Direction", &["in", "out"]),
        ]
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v))
        .collect()
    })
}

/// A definition by id (case-insensitive): the catalog's, or one only the
/// policy templates (`crate::configuration_templates`) use.
fn definition(id: &str) -> Option<&'static Value> {
    catalog().iter().find(|(k, _)| k.eq_ignore_ascii_case(id)).map(|(_, v)| v).or_else(|| crate::configuration_templates::definition(id))
}

/// `GET /beta/deviceManagement/configurationSettings[/{id}]`.
pub fn serve(ctx: &Ctx, req: &GReq, rest: &[&str]) -> Result<GResp, GraphError> {
    if ctx.version != Version::Beta {
        return Err(GraphError::no_segment("configurationSettings"));
    }
    if req.method != "GET" {
        return Err(GraphError::method_not_allowed());
    }
    match rest {
        [] => Ok(GResp::json(200, json!({"@odata.context": ctx.context("deviceManagement/configurationSettings"), "value": catalog().values().collect::<Vec<_>>()}))),
        [id] => {
            let def = definition(id).ok_or_else(|| {
                GraphError::intune(404, "NotFound", &format!("No setting definition with id '{id}' exists."))
            })?;
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context("deviceManagement/configurationSettings/$entity")));
            out.extend(def.as_object().cloned().unwrap_or_default());
            Ok(GResp::json(200, Value::Object(out)))
        }
        _ => Err(GraphError::no_segment(rest.last().copied().unwrap_or_default())),
    }
}

/// Refuses the settings of a POST or PUT body that Intune would refuse.
pub fn check_settings(settings: &Value) -> Result<(), GraphError> {
    let Some(list) = settings.as_array() else {
        return Err(bad("'settings' must be a collection of deviceManagementConfigurationSetting."));
    };
    for s in list {
        let inst = s.get("settingInstance").ok_or_else(|| bad("A setting has no 'settingInstance'."))?;
        check_instance(inst)?;
    }
    Ok(())
}

fn bare(v: &Value) -> &str {
    v.get("@odata.type").and_then(Value::as_str).unwrap_or_default().trim_start_matches(NS)
}

fn check_instance(inst: &Value) -> Result<(), GraphError> {
    let id = inst.get("settingDefinitionId").and_then(Value::as_str).unwrap_or_default();
    let def = definition(id).ok_or_else(|| bad(&format!("Setting definition '{id}' was not found.")))?;
    let want = match bare(def) {
        "ChoiceSettingDefinition" => "ChoiceSettingInstance",
        "SimpleSettingDefinition" => "SimpleSettingInstance",
        "SimpleSettingCollectionDefinition" => "SimpleSettingCollectionInstance",
        "SettingGroupCollectionDefinition" => "GroupSettingCollectionInstance",
        _ => "",
    };
    if bare(inst) != want {
        return Err(bad(&format!("Setting '{id}' expects an instance of type {NS}{want}, got '{}'.", bare(inst))));
    }
    let children = |v: &Value| -> Result<(), GraphError> {
        for c in v.get("children").and_then(Value::as_array).into_iter().flatten() {
            check_instance(c)?;
        }
        Ok(())
    };
    match want {
        "ChoiceSettingInstance" => {
            let v = inst.get("choiceSettingValue").ok_or_else(|| bad(&format!("Setting '{id}' has no choiceSettingValue.")))?;
            let option = v.get("value").and_then(Value::as_str).unwrap_or_default();
            let known = def["options"].as_array().into_iter().flatten().any(|o| o["itemId"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(option)));
            if !known {
                return Err(bad(&format!("Option '{option}' is not valid for setting '{id}'.")));
            }
            children(v)
        }
        "SimpleSettingInstance" => check_simple(id, def, inst.get("simpleSettingValue").unwrap_or(&Value::Null)),
        "SimpleSettingCollectionInstance" => {
            for v in inst.get("simpleSettingCollectionValue").and_then(Value::as_array).into_iter().flatten() {
                check_simple(id, def, v)?;
            }
            Ok(())
        }
        _ => {
            for g in inst.get("groupSettingCollectionValue").and_then(Value::as_array).into_iter().flatten() {
                children(g)?;
            }
            Ok(())
        }
    }
}

fn check_simple(id: &str, def: &Value, v: &Value) -> Result<(), GraphError> {
    if def.pointer("/valueDefinition/isSecret").and_then(Value::as_bool) == Some(true) {
        let ok = bare(v) == "SecretSettingValue" && v.get("value").is_some_and(Value::is_string) && matches!(v.get("valueState").and_then(Value::as_str), Some("notEncrypted" | "encryptedValueToken"));
        // Never the value in the error: it may be the secret.
        if !ok {
            return Err(bad(&format!("Setting '{id}' is a secret: it expects a {NS}SecretSettingValue with a valueState, got a {}.", bare(v))));
        }
        // A value of the wrong length is refused, and this error echoes
        // the value it refuses: Intune's error texts are not always careful
        // (they embed the request), and tenantctl must mask what it sent
        // (`providers::graph::redact`). The sandbox does it here on purpose,
        // so the tests see a rejected secret come back.
        let value = v.get("value").and_then(Value::as_str).unwrap_or_default();
        if v.get("valueState").and_then(Value::as_str) == Some("notEncrypted") {
            let len = i64::try_from(value.chars().count()).unwrap_or(i64::MAX);
            let min = def.pointer("/valueDefinition/minimumLength").and_then(Value::as_i64).unwrap_or(0);
            let max = def.pointer("/valueDefinition/maximumLength").and_then(Value::as_i64).unwrap_or(i64::MAX);
            if !(min..=max).contains(&len) {
                return Err(bad(&format!("Setting '{id}': value '{value}' must be {min} to {max} characters long. Request: {v}")));
            }
        }
        // A token sent back must be one this tenant issued.
        let token = v.get("value").and_then(Value::as_str).unwrap_or_default();
        if v.get("valueState").and_then(Value::as_str) == Some("encryptedValueToken") && !token.starts_with("enc:") {
            return Err(bad(&format!("Setting '{id}': the encrypted value token is not valid.")));
        }
        return Ok(());
    }
    let integer = def.pointer("/valueDefinition/@odata.type").and_then(Value::as_str).is_some_and(|t| t.ends_with("IntegerSettingValueDefinition"));
    let (want, ok) = if integer {
        let n = v.get("value").and_then(Value::as_i64);
        let min = def.pointer("/valueDefinition/minimumValue").and_then(Value::as_i64).unwrap_or(i64::MIN);
        let max = def.pointer("/valueDefinition/maximumValue").and_then(Value::as_i64).unwrap_or(i64::MAX);
        ("IntegerSettingValue", bare(v) == "IntegerSettingValue" && n.is_some_and(|n| (min..=max).contains(&n)))
    } else {
        ("StringSettingValue", bare(v) == "StringSettingValue" && v.get("value").is_some_and(Value::is_string))
    };
    if ok {
        Ok(())
    } else {
        Err(bad(&format!("Setting '{id}' expects a valid {NS}{want}, got {v}.")))
    }
}

/// Settings as Intune stores them: a secret sent `notEncrypted` is kept as
/// an encrypted token (what Graph returns; the sandbox derives one from
/// the value, never the value itself).
pub fn encrypt_secrets(settings: &mut Value) {
    match settings {
        Value::Object(m) => {
            let secret = m.get("@odata.type").and_then(Value::as_str).is_some_and(|t| t.ends_with("SecretSettingValue"));
            if secret && m.get("valueState").and_then(Value::as_str) == Some("notEncrypted") {
                use sha2::{Digest, Sha256};
                let plain = m.get("value").and_then(Value::as_str).unwrap_or_default().to_string();
                let token: String = Sha256::digest(format!("sandbox-secret\0{plain}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                m.insert("value".into(), json!(format!("enc:{token}")));
                m.insert("valueState".into(), json!("encryptedValueToken"));
            }
            m.values_mut().for_each(encrypt_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(encrypt_secrets),
        _ => {}
    }
}

/// The sandbox collection of `settings_catalog`, registered in `crate::resources::KIND_SPECS`.
pub static SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    put: true,
    create: Some(crate::intune::create_settings_catalog),
    patch: Some(crate::intune::patch_settings_catalog),
    lookup: |t, seg| crate::resources::lookup_id(t, "configurationPolicies", seg),
    entity: Some("deviceManagementConfigurationPolicy"),
    assignment_type: Some("#microsoft.graph.deviceManagementConfigurationPolicyAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "deviceManagementConfigurationPolicyAssignment")],
    ..crate::resources::intune("configurationPolicies", &["deviceManagement", "configurationPolicies"], "deviceManagement/configurationPolicies")
};
