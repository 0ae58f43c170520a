//! `[access_catalog.KEY]`: an entitlement management catalog
//! (`accessPackageCatalog`, `/identityGovernance/entitlementManagement/catalogs`,
//! v1.0) with the groups it holds as resources. Access packages
//! (`access_package`) name it by key and grant roles of its groups only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[access_catalog.KEY]`: an entitlement management catalog and the groups it holds as resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCatalog {
    /// How an existing catalog is found.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `published` (the default) or `unpublished`.
    #[serde(default = "published", skip_serializing_if = "is_published")]
    pub state: String,
    /// Whether its packages can be requested by users outside the tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_externally_visible: bool,
    /// Group keys the catalog holds as resources (`originSystem`
    /// `AadGroup`); absent: its resources are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Applications the catalog holds as resources (`originSystem`
    /// `AadApplication`), each by its service principal's object id;
    /// absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications: Option<Vec<String>>,
    /// SharePoint Online sites the catalog holds as resources
    /// (`originSystem` `SharePointOnline`), each by its URL; absent: not
    /// managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<String>>,
    /// Logic Apps Entra calls at stages of its packages' requests and
    /// assignments, by key (`access_catalog_extensions`); absent: not
    /// managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_workflow_extensions: Option<std::collections::BTreeMap<String, crate::kinds::access_catalog_extensions::CustomWorkflowExtension>>,
}

fn published() -> String {
    PUBLISHED.to_string()
}

fn is_published(s: &String) -> bool {
    s == PUBLISHED
}

pub const PUBLISHED: &str = "published";
/// Graph's `accessPackageCatalogState` members a catalog may be set to.
pub const STATES: &[&str] = &["published", "unpublished"];

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.access_catalog {
        let (c, o) = (&d.value, &d.origin);
        if c.display_name.trim().is_empty() {
            cx.error("empty-name", o, &path!["access_catalog", key, "display_name"], format!("access_catalog.{key}: display_name must not be empty"));
        }
        if !STATES.contains(&c.state.as_str()) {
            cx.error("bad-value", o, &path!["access_catalog", key, "state"], format!("access_catalog.{key}: state `{}` is not one of {}", c.state, STATES.join(", ")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in c.groups.iter().flatten().enumerate() {
            if let Some(a) = cx.reference(o, &path!["access_catalog", key, "groups", i], g, &[Kind::Group]) {
                if !seen.insert(a.clone()) {
                    cx.error("duplicate", o, &path!["access_catalog", key, "groups", i], format!("access_catalog.{key}: {a} is listed twice"));
                }
            }
        }
        crate::kinds::access_resources::catalog_checks(cx, key, c, o);
        crate::kinds::access_catalog_extensions::catalog_checks(cx, key, c, o);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("access package catalog (what its packages may grant)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/identityGovernance/entitlementManagement/catalogs"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
