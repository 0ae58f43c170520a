//! Least privilege for Intune role assignments: a service account reached
//! through a member group holds the Intune role, so it must declare the
//! role (by its display name) in `allowed_roles`, a read-only account only
//! a read-only role, exactly as for directory roles
//! (`super::lints::service_account_role`).

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::service_account_role;
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
            let read_only = desired.service_account_roles.get(&account).is_some_and(|sr| sr.read_only);
            match &writes {
                // Read-only is judged by what the role can do, not by its
                // name: a custom role named like a read-only role that
                // writes is not one.
                Some((definition, action)) if read_only => out.push(Finding {
                    severity: super::lints::Severity::Error,
                    lint: "service-account-role".into(),
                    address: address.to_string(),
                    message: format!("{account} is read-only and may hold only read-only roles; Intune role {role} ({definition}) {how} allows {action}, which is not a Read operation"),
                }),
                _ => out.extend(service_account_role(desired, address, &account, role, &format!(" {how}"))),
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
