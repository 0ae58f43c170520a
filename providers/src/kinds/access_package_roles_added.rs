//! Requests already waiting on a package whose granted roles the plan
//! grows (access18).
//!
//! An assignment grants the package's resource roles as they are when it
//! is delivered: "You can also add resources after the access package is
//! created, and users assigned to the access package will also receive the
//! extra resources" (Entra's "Create an access package" /
//! "Change resource roles for an access package"). A request waiting for
//! approval when the plan adds a group, an application role or a site
//! role to its package is therefore granted more, once approved, than
//! its requestor asked for and its approvers were shown. The plan names
//! those requests (every policy's: the roles are the package's), with the
//! roles added, so approvers decide them knowing what they now grant.
//!
//! Reads nothing itself: the roles added are told from desired state and
//! the package as read; the requests are listed (one listing per package,
//! `access_policy_pending::waiting`) only when some role is added.

use std::collections::BTreeSet;

use engine::model::as_reference;
use engine::{DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde_json::Value;

use super::access_package::GROUPS;
use super::access_policy_audience::resolve;
use super::access_resources::{APPLICATIONS, SITES};
use super::access_policy_reach::Directory;

fn strings(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The roles the declared package `r` grants that the live `o` does not,
/// as said in the warning ("group `Audit readers`", "application role
/// `<sp id>#Reader`", "site role `<url>#Members`"), in a stable order.
pub fn added(r: &DesiredResource, o: &LiveObject, desired: &DesiredModel, ledger: &Ledger, observed: &ObservedState) -> Vec<String> {
    let mut out = Vec::new();
    let have_groups: BTreeSet<&str> = o.props.get(GROUPS).and_then(Value::as_array).into_iter().flatten().filter_map(as_reference).collect();
    let dir = Directory::new(desired, ledger, observed);
    // Groups read: a declared group not resolved to a live id is then one
    // the plan creates. Groups not read (or not yet: the reconcile loop
    // reads the directory through delta apart), one not resolved is not
    // known, and not taken for one added.
    let groups_read = observed.objects.contains_key(&Kind::Group) && !observed.unreadable.contains_key(&Kind::Group);
    for g in r.props.get(GROUPS).and_then(Value::as_array).into_iter().flatten() {
        let resolved = resolve(g, desired, ledger, observed);
        let Some(id) = as_reference(&resolved) else { continue };
        let live = dir.group(id).is_some();
        if have_groups.contains(id) || !live && !groups_read {
            continue;
        }
        // A group not live yet (made by this plan) is named by its address.
        out.push(format!("group `{}`", if live { dir.name(id) } else { id.to_string() }));
    }
    for (prop, said) in [(APPLICATIONS, "application role"), (SITES, "site role")] {
        let Some(want) = r.props.get(prop) else { continue };
        let have = strings(o.props.get(prop));
        out.extend(strings(Some(want)).into_iter().filter(|e| !have.contains(e)).map(|e| format!("{said} `{e}`")));
    }
    out.sort();
    out.dedup();
    out
}

/// The warning for a package whose roles grow, naming the requests
/// already waiting on it (`who`, each shown with its policy).
pub fn warning(address: &str, roles: &[String], who: &[String]) -> String {
    let n = who.len();
    let (noun, verb) = if n == 1 { ("request", "is") } else { ("requests", "are") };
    format!(
        "{address}: sensitive: this plan adds to what the access package grants ({}), but {n} {noun} {verb} already waiting for approval on it: {}. Once approved, each is granted the roles added too, more than its requestor asked for and its approvers were shown: approvers should decide them knowing what they now grant",
        roles.join(", "),
        who.join(", ")
    )
}
