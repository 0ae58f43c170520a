//! What reading access packages needs beyond the packages themselves.
//!
//! **Expanded role scopes are paged.** A package read by id with
//! `$expand=resourceRoleScopes(...)` may carry only the first part of its
//! role scopes and `resourceRoleScopes@odata.nextLink` (OData's
//! next-link annotation on an expanded collection; the sandbox pages an
//! expansion past 20, see `sandbox/src/entitlement.rs`). The rest is
//! listed from that link ("List resourceRoleScopes"), so a package with
//! many groups is never read as holding only the first ones (a plan would
//! add the rest again, or an export lose them).
//!
//! **The assignments a policy delete would hit are read.** The plan
//! refuses to delete a live policy while assignments go through it
//! (`access_policy_rename::guard`). The guard sees the assignments the
//! assignment kind reads, which it does only when desired state or the
//! ledger holds one; otherwise (a portal policy whose assignments
//! tenantctl never managed) those of each package losing a policy are
//! read here, by the filter "List assignments" documents
//! (`$filter=accessPackage/id eq '{id}'`), and handed to the guard.

use std::collections::BTreeSet;

use engine::LiveObject;
use schema::Kind;
use serde_json::Value;

use super::access_package_assignment::{normalize, LIVE_STATES, LISTING};
use super::registry::lit;
use crate::graph::{GraphClient, GraphError};
use crate::observe::ReadCx;

/// The annotation that continues an expanded `resourceRoleScopes`.
const SCOPES_NEXT: &str = "resourceRoleScopes@odata.nextLink";

/// `pkg` (a package read by id, role scopes expanded) with every page of
/// its role scopes.
pub async fn all_role_scopes(api: &GraphClient, pkg: &mut Value) -> Result<(), GraphError> {
    let Some(link) = pkg.get(SCOPES_NEXT).and_then(Value::as_str).map(str::to_string) else {
        return Ok(());
    };
    let more = api.list_all(&link).await?;
    if let Some(m) = pkg.as_object_mut() {
        m.remove(SCOPES_NEXT);
        match m.get_mut("resourceRoleScopes") {
            Some(Value::Array(scopes)) => scopes.extend(more),
            _ => {
                m.insert("resourceRoleScopes".into(), Value::Array(more));
            }
        }
    }
    Ok(())
}

/// The live ids of the declared packages that would lose a policy (not a
/// rename), matched as the guard matches them (ledger id, else name).
fn losing_a_policy(cx: &ReadCx<'_>, live: &[LiveObject]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in cx.desired.resources.values().filter(|r| r.address.kind == Kind::AccessPackage) {
        let id = cx.ledger.id(&r.address);
        let Some(o) = live.iter().find(|o| id.map_or(o.natural_key == r.natural_key, |id| o.id == id)) else { continue };
        let (want, have) = (super::access_policy_rename::names(&r.props), super::access_policy_rename::names(&o.props));
        let renamed = super::access_policy_rename::rename(&want, &have);
        if have.difference(&want).any(|gone| renamed.is_none_or(|(old, _)| old != *gone)) {
            out.insert(o.id.clone());
        }
    }
    out
}

/// The live assignments of every declared package that would lose a
/// policy, when the assignment kind is not read anyway (nothing of it
/// declared nor in the ledger): for the guard, never planned on.
pub async fn assignments_under_deletes(cx: &ReadCx<'_>, live: &[LiveObject]) -> Result<Vec<LiveObject>, GraphError> {
    let read_anyway = cx.desired.resources.keys().chain(cx.ledger.resources.keys()).any(|a| a.kind == Kind::AccessPackageAssignment);
    if cx.everything || read_anyway {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for package in losing_a_policy(cx, live) {
        let filter = crate::apply::urlencode(&format!("accessPackage/id eq {}", lit(&package)));
        let found = cx.client.v1().list_all(&format!("{LISTING}&$filter={filter}")).await?;
        out.extend(found.iter().filter(|a| LIVE_STATES.contains(&a.get("state").and_then(Value::as_str).unwrap_or_default())).map(normalize));
    }
    Ok(out)
}
