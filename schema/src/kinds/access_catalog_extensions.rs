//! `[access_catalog.KEY.custom_workflow_extensions.EXT]`: a catalog's
//! custom workflow extensions (`customWorkflowExtensions`, v1.0): Logic
//! Apps Entra calls at stages of an access package request
//! (`accessPackageAssignmentRequestWorkflowExtension`, `type = "request"`)
//! or of an assignment's life (`accessPackageAssignmentWorkflowExtension`,
//! `type = "assignment"`). Each is found in the tenant by its display
//! name (unique in its catalog); its key is how assignment policies name
//! it (`custom_extension_stages`).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::access_catalog::AccessCatalog;
use crate::path;
use crate::validate::Ctx;

/// One custom workflow extension of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomWorkflowExtension {
    /// How the extension is found in its catalog (unique there, without case).
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `request` (called at the stages of an assignment request) or
    /// `assignment` (called before an assignment expires).
    #[serde(rename = "type")]
    pub kind: String,
    /// The Logic App's Azure subscription id (a GUID)
    /// (`logicAppTriggerEndpointConfiguration.subscriptionId`).
    pub subscription_id: String,
    /// Its resource group (`resourceGroupName`).
    pub resource_group_name: String,
    /// The Logic App workflow's name (`logicAppWorkflowName`).
    pub logic_app_workflow_name: String,
    /// The URL of the Logic App's trigger Entra calls
    /// (`logicAppTriggerEndpointConfiguration.url`; Graph's docs: needed
    /// when an application, not a signed-in user, creates the extension,
    /// as tenantctl does). `https` only. Read, compared and written like
    /// the rest of the endpoint: changing it is changing where Entra calls
    /// (sensitive); absent, a URL set live is drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How Entra authenticates to the Logic App:
    /// `azureAdPopTokenAuthentication` (the default, a proof-of-possession
    /// token) or `azureAdTokenAuthentication` (needs `resource_id`).
    #[serde(default = "pop", skip_serializing_if = "is_pop")]
    pub authentication: String,
    /// The application id the token of `azureAdTokenAuthentication` is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// For a `request` extension: how long Entra waits for the Logic App
    /// to call back, an ISO 8601 duration from `PT5M` to `P14D`
    /// (`customExtensionCallbackConfiguration.timeoutDuration`); absent:
    /// the extension does not wait (fire and forget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

pub const REQUEST: &str = "request";
pub const ASSIGNMENT: &str = "assignment";
pub const TYPES: &[&str] = &[REQUEST, ASSIGNMENT];
pub const POP: &str = "azureAdPopTokenAuthentication";
pub const TOKEN: &str = "azureAdTokenAuthentication";
pub const AUTHENTICATIONS: &[&str] = &[POP, TOKEN];
/// The callback timeout's range in entitlement management (the
/// `customExtensionCallbackConfiguration` page: 5 minutes to 14 days).
pub const TIMEOUT_MINUTES: (i64, i64) = (5, 14 * 24 * 60);

fn pop() -> String {
    POP.to_string()
}

fn is_pop(s: &String) -> bool {
    s == POP
}

/// A catalog's extensions checked, each error at the field it is about.
pub(crate) fn catalog_checks(cx: &mut Ctx, key: &str, c: &AccessCatalog, o: &crate::diagnostic::Origin) {
    let mut names = BTreeSet::new();
    for (ext, e) in c.custom_workflow_extensions.iter().flatten() {
        let at = |field: &'static str| path!["access_catalog", key, "custom_workflow_extensions", ext.as_str(), field];
        let who = format!("access_catalog.{key}: custom workflow extension `{ext}`");
        if e.display_name.trim().is_empty() {
            cx.error("empty-name", o, &at("display_name"), format!("{who}: display_name must not be empty"));
        } else if !names.insert(e.display_name.to_lowercase()) {
            cx.error("duplicate", o, &at("display_name"), format!("{who}: display name `{}` is used by another extension of the catalog (extensions are found by display name)", e.display_name));
        }
        if !TYPES.contains(&e.kind.as_str()) {
            cx.error("bad-value", o, &at("type"), format!("{who}: type `{}` is not one of {}", e.kind, TYPES.join(", ")));
        }
        if !crate::validate::is_guid(&e.subscription_id) {
            cx.error("bad-value", o, &at("subscription_id"), format!("{who}: subscription_id `{}` is not an Azure subscription id (a GUID)", e.subscription_id));
        }
        for (field, v) in [("resource_group_name", &e.resource_group_name), ("logic_app_workflow_name", &e.logic_app_workflow_name)] {
            if v.trim().is_empty() {
                cx.error("empty-name", o, &at(field), format!("{who}: {field} must not be empty"));
            }
        }
        if !AUTHENTICATIONS.contains(&e.authentication.as_str()) {
            cx.error("bad-value", o, &at("authentication"), format!("{who}: authentication `{}` is not one of {}", e.authentication, AUTHENTICATIONS.join(", ")));
        } else if e.authentication == TOKEN && !e.resource_id.as_deref().is_some_and(crate::validate::is_guid) {
            cx.error("bad-value", o, &at("resource_id"), format!("{who}: {TOKEN} needs resource_id, the application id (a GUID) the token is for"));
        } else if e.authentication == POP && e.resource_id.is_some() {
            cx.error("bad-value", o, &at("resource_id"), format!("{who}: resource_id is only for authentication = \"{TOKEN}\""));
        }
        if let Some(u) = &e.url {
            let https = u.strip_prefix("https://").is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !u.chars().any(char::is_whitespace));
            // The authority up to the path: a userinfo part (`user@host`)
            // makes `https://x.logic.azure.com@evil.example/` read as a
            // Logic App while it calls another host (hostile run 28,
            // finding 10).
            let authority = u.strip_prefix("https://").and_then(|rest| rest.split(['/', '?', '#']).next()).unwrap_or_default();
            if !https {
                cx.error("bad-value", o, &at("url"), format!("{who}: url `{u}` is not an https URL (the Logic App trigger's endpoint)"));
            } else if authority.contains('@') {
                cx.error("bad-value", o, &at("url"), format!("{who}: url `{u}` carries a user name before `@`, so the host it calls is not the one it seems to name; give the Logic App trigger's URL without one"));
            }
        }
        if let Some(t) = &e.timeout {
            if e.kind == ASSIGNMENT {
                cx.error("bad-value", o, &at("timeout"), format!("{who}: an assignment extension takes no callback timeout (Graph accepts one on a request extension only)"));
            } else {
                match crate::kinds::role_policy::duration_minutes(t) {
                    Some(m) if (TIMEOUT_MINUTES.0..=TIMEOUT_MINUTES.1).contains(&m) => {}
                    Some(_) => {
                        cx.error("out-of-range", o, &at("timeout"), format!("{who}: timeout `{t}` is outside Graph's range for entitlement management, PT5M to P14D"));
                    }
                    None => {
                        cx.error("bad-duration", o, &at("timeout"), format!("{who}: timeout `{t}` is not an ISO 8601 duration of days, hours and minutes (`PT1H`, `P1D`)"));
                    }
                }
            }
        }
    }
}
