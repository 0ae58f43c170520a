//! An exception is bound to what it was approved for (hostile run 14,
//! finding 23). `[governance.exceptions]` is keyed `lint:kind.key`; the
//! key alone would let the assignment behind it move to another principal
//! or role and keep the exception. So each exception keyed to a role
//! assignment or an Intune role assignment records its holder and role
//! (`Declared::excepted`, in the trust root with the rest of
//! `[governance]`), and a plan against a trust root that recorded another
//! holder:
//! * re-raises the excepted lint as an error when the exception's reason
//!   was not restated (the approvers in force approved it for someone
//!   else);
//! * otherwise (the reason restated, a governance change the approvers in
//!   force approve) names both holders in the change's sensitive reason.

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use super::lints::{Finding, Severity};
use super::trust::GovernanceReview;
use crate::model::{as_reference, DesiredModel};

/// The assignments `[governance.exceptions]` names, with what each grants
/// as desired now (`user.breakglass-1 as Global Administrator`).
pub fn bindings(m: &DesiredModel) -> BTreeMap<Address, String> {
    let mut out = BTreeMap::new();
    for key in m.governance.exceptions.keys() {
        let Some(a) = key.split_once(':').and_then(|(_, a)| a.parse::<Address>().ok()) else { continue };
        if let Some(held) = m.resources.get(&a).and_then(|r| grant(&a, r)) {
            out.insert(a, held);
        }
    }
    out
}

/// Who holds which role through assignment `a` (`r`), as text: a
/// directory role by its principal (active, or eligible), whatever its
/// schedule; an Intune role (its member groups may narrow freely, and
/// widening them is sensitive on its own). `None` for other kinds.
fn grant(a: &Address, r: &crate::DesiredResource) -> Option<String> {
    let p = &r.props;
    let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match a.kind {
        Kind::RoleAssignment => {
            // Bound whatever its schedule: an exception that suppresses a
            // lint on an assignment with an end (one years away, say) must
            // not follow its key to another person either (hostile run
            // 15, finding 12).
            let active = p.get("assignment").and_then(Value::as_str).unwrap_or("active") == "active";
            let principal = p.get("principal").and_then(as_reference).unwrap_or_default().to_string();
            Some(format!("{principal} as {}{}", text("role"), if active { "" } else { " (eligible)" }))
        }
        Kind::IntuneRoleAssignment => Some(format!("Intune role {}", text("roleName"))),
        _ => None,
    }
}

/// Checks the plan's exceptions against what the trust root in force
/// recorded them for (see the module documentation).
pub fn check(plan: &mut crate::Plan, desired: &DesiredModel, review: &GovernanceReview) {
    let mut raised = false;
    for (key, why) in &desired.governance.exceptions {
        let Some((lint, addr)) = key.split_once(':') else { continue };
        let Ok(a) = addr.parse::<Address>() else { continue };
        let Some(recorded) = review.in_force.declared.get(addr).and_then(|d| d.excepted.as_ref()) else { continue };
        let Some(now) = desired.governance.declared.get(addr).and_then(|d| d.excepted.as_ref()) else { continue };
        if now == recorded {
            continue;
        }
        if review.in_force.exceptions.get(key) == Some(why) {
            raised = true;
            plan.lints.push(Finding {
                severity: Severity::Error,
                lint: lint.to_string(),
                address: a.to_string(),
                message: format!(
                    "the exception `{key}` was approved for {recorded}; {a} now grants {now}: an exception does not follow its key to another principal or role (restate its reason for the new holder, a change of [governance] the approvers in force approve, or drop it)"
                ),
            });
        }
        if !plan.changes.iter().any(|c| c.address == a) {
            continue;
        }
        plan.sensitive.insert(a.clone(), format!("grants {now} under an exception made for {recorded} ({key})"));
    }
    if raised {
        plan.lints.sort_by(|a, b| (std::cmp::Reverse(a.severity), &a.lint, &a.address, &a.message).cmp(&(std::cmp::Reverse(b.severity), &b.lint, &b.address, &b.message)));
    }
}
