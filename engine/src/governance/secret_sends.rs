//! Secrets sent from the environment are reviewed (hostile run 19,
//! finding 4). A Settings Catalog `{ secret_env = "NAME" }` (a Wi-Fi key, a
//! VPN shared secret) sends the variable's value to Intune, and on to
//! every device the policy reaches, where a local administrator can read
//! it. A deny list of credential names cannot know every secret a runner
//! holds (`NPM_TOKEN`, a repository secret under its own name), so any
//! change that sends one is sensitive, the variables named: a create, a
//! variable changed, a secret asked to be sent again (`rotate = true`) or
//! one set where the tenant holds none.

use serde_json::Value;

use crate::plan::{Action, Change};

/// Whether a field's value after the change sends a secret: the markers a
/// secret setting normalizes to when it is set from the environment, or
/// sent again (`providers::kinds::settings_catalog_secret`).
fn sends(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with("(secret: set") || s.starts_with("(secret: sent again"),
        Value::Array(a) => a.iter().any(sends),
        Value::Object(m) => m.values().any(sends),
        _ => false,
    }
}

/// Why `change` is sensitive because it sends secrets from the
/// environment, or `None`.
pub fn reason(change: &Change) -> Option<String> {
    let d = change.desired.as_ref()?;
    let envs = crate::secret_env::declared(d);
    if envs.is_empty() {
        return None;
    }
    let sending = match change.action {
        Action::Create | Action::Replace => true,
        Action::Update | Action::Assign => change.fields.iter().any(|f| f.field == crate::secret_env::ENVS || (f.after.as_ref().is_some_and(sends) && f.after != f.before)),
        _ => false,
    };
    if !sending {
        return None;
    }
    let vars: Vec<String> = envs.values().map(|v| format!("${v}")).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    Some(format!(
        "sends the secret value(s) of {} to Intune and the devices {} reaches: whoever can read or set them where tenantctl runs chooses them, and the plan shows only their names",
        vars.join(", "),
        change.address
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use crate::model::{DesiredResource, Props};
    use serde_json::json;

    fn change(action: Action, fields: Vec<FieldChange>, envs: bool) -> Change {
        let mut create_only = Props::new();
        if envs {
            create_only.insert(crate::secret_env::ENVS.into(), json!({"vendor_msft_wifi_profile_sharedkey": "NPM_TOKEN"}));
        }
        let address: schema::Address = "settings_catalog.wifi".parse().expect("test fixture");
        let d = DesiredResource { address: address.clone(), natural_key: "wifi".into(), display_name: "Wi-Fi".into(), props: Props::new(), immutable: vec![], assignment_props: vec![], create_only, depends_on: vec![], expires: None };
        Change { address, action, display_name: "Wi-Fi".into(), id: None, reason: String::new(), fields, waits_on: vec![], wave: 0, desired: Some(d), notes: vec![], live: None }
    }

    #[test]
    fn sending_a_secret_is_sensitive_and_names_the_variable() {
        let why = reason(&change(Action::Create, vec![], true)).expect("a create sends");
        assert!(why.contains("$NPM_TOKEN"), "{why}");
        assert!(reason(&change(Action::Create, vec![], false)).is_none(), "no secret, nothing sent");
        let resend = FieldChange { field: "settings.x".into(), before: Some(json!("(secret: set, value not compared)")), after: Some(json!("(secret: sent again from the environment at apply)")) };
        assert!(reason(&change(Action::Update, vec![resend], true)).is_some(), "rotate");
        let other = FieldChange { field: "name".into(), before: Some(json!("a")), after: Some(json!("b")) };
        assert!(reason(&change(Action::Update, vec![other], true)).is_none(), "the live token is sent back, no secret leaves");
    }
}
