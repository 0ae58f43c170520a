//! The keys export gives an access package's assignment policies: the
//! slug of each display name, made unique within the package the way
//! export keys every object (`export::Keys::assign`: `-2`, `-3`, ... on a
//! collision), taking the names in order (lowercased), so the same tenant
//! always exports the same keys, and an exported assignment names its
//! policy by the key the package's export gave it. Export also leaves
//! undeclared the members of the groups packages grant (`granted_groups`):
//! the packages' assignments fill them.

use std::collections::{BTreeMap, BTreeSet};

/// Lowercased policy display name -> its key in the package's `policies`.
pub fn policy_keys<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let sorted: BTreeSet<String> = names.into_iter().map(str::to_lowercase).collect();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for name in sorted {
        let base = crate::export::slug(&name);
        let mut key = base.clone();
        let mut n = 2;
        while taken.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        taken.insert(key.clone());
        out.insert(name, key);
    }
    out
}

/// The ids of the groups the live access packages grant a role of.
pub fn granted_groups(observed: &engine::ObservedState) -> BTreeSet<String> {
    observed
        .objects
        .get(&schema::Kind::AccessPackage)
        .into_iter()
        .flatten()
        .flat_map(|o| o.props.get("groups").and_then(serde_json::Value::as_array).into_iter().flatten())
        .filter_map(engine::model::as_reference)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_that_slug_alike_get_distinct_stable_keys() {
        let k = policy_keys(["External", "external!", "External-2", "Members"]);
        assert_eq!(k["external"], "external");
        assert_eq!(k["external!"], "external-2");
        assert_eq!(k["external-2"], "external-2-2");
        assert_eq!(k["members"], "members");
        assert_eq!(policy_keys(["Members", "external!", "External-2", "External"]), k, "the order they are listed in does not matter");
    }
}
