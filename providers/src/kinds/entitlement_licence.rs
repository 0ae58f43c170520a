//! Entitlement management needs Microsoft Entra ID P2 or Microsoft Entra
//! ID Governance. Without it Graph answers every catalog, package, policy
//! and assignment request `403 NoLicense` ("Tenant does not meet license
//! requirement!"). Reading that answer is not an outage: the kinds read
//! empty, declared catalogs, packages and assignments are refused naming
//! the licence, ledger-owned ones are unknown (never deleted nor
//! recreated), and the plan says once why.

use engine::held::Held;
use engine::{DesiredModel, Ledger, ObservedState};
use schema::Kind;

use crate::graph::GraphError;
use crate::observe::Readout;

/// The code Graph answers entitlement management with on an unlicensed tenant.
pub const NO_LICENSE: &str = "NoLicense";

/// Said once in the plan.
pub const UNAVAILABLE: &str = "Entitlement management is unavailable: the tenant has no Microsoft Entra ID P2 or Microsoft Entra ID Governance licence (Graph answers 403 NoLicense), so access catalogs, access packages and their assignments are neither read nor managed";

/// The code of a change refused for a licence the tenant lacks.
pub const NEEDS_LICENCE: &str = "needs-licence";

/// Why a declared catalog, package or assignment is refused.
pub const DECLARED: &str = "needs Microsoft Entra ID P2 or Microsoft Entra ID Governance (entitlement management); the tenant has neither (Graph answers 403 NoLicense), so its changes are not applied. License the tenant, or remove the declaration";

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
    // Held, not fatal (hostile run 15, finding 6): the rest of the plan is
    // planned and applied, so a tenant that lost the licence still has
    // out-of-band privileged access removed.
    for r in desired.resources.values().filter(|r| KINDS.contains(&r.address.kind)) {
        observed.held.insert(r.address.clone(), Held::new(NEEDS_LICENCE, DECLARED));
    }
    for address in ledger.resources.keys().filter(|a| KINDS.contains(&a.kind) && !desired.resources.contains_key(*a)) {
        observed.held.insert(address.clone(), Held::new(NEEDS_LICENCE, format!("no longer declared, but {UNAVAILABLE}: its object is neither read nor deleted")));
    }
}
