//! Stage 3 (plan): the plan's changes found by address while the passes
//! that run after the diff add to them (`governance::recorded`,
//! `governance::sponsor`, `secret_env`): a field added to the change an
//! address already has, or a new change for an address that was in sync.
//!
//! Those passes used to scan every change for each declared resource, and
//! take each newly changed address out of `unchanged` by scanning it: on a
//! first apply every resource is a create, so the scan was quadratic in the
//! declared objects (issue 13). Here each address is looked up in a hash
//! map built once, and what leaves `unchanged` is taken out of it in one
//! pass when the index is dropped.

use std::collections::{HashMap, HashSet};

use schema::Address;

use crate::plan::Change;

/// An index of `changes` by address, over the plan's `unchanged` list.
/// Changes are only added or edited in place through it, never removed or
/// reordered, so positions stay valid. When it is dropped, the addresses
/// given a change through [`ChangeIndex::push`] are taken out of
/// `unchanged`.
pub struct ChangeIndex<'a> {
    changes: &'a mut Vec<Change>,
    unchanged: &'a mut Vec<Address>,
    /// The position of the first change of each address (what a scan
    /// from the front would find); built at the first lookup, so a pass
    /// that finds nothing to add (a converged plan) builds nothing.
    at: Option<HashMap<Address, usize>>,
    /// Addresses that were in sync and now have a change.
    now_changed: HashSet<Address>,
}

impl<'a> ChangeIndex<'a> {
    pub fn new(changes: &'a mut Vec<Change>, unchanged: &'a mut Vec<Address>) -> ChangeIndex<'a> {
        ChangeIndex { changes, unchanged, at: None, now_changed: HashSet::new() }
    }

    fn at(&mut self) -> &mut HashMap<Address, usize> {
        let changes = &*self.changes;
        self.at.get_or_insert_with(|| {
            let mut at = HashMap::with_capacity(changes.len());
            for (i, c) in changes.iter().enumerate() {
                at.entry(c.address.clone()).or_insert(i);
            }
            at
        })
    }

    /// The first change of `address`, if it has one.
    pub fn get_mut(&mut self, address: &Address) -> Option<&mut Change> {
        let i = *self.at().get(address)?;
        self.changes.get_mut(i)
    }

    /// Add a change for an address that had none; it leaves `unchanged`.
    pub fn push(&mut self, c: Change) {
        let next = self.changes.len();
        self.at().entry(c.address.clone()).or_insert(next);
        self.now_changed.insert(c.address.clone());
        self.changes.push(c);
    }

    /// How many changes the index holds (for tests of its structure).
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl Drop for ChangeIndex<'_> {
    fn drop(&mut self) {
        if !self.now_changed.is_empty() {
            let gone = &self.now_changed;
            self.unchanged.retain(|a| !gone.contains(a));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn change(a: &str, action: Action) -> Change {
        Change::new(a.parse().expect("an address"), action, a, "")
    }

    #[test]
    fn finds_the_first_change_of_an_address_and_takes_pushed_ones_out_of_unchanged() {
        let mut changes = vec![change("user.a", Action::Create), change("user.a", Action::Delete), change("user.b", Action::Update)];
        let mut unchanged: Vec<Address> = ["user.c", "user.d", "user.e"].iter().map(|a| a.parse().expect("an address")).collect();
        {
            let mut index = ChangeIndex::new(&mut changes, &mut unchanged);
            let a: Address = "user.a".parse().expect("an address");
            assert_eq!(index.get_mut(&a).map(|c| c.action), Some(Action::Create));
            assert!(index.get_mut(&"user.c".parse().expect("an address")).is_none());
            index.push(change("user.d", Action::Update));
            index.get_mut(&"user.d".parse().expect("an address")).expect("pushed").notes.push("n".into());
            assert_eq!(index.len(), 4);
        }
        assert_eq!(changes[3].notes, vec!["n".to_string()]);
        assert_eq!(unchanged, vec!["user.c".parse::<Address>().expect("an address"), "user.e".parse().expect("an address")]);
    }

    /// The passes that add to the plan's changes, over inputs where a scan
    /// of every change per declared resource (or of `unchanged` per new
    /// change) is quadratic: 100k resources, every one a create (a first
    /// apply), or every one in sync but given a change. Linear work takes
    /// well under a second; quadratic work, 10^10 address comparisons,
    /// would not finish in the test's time. The structure is what is
    /// asserted: each change found and added to once, `unchanged` emptied.
    mod at_scale {
        use std::collections::BTreeMap;

        use chrono::{TimeZone, Utc};
        use schema::{Address, Kind};
        use serde_json::{json, Value};

        use crate::diff::FieldChange;
        use crate::ledger::{Ledger, LedgerEntry};
        use crate::model::{DesiredModel, DesiredResource, LiveObject, Props};
        use crate::plan::{Action, Change};

        const N: usize = 100_000;

        fn resource(address: &Address, create_only: Props, expires: Option<chrono::DateTime<Utc>>) -> DesiredResource {
            DesiredResource {
                address: address.clone(),
                natural_key: address.key.clone(),
                display_name: address.key.clone(),
                props: Props::new(),
                immutable: Vec::new(),
                assignment_props: Vec::new(),
                create_only,
                depends_on: Vec::new(),
                expires,
            }
        }

        fn create(r: &DesiredResource) -> Change {
            let mut c = Change::new(r.address.clone(), Action::Create, r.display_name.clone(), "");
            c.fields = vec![FieldChange { field: "displayName".into(), before: None, after: Some(Value::String(r.display_name.clone())) }];
            c
        }

        fn live(address: &Address, id: &str) -> LiveObject {
            LiveObject { kind: address.kind, id: id.into(), natural_key: address.key.clone(), display_name: address.key.clone(), props: Props::new() }
        }

        fn entry(id: &str) -> LedgerEntry {
            LedgerEntry { id: id.into(), applied: None, changed_at: None, expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None }
        }

        fn addresses(kind: Kind) -> Vec<Address> {
            (0..N).map(|i| Address::new(kind, format!("r{i:06}"))).collect()
        }

        fn secret(variable: &str) -> Props {
            let mut p = Props::new();
            p.insert(crate::secret_env::ENVS.into(), json!({"setting_sharedkey": variable}));
            p
        }

        fn has_field(c: &Change, field: &str) -> bool {
            c.fields.iter().filter(|f| f.field == field).count() == 1
        }

        #[test]
        fn secret_variables_of_a_first_apply_and_of_a_converged_tenant_are_added_in_linear_work() {
            let all = addresses(Kind::SettingsCatalog);
            let mut desired = DesiredModel::default();
            for a in &all {
                desired.insert(resource(a, secret("NEW"), None));
            }
            // A first apply: every resource is a create.
            let mut changes: Vec<Change> = desired.resources.values().map(create).collect();
            let mut unchanged = Vec::new();
            crate::secret_env::add_changes(&mut changes, &mut unchanged, &desired, &Ledger::default(), &BTreeMap::new(), &BTreeMap::new());
            assert_eq!(changes.len(), N);
            assert!(changes.iter().all(|c| has_field(c, crate::secret_env::ENVS) && c.notes.len() == 1), "every create shows its variables once");

            // Converged, but the ledger recorded another variable for each:
            // every in-sync resource gets an update and leaves `unchanged`.
            let objects: Vec<LiveObject> = all.iter().enumerate().map(|(i, a)| live(a, &format!("id{i}"))).collect();
            let matched: BTreeMap<Address, &LiveObject> = all.iter().cloned().zip(objects.iter()).collect();
            let mut ledger = Ledger::default();
            for (a, o) in &matched {
                let mut e = entry(&o.id);
                e.secret_env.insert("setting_sharedkey".into(), "OLD".into());
                ledger.resources.insert(a.clone(), e);
            }
            let mut changes = Vec::new();
            let mut unchanged = all.clone();
            crate::secret_env::add_changes(&mut changes, &mut unchanged, &desired, &ledger, &matched, &BTreeMap::new());
            assert_eq!(changes.len(), N);
            assert!(changes.iter().all(|c| c.action == Action::Update && has_field(c, crate::secret_env::ENVS)));
            assert!(unchanged.is_empty(), "{} left in unchanged", unchanged.len());
        }

        #[test]
        fn recorded_expiries_and_service_accounts_are_added_in_linear_work() {
            let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().expect("a time");
            let later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("a time");
            let guests = addresses(Kind::Guest);
            let users = addresses(Kind::User);
            let mut desired = DesiredModel::default();
            for a in &guests {
                desired.insert(resource(a, Props::new(), Some(later)));
            }
            for a in &users {
                desired.insert(resource(a, Props::new(), None));
            }
            // Every guest is invited (a create); every user is in sync, but
            // the ledger recorded it as a service account it no longer is.
            let mut changes: Vec<Change> = guests.iter().map(|a| create(&desired.resources[a])).collect();
            let objects: Vec<LiveObject> = users.iter().enumerate().map(|(i, a)| live(a, &format!("id{i}"))).collect();
            let matched: BTreeMap<Address, &LiveObject> = users.iter().cloned().zip(objects.iter()).collect();
            let mut ledger = Ledger::default();
            for (a, o) in &matched {
                let mut e = entry(&o.id);
                e.service = true;
                ledger.resources.insert(a.clone(), e);
            }
            let mut unchanged = users.clone();
            let warnings = crate::governance::recorded::add_changes(&mut changes, &mut unchanged, &desired, &BTreeMap::new(), &ledger, &matched, &BTreeMap::new(), now);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(changes.len(), 2 * N);
            assert!(changes[..N].iter().all(|c| c.action == Action::Create && has_field(c, crate::governance::recorded::EXPIRES)));
            assert!(changes[N..].iter().all(|c| c.action == Action::Update && has_field(c, crate::governance::recorded::KIND)));
            assert!(unchanged.is_empty(), "{} left in unchanged", unchanged.len());
        }
    }
}
