//! Stage 4 of the pipeline: plans rendered for people and machines. Text
//! for terminals, Markdown for pull-request comments, JSON for saved plans
//! and tools. All three go through `show_value`, which redacts anything
//! secret-named, so no renderer can leak a secret by accident.

mod budget;
mod escape;
mod json;
mod markdown;
mod removed;
mod text;

pub use escape::{html_text, is_hidden, md_code, md_text, text_safe, MdContext};
pub use json::{json, redacted};
pub(crate) use json::redacted_hash;
pub use budget::markdown_within;
pub use markdown::markdown;
pub use removed::deleted_settings;
pub use text::text;

use serde_json::Value;

use crate::model::as_reference;
use crate::plan::{Action, Plan};

/// Property names whose values are never shown.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['_', '-'], "");
    // By name, the secrets the suffixes below miss (hostile run 19,
    // finding 8; Graph's metadata has no other `...ExitCode` or `...Pin`
    // string): the code that takes an Android device out of kiosk mode,
    // and a PIN that unlocks.
    matches!(n.as_str(), "passwordprofile" | "credentials" | "keycredentials" | "passwordcredentials" | "kioskmodeexitcode" | "unlockpin")
        || ["password", "secret", "token", "privatekey", "presharedkey", "sharedkey", "passphrase"].iter().any(|s| n.ends_with(s))
}

/// Whether an object is a named setting whose name is secret-named, such as
/// an Intune OMA-URI setting `{ displayName = "PreSharedKey", omaUri =
/// ".../WiFi/Profile/Corp/PreSharedKey", value = ".." }`: its `value` is
/// then a secret although the key `value` is not secret-named. Names are
/// judged like property names, spaces ignored, and an OMA-URI by its last
/// segment. A setting whose value holds a password inline (an XML
/// `<Password>` element, a `Password=` pair) is secret whatever its name.
pub fn names_a_secret(m: &serde_json::Map<String, Value>) -> bool {
    ["displayName", "name", "omaUri"].iter().any(|k| {
        m.get(*k)
            .and_then(Value::as_str)
            .map(|n| n.rsplit('/').next().unwrap_or(n).replace(' ', ""))
            .is_some_and(|n| is_secret_name(&n))
    }) || (m.contains_key("omaUri") && m.get("value").and_then(Value::as_str).is_some_and(crate::governance::oma_review::holds_password))
}

/// Whether the entry `key` of object `m` must not be shown.
pub fn is_secret_entry(m: &serde_json::Map<String, Value>, key: &str) -> bool {
    is_secret_name(key) || (key == "value" && names_a_secret(m))
}

/// A value for display: references by address, secrets redacted.
pub fn show_value(field: &str, v: &Value) -> String {
    if is_secret_name(field) {
        return "(redacted)".to_string();
    }
    if let Some(r) = as_reference(v) {
        return r.to_string();
    }
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(|x| show_value(field, x)).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, x)| if is_secret_entry(m, k) { format!("{k} = (redacted)") } else { format!("{k} = {}", show_value(k, x)) })
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        // JSON escapes C0 controls in strings; the rest (bidi overrides,
        // DEL, C1) are escaped here, for every renderer at once.
        other => text_safe(&other.to_string()),
    }
}

/// "3 to create, 1 to update, ..." for the actions present.
pub fn headline(plan: &Plan) -> String {
    // What could not be read may differ: never say the tenant matches.
    let mut unread = match plan.unknown.len() {
        0 => String::new(),
        n => format!("; {n} resource(s) could not be read"),
    };
    // Refused changes are not applied: never "the tenant matches" either.
    if !plan.refused.is_empty() {
        unread.push_str(&format!("; {} refused (not applied)", plan.refused.len()));
    }
    if plan.changes.is_empty() {
        if !plan.unknown.is_empty() {
            return format!("incomplete: nothing to change in what could be read{unread}");
        }
        if plan.changes_governance() {
            let n = plan.governance.as_ref().map_or(0, |g| g.fields.len());
            return format!("governance change only: {n} field(s) of [governance] differ from the trust root in force (sensitive: the approvers in force approve it){unread}");
        }
        if !plan.refused.is_empty() {
            return format!("refused: nothing else to change{unread}");
        }
        return "no changes: the tenant matches desired state".to_string();
    }
    let mut counts = std::collections::BTreeMap::new();
    for c in &plan.changes {
        *counts.entry(c.action).or_insert(0usize) += 1;
    }
    let parts: Vec<String> = [
        (Action::Create, "to create"),
        (Action::Update, "to update"),
        (Action::Assign, "to reassign"),
        (Action::Replace, "to replace"),
        (Action::Delete, "to delete"),
        (Action::Forget, "to forget"),
    ]
    .iter()
    .filter_map(|(a, label)| counts.get(a).map(|n| format!("{n} {label}")))
    .collect();
    format!("{}{unread}", parts.join(", "))
}

/// Lines of `field = value` before and after, for a unified diff.
pub(crate) fn diff_sides(change: &crate::plan::Change) -> (String, String) {
    let mut before = String::new();
    let mut after = String::new();
    for (field, value) in removed::deleted_settings(change) {
        before.push_str(&format!("{field} = {value}\n"));
    }
    for f in &change.fields {
        if let Some(b) = &f.before {
            before.push_str(&format!("{} = {}\n", f.field, show_value(&f.field, b)));
        }
        if let Some(a) = &f.after {
            after.push_str(&format!("{} = {}\n", f.field, show_value(&f.field, a)));
        }
    }
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_refs_shown_by_address() {
        assert_eq!(show_value("passwordProfile", &json!({"password": "hunter2"})), "(redacted)");
        assert_eq!(show_value("x", &json!({"password": "hunter2"})), "{ password = (redacted) }");
        assert_eq!(show_value("members", &json!([{"@ref": "user.a"}])), "[user.a]");
        assert_eq!(show_value("passwordPolicies", &json!("DisablePasswordExpiration")), "\"DisablePasswordExpiration\"");
        assert_eq!(show_value("passwordFromEnv", &json!("PW_VAR")), "\"PW_VAR\"");
        assert_eq!(show_value("wiFiPreSharedKey", &json!("abc")), "(redacted)");
        assert_eq!(show_value("client_secret", &json!("abc")), "(redacted)");
        assert_eq!(show_value("kioskModeExitCode", &json!("948213")), "(redacted)");
        assert_eq!(show_value("unlockPin", &json!("1234")), "(redacted)");
    }

    #[test]
    fn values_of_secret_named_settings_are_redacted() {
        let wifi = json!([{"displayName": "Wi-Fi Pre-Shared Key", "omaUri": "./Vendor/MSFT/WiFi/Profile/Corp/WlanXml", "value": "hunter2"}]);
        assert_eq!(show_value("omaSettings", &wifi), "[{ displayName = \"Wi-Fi Pre-Shared Key\", omaUri = \"./Vendor/MSFT/WiFi/Profile/Corp/WlanXml\", value = (redacted) }]");
        let by_uri = json!({"displayName": "Corp", "omaUri": "./Vendor/MSFT/WiFi/Profile/Corp/PreSharedKey", "value": "hunter2"});
        assert!(!show_value("x", &by_uri).contains("hunter2"));
        let plain = json!({"displayName": "ProxyServer", "omaUri": "./Vendor/MSFT/Policy/Config/NetworkProxy/ProxyServer", "value": "proxy:8080"});
        assert!(show_value("x", &plain).contains("proxy:8080"));
    }
}
