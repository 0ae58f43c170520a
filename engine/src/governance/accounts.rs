//! Service accounts the tenant shows that desired state does not name:
//! the live members of the Managed Desktop service-accounts group
//! (directly or through nested groups, read into
//! [`ObservedState::memberships`]). A user declared without
//! `kind = "service"` whom that group holds live is a service account all
//! the same: every service-account rule applies to it (never targeted by
//! policy or conditional access, least privilege, its changes sensitive).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};

use crate::model::{DesiredModel, LiveObject, ObservedState, ServiceRoles};

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

/// `desired` with the live members of the service-accounts group made
/// service accounts (declaring no roles), or `None` when there are none.
pub fn with_live_members(desired: &DesiredModel, found: &BTreeMap<Address, String>) -> Option<DesiredModel> {
    if found.is_empty() {
        return None;
    }
    let mut m = desired.clone();
    for a in found.keys() {
        m.service_accounts.insert(a.clone());
        m.service_account_roles.entry(a.clone()).or_insert_with(ServiceRoles::default);
    }
    Some(m)
}
