//! `[administrative_unit.KEY]`: an Entra administrative unit
//! (`/directory/administrativeUnits`), with assigned members (user, guest
//! or group keys) or a dynamic `membership_rule`. Role assignments are
//! scoped to it with `scope = { administrative_unit = "KEY" }`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[administrative_unit.KEY]`: an administrative unit with its members (assigned, or dynamic by rule); role assignments may be scoped to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdministrativeUnit {
    /// How an existing unit is found.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// User, guest or group keys; absent: membership is not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// A dynamic unit's rule (users or devices), e.g.
    /// `(user.department -eq "Sales")`; exclusive with `members`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule: Option<String>,
    /// `On` (the default for a rule) or `Paused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_rule_processing_state: Option<String>,
    /// `HiddenMembership`, or absent for public; set when created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// A restricted management unit (only admins scoped to it manage its
    /// members); set when created.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_member_management_restricted: bool,
}

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.administrative_unit {
        let (u, o) = (&d.value, &d.origin);
        if u.display_name.trim().is_empty() {
            cx.error("empty-name", o, &path!["administrative_unit", key, "display_name"], format!("administrative_unit.{key}: display_name must not be empty"));
        }
        if let Some(rule) = &u.membership_rule {
            if u.members.is_some() {
                cx.error("dynamic-members", o, &path!["administrative_unit", key, "members"], format!("administrative_unit.{key}: a dynamic unit (membership_rule) takes no members"));
            }
            if rule.trim().is_empty() {
                cx.error("empty-rule", o, &path!["administrative_unit", key, "membership_rule"], format!("administrative_unit.{key}: membership_rule is empty"));
            } else if let Some(p) = crate::kinds::group::membership_rule_problem(rule) {
                cx.error("invalid-rule", o, &path!["administrative_unit", key, "membership_rule"], format!("administrative_unit.{key}: membership_rule {p}"));
            }
        } else if u.membership_rule_processing_state.is_some() {
            cx.error("state-without-rule", o, &path!["administrative_unit", key, "membership_rule_processing_state"], format!("administrative_unit.{key}: membership_rule_processing_state needs a membership_rule"));
        }
        if let Some(s) = u.membership_rule_processing_state.as_deref().filter(|s| *s != "On" && *s != "Paused") {
            cx.error("bad-value", o, &path!["administrative_unit", key, "membership_rule_processing_state"], format!("administrative_unit.{key}: membership_rule_processing_state `{s}` is not `On` or `Paused`"));
        }
        if let Some(v) = u.visibility.as_deref().filter(|v| *v != "HiddenMembership" && *v != "Public") {
            cx.error("bad-value", o, &path!["administrative_unit", key, "visibility"], format!("administrative_unit.{key}: visibility `{v}` is not `HiddenMembership` or `Public`"));
        }
        for (i, m) in u.members.iter().flatten().enumerate() {
            cx.reference(o, &path!["administrative_unit", key, "members", i], m, &[Kind::User, Kind::Guest, Kind::Group]);
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/directory/administrativeUnits"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
