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
    for group in members.iter().filter(|g| g.kind == Kind::Group) {
        for (account, how) in super::targets::group_reach(desired, group).accounts {
            out.extend(service_account_role(desired, address, &account, role, &format!(" {how}")));
        }
    }
    out
}
