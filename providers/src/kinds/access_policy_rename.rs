//! An access package's assignment policies are compared by their
//! (lowercased) display names, so a renamed policy would look like one
//! removed and one added: a delete Graph refuses while anything is
//! assigned through the policy, and a new policy that the assignments do
//! not use. Graph updates a policy's `displayName` in place ("Update
//! accessPackageAssignmentPolicy", `PUT`), so a rename is written as that
//! update (`write_policies`), and the assignments through the policy are
//! read as going through its new name, so they are not replaced.
//!
//! A rename is recognised when, in one package, exactly one declared
//! policy has no live namesake and exactly one live policy has no declared
//! namesake. Anything else that removes a live policy (two renamed at
//! once, a policy dropped) deletes it. Graph refuses that delete while
//! assignments go through it: those desired state never held (made in the
//! portal) are ended first by the package's writer; while one tenantctl
//! made goes through it, the plan refuses the package's change, naming
//! the policy and its assignments. The renamed live policy is
//! compared under its new name, so the plan shows its `displayName` and
//! whatever else changes with it, before and after.

use std::collections::{BTreeMap, BTreeSet};

use engine::governance::package_assignment::{PACKAGE, POLICY};
use engine::model::as_reference;
use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::{json, Value};

/// The code of a package change held because a policy it deletes has assignments.
pub const POLICY_IN_USE: &str = "policy-in-use";

/// Where a package's props list its policies' lowercased names.
const POLICY_NAMES: &str = "policyNames";
/// Where a package's props hold its policies, by lowercased name.
const POLICIES: &str = "policies";

/// `(live name, declared name)` when the declared names `want` and the
/// live names `have` differ by exactly one policy each: the same policy,
/// renamed.
pub fn rename<'a>(want: &BTreeSet<&'a str>, have: &BTreeSet<&'a str>) -> Option<(&'a str, &'a str)> {
    let added: Vec<&str> = want.difference(have).copied().collect();
    let removed: Vec<&str> = have.difference(want).copied().collect();
    match (added.as_slice(), removed.as_slice()) {
        ([new], [old]) => Some((old, new)),
        _ => None,
    }
}

pub(crate) fn names(props: &engine::Props) -> BTreeSet<&str> {
    props.get(POLICY_NAMES).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
}

/// The policy id of a key `name [id]` (a live policy named like another,
/// `access_package::policy_keys`).
pub fn collision_id(key: &str) -> Option<&str> {
    key.strip_suffix(']').and_then(|k| k.rsplit_once(" [")).map(|(_, id)| id).filter(|id| !id.is_empty() && !id.contains(' '))
}

/// Assignments through a policy keyed `name [id]` on their package go
/// through that key, not through the declared `name` they are named like.
fn rekey_collisions(observed: &mut ObservedState, packages: &[LiveObject]) {
    let mut keys: BTreeMap<(String, String), String> = BTreeMap::new();
    for o in packages {
        for k in names(&o.props) {
            if let Some(id) = collision_id(k) {
                keys.insert((o.id.clone(), id.to_string()), k.to_string());
            }
        }
    }
    if keys.is_empty() {
        return;
    }
    for a in observed.objects.get_mut(&Kind::AccessPackageAssignment).into_iter().flatten() {
        let package = a.props.get(PACKAGE).and_then(as_reference).unwrap_or_default().to_string();
        let policy = a.props.get(crate::kinds::access_package_assignment::POLICY_ID).and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(k) = keys.get(&(package, policy)) {
            a.props.insert(POLICY.into(), json!(k));
        }
    }
}

/// The assignments of `package` (live id) through policy `name`.
fn through<'a>(observed: &'a ObservedState, package: &str, name: &str) -> Vec<&'a LiveObject> {
    observed
        .objects
        .get(&Kind::AccessPackageAssignment)
        .into_iter()
        .flatten()
        .filter(|a| a.props.get(PACKAGE).and_then(as_reference) == Some(package) && a.props.get(POLICY).and_then(Value::as_str) == Some(name))
        .collect()
}

/// Run after every kind is read (`Readout::after`): for each declared
/// package matched live (by the ledger's id, else by name), live
/// assignments through a renamed policy are read as through its new name,
/// and a live policy that would be deleted while assignments go through it
/// refuses the package, naming both.
pub fn guard(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let live: Vec<LiveObject> = observed.objects.get(&Kind::AccessPackage).cloned().unwrap_or_default();
    rekey_collisions(observed, &live);
    let mut renamed: Vec<(String, String, String)> = Vec::new();
    let mut refused = BTreeMap::new();
    let owned: BTreeSet<&str> = ledger.resources.iter().filter(|(a, _)| a.kind == Kind::AccessPackageAssignment).map(|(_, e)| e.id.as_str()).collect();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage) {
        let id = ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        let (want, have) = (names(&r.props), names(&o.props));
        let pair = rename(&want, &have);
        if let Some((old, new)) = pair {
            renamed.push((o.id.clone(), old.to_string(), new.to_string()));
        }
        let mut blocked = Vec::new();
        // A policy named like a declared one (keyed `name [id]`) is never
        // the declared one: it was made out of band, and the package's
        // writer ends the assignments through it before deleting it
        // (`access_package_removal::end_assignments`; hostile run 17,
        // finding 19).
        for gone in have.difference(&want).filter(|g| pair.is_none_or(|(old, _)| old != **g)).filter(|g| collision_id(g).is_none()) {
            let held = through(observed, &o.id, gone);
            // Assignments desired state never held (made in the portal
            // through a policy it does not declare) are out-of-band
            // access: the package's writer ends them before it deletes
            // the policy, like those through a look-alike. One tenantctl
            // made is refused: its own delete comes later in the plan.
            if held.iter().all(|a| !owned.contains(a.id.as_str())) {
                continue;
            }
            let who: Vec<String> = held
                .iter()
                .map(|a| match ledger.resources.iter().find(|(ad, e)| ad.kind == Kind::AccessPackageAssignment && e.id == a.id) {
                    Some((ad, _)) => format!("{ad} ({})", a.display_name),
                    None => format!("{} ({})", a.id, a.display_name),
                })
                .collect();
            blocked.push(format!("policy `{gone}` would be deleted, but {} assignment(s) go through it: {}", who.len(), who.join(", ")));
        }
        if !blocked.is_empty() {
            refused.insert(
                r.address.clone(),
                engine::held::Held::new(
                    POLICY_IN_USE,
                    format!(
                        "{}; Graph deletes a policy only once nothing is assigned through it, so this package's change is not applied (the rest of the plan is). End or move those assignments first, or rename the policy alone (one policy renamed per package and apply is an update)",
                        blocked.join("; ")
                    ),
                ),
            );
        }
    }
    observed.held.extend(refused);
    // The renamed policy is compared with its declaration under the new
    // name, so the plan shows the rename (`displayName`) and every other
    // field it changes with their before and after, not a new policy.
    for o in observed.objects.get_mut(&Kind::AccessPackage).into_iter().flatten() {
        for (_, old, new) in renamed.iter().filter(|(p, _, _)| *p == o.id) {
            if let Some(Value::Object(pols)) = o.props.get_mut(POLICIES) {
                if let Some(p) = pols.remove(old) {
                    pols.insert(new.clone(), p);
                }
            }
        }
    }
    for (package, old, new) in renamed {
        for a in observed.objects.get_mut(&Kind::AccessPackageAssignment).into_iter().flatten() {
            if a.props.get(PACKAGE).and_then(as_reference) == Some(package.as_str()) && a.props.get(POLICY).and_then(Value::as_str) == Some(old.as_str()) {
                a.props.insert(POLICY.into(), json!(new));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(v: &[&'a str]) -> BTreeSet<&'a str> {
        v.iter().copied().collect()
    }

    #[test]
    fn one_policy_each_way_is_a_rename_and_anything_else_is_not() {
        assert_eq!(rename(&set(&["b", "keep"]), &set(&["a", "keep"])), Some(("a", "b")));
        assert_eq!(rename(&set(&["keep"]), &set(&["keep"])), None);
        assert_eq!(rename(&set(&["b", "c"]), &set(&["a", "d"])), None, "two at once are not guessed");
        assert_eq!(rename(&set(&["keep"]), &set(&["a", "keep"])), None, "a removal is not a rename");
        assert_eq!(rename(&set(&["b", "keep"]), &set(&["keep"])), None, "an addition is not a rename");
    }
}
