//! The state after a plan that deletes a whole access package (issue 16;
//! hostile run 17, finding 13): its assignments are ended first, so every
//! group it grants loses the members it delivered, and its assignments
//! (with its policies and roles, gone with the package object) are no
//! longer live. `after_package` does the same for a group taken out of a
//! package that stays; without this, a lint on a group's live members
//! (`ring-devices-only`) blocked the very delete that removes them.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::governance::package_assignment::PACKAGE;
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

/// For each package the plan deletes (or replaces): its live id and the
/// live ids of every group it grants, from the live object the delete
/// carries. The same shape as `after_package::removals`, so
/// `after_package::apply` takes the delivered members out of them.
pub fn removals(changes: &[Change], ids: &BTreeMap<Address, String>) -> Vec<(String, BTreeSet<String>)> {
    changes
        .iter()
        .filter(|c| c.address.kind == Kind::AccessPackage && matches!(c.action, Action::Delete | Action::Replace))
        .filter_map(|c| {
            let pkg = c.id.clone()?;
            let groups = c.live.as_ref()?.get("groups").and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).filter_map(|r| live_id(r, ids)).collect();
            Some((pkg, groups))
        })
        .collect()
}

/// `after` without the assignments of the packages [`removals`] lists
/// (run after `after_package::apply`, which reads them).
pub fn drop_assignments(after: &mut ObservedState, deleted: &[(String, BTreeSet<String>)], ids: &BTreeMap<Address, String>) {
    if deleted.is_empty() {
        return;
    }
    let gone: BTreeSet<&str> = deleted.iter().map(|(p, _)| p.as_str()).collect();
    if let Some(list) = after.objects.get_mut(&Kind::AccessPackageAssignment) {
        list.retain(|o| o.props.get(PACKAGE).and_then(as_reference).and_then(|r| live_id(r, ids)).is_none_or(|p| !gone.contains(p.as_str())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{reference, LiveObject, Props};
    use serde_json::json;

    fn live(kind: Kind, id: &str, props: Value) -> LiveObject {
        LiveObject { kind, id: id.into(), natural_key: id.into(), display_name: id.into(), props: serde_json::from_value::<Props>(props).expect("props") }
    }

    #[test]
    fn a_deleted_package_takes_its_deliveries_and_assignments_with_it() {
        let ids: BTreeMap<Address, String> = [("group.ring".parse().expect("an address"), "g1".to_string())].into_iter().collect();
        let mut del = Change {
            address: "access_package.p".parse().expect("an address"),
            action: Action::Delete,
            display_name: "p".into(),
            id: Some("p1".into()),
            reason: "r".into(),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: Some(serde_json::from_value::<Props>(json!({"groups": [reference("group.ring"), reference("g2")]})).expect("props")),
        };
        let r = removals(std::slice::from_ref(&del), &ids);
        assert_eq!(r, vec![("p1".to_string(), ["g1".to_string(), "g2".to_string()].into_iter().collect())]);
        del.action = Action::Update;
        assert!(removals(&[del], &ids).is_empty(), "updates are after_package's");

        let mut after = ObservedState::default();
        after.objects.insert(Kind::AccessPackageAssignment, vec![live(Kind::AccessPackageAssignment, "a1", json!({"accessPackage": reference("p1")})), live(Kind::AccessPackageAssignment, "a2", json!({"accessPackage": reference("p2")}))]);
        drop_assignments(&mut after, &r, &ids);
        let left: Vec<&str> = after.objects[&Kind::AccessPackageAssignment].iter().map(|o| o.id.as_str()).collect();
        assert_eq!(left, ["a2"]);
    }
}
