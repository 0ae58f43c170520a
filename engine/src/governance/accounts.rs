//! Service accounts the tenant shows that desired state does not name:
//! the live members of the Managed Desktop service-accounts group
//! (directly or through nested groups, read into
//! [`ObservedState::memberships`]). A user declared without
//! `kind = "service"` whom that group holds live is a service account all
//! the same: every service-account rule applies to it (never targeted by
//! policy or conditional access, least privilege, its changes sensitive).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};

use crate::ledger::Ledger;
use crate::model::{DesiredModel, LiveObject, ObservedState};

/// Declared users the live service-accounts group holds that desired
/// state does not make service accounts, with how (for the plan's
/// warning).
pub fn live_members(desired: &DesiredModel, observed: &ObservedState, matched: &BTreeMap<Address, &LiveObject>) -> BTreeMap<Address, String> {
    let mut out = BTreeMap::new();
    let Some(key) = desired.governance.managed_desktop.as_ref().and_then(|md| md.service_accounts_group.as_ref()) else { return out };
    let group = Address::new(Kind::Group, key.as_str());
    // Declared members: the plan sets the live membership to them (a
    // sensitive change of the group), so live extras are not counted.
    if desired.resources.get(&group).is_some_and(|r| r.props.contains_key("members")) {
        return out;
    }
    let Some(gid) = matched.get(&group).map(|o| o.id.as_str()) else { return out };
    let users: BTreeMap<&str, &Address> = matched.iter().filter(|(a, _)| a.kind == Kind::User).map(|(a, o)| (o.id.as_str(), a)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<(&str, String)> = vec![(gid, format!("a live member of the service-accounts group {group}"))];
    while let Some((id, how)) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for (m, t) in observed.memberships.get(id).into_iter().flatten() {
            if t == super::live::GROUP {
                todo.push((m.as_str(), format!("{how} (through nested group id:{m})")));
            } else if let Some(a) = users.get(m.as_str()).filter(|a| !desired.service_accounts.contains(**a)) {
                out.entry((*a).clone()).or_insert_with(|| how.clone());
            }
        }
    }
    out
}

/// Users the ledger records as applied service accounts (`service =
/// true`), still live, that neither desired state nor the live group makes
/// service accounts any more (`kind` dropped, taken out of the group's
/// rule, or no longer declared): they stay service accounts until an
/// approved plan records the change (`recorded::add_changes` shows it).
pub fn recorded(desired: &DesiredModel, ledger: &Ledger, matched: &BTreeMap<Address, &LiveObject>, live: &BTreeMap<Address, String>) -> BTreeSet<Address> {
    ledger
        .resources
        .range(Address::new(Kind::User, "")..)
        .take_while(|(a, _)| a.kind == Kind::User)
        .filter(|(a, e)| e.service && !desired.service_accounts.contains(*a) && !live.contains_key(*a) && matched.get(*a).is_some_and(|o| o.id == e.id))
        .map(|(a, _)| a.clone())
        .collect()
}

/// `desired` with `found` made service accounts (declaring no roles), or
/// `None` when there are none.
pub fn with_live_members<'a>(desired: &DesiredModel, found: impl IntoIterator<Item = &'a Address>) -> Option<DesiredModel> {
    let found: Vec<&Address> = found.into_iter().collect();
    if found.is_empty() {
        return None;
    }
    let mut m = desired.clone();
    for a in found {
        m.service_accounts.insert(a.clone());
        m.service_account_roles.entry(a.clone()).or_default();
    }
    Some(m)
}

/// Conditional access need not be proved to exclude an account that is
/// leaving service (recorded as a service account, no longer one in
/// desired state): the live group still holds it until the plan's
/// sensitive `kind` change and the group's change are approved and
/// applied. `service-accounts-not-excluded` is judged on `base` (desired
/// state with the live members only); every other lint keeps the
/// recorded accounts.
pub fn exclusion_without_recorded(lints: &mut Vec<super::Finding>, base: &DesiredModel, now: chrono::DateTime<chrono::Utc>) {
    const LINT: &str = "service-accounts-not-excluded";
    // The authentication methods policy's exclusions are judged the same
    // way: a recorded-only account cannot be proved excluded either.
    let exclusion = |f: &super::Finding| f.lint == LINT || (f.lint == "service-account-targeted" && f.address.starts_with("authentication_methods_policy."));
    lints.retain(|f| !exclusion(f));
    lints.extend(super::lint_desired(base, now).into_iter().filter(|f| exclusion(f)));
    lints.sort_by(|a, b| (std::cmp::Reverse(a.severity), &a.lint, &a.address, &a.message).cmp(&(std::cmp::Reverse(b.severity), &b.lint, &b.address, &b.message)));
}
