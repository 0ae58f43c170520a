//! A group an access package grants that is administered through an
//! administrative unit a role assignment names by id (issue 16, access16).
//!
//! Validation judges `scope = { administrative_unit = "KEY" }`
//! (`schema::kinds::access_package_units`): a group that is a member of a
//! unit some role assignment is scoped to is administered through that
//! unit, so a package that lets anyone join it without approval goes
//! around that delegation (`access-without-approval`). A role assignment
//! may instead give the unit raw, `directory_scope_id =
//! "/administrativeUnits/{id}"`, which validation cannot map to a declared
//! unit (it has no ids). Here, with the live ids (the ledger's, else the
//! object matched by natural key), such an id is resolved to the declared
//! unit it is, and the unit's declared members (the group, or a declared
//! group it is nested in) are judged the same way.
//!
//! A unit not declared, or one whose membership is dynamic or live only,
//! is not judged here.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::model::{as_reference, DesiredModel};

/// The addresses `v` (a list of references) names.
fn refs(v: Option<&Value>) -> BTreeSet<Address> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).filter_map(|r| r.parse::<Address>().ok()).collect()
}

/// Why group `g` reaches, through its declared membership (direct or
/// through declared groups it is nested in), a declared administrative
/// unit that a declared role assignment names by id.
pub fn unit_reach(desired: &DesiredModel, ids: &BTreeMap<Address, String>, g: &Address) -> Vec<String> {
    // Role assignments scoped to a unit given by id: unit id -> "role_assignment.KEY (role)".
    let mut scoped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, r) in desired.resources.range(Address::new(Kind::RoleAssignment, "")..).take_while(|(a, _)| a.kind == Kind::RoleAssignment) {
        let Some(id) = r.props.get("directoryScopeId").and_then(as_reference).and_then(|s| s.strip_prefix("id:")) else { continue };
        let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
        scoped.entry(id.to_lowercase()).or_default().push(format!("{a} ({role}, scope given by id)"));
    }
    if scoped.is_empty() {
        return Vec::new();
    }
    // `g` and the declared groups it is nested in.
    let mut reach = BTreeSet::from([g.clone()]);
    let mut todo = vec![g.clone()];
    while let Some(x) = todo.pop() {
        for (a, r) in desired.resources.range(Address::new(Kind::Group, "")..).take_while(|(a, _)| a.kind == Kind::Group) {
            if refs(r.props.get("members")).contains(&x) && reach.insert(a.clone()) {
                todo.push(a.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (unit, r) in desired.resources.range(Address::new(Kind::AdministrativeUnit, "")..).take_while(|(a, _)| a.kind == Kind::AdministrativeUnit) {
        let Some(roles) = ids.get(unit).and_then(|id| scoped.get(&id.to_lowercase())) else { continue };
        let members = refs(r.props.get("members"));
        if let Some(m) = reach.iter().find(|m| members.contains(*m)) {
            let via = if m == g { String::new() } else { format!(" (through {m}, which it is nested in)") };
            out.push(format!("{g}, a member of {unit}{via}, the scope of {}: its membership is administered through that unit", roles.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reference;
    use crate::{DesiredResource, Props};
    use serde_json::json;

    fn declared(a: Address, props: Value) -> DesiredResource {
        let p: Props = props.as_object().cloned().unwrap_or_default().into_iter().collect();
        DesiredResource { natural_key: a.key.clone(), display_name: a.key.clone(), address: a, props: p, immutable: Vec::new(), assignment_props: Vec::new(), create_only: Props::new(), depends_on: Vec::new(), expires: None }
    }

    #[test]
    fn a_unit_given_by_id_is_resolved_to_the_declared_unit() {
        let (sales, desk, all) = (Address::new(Kind::Group, "sales"), Address::new(Kind::Group, "desk"), Address::new(Kind::Group, "all"));
        let unit = Address::new(Kind::AdministrativeUnit, "sales");
        let mut desired = DesiredModel::default();
        desired.insert(declared(all.clone(), json!({"members": [reference(desk.to_string())]})));
        desired.insert(declared(desk.clone(), json!({})));
        desired.insert(declared(sales.clone(), json!({})));
        desired.insert(declared(unit.clone(), json!({"members": [reference(all.to_string())]})));
        let ids = BTreeMap::from([(unit.clone(), "AU-1".to_string())]);
        assert!(unit_reach(&desired, &ids, &desk).is_empty(), "no role is scoped to it");
        desired.insert(declared(Address::new(Kind::RoleAssignment, "ga"), json!({"role": "Groups Administrator", "directoryScopeId": reference("id:au-1")})));
        let why = unit_reach(&desired, &ids, &desk);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("group.desk, a member of administrative_unit.sales (through group.all, which it is nested in), the scope of role_assignment.ga (Groups Administrator, scope given by id)"), "{why:?}");
        assert!(unit_reach(&desired, &ids, &sales).is_empty(), "not a member");
        assert!(unit_reach(&desired, &BTreeMap::new(), &desk).is_empty(), "the unit's id not known");
    }
}
