//! Ending the assignments of an access package about to be deleted:
//! Graph refuses deleting a policy (and so the package) while assignments
//! go through it, so a package the plan deletes (no longer declared, or
//! made out of band: `engine::governance::package_oob`) has each live
//! assignment ended (`adminRemove`) and the listing waited for, within the
//! replication delays, until none is live. The assignments are found by
//! the filter "List assignments" documents (`accessPackage/id eq '{id}'`).

use engine::apply::ExecError;
use serde_json::{json, Value};

use super::access_package_assignment::{LISTING, LIVE_STATES, REQUESTS};
use super::registry::lit;
use super::str_field;
use crate::apply::{fail, Writer};
use crate::graph::{GraphClient, GraphRequest, Method};

fn live(a: &Value) -> bool {
    LIVE_STATES.contains(&a.get("state").and_then(Value::as_str).unwrap_or_default())
}

/// Ends every live assignment of package `id`, and waits until none is
/// listed live.
pub(super) async fn end_assignments(w: &Writer<'_>, api: &GraphClient, id: &str) -> Result<(), ExecError> {
    end_assignments_through(w, api, id, None).await
}

/// Ends every live assignment of package `id` (through `policy` alone,
/// when given), and waits until none is listed live.
pub(super) async fn end_assignments_through(w: &Writer<'_>, api: &GraphClient, id: &str, policy: Option<&str>) -> Result<(), ExecError> {
    let filter = crate::apply::urlencode(&format!("accessPackage/id eq {}", lit(id)));
    let listing = format!("{LISTING}&$filter={filter}");
    let mine = |a: &Value| live(a) && policy.is_none_or(|p| a.pointer("/assignmentPolicy/id").and_then(Value::as_str) == Some(p));
    let found: Vec<Value> = api.list_all(&listing).await.map_err(fail)?.into_iter().filter(|a| mine(a)).collect();
    if found.is_empty() {
        return Ok(());
    }
    for a in &found {
        let mut req = GraphRequest::new(Method::POST, REQUESTS);
        req.body = Some(json!({"requestType": "adminRemove", "assignment": {"id": str_field(a, "id")}}));
        match w.try_execute(api, req).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(fail(e)),
        }
    }
    api.wait_until_listed(&listing, |items| !items.iter().any(&mine)).await.map_err(fail)?;
    Ok(())
}
