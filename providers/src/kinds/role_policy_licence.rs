//! PIM role settings (`role_policy`) are part of Privileged Identity
//! Management, which needs Microsoft Entra ID P2 or Microsoft Entra ID
//! Governance. When reading them answers `AadPremiumLicenseRequired` (as
//! Graph answers the other PIM requests on a tenant without P2), that is
//! not an outage: the kind reads empty, each declared `role_policy` is
//! refused naming the licence (held, the rest of the plan goes on), one
//! the ledger still holds is neither read nor changed, and the plan says
//! once why (when it manages any).

use engine::held::Held;
use engine::{DesiredModel, Ledger, ObservedState};
use schema::Kind;

use super::entitlement_licence::NEEDS_LICENCE;
use super::role_assignment::LICENCE_REQUIRED;
use crate::graph::GraphError;
use crate::observe::Readout;

/// Said once in the plan.
pub const UNAVAILABLE: &str = "PIM role settings are unavailable: the tenant has no Microsoft Entra ID P2 or Microsoft Entra ID Governance licence (Graph answers AadPremiumLicenseRequired), so role_policy is neither read nor managed";

/// Why a declared `role_policy` is refused.
pub const DECLARED: &str = "PIM role settings need Microsoft Entra ID P2 or Microsoft Entra ID Governance; the tenant has neither (Graph answers AadPremiumLicenseRequired), so they are not applied. License the tenant, or remove the declaration";

/// `read`'s result, with the licence refusal turned into an empty read
/// that holds the declared settings.
pub fn or_unavailable(r: Result<Readout, GraphError>) -> Result<Readout, GraphError> {
    match r {
        Err(e) if e.code() == Some(LICENCE_REQUIRED) => Ok(Readout { objects: Vec::new(), after: Some(refuse), refused: Default::default() }),
        other => other,
    }
}

/// Said only when desired state or the ledger holds a `role_policy`: the
/// unavailability of settings nobody manages is not news (role
/// assignments already say PIM is unavailable).
fn refuse(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    let managed = desired.resources.keys().chain(ledger.resources.keys()).any(|a| a.kind == Kind::RolePolicy);
    if managed && !observed.warnings.iter().any(|w| w == UNAVAILABLE) {
        observed.warnings.push(UNAVAILABLE.into());
    }
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::RolePolicy) {
        observed.held.insert(r.address.clone(), Held::new(NEEDS_LICENCE, DECLARED));
    }
    for address in ledger.resources.keys().filter(|a| a.kind == Kind::RolePolicy && !desired.resources.contains_key(*a)) {
        observed.held.insert(address.clone(), Held::new(NEEDS_LICENCE, format!("no longer declared, but {UNAVAILABLE}")));
    }
}
