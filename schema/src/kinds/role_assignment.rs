//! `[role_assignment.KEY]`: a directory role given to a user, guest or group.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Active (held now) or eligible (activated through PIM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssignmentType {
    /// The role is held now (a permanent roleAssignment, or a PIM active
    /// assignment schedule when `expires` is set).
    #[default]
    Active,
    /// The principal may activate the role through PIM.
    Eligible,
}

/// `[role_assignment.KEY]`: a built-in directory role given to a user, guest or role-assignable group, active or eligible (PIM), optionally until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// Key of a user, guest or role-assignable group (`key` or `kind.key`).
    pub principal: String,
    /// Built-in role display name, e.g. "Intune Administrator".
    pub role: String,
    #[serde(default)]
    pub assignment: AssignmentType,
    /// When the access ends; Entra enforces it through PIM.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::datetime::option"
    )]
    #[schemars(with = "Option<String>")]
    pub expires: Option<DateTime<Utc>>,
    /// Directory scope; "/" is the whole tenant.
    #[serde(default = "root_scope")]
    pub directory_scope_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

fn root_scope() -> String {
    "/".to_string()
}

/// Built-in directory roles tenantctl knows by name, with their template ids
/// (for built-in roles `id == templateId`).
pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    (
        "Intune Administrator",
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    (
        "Groups Administrator",
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    (
        "Conditional Access Administrator",
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    ),
    (
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
    ),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    (
        "Authentication Administrator",
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    ),
    (
        "Cloud Device Administrator",
        "7698a772-787b-4ac8-901f-60d6b08affd2",
    ),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    ),
    (
        "SharePoint Administrator",
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    ),
    (
        "Teams Administrator",
        "69091246-20e8-4a56-aa4d-066075b2a7a8",
    ),
    (
        "License Administrator",
        "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    ),
    ("Reports Reader", "4a5d8f65-41da-4de4-8968-e035b65339cf"),
    ("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"),
    ("Message Center Reader", "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b"),
    (
        "Usage Summary Reports Reader",
        "75934031-6c7e-415a-99d7-48dbd49e875e",
    ),
    (
        "Service Support Administrator",
        "f023fd81-a637-4b56-95fd-791ac0226033",
    ),
];

/// The privileged set: roles that may not be held permanently (active with
/// no `expires`) by anyone (people, guests, groups, service accounts)
/// unless excepted with a reason; eligible or time-boxed assignments
/// through PIM are the way. Every name is in [`BUILT_IN_ROLES`] (template
/// ids there; a unit test holds them together).
pub const PRIVILEGED_ROLES: &[&str] = &[
    "Global Administrator",
    "Privileged Role Administrator",
    "Security Administrator",
    "Conditional Access Administrator",
    "Intune Administrator",
    "User Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "Authentication Administrator",
    "Helpdesk Administrator",
    "Cloud Device Administrator",
];

/// Roles that only read: the only roles a read-only service account (the
/// SOC's) may hold. Every name is in [`BUILT_IN_ROLES`].
pub const READ_ONLY_ROLES: &[&str] = &[
    "Global Reader",
    "Security Reader",
    "Reports Reader",
    "Directory Readers",
    "Message Center Reader",
    "Usage Summary Reports Reader",
];

/// The template id of a built-in role, by display name.
pub fn role_template_id(name: &str) -> Option<&'static str> {
    BUILT_IN_ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| *id)
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use std::collections::BTreeMap;

use crate::address::{Address, Kind};
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_role_assignments(cx);
    check_role_assignment_duplicates(cx);
}

fn check_role_assignments(cx: &mut Ctx) {
    for (key, d) in &cx.state.role_assignment {
        let r = &d.value;
        if let Some(a) = cx.reference(
            &d.origin,
            &path!["role_assignment", key, "principal"],
            &r.principal,
            &[Kind::User, Kind::Guest, Kind::Group],
        ) {
            if a.kind == Kind::Group
                && !cx
                    .state
                    .group
                    .get(&a.key)
                    .is_some_and(|g| g.value.is_assignable_to_role)
            {
                cx.error(
                    "group-not-role-assignable",
                    &d.origin,
                    &path!["role_assignment", key, "principal"],
                    format!("role_assignment.{key}: {a} must set is_assignable_to_role = true to hold a role"),
                );
            }
        }
        if role_template_id(&r.role).is_none() {
            let names = crate::kinds::role_assignment::BUILT_IN_ROLES
                .iter()
                .map(|(n, _)| *n);
            let d2 = cx.error(
                "unknown-role",
                &d.origin,
                &path!["role_assignment", key, "role"],
                format!(
                    "role_assignment.{key}: `{}` is not a built-in directory role tenantctl knows",
                    r.role
                ),
            );
            if let Some(s) = crate::suggest::closest(&r.role, names) {
                d2.help = Some(format!("did you mean `{s}`?"));
            }
        }
        if r.directory_scope_id.is_empty() || !r.directory_scope_id.starts_with('/') {
            cx.error(
                "invalid-scope",
                &d.origin,
                &path!["role_assignment", key, "directory_scope_id"],
                format!("role_assignment.{key}: directory_scope_id must start with `/`"),
            );
        }
    }
}

/// Two role assignments of one role to one principal at one scope would be
/// the same object in Entra.
fn check_role_assignment_duplicates(cx: &mut Ctx) {
    let mut seen: BTreeMap<(Address, &str, &str, bool), &String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (key, d) in &cx.state.role_assignment {
        let r = &d.value;
        let Ok(principal) = cx
            .state
            .resolve(&r.principal, &[Kind::User, Kind::Guest, Kind::Group])
        else {
            continue;
        };
        let eligible = r.assignment == crate::kinds::role_assignment::AssignmentType::Eligible;
        let id = (
            principal.clone(),
            r.role.as_str(),
            r.directory_scope_id.as_str(),
            eligible,
        );
        if let Some(first) = seen.insert(id, key) {
            clashes.push((key, first.clone(), principal, &d.origin));
        }
    }
    for (key, first, principal, origin) in clashes {
        cx.error(
            "duplicate-natural-key",
            origin,
            &path!["role_assignment", key, "role"],
            format!("role_assignment.{key} gives {principal} the same role at the same scope as role_assignment.{first}"),
        );
    }
}

#[cfg(test)]
mod role_set_tests {
    use super::*;

    #[test]
    fn every_privileged_and_read_only_role_has_a_template_id() {
        for r in PRIVILEGED_ROLES.iter().chain(READ_ONLY_ROLES) {
            assert!(role_template_id(r).is_some(), "{r} is in BUILT_IN_ROLES");
        }
        assert!(!PRIVILEGED_ROLES.iter().any(|r| READ_ONLY_ROLES.contains(r)));
    }
}
