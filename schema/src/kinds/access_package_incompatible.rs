//! Separation of duties on an access package: `incompatible_packages`
//! (`incompatibleAccessPackages`) and `incompatible_groups`
//! (`incompatibleGroups`), v1.0 `$ref` collections of the package
//! (absent: not managed). Each
//! entry is a declared key of its kind, listed once; a package is never
//! incompatible with itself. Packages may name each other, both ways or
//! in a ring (a -> b -> c -> a): a link is a `$ref` written once both
//! packages exist, not an order between their creates (the providers
//! write each link after both packages are made), so no cycle arises.

use std::collections::BTreeSet;

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

pub const INCOMPATIBLE_WITH_ITSELF: &str = "incompatible-with-itself";

/// Every package's incompatible packages and groups, checked.
pub(crate) fn validate(cx: &mut Ctx) {
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
