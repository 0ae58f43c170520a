//! The tenant's Microsoft Entra licence tier, and what Graph answers without
//! the licence a feature needs. Privileged Identity Management (the role
//! eligibility and assignment schedules, their instances and requests, and
//! the role settings, `roleManagementPolicies`) needs Microsoft Entra ID P2 or Microsoft Entra ID Governance; on a P1
//! tenant Graph answers every PIM request with
//! `400 AadPremiumLicenseRequired` (seen on v1.0
//! `roleEligibilityScheduleInstances`, maester365/maester#1421; the role
//! settings answering the same is the sandbox's assumption, as for every
//! PIM request: no page documents it).
//! Entitlement management (catalogs, access packages, their policies,
//! assignments and requests) needs the same licence; without it Graph
//! answers `403 NoLicense` "User is not authorized to perform the
//! operation. Reason: Tenant does not meet license requirement!" (seen on
//! `entitlementManagement/settings`, AzureAD/AzureAD-Governance-Assessment#2).

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::Spec;

/// Licence tier of the sandbox tenant (default P2: every feature).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Licences {
    /// Microsoft Entra ID P1: conditional access and dynamic groups, no PIM.
    P1,
    /// Microsoft Entra ID P2: everything P1 has, plus PIM.
    #[default]
    P2,
}

impl Licences {
    pub fn as_str(self) -> &'static str {
        match self {
            Licences::P1 => "p1",
            Licences::P2 => "p2",
        }
    }
}

/// Store collections that are Privileged Identity Management.
const PIM: &[&str] = &[
    "roleEligibilityScheduleRequests",
    "roleAssignmentScheduleRequests",
    "roleEligibilitySchedules",
    "roleAssignmentSchedules",
];

/// Store collections that are entitlement management.
const ENTITLEMENT_MANAGEMENT: &[&str] = &[
    crate::entitlement::CATALOGS,
    crate::entitlement::RESOURCE_REQUESTS,
    crate::entitlement::PACKAGES,
    crate::entitlement::POLICIES,
    crate::entitlement::ASSIGNMENT_REQUESTS,
    crate::entitlement::ASSIGNMENTS,
];

/// The code Graph answers entitlement management with on a tenant without
/// Microsoft Entra ID P2 or Governance.
pub const NO_LICENSE: &str = "NoLicense";

/// What Graph answers a PIM request on a tenant without P2.
pub fn pim_refusal() -> GraphError {
    GraphError::new(400, "AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.")
}

/// Refuses PIM role settings (`roleManagementPolicies` and their
/// assignments, PIM's own API) on a P1 tenant, as every PIM request is.
pub fn check_pim_settings(ctx: &Ctx) -> Result<(), GraphError> {
    if ctx.licences == Licences::P1 {
        return Err(pim_refusal());
    }
    Ok(())
}

/// Refuses a request to `spec` the tenant's licences do not cover, as Graph does.
pub fn check(ctx: &Ctx, spec: &Spec) -> Result<(), GraphError> {
    if ctx.licences == Licences::P1 && PIM.contains(&spec.coll) {
        return Err(pim_refusal());
    }
    if ctx.licences == Licences::P1 && ENTITLEMENT_MANAGEMENT.contains(&spec.coll) {
        return Err(GraphError::new(403, NO_LICENSE, "User is not authorized to perform the operation. Reason: Tenant does not meet license requirement!"));
    }
    Ok(())
}
