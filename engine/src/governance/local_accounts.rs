//! Which device settings give away local accounts, local groups or user
//! rights (hostile run 20, findings 2 and 3), whatever profile carries
//! them: a custom OMA-URI profile (`omaUri`) or a Settings Catalog policy
//! (setting definition ids, which are the CSP node's URI in lower case
//! with `/` written `_`: `./Device/Vendor/MSFT/Policy/Config/UserRights/
//! DebugPrograms` is `device_vendor_msft_policy_config_userrights_
//! debugprograms`). The endpoint security "Local user group membership"
//! (account protection) policy is a Settings Catalog policy made from a
//! template whose settings are the LocalUsersAndGroups ones, so its
//! declared settings are judged the same way.
//!
//! Judged as admin access on the devices reached:
//! * the Accounts CSP (`./Device/Vendor/MSFT/Accounts/...`: local users,
//!   their passwords, their local groups);
//! * `Policy/Config/LocalUsersAndGroups`, `Policy/Config/RestrictedGroups`
//!   and `Policy/Config/Accounts`;
//! * `Policy/Config/UserRights/*` (debug programs, log on locally, act as
//!   part of the operating system, ...), except the `Deny*` rights, which
//!   only take access away;
//! * `Policy/Config/LocalPoliciesSecurityOptions/Accounts_EnableAdministratorAccountStatus`
//!   and `Accounts_EnableGuestAccountStatus` unless the value proves the
//!   account disabled (`0`, or a choice option ending `_0`): the other
//!   `Accounts_*` options (blank passwords, renaming) are hardening.
//!
//! A URI escaping its `/` (`RestrictedGroups%2FConfigureGroupMembership`)
//! is read unescaped.

use serde_json::Value;

/// (URI part, lower case; what it sets) of the CSP nodes over local
/// accounts, groups and rights.
const NODES: &[(&str, &str)] = &[
    ("/vendor/msft/accounts/", "local accounts"),
    ("/policy/config/localusersandgroups/", "local groups"),
    ("/policy/config/accounts/", "account policy"),
    ("/policy/config/restrictedgroups/", "restricted (local) groups"),
    ("/policy/config/userrights/", "user rights"),
    ("/localusergroup", "local groups"),
];

/// Security options that enable a built-in local account (URI part).
const ENABLE_ACCOUNT: &[(&str, &str)] = &[
    ("/policy/config/localpoliciessecurityoptions/accounts_enableadministratoraccountstatus", "the built-in Administrator account"),
    ("/policy/config/localpoliciessecurityoptions/accounts_enableguestaccountstatus", "the built-in Guest account"),
];

/// A node's URI part as it appears inside a setting definition id.
fn as_id(part: &str) -> String {
    part.replace('/', "_")
}

/// Whether `value` proves the setting off: `0`, `"0"`, or a choice option
/// id ending `_0` (alone or as a choice table's `value`).
fn proves_off(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s == "0" || s.ends_with("_0"),
        Value::Object(m) => m.get("value").is_some_and(proves_off),
        _ => false,
    }
}

/// What a setting named `name` (an OMA-URI, or a setting definition id when
/// `is_id`) with `value` does to local accounts, or `None`.
pub fn judge(name: &str, is_id: bool, value: &Value) -> Option<String> {
    let lower = name.to_ascii_lowercase().replace("%2f", "/");
    let part = |p: &str| if is_id { as_id(p) } else { p.to_string() };
    for (node, what) in NODES {
        let node = part(node);
        let Some(at) = lower.find(&node) else { continue };
        if node.ends_with(&part("/policy/config/userrights/")) && lower[at + node.len()..].starts_with("deny") {
            // A Deny* right takes access away.
            return None;
        }
        let right = if node.contains("userrights") { format!(" ({})", &lower[at + node.len()..]) } else { String::new() };
        return Some(format!("{name} sets {what}{right} on the devices it reaches: admin access on them"));
    }
    for (node, what) in ENABLE_ACCOUNT {
        if lower.contains(&part(node)) && !proves_off(value) {
            return Some(format!("{name} enables {what} on the devices it reaches: a local account outside any approval"));
        }
    }
    None
}

/// Each (setting definition id, why) of a Settings Catalog policy's
/// declared `settings` (children of choices and group collections
/// included) that touches local accounts, groups or rights.
pub fn catalog(settings: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (id, v) in settings {
        walk(id, v, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn walk(id: &str, v: &Value, out: &mut Vec<String>) {
    if let Some(why) = judge(id, true, v) {
        out.push(why);
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter().filter(|(k, _)| k.as_str() != "value" && k.contains('_')) {
                walk(k, x, out);
            }
        }
        Value::Array(items) => {
            for x in items {
                if let Value::Object(m) = x {
                    for (k, y) in m {
                        walk(k, y, out);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uris_and_setting_ids_are_judged_alike() {
        for (uri, id) in [
            ("./Device/Vendor/MSFT/Policy/Config/LocalUsersAndGroups/Configure", "device_vendor_msft_policy_config_localusersandgroups_configure"),
            ("./Device/Vendor/MSFT/Policy/Config/RestrictedGroups/ConfigureGroupMembership", "device_vendor_msft_policy_config_restrictedgroups_configuregroupmembership"),
            ("./Device/Vendor/MSFT/Policy/Config/UserRights/DebugPrograms", "device_vendor_msft_policy_config_userrights_debugprograms"),
            ("./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/Accounts_EnableAdministratorAccountStatus", "device_vendor_msft_policy_config_localpoliciessecurityoptions_accounts_enableadministratoraccountstatus"),
        ] {
            assert!(judge(uri, false, &json!(1)).is_some(), "{uri}");
            assert!(judge(id, true, &json!(format!("{id}_1"))).is_some(), "{id}");
        }
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/RestrictedGroups%2FConfigureGroupMembership", false, &json!("x")).is_some());
        // Hardening is not admin access.
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/UserRights/DenyLocalLogOn", false, &json!("*S-1-5-32-546")).is_none());
        assert!(judge("device_vendor_msft_policy_config_localpoliciessecurityoptions_accounts_enableadministratoraccountstatus", true, &json!("device_vendor_msft_policy_config_localpoliciessecurityoptions_accounts_enableadministratoraccountstatus_0")).is_none());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/Accounts_EnableGuestAccountStatus", false, &json!(0)).is_none());
        assert!(judge("device_vendor_msft_policy_config_localpoliciessecurityoptions_accounts_limitlocalaccountuseofblankpasswordstoconsolelogononly", true, &json!("x_1")).is_none());
        assert!(judge("device_vendor_msft_policy_config_defender_allowrealtimemonitoring", true, &json!("x_1")).is_none());
    }

    #[test]
    fn children_of_group_collections_are_walked() {
        let settings = json!({"device_vendor_msft_laps_policies_backupdirectory": "x_1", "parent_x": [{"device_vendor_msft_policy_config_userrights_actaspartoftheoperatingsystem": "*S-1-5-32-545"}]});
        let found = catalog(settings.as_object().expect("an object"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("user rights (actaspartoftheoperatingsystem)"), "{found:?}");
    }
}
