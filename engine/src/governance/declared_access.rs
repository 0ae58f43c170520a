//! Lints over declared admin access that the directory-role lints do not
//! cover (hostile run 14):
//! * finding 24: a permanent Intune role assignment (no `expires`) of a
//!   role that writes, over all devices or all users, is standing
//!   privileged access: `standing-privileged-access`, unless allowed with
//!   a reason (`[governance.exceptions]`);
//! * finding 26: a service account (directly, or through a group, nested)
//!   as an approver of a role's PIM activations is an error: service
//!   accounts do no MFA and are not the second person of anyone's access.

use schema::kinds::user::READ_ONLY_INTUNE_ROLES;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{DesiredModel, DesiredResource};
use crate::plan::referenced_addresses;

/// The lint a service account approving PIM activations raises.
pub const PIM_APPROVER_SERVICE_ACCOUNT: &str = "pim-approver-service-account";

/// Findings for one declared resource.
pub(super) fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource, now: chrono::DateTime<chrono::Utc>) -> Vec<Finding> {
    match address.kind {
        Kind::IntuneRoleAssignment => standing_intune(desired, address, r, now),
        Kind::RolePolicy => pim_approvers(desired, address, r),
        _ => Vec::new(),
    }
}

fn standing_intune(desired: &DesiredModel, address: &Address, r: &DesiredResource, now: chrono::DateTime<chrono::Utc>) -> Vec<Finding> {
    // A group of people reaches their devices (hostile run 17, finding 16).
    let reach = |g: &Address| ring_reach(desired, g).or_else(|| super::people_reach::declared_person(desired, g).map(|how| format!("the devices of the people in {g} ({how})")));
    standing_intune_over(desired, address, r, now, &reach)
}

/// [`standing_intune`] with `reach` saying how a scope group reaches the
/// Managed Desktop devices (or their people).
pub(super) fn standing_intune_over(desired: &DesiredModel, address: &Address, r: &DesiredResource, now: chrono::DateTime<chrono::Utc>, reach: &dyn Fn(&Address) -> Option<String>) -> Vec<Finding> {
    // An end beyond the horizon time-boxed access ends within is standing
    // too, as for directory roles (hostile run 15, finding 9).
    let horizon = now + chrono::Duration::days(schema::validate::MAX_EXPIRY_DAYS);
    let how = match r.expires {
        None => "permanently".to_string(),
        Some(e) if e > horizon => format!("until {} (beyond the {}-day horizon of time-boxed access)", e.format("%Y-%m-%d"), schema::validate::MAX_EXPIRY_DAYS),
        Some(_) => return Vec::new(),
    };
    let scope = r.props.get("scopeType").and_then(Value::as_str).unwrap_or_default();
    // Scoped to member groups: the Managed Desktop device groups (a ring,
    // or all Autopilot devices) are as wide (finding 10), and so is a group
    // nesting one, or whose device rule may hold ring devices (hostile run
    // 16, finding 10).
    let managed: Vec<String> = r
        .props
        .get("resourceScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(crate::model::as_reference)
        .filter_map(|g| g.parse::<Address>().ok())
        .filter_map(|g| reach(&g))
        .collect();
    let over = match scope {
        "allDevices" => "all devices".to_string(),
        "allLicensedUsers" => "all users".to_string(),
        "allDevicesAndLicensedUsers" => "all devices and all users".to_string(),
        _ if !managed.is_empty() => format!("the Managed Desktop devices ({})", managed.join(", ")),
        _ => return Vec::new(),
    };
    let role = r.props.get("roleName").and_then(Value::as_str).unwrap_or_default();
    let Some(write) = writes(desired, role) else { return Vec::new() };
    vec![Finding {
        severity: Severity::Error,
        lint: "standing-privileged-access".into(),
        address: address.to_string(),
        message: format!(
            "Intune role {role} ({write}) is held {how} over {over}: zero standing access; give it an `expires` (ended unattended when past), narrow its scope, or record a reasoned exception `\"standing-privileged-access:{address}\"` in [governance.exceptions]"
        ),
    }]
}

/// How scope group `g` reaches the Managed Desktop devices, or `None`: it
/// is one of their groups, nests one (declared, transitively), or it or a
/// group it nests has a device rule that may hold Autopilot devices.
fn ring_reach(desired: &DesiredModel, g: &Address) -> Option<String> {
    if g.kind != Kind::Group {
        return None;
    }
    if super::grants::managed_desktop_group(desired, g) {
        return Some(g.to_string());
    }
    let mut todo = vec![g.clone()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if n != *g && super::grants::managed_desktop_group(desired, &n) {
            return Some(format!("{g}, which nests {n}"));
        }
        let mut members = std::collections::BTreeSet::new();
        if let Some(v) = desired.resources.get(&n).and_then(|r| r.props.get("members")) {
            referenced_addresses(v, &mut members);
        }
        todo.extend(members.into_iter().filter(|m| m.kind == Kind::Group));
    }
    super::device_reach::device_rule_reaching(desired, g).map(|(via, why)| format!("{g}, {}{why}", if via == *g { String::new() } else { format!("through {via}, ") }))
}

/// What Intune role `role` can do that is not a read: for a declared custom
/// role its first such operation, for a built-in role other than the
/// reading ones "a built-in role that writes"; `None` when it only reads.
fn writes(desired: &DesiredModel, role: &str) -> Option<String> {
    let declared = desired.resources.iter().find(|(a, r)| a.kind == Kind::IntuneRoleDefinition && r.props.get("displayName").and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(role.trim())));
    match declared {
        Some((_, r)) => {
            let mut actions = Vec::new();
            strings(r.props.get("rolePermissions"), &mut actions);
            actions.into_iter().find(|a| !a.rsplit(['_', '/']).next().unwrap_or_default().eq_ignore_ascii_case("read")).map(|a| format!("allows {a}"))
        }
        None if READ_ONLY_INTUNE_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role.trim())) => None,
        None => Some("a built-in role that writes".into()),
    }
}

fn strings(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(a)) => a.iter().for_each(|x| strings(Some(x), out)),
        Some(Value::Object(m)) => m.iter().filter(|(k, _)| k.as_str() != "notAllowedResourceActions").for_each(|(_, x)| strings(Some(x), out)),
        _ => {}
    }
}

fn pim_approvers(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut approvers = std::collections::BTreeSet::new();
    if let Some(v) = r.props.get("activation").and_then(|a| a.get("approvers")) {
        referenced_addresses(v, &mut approvers);
    }
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for a in &approvers {
        let mut accounts: Vec<(Address, String)> = Vec::new();
        if desired.service_accounts.contains(a) {
            accounts.push((a.clone(), "directly".into()));
        } else if desired.service_account_groups.contains(a) {
            accounts.push((a.clone(), "(the service accounts' group)".into()));
        } else if a.kind == Kind::Group {
            accounts.extend(super::targets::group_reach(desired, a).accounts);
        }
        for (account, how) in accounts {
            out.push(Finding {
                severity: Severity::Error,
                lint: PIM_APPROVER_SERVICE_ACCOUNT.into(),
                address: address.to_string(),
                message: format!("service account {account} approves activations of {role} {how}: service accounts do no MFA and are nobody's second person; name people (or a group of people) as approvers"),
            });
        }
    }
    out
}
