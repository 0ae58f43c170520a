//! Requests already waiting on a whole access package the plan deletes
//! (issue 16, access16).
//!
//! `access_policy_pending` names the requests waiting through a policy a
//! plan narrows or deletes inside a declared package. A package desired
//! state no longer declares, which the ledger owns and pruning deletes,
//! takes every policy with it: the requests waiting for an approver on it
//! are named the same way (the package's listing as "List
//! assignmentRequests" documents it, each request with the policy it came
//! through where Graph gives it), in a plan warning. What Entra does with a
//! request left waiting on a package deleted under it is not documented,
//! so approvers are asked to decide them first.
//!
//! Which packages: those the undeclared pass deletes
//! (`engine::plan::undeclared`): a ledger entry no declared package has,
//! its object live (by the ledger's id), pruning on for `access_package`,
//! not kept as adopted (`governance.prune.adopted`), not protected, and no
//! declared package matched to the same object (a key renamed). Costs
//! nothing otherwise: one listing of requests per such package.

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;

use super::access_policy_pending::{waiting, Waiting};
use crate::graph::{GraphClient, GraphError};

/// The live packages the plan deletes as no longer declared, with their
/// addresses.
fn deleted<'a>(desired: &DesiredModel, ledger: &Ledger, live: &'a [LiveObject]) -> Vec<(String, &'a LiveObject)> {
    let gov = &desired.governance;
    if !gov.prune.kinds.iter().any(|k| k == Kind::AccessPackage.as_str()) {
        return Vec::new();
    }
    let declared: Vec<&engine::DesiredResource> = desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage).collect();
    let claimed = |o: &LiveObject| declared.iter().any(|r| ledger.id(&r.address).map_or(r.natural_key == o.natural_key, |id| id == o.id));
    ledger
        .resources
        .iter()
        .filter(|(a, _)| a.kind == Kind::AccessPackage && !desired.resources.contains_key(*a))
        .filter(|(a, e)| !engine::governance::origin::kept_adopted(a.kind, e, gov.prune.adopted) && !gov.protected.contains(&a.to_string()))
        .filter_map(|(a, e)| live.iter().find(|o| o.id == e.id).map(|o| (a.to_string(), o)))
        .filter(|(_, o)| !claimed(o))
        .collect()
}

/// A waiting request as named in the warning.
fn shown(w: Waiting) -> String {
    match w.policy_name {
        Some(p) => format!("{} through policy `{p}`", w.shown),
        None => w.shown,
    }
}

/// Warn, for each package the plan deletes, of the requests still
/// waiting for approval on it. Only an authentication failure is an error.
pub async fn warn(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, observed: &mut ObservedState, live: &[LiveObject]) -> Result<(), GraphError> {
    for (address, o) in deleted(desired, ledger, live) {
        match waiting(client, &o.id).await {
            Ok(who) if who.is_empty() => {}
            Ok(who) => {
                let n = who.len();
                let (noun, verb) = if n == 1 { ("request", "is") } else { ("requests", "are") };
                let who: Vec<String> = who.into_iter().map(shown).collect();
                observed.warnings.push(format!(
                    "{address}: this plan deletes the access package (no longer declared; pruning is on for access_package), but {n} {noun} {verb} already waiting for approval on it: {}. What Entra does with a request left waiting on a deleted package is not documented: approvers should decide them before the apply",
                    who.join(", ")
                ));
            }
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => observed.warnings.push(format!(
                "{address}: this plan deletes the access package; the requests waiting for approval on it could not be read ({e}), so any already waiting are not shown: approvers should check them"
            )),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{DesiredResource, Props};
    use schema::Address;

    fn live(id: &str, name: &str) -> LiveObject {
        LiveObject { kind: Kind::AccessPackage, id: id.into(), natural_key: name.to_lowercase(), display_name: name.into(), props: Props::new() }
    }

    #[test]
    fn only_a_package_pruning_deletes_is_looked_at() {
        let objects = vec![live("k1", "Audit"), live("k2", "Renamed")];
        let mut ledger = Ledger::default();
        ledger.record(Address::new(Kind::AccessPackage, "audit"), "k1".into(), None, None);
        ledger.record(Address::new(Kind::AccessPackage, "old-key"), "k2".into(), None, None);
        let mut desired = DesiredModel::default();
        assert!(deleted(&desired, &ledger, &objects).is_empty(), "pruning is off");
        desired.governance.prune.kinds = vec!["access_package".into()];
        let addresses = |d: &DesiredModel| deleted(d, &ledger, &objects).into_iter().map(|(a, _)| a).collect::<Vec<_>>();
        assert_eq!(addresses(&desired), vec!["access_package.audit".to_string(), "access_package.old-key".to_string()]);
        // A declared package matched to the same object (its key renamed) is not deleted.
        let r = DesiredResource { address: Address::new(Kind::AccessPackage, "new-key"), natural_key: "renamed".into(), display_name: "Renamed".into(), props: Props::new(), immutable: Vec::new(), assignment_props: Vec::new(), create_only: Props::new(), depends_on: Vec::new(), expires: None };
        desired.insert(r);
        assert_eq!(addresses(&desired), vec!["access_package.audit".to_string()]);
        desired.governance.protected = vec!["access_package.audit".into()];
        assert!(addresses(&desired).is_empty(), "protected");
    }
}
