//! The governance findings a drift report carries: every finding of the
//! plan that judges the live tenant (an out-of-band privileged holder or
//! Intune admin, a service account or person in a group whose membership
//! desired state does not manage, a ring group holding users, a second
//! Autopilot profile on all devices, standing access granted live, ...),
//! errors and warnings alike. Drift used to carry only the findings about
//! policies on unmanaged groups, so what `plan` refuses the scheduled
//! drift report did not say.
//!
//! A finding judges live state when desired state alone does not give it:
//! the plan's findings less those `validate` finds
//! ([`super::lint_desired`]), which are about the repository, not the
//! tenant. Each is reported once, as the plan prints it.

use chrono::{DateTime, Utc};

use super::lints::{Finding, Severity};
use crate::model::DesiredModel;

/// The errors among the findings of `lints` that judge live state (an
/// out-of-band grant, a person in a group nobody manages, ...): the tenant
/// breaks a rule desired state keeps, which is drift, never "in sync"
/// (hostile run 26, finding 6). Each as (address, "error[lint]: message").
pub fn live_errors(desired: &DesiredModel, lints: &[Finding], now: DateTime<Utc>) -> Vec<(String, String)> {
    let desired_only = super::lint_desired(desired, now);
    let repository: std::collections::BTreeSet<&Finding> = desired_only.iter().collect();
    let mut out: Vec<(String, String)> = lints.iter().filter(|f| f.severity == Severity::Error && !repository.contains(f)).map(|f| (f.address.clone(), format!("error[{}]: {}", f.lint, f.message))).collect();
    out.sort();
    out.dedup();
    out
}

/// The findings of `lints` (a plan's) that judge live state, as text.
pub fn live_findings(desired: &DesiredModel, lints: &[Finding], now: DateTime<Utc>) -> Vec<String> {
    let desired_only = super::lint_desired(desired, now);
    let repository: std::collections::BTreeSet<&Finding> = desired_only.iter().collect();
    let mut out: Vec<String> = lints.iter().filter(|f| !repository.contains(f)).map(Finding::to_string).collect();
    out.dedup();
    out
}
