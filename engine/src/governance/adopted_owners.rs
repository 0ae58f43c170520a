//! A group adopted as the tenant has it shows its live owners when desired
//! state does not declare them (hostile run 27, finding 3: a group the
//! portal created first, owner megan, was adopted by natural key, its
//! declared fields "reviewed whole", and nothing said megan owns it; an
//! owner can change the group's membership, so once a later pull request
//! names the group in a conditional access exclusion or a role, its owner
//! was in no plan).
//!
//! The group reader reads the owners of a group under adoption review (the
//! ledger records no approved state of it) that declares none
//! (`providers::kinds::group`, in the same `$batch` calls as declared
//! owners). The adoption's whole review then names them in a note and in
//! its reason, and an adopted group with live owners is reviewed whole even
//! when nothing else it declares would be: the approvers see who owns it
//! before the approved apply records it as approved.

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredResource, LiveObject};

/// The live owners of adopted group `r` (live `o`) that desired state does
/// not declare, as addresses where the plan matched them (`id:ID`
/// otherwise), sorted; empty when it declares `owners`, is no group, or
/// the owners were not read.
pub fn undeclared(r: &DesiredResource, o: &LiveObject, matched: &BTreeMap<Address, &LiveObject>) -> Vec<String> {
    if r.address.kind != Kind::Group || r.props.contains_key("owners") {
        return Vec::new();
    }
    let Some(Value::Array(owners)) = o.props.get("owners") else { return Vec::new() };
    let mut out: Vec<String> = owners
        .iter()
        .filter_map(as_reference)
        .map(|id| matched.iter().find(|(_, l)| l.id == id).map(|(a, _)| a.to_string()).unwrap_or_else(|| format!("id:{id}")))
        .collect();
    out.sort();
    out
}

/// The note on an adopted group with `owners` ([`undeclared`]).
pub fn note(owners: &[String]) -> String {
    format!(
        "live owner(s) desired state does not declare: {} (an owner can change the group's membership; declare `owners` to manage them, and their additions become drift)",
        owners.join(", ")
    )
}

/// What the whole review's reason says of them.
pub fn clause(a: &Address, owners: &[String]) -> String {
    format!("{a} has live owner(s) desired state does not declare ({}), who can change its membership", owners.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{reference, Props};

    fn group(props: Props) -> DesiredResource {
        DesiredResource {
            address: "group.g".parse().expect("an address"),
            natural_key: "g".into(),
            display_name: "g".into(),
            props,
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: Props::new(),
            depends_on: Vec::new(),
            expires: None,
        }
    }

    fn live(id: &str, owners: Option<Vec<&str>>) -> LiveObject {
        let mut props = Props::new();
        if let Some(o) = owners {
            props.insert("owners".into(), Value::Array(o.into_iter().map(reference).collect()));
        }
        LiveObject { kind: Kind::Group, id: id.into(), natural_key: id.into(), display_name: id.into(), props }
    }

    #[test]
    fn undeclared_live_owners_are_named_by_address_or_id() {
        let megan = live("m-1", None);
        let matched: BTreeMap<Address, &LiveObject> = [("user.megan".parse().expect("an address"), &megan)].into_iter().collect();
        let o = live("g-1", Some(vec!["x-9", "m-1"]));
        assert_eq!(undeclared(&group(Props::new()), &o, &matched), ["id:x-9", "user.megan"]);
        let declared = group(Props::from([("owners".to_string(), Value::Array(vec![]))]));
        assert!(undeclared(&declared, &o, &matched).is_empty(), "declared owners are compared, not noted");
        assert!(undeclared(&group(Props::new()), &live("g-2", None), &matched).is_empty(), "not read");
        assert!(undeclared(&group(Props::new()), &live("g-3", Some(vec![])), &matched).is_empty(), "none");
    }
}
