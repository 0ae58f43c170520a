//! `[device_configuration.KEY]`: an Intune device configuration profile of
//! any `@odata.type`, with its settings given as Graph properties.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Assignments, Rollout};

/// `[device_configuration.KEY]`: an Intune device configuration profile of any `@odata.type`, with its settings as Graph properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfiguration {
    /// Graph type without or with the `#microsoft.graph.` prefix, e.g.
    /// `windows10GeneralConfiguration`.
    pub odata_type: String,
    /// Natural key of the profile.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Graph properties of the profile, by their Graph (camelCase) names.
    /// Only the properties listed here are managed and compared.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub settings: BTreeMap<String, toml::Value>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: Assignments,
    /// Roll changes out ring by ring: one copy of the policy per ring group,
    /// each change promoted to the next ring after `soak`. `assignments`
    /// may then only exclude (every ring's copy is assigned to its ring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// The full `@odata.type` for a type name given with or without its prefix.
pub fn qualified_odata_type(name: &str) -> String {
    let bare = name
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.");
    format!("#microsoft.graph.{bare}")
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::validate::policy::{check_assignments, check_settings};
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_device_configurations(cx);
}

fn check_device_configurations(cx: &mut Ctx) {
    for (key, d) in &cx.state.device_configuration {
        check_settings(
            cx,
            Kind::DeviceConfiguration,
            key,
            &d.origin,
            &d.value.odata_type,
            &d.value.settings,
        );
        check_assignments(
            cx,
            Kind::DeviceConfiguration,
            key,
            &d.origin,
            &d.value.assignments,
        );
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceConfigurations"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
