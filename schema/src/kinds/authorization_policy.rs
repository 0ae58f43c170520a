//! `[authorization_policy.KEY]`: the tenant's guest settings, Entra's
//! authorization policy (v1.0 `/policies/authorizationPolicy`, a
//! singleton: declared at most once, updated, never created or deleted).
//! Only the fields declared are managed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[authorization_policy.KEY]`: who may invite guests, what guests may
/// see, and what members may do by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationPolicy {
    /// Who can invite guests (`allowInvitesFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_invites_from: Option<AllowInvitesFrom>,
    /// The role guests get, by name (`guestUserRoleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_user_role: Option<GuestUserRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_sign_up_email_based_subscriptions: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_email_verified_users_to_join_organization: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_use_sspr: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_msol_power_shell: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_user_role_permissions: Option<DefaultUserRolePermissions>,
}

/// Graph's `allowInvitesFrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AllowInvitesFrom {
    None,
    AdminsAndGuestInviters,
    AdminsGuestInvitersAndAllMembers,
    Everyone,
}

/// The three roles Entra offers guests (`guestUserRoleId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GuestUserRole {
    /// Same access as members (a0b1b346-4d3e-4e8b-98f8-753987be4970).
    User,
    /// Limited access to directory objects (10dae51f-b6af-4016-8d66-8c2a99b929b3).
    #[serde(rename = "Guest User")]
    GuestUser,
    /// Access to their own directory objects only (2af84b1e-32c8-42b7-82bc-daa82404023b).
    #[serde(rename = "Restricted Guest User")]
    RestrictedGuestUser,
}

/// The roles by id, as Graph writes `guestUserRoleId`.
pub const GUEST_ROLES: &[(GuestUserRole, &str)] = &[
    (GuestUserRole::User, "a0b1b346-4d3e-4e8b-98f8-753987be4970"),
    (GuestUserRole::GuestUser, "10dae51f-b6af-4016-8d66-8c2a99b929b3"),
    (GuestUserRole::RestrictedGuestUser, "2af84b1e-32c8-42b7-82bc-daa82404023b"),
];

impl GuestUserRole {
    pub fn id(self) -> &'static str {
        GUEST_ROLES.iter().find(|(r, _)| *r == self).map_or("", |(_, id)| id)
    }
    pub fn from_id(id: &str) -> Option<GuestUserRole> {
        GUEST_ROLES.iter().find(|(_, i)| i.eq_ignore_ascii_case(id)).map(|(r, _)| *r)
    }
}

/// What members may do by default (`defaultUserRolePermissions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultUserRolePermissions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_create_apps: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_create_security_groups: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_create_tenants: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_read_bitlocker_keys_for_owned_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_to_read_other_users: Option<bool>,
}

// Validation: this kind's own checks, run through the registry.

use crate::path;
use crate::validate::Ctx;

/// A singleton: declared once at most.
pub(crate) fn validate(cx: &mut Ctx) {
    singleton(cx, "authorization_policy", cx.state.authorization_policy.iter().map(|(k, d)| (k.clone(), d.origin.clone())).collect());
}

/// Every declaration after the first of a kind that is one object per
/// tenant is an error at its place.
pub(crate) fn singleton(cx: &mut Ctx, kind: &str, declared: Vec<(String, crate::diagnostic::Origin)>) {
    if let Some((first, _)) = declared.first() {
        let first = first.clone();
        for (key, origin) in declared.iter().skip(1) {
            cx.error("singleton-declared-twice", origin, &path![kind, key.as_str()], format!("{kind}.{key}: the tenant has one {kind}, already declared as {kind}.{first}"));
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("guest settings (authorization policy)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/policies/authorizationPolicy"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
