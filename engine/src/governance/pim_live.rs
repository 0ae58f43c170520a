//! The live PIM settings of every privileged role someone is eligible for,
//! not only of the roles whose settings desired state declares
//! (`role_policy`, judged by `tightens::live_pim`): a declared eligible
//! assignment of a privileged role whose settings are not declared
//! activates by whatever the tenant says, so when the tenant's settings
//! let it be activated without MFA or without approval, that is the
//! issue's `privileged-activation-without-mfa` / `-without-approval`, an
//! error naming the live weakness (unless allowed or excepted on the
//! assignment's address).
//!
//! Every role's policy is read in the same two listings as a declared
//! `role_policy`'s (`providers::kinds::role_policy`, coalesced into the
//! read's `$batch`); when the kind was not read, or could not be, nothing
//! is said (unknown is never called weak nor safe).

use std::collections::BTreeMap;

use schema::kinds::role_assignment::{is_privileged, CUSTOM_ROLE};
use schema::{Address, Kind};
use serde_json::Value;

use super::identity_lints::{role_shown, ACTIVATION_WITHOUT_APPROVAL, ACTIVATION_WITHOUT_MFA};
use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, LiveObject, ObservedState};

/// Findings for the live activation settings of each privileged role a
/// declared eligible assignment holds, whose `role_policy` is not declared.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::RolePolicy) {
        return out;
    }
    let live: Vec<&LiveObject> = observed.objects.get(&Kind::RolePolicy).into_iter().flatten().collect();
    if live.is_empty() {
        return out;
    }
    let policies: Vec<&crate::Props> = desired.resources.range(Address::new(Kind::RolePolicy, "")..).take_while(|(a, _)| a.kind == Kind::RolePolicy).map(|(_, r)| &r.props).collect();
    for (address, r) in desired.resources.range(Address::new(Kind::RoleAssignment, "")..).take_while(|(a, _)| a.kind == Kind::RoleAssignment) {
        let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if r.props.get("assignment").and_then(Value::as_str) != Some("eligible") || !is_privileged(role) {
            continue;
        }
        // Declared settings are judged by `tightens::live_pim`.
        if policies.iter().any(|p| p.get("role").and_then(Value::as_str) == Some(role) && p.get("roleDefinition") == r.props.get("roleDefinition")) {
            continue;
        }
        let custom_id = (role == CUSTOM_ROLE).then(|| r.props.get("roleDefinition").and_then(as_reference).and_then(|d| d.parse::<Address>().ok()).and_then(|d| ids.get(&d))).flatten();
        let policy = live.iter().find(|o| match custom_id {
            Some(id) => o.props.get("roleDefinition").and_then(as_reference).is_some_and(|x| x.eq_ignore_ascii_case(id)),
            None => role != CUSTOM_ROLE && o.props.get("role").and_then(Value::as_str) == Some(role),
        });
        // A custom role this plan creates (its definition is not live) has
        // no policy yet: Entra gives it the default settings, whose
        // activation needs no approval (hostile run 17, finding 3).
        let definition = r.props.get("roleDefinition").and_then(as_reference).and_then(|d| d.parse::<Address>().ok());
        if role == CUSTOM_ROLE && definition.is_some_and(|d| desired.resources.contains_key(&d) && !ids.contains_key(&d)) {
            out.push(new_custom_role(address, &r.props));
            continue;
        }
        let Some(o) = policy else { continue };
        let activation = o.props.get("activation");
        let mfa = activation.and_then(|a| a.get("enabledRules")).and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x.as_str() == Some("MultiFactorAuthentication")));
        let approval = activation.and_then(|a| a.get("isApprovalRequired")).and_then(Value::as_bool) == Some(true);
        let shown = role_shown(&r.props);
        for (weak, lint, what) in [(!mfa, ACTIVATION_WITHOUT_MFA, "MFA"), (!approval, ACTIVATION_WITHOUT_APPROVAL, "approval")] {
            if weak {
                out.push(Finding {
                    severity: Severity::Error,
                    lint: lint.into(),
                    address: address.to_string(),
                    message: format!(
                        "{shown} is privileged and {address} is eligible for it; its PIM settings are not declared, and live, activating it needs no {what}: declare its role_policy with require_{} = true (or allow it with a reason)",
                        if what == "MFA" { "mfa" } else { "approval" }
                    ),
                });
            }
        }
    }
    super::lints::finish(&desired.governance, out)
}

/// `privileged-activation-without-approval` for an eligible assignment of
/// a custom role that is not in the tenant yet, with no declared
/// `role_policy`: once created, the role has Entra's default PIM settings
/// (activation for up to 8 hours with MFA and a justification, no
/// approval), so whoever is eligible activates it with nobody approving.
fn new_custom_role(address: &Address, props: &crate::Props) -> Finding {
    let shown = role_shown(props);
    Finding {
        severity: Severity::Error,
        lint: ACTIVATION_WITHOUT_APPROVAL.into(),
        address: address.to_string(),
        message: format!(
            "{shown} is privileged, not in the tenant yet, and {address} is eligible for it; its PIM settings are not declared, so it gets Entra's defaults, whose activation needs no approval: declare its role_policy with require_approval = true (or allow it with a reason)"
        ),
    }
}
