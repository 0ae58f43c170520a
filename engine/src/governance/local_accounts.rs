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
//! * `Policy/Config/LocalUsersAndGroups` and `Policy/Config/RestrictedGroups`;
//! * `Policy/Config/UserRights/*` (debug programs, log on locally, act as
//!   part of the operating system, ...) unless the value grants the right
//!   to nobody beyond the machine's own privileged principals
//!   (Administrators `S-1-5-32-544`, SYSTEM `S-1-5-18`, LOCAL SERVICE
//!   `S-1-5-19`, NETWORK SERVICE `S-1-5-20`, SERVICE `S-1-5-6`) or to
//!   nobody at all: that narrows the right, as Microsoft's security
//!   baselines do (hostile run 22, finding 4). The rights that amount to
//!   admin ([`ADMIN_RIGHTS`]: debug programs, load drivers, act as part of
//!   the operating system, create a token, take ownership, back up and
//!   restore files, ...) are narrowed by Administrators and SYSTEM only,
//!   and by the service identities only where Windows gives them that
//!   right (hostile run 24, finding 4). The `Deny*` rights only take
//!   access away whatever they list;
//! * `Policy/Config/LocalPoliciesSecurityOptions/Accounts_EnableAdministratorAccountStatus`
//!   and `Accounts_EnableGuestAccountStatus` unless the value proves the
//!   account disabled (`0`, or a choice option ending `_0`): the other
//!   `Accounts_*` options (blank passwords, renaming) are hardening;
//! * Windows LAPS automatic account management (`./Device/Vendor/MSFT/LAPS/
//!   Policies/AutomaticAccountManagementEnabled`, which creates a local
//!   administrator account or takes over the built-in one, and
//!   `AutomaticAccountManagementEnableAccount`, which enables it) unless the
//!   value proves it off (`false`, `0`, an option ending `_false` or `_0`;
//!   hostile run 22, finding 5). LAPS managing the password of an account
//!   that exists (backup directory, password age, ...) is not flagged.
//!
//! `Policy/Config/Accounts/AllowMicrosoftAccountConnection` and
//! `AllowAddingNonMicrosoftAccountsManually` (Policy CSP - Accounts: `0`
//! not allowed, `1` allowed, the default) are flagged only when they
//! allow: `0` blocks accounts and is hardening (hostile run 22, finding
//! 4). The area's other settings touch no account.
//!
//! A URI is read as the device reads it: `%XX` escapes decoded
//! (`RestrictedGroups%2FConfigureGroupMembership`, `User%52ights`), `//`
//! collapsed, a trailing `/` or blank dropped.

use serde_json::Value;

/// (URI part, lower case; what it sets) of the CSP nodes over local
/// accounts, groups and rights.
const NODES: &[(&str, &str)] = &[
    ("/vendor/msft/accounts/", "local accounts"),
    ("/policy/config/localusersandgroups/", "local groups"),
    ("/policy/config/restrictedgroups/", "restricted (local) groups"),
    ("/policy/config/userrights/", "user rights"),
    ("/localusergroup", "local groups"),
];

/// Security options that enable a built-in local account (URI part).
const ENABLE_ACCOUNT: &[(&str, &str)] = &[
    ("/policy/config/localpoliciessecurityoptions/accounts_enableadministratoraccountstatus", "the built-in Administrator account"),
    ("/policy/config/localpoliciessecurityoptions/accounts_enableguestaccountstatus", "the built-in Guest account"),
];

/// Settings that allow accounts from outside the directory on a device
/// unless set to `0` (URI part).
const ALLOW_ACCOUNTS: &[(&str, &str)] = &[
    ("/policy/config/accounts/allowmicrosoftaccountconnection", "Microsoft accounts"),
    ("/policy/config/accounts/allowaddingnonmicrosoftaccountsmanually", "accounts added by hand"),
];

/// Windows LAPS automatic account management (URI part, exact node).
const LAPS_ACCOUNT: &[(&str, &str)] = &[
    ("/vendor/msft/laps/policies/automaticaccountmanagementenabled", "turns on Windows LAPS automatic account management, which creates a local administrator account (or takes over the built-in one)"),
    ("/vendor/msft/laps/policies/automaticaccountmanagementenableaccount", "enables the local administrator account Windows LAPS manages"),
];

/// The machine's own privileged principals: a user right held by nobody
/// else gives no person anything.
const MACHINE_PRINCIPALS: &[&str] = &["s-1-5-32-544", "administrators", "builtin\\administrators", "s-1-5-18", "s-1-5-19", "s-1-5-20", "s-1-5-6"];

/// Administrators and SYSTEM (which holds every privilege already).
const ADMINS: &[&str] = &["s-1-5-32-544", "administrators", "builtin\\administrators", "s-1-5-18"];

/// [`ADMINS`] and the service identities SERVICE, LOCAL SERVICE and
/// NETWORK SERVICE.
const ADMINS_AND_SERVICES: &[&str] = &["s-1-5-32-544", "administrators", "builtin\\administrators", "s-1-5-18", "s-1-5-19", "s-1-5-20", "s-1-5-6"];

/// [`ADMINS`] and LOCAL SERVICE and NETWORK SERVICE.
const ADMINS_AND_NETWORK_SERVICES: &[&str] = &["s-1-5-32-544", "administrators", "builtin\\administrators", "s-1-5-18", "s-1-5-19", "s-1-5-20"];

/// The user rights that amount to admin on the device (Policy CSP
/// UserRights node, lower case; who may hold it and still narrow it):
/// whoever holds one can become SYSTEM, load kernel code, or read and
/// write every file. Only Administrators (or nobody) narrow them, and the
/// low-privilege service identities only where Windows itself gives them
/// the right: the security baseline's "Impersonate a client after
/// authentication" (Administrators, SERVICE, LOCAL SERVICE, NETWORK
/// SERVICE) and the default holders of "Replace a process level token"
/// (LOCAL SERVICE, NETWORK SERVICE). Hostile run 24, finding 4: LOCAL
/// SERVICE holding Debug programs is a way from any service to SYSTEM.
const ADMIN_RIGHTS: &[(&str, &[&str])] = &[
    ("accesscredentialmanagerastrustedcaller", ADMINS),
    ("actaspartoftheoperatingsystem", ADMINS),
    ("backupfilesanddirectories", ADMINS),
    ("createtoken", ADMINS),
    ("debugprograms", ADMINS),
    ("impersonateclient", ADMINS_AND_SERVICES),
    ("loadunloaddevicedrivers", ADMINS),
    ("manageauditingandsecuritylog", ADMINS),
    ("managevolume", ADMINS),
    ("modifyfirmwareenvironment", ADMINS),
    ("modifyobjectlabel", ADMINS),
    ("replaceprocessleveltoken", ADMINS_AND_NETWORK_SERVICES),
    ("restorefilesanddirectories", ADMINS),
    ("takeownership", ADMINS),
];

/// Who may hold user right `right` (its node name, lower case) for a
/// value to narrow it.
fn holders(right: &str) -> &'static [&'static str] {
    ADMIN_RIGHTS.iter().find(|(r, _)| *r == right).map_or(MACHINE_PRINCIPALS, |(_, h)| h)
}

/// Whether a user right's `value` grants it to nobody beyond `allowed`:
/// entries separated by U+F000 (written `&#xF000;` in an OMA-URI string),
/// a CDATA wrapper, a `*` before a SID; a list (a Settings Catalog
/// collection) is judged entry by entry.
fn narrows(value: &Value, allowed: &[&str]) -> bool {
    match value {
        Value::String(s) => {
            let s = s.trim();
            let s = s.strip_prefix("<![CDATA[").and_then(|x| x.strip_suffix("]]>")).unwrap_or(s);
            s.replace("&#xF000;", "\u{F000}").replace("&#xf000;", "\u{F000}").split(['\u{F000}', ',']).map(|e| e.trim().trim_start_matches('*').to_ascii_lowercase()).filter(|e| !e.is_empty()).all(|e| allowed.contains(&e.as_str()))
        }
        Value::Array(items) => items.iter().all(|v| narrows(v, allowed)),
        Value::Object(m) => m.get("value").is_some_and(|v| narrows(v, allowed)),
        Value::Null => true,
        _ => false,
    }
}

/// A node's URI part as it appears inside a setting definition id.
fn as_id(part: &str) -> String {
    part.replace('/', "_")
}

/// Whether `value` proves the setting off: `0`, `"0"`, or a choice option
/// id ending `_0` (alone or as a choice table's `value`).
fn proves_off(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s == "0" || s.ends_with("_0") || s.eq_ignore_ascii_case("false") || s.ends_with("_false"),
        Value::Bool(b) => !b,
        Value::Object(m) => m.get("value").is_some_and(proves_off),
        _ => false,
    }
}

/// `name` as the device reads it, lower case: every `%XX` escape decoded
/// (the device decodes them, so `User%52ights` is `UserRights`), runs of
/// `/` collapsed and a trailing `/` or blank dropped (hostile run 24,
/// finding 10: each of these hid a node from the lint).
fn normalized(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&decoded).to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out.trim_end_matches(|c: char| c == '/' || c.is_whitespace()).to_string()
}

/// What a setting named `name` (an OMA-URI, or a setting definition id when
/// `is_id`) with `value` does to local accounts, or `None`.
pub fn judge(name: &str, is_id: bool, value: &Value) -> Option<String> {
    let lower = normalized(name);
    let part = |p: &str| if is_id { as_id(p) } else { p.to_string() };
    for (node, what) in NODES {
        let node = part(node);
        let Some(at) = lower.find(&node) else { continue };
        if node.ends_with(&part("/policy/config/userrights/")) && (lower[at + node.len()..].starts_with("deny") || narrows(value, holders(&lower[at + node.len()..]))) {
            // A Deny* right takes access away; one held by the machine's
            // own principals only is narrowed.
            return None;
        }
        let right = if node.contains("userrights") { format!(" ({})", &lower[at + node.len()..]) } else { String::new() };
        return Some(format!("{name} sets {what}{right} on the devices it reaches: admin access on them"));
    }
    for (node, what) in ALLOW_ACCOUNTS {
        if lower.ends_with(&part(node)) && !proves_off(value) {
            return Some(format!("{name} allows {what} on the devices it reaches: accounts outside the directory"));
        }
    }
    for (node, what) in LAPS_ACCOUNT {
        if lower.ends_with(&part(node)) && !proves_off(value) {
            return Some(format!("{name} {what} on the devices it reaches: a local account outside any approval"));
        }
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
    fn narrowing_is_not_granting() {
        let debug = "./Device/Vendor/MSFT/Policy/Config/UserRights/DebugPrograms";
        assert!(judge(debug, false, &json!("<![CDATA[*S-1-5-32-544]]>")).is_none());
        assert!(judge(debug, false, &json!("")).is_none(), "nobody");
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/UserRights/ImpersonateClient", false, &json!("*S-1-5-32-544&#xF000;*S-1-5-19&#xF000;*S-1-5-20&#xF000;*S-1-5-6")).is_none());
        assert!(judge(debug, false, &json!("*S-1-5-32-544&#xF000;*S-1-5-32-545")).is_some(), "Users added");
        assert!(judge("device_vendor_msft_policy_config_userrights_debugprograms", true, &json!(["*S-1-5-32-544"])).is_none());
        assert!(judge("device_vendor_msft_policy_config_userrights_debugprograms", true, &json!(["*S-1-5-32-544", "CONTOSO\\helpdesk"])).is_some());
        let msa = "device_vendor_msft_policy_config_accounts_allowmicrosoftaccountconnection";
        assert!(judge(msa, true, &json!(format!("{msa}_0"))).is_none());
        assert!(judge(msa, true, &json!(format!("{msa}_1"))).is_some());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection", false, &json!(0)).is_none());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/Accounts/DomainNamesForEmailSync", false, &json!("contoso.com")).is_none());
    }

    #[test]
    fn admin_rights_are_narrowed_by_administrators_only() {
        for (right, value) in [("DebugPrograms", "*S-1-5-32-544&#xF000;*S-1-5-19"), ("ActAsPartOfTheOperatingSystem", "*S-1-5-6"), ("LoadUnloadDeviceDrivers", "*S-1-5-20"), ("TakeOwnership", "*S-1-5-19"), ("RestoreFilesAndDirectories", "*S-1-5-6")] {
            assert!(judge(&format!("./Device/Vendor/MSFT/Policy/Config/UserRights/{right}"), false, &json!(value)).is_some(), "{right}");
        }
        assert!(judge("device_vendor_msft_policy_config_userrights_createtoken", true, &json!(["*S-1-5-19"])).is_some());
        assert!(judge("device_vendor_msft_policy_config_userrights_createtoken", true, &json!(["Administrators"])).is_none());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/UserRights/CreateToken", false, &json!("")).is_none(), "nobody");
        // Where Windows gives the service identities the right, they narrow it.
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/UserRights/ImpersonateClient", false, &json!("*S-1-5-32-544&#xF000;*S-1-5-6")).is_none());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/UserRights/CreateGlobalObjects", false, &json!("*S-1-5-32-544&#xF000;*S-1-5-19")).is_none());
    }

    #[test]
    fn uris_are_read_as_the_device_reads_them() {
        for uri in [
            "./Device/Vendor/MSFT/Policy/Config/User%52ights/DebugPrograms",
            "./Device/Vendor/MSFT/Policy/Config//UserRights/DebugPrograms",
            "./Device/Vendor/MSFT/Policy/Config/UserRights/DebugPrograms/",
            "./Device/Vendor/MSFT/Policy/Config/UserRights/DebugPrograms ",
        ] {
            assert!(judge(uri, false, &json!("*S-1-5-32-545")).is_some(), "{uri}");
        }
        assert!(judge("./Device/Vendor/MSFT/LAPS/Policies/%41utomaticAccountManagementEnabled", false, &json!(true)).is_some());
        assert!(judge("./Device/Vendor/MSFT/LAPS/Policies/AutomaticAccountManagementEnabled/", false, &json!(true)).is_some());
        assert!(judge("./Device/Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection ", false, &json!(1)).is_some());
        assert_eq!(normalized("./Device/Vendor/MSFT/Policy/Config/RestrictedGroups%2FConfigureGroupMembership"), "./device/vendor/msft/policy/config/restrictedgroups/configuregroupmembership");
        assert_eq!(normalized("%zz%4"), "%zz%4", "not an escape");
    }

    #[test]
    fn laps_automatic_account_management_is_a_local_account() {
        let on = "device_vendor_msft_laps_policies_automaticaccountmanagementenabled";
        assert!(judge(on, true, &json!(format!("{on}_true"))).is_some());
        assert!(judge(on, true, &json!(format!("{on}_false"))).is_none());
        let enable = "./Device/Vendor/MSFT/LAPS/Policies/AutomaticAccountManagementEnableAccount";
        assert!(judge(enable, false, &json!(1)).is_some());
        assert!(judge(enable, false, &json!(0)).is_none());
        assert!(judge("./Device/Vendor/MSFT/LAPS/Policies/AutomaticAccountManagementEnabled", false, &json!(true)).is_some());
        assert!(judge("device_vendor_msft_laps_policies_passwordagedays", true, &json!(30)).is_none());
    }

    #[test]
    fn children_of_group_collections_are_walked() {
        let settings = json!({"device_vendor_msft_laps_policies_backupdirectory": "x_1", "parent_x": [{"device_vendor_msft_policy_config_userrights_actaspartoftheoperatingsystem": "*S-1-5-32-545"}]});
        let found = catalog(settings.as_object().expect("an object"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("user rights (actaspartoftheoperatingsystem)"), "{found:?}");
    }
}
