//! `[role_policy.KEY]`: the PIM settings of one directory role (Graph's
//! `unifiedRoleManagementPolicy` assigned to the role at scope `/`,
//! `/policies/roleManagementPolicies`, v1.0). Every role has exactly one
//! policy, so it is only ever updated, rule by rule; what makes
//! "eligible" safe is declared here: how long an activation lasts, what
//! it needs (MFA, justification, ticket, approval and by whom), and how
//! long eligible and active assignments may last.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[role_policy.KEY]`: a directory role's PIM settings (activation rules and assignment expiry); only updated, never created or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePolicy {
    /// Built-in role display name ("Global Administrator"), a declared
    /// `role_definition` key (a custom role's settings), or a role
    /// definition id.
    pub role: String,
    /// What activating an eligible assignment takes; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// The longest an eligible assignment may last (ISO 8601, `P365D`),
    /// or `never` for no expiry required; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_expiry: Option<String>,
    /// The longest an active assignment may last (`P15D`), or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_expiry: Option<String>,
}

/// Activation rules (the `EndUser_Assignment` rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The longest one activation lasts, 30 minutes to 24 hours (`PT4H`).
    pub max_duration: String,
    #[serde(default)]
    pub require_mfa: bool,
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub require_ticket: bool,
    #[serde(default)]
    pub require_approval: bool,
    /// Who approves: user or group keys (required with `require_approval`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
}

/// An ISO 8601 duration of days, hours and minutes (`P365D`, `PT4H`,
/// `PT1H30M`, `P1DT2H`) in minutes; None when it is not one.
pub fn duration_minutes(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0i64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        let mut next = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let i = units.iter().skip(next).position(|(u, _)| *u == c)? + next;
            let n: i64 = num.parse().ok()?;
            total = total.checked_add(n.checked_mul(units[i].1)?)?;
            any = true;
            num.clear();
            next = i + 1;
        }
        num.is_empty().then_some(())
    };
    take(date, &[('D', 24 * 60)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 60), ('M', 1)])?;
    }
    any.then_some(total)
}

/// A duration in minutes as Graph writes it: `P365D`, `PT4H`, `P1DT2H30M`.
pub fn format_minutes(total: i64) -> String {
    let (d, h, m) = (total / (24 * 60), (total / 60) % 24, total % 60);
    let mut out = "P".to_string();
    if d > 0 {
        out.push_str(&format!("{d}D"));
    }
    if h > 0 || m > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
    }
    if out == "P" {
        out.push_str("T0M");
    }
    out
}

/// The canonical form of a duration (so `PT240M` and `PT4H` compare equal).
pub fn canonical_duration(s: &str) -> Option<String> {
    duration_minutes(s).map(format_minutes)
}

/// The value of an expiry meaning no expiry is required.
pub const NEVER: &str = "never";

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::kinds::role_assignment::{is_known_role, role_template_id};
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut by_role: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (key, d) in &cx.state.role_policy {
        let (p, o) = (&d.value, &d.origin);
        // A declared custom role (its key) comes first, as for role
        // assignments: its id is resolved at plan.
        let custom = crate::kinds::role_definition::declared(cx.state, &p.role);
        if custom.is_none() && !is_known_role(&p.role) {
            let state = cx.state;
            let keys = state.role_definition.keys().map(String::as_str);
            let help = crate::suggest::closest(&p.role, crate::kinds::role_assignment::BUILT_IN_ROLES.iter().map(|(n, _)| *n).chain(keys)).map(|x| format!("did you mean `{x}`?"));
            let d2 = cx.error("unknown-role", o, &path!["role_policy", key, "role"], format!("role_policy.{key}: `{}` is not a built-in directory role's name, a declared role_definition key, nor a role definition id", p.role));
            d2.help = help;
        } else {
            let id = match &custom {
                Some(a) => a.to_string(),
                None => role_template_id(&p.role).unwrap_or(&p.role).to_lowercase(),
            };
            if let Some(other) = by_role.insert(id, key.clone()) {
                cx.error("duplicate-role-policy", o, &path!["role_policy", key, "role"], format!("role_policy.{key}: role `{}` already has its policy declared as role_policy.{other}", p.role));
            }
        }
        for (field, v) in [("eligible_expiry", &p.eligible_expiry), ("active_expiry", &p.active_expiry)] {
            if let Some(v) = v.as_deref().filter(|v| *v != NEVER) {
                match duration_minutes(v) {
                    None => {
                        cx.error("bad-duration", o, &path!["role_policy", key, field], format!("role_policy.{key}: {field} `{v}` is not an ISO 8601 duration of days (`P365D`) or `never`"));
                    }
                    Some(m) if !(24 * 60..=366 * 24 * 60).contains(&m) => {
                        cx.error("out-of-range", o, &path!["role_policy", key, field], format!("role_policy.{key}: {field} `{v}` must be 1 to 366 days"));
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(a) = &p.activation {
            match duration_minutes(&a.max_duration) {
                None => {
                    cx.error("bad-duration", o, &path!["role_policy", key, "activation", "max_duration"], format!("role_policy.{key}: max_duration `{}` is not an ISO 8601 duration (`PT4H`)", a.max_duration));
                }
                Some(m) if !(30..=24 * 60).contains(&m) => {
                    cx.error("out-of-range", o, &path!["role_policy", key, "activation", "max_duration"], format!("role_policy.{key}: an activation lasts 30 minutes to 24 hours, not `{}`", a.max_duration));
                }
                Some(_) => {}
            }
            if a.require_approval && a.approvers.is_empty() {
                cx.error("no-approvers", o, &path!["role_policy", key, "activation", "approvers"], format!("role_policy.{key}: approval is required but no approvers are named; name at least one user or group key"));
            }
            if !a.require_approval && !a.approvers.is_empty() {
                cx.error("approvers-without-approval", o, &path!["role_policy", key, "activation", "approvers"], format!("role_policy.{key}: approvers are named but require_approval is false"));
            }
            for (i, r) in a.approvers.iter().enumerate() {
                cx.reference(o, &path!["role_policy", key, "activation", "approvers", i], r, &[Kind::User, Kind::Group]);
            }
        }
    }
}


/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("PIM role settings");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/policies/roleManagementPolicies", "/policies/roleManagementPolicyAssignments"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_and_written_as_graph_does() {
        assert_eq!(duration_minutes("PT4H"), Some(240));
        assert_eq!(duration_minutes("PT240M"), Some(240));
        assert_eq!(duration_minutes("P365D"), Some(365 * 1440));
        assert_eq!(duration_minutes("P1DT2H30M"), Some(1440 + 150));
        for bad in ["", "P", "PT", "4H", "PT4", "PTH", "P1H", "PT1M2H", "P1D2D"] {
            assert_eq!(duration_minutes(bad), None, "{bad}");
        }
        assert_eq!(canonical_duration("PT240M").as_deref(), Some("PT4H"));
        assert_eq!(canonical_duration("P1DT2H30M").as_deref(), Some("P1DT2H30M"));
        assert_eq!(format_minutes(0), "PT0M");
    }
}
