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
    /// Built-in role display name, e.g. "Intune Administrator", or a role
    /// definition id (GUID): a built-in role's template id or a custom role's id.
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
    /// A scope tenantctl manages: `{ administrative_unit = "KEY" }` (the
    /// role applies to that unit's members only); exclusive with a
    /// `directory_scope_id` other than "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<RoleScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// A role assignment's scope, by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleScope {
    /// Key of a declared `administrative_unit`.
    pub administrative_unit: String,
}

fn root_scope() -> String {
    "/".to_string()
}

/// Built-in directory roles tenantctl knows by name, with their template ids
/// (for built-in roles `id == templateId`): every role Microsoft lists (see
/// [`crate::built_in_roles`] for the source).
pub const BUILT_IN_ROLES: &[(&str, &str)] = crate::built_in_roles::ALL;

/// The privileged set: roles that may not be held permanently (active with
/// no `expires`) by anyone (people, guests, groups, service accounts)
/// unless excepted with a reason; eligible or time-boxed assignments
/// through PIM are the way. Every name is in [`BUILT_IN_ROLES`] (template
/// ids there; a unit test holds them together).
pub const PRIVILEGED_ROLES: &[&str] = &[
    // Microsoft's PRIVILEGED set ("Microsoft Entra built-in roles",
    // roleDefinition isPrivileged), except Global Reader and Security
    // Reader, which are the read-only roles below (they read, never write;
    // the SOC's read-only account holds them by design).
    "Agent ID Administrator",
    "AI Administrator",
    "Application Administrator",
    "Application Developer",
    "Authentication Administrator",
    "Authentication Extensibility Administrator",
    "B2C IEF Keyset Administrator",
    "Cloud Application Administrator",
    "Cloud Device Administrator",
    "Conditional Access Administrator",
    "Directory Synchronization Accounts",
    "Directory Writers",
    "Domain Name Administrator",
    "External Identity Provider Administrator",
    "Global Administrator",
    "Helpdesk Administrator",
    "Hybrid Identity Administrator",
    "Intune Administrator",
    "Lifecycle Workflows Administrator",
    "Partner Tier1 Support",
    "Partner Tier2 Support",
    "Password Administrator",
    "Privileged Authentication Administrator",
    "Privileged Role Administrator",
    "Security Administrator",
    "Security Operator",
    "User Administrator",
    // Not labelled by Microsoft, but they write tenant-wide data: kept.
    "Exchange Administrator",
    "SharePoint Administrator",
];

/// Whether `role` (a display name, or a role definition id) is in the
/// privileged set. A built-in role's template id counts as its name; any
/// other role definition id is a custom role whose permissions tenantctl
/// does not read, so it is treated as privileged (unknown is not safe).
pub fn is_privileged(role: &str) -> bool {
    if PRIVILEGED_ROLES.contains(&role) {
        return true;
    }
    // A custom role (as role assignments carry it): its actions are not
    // judged, so it counts as privileged (unknown is not safe).
    if role == CUSTOM_ROLE {
        return true;
    }
    if is_role_id(role) {
        return match BUILT_IN_ROLES.iter().find(|(_, id)| id.eq_ignore_ascii_case(role)) {
            Some((name, _)) => PRIVILEGED_ROLES.contains(name),
            None => true,
        };
    }
    false
}

/// How a role assignment's `role` shows a custom (not built-in) role; its
/// definition is then the assignment's `roleDefinition` reference.
pub const CUSTOM_ROLE: &str = "custom role";

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

/// Whether `role` is given as a role definition id (a GUID): a built-in
/// role's template id or a custom role's id. A custom role's id is not
/// checked against the tenant's roleDefinitions (tenantctl does not read
/// them): Graph refuses the assignment at apply time if it does not exist.
pub fn is_role_id(role: &str) -> bool {
    let parts: Vec<&str> = role.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether desired state may name `role`: a built-in role's display name,
/// or a role definition id ([`is_role_id`]).
pub fn is_known_role(role: &str) -> bool {
    role_template_id(role).is_some() || is_role_id(role)
}

/// The built-in roles Entra assigns at an administrative unit's scope
/// (entra-docs `admin-units-assign-roles.md`, "Roles that can be assigned
/// with administrative unit scope"); any other built-in role is refused
/// there.
pub const AU_SCOPED_ROLES: &[&str] = &[
    "Authentication Administrator",
    "Cloud Device Administrator",
    "Groups Administrator",
    "Helpdesk Administrator",
    "License Administrator",
    "Password Administrator",
    "Printer Administrator",
    "Privileged Authentication Administrator",
    "SharePoint Administrator",
    "Teams Administrator",
    "Teams Devices Administrator",
    "User Administrator",
];

/// Whether a custom role's actions let it be assigned at an administrative
/// unit's scope: at least one permission over users, groups or devices
/// (the same page).
pub fn custom_au_scopable(actions: &[String]) -> bool {
    actions.iter().any(|a| ["users/", "groups/", "devices/"].iter().any(|p| a.to_lowercase().starts_with(&format!("microsoft.directory/{p}"))))
}

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
        let custom = crate::kinds::role_definition::declared(cx.state, &r.role).is_some();
        if let Some(sc) = &r.scope {
            cx.reference(&d.origin, &path!["role_assignment", key, "scope", "administrative_unit"], &sc.administrative_unit, &[Kind::AdministrativeUnit]);
            let scopable = match crate::kinds::role_definition::declared(cx.state, &r.role) {
                Some(def) => cx.state.role_definition.get(&def.key).is_none_or(|d| custom_au_scopable(&d.value.allowed_resource_actions)),
                // A built-in role named by display name or by its template id
                // (hostile run 20, finding 9); another id tenantctl cannot
                // judge: Graph does.
                None => {
                    let name = BUILT_IN_ROLES.iter().find(|(n, id)| *n == r.role || id.eq_ignore_ascii_case(&r.role)).map(|(n, _)| *n);
                    name.is_none_or(|n| AU_SCOPED_ROLES.contains(&n))
                }
            };
            if !scopable {
                let e = cx.error(
                    "role-not-au-scopable",
                    &d.origin,
                    &path!["role_assignment", key, "role"],
                    format!("role_assignment.{key}: `{}` cannot be assigned at an administrative unit's scope (Entra refuses it): only {} and custom roles with a permission over users, groups or devices can", r.role, AU_SCOPED_ROLES.join(", ")),
                );
                e.help = Some("assign it at the tenant's scope (no `scope`), or pick a role Entra scopes to administrative units".into());
            }
            if r.directory_scope_id != "/" {
                cx.error("two-scopes", &d.origin, &path!["role_assignment", key, "scope"], format!("role_assignment.{key}: give either scope or directory_scope_id, not both"));
            }
        }
        if !custom && !is_known_role(&r.role) {
            let names = crate::kinds::role_assignment::BUILT_IN_ROLES
                .iter()
                .map(|(n, _)| *n);
            let d2 = cx.error(
                "unknown-role",
                &d.origin,
                &path!["role_assignment", key, "role"],
                format!(
                    "role_assignment.{key}: `{}` is not a built-in directory role tenantctl knows, a declared role_definition, nor a role definition id (GUID)",
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
    let mut seen: BTreeMap<(Address, &str, String, bool), &String> = BTreeMap::new();
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
            // A role named and the same role given by its template id clash.
            role_template_id(&r.role).unwrap_or(r.role.as_str()),
            r.scope.as_ref().map_or_else(|| r.directory_scope_id.clone(), |sc| format!("administrative_unit.{}", sc.administrative_unit)),
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


/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("directory role assignment");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/roleManagement/directory/roleAssignments"];
/// Each assignment is a grant of a directory role: deleting it only removes
/// access, so it runs unattended, and one the ledger owns that desired
/// state no longer declares is deleted (governance asks: `Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::Grant { noun: "role assignment", says_expired: false, shortens: true };

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

    #[test]
    fn microsofts_privileged_roles_and_custom_role_ids_are_privileged() {
        for r in ["Application Administrator", "Privileged Authentication Administrator", "Hybrid Identity Administrator", "Password Administrator"] {
            assert!(is_privileged(r), "{r}");
        }
        // A built-in role by template id: as its name.
        assert!(is_privileged("62e90394-69f5-4237-9190-012177145e10"));
        assert!(!is_privileged(role_template_id("Reports Reader").unwrap_or_default()));
        // A custom role: privileged unless known otherwise.
        assert!(is_privileged("0e5a5d6f-1111-4a4a-9b9b-123456789abc"));
        assert!(!is_privileged("Reports Reader"));
    }
}
