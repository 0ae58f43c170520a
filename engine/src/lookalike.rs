//! Look-alike names (issue 16; hostile run 17, finding 6): a group, access
//! package, conditional access policy, Intune policy, custom directory or
//! Intune role (hostile run 20, finding 12), or an access
//! package's assignment policy whose display name reads like another's of
//! the same kind but is not the same text, such as "Fabrikаm auditors"
//! with a Cyrillic `а` (U+0430) beside the declared "Fabrikam auditors".
//! An approver reading the plan cannot tell them apart, and a portal-made
//! look-alike can pass for the declared object. Each such pair, declared
//! or live, is a plan warning naming both objects and the code points
//! that differ.
//!
//! "Reads like" is Unicode's confusable skeleton (UTS #39, through the
//! maintained `unicode-security` tables), compared without case (Graph
//! compares these names without case). A pair is flagged only when one of
//! its names holds a character outside ASCII: ASCII look-alikes (`rn` and
//! `m`, `l` and `I`) are everyday names, and skeletons are computed only
//! for the kinds where some name is not ASCII, so a large tenant of plain
//! names costs nothing.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{DesiredModel, ObservedState};

/// Kinds whose names are checked (besides Intune policy kinds).
const KINDS: [Kind; 7] = [Kind::Group, Kind::AccessPackage, Kind::AccessCatalog, Kind::ConditionalAccess, Kind::NamedLocation, Kind::RoleDefinition, Kind::IntuneRoleDefinition];

fn checked(kind: Kind) -> bool {
    KINDS.contains(&kind) || kind.is_policy()
}

/// One named object: who it is (an address, or a live object's id) and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    who: String,
    name: String,
}

fn skeleton(s: &str) -> String {
    unicode_security::skeleton(s).collect::<String>().to_lowercase()
}

fn cp(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Where two look-alike names differ, by code point: position by
/// position when they are as long, else the characters each has that the
/// other lacks.
fn difference(a: &str, b: &str) -> String {
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if ca.len() == cb.len() {
        return ca.iter().zip(&cb).filter(|(x, y)| x != y).map(|(x, y)| format!("{} for {}", cp(*y), cp(*x))).collect::<Vec<_>>().join(", ");
    }
    let only = |s: &[char], other: &[char]| -> String {
        let theirs: BTreeSet<&char> = other.iter().collect();
        let mine: BTreeSet<&char> = s.iter().filter(|c| !theirs.contains(c)).collect();
        if mine.is_empty() {
            "nothing".into()
        } else {
            mine.iter().map(|c| cp(**c)).collect::<Vec<_>>().join(" ")
        }
    };
    format!("{} where the first has {}", only(&cb, &ca), only(&ca, &cb))
}

/// The warnings of one group of names (one kind, or one package's policies).
fn pairs(what: &str, names: &BTreeSet<Named>, out: &mut Vec<String>) {
    if names.iter().all(|n| n.name.is_ascii()) {
        return;
    }
    let mut by_skeleton: BTreeMap<String, Vec<&Named>> = BTreeMap::new();
    for n in names {
        by_skeleton.entry(skeleton(&n.name)).or_default().push(n);
    }
    for group in by_skeleton.values().filter(|g| g.len() > 1) {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a.who == b.who || a.name.eq_ignore_ascii_case(&b.name) || (a.name.is_ascii() && b.name.is_ascii()) {
                    continue;
                }
                out.push(format!(
                    "look-alike names: {what} {} `{}` and {} `{}` read alike (Unicode confusables) but are not the same text: the second has {}; check which is which before approving",
                    a.who,
                    a.name,
                    b.who,
                    b.name,
                    difference(&a.name, &b.name),
                ));
            }
        }
    }
}

fn policy_names(props: &crate::model::Props) -> impl Iterator<Item = &str> {
    props.get("policies").and_then(Value::as_object).into_iter().flat_map(|m| m.values()).filter_map(|p| p.get("displayName").and_then(Value::as_str))
}

/// The look-alike warnings of a plan: declared resources and live objects
/// (`ids`: the live id of each matched address), per kind, and the
/// assignment policies of each package.
pub fn warnings(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<String> {
    // The kinds where some name is not ASCII, found without copying any:
    // only their names are collected (a tenant of plain names costs a scan).
    let mut unusual: BTreeSet<Kind> = desired.resources.iter().filter(|(a, r)| checked(a.kind) && !r.display_name.is_ascii()).map(|(a, _)| a.kind).collect();
    unusual.extend(observed.objects.iter().filter(|(k, list)| checked(**k) && list.iter().any(|o| !o.display_name.is_ascii())).map(|(k, _)| *k));
    let by_id: BTreeMap<&str, &Address> = ids.iter().filter(|(a, _)| unusual.contains(&a.kind) || a.kind == Kind::AccessPackage).map(|(a, i)| (i.as_str(), a)).collect();
    let mut kinds: BTreeMap<Kind, BTreeSet<Named>> = BTreeMap::new();
    let mut policies: BTreeMap<String, BTreeSet<Named>> = BTreeMap::new();
    for (a, r) in desired.resources.iter().filter(|(a, _)| checked(a.kind)) {
        if unusual.contains(&a.kind) {
            kinds.entry(a.kind).or_default().insert(Named { who: a.to_string(), name: r.display_name.clone() });
        }
        if a.kind == Kind::AccessPackage {
            for n in policy_names(&r.props) {
                policies.entry(a.to_string()).or_default().insert(Named { who: "the declared policy".into(), name: n.to_string() });
            }
        }
    }
    for (kind, list) in observed.objects.iter().filter(|(k, _)| unusual.contains(*k) || **k == Kind::AccessPackage) {
        for o in list {
            let who = by_id.get(o.id.as_str()).map_or_else(|| format!("live {kind} {}", o.id), |a| a.to_string());
            if *kind == Kind::AccessPackage {
                for (k, p) in o.props.get("policies").and_then(Value::as_object).into_iter().flatten() {
                    if let Some(n) = p.get("displayName").and_then(Value::as_str) {
                        let id = p.get("id").and_then(Value::as_str).map_or_else(|| format!("`{k}`"), str::to_string);
                        policies.entry(who.clone()).or_default().insert(Named { who: format!("the live policy {id}"), name: n.to_string() });
                    }
                }
            }
            if unusual.contains(kind) {
                kinds.entry(*kind).or_default().insert(Named { who, name: o.display_name.clone() });
            }
        }
    }
    let mut out = Vec::new();
    for (kind, names) in &kinds {
        pairs(kind.as_str(), names, &mut out);
    }
    for (package, names) in &policies {
        pairs(&format!("in {package}, policy"), names, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(v: &[(&str, &str)]) -> BTreeSet<Named> {
        v.iter().map(|(w, n)| Named { who: w.to_string(), name: n.to_string() }).collect()
    }

    #[test]
    fn cyrillic_look_alikes_are_flagged_with_their_code_points() {
        let mut out = Vec::new();
        pairs("group", &named(&[("group.a", "Fabrikam auditors"), ("live group 1", "Fabrik\u{0430}m auditors"), ("group.c", "Other")]), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].contains("group.a `Fabrikam auditors`") && out[0].contains("the second has U+0430 for U+0061"), "{}", out[0]);
    }

    #[test]
    fn the_same_object_ascii_pairs_and_case_are_not_flagged() {
        let mut out = Vec::new();
        pairs("group", &named(&[("group.a", "Admins"), ("group.a", "Adm\u{0456}ns")]), &mut out);
        pairs("group", &named(&[("group.a", "Admins"), ("group.b", "Adrnins")]), &mut out);
        pairs("group", &named(&[("group.a", "Straße"), ("group.b", "STRAßE")]), &mut out);
        assert!(out.is_empty(), "{out:?}");
        // An invisible character is a look-alike too.
        pairs("group", &named(&[("group.a", "Admins"), ("group.b", "Admins\u{200B}")]), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].contains("U+200B where the first has nothing"), "{out:?}");
    }
}
