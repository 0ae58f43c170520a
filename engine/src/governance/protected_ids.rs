//! Protection follows the live object, not the ledger key. The trust root
//! records the object ids of the protected objects (the Managed Desktop
//! ring groups, all-devices group, service-accounts group and Autopilot
//! profile, the service accounts, `protected` groups and the addresses in
//! `[governance] protected`) as `protected_ids` (id -> the address it was
//! protected as). A ledger edit that gives one of those ids to another
//! address (renaming `group.mwd-test` to `group.plain` in the ledger) is a
//! governance change, shown field by field (`protected_ids.ID:
//! "group.mwd-test" -> "group.plain"`), that the approvers in force
//! approve; until then the new owner is judged protected.
//!
//! Recording more ids only adds protection, so apply records the ids of
//! protected objects it created or matched without approvals; moving or
//! dropping one is recorded only by an approved plan.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use super::trust::GovernanceField;
use crate::model::DesiredModel;

/// The addresses governance protects in `desired`.
pub fn protected_addresses(desired: &DesiredModel) -> BTreeSet<Address> {
    let mut out: BTreeSet<Address> = BTreeSet::new();
    let g = &desired.governance;
    if let Some(md) = &g.managed_desktop {
        for k in md.rings.iter().chain(md.all_devices.iter()).chain(md.service_accounts_group.iter()) {
            out.insert(Address::new(Kind::Group, k.as_str()));
        }
        if let Some(p) = &md.autopilot_profile {
            out.insert(Address::new(Kind::AutopilotProfile, p.as_str()));
        }
    }
    out.extend(desired.service_accounts.iter().cloned());
    out.extend(desired.protected_groups.iter().cloned());
    out.extend(g.protected.iter().filter_map(|p| p.parse::<Address>().ok()));
    out
}

/// Recorded protected ids now owned by another address than the one they
/// were protected as: (id, recorded address, owner now).
pub fn rekeyed(recorded: &BTreeMap<String, String>, ids: &BTreeMap<Address, String>) -> Vec<(String, String, Address)> {
    let mut out = Vec::new();
    for (id, was) in recorded {
        // Usually the recorded address still owns its id: no scan of every
        // matched object (tens of protected ids against up to 100k ids).
        if was.parse::<Address>().ok().and_then(|a| ids.get(&a)).is_some_and(|i| i == id) {
            continue;
        }
        if let Some((now, _)) = ids.iter().find(|(a, i)| *i == id && a.to_string() != *was) {
            out.push((id.clone(), was.clone(), now.clone()));
        }
    }
    out
}

/// The governance review's fields for [`rekeyed`] ids.
pub fn fields(recorded: &BTreeMap<String, String>, ids: &BTreeMap<Address, String>) -> Vec<GovernanceField> {
    rekeyed(recorded, ids)
        .into_iter()
        .map(|(id, was, now)| GovernanceField { path: format!("protected_ids.{id}"), from: Some(Value::String(was)), to: Some(Value::String(now.to_string())) })
        .collect()
}

/// The protected ids an approved recording writes: the ids the protected
/// addresses own now, and recorded ids no address owns any more (their
/// protection stays until the object is gone for good).
pub fn approved(recorded: &BTreeMap<String, String>, desired: &DesiredModel, ids: &BTreeMap<Address, String>) -> BTreeMap<String, String> {
    let owned: BTreeSet<&str> = ids.values().map(String::as_str).collect();
    let mut out: BTreeMap<String, String> = recorded.iter().filter(|(id, _)| !owned.contains(id.as_str())).map(|(i, a)| (i.clone(), a.clone())).collect();
    for a in protected_addresses(desired) {
        if let Some(id) = ids.get(&a) {
            out.insert(id.clone(), a.to_string());
        }
    }
    out
}

/// `recorded` with the ids of protected addresses it lacks added (never
/// moving or dropping one): what apply records without approvals.
pub fn added(recorded: &BTreeMap<String, String>, desired: &DesiredModel, ids: &BTreeMap<Address, String>) -> BTreeMap<String, String> {
    let mut out = recorded.clone();
    for a in protected_addresses(desired) {
        if let Some(id) = ids.get(&a) {
            out.entry(id.clone()).or_insert_with(|| a.to_string());
        }
    }
    out
}

/// The desired model with the owners of re-keyed protected ids protected
/// (judged by the stricter until the approvers in force approve).
pub fn protect_owners(m: &mut DesiredModel, recorded: &BTreeMap<String, String>, ids: &BTreeMap<Address, String>) {
    for (_, was, now) in rekeyed(recorded, ids) {
        let was: Option<Address> = was.parse().ok();
        match now.kind {
            Kind::Group => {
                m.protected_groups.insert(now.clone());
            }
            Kind::User if was.as_ref().is_some_and(|w| m.service_accounts.contains(w)) => {
                m.service_accounts.insert(now.clone());
                m.service_account_roles.entry(now.clone()).or_default();
            }
            _ => {}
        }
        if !m.governance.protected.contains(&now.to_string()) {
            m.governance.protected.push(now.to_string());
        }
    }
}
