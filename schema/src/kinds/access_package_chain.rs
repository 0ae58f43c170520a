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
//!
//! The requestor group's declared nested groups are followed (hostile run
//! 24, finding 8): a member of a nested group is a member of the group. A
//! group (requestor or nested) whose rule is a `memberOf` one holds the
//! members of groups named by object id, which `validate` cannot map to
//! addresses: when another package grants a group, the warning says the
//! chain cannot be ruled out.

use std::collections::BTreeSet;

use crate::address::{Address, Kind};
use crate::state::DesiredState;
use crate::path;
use crate::validate::Ctx;

pub const PACKAGE_CHAIN: &str = "package-chain";

/// The groups whose members are members of `group` by declaration: it,
/// and its declared member groups, transitively; and those of them whose
/// rule is a `memberOf` one.
fn reach(state: &DesiredState, group: &Address) -> (BTreeSet<Address>, Vec<Address>) {
    let mut seen = BTreeSet::new();
    let mut member_of = Vec::new();
    let mut todo = vec![group.clone()];
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        let Some(d) = state.group.get(g.key.as_str()) else { continue };
        if d.value.membership_rule.as_deref().and_then(crate::rule_syntax::parse).is_some_and(|e| nests(&e)) {
            member_of.push(g.clone());
        }
        for m in d.value.members.iter().flatten() {
            if let Ok(a) = state.resolve(m, &[Kind::Group, Kind::User, Kind::Guest]) {
                if a.kind == Kind::Group {
                    todo.push(a);
                }
            }
        }
    }
    (seen, member_of)
}

/// Whether a parsed rule has a `memberOf` test anywhere.
fn nests(e: &crate::rule_syntax::Expr) -> bool {
    use crate::rule_syntax::Expr;
    match e {
        Expr::Nesting => true,
        Expr::And(a, b) | Expr::Or(a, b) => nests(a) || nests(b),
        Expr::Not(a) => nests(a),
        Expr::Cmp { .. } | Expr::Each { .. } => false,
    }
}

pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for (pk, pol) in &d.value.policies {
            for (i, t) in pol.specific_allowed_targets.iter().enumerate() {
                let Ok(group) = cx.state.resolve(t, &[Kind::Group, Kind::User, Kind::Guest]) else { continue };
                if group.kind != Kind::Group {
                    continue;
                }
                let (held, member_of) = reach(cx.state, &group);
                let mut granting = Vec::new();
                let mut any_grants = false;
                for (other, p) in cx.state.access_package.iter().filter(|(other, _)| other.as_str() != key.as_str()) {
                    let granted: Vec<Address> = p.value.groups.iter().filter_map(|g| cx.state.resolve(g, &[Kind::Group]).ok()).collect();
                    any_grants |= !granted.is_empty();
                    if let Some(g) = granted.iter().find(|g| held.contains(*g)) {
                        let via = if *g == group { String::new() } else { format!(" (through {g}, nested in it)") };
                        granting.push(format!("access_package.{other}{via}"));
                    }
                }
                let why = if !granting.is_empty() {
                    format!("which {} grants: whoever obtains that package may then request this one, so access chains from package to package", granting.join(" and "))
                } else if any_grants && !member_of.is_empty() {
                    let names: Vec<String> = member_of.iter().map(ToString::to_string).collect();
                    format!(
                        "and {} holds the members of groups its memberOf rule names by object id, which validate cannot map to addresses: if another package grants one of them, access chains from package to package (the plan resolves the ids)",
                        names.join(" and ")
                    )
                } else {
                    continue;
                };
                found.push((key.to_string(), pk.to_string(), i, group.to_string(), why, d.origin.clone()));
            }
        }
    }
    for (key, pk, i, group, why, o) in found {
        let at = path!["access_package", key.as_str(), "policies", pk.as_str(), "specific_allowed_targets", i];
        cx.warning(
            PACKAGE_CHAIN,
            &o,
            &at,
            format!("access_package.{key}.policies.{pk}: its requestors are the members of {group}, {why}. Name the people who may request, or a group no package grants"),
        );
    }
}
