//! Where an owned object lives, when its kind does not say
//! ([`LedgerEntry::location`](crate::ledger::LedgerEntry::location): a
//! `graph_object`'s version and collection), recorded for objects no change
//! recorded it for: one adopted by natural key (a lost create's leftover, or
//! an object made before tenantctl managed it) and never changed since, or
//! one recorded by a tenantctl that did not keep locations. Without it, an
//! owned object whose collection desired state no longer declares cannot be
//! found, so it could be neither deleted nor reported in sync.

use std::collections::BTreeSet;

use schema::Address;

use crate::ledger::{location_of, Ledger, LedgerOp};
use crate::model::DesiredModel;
use crate::plan_types::Plan;

/// The location of every object `plan` matched and leaves unchanged whose
/// ledger entry (for the same object id) lacks the location its desired
/// properties give, or records another: recorded in `ledger`, and the ops
/// returned to persist. Changed objects are left to their change, which
/// records the location it applied.
pub fn record_locations(desired: &DesiredModel, plan: &Plan, ledger: &mut Ledger) -> Vec<(Address, LedgerOp)> {
    let changed: BTreeSet<&Address> = plan.changes.iter().map(|c| &c.address).collect();
    let mut out = Vec::new();
    for (address, id) in &plan.ids {
        if changed.contains(address) {
            continue;
        }
        let Some(location) = location_of(desired.resources.get(address)) else { continue };
        let Some(entry) = ledger.resources.get(address).filter(|e| e.id == *id && e.location.as_deref() != Some(location.as_str())) else { continue };
        let mut entry = entry.clone();
        entry.location = Some(location);
        let op = LedgerOp::Record { address: address.clone(), entry };
        ledger.apply_op(&op);
        out.push((address.clone(), op));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{LedgerEntry, LOCATION_PROP};
    use crate::model::DesiredResource;
    use serde_json::json;

    fn entry(id: &str, location: Option<&str>) -> LedgerEntry {
        LedgerEntry { id: id.into(), applied: None, changed_at: None, expires: None, service: false, location: location.map(str::to_string), secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None }
    }

    #[test]
    fn an_unchanged_match_gets_its_location_and_nothing_else_changes() {
        let terms: Address = "graph_object.terms".parse().expect("test fixture");
        let other: Address = "graph_object.other".parse().expect("test fixture");
        let moved: Address = "graph_object.moved".parse().expect("test fixture");
        let group: Address = "group.plain".parse().expect("test fixture");
        let res = |a: &Address, located: bool| DesiredResource {
            address: a.clone(),
            natural_key: a.key.clone(),
            display_name: a.key.clone(),
            props: if located { [(LOCATION_PROP.to_string(), json!("beta:/deviceManagement/termsAndConditions"))].into_iter().collect() } else { Default::default() },
            immutable: vec![],
            assignment_props: vec![],
            create_only: Default::default(),
            depends_on: vec![],
            expires: None,
        };
        let mut desired = DesiredModel::default();
        for a in [&terms, &other, &moved] {
            desired.insert(res(a, true));
        }
        desired.insert(res(&group, false));
        let mut plan: Plan = serde_json::from_value(json!({"format_version": 1, "desired_fingerprint": "", "observed_fingerprint": "", "changes": [], "ids": {}, "unchanged": []})).expect("test fixture");
        for (a, id) in [(&terms, "1"), (&other, "2"), (&moved, "3"), (&group, "4")] {
            plan.ids.insert(a.clone(), id.into());
        }
        let mut ledger = Ledger::default();
        ledger.resources.insert(terms.clone(), entry("1", None));
        ledger.resources.insert(other.clone(), entry("2", Some("beta:/deviceManagement/termsAndConditions")));
        // Another object than the ledger's: not this entry's location to record.
        ledger.resources.insert(moved.clone(), entry("9", None));
        ledger.resources.insert(group.clone(), entry("4", None));
        let ops = record_locations(&desired, &plan, &mut ledger);
        assert_eq!(ops.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(), vec![terms.clone()]);
        assert_eq!(ledger.resources[&terms].location.as_deref(), Some("beta:/deviceManagement/termsAndConditions"));
        assert_eq!(ledger.resources[&moved].location, None);
        assert_eq!(ledger.resources[&group].location, None);
        assert!(record_locations(&desired, &plan, &mut ledger).is_empty(), "recorded once");
    }
}
