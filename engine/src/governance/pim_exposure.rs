//! The live PIM settings of the privileged roles desired state does not
//! name (planning, governance lints): besides the roles a declared eligible
//! assignment holds (`pim_live`) and the roles whose settings are declared
//! (`tightens::live_pim`),
//! * a privileged role someone is eligible for *live*, outside desired
//!   state (out-of-band eligibility), is judged the same: activation that
//!   needs no MFA or no approval is an error, addressed `id:` the
//!   eligibility, naming the role;
//! * a privileged role nobody is eligible for, declared or live, gets a
//!   warning when its live activation needs no MFA or no approval, so the
//!   plan shows the tenant's exposure (whoever is made eligible later
//!   activates by those settings) without failing every default tenant.
//!
//! Nothing more is read: every role's policy is read whenever role
//! assignments are (`providers::observe::kinds_in_scope`), in the read's
//! `$batch`; the eligibilities come from the same listings as declared
//! role assignments. A kind not read, or unreadable, says nothing.

use std::collections::{BTreeMap, BTreeSet};

use schema::kinds::role_assignment::{is_privileged, CUSTOM_ROLE};
use schema::{Address, Kind};
use serde_json::Value;

use super::identity_lints::{ACTIVATION_WITHOUT_APPROVAL, ACTIVATION_WITHOUT_MFA};
use super::lints::{Finding, Severity};
use crate::model::{as_reference, DesiredModel, LiveObject, ObservedState};

/// The role a live role assignment or role policy is for: its name, or
/// its definition's id for a custom role.
fn role_key(o: &LiveObject) -> Option<String> {
    match o.props.get("role").and_then(Value::as_str)? {
        CUSTOM_ROLE => o.props.get("roleDefinition").and_then(as_reference).map(str::to_ascii_lowercase),
        role => Some(role.to_string()),
    }
}

/// The role a declared `role_policy` or `role_assignment` is for, as
/// [`role_key`] gives it (a custom role's definition by its live id).
fn declared_key(props: &crate::Props, ids: &BTreeMap<Address, String>) -> Option<String> {
    match props.get("role").and_then(Value::as_str)? {
        CUSTOM_ROLE => props.get("roleDefinition").and_then(as_reference).and_then(|d| d.parse::<Address>().ok()).and_then(|d| ids.get(&d)).map(|i| i.to_ascii_lowercase()),
        role => Some(role.to_string()),
    }
}

/// Findings for the privileged roles no declaration covers (see the
/// module documentation).
/// An eligibility `changes` delete (out-of-band privileged access the
/// plan removes) no longer counts: the lint never blocks its remedy.
pub fn lint(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, changes: &[crate::Change]) -> Vec<Finding> {
    let mut out = Vec::new();
    if observed.unreadable.contains_key(&Kind::RolePolicy) || observed.unreadable.contains_key(&Kind::RoleAssignment) {
        return out;
    }
    let (Some(policies), Some(assignments)) = (observed.objects.get(&Kind::RolePolicy), observed.objects.get(&Kind::RoleAssignment)) else { return out };
    let of_kind = |k: Kind| desired.resources.range(Address::new(k, "")..).take_while(move |(a, _)| a.kind == k);
    // Roles judged elsewhere: declared settings, declared eligibility.
    let mut judged: BTreeSet<String> = of_kind(Kind::RolePolicy).filter_map(|(_, r)| declared_key(&r.props, ids)).collect();
    judged.extend(of_kind(Kind::RoleAssignment).filter(|(_, r)| r.props.get("assignment").and_then(Value::as_str) == Some("eligible")).filter_map(|(_, r)| declared_key(&r.props, ids)));
    let mut declared_ids: BTreeSet<&str> = ids.values().map(String::as_str).collect();
    declared_ids.extend(changes.iter().filter(|c| c.action == crate::Action::Delete).filter_map(|c| c.id.as_deref()));
    // Live eligibility outside desired state, by role (sorted by id).
    let mut oob: BTreeMap<String, Vec<&LiveObject>> = BTreeMap::new();
    for o in assignments.iter().filter(|o| o.props.get("assignment").and_then(Value::as_str) == Some("eligible") && !declared_ids.contains(o.id.as_str())) {
        if let Some(k) = role_key(o) {
            oob.entry(k).or_default().push(o);
        }
    }
    // The exposure of roles nobody is eligible for, one warning per
    // weakness listing the roles (a default tenant has dozens).
    let mut exposed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut sorted: Vec<&LiveObject> = policies.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for p in sorted {
        let Some(key) = role_key(p) else { continue };
        let role = p.props.get("role").and_then(Value::as_str).unwrap_or_default();
        if !is_privileged(role) || judged.contains(&key) {
            continue;
        }
        let shown = if role == CUSTOM_ROLE { format!("custom role {key}") } else { role.to_string() };
        let activation = p.props.get("activation");
        let mfa = activation.and_then(|a| a.get("enabledRules")).and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x.as_str() == Some("MultiFactorAuthentication")));
        let approval = activation.and_then(|a| a.get("isApprovalRequired")).and_then(Value::as_bool) == Some(true);
        for (weak, lint, what) in [(!mfa, ACTIVATION_WITHOUT_MFA, "MFA"), (!approval, ACTIVATION_WITHOUT_APPROVAL, "approval")] {
            if !weak {
                continue;
            }
            match oob.get(&key).map(|v| v.as_slice()).unwrap_or_default() {
                [] => {
                    exposed.entry(lint).or_default().insert(shown.clone());
                }
                live => {
                    let mut ids: Vec<&str> = live.iter().map(|o| o.id.as_str()).collect();
                    ids.sort_unstable();
                    out.push(Finding {
                        severity: Severity::Error,
                        lint: lint.into(),
                        address: format!("id:{}", ids[0]),
                        message: format!(
                            "{shown} is privileged and {} live eligibilit{} outside desired state hold{} it ({}); its PIM settings are not declared, and live, activating it needs no {what}: declare its role_policy with require_{} = true, or remove the eligibility",
                            ids.len(),
                            if ids.len() == 1 { "y" } else { "ies" },
                            if ids.len() == 1 { "s" } else { "" },
                            ids.join(", "),
                            if what == "MFA" { "mfa" } else { "approval" }
                        ),
                    });
                }
            }
        }
    }
    for (lint, roles) in exposed {
        let what = if lint == ACTIVATION_WITHOUT_MFA { "MFA" } else { "approval" };
        out.push(Finding {
            severity: Severity::Warning,
            lint: lint.into(),
            address: UNDECLARED.into(),
            message: format!(
                "live, activating {} privileged role(s) nobody is eligible for needs no {what}: whoever is made eligible would activate them without {what}; declare their role_policy: {}",
                roles.len(),
                roles.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    super::lints::finish(&desired.governance, out)
}

/// The address of the warning about roles nobody is eligible for.
pub const UNDECLARED: &str = "role_policy.(not declared)";
