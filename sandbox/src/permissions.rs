//! Application permissions: the sandbox app is granted a set of Graph
//! application permissions (default: the list tenantctl documents), and
//! every Graph request (and `$batch` item) is checked against Microsoft's
//! permission table (permissions.json, generated into `graph-metadata`)
//! before it runs, answering 403 the way each part of Graph does.
//! Requests whose permissions depend on the object they name (deleted
//! items: a user's or a group's) are checked with [`check_for`] once the
//! object is found. Requests the table has no rule for are not checked
//! (see the README).

use crate::error::GraphError;
use crate::graph::{Ctx, GReq};
use crate::resources::{self, Family};
use graph_metadata::metadata;
use graph_metadata::model::RequestRule;

/// The default grant: the permissions tenantctl's README lists.
pub fn documented() -> Vec<String> {
    metadata().documented_permissions().to_vec()
}

/// Permission names Graph knows of (for refusing typos in a grant): every
/// name that appears in a generated rule.
pub fn known(name: &str) -> bool {
    metadata().data.requests.iter().any(|r| {
        r.any_of
            .iter()
            .chain(&r.all_of)
            .any(|p| p.eq_ignore_ascii_case(name))
    })
}

/// Refuses the request when the granted permissions do not allow it.
pub fn check(ctx: &Ctx, req: &GReq) -> Result<(), GraphError> {
    let segs: Vec<&str> = req.path.iter().map(String::as_str).collect();
    if metadata().needs_resource(&req.method, &segs) {
        return Ok(());
    }
    enforce(ctx, &segs, metadata().permission_rule(&req.method, &segs))
}

/// Refuses a request on an object of type `resource` (`user`, `group`)
/// when the granted permissions do not allow it for that type.
pub fn check_for(ctx: &Ctx, req: &GReq, resource: &str) -> Result<(), GraphError> {
    let segs: Vec<&str> = req.path.iter().map(String::as_str).collect();
    enforce(
        ctx,
        &segs,
        metadata().permission_rule_for(&req.method, &segs, resource),
    )
}

fn enforce(ctx: &Ctx, segs: &[&str], rule: Option<&RequestRule>) -> Result<(), GraphError> {
    let Some(rule) = rule else {
        return Ok(());
    };
    if rule.allows(&ctx.granted) {
        return Ok(());
    }
    Err(match resources::find(segs).map(|s| s.family) {
        // Intune names the scopes it wants (in its JSON-in-message shape).
        Some(Family::Intune) => GraphError::intune(
            403,
            "Forbidden",
            &format!("Application is not authorized to perform this operation. Application must have one of the following scopes: {}", rule.any_of.join(", ")),
        ),
        Some(Family::Other) => GraphError::new(403, "AccessDenied", "You cannot perform the requested operation, required scopes are missing in the token."),
        _ => GraphError::new(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    })
}
