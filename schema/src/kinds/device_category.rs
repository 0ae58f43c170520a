//! `[device_category.KEY]`: an Intune device category (beta
//! `deviceManagement/deviceCategories`): a label users pick, or admins
//! set, on enrolled devices, which dynamic groups can select
//! (`device.deviceCategory`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[device_category.KEY]`: an Intune device category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCategory {
    /// Natural key of the category.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag. Undeclared, they are not
    /// managed (Intune gives an object the built-in tag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`;
// `scope_tags` are checked with the scope tags).

use crate::address::Kind;
use crate::validate::Ctx;

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.device_category.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::DeviceCategory, named.collect());
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceManagement/deviceCategories"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
