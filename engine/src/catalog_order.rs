//! Ordering a catalog's resource removals after the package roles that
//! use them (issue 16). A package depends on its catalog, so creates and
//! updates run catalog first: right for a group added to both, wrong for
//! one removed from both, as Graph removes a catalog's resource only once
//! no package's role uses it (the docs' resource request removes "a
//! resource ... that is no longer needed by the access packages"). So when
//! one plan takes a resource (a group, an application or a SharePoint
//! site) out of a package and out of a catalog, the catalog's update waits
//! on the package's instead.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::as_reference;
use crate::plan::{Action, Change};

/// What a list field of `c` loses (references or strings).
fn removed(c: &Change, field: &str) -> BTreeSet<String> {
    let set = |v: Option<&Value>| -> BTreeSet<String> { v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| as_reference(x).or_else(|| x.as_str())).map(str::to_string).collect() };
    c.fields.iter().filter(|f| f.field == field).flat_map(|f| set(f.before.as_ref()).difference(&set(f.after.as_ref())).cloned().collect::<Vec<_>>()).collect()
}

/// The resource lists of a catalog, and of a package the same resources'
/// roles: a group by reference in both; an application or a site by its
/// origin id in a catalog, `origin#role` in a package.
const RESOURCE_LISTS: [&str; 3] = ["groups", "applications", "sites"];

/// A package's group role other than Member (`AadGroup:Owner_<id>`, made
/// in the portal; desired state declares Member roles only): its group is
/// named by id where the catalog's may be named by address, so it is taken
/// to be any group the catalog loses.
const ANY_GROUP: &str = "groups:*";

/// What `c` takes out of its resource lists, as `list:resource` (a
/// package's role entries by their resource).
fn removed_resources(c: &Change) -> BTreeSet<String> {
    RESOURCE_LISTS
        .iter()
        .flat_map(|list| {
            removed(c, list).into_iter().map(move |r| match (*list, r.starts_with("AadGroup:")) {
                ("groups", true) => ANY_GROUP.to_string(),
                _ => format!("{list}:{}", r.split_once('#').map_or(r.as_str(), |(origin, _)| origin)),
            })
        })
        .collect()
}

/// Whether a package losing `roles` must go before a catalog losing `gone`.
fn uses(roles: &BTreeSet<String>, gone: &BTreeSet<String>) -> bool {
    !roles.is_disjoint(gone) || (roles.contains(ANY_GROUP) && gone.iter().any(|g| g.starts_with("groups:")))
}

/// `deps` (each changed address to the changed addresses it waits on)
/// reordered so a catalog update that removes resources waits on each
/// package update that removes a role of one of them (and not the
/// reverse). Deletes run after every update, so a catalog update that
/// removes resources while
/// the plan deletes a package runs after the deletes: the catalog
/// updates returned, with the deleted packages they wait on (a package's
/// live resources are not compared, so this may order one needlessly late,
/// never too early).
pub fn removals_after_roles(changes: &[Change], deps: &mut BTreeMap<Address, Vec<Address>>) -> BTreeMap<Address, Vec<Address>> {
    let deleted: Vec<Address> = changes.iter().filter(|c| c.address.kind == Kind::AccessPackage && c.action == Action::Delete).map(|c| c.address.clone()).collect();
    let mut after_deletes = BTreeMap::new();
    let updates = |k: Kind| changes.iter().filter(move |c| c.address.kind == k && c.action == Action::Update);
    for cat in updates(Kind::AccessCatalog) {
        let gone = removed_resources(cat);
        if gone.is_empty() {
            continue;
        }
        if !deleted.is_empty() {
            after_deletes.insert(cat.address.clone(), deleted.clone());
        }
        for pkg in updates(Kind::AccessPackage).filter(|p| uses(&removed_resources(p), &gone)) {
            if let Some(d) = deps.get_mut(&pkg.address) {
                d.retain(|a| *a != cat.address);
            }
            if let Some(d) = deps.get_mut(&cat.address) {
                if !d.contains(&pkg.address) {
                    d.push(pkg.address.clone());
                }
            }
        }
    }
    after_deletes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use serde_json::json;

    fn update(address: &str, field: &str, before: Value, after: Value) -> Change {
        let mut c = Change::new(address.parse().expect("an address"), Action::Update, address, "r");
        c.id = Some("1".into());
        c.fields = vec![FieldChange { field: field.into(), before: Some(before), after: Some(after) }];
        c
    }

    fn ordered(cat: Change, pkg: Change) -> bool {
        let (ca, pa) = (cat.address.clone(), pkg.address.clone());
        let mut deps: BTreeMap<Address, Vec<Address>> = [(ca.clone(), Vec::new()), (pa.clone(), vec![ca.clone()])].into_iter().collect();
        removals_after_roles(&[cat, pkg], &mut deps);
        deps[&ca].contains(&pa) && !deps[&pa].contains(&ca)
    }

    #[test]
    fn applications_sites_and_portal_group_roles_leave_the_package_first() {
        let app = "5e1b7a2c-8d3f-4c6a-9b0e-1f2a3b4c5d6e";
        let cat = update("access_catalog.c", "applications", json!([app]), json!([]));
        assert!(ordered(cat.clone(), update("access_package.p", "applications", json!([format!("{app}#Reader")]), json!([]))));
        assert!(!ordered(cat, update("access_package.p", "applications", json!(["other#Reader"]), json!([]))), "another application's role: no order");
        let site = "https://contoso.sharepoint.com/sites/audit";
        assert!(ordered(update("access_catalog.c", "sites", json!([site]), json!([])), update("access_package.p", "sites", json!([format!("{site}#Audit Members")]), json!([]))));
        let owner = update("access_package.p", "groups", json!(["AadGroup:Owner_g1"]), json!([]));
        assert!(ordered(update("access_catalog.c", "groups", json!([{"@ref": "group.leads"}]), json!([])), owner));
    }
}
