//! Administrative units a group an access package grants reaches (hostile
//! run 17, finding 1, its admin-unit part), judged as a group holding a
//! directory role is (`access-without-approval` without a stage of
//! approvers, in `access_package_rules`):
//!
//! * a group that holds a role assignment scoped to an administrative
//!   unit holds that role over the unit's members: the principal of any
//!   `role_assignment` is already privileged there, and the reason names
//!   the unit;
//! * a group that is a member of an administrative unit some
//!   `role_assignment` is scoped to is administered through that unit:
//!   its membership is what the unit's delegated administrators manage
//!   (and, in a restricted-management unit, what only they may change),
//!   so a package that lets anyone join it without approval goes around
//!   that delegation.
//!
//! Nesting is the caller's (`access_package_rules::sensitive_group` asks
//! this of the granted group and of each group it is nested in).

use crate::address::{Address, Kind};
use crate::validate::Ctx;

/// The role assignments scoped to administrative unit `unit`, as
/// `role_assignment.KEY (role)`.
fn scoped_to(cx: &Ctx, unit: &Address) -> Vec<String> {
    cx.state
        .role_assignment
        .iter()
        .filter(|(_, ra)| ra.value.scope.as_ref().is_some_and(|s| cx.state.resolve(&s.administrative_unit, &[Kind::AdministrativeUnit]).ok().as_ref() == Some(unit)))
        .map(|(k, ra)| format!("role_assignment.{k} ({})", ra.value.role))
        .collect()
}

/// Why group `g` reaches an administrative unit a role is scoped to, if
/// it does: it is a declared member of such a unit.
pub(crate) fn unit_reach(cx: &Ctx, g: &Address) -> Option<String> {
    for (uk, u) in &cx.state.administrative_unit {
        let unit = Address::new(Kind::AdministrativeUnit, uk.as_str());
        let member = u.value.members.iter().flatten().any(|m| cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]).ok().as_ref() == Some(g));
        if !member {
            continue;
        }
        let roles = scoped_to(cx, &unit);
        if !roles.is_empty() {
            return Some(format!("{g} is a member of {unit}, the scope of {}: its membership is administered through that unit", roles.join(", ")));
        }
    }
    None
}

/// The scope words of a role assignment when it is scoped to an
/// administrative unit: " over administrative_unit.KEY".
pub(crate) fn over_unit(cx: &Ctx, scope: Option<&crate::kinds::role_assignment::RoleScope>) -> String {
    scope.and_then(|s| cx.state.resolve(&s.administrative_unit, &[Kind::AdministrativeUnit]).ok()).map(|u| format!(" over {u}")).unwrap_or_default()
}
