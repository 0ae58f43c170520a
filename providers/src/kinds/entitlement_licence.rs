//! Entitlement management needs Microsoft Entra ID P2 or Microsoft Entra
//! ID Governance. Without it Graph answers every catalog, package, policy
//! and assignment request `403 NoLicense` ("Tenant does not meet license
//! requirement!"). Reading that answer is not an outage: the kinds read
//! empty, declared catalogs, packages and assignments are refused naming
//! the licence, ledger-owned ones are unknown (never deleted nor
//! recreated), and the plan says once why.

use engine::{DesiredModel, Ledger, ObservedState};
use schema::Kind;

use crate::graph::GraphError;
use crate::observe::Readout;

/// The code Graph answers entitlement management with on an unlicensed tenant.
pub const NO_LICENSE: &str = "NoLicense";

/// Said once in the plan.
pub const UNAVAILABLE: &str = "Entitlement management is unavailable: the tenant has no Microsoft Entra ID P2 or Microsoft Entra ID Governance licence (Graph answers 403 NoLicense), so access catalogs, access packages and their assignments are neither read nor managed";

/// The kinds entitlement management holds.
pub const KINDS: [Kind; 3] = [Kind::AccessCatalog, Kind::AccessPackage, Kind::AccessPackageAssignment];

/// Whether `e` is Graph refusing entitlement management for the licence.
pub fn is_unlicensed(e: &GraphError) -> bool {
    e.code() == Some(NO_LICENSE)
}

/// What a read of an unlicensed tenant yields: nothing, and the refusals.
pub fn unavailable() -> Readout {
    Readout { objects: Vec::new(), after: Some(refuse), refused: Default::default() }
}

/// `read`'s result, with an unlicensed tenant's answer turned into [`unavailable`].
pub fn or_unavailable(r: Result<Readout, GraphError>) -> Result<Readout, GraphError> {
    match r {
        Err(e) if is_unlicensed(&e) => Ok(unavailable()),
        other => other,
    }
}

fn refuse(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    if !observed.warnings.iter().any(|w| w == UNAVAILABLE) {
        observed.warnings.push(UNAVAILABLE.into());
    }
    for r in desired.resources.values().filter(|r| KINDS.contains(&r.address.kind)) {
        observed.refused.insert(
            r.address.clone(),
            format!("{} needs entitlement management, which needs a Microsoft Entra ID P2 or Microsoft Entra ID Governance licence; the tenant has neither (Graph answers 403 {NO_LICENSE})", r.address),
        );
    }
    for address in ledger.resources.keys().filter(|a| KINDS.contains(&a.kind) && !desired.resources.contains_key(*a)) {
        observed.refused.insert(address.clone(), UNAVAILABLE.into());
    }
}
