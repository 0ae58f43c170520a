//! Declared resources whose change the tenant cannot take now, and why: a
//! licence it lacks (access packages, PIM eligibility on a tenant without
//! Microsoft Entra ID P2), or a delete Graph refuses while something still
//! depends on the object (an assignment policy with live assignments).
//!
//! Such a resource is not a reason to stop planning: its change is left
//! out of the plan and listed, located, in [`crate::Plan::refused`], and
//! the rest of the plan is planned, shown and applied (so out-of-band
//! privileged access is still removed). A declared resource that refers to
//! a held one that does not exist yet is held too (apply could not give it
//! the id it refers to). `plan`, `apply` and `reconcile` exit 1 while
//! anything is refused.

use std::collections::BTreeMap;

use schema::Address;
use serde::{Deserialize, Serialize};

use crate::model::{DesiredModel, LiveObject};

/// Why the tenant cannot take a declared resource's change now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// A short name for the kind of refusal (`needs-licence`, `policy-in-use`).
    pub code: String,
    pub reason: String,
}

impl Held {
    pub fn new(code: &str, reason: impl Into<String>) -> Held {
        Held { code: code.to_string(), reason: reason.into() }
    }
}

/// A declared resource left out of the plan: its change is not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub address: Address,
    pub code: String,
    pub reason: String,
}

/// The code of a resource held because one it refers to is held.
pub const REFERS_TO_HELD: &str = "refers-to-refused";

/// Every declared resource the plan leaves out: those the providers held,
/// and, transitively, those referring to a held resource that has no live
/// object (nothing apply could refer to). Resources already unknown are
/// not held (they are not read: unknown says more).
pub fn held(desired: &DesiredModel, held: &BTreeMap<Address, Held>, matched: &BTreeMap<Address, &LiveObject>, unknown: &BTreeMap<Address, String>) -> BTreeMap<Address, Held> {
    let mut out: BTreeMap<Address, Held> = held.iter().filter(|(a, _)| desired.resources.contains_key(*a) && !unknown.contains_key(*a)).map(|(a, h)| (a.clone(), h.clone())).collect();
    if out.is_empty() {
        return out;
    }
    loop {
        let mut added = Vec::new();
        for (address, r) in &desired.resources {
            if out.contains_key(address) || unknown.contains_key(address) {
                continue;
            }
            if let Some(dep) = r.depends_on.iter().find(|d| out.contains_key(*d) && !matched.contains_key(*d)) {
                let why = out.get(dep).map(|h| h.code.clone()).unwrap_or_default();
                added.push((address.clone(), Held::new(REFERS_TO_HELD, format!("refers to {dep}, which does not exist and whose change is refused ({why})"))));
            }
        }
        if added.is_empty() {
            return out;
        }
        out.extend(added);
    }
}

/// The refused resources in address order, for the plan.
pub fn refused(held: &BTreeMap<Address, Held>) -> Vec<Refused> {
    held.iter().map(|(a, h)| Refused { address: a.clone(), code: h.code.clone(), reason: h.reason.clone() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DesiredResource, Props};

    fn resource(a: &str, deps: &[&str]) -> DesiredResource {
        DesiredResource {
            address: a.parse().expect("an address"),
            natural_key: a.into(),
            display_name: a.into(),
            props: Props::new(),
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: Props::new(),
            depends_on: deps.iter().map(|d| d.parse().expect("an address")).collect(),
            expires: None,
        }
    }

    #[test]
    fn dependents_of_a_held_resource_that_does_not_exist_are_held_and_others_are_not() {
        let mut desired = DesiredModel::default();
        desired.insert(resource("access_catalog.c", &[]));
        desired.insert(resource("access_package.p", &["access_catalog.c"]));
        desired.insert(resource("access_package_assignment.a", &["access_package.p", "guest.g"]));
        desired.insert(resource("guest.g", &[]));
        desired.insert(resource("access_package.live", &[]));
        desired.insert(resource("access_package_assignment.b", &["access_package.live"]));
        let given: BTreeMap<Address, Held> = [("access_catalog.c", "needs-licence"), ("access_package.live", "policy-in-use")]
            .iter()
            .map(|(a, c)| (a.parse().expect("an address"), Held::new(c, "why")))
            .collect();
        let live = LiveObject { kind: schema::Kind::AccessPackage, id: "x".into(), natural_key: "live".into(), display_name: "live".into(), props: Props::new() };
        let matched: BTreeMap<Address, &LiveObject> = [("access_package.live".parse().expect("an address"), &live)].into_iter().collect();
        let out = held(&desired, &given, &matched, &BTreeMap::new());
        let names: Vec<String> = out.keys().map(|a| a.to_string()).collect();
        assert_eq!(names, ["access_catalog.c", "access_package.live", "access_package.p", "access_package_assignment.a"]);
        assert_eq!(out[&"access_package_assignment.a".parse::<Address>().expect("an address")].code, REFERS_TO_HELD);
    }
}
