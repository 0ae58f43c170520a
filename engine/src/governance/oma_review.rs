//! Custom OMA-URI profiles (hostile run 18, finding 12). A
//! `windows10CustomConfiguration` (or another `*CustomConfiguration`
//! profile: Android, iOS, macOS, Windows Phone) sets any CSP node on the
//! devices it reaches, accounts and local groups included, and tenantctl
//! cannot judge what a node does:
//! * every create, update or reassignment of one is sensitive, a
//!   restore of one too (putting a local account back is not restoring a
//!   control): [`reason`];
//! * a setting that touches local accounts, groups or user rights (the
//!   Accounts CSP, `Policy/Config/LocalUsersAndGroups`,
//!   `Policy/Config/Accounts`, `RestrictedGroups`, `LocalUserGroup`,
//!   `UserRights/*` but the `Deny*` ones, enabling the built-in
//!   Administrator or Guest: [`super::local_accounts`]) or carries a
//!   password inline is admin access on the device written in the
//!   repository: `oma-local-accounts`, an error unless
//!   `[governance.exceptions]` gives a reason for it ([`lints`]). The same
//!   nodes set through a Settings Catalog policy (by setting definition
//!   id) are judged alike.
//!
//! What plans show of a password setting is redacted by
//! `crate::render::names_a_secret` (its URI or name ends with a secret
//! word, or its value holds a password inline).

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::DesiredModel;
use crate::plan::{Action, Change};

/// The lint of an OMA-URI setting over local accounts or groups.
pub const OMA_LOCAL_ACCOUNTS: &str = "oma-local-accounts";

/// Whether a profile's properties are a custom OMA-URI profile.
pub fn is_custom(props: &crate::Props) -> bool {
    props.contains_key("omaSettings")
        || props.get("@odata.type").and_then(Value::as_str).is_some_and(|t| t.to_ascii_lowercase().ends_with("customconfiguration"))
}

/// Why a change of a custom OMA-URI profile is sensitive, or `None`.
pub fn reason(change: &Change) -> Option<String> {
    if change.address.kind != Kind::DeviceConfiguration || !matches!(change.action, Action::Create | Action::Update | Action::Assign | Action::Replace) {
        return None;
    }
    let custom = change.desired.as_ref().is_some_and(|d| is_custom(&d.props)) || change.live.as_ref().is_some_and(is_custom);
    custom.then(|| {
        format!(
            "custom OMA-URI profile {}: it sets any CSP node (local accounts and groups, security settings) on the devices it reaches, which tenantctl cannot judge, so every change of it is reviewed",
            change.address
        )
    })
}

/// Whether a string holds a password inline (an XML element or a
/// `password=` pair), judged case-insensitively.
pub fn holds_password(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["password", "pwd=", "<pwd>"].iter().any(|w| t.contains(w))
}

/// What a setting does to local accounts, or `None`.
fn touches_accounts(setting: &serde_json::Map<String, Value>) -> Option<String> {
    let uri = setting.get("omaUri").and_then(Value::as_str).unwrap_or_default();
    if let Some(why) = super::local_accounts::judge(uri, false, setting.get("value").unwrap_or(&Value::Null)) {
        return Some(why);
    }
    let name = setting.get("displayName").and_then(Value::as_str).unwrap_or_default();
    let value = setting.get("value").and_then(Value::as_str).unwrap_or_default();
    if holds_password(uri.rsplit('/').next().unwrap_or_default()) || holds_password(name) || holds_password(value) {
        return Some(format!("{uri} carries a password written in desired state (the repository's history keeps it)"));
    }
    None
}

/// `oma-local-accounts` for each setting of a declared custom profile
/// that touches local accounts, groups or user rights or carries a
/// password, and for each such setting of a Settings Catalog policy
/// (`super::local_accounts`: the same CSP nodes by setting definition id).
pub fn lints(_desired: &DesiredModel, address: &Address, r: &crate::DesiredResource) -> Vec<Finding> {
    let found: Vec<String> = match address.kind {
        Kind::DeviceConfiguration => r.props.get("omaSettings").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).filter_map(touches_accounts).collect(),
        Kind::SettingsCatalog => r.props.get("settings").and_then(Value::as_object).map(super::local_accounts::catalog).unwrap_or_default(),
        _ => Vec::new(),
    };
    found
        .into_iter()
        .map(|why| Finding {
            severity: Severity::Error,
            lint: OMA_LOCAL_ACCOUNTS.into(),
            address: address.to_string(),
            message: format!("{why}; manage local administrators with Windows LAPS and an account protection policy, or give the reason in [governance.exceptions] \"{OMA_LOCAL_ACCOUNTS}:{address}\""),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(uri: &str, value: Value) -> serde_json::Map<String, Value> {
        json!({"displayName": "x", "omaUri": uri, "value": value}).as_object().cloned().expect("an object")
    }

    #[test]
    fn account_nodes_and_passwords_are_found() {
        assert!(touches_accounts(&setting("./Device/Vendor/MSFT/Accounts/Users/support/Password", json!("x"))).is_some());
        assert!(touches_accounts(&setting("./Device/Vendor/MSFT/Policy/Config/LocalUsersAndGroups/Configure", json!("<GroupConfiguration/>"))).is_some());
        assert!(touches_accounts(&setting("./Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection", json!(1))).is_some());
        assert!(touches_accounts(&setting("./Vendor/MSFT/Policy/Config/NetworkProxy/ProxyServer", json!("proxy:8080"))).is_none());
        assert!(touches_accounts(&setting("./Vendor/MSFT/Custom/Thing", json!("user=a;Password=b"))).is_some());
        assert!(is_custom(&json!({"@odata.type": "#microsoft.graph.androidWorkProfileCustomConfiguration"}).as_object().cloned().expect("an object").into_iter().collect()));
    }
}
