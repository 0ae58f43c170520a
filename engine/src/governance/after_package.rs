//! The state after a plan, for access packages (hostile run 17, finding
//! 13): a change that takes a group (its resource role) out of a package
//! takes out of that group the members the package delivered (the targets
//! of the package's live assignments), as Entra does. Without this, a lint
//! on the group's live members (`ring-devices-only`) would block the very
//! change that removes them.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, ObservedState};
use crate::plan::{Action, Change};

/// A live id out of a reference (`id:<id>`, a raw id, or a matched address).
fn live_id(r: &str, ids: &BTreeMap<Address, String>) -> Option<String> {
    let r = r.strip_prefix("id:").unwrap_or(r);
    match r.parse::<Address>() {
        Ok(a) => ids.get(&a).cloned(),
        Err(_) => Some(r.to_string()),
    }
}

fn group_ids(v: Option<&Value>, ids: &BTreeMap<Address, String>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).filter_map(|r| live_id(r, ids)).collect()
}

/// For each package the plan changes: its live id and the live ids of the
/// groups the plan takes out of it.
pub fn removals(changes: &[Change], ids: &BTreeMap<Address, String>) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.address.kind == Kind::AccessPackage && c.action == Action::Update) {
        let Some(pkg) = c.id.clone() else { continue };
        for f in c.fields.iter().filter(|f| f.field == "groups") {
            let (before, after) = (group_ids(f.before.as_ref(), ids), group_ids(f.after.as_ref(), ids));
            let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
            if !gone.is_empty() {
                out.push((pkg.clone(), gone));
            }
        }
    }
    out
}

/// `after` with the members the packages delivered taken out of the
/// groups [`removals`] lists.
pub fn apply(after: &mut ObservedState, removals: &[(String, BTreeSet<String>)], ids: &BTreeMap<Address, String>) {
    for (pkg, groups) in removals {
        let targets: BTreeSet<String> = after
            .objects
            .get(&Kind::AccessPackageAssignment)
            .into_iter()
            .flatten()
            .filter(|o| o.props.get("accessPackage").and_then(as_reference).and_then(|r| live_id(r, ids)).as_deref() == Some(pkg.as_str()))
            .filter_map(|o| o.props.get("target").and_then(as_reference).and_then(|r| live_id(r, ids)))
            .collect();
        for g in groups {
            if let Some(m) = after.memberships.get_mut(g) {
                m.retain(|id, _| !targets.contains(id));
            }
        }
    }
}
