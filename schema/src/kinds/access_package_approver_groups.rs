//! Approver and reviewer groups of access packages are privileged groups
//! (hostile run 18, finding 9). Whoever is in a group that approves or
//! reviews a package's requests decides who gets that package; a
//! self-service package (no approval) granting such a group lets anyone it
//! admits make themself that approver, and then approve guests, their own
//! invitations included:
//! * granting a group that approves or reviews requests of any package is
//!   granting privileged access, like granting a PIM approver group
//!   (`access_package_reach::grants_of`): the granting package needs
//!   approval (`access-without-approval`) — [`approves_packages`];
//! * an approver or reviewer group another package grants without
//!   approval is `self-approval` on the package it approves, as the
//!   package's own group is — [`self_service_grant`].

use std::collections::BTreeSet;

use crate::address::{Address, Kind};
use crate::kinds::access_package::AssignmentPolicy;
use crate::validate::Ctx;

/// The approvers and reviewers a policy names (primary, fallback,
/// escalation; review primary and fallback).
fn named(pol: &AssignmentPolicy) -> Vec<&String> {
    let mut out = Vec::new();
    if let Some(a) = &pol.request_approval_settings {
        for s in &a.stages {
            out.extend(s.primary_approvers.iter().chain(&s.fallback_primary_approvers).chain(&s.escalation_approvers).chain(&s.fallback_escalation_approvers));
        }
    }
    if let Some(r) = &pol.review_settings {
        out.extend(r.primary_reviewers.iter().chain(&r.fallback_reviewers));
    }
    out
}

/// Why group `g` decides requests of a package, if it does: it is named
/// among a policy's approvers or reviewers (a group nesting `g` is judged
/// through `access_package_reach::containing_groups` by the caller).
pub(crate) fn approves_packages(cx: &Ctx, g: &Address) -> Option<String> {
    for (k, d) in &cx.state.access_package {
        for (pk, pol) in &d.value.policies {
            if named(pol).into_iter().any(|w| cx.state.resolve(w, &[Kind::User, Kind::Guest, Kind::Group]).ok().as_ref() == Some(g)) {
                return Some(format!("{g} approves or reviews requests of access_package.{k} (policy `{pk}`)"));
            }
        }
    }
    None
}

/// Whether a policy grants with no second person approving: automatic, or
/// requested (self-add) with no approval stage.
fn self_service(pol: &AssignmentPolicy) -> bool {
    let approved = pol.request_approval_settings.as_ref().is_some_and(|a| a.is_approval_required_for_add && !a.stages.is_empty());
    pol.automatic_request_settings.is_some() || (!approved && pol.requestor_settings.as_ref().is_some_and(|r| r.enable_targets_to_self_add_access))
}

/// Why approver `approver` (with its declared reach `approvers`) of
/// package `key` may be joined by anyone: another package grants it (or a
/// group it nests) with no approval. `None` otherwise.
pub(crate) fn self_service_grant(cx: &Ctx, key: &str, approver: &Address, approvers: &BTreeSet<Address>, field: &str) -> Option<String> {
    for (k, d) in &cx.state.access_package {
        if k.as_str() == key {
            // The package's own groups: `granted_approver`.
            continue;
        }
        let Some((pk, pol)) = d.value.policies.iter().find(|(_, p)| self_service(p)) else { continue };
        for g in d.value.groups.iter().filter_map(|g| cx.state.resolve(g, &[Kind::Group]).ok()) {
            if approvers.contains(&g) {
                let via = if g == *approver { String::new() } else { format!(" (through {g})") };
                return Some(format!(
                    "approver {approver}{via} (its {field}) is granted by access_package.{k}, whose policy `{pk}` needs no approval ({}): anyone it admits makes themself an approver here and approves their own access or their guests'",
                    pol.allowed_target_scope
                ));
            }
        }
    }
    None
}
