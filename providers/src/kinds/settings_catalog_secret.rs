//! Secret Settings Catalog values (a definition with `isSecret`: Wi-Fi
//! keys, VPN shared secrets), declared `{ secret_env = "NAME" }`.
//!
//! Graph stores a secret and returns only an encrypted token
//! (`deviceManagementConfigurationSecretSettingValue`, `valueState`
//! `encryptedValueToken`), so a secret is compared by whether it is set:
//! both sides normalize to [`SET`] (or [`NOT_SET`]), which is all a plan
//! ever shows. The value is read from the environment at apply and sent
//! `notEncrypted` in the POST (and in a PUT when it is not set live, or
//! when `rotate = true` asks for it: then the desired side is [`RESEND`],
//! which never equals the live side); any other PUT, which replaces every
//! setting, sends the live token back (`encryptedValueToken`) so the secret
//! is kept without being known. The value never reaches the TOML, a plan,
//! the journal, an export or a log: only the variable's name is carried.

use std::collections::BTreeMap;

use engine::apply::ExecError;
use serde_json::{json, Map, Value};

use crate::apply::{err, fail, Writer};

/// A secret that is set (desired: declared; live: Graph holds one).
pub const SET: &str = "(secret: set, value not compared)";
/// A live secret setting without a value.
pub const NOT_SET: &str = "(secret: not set)";
/// A declared secret asked to be sent again (`rotate = true`).
pub const RESEND: &str = "(secret: sent again from the environment at apply)";
/// The desired resource's `create_only` entry: setting id -> variable name
/// (the plan shows it, and the ledger records it: `engine::secret_env`).
pub const ENVS: &str = engine::secret_env::ENVS;

const NS: &str = "#microsoft.graph.deviceManagementConfiguration";
const SECRET_ENV: &str = schema::kinds::settings_catalog::SECRET_ENV;
const ROTATE: &str = schema::kinds::settings_catalog::SECRET_ROTATE;
const CHOICE_VALUE: &str = schema::kinds::settings_catalog::CHOICE_VALUE;

/// Whether `v` is one of the markers a secret normalizes to.
pub fn is_marker(v: &Value) -> bool {
    matches!(v.as_str(), Some(SET | NOT_SET | RESEND))
}

/// Replaces each `{ secret_env = … }` table in the declared value of
/// setting `id` (children included) by its marker, recording the
/// variable's name by setting id in `envs`.
pub fn desired_value(id: &str, v: &mut Value, envs: &mut Map<String, Value>) {
    match v {
        Value::Object(m) if m.contains_key(SECRET_ENV) => {
            envs.insert(id.to_string(), m.get(SECRET_ENV).cloned().unwrap_or(Value::Null));
            let rotate = m.get(ROTATE).and_then(Value::as_bool) == Some(true);
            *v = json!(if rotate { RESEND } else { SET });
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut().filter(|(k, _)| k.as_str() != CHOICE_VALUE) {
                desired_value(k, x, envs);
            }
        }
        Value::Array(items) => {
            for m in items.iter_mut().filter_map(Value::as_object_mut) {
                for (k, x) in m.iter_mut() {
                    desired_value(k, x, envs);
                }
            }
        }
        _ => {}
    }
}

/// The normalized value of a live secret instance's `simpleSettingValue`.
pub fn live_value(value: &Value) -> Value {
    let set = value.get("value").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    json!(if set { SET } else { NOT_SET })
}

/// Whether `value` (a `simpleSettingValue`) is a secret.
pub fn is_secret_value(value: &Value) -> bool {
    value.get("@odata.type").and_then(Value::as_str).is_some_and(|t| t.ends_with("SecretSettingValue"))
}

/// The name export gives the variable of setting `id`'s secret in the
/// policy exported as `key`: `SECRET_<KEY>_<ID>`, upper case, anything but
/// letters and digits as `_`. The policy's key is part of it, so two
/// policies holding the same secret setting (two Wi-Fi profiles) name two
/// variables, not one value for both.
pub fn env_name(key: &str, id: &str) -> String {
    let upper = |s: &str| -> String { s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect() };
    format!("SECRET_{}_{}", upper(key), upper(id))
}

/// The variable names one export gives its secrets: [`env_name`], made
/// unique (`_2`, `_3` ...) where two (policy, setting) pairs would read the
/// same once upper-cased (`a-b` + `c` and `a` + `b_c`). Deterministic:
/// policies are exported in a fixed order.
#[derive(Default)]
pub struct EnvNames {
    /// name -> the (policy key, setting id) it was given to
    given: std::collections::BTreeMap<String, (String, String)>,
    /// (policy key, setting id) -> its name
    by_setting: std::collections::BTreeMap<(String, String), String>,
}

impl EnvNames {
    /// The variable of setting `id`'s secret in policy `key` (the same name
    /// each time it is asked for the same pair).
    pub fn name(&mut self, key: &str, id: &str) -> String {
        let pair = (key.to_string(), id.to_string());
        if let Some(n) = self.by_setting.get(&pair) {
            return n.clone();
        }
        let base = env_name(key, id);
        let mut name = base.clone();
        let mut n = 2;
        while self.given.contains_key(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.given.insert(name.clone(), pair.clone());
        self.by_setting.insert(pair, name.clone());
        name
    }
}

/// The exported form of a normalized value: markers become
/// `{ secret_env = "<name>" }`, the name `name` gives the setting's id
/// (and it is added to `names`).
pub fn export_value(id: &str, v: &Value, name: &mut dyn FnMut(&str) -> String, names: &mut Vec<String>) -> Value {
    match v {
        _ if is_marker(v) => {
            let n = name(id);
            if !names.contains(&n) {
                names.push(n.clone());
            }
            json!({ SECRET_ENV: n })
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), if k == CHOICE_VALUE { x.clone() } else { export_value(k, x, name, names) })).collect()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| match x {
                    Value::Object(m) => Value::Object(m.iter().map(|(k, y)| (k.clone(), export_value(k, y, name, names))).collect()),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replaces each marker `simpleSettingValue` in a write body's settings
/// (children included) by what `f` returns for (setting id, marker).
fn replace(v: &mut Value, f: &mut dyn FnMut(&str, &str) -> Result<Value, String>) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            let id = m.get("settingDefinitionId").and_then(Value::as_str).map(str::to_string);
            if let (Some(id), Some(sv)) = (id, m.get_mut("simpleSettingValue")) {
                if let Some(marker) = sv.get("value").filter(|x| is_marker(x)).and_then(Value::as_str).map(str::to_string) {
                    *sv = f(&id, &marker)?;
                    return Ok(());
                }
            }
            for x in m.values_mut() {
                replace(x, f)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|x| replace(x, f)),
        _ => Ok(()),
    }
}

/// The setting ids in `body` whose value is a secret marker.
fn marker_ids(body: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let (Some(id), Some(sv)) = (m.get("settingDefinitionId").and_then(Value::as_str), m.get("simpleSettingValue")) {
                    if sv.get("value").is_some_and(is_marker) {
                        out.push(id.to_string());
                        return;
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, &mut out);
    out
}

/// The encrypted tokens of the live policy's secrets, by setting id.
pub fn live_tokens(settings: &Value) -> BTreeMap<String, String> {
    fn walk(v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                if let (Some(id), Some(sv)) = (m.get("settingDefinitionId").and_then(Value::as_str), m.get("simpleSettingValue")) {
                    if is_secret_value(sv) && sv.get("valueState").and_then(Value::as_str) == Some("encryptedValueToken") {
                        if let Some(t) = sv.get("value").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.insert(id.to_string(), t.to_string());
                        }
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(settings, &mut out);
    out
}

/// What to send for one secret: the live token (kept), or the value of its
/// variable (sent `notEncrypted`); an error names the variable, never a value.
pub fn value_for(id: &str, marker: &str, token: Option<&String>, envs: Option<&Value>, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    value_from(id, marker == RESEND, token, envs, env)
}

/// [`value_for`], sending the variable's value again when `resend`.
fn value_from(id: &str, resend: bool, token: Option<&String>, envs: Option<&Value>, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    if let (Some(t), false) = (token, resend) {
        crate::graph::redact::register(t);
        return Ok(json!({"@odata.type": format!("{NS}SecretSettingValue"), "value": t, "valueState": "encryptedValueToken"}));
    }
    let var = envs.and_then(|e| e.get(id)).and_then(Value::as_str).ok_or_else(|| format!("setting {id} is a secret with no secret_env"))?;
    let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| format!("environment variable {var} (secret_env of setting {id}) is not set"))?;
    // Masked in any Graph error that echoes it.
    crate::graph::redact::register(&value);
    Ok(json!({"@odata.type": format!("{NS}SecretSettingValue"), "value": value, "valueState": "notEncrypted"}))
}

/// Puts the secrets into a policy's write body: on a create (or where the
/// live policy holds no token, or `rotate = true`) from the environment,
/// otherwise the live token read now.
pub async fn fill(w: &Writer<'_>, body: &mut Value) -> Result<(), ExecError> {
    let ids = marker_ids(body);
    if ids.is_empty() {
        return Ok(());
    }
    let r = w.desired()?;
    let tokens = match w.change().id.as_deref() {
        Some(id) if w.change().action != engine::Action::Replace => {
            let settings = w.api().list_all(&format!("{}/{id}/settings?$top=999", w.base())).await.map_err(fail)?;
            live_tokens(&Value::Array(settings))
        }
        _ => BTreeMap::new(),
    };
    let envs = r.create_only.get(ENVS);
    // A secret whose variable changed since the ledger recorded it is sent
    // again, from the new variable.
    let resend = |id: &str, marker: &str| marker == RESEND || engine::secret_env::resends(w.change(), id);
    replace(body, &mut |id, marker| value_from(id, resend(id, marker), tokens.get(id), envs, &|var| w.env(var))).map_err(|e| err(format!("{}: {e}", w.address())))
}

#[cfg(test)]
mod env_name_tests {
    use super::*;

    #[test]
    fn each_policys_secret_gets_its_own_variable() {
        let mut names = EnvNames::default();
        let id = "vendor_msft_wifi_profile_sharedkey";
        let office = names.name("office-wifi", id);
        let lab = names.name("lab-wifi", id);
        assert_eq!(office, "SECRET_OFFICE_WIFI_VENDOR_MSFT_WIFI_PROFILE_SHAREDKEY");
        assert_ne!(office, lab);
        assert_eq!(names.name("office-wifi", id), office, "the same pair, the same name");
        // Two pairs that read the same once upper-cased get two names.
        let (x, y) = (names.name("a-b", "c"), names.name("a", "b_c"));
        assert_eq!((x.as_str(), y.as_str()), ("SECRET_A_B_C", "SECRET_A_B_C_2"));
    }
}
