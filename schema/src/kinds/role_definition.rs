//! `[role_definition.KEY]`: a custom directory role
//! (`/roleManagement/directory/roleDefinitions`, `isBuiltIn = false`):
//! its permissions are resource actions (`microsoft.directory/...`).
//! Role assignments name it by key in `role`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[role_definition.KEY]`: a custom Entra role with the resource actions it allows; `role_assignment.role` names it by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// Unique among the tenant's roles: how an existing one is found.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the role can be assigned (Graph's default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub is_enabled: bool,
    /// The actions the role allows (`rolePermissions[0].allowedResourceActions`),
    /// e.g. `microsoft.directory/users/password/update`.
    pub allowed_resource_actions: Vec<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Why `action` is not shaped like an Entra resource action
/// (`microsoft.directory/<resource>/<property...>/<action>`), if it is not.
pub fn action_problem(action: &str) -> Option<String> {
    let Some(rest) = action.strip_prefix("microsoft.directory/") else {
        return Some("does not start with `microsoft.directory/` (custom directory roles take only directory actions)".into());
    };
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.len() < 2 {
        return Some("names no action (write it as microsoft.directory/<resource>/<property>/<action>)".into());
    }
    if let Some(s) = segs.iter().find(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')) {
        return Some(format!("has an invalid segment `{s}` (letters, digits and dots only)"));
    }
    None
}

/// The address of a declared custom role named by `role` in a role
/// assignment (`KEY` or `role_definition.KEY`), if `role` names one.
pub fn declared(state: &crate::state::DesiredState, role: &str) -> Option<crate::address::Address> {
    state.resolve(role, &[crate::address::Kind::RoleDefinition]).ok()
}

// Validation: this kind's own checks, run through the registry.

use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.role_definition {
        let (r, o) = (&d.value, &d.origin);
        if crate::kinds::role_assignment::role_template_id(r.display_name.trim()).is_some() {
            cx.error("built-in-role-name", o, &path!["role_definition", key, "display_name"], format!("role_definition.{key}: `{}` is a built-in role's name; name a custom role differently", r.display_name));
        }
        if r.allowed_resource_actions.is_empty() {
            cx.error("no-actions", o, &path!["role_definition", key, "allowed_resource_actions"], format!("role_definition.{key}: a custom role allows at least one resource action"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, a) in r.allowed_resource_actions.iter().enumerate() {
            let at = path!["role_definition", key, "allowed_resource_actions", i];
            if let Some(p) = action_problem(a) {
                cx.error("invalid-resource-action", o, &at, format!("role_definition.{key}: `{a}` {p}"));
            }
            if !seen.insert(a.to_ascii_lowercase()) {
                cx.error("duplicate-resource-action", o, &at, format!("role_definition.{key}: `{a}` is listed twice"));
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/roleManagement/directory/roleDefinitions"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
