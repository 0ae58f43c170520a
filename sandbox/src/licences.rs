//! The tenant's Microsoft Entra licence tier, and what Graph answers without
//! the licence a feature needs. Privileged Identity Management (the role
//! eligibility and assignment schedules, their instances and requests)
//! needs Microsoft Entra ID P2 or Microsoft Entra ID Governance; on a P1
//! tenant Graph answers every PIM request with
//! `400 AadPremiumLicenseRequired` (seen on v1.0
//! `roleEligibilityScheduleInstances`, maester365/maester#1421).
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

/// Refuses a request to `spec` the tenant's licences do not cover, as Graph does.
pub fn check(ctx: &Ctx, spec: &Spec) -> Result<(), GraphError> {
    if ctx.licences == Licences::P1 && PIM.contains(&spec.coll) {
        return Err(GraphError::new(400, "AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."));
    }
    if ctx.licences == Licences::P1 && ENTITLEMENT_MANAGEMENT.contains(&spec.coll) {
        return Err(GraphError::new(403, NO_LICENSE, "User is not authorized to perform the operation. Reason: Tenant does not meet license requirement!"));
    }
    Ok(())
}
