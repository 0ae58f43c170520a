//! Who approves or reviews, as desired state declares it: every reference
//! under an `approvers`, `reviewers` or `...Approvers` field of PIM role
//! settings (`role_policy`: activation approvers) and access packages
//! (request approval stages, review settings), and the people behind
//! them (approver groups followed through their declared members,
//! transitively). Whoever resets such a person's sign-in (a unit-scoped
//! Authentication Administrator) approves in their name
//! (`super::admin_reach::unit_lints`).

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel};
use crate::plan::referenced_addresses;

/// One approver or reviewer named by a declared object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Approver {
    /// The role policy or access package naming it.
    pub object: Address,
    /// Where (dotted field path, e.g. `activation.approvers`).
    pub list: String,
    /// Who: a user, guest or group address.
    pub who: Address,
}

/// Every approver and reviewer declared, in address order.
pub fn declared(desired: &DesiredModel) -> Vec<Approver> {
    fn walk(v: &Value, path: &str, inside: bool, object: &Address, out: &mut BTreeSet<Approver>) {
        if as_reference(v).is_some() {
            if inside {
                let mut refs = BTreeSet::new();
                referenced_addresses(v, &mut refs);
                out.extend(refs.into_iter().map(|who| Approver { object: object.clone(), list: path.to_string(), who }));
            }
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let lower = k.to_lowercase();
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(x, &p, inside || lower.contains("approver") || lower.contains("reviewer"), object, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path, inside, object, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for r in desired.resources.values().filter(|r| matches!(r.address.kind, Kind::RolePolicy | Kind::AccessPackage)) {
        for (k, v) in &r.props {
            let lower = k.to_lowercase();
            walk(v, k, lower.contains("approver") || lower.contains("reviewer"), &r.address, &mut out);
        }
    }
    out.into_iter().collect()
}

/// The addresses that approve or review (people and groups).
pub fn addresses(desired: &DesiredModel) -> BTreeSet<Address> {
    declared(desired).into_iter().map(|a| a.who).collect()
}

/// The people (users, guests) who approve or review, each with how: the
/// object and list naming them, through which group when they are a
/// declared member of an approver group (nested groups followed).
pub fn people(desired: &DesiredModel) -> BTreeMap<Address, String> {
    let mut out = BTreeMap::new();
    for a in declared(desired) {
        let mut todo = vec![(a.who.clone(), String::new())];
        let mut seen = BTreeSet::new();
        while let Some((who, via)) = todo.pop() {
            if !seen.insert(who.clone()) {
                continue;
            }
            if who.kind != Kind::Group {
                out.entry(who).or_insert_with(|| format!("{} {}{via}", a.object, a.list));
                continue;
            }
            let mut members = BTreeSet::new();
            if let Some(m) = desired.resources.get(&who).and_then(|r| r.props.get("members")) {
                referenced_addresses(m, &mut members);
            }
            let v = format!(" through {who}");
            todo.extend(members.into_iter().map(|m| (m, v.clone())));
        }
    }
    out
}
