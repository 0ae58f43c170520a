//! A package whose requestors are a group another package grants
//! (`package-chain`, a warning; hostile run 17, finding 2).
//!
//! A policy's `specific_allowed_targets` say who may ask for the package.
//! When one of them is a group that another declared package grants (the
//! group is in that package's `groups`), whoever obtains the other package
//! becomes a member and may then request this one: the people this policy
//! admits are no longer the group's declared members but whoever the other
//! package's policies admit (and its approvers approve). Access chains
//! from package to package, and a review of this policy's requestors sees
//! a group, not the packages that fill it. The warning names both
//! packages; naming the people (or a group no package grants) removes it.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

pub const PACKAGE_CHAIN: &str = "package-chain";

pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for (pk, pol) in &d.value.policies {
            for (i, t) in pol.specific_allowed_targets.iter().enumerate() {
                let Ok(group) = cx.state.resolve(t, &[Kind::Group, Kind::User, Kind::Guest]) else { continue };
                if group.kind != Kind::Group {
                    continue;
                }
                let granting: Vec<String> = cx
                    .state
                    .access_package
                    .iter()
                    .filter(|(other, _)| other.as_str() != key.as_str())
                    .filter(|(_, p)| p.value.groups.iter().any(|g| cx.state.resolve(g, &[Kind::Group]).is_ok_and(|a| a == group)))
                    .map(|(other, _)| format!("access_package.{other}"))
                    .collect();
                if !granting.is_empty() {
                    found.push((key.to_string(), pk.to_string(), i, group.to_string(), granting, d.origin.clone()));
                }
            }
        }
    }
    for (key, pk, i, group, granting, o) in found {
        let at = path!["access_package", key.as_str(), "policies", pk.as_str(), "specific_allowed_targets", i];
        cx.warning(
            PACKAGE_CHAIN,
            &o,
            &at,
            format!(
                "access_package.{key}.policies.{pk}: its requestors are the members of {group}, which {} grants: whoever obtains that package may then request this one, so access chains from package to package. Name the people who may request, or a group no package grants",
                granting.join(" and ")
            ),
        );
    }
}
