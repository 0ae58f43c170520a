//! What delivering an access package assignment does to its resources, as
//! Entra does it: when an `adminAdd` is delivered the target is added to
//! each group the package holds a role of (the `Member_<group>` role makes
//! them a member, `Owner_<group>` an owner), and when the assignment ends
//! (`adminRemove`) they are taken out again, unless another assignment the
//! target still holds grants the same role of the same group. A role
//! added to or removed from the package later changes only assignments
//! delivered after it (Entra re-evaluates existing assignments in the
//! background; not modelled). Assignments are not ended by time here: an assignment past
//! its end stays delivered until it is removed (Entra's expiry job is not
//! modelled either).

use serde_json::Value;

use crate::entitlement::{ASSIGNMENTS, PACKAGES};
use crate::store::{Record, Tenant};

const PACKAGE_ID: &str = "accessPackageId";
const TARGET_ID: &str = "targetId";
const ROLE_SCOPES: &str = "resourceRoleScopes";
const MEMBERS: &str = "members";
const OWNERS: &str = "owners";

/// The (group, `members`/`owners`) pairs package `package`'s role scopes grant.
fn group_roles(t: &Tenant, package: &str) -> Vec<(String, &'static str)> {
    let scopes = t.get(PACKAGES, package).and_then(|p| p.nav.get(ROLE_SCOPES)).and_then(Value::as_array).cloned().unwrap_or_default();
    scopes
        .iter()
        .filter(|rs| rs.pointer("/role/originSystem").and_then(Value::as_str) == Some("AadGroup"))
        .filter_map(|rs| {
            let origin = rs.pointer("/role/originId").and_then(Value::as_str)?;
            match origin.split_once('_')? {
                ("Member", g) => Some((g.to_string(), MEMBERS)),
                ("Owner", g) => Some((g.to_string(), OWNERS)),
                _ => None,
            }
        })
        .collect()
}

fn nav_str<'a>(r: &'a Record, k: &str) -> &'a str {
    r.nav.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// Adds the target of the (just delivered) assignment `assignment` to the
/// groups its package grants.
pub fn deliver(t: &mut Tenant, assignment: &str) {
    let Some(a) = t.get(ASSIGNMENTS, assignment).cloned() else { return };
    let target = nav_str(&a, TARGET_ID).to_string();
    for (group, rel) in group_roles(t, nav_str(&a, PACKAGE_ID)) {
        if t.get("groups", &group).is_some() {
            t.add_link(&group, rel, &target);
        }
    }
}

/// Takes the target of the (just ended) assignment `assignment` out of
/// the groups its package granted, except where another assignment the
/// target still holds grants the same group role.
pub fn withdraw(t: &mut Tenant, assignment: &str) {
    let Some(a) = t.get(ASSIGNMENTS, assignment).cloned() else { return };
    let target = nav_str(&a, TARGET_ID).to_string();
    let others: Vec<String> = t
        .coll(ASSIGNMENTS)
        .map(|c| {
            c.iter()
                .filter(|(id, r)| id.as_str() != assignment && nav_str(r, TARGET_ID) == target && r.data.get("state").and_then(Value::as_str) == Some("delivered"))
                .map(|(_, r)| nav_str(r, PACKAGE_ID).to_string())
                .collect()
        })
        .unwrap_or_default();
    let kept: Vec<(String, &'static str)> = others.iter().flat_map(|p| group_roles(t, p)).collect();
    for (group, rel) in group_roles(t, nav_str(&a, PACKAGE_ID)) {
        if !kept.contains(&(group.clone(), rel)) {
            t.remove_link(&group, rel, &target);
        }
    }
}
