//! `allowed_roles` entries say which namespace they mean (hostile run 14,
//! finding 6): `directory:Global Reader` for a directory role,
//! `intune:Read Only Operator` for an Intune role. A bare name is accepted
//! when only one namespace knows it; a name both know is ambiguous and
//! refused. A read-only account may allow only roles that read: the
//! directory's read-only roles, Intune's reading built-in roles, and
//! declared custom Intune roles whose every operation is a Read.
//!
//! Also: a custom Intune role may not take a declared custom directory
//! role's name (built-in names of both are refused by the kinds).

use crate::kinds::role_assignment::{role_template_id, READ_ONLY_ROLES};
use crate::kinds::user::{role_entry, RoleSpace, User, READ_ONLY_INTUNE_ROLES};
use crate::path;
use crate::state::Declared;
use crate::validate::Ctx;

/// Checks entry `i` (`entry`) of `user.KEY`'s `allowed_roles`.
pub(super) fn check_entry(cx: &mut Ctx, key: &str, d: &Declared<User>, i: usize, entry: &str) {
    let at = path!["user", key, "allowed_roles", i];
    let (space, name) = role_entry(entry);
    let directory = role_template_id(name).is_some() || cx.state.role_definition.values().any(|r| r.value.display_name.trim().eq_ignore_ascii_case(name));
    let intune = crate::kinds::intune_role_definition::built_in_role(name).is_some() || cx.state.intune_role_definition.values().any(|r| r.value.display_name.trim().eq_ignore_ascii_case(name));
    let space = match space {
        Some(RoleSpace::Directory) if !directory => {
            cx.error("unknown-role", &d.origin, &at, format!("user.{key}: `{name}` is not a directory role tenantctl knows (built-in or a declared role_definition)"));
            return;
        }
        Some(RoleSpace::Intune) if !intune => {
            cx.error("unknown-role", &d.origin, &at, format!("user.{key}: `{name}` is not an Intune role (built-in or a declared intune_role_definition)"));
            return;
        }
        Some(s) => s,
        None if directory && intune => {
            cx.error("ambiguous-role", &d.origin, &at, format!("user.{key}: `{name}` names both a directory role and an Intune role; write `directory:{name}` or `intune:{name}`"));
            return;
        }
        None if directory => RoleSpace::Directory,
        None if intune => RoleSpace::Intune,
        None => {
            cx.error("unknown-role", &d.origin, &at, format!("user.{key}: `{entry}` is not a built-in directory role tenantctl knows, nor an Intune role"))
                .help = Some("write `directory:NAME` for a directory role, `intune:NAME` for an Intune role".into());
            return;
        }
    };
    if !d.value.read_only {
        return;
    }
    let reads = match space {
        RoleSpace::Directory => READ_ONLY_ROLES.iter().any(|r| r.eq_ignore_ascii_case(name)),
        RoleSpace::Intune => intune_reads(cx, name),
    };
    if !reads {
        let which = match space {
            RoleSpace::Directory => format!("directory read-only roles: {}", READ_ONLY_ROLES.join(", ")),
            RoleSpace::Intune => format!("Intune: {}, or a custom Intune role whose every operation is a Read", READ_ONLY_INTUNE_ROLES.join(", ")),
        };
        cx.error("read-only-role", &d.origin, &at, format!("user.{key} is read_only and may hold only read-only roles ({which}); `{entry}` is not one"));
    }
}

/// Whether Intune role `name` only reads: a reading built-in role, or a
/// declared custom role whose every operation is a Read.
fn intune_reads(cx: &Ctx, name: &str) -> bool {
    if READ_ONLY_INTUNE_ROLES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return true;
    }
    cx.state
        .intune_role_definition
        .values()
        .find(|r| r.value.display_name.trim().eq_ignore_ascii_case(name))
        .is_some_and(|r| r.value.allowed_actions.iter().all(|a| is_read(a)))
}

/// Whether an Intune operation only reads (`…_Read`, `…/Read`).
pub fn is_read(action: &str) -> bool {
    action.rsplit(['_', '/']).next().unwrap_or_default().eq_ignore_ascii_case("read")
}

/// A custom Intune role named like a declared custom directory role reads
/// as that role to approvers and to `allowed_roles`.
pub(super) fn check_intune_names(cx: &mut Ctx) {
    for (key, d) in &cx.state.intune_role_definition {
        let name = d.value.display_name.trim();
        if let Some((k, _)) = cx.state.role_definition.iter().find(|(_, r)| r.value.display_name.trim().eq_ignore_ascii_case(name)) {
            cx.error(
                "built-in-role-name",
                &d.origin,
                &path!["intune_role_definition", key, "display_name"],
                format!("intune_role_definition.{key}: `{name}` is the name of the directory role role_definition.{k}; name a custom Intune role differently"),
            );
        }
    }
}
