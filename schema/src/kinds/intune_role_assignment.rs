//! `[intune_role_assignment.KEY]`: an Intune role assignment (beta
//! `deviceManagement/roleAssignments`, deviceAndAppManagementRoleAssignment):
//! the admins in `members` (groups) hold `role` (a declared
//! `intune_role_definition` or a built-in role by name) over the users
//! and devices of `scope_members` (groups), or all devices / all users,
//! for the objects carrying `scope_tags`. Sensitive: granting admin
//! access always needs approval; a service account reached through the
//! member groups must list the role in its `allowed_roles`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[intune_role_assignment.KEY]`: an Intune role assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntuneRoleAssignment {
    /// Natural key of the assignment.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The role: a declared `intune_role_definition` (key,
    /// `intune_role_definition.KEY` or display name) or a built-in role's name, e.g.
    /// `Help Desk Operator`. Changing it replaces the assignment.
    pub role: String,
    /// The groups (keys) whose members hold the role (members).
    pub members: Vec<String>,
    /// The groups (keys) whose users and devices they manage
    /// (resourceScopes, scopeType `resourceScope`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_members: Vec<String>,
    /// Every device instead (scopeType `allDevices`, with `all_users`
    /// `allDevicesAndLicensedUsers`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_devices: bool,
    /// Every licensed user instead (scopeType `allLicensedUsers`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_users: bool,
    /// The scope tags (roleScopeTagIds) whose objects the role reaches:
    /// keys of declared `scope_tag`s, or `default`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    /// When the admin access ends (time-boxed): past it, the plan deletes
    /// the assignment, unattended like any expired access. Intune has no
    /// schedule of its own, so tenantctl ends it; without `expires`, a
    /// role that writes over all devices or all users is standing
    /// privileged access.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::datetime::option")]
    #[schemars(with = "Option<String>")]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl IntuneRoleAssignment {
    /// Graph's roleAssignmentScopeType for the declared scope.
    pub fn scope_type(&self) -> &'static str {
        match (self.all_devices, self.all_users) {
            (true, true) => "allDevicesAndLicensedUsers",
            (true, false) => "allDevices",
            (false, true) => "allLicensedUsers",
            (false, false) => "resourceScope",
        }
    }
}

/// The declared custom role `role` names: by key (or
/// `intune_role_definition.KEY`), or by display name.
pub fn declared_role(state: &crate::DesiredState, role: &str) -> Option<crate::Address> {
    if let Ok(a) = state.resolve(role, &[Kind::IntuneRoleDefinition]) {
        return Some(a);
    }
    let mut named = state.intune_role_definition.iter().filter(|(_, d)| d.value.display_name.trim().eq_ignore_ascii_case(role.trim()));
    match (named.next(), named.next()) {
        (Some((k, _)), None) => Some(crate::Address::new(Kind::IntuneRoleDefinition, k.as_str())),
        _ => None,
    }
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.intune_role_assignment.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::IntuneRoleAssignment, named.collect());
    for (key, d) in &s.intune_role_assignment {
        let p = &d.value;
        if super::intune_role_definition::built_in_role(&p.role).is_none() && declared_role(s, &p.role).is_none() {
            cx.error("unknown-role", &d.origin, &path!["intune_role_assignment", key, "role"], format!("intune_role_assignment.{key}: role `{}` is neither a declared intune_role_definition nor a built-in Intune role", p.role))
                .help = Some(format!("built-in roles: {}", super::intune_role_definition::BUILT_IN_ROLES.join(", ")));
        }
        if p.members.is_empty() {
            cx.error("no-members", &d.origin, &path!["intune_role_assignment", key, "members"], format!("intune_role_assignment.{key}: members names no group"));
        }
        for (i, g) in p.members.iter().enumerate() {
            cx.reference(&d.origin, &path!["intune_role_assignment", key, "members", i], g, &[Kind::Group]);
        }
        for (i, g) in p.scope_members.iter().enumerate() {
            cx.reference(&d.origin, &path!["intune_role_assignment", key, "scope_members", i], g, &[Kind::Group]);
        }
        let all = p.all_devices || p.all_users;
        if all != p.scope_members.is_empty() {
            let why = if all { "names scope_members and all_devices / all_users; choose one" } else { "has no scope: name scope_members, or set all_devices / all_users" };
            cx.error("invalid-scope", &d.origin, &path!["intune_role_assignment", key], format!("intune_role_assignment.{key} {why}"));
        }
        super::platform_script::check_tags(cx, &d.origin, Kind::IntuneRoleAssignment, key, &p.scope_tags);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("Intune role assignment (admin access)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/roleAssignments"];
/// Each assignment is a grant of an Intune role (time-boxed with
/// `expires`): deleting it only removes access, and one the ledger owns
/// that desired state no longer declares is deleted (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::Grant { noun: "Intune role assignment", says_expired: true, shortens: false };
