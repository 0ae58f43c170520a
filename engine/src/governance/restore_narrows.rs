//! Restores of portal widenings that only narrow what the live object
//! grants (hostile run 26, finding 2). A correction the ledger proves puts
//! back the approved state ([`super::tightens::restores`]); where the
//! direction of every field it changes can be told and each moves toward
//! less access, it grants nothing the tenant does not grant now, so it is
//! applied unattended like a control put back
//! ([`super::tightens::only_tightens`]). Any field that widens, or whose
//! direction cannot be told, keeps the kind's own rule (reviewed):
//! * a custom directory role (`role_definition`): its allowed actions back
//!   to a subset of the live ones;
//! * a custom Intune role (`intune_role_definition`): its allowed
//!   operations back to a subset, its denied ones to a superset;
//! * the guest settings (`authorization_policy`): who may invite toward
//!   nobody, the guests' role toward Restricted Guest, self-service sign-up
//!   and app/group/tenant creation by members switched off, MSOnline
//!   PowerShell blocked;
//! * an administrative unit: its static members back to a subset (a
//!   membership rule's reach cannot be compared, so a rule restore stays
//!   reviewed);
//! * PIM approvers: fewer approvers (a subset) on an approval already
//!   required (`super::tightens`); a swap adds someone and is reviewed;
//! * an Intune role assignment's `scopeType` narrowed
//!   ([`scope_type_narrows`], used by `super::admin_reach::only_narrows`);
//! * a catalog's custom workflow extensions put back exactly as approved
//!   (`super::custom_extensions`, `super::tightens`).

use std::collections::BTreeSet;

use schema::kinds::authorization_policy::{GuestUserRole, GUEST_ROLES};
use schema::Kind;
use serde_json::Value;

use crate::diff::FieldChange;
use crate::plan::Change;

/// Every string under key `key` anywhere in `v` (arrays flattened).
fn strings_under(v: Option<&Value>, key: &str, out: &mut BTreeSet<String>) {
    match v {
        Some(Value::Object(m)) => {
            for (k, x) in m {
                if k == key {
                    out.extend(x.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
                    out.extend(x.as_str().map(str::to_string));
                } else {
                    strings_under(Some(x), key, out);
                }
            }
        }
        Some(Value::Array(a)) => a.iter().for_each(|x| strings_under(Some(x), key, out)),
        _ => {}
    }
}

/// The strings of a list value (or of the references in it).
fn list(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| x.as_str().or_else(|| crate::model::as_reference(x))).map(str::to_string).collect()
}

fn is(v: Option<&Value>, b: bool) -> bool {
    v.and_then(Value::as_bool) == Some(b)
}

/// How widely guests may be invited: a restore may only move it down.
fn invites_rank(v: Option<&Value>) -> Option<u8> {
    Some(match v?.as_str()? {
        "none" => 0,
        "adminsAndGuestInviters" => 1,
        "adminsGuestInvitersAndAllMembers" => 2,
        "everyone" => 3,
        _ => return None,
    })
}

/// How much of the directory guests see: a restore may only move it down.
fn guest_role_rank(v: Option<&Value>) -> Option<u8> {
    let role = GUEST_ROLES.iter().find(|(_, id)| v.and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case(id))).map(|(r, _)| *r)?;
    Some(match role {
        GuestUserRole::RestrictedGuestUser => 0,
        GuestUserRole::GuestUser => 1,
        GuestUserRole::User => 2,
    })
}

/// Whether one field of a restore of `kind` moves toward less access.
fn field_narrows(kind: Kind, f: &FieldChange) -> bool {
    let leaf = f.field.rsplit('.').next().unwrap_or_default();
    let (before, after) = (f.before.as_ref(), f.after.as_ref());
    if matches!(leaf, "displayName" | "description") {
        return true;
    }
    match kind {
        Kind::RoleDefinition => match leaf {
            "allowedResourceActions" => list(after).is_subset(&list(before)),
            "isEnabled" => is(after, false),
            _ => false,
        },
        Kind::IntuneRoleDefinition => match f.field.as_str() {
            "rolePermissions" => {
                let set = |v: Option<&Value>, k: &str| {
                    let mut s = BTreeSet::new();
                    strings_under(v, k, &mut s);
                    s
                };
                let allowed = set(after, "allowedResourceActions").is_subset(&set(before, "allowedResourceActions"));
                let denied = set(before, "notAllowedResourceActions").is_subset(&set(after, "notAllowedResourceActions"));
                allowed && denied && set(after, "actions").is_subset(&set(before, "actions"))
            }
            _ => false,
        },
        Kind::AuthorizationPolicy => match leaf {
            "allowInvitesFrom" => matches!((invites_rank(before), invites_rank(after)), (Some(b), Some(a)) if a < b),
            "guestUserRoleId" => matches!((guest_role_rank(before), guest_role_rank(after)), (Some(b), Some(a)) if a < b),
            "allowedToSignUpEmailBasedSubscriptions" | "allowEmailVerifiedUsersToJoinOrganization" => is(after, false),
            "allowedToCreateApps" | "allowedToCreateSecurityGroups" | "allowedToCreateTenants" | "allowedToReadOtherUsers" | "allowedToReadBitlockerKeysForOwnedDevice" => is(after, false),
            "blockMsolPowerShell" => is(after, true),
            _ => false,
        },
        Kind::AdministrativeUnit => match leaf {
            "members" => list(after).is_subset(&list(before)),
            _ => false,
        },
        _ => false,
    }
}

/// Why a proven restore (`super::tightens::only_tightens` checked that)
/// of one of these kinds only narrows what the live object grants.
pub fn reason(change: &Change) -> Option<String> {
    let kind = change.address.kind;
    if !matches!(kind, Kind::RoleDefinition | Kind::IntuneRoleDefinition | Kind::AuthorizationPolicy | Kind::AdministrativeUnit) {
        return None;
    }
    if change.fields.is_empty() || !change.fields.iter().all(|f| field_narrows(kind, f)) {
        return None;
    }
    // A restricted management unit protects its members: tenant-wide
    // administrators cannot manage them, only those assigned at the unit.
    // Taking a member out hands the account back to every tenant-wide
    // user, helpdesk and authentication administrator, so it widens who
    // may manage it: reviewed (hostile run 28, finding 4: an account put
    // into such a unit in an incident was taken out unattended).
    if kind == Kind::AdministrativeUnit && super::restricted_unit::restricted(change) && change.fields.iter().any(|f| f.field == "members") {
        return None;
    }
    let what: Vec<&str> = change.fields.iter().map(|f| f.field.as_str()).collect();
    Some(format!(
        "puts {} back as it was approved and last applied, and only narrows what it grants now ({}; the tenant widened it; the ledger's record is beyond the change's reach), so it needs no approval and reconcile --self-heal applies it unattended",
        change.address,
        what.join(", ")
    ))
}

/// Whether an Intune role assignment's `scopeType` change narrows: from
/// all devices and all licensed users to one of the two.
pub fn scope_type_narrows(f: &FieldChange) -> bool {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    f.field == "scopeType" && s(f.before.as_ref()).as_deref() == Some("allDevicesAndLicensedUsers") && matches!(s(f.after.as_ref()).as_deref(), Some("allDevices" | "allLicensedUsers"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, b: Value, a: Value) -> FieldChange {
        FieldChange { field: name.into(), before: Some(b), after: Some(a) }
    }

    #[test]
    fn directions_are_told() {
        assert!(field_narrows(Kind::RoleDefinition, &field("allowedResourceActions", json!(["a", "b"]), json!(["a"]))));
        assert!(!field_narrows(Kind::RoleDefinition, &field("allowedResourceActions", json!(["a"]), json!(["b"]))));
        let perms = |a: &[&str]| json!([{"resourceActions": [{"allowedResourceActions": a, "notAllowedResourceActions": []}]}]);
        assert!(field_narrows(Kind::IntuneRoleDefinition, &field("rolePermissions", perms(&["r", "w"]), perms(&["r"]))));
        assert!(!field_narrows(Kind::IntuneRoleDefinition, &field("rolePermissions", perms(&["r"]), perms(&["r", "w"]))));
        assert!(field_narrows(Kind::AuthorizationPolicy, &field("allowInvitesFrom", json!("everyone"), json!("adminsAndGuestInviters"))));
        assert!(!field_narrows(Kind::AuthorizationPolicy, &field("allowInvitesFrom", json!("none"), json!("adminsAndGuestInviters"))), "an emergency closing is not reopened");
        assert!(field_narrows(Kind::AuthorizationPolicy, &field("guestUserRoleId", json!("a0b1b346-4d3e-4e8b-98f8-753987be4970"), json!("2af84b1e-32c8-42b7-82bc-daa82404023b"))));
        assert!(!field_narrows(Kind::AuthorizationPolicy, &field("guestUserRoleId", json!("2af84b1e-32c8-42b7-82bc-daa82404023b"), json!("10dae51f-b6af-4016-8d66-8c2a99b929b3"))));
        assert!(field_narrows(Kind::AuthorizationPolicy, &field("defaultUserRolePermissions.allowedToCreateApps", json!(true), json!(false))));
        assert!(!field_narrows(Kind::AdministrativeUnit, &field("membershipRule", json!("(user.accountEnabled -eq true)"), json!("(user.usageLocation -eq \"FR\")"))), "a rule's reach is not compared");
        assert!(scope_type_narrows(&field("scopeType", json!("allDevicesAndLicensedUsers"), json!("allDevices"))));
        assert!(!scope_type_narrows(&field("scopeType", json!("allDevices"), json!("allDevicesAndLicensedUsers"))));
    }

    #[test]
    fn a_restricted_units_member_taken_out_is_reviewed() {
        let unit = |restricted: bool| {
            let mut c = Change::new("administrative_unit.vip".parse().expect("an address"), crate::plan::Action::Update, "VIP", "restore");
            c.fields = vec![field("members", json!(["user.adele", "user.breakglass-1"]), json!(["user.breakglass-1"]))];
            c.live = Some([("isMemberManagementRestricted".to_string(), json!(restricted))].into_iter().collect());
            c
        };
        assert!(reason(&unit(false)).is_some(), "an open unit's member taken out only narrows its scope");
        assert!(reason(&unit(true)).is_none(), "a restricted unit's member taken out is handed back to tenant-wide administrators");
    }
}
