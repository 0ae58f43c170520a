//! `[intune_role_definition.KEY]`: a custom Intune role (beta
//! `deviceManagement/roleDefinitions`, deviceAndAppManagementRoleDefinition):
//! the Intune operations (`rolePermissions[].resourceActions[].allowedResourceActions`)
//! its holders may perform. Intune's built-in roles ([`BUILT_IN_ROLES`])
//! are not declared: role assignments name them, and they are never
//! reported as drift nor deleted.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Intune's built-in roles, by display name.
pub const BUILT_IN_ROLES: &[&str] = &[
    "Application Manager",
    "Endpoint Privilege Manager",
    "Endpoint Privilege Reader",
    "Endpoint Security Manager",
    "Help Desk Operator",
    "Intune Role Administrator",
    "Organizational Messages Manager",
    "Policy and Profile manager",
    "Read Only Operator",
    "School Administrator",
];

/// The built-in role named `name` (case-insensitively), as Intune spells it.
pub fn built_in_role(name: &str) -> Option<&'static str> {
    BUILT_IN_ROLES.iter().copied().find(|r| r.eq_ignore_ascii_case(name.trim()))
}

/// `[intune_role_definition.KEY]`: a custom Intune role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntuneRoleDefinition {
    /// Natural key of the role; not a built-in role's name.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The Intune operations the role allows, e.g.
    /// `Microsoft.Intune_DeviceConfigurations_Read`.
    pub allowed_actions: Vec<String>,
    /// Scope tags of the role itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
}

/// Whether `a` is an Intune operation id as Intune names them.
pub fn is_action(a: &str) -> bool {
    a.strip_prefix("Microsoft.Intune_").or_else(|| a.strip_prefix("Microsoft.Intune/")).is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.')))
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.intune_role_definition.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::IntuneRoleDefinition, named.collect());
    for (key, d) in &s.intune_role_definition {
        let p = &d.value;
        if let Some(b) = built_in_role(&p.display_name) {
            cx.error("reserved-name", &d.origin, &path!["intune_role_definition", key, "display_name"], format!("intune_role_definition.{key}: `{b}` is a built-in Intune role, which is not declared; assignments name it directly"));
        }
        if crate::kinds::role_assignment::role_template_id(p.display_name.trim()).is_some() {
            // A read-only directory role's name ("Global Reader") on an
            // Intune role that writes would read as harmless to approvers
            // and to `allowed_roles`.
            cx.error("built-in-role-name", &d.origin, &path!["intune_role_definition", key, "display_name"], format!("intune_role_definition.{key}: `{}` is a built-in directory role's name; name a custom Intune role differently", p.display_name));
        }
        if p.allowed_actions.is_empty() {
            cx.error("empty-role", &d.origin, &path!["intune_role_definition", key, "allowed_actions"], format!("intune_role_definition.{key}: a role allows at least one operation"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in p.allowed_actions.iter().enumerate() {
            let at = path!["intune_role_definition", key, "allowed_actions", i];
            if !is_action(a) {
                cx.error("invalid-action", &d.origin, &at, format!("intune_role_definition.{key}: `{a}` is not an Intune operation"))
                    .help = Some("e.g. `Microsoft.Intune_DeviceConfigurations_Read`".into());
            } else if !seen.insert(a.to_lowercase()) {
                cx.error("duplicate-action", &d.origin, &at, format!("intune_role_definition.{key}: `{a}` is listed twice"));
            }
        }
        super::platform_script::check_tags(cx, &d.origin, Kind::IntuneRoleDefinition, key, &p.scope_tags);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("Intune role definition (what its admins may do)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/roleDefinitions"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
