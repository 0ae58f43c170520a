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
use crate::plan::referenced_addresses;

/// The lint's name.
pub const LINT: &str = "break-glass-not-excluded";

/// Whether group `g` holds `account` through its declared members, nested
/// groups followed, or its membership rule evaluated against the account's
/// declared properties (hostile run 20, finding 4: a dynamic "all enabled
/// users" group). A rule that cannot be evaluated counts as holding it
/// when `maybe` (an include reaches unless proved not to), never otherwise
/// (an exclude must be proved).
fn holds(desired: &DesiredModel, g: &Address, account: &Address, seen: &mut BTreeSet<Address>, maybe: bool) -> bool {
    if g.kind != Kind::Group || !seen.insert(g.clone()) {
        return false;
    }
    let Some(r) = desired.resources.get(g) else { return false };
    if let (Some(rule), Some(a)) = (r.props.get("membershipRule").and_then(Value::as_str), desired.resources.get(account)) {
        match super::rule::evaluate(rule, &a.props) {
            Some(true) => return true,
            None if maybe => return true,
            _ => {}
        }
    }
    let mut refs = BTreeSet::new();
    if let Some(m) = r.props.get("members") {
        referenced_addresses(m, &mut refs);
    }
    refs.contains(account) || refs.iter().any(|m| holds(desired, m, account, seen, maybe))
}

/// The roles `account` is declared to hold (directly, or through a group
/// declared to hold it), as role assignments name them.
fn roles_of(desired: &DesiredModel, account: &Address) -> BTreeSet<String> {
    desired
        .resources
        .values()
        .filter(|r| r.address.kind == Kind::RoleAssignment)
        .filter(|r| {
            r.props.get("principal").and_then(as_reference).and_then(|p| p.parse::<Address>().ok()).is_some_and(|p| p == *account || holds(desired, &p, account, &mut BTreeSet::new(), false))
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
        if holds(desired, &g, account, &mut BTreeSet::new(), side == "include") {
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
