//! Governance from the service model, as pure functions over the plan and
//! the desired model: which changes are sensitive (and why), whether a saved
//! plan carries the approvals it needs, the guardrail lints, and ring-by-ring
//! rollout decisions. Nothing here reads a clock or a file: time comes in
//! through [`crate::PlanOptions`], keys and signatures as strings.
//!
//! One module per concern; this one re-exports their public items so callers
//! keep using `engine::governance::...`.

mod restricted_unit;
mod access;
pub mod accounts;
mod certificates;
mod intune_roles;
mod identity_lints;
pub mod grants;
pub mod holders;
pub mod index;
mod lints;
pub mod member_of;
pub mod protected_ids;
pub mod live;
pub mod recorded;
mod rollout;
pub mod rule;
mod sensitivity;
mod signatures;
pub mod targets;
pub mod undeclared;
pub mod disable_bound;
pub mod trust;
pub mod admin_reach;
pub mod script_review;
pub mod script_encoding;
pub mod package_assignment;
pub mod live_reach;
pub mod intune_oob;
pub mod tightens;
pub mod pim_live;
pub mod pim_exposure;
pub mod method_reach;
pub mod device_reach;
pub mod exception_binding;
pub mod declared_access;
pub mod written_by;
pub mod control_narrowing;
pub mod package_approvers;
pub mod package_automatic;
pub mod package_oob;
pub mod package_incompatible;
pub mod live_members;
pub mod approver_live;
pub mod pim_approver_live;
pub mod strength_names;
pub mod restore_narrows;
pub mod people_reach;
pub mod package_live;
pub mod package_units;
pub mod after_package;
pub mod exemption_restore;
pub mod breakglass_ca;
pub mod secret_sends;
pub mod adopted_owners;
pub mod ratify;
pub mod unproven_record;
pub mod after_package_delete;
pub mod sign_in;
pub mod oma_review;
pub mod local_accounts;
pub mod approvers;
pub mod licensed_reach;
pub mod role_names;
pub mod licence_loss;
pub mod ledger_field;
pub mod drift_lints;
pub mod custom_extensions;
pub mod unmanaged_reach;
pub mod sponsor;
pub mod lost_ownership;
pub mod sealed_accounts;
pub mod sealed_accounts_found;
pub mod origin;
pub mod unit_live;
pub mod lost_service;
mod reach_once;

pub use access::*;
pub use certificates::not_after;
pub use lints::*;
pub use rollout::*;
pub use sensitivity::*;
pub use signatures::*;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trust_tests;
#[cfg(test)]
mod live_tests;
