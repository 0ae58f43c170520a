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
pub fn check_list(coll: &str, q: &Query, version: Version) -> Result<(), GraphError> {
    if coll == crate::entitlement::PACKAGES && matches!(version, Version::V1) && !q.expand.is_empty() {
        return Err(GraphError::bad_request(
            "The query option '$expand' is not supported when listing accessPackages in v1.0; expand a single access package (GET accessPackages/{id}?$expand=...) instead.",
        ));
    }
    Ok(())
}
