//! Conditional access never reaches the break-glass accounts (hostile run
//! 19, finding 5). The accounts `[governance] protected` names are the
//! emergency access accounts: an enabled policy that includes one (all
//! users, the account, a group declared to hold it, a role it is declared
//! to hold) without excluding it can block or challenge the one way back
//! into a locked-out tenant. That is an error (`break-glass-not-excluded`)
//! unless excepted with a reason, like `service-accounts-not-excluded` for
//! the service accounts.

use std::collections::BTreeSet;

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, DesiredResource};

/// The lint's name.
pub const LINT: &str = "break-glass-not-excluded";

/// The roles `account` is declared to hold (directly, or through a group
/// declared to hold it), as role assignments name them.
fn roles_of(desired: &DesiredModel, account: &Address) -> BTreeSet<String> {
    desired
        .resources
        .values()
        .filter(|r| r.address.kind == Kind::RoleAssignment)
        .filter(|r| {
            r.props.get("principal").and_then(as_reference).and_then(|p| p.parse::<Address>().ok()).is_some_and(|p| super::targets::holds(desired, &p, account, false))
        })
        .filter_map(|r| r.props.get("role").and_then(Value::as_str).map(str::to_lowercase))
        .collect()
}

/// How the policy's user condition at `side` (`include` or `exclude`)
/// reaches `account`, if it does.
fn reaches(desired: &DesiredModel, r: &DesiredResource, side: &str, account: &Address, roles: &BTreeSet<String>) -> Option<String> {
    let list = |name: &str| r.props.get("conditions").and_then(|c| c.pointer(&format!("/users/{side}{name}"))).and_then(Value::as_array).cloned().unwrap_or_default();
    let users = list("Users");
    if side == "include" && users.iter().any(|u| u.as_str() == Some("All")) {
        return Some("all users".into());
    }
    if users.iter().filter_map(as_reference).any(|u| u == account.to_string()) {
        return Some("by name".into());
    }
    for g in list("Groups").iter().filter_map(as_reference).filter_map(|g| g.parse::<Address>().ok()) {
        // Declared members, nesting and rules (hostile run 20, finding 4:
        // a dynamic "all enabled users" group): an include reaches unless
        // proved not to, an exclude must be proved.
        if super::targets::holds(desired, &g, account, side == "include") {
            return Some(format!("through {g}"));
        }
    }
    list("Roles").iter().filter_map(Value::as_str).find(|role| roles.contains(&role.to_lowercase())).map(|role| format!("through the role {role} it holds"))
}

/// The finding of conditional access policy `r` for each protected
/// account it reaches and does not exclude (enabled policies only: a
/// report-only or disabled one blocks no one).
pub fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    if address.kind != Kind::ConditionalAccess || r.props.get("state").and_then(Value::as_str) != Some("enabled") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for account in desired.governance.protected.iter().filter_map(|p| p.parse::<Address>().ok()).filter(|a| matches!(a.kind, Kind::User | Kind::Guest)) {
        let roles = roles_of(desired, &account);
        let Some(how) = reaches(desired, r, "include", &account, &roles) else { continue };
        if reaches(desired, r, "exclude", &account, &roles).is_some() {
            continue;
        }
        out.push(Finding {
            severity: Severity::Error,
            lint: LINT.into(),
            address: address.to_string(),
            message: format!(
                "includes the break-glass account {account} ({how}) and does not exclude it: an emergency access account must never be blocked or challenged by conditional access; add it to exclude_users"
            ),
        });
    }
    out
}
