//! Whether an account that lost its unproven ownership
//! (`super::lost_ownership`) is a service account, though nothing declares
//! it any more (gov22's leftover). Blocking a service account's sign-in
//! breaks the tenant's automation (the Managed Desktop service accounts
//! run it), so no "adopt or block" change is proposed for one: it is named
//! in an error the operator settles by declaring it again (`kind =
//! "service"`) or putting its ledger entry back.
//!
//! An undeclared account is a service account when the tenant shows it as
//! one: a live member of the service-accounts group (nested groups
//! followed), or an account the group's rule (declared or live) holds for,
//! evaluated against the live account ([`super::rule::evaluate`]; only a
//! proof counts, as for the group's other rules).

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use schema::Address;
use serde_json::Value;

use crate::model::{DesiredModel, LiveObject, ObservedState, Props};

/// The lint naming a service account whose ownership was lost.
pub const LINT: &str = "lost-service-account";

/// Judges accounts against the service-accounts groups (built once, and
/// only when an account is asked about).
pub struct Judge<'a> {
    desired: &'a DesiredModel,
    observed: &'a ObservedState,
    matched: &'a BTreeMap<Address, &'a LiveObject>,
    members: OnceCell<BTreeMap<String, Address>>,
}

impl<'a> Judge<'a> {
    pub fn new(desired: &'a DesiredModel, observed: &'a ObservedState, matched: &'a BTreeMap<Address, &'a LiveObject>) -> Self {
        Judge { desired, observed, matched, members: OnceCell::new() }
    }

    /// Live member id -> the service-accounts group it is in.
    fn members(&self) -> &BTreeMap<String, Address> {
        self.members.get_or_init(|| {
            let mut out = BTreeMap::new();
            for g in &self.desired.service_account_groups {
                let Some(gid) = self.matched.get(g).map(|o| o.id.as_str()) else { continue };
                let mut seen = BTreeSet::new();
                let mut todo = vec![gid];
                while let Some(id) = todo.pop() {
                    if !seen.insert(id) {
                        continue;
                    }
                    for (m, ty) in self.observed.memberships.get(id).into_iter().flatten() {
                        if ty == super::live::GROUP {
                            todo.push(m.as_str());
                        } else {
                            out.entry(m.clone()).or_insert_with(|| g.clone());
                        }
                    }
                }
            }
            out
        })
    }

    /// How live account `o` is a service account, or `None`.
    pub fn how(&self, o: &LiveObject) -> Option<String> {
        if let Some(g) = self.members().get(&o.id) {
            return Some(format!("a live member of the service-accounts group {g}"));
        }
        let mut props: Props = o.props.clone();
        if !props.contains_key("userPrincipalName") {
            props.insert("userPrincipalName".into(), Value::String(o.natural_key.clone()));
        }
        for g in &self.desired.service_account_groups {
            let declared = self.desired.resources.get(g).and_then(|r| r.props.get("membershipRule")).and_then(Value::as_str);
            let live = self.matched.get(g).and_then(|l| l.props.get("membershipRule")).and_then(Value::as_str);
            for rule in declared.into_iter().chain(live) {
                if super::rule::evaluate(rule, &props) == Some(true) {
                    return Some(format!("an account the rule of the service-accounts group {g} holds for"));
                }
            }
        }
        None
    }
}
