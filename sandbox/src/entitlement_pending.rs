//! Requests waiting for an approver (`userAdd`, state `pendingApproval`),
//! and the one listing of requests v1.0 documents for a package.
//!
//! A user asks for a package through a policy with approval (My Access, a
//! delegated token); the request waits until an approver decides. Changing
//! the policy afterwards does not touch the requests already waiting:
//! Entra neither re-checks nor cancels them, so an approver can still
//! grant what the policy no longer admits. The sandbox issues application
//! tokens only, so tests place such a request with
//! [`crate::SandboxHandle::add_pending_request`] (checked as Graph checks
//! a request: the package, a policy of it, a user that exists and that
//! the policy admits, no assignment already held).
//!
//! "List assignmentRequests" (v1.0) documents `$expand` and `$filter`,
//! and for one package exactly `$expand=accessPackage&$filter=accessPackage/id eq '{id}'`;
//! `$expand=requestor` names the requestor, `$expand=assignment` the
//! assignment requested (with its own expansions:
//! `entitlement_assignments::expand_request`). Any other `$filter` on the v1.0
//! list is refused (400): a client relying on an undocumented filter
//! (`state`, `requestType`) fails here rather than on a real tenant.

use serde_json::{json, Map, Value};

use crate::entitlement::{ASSIGNMENTS, ASSIGNMENT_REQUESTS, PACKAGES, POLICIES};
use crate::error::GraphError;
use crate::odata::{CmpOp, Filter, Lit, Query};
use crate::store::{Record, Tenant};

/// The nav keys a request names its package, policy and target by.
pub const PACKAGE_ID: &str = "accessPackageId";
pub const POLICY_ID: &str = "assignmentPolicyId";
pub const TARGET_ID: &str = "targetId";
/// The id of the assignment a waiting request asks to be created.
pub const REQUESTED_ASSIGNMENT: &str = "requestedAssignmentId";

fn nav_str<'a>(r: &'a Record, k: &str) -> &'a str {
    r.nav.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// A `userAdd` request by `target` for `package` through `policy`, waiting
/// for approval; answers its id.
pub fn add_pending(t: &mut Tenant, now_iso: &str, package: &str, policy: &str, target: &str) -> Result<String, GraphError> {
    let bad = |m: String| GraphError::bad_request(m);
    if t.get(PACKAGES, package).is_none() {
        return Err(bad(format!("The access package '{package}' was not found.")));
    }
    let p = t.get(POLICIES, policy).cloned().ok_or_else(|| bad(format!("The policy '{policy}' was not found.")))?;
    if nav_str(&p, PACKAGE_ID) != package {
        return Err(bad(format!("The policy '{policy}' is not a policy of access package '{package}'.")));
    }
    let user = t.get("users", target).cloned().ok_or_else(|| bad(format!("The requestor '{target}' was not found.")))?;
    if let Some(why) = crate::entitlement_assignments::outside_policy(t, &p, &user, target) {
        return Err(bad(format!("The requestor '{target}' is not in the scope of policy '{policy}': it {why}.")));
    }
    let approval = p.data.get("requestApprovalSettings").and_then(|a| a.get("isApprovalRequiredForAdd")).and_then(Value::as_bool) == Some(true);
    if !approval {
        return Err(bad(format!("The policy '{policy}' needs no approval: a request through it is delivered, not left pending.")));
    }
    let held = t.coll(ASSIGNMENTS).is_some_and(|c| c.values().any(|r| crate::entitlement_assignments::is_live(r) && nav_str(r, PACKAGE_ID) == package && nav_str(r, TARGET_ID) == target));
    if held {
        return Err(bad(format!("The requestor '{target}' already has an assignment for access package '{package}'.")));
    }
    let id = crate::resources::new_id();
    let mut data = Map::new();
    data.insert("id".into(), json!(id));
    data.insert("requestType".into(), json!("userAdd"));
    data.insert("state".into(), json!("pendingApproval"));
    data.insert("status".into(), json!("PendingApproval"));
    data.insert("createdDateTime".into(), json!(now_iso));
    data.insert("completedDateTime".into(), Value::Null);
    let mut nav = Map::new();
    nav.insert(PACKAGE_ID.into(), json!(package));
    nav.insert(POLICY_ID.into(), json!(policy));
    nav.insert(TARGET_ID.into(), json!(target));
    nav.insert(REQUESTED_ASSIGNMENT.into(), json!(crate::resources::new_id()));
    t.put(ASSIGNMENT_REQUESTS, &id, Record { data, nav, created_ms: 0 });
    Ok(id)
}

/// The package a request is for: its own (a pending request) or its
/// assignment's (an administrator's, delivered at once).
pub fn package_of<'a>(t: &'a Tenant, r: &'a Record) -> &'a str {
    match nav_str(r, PACKAGE_ID) {
        "" => t.get(ASSIGNMENTS, nav_str(r, "assignmentId")).map(|a| nav_str(a, PACKAGE_ID)).unwrap_or_default(),
        p => p,
    }
}

/// The request's `requestor` (an `accessPackageSubject`): "the subject
/// who requested or, if a direct assignment, was assigned" (the v1.0
/// accessPackageAssignmentRequest resource): the user who asked for a
/// `userAdd`; for an administrator's request (`adminAdd`, `adminUpdate`,
/// `adminRemove`, made by tenantctl's application) the subject of the
/// assignment, never the application and never null.
pub fn requestor(t: &Tenant, r: &Record) -> Value {
    let id = match nav_str(r, TARGET_ID) {
        "" => t.get(ASSIGNMENTS, nav_str(r, "assignmentId")).map(|a| nav_str(a, TARGET_ID)).unwrap_or_default(),
        id => id,
    };
    subject(t, id)
}

/// The `accessPackageSubject` of user `id` (null when no such user).
pub fn subject(t: &Tenant, id: &str) -> Value {
    let Some(u) = t.get("users", id) else { return Value::Null };
    let f = |k: &str| u.data.get(k).cloned().unwrap_or(Value::Null);
    let external = u.data.get("userType").and_then(Value::as_str) == Some("Guest");
    json!({"id": id, "objectId": id, "displayName": f("displayName"), "email": f("mail"), "principalName": f("userPrincipalName"), "subjectType": "user", "subjectLifecycle": if external { "governed" } else { "notDefined" }})
}

/// Refuses a `$filter` on the v1.0 requests list other than the
/// documented `accessPackage/id eq '{id}'`.
pub fn check_filter(q: &Query) -> Result<(), GraphError> {
    match &q.filter {
        None => Ok(()),
        Some(Filter::Cmp(p, CmpOp::Eq, Lit::Str(_))) if p == "accessPackage/id" => Ok(()),
        Some(_) => Err(GraphError::bad_request("Invalid filter clause: listing assignmentRequests in v1.0 supports only the filter accessPackage/id eq '{id}'.")),
    }
}
