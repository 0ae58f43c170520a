//! Least privilege for Intune role assignments: a service account reached
//! through a member group holds the Intune role, so it must declare the
//! role in `allowed_roles` (`intune:NAME`, or a bare name only Intune
//! knows; a `directory:` entry never allows an Intune role), a read-only
//! account only a role that reads (judged by its operations).

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use schema::kinds::user::{allows, RoleSpace, READ_ONLY_INTUNE_ROLES};
use super::lints::Finding;
use crate::model::DesiredModel;
use crate::plan::referenced_addresses;

/// The findings for one declared Intune role assignment.
pub(crate) fn lints(desired: &DesiredModel, address: &Address, r: &crate::DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    if address.kind != Kind::IntuneRoleAssignment {
        return out;
    }
    let role = r.props.get("roleName").and_then(Value::as_str).unwrap_or_default();
    let mut members = BTreeSet::new();
    if let Some(v) = r.props.get("members") {
        referenced_addresses(v, &mut members);
    }
    let writes = custom_write_action(desired, role);
    for group in members.iter().filter(|g| g.kind == Kind::Group) {
        for (account, how) in super::targets::group_reach(desired, group).accounts {
            let Some(sr) = desired.service_account_roles.get(&account) else { continue };
            let finding = |message: String| Finding { severity: super::lints::Severity::Error, lint: "service-account-role".into(), address: address.to_string(), message };
            // Read-only is judged by what the role can do, not by its
            // name: a custom role named like a read-only role that
            // writes is not one, and Intune's reading built-in roles are.
            let builtin_reads = READ_ONLY_INTUNE_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role.trim()));
            let declared = desired.resources.iter().any(|(a, r)| a.kind == Kind::IntuneRoleDefinition && r.props.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(role.trim())));
            match &writes {
                Some((definition, action)) if sr.read_only => out.push(finding(format!(
                    "{account} is read-only and may hold only read-only roles; Intune role {role} ({definition}) {how} allows {action}, which is not a Read operation"
                ))),
                None if sr.read_only && !builtin_reads && !declared => out.push(finding(format!(
                    "{account} is read-only and may hold only read-only roles; Intune role {role} {how} is not one (Intune's read-only roles: {})",
                    READ_ONLY_INTUNE_ROLES.join(", ")
                ))),
                _ if !allows(&sr.allowed, RoleSpace::Intune, role) => {
                    let allowed = if sr.allowed.is_empty() { "none".to_string() } else { sr.allowed.join(", ") };
                    out.push(finding(format!("{account} may hold only the roles it declares in allowed_roles ({allowed}); Intune role {role} {how} is not one (an Intune role is allowed as `intune:{role}`)")));
                }
                _ => {}
            }
        }
    }
    out
}

/// The declared custom Intune role named `role` and its first operation
/// that is not a Read, if it has one.
fn custom_write_action(desired: &DesiredModel, role: &str) -> Option<(Address, String)> {
    let (a, r) = desired.resources.iter().find(|(a, r)| a.kind == Kind::IntuneRoleDefinition && r.props.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(role.trim())))?;
    let mut actions = Vec::new();
    collect_strings(r.props.get("rolePermissions"), &mut actions);
    let write = actions.into_iter().find(|x| !is_read(x))?;
    Some((a.clone(), write))
}

/// Whether an Intune operation only reads (`…_Read`, `…/Read`).
fn is_read(action: &str) -> bool {
    let last = action.rsplit(['_', '/']).next().unwrap_or_default();
    last.eq_ignore_ascii_case("read")
}

fn collect_strings(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(a)) => a.iter().for_each(|x| collect_strings(Some(x), out)),
        Some(Value::Object(m)) => m.iter().filter(|(k, _)| k.as_str() != "notAllowedResourceActions").for_each(|(_, x)| collect_strings(Some(x), out)),
        _ => {}
    }
}
