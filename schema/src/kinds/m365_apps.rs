//! `[m365_apps.KEY]`: Microsoft 365 Apps for Windows (beta
//! `deviceAppManagement/mobileApps`, `#microsoft.graph.officeSuiteApp`):
//! which Office products, apps left out, update channel, architecture and
//! languages. Enumerations are checked against Graph's metadata.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::mobile_app::AppAssignments;

/// `[m365_apps.KEY]`: Microsoft 365 Apps (an Office suite app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct M365Apps {
    /// Natural key of the app.
    pub display_name: String,
    /// Graph requires one (`Microsoft`).
    pub publisher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Office products (Graph's officeProductId): `o365ProPlusRetail`,
    /// `o365BusinessRetail`, `visioProRetail`, `projectProRetail`, ...
    pub product_ids: Vec<String>,
    /// Apps left out of the suite, by Graph's excludedApps names
    /// (`groove = true`, `lync = true`, `teams = true`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub excluded_apps: BTreeMap<String, bool>,
    /// officeUpdateChannel: `current`, `monthlyEnterprise`, `deferred`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_channel: Option<String>,
    /// windowsArchitecture: `x86` or `x64` (Office offers no other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_platform_architecture: Option<String>,
    /// Languages, e.g. `["en-us", "nl-nl"]` (none: the operating system's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locales_to_install: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_shared_computer_activation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_accept_eula: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_uninstall_older_versions_of_office: Option<bool>,
    /// officeSuiteInstallProgressDisplayLevel: `none` or `full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_progress_display_level: Option<String>,
    /// A version to pin (`16.0.17328.20162`); none: the channel's latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_version: Option<String>,
    /// officeSuiteDefaultFileFormatType: `officeOpenXMLFormat` or `officeOpenDocumentFormat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_suite_app_default_file_format: Option<String>,
    /// Scope tags: keys of declared `scope_tag`s (or `scope_tag.KEY`), or
    /// `default` for Intune's built-in tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_tags: Vec<String>,
    #[serde(default)]
    pub assignments: AppAssignments,
}

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::diagnostic::Origin;
use crate::path;
use crate::source::Seg;
use crate::validate::Ctx;

/// `value` must be a member of Graph's enum `enum_type` (beta members included).
fn check_enum(cx: &mut Ctx, origin: &Origin, at: &[Seg], key: &str, field: &str, enum_type: &str, value: &str) {
    let m = graph_metadata::metadata();
    let members: Vec<&str> = m.enum_members(enum_type, true).unwrap_or_default().into_iter().filter(|x| *x != "unknownFutureValue").collect();
    if !members.contains(&value) {
        let help = crate::suggest::closest(value, members.iter().copied()).map(|s| format!("did you mean `{s}`?")).unwrap_or_else(|| format!("one of: {}", members.join(", ")));
        cx.error("setting-value", origin, at, format!("m365_apps.{key}: {field} `{value}` is not a value of Graph's {enum_type}")).help = Some(help);
    }
}

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let s = cx.state;
    let named = s.m365_apps.iter().map(|(k, d)| (k, &d.origin, d.value.display_name.as_str(), d.value.description.as_deref()));
    super::feature_update_profile::check_profiles(cx, Kind::M365Apps, named.collect());
    let excluded_props: Vec<String> = graph_metadata::metadata().properties("excludedApps", true).keys().filter(|k| !k.starts_with('@')).map(|k| k.to_string()).collect();
    for (key, d) in &s.m365_apps {
        let a = &d.value;
        let o = &d.origin;
        if a.product_ids.is_empty() {
            cx.error("empty-product-ids", o, &path!["m365_apps", key, "product_ids"], format!("m365_apps.{key}: product_ids is empty; name at least one Office product"))
                .help = Some("e.g. `product_ids = [\"o365ProPlusRetail\"]`".into());
        }
        for (i, p) in a.product_ids.iter().enumerate() {
            check_enum(cx, o, &path!["m365_apps", key, "product_ids", i], key, "product_ids", "officeProductId", p);
        }
        for name in a.excluded_apps.keys() {
            if !excluded_props.iter().any(|p| p == name) {
                let help = crate::suggest::closest(name, excluded_props.iter().map(String::as_str)).map(|s| format!("did you mean `{s}`?"));
                cx.error("unknown-setting", o, &path!["m365_apps", key, "excluded_apps", name.as_str()], format!("m365_apps.{key}: `{name}` is not an app of Graph's excludedApps")).help = help;
            }
        }
        for (field, enum_type, value) in [
            ("update_channel", "officeUpdateChannel", &a.update_channel),
            ("office_platform_architecture", "windowsArchitecture", &a.office_platform_architecture),
            ("install_progress_display_level", "officeSuiteInstallProgressDisplayLevel", &a.install_progress_display_level),
            ("office_suite_app_default_file_format", "officeSuiteDefaultFileFormatType", &a.office_suite_app_default_file_format),
        ] {
            if let Some(v) = value {
                check_enum(cx, o, &path!["m365_apps", key, field], key, field, enum_type, v);
            }
        }
        for (i, l) in a.locales_to_install.iter().enumerate() {
            let ok = l.len() <= 16 && l.split('-').count() >= 2 && l.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
            if !ok {
                cx.error("invalid-locale", o, &path!["m365_apps", key, "locales_to_install", i], format!("m365_apps.{key}: `{l}` is not a language tag such as `en-us`"));
            }
        }
        if a.publisher.trim().is_empty() {
            cx.error("empty-publisher", o, &path!["m365_apps", key, "publisher"], format!("m365_apps.{key}: publisher is empty; Graph requires one"));
        }
        super::mobile_app::check_app_assignments(cx, Kind::M365Apps, key, o, &a.assignments);
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/deviceAppManagement/mobileApps"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
