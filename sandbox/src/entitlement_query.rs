//! The query options entitlement management's v1.0 lists document, and
//! nothing more: "List accessPackages" (v1.0) supports `$select` and
//! `$filter` only; `$expand` on the list (`catalog`, `resourceRoleScopes`)
//! is documented in beta alone, and the role scopes on a single package's
//! GET ("List resourceRoleScopes"). A v1.0 list of packages with `$expand`
//! is refused (400, as Graph answers a query option a request does not
//! support), so a client that relies on the undocumented form fails here
//! rather than on a real tenant.

use crate::error::GraphError;
use crate::graph::Version;
use crate::odata::Query;

/// Refuses a query option the v1.0 list of `coll` does not document.
pub fn check_list(coll: &str, q: &Query, ctx: &crate::graph::Ctx) -> Result<(), GraphError> {
    let version = ctx.version;
    if coll == crate::entitlement::ASSIGNMENT_REQUESTS && matches!(version, Version::V1) {
        crate::entitlement_pending::check_filter(q)?;
        // Switched on by a test (`Faults::refuse_nested_request_expand`):
        // an expansion inside an expansion refused as Graph refuses one
        // it does not parse ("Parsing Select and Expand failed.", 400
        // `BadRequest`, microsoftgraph/microsoft-graph-docs#7784).
        if ctx.refuse_nested_request_expand && q.expand.iter().any(|e| !e.nested.is_empty()) {
            return Err(GraphError::new(400, "BadRequest", "Parsing Select and Expand failed."));
        }
    }
    if coll == crate::entitlement::PACKAGES && matches!(version, Version::V1) && !q.expand.is_empty() {
        return Err(GraphError::bad_request(
            "The query option '$expand' is not supported when listing accessPackages in v1.0; expand a single access package (GET accessPackages/{id}?$expand=...) instead.",
        ));
    }
    Ok(())
}

/// Whether record `r` of `coll` passes `f`. An assignment's
/// `accessPackage/id` (the filter "List assignments" documents:
/// `$filter=accessPackage/id eq '{id}'`) is its navigation's id, which the
/// store keeps apart from its properties; a request's is its own or its
/// assignment's (`entitlement_pending::package_of`).
pub fn matches(t: &crate::store::Tenant, coll: &str, f: &crate::odata::Filter, r: &crate::store::Record) -> bool {
    let package = match coll {
        crate::entitlement::ASSIGNMENTS => r.nav.get("accessPackageId").and_then(serde_json::Value::as_str).unwrap_or_default(),
        crate::entitlement::ASSIGNMENT_REQUESTS => crate::entitlement_pending::package_of(t, r),
        _ => return f.matches(&r.data),
    };
    let mut data = r.data.clone();
    if !package.is_empty() {
        data.insert("accessPackage".into(), serde_json::json!({"id": package}));
    }
    f.matches(&data)
}

/// How many items of an expanded `resourceRoleScopes` a package read by
/// id carries before `@odata.nextLink`. Graph documents no size for this
/// expansion; it caps expanded directory relationships at 20 items
/// ("Use the $expand query parameter": at most 20 objects are returned),
/// so the sandbox pages there too: a package with more groups than that
/// shows whether a client follows the link.
pub const EXPANDED_PAGE: usize = 20;

/// The first page of an expansion, and the link to the rest (the list
/// `base`, as "List resourceRoleScopes" pages it) when there is more.
pub fn page_expansion(mut items: Vec<serde_json::Value>, base: &str) -> (Vec<serde_json::Value>, Option<String>) {
    if items.len() <= EXPANDED_PAGE {
        return (items, None);
    }
    items.truncate(EXPANDED_PAGE);
    let token = crate::odata::encode_cursor(&crate::odata::Cursor::Offset(EXPANDED_PAGE));
    (items, Some(format!("{base}?$expand=role,scope&$skiptoken={token}")))
}
