//! The service model's lints over the Entra identity kinds that are
//! policies of the whole tenant: the authentication methods policy
//! (service accounts get no MFA, so no method or registration campaign
//! may reach them) and PIM role settings (a privileged role is activated
//! only with MFA and a second person's approval).

use std::collections::BTreeSet;

use schema::kinds::role_assignment::is_privileged;
use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use super::targets::assignment_reach;
use crate::model::{DesiredModel, DesiredResource};
use crate::plan::referenced_addresses;

/// A privileged role's activation without MFA.
pub const ACTIVATION_WITHOUT_MFA: &str = "privileged-activation-without-mfa";
/// A privileged role's activation without approval.
pub const ACTIVATION_WITHOUT_APPROVAL: &str = "privileged-activation-without-approval";
/// PIM settings that let a privileged role be assigned active with no end.
pub const ASSIGNMENT_WITHOUT_EXPIRY: &str = "privileged-assignment-without-expiry";
/// A privileged role assigned eligibly whose PIM settings are not declared.
pub const UNDECLARED_PIM_SETTINGS: &str = "privileged-role-pim-settings-undeclared";

fn finding(severity: Severity, lint: &str, address: &Address, message: String) -> Finding {
    Finding { severity, lint: lint.into(), address: address.to_string(), message }
}

/// The references and whether `all_users` is among `targets`.
fn targets(v: Option<&Value>) -> (Vec<Address>, bool) {
    let mut refs = BTreeSet::new();
    let mut all = false;
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        if t.as_str() == Some("all_users") {
            all = true;
        } else {
            referenced_addresses(t, &mut refs);
        }
    }
    (refs.into_iter().collect(), all)
}

/// Findings for one declared resource of these kinds.
pub(super) fn lints(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    match address.kind {
        Kind::AuthenticationMethodsPolicy => methods(desired, address, r),
        Kind::RolePolicy => role_policy(address, r),
        Kind::RoleAssignment => undeclared_settings(desired, address, r),
        _ => Vec::new(),
    }
}

fn reach_findings(desired: &DesiredModel, address: &Address, what: &str, target: &Value) -> Vec<Finding> {
    let (include, all) = targets(target.get("include"));
    let (exclude, _) = targets(target.get("exclude"));
    let reach = assignment_reach(desired, &include, &exclude, all);
    let fix = match desired.service_account_groups.iter().next() {
        Some(g) => format!("exclude {g}"),
        None => "exclude the service accounts".to_string(),
    };
    reach
        .accounts
        .iter()
        .map(|(s, how)| finding(Severity::Error, "service-account-targeted", address, format!("{what} reaches service account {s} {how}: service accounts get no MFA; {fix}")))
        .collect()
}

/// Every enabled method, and an enabled registration campaign, must not
/// reach a service account.
fn methods(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(c) = r.props.get("registrationCampaign").filter(|c| c.get("state").and_then(Value::as_str) == Some("enabled")) {
        out.extend(reach_findings(desired, address, "the registration campaign", c));
    }
    for (id, m) in r.props.get("methods").and_then(Value::as_object).into_iter().flatten() {
        if m.get("state").and_then(Value::as_str) == Some("enabled") && m.get("include").is_some() {
            out.extend(reach_findings(desired, address, &format!("method {id}"), m));
        }
    }
    out
}

/// A privileged role's activation needs MFA and approval.
fn role_policy(address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    if !is_privileged(role) {
        return Vec::new();
    }
    let role = &role_shown(&r.props);
    let Some(a) = r.props.get("activation") else {
        return vec![finding(Severity::Error, ACTIVATION_WITHOUT_APPROVAL, address, format!("{role} is privileged but its activation rules are not declared; declare `activation` with require_mfa and require_approval"))];
    };
    let mut out = Vec::new();
    let rules: Vec<&str> = a.get("enabledRules").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !rules.contains(&"MultiFactorAuthentication") {
        out.push(finding(Severity::Error, ACTIVATION_WITHOUT_MFA, address, format!("{role} is privileged but activating it needs no MFA; set require_mfa = true (or record a reasoned exception `\"{ACTIVATION_WITHOUT_MFA}:{address}\"` in [governance.exceptions])")));
    }
    if a.get("isApprovalRequired").and_then(Value::as_bool) != Some(true) {
        out.push(finding(Severity::Error, ACTIVATION_WITHOUT_APPROVAL, address, format!("{role} is privileged but activating it needs no approval; set require_approval = true with approvers (or record a reasoned exception `\"{ACTIVATION_WITHOUT_APPROVAL}:{address}\"` in [governance.exceptions])")));
    }
    out.extend(expiry_findings(address, role, r));
    out
}

/// PIM settings that let a privileged role be assigned with no end, or
/// one beyond the 400-day horizon (hostile run 19, finding 9): active
/// with no end is standing access (an error); eligible with no end is the
/// `permanent-eligibility` warning's case, allowed by the settings.
fn expiry_findings(address: &Address, role: &str, r: &DesiredResource) -> Vec<Finding> {
    const HORIZON_SECS: u64 = 400 * 86_400;
    let mut out = Vec::new();
    if r.props.get("activeExpiry").is_none() {
        // Not declared, not managed: the portal may allow permanent active
        // assignments and no drift would show it (hostile run 20, finding 6).
        out.push(finding(Severity::Warning, ASSIGNMENT_WITHOUT_EXPIRY, address, format!("{role} is privileged but its role_policy does not declare active_expiry: the tenant's setting is not managed, so permanent active assignments allowed in the portal would show no drift; declare active_expiry (at most P400D)")));
    }
    for (field, noun, severity, lint) in [("activeExpiry", "active", Severity::Error, ASSIGNMENT_WITHOUT_EXPIRY), ("eligibleExpiry", "eligible", Severity::Warning, "permanent-eligibility")] {
        let Some(e) = r.props.get(field) else { continue };
        let endless = e.get("isExpirationRequired").and_then(Value::as_bool) == Some(false);
        let too_long = e.get("maximumDuration").and_then(Value::as_str).and_then(super::tightens::duration_seconds).is_some_and(|s| s > HORIZON_SECS);
        if endless || too_long {
            let what = if endless { "with no end" } else { "for over 400 days" };
            out.push(finding(severity, lint, address, format!("{role} is privileged but its PIM settings let it be assigned {noun} {what}: privileged access is time-boxed; set {}_expiry to at most P400D (or record a reasoned exception `\"{lint}:{address}\"` in [governance.exceptions])", noun)));
        }
    }
    out
}

/// An eligible privileged assignment whose role's PIM settings are not
/// declared: "eligible" then means whatever the tenant's settings say.
fn undeclared_settings(desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    if r.props.get("assignment").and_then(Value::as_str) != Some("eligible") || !is_privileged(role) {
        return Vec::new();
    }
    // A custom role's settings are its definition's (`roleDefinition`).
    let declared = desired
        .resources
        .range(Address::new(Kind::RolePolicy, "")..)
        .take_while(|(a, _)| a.kind == Kind::RolePolicy)
        .any(|(_, p)| p.props.get("role").and_then(Value::as_str) == Some(role) && p.props.get("roleDefinition") == r.props.get("roleDefinition"));
    if declared {
        return Vec::new();
    }
    vec![finding(Severity::Warning, UNDECLARED_PIM_SETTINGS, address, format!("{role} is eligible here but its PIM settings (role_policy) are not declared, so its activation rules are whatever the tenant has"))]
}

/// A role as findings name it: a built-in role's name, or a custom role
/// with its definition (`custom role role_definition.KEY`).
pub fn role_shown(props: &crate::Props) -> String {
    let role = props.get("role").and_then(Value::as_str).unwrap_or_default();
    match props.get("roleDefinition").and_then(crate::model::as_reference) {
        Some(d) => format!("{role} {d}"),
        None => role.to_string(),
    }
}
