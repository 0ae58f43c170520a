//! Access packages nobody declared (hostile run 16, finding 7). A
//! package made in the portal keeps granting: removing its assignees from
//! the group it grants lasts only until Entra delivers the next
//! assignment, so the package itself is removed (its assignments ended
//! first, then its policies, then the package: Graph refuses deleting a
//! package or policy that still has assignments):
//!
//! * every package in a catalog desired state declares: desired state
//!   owns what its catalogs hold (as it owns the catalogs' resources);
//! * a package in any other catalog that grants a privileged group: a
//!   protected or role-assignable group, one holding a directory role, or
//!   the service-accounts group (undeclared privileged access, judged as
//!   out-of-band privileged role assignments are). Other packages of
//!   undeclared catalogs are left alone (listed as unmanaged).
//!
//! Like out-of-band role assignments, removing one that grants privileged
//! access is never held for approval, applied by `reconcile --self-heal`
//! unattended and journalled, whatever `governance.prune.kinds` says (prune
//! is about objects the ledger owns; these it never did). Removing one that
//! only sits in a declared catalog is reviewed: declaring a catalog that
//! already holds packages (adopting it by name) would otherwise delete them
//! all unattended (hostile run 18, finding 7). Nothing is removed when
//! catalogs, packages or groups could not be read.

use std::collections::{BTreeMap, HashMap};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel, ObservedState};
use crate::plan::{Action, Change};

const PREFIX: &str = "out-of-band-";

/// The address the removal of undeclared package `id` is planned under.
pub fn out_of_band_address(id: &str) -> Address {
    Address::new(Kind::AccessPackage, format!("{PREFIX}{id}"))
}

/// The note on the removal of an undeclared package granting privileged
/// access: removing it is never held.
const PRIVILEGED_NOTE: &str = "removes access: applied without approval, and by reconcile --self-heal unattended";
/// The note on the removal of one that only sits in a declared catalog:
/// reviewed, since declaring a catalog that already holds packages (an
/// adoption by name) would otherwise delete them all unattended (hostile
/// run 18, finding 7).
const OWNED_NOTE: &str = "deletes a package its catalog's declaration owns but desired state does not declare: reviewed, since its assignees lose their access and a catalog adopted by name brings its packages with it";

/// Whether `change` removes an undeclared package granting privileged
/// access ([`removals`]): never held for approval.
pub fn is_removal(change: &Change) -> bool {
    change.address.kind == Kind::AccessPackage && change.action == Action::Delete && change.address.key.as_str().starts_with(PREFIX) && change.notes.iter().any(|n| n == PRIVILEGED_NOTE)
}

/// Why granting desired group `g` is privileged, if it is.
fn privileged(desired: &DesiredModel, g: &Address) -> Option<String> {
    if desired.service_account_groups.contains(g) {
        return Some("the service-accounts group".into());
    }
    if desired.protected_groups.contains(g) {
        return Some("protected".into());
    }
    let r = desired.resources.get(g)?;
    if r.props.get("isAssignableToRole") == Some(&Value::Bool(true)) {
        return Some("role-assignable".into());
    }
    let held = desired.resources.range(Address::new(Kind::RoleAssignment, "")..).take_while(|(a, _)| a.kind == Kind::RoleAssignment).find(|(_, ra)| ra.props.get("principal").and_then(as_reference) == Some(g.to_string().as_str()));
    held.map(|(a, ra)| format!("holds {} ({a})", ra.props.get("role").and_then(Value::as_str).unwrap_or("a directory role")))
}

/// Deletions of the undeclared packages desired state owns or that grant
/// privileged access.
pub fn removals(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Change> {
    if [Kind::AccessCatalog, Kind::AccessPackage, Kind::Group].iter().any(|k| observed.unreadable.contains_key(k)) {
        return Vec::new();
    }
    let by_id: HashMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    let mut out = Vec::new();
    for o in observed.objects.get(&Kind::AccessPackage).into_iter().flatten() {
        if by_id.contains_key(o.id.as_str()) {
            continue;
        }
        let catalog = o.props.get("catalog").and_then(as_reference).unwrap_or_default();
        let owned = by_id.get(catalog).copied().filter(|a| a.kind == Kind::AccessCatalog && desired.resources.contains_key(*a));
        let grants: Vec<String> = o
            .props
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(as_reference)
            .filter_map(|g| by_id.get(g).copied())
            .filter_map(|g| privileged(desired, g).map(|why| format!("{g} ({why})")))
            .collect();
        let note = if grants.is_empty() { OWNED_NOTE } else { PRIVILEGED_NOTE };
        let reason = match (owned, grants.first()) {
            (Some(c), _) => format!("out-of-band access package in {c}: desired state owns the packages of the catalogs it declares, so one it does not declare is removed with its assignments and policies"),
            (None, Some(g)) => format!("out-of-band access package granting {g} outside desired state (undeclared privileged access): removed with its assignments and policies"),
            (None, None) => continue,
        };
        out.push(Change {
            address: out_of_band_address(&o.id),
            action: Action::Delete,
            display_name: o.display_name.clone(),
            id: Some(o.id.clone()),
            reason,
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: vec![note.into()],
            live: Some(o.props.clone()),
        });
    }
    out
}
