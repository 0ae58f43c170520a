//! Separation of duties on an access package: `incompatible_packages`
//! (`incompatibleAccessPackages`) and `incompatible_groups`
//! (`incompatibleGroups`), v1.0 `$ref` collections of the package
//! (absent: not managed). Each
//! entry is a declared key of its kind, listed once; a package is never
//! incompatible with itself. Two packages that name each other are refused
//! (`incompatible-both-ways`): each would need the other to exist first,
//! a cycle tenantctl cannot order; declaring it on one of them is enough
//! for desired state to hold the pair (whether Entra then blocks requests
//! in both directions is not documented in the v1.0 pages).

use std::collections::BTreeSet;

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

pub const INCOMPATIBLE_WITH_ITSELF: &str = "incompatible-with-itself";
pub const INCOMPATIBLE_BOTH_WAYS: &str = "incompatible-both-ways";

/// Every package's incompatible packages and groups, checked.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut named: BTreeSet<(String, String)> = BTreeSet::new();
    for (key, d) in &cx.state.access_package {
        let (p, o) = (&d.value, d.origin.clone());
        let mut seen = BTreeSet::new();
        for (i, k) in p.incompatible_packages.iter().flatten().enumerate() {
            let at = path!["access_package", key, "incompatible_packages", i];
            let Some(a) = cx.reference(&o, &at, k, &[Kind::AccessPackage]) else { continue };
            if !seen.insert(a.clone()) {
                cx.error("duplicate", &o, &at, format!("access_package.{key}: {a} is listed twice in incompatible_packages"));
            } else if a.key.as_str() == key.as_str() {
                cx.error(INCOMPATIBLE_WITH_ITSELF, &o, &at, format!("access_package.{key} cannot be incompatible with itself"));
            } else if named.contains(&(a.key.to_string(), key.to_string())) {
                cx.error(
                    INCOMPATIBLE_BOTH_WAYS,
                    &o,
                    &at,
                    format!("access_package.{key} and {a} name each other as incompatible; each would have to exist before the other: declare the pair on one of them"),
                );
            } else {
                named.insert((key.to_string(), a.key.to_string()));
            }
        }
        let mut seen = BTreeSet::new();
        for (i, g) in p.incompatible_groups.iter().flatten().enumerate() {
            let at = path!["access_package", key, "incompatible_groups", i];
            let Some(a) = cx.reference(&o, &at, g, &[Kind::Group]) else { continue };
            if !seen.insert(a.clone()) {
                cx.error("duplicate", &o, &at, format!("access_package.{key}: {a} is listed twice in incompatible_groups"));
            }
        }
    }
}
