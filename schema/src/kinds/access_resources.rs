//! Access package resources other than groups: applications (`originSystem`
//! `AadApplication`, each by its service principal's object id) and
//! SharePoint Online sites (`SharePointOnline`, each by its URL). A catalog
//! holds them (`applications`, `sites`), a package grants one of their
//! roles (`{ resource = ..., role = "<the role's display name>" }`), and the
//! resource must be one of the catalog's when the catalog declares its
//! list.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::access_catalog::AccessCatalog;
use crate::path;
use crate::validate::Ctx;

/// One role of a non-group resource that a package grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRole {
    /// The application's service principal object id, or the site's URL.
    pub resource: String,
    /// The role's display name as the catalog lists it (an app role's
    /// display name or `Default Access`; a site group's name).
    pub role: String,
}

pub const AAD_APPLICATION: &str = "AadApplication";
pub const SHAREPOINT_ONLINE: &str = "SharePointOnline";

/// A site URL tenantctl accepts: `https://<host>/<path>`, no query or
/// fragment, no trailing slash (Entra keeps the site's URL as given).
pub fn is_site_url(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty() && host.contains('.') && !s.ends_with('/') && !s.contains(['?', '#', ' ', '"', '\\'])
}

/// The same site written alike: Entra compares site URLs without case.
pub fn site_key(s: &str) -> String {
    s.to_lowercase()
}

fn check_list(cx: &mut Ctx, o: &crate::diagnostic::Origin, at: &[&str], key: &str, list: &[String], site: bool) {
    let mut seen = BTreeSet::new();
    for (i, r) in list.iter().enumerate() {
        let p = path![at[0], key, at[1], i];
        let ok = if site { is_site_url(r) } else { crate::validate::is_guid(r) };
        if !ok {
            let want = if site { "a site URL (`https://contoso.sharepoint.com/sites/audit`)" } else { "the application's service principal object id (a GUID)" };
            cx.error("bad-value", o, &p, format!("{}.{key}: `{r}` is not {want}", at[0]));
        } else if !seen.insert(if site { site_key(r) } else { r.to_lowercase() }) {
            cx.error("duplicate", o, &p, format!("{}.{key}: `{r}` is listed twice", at[0]));
        }
    }
}

/// A catalog's applications and sites.
pub(crate) fn catalog_checks(cx: &mut Ctx, key: &str, c: &AccessCatalog, o: &crate::diagnostic::Origin) {
    check_list(cx, o, &["access_catalog", "applications"], key, c.applications.as_deref().unwrap_or_default(), false);
    check_list(cx, o, &["access_catalog", "sites"], key, c.sites.as_deref().unwrap_or_default(), true);
}

/// Every package's application and site roles: well formed, once each,
/// and in the catalog when the catalog declares that list.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        let p = &d.value;
        let catalog = cx.state.access_catalog.get(p.catalog.as_str()).map(|c| c.value.clone());
        found.push((key.to_string(), p.applications.clone(), p.sites.clone(), catalog, d.origin.clone()));
    }
    for (key, apps, sites, catalog, o) in found {
        for (field, list, site) in [("applications", &apps, false), ("sites", &sites, true)] {
            let held: Option<BTreeSet<String>> = catalog.as_ref().and_then(|c| if site { c.sites.as_ref() } else { c.applications.as_ref() }).map(|l| l.iter().map(|x| site_key(x)).collect());
            let mut seen = BTreeSet::new();
            for (i, r) in list.iter().enumerate() {
                let p = path!["access_package", key.as_str(), field, i];
                let ok = if site { is_site_url(&r.resource) } else { crate::validate::is_guid(&r.resource) };
                if !ok {
                    cx.error("bad-value", &o, &p, format!("access_package.{key}: {field} resource `{}` is not {}", r.resource, if site { "a site URL" } else { "a service principal object id (a GUID)" }));
                    continue;
                }
                if r.role.trim().is_empty() {
                    cx.error("empty-name", &o, &p, format!("access_package.{key}: {field} `{}` names no role", r.resource));
                }
                if !seen.insert((site_key(&r.resource), r.role.clone())) {
                    cx.error("duplicate", &o, &p, format!("access_package.{key}: role `{}` of `{}` is listed twice", r.role, r.resource));
                }
                if held.as_ref().is_some_and(|h| !h.contains(&site_key(&r.resource))) {
                    cx.error("resource-not-in-catalog", &o, &p, format!("access_package.{key}: `{}` is not one of its catalog's {field}; add it there", r.resource));
                }
            }
        }
    }
}
