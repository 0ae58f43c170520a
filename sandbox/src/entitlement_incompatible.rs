//! An access package's incompatible access packages and groups
//! (`/accessPackages/{id}/incompatibleAccessPackages` and
//! `/incompatibleGroups`, v1.0): listed, added with `POST .../$ref`
//! (`{"@odata.id": ".../accessPackages/{id}"}` or `".../groups/{id}"`) and
//! removed with `DELETE .../{id}/$ref`, each answering 204 as the v1.0
//! pages document. Strict: an id that names no package (or group) is 404,
//! a package made incompatible with itself and a link already there are
//! 400 (the v1.0 pages document neither error; the sandbox's wording is
//! its own). A deleted package or group leaves the lists that named it.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::resources::{DIR_MAX, DIR_PAGE};
use crate::store::Tenant;
use serde_json::{Map, Value};

pub const PACKAGES_NAV: &str = "incompatibleAccessPackages";
pub const GROUPS_NAV: &str = "incompatibleGroups";

fn ids(t: &Tenant, package: &str, nav: &str) -> Vec<String> {
    t.get(crate::entitlement::PACKAGES, package)
        .and_then(|r| r.nav.get(nav))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn set(t: &mut Tenant, package: &str, nav: &str, list: Vec<String>) {
    t.update(crate::entitlement::PACKAGES, package, |r| {
        r.nav.insert(nav.into(), Value::Array(list.into_iter().map(Value::String).collect()));
    });
}

/// The collection a link of `nav` points into.
fn target_coll(nav: &str) -> &'static str {
    if nav == PACKAGES_NAV {
        crate::entitlement::PACKAGES
    } else {
        "groups"
    }
}

/// `/accessPackages/{id}/incompatible...`.
pub fn handle(t: &mut Tenant, ctx: &Ctx, req: &GReq, package: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let nav = match rest.first() {
        Some(&PACKAGES_NAV) => PACKAGES_NAV,
        Some(&GROUPS_NAV) => GROUPS_NAV,
        _ => return Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    };
    let coll = target_coll(nav);
    match (req.method.as_str(), &rest[1..]) {
        ("GET", []) => {
            let items: Vec<Map<String, Value>> = ids(t, package, nav).iter().filter_map(|i| t.get(coll, i)).map(|r| r.data.clone()).collect();
            let context = if nav == PACKAGES_NAV { "accessPackages" } else { "groups" };
            let base = format!("{}/identityGovernance/entitlementManagement/accessPackages/{package}/{nav}", ctx.root());
            graph::list_values(ctx, context, &base, items, q, DIR_PAGE, DIR_MAX)
        }
        ("POST", ["$ref"]) => {
            let body = body_object(req)?;
            let target = body
                .get("@odata.id")
                .and_then(Value::as_str)
                .and_then(crate::groups::id_from_ref)
                .ok_or_else(|| GraphError::bad_request("Invalid URL format specified in @odata.id."))?;
            if t.get(coll, &target).is_none_or(|r| ctx.lagged(r)) {
                return Err(GraphError::not_found(&target));
            }
            if nav == PACKAGES_NAV && target.eq_ignore_ascii_case(package) {
                return Err(GraphError::bad_request("An access package cannot be incompatible with itself."));
            }
            let mut list = ids(t, package, nav);
            if list.iter().any(|i| i.eq_ignore_ascii_case(&target)) {
                return Err(GraphError::bad_request(format!("One or more added object references already exist for the following modified properties: '{nav}'.")));
            }
            list.push(target);
            set(t, package, nav, list);
            Ok(GResp::empty(204))
        }
        ("DELETE", [other, "$ref"]) => {
            let mut list = ids(t, package, nav);
            let before = list.len();
            list.retain(|i| !i.eq_ignore_ascii_case(other));
            if list.len() == before {
                return Err(GraphError::not_found(other));
            }
            set(t, package, nav, list);
            Ok(GResp::empty(204))
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

/// A deleted package leaves every other package's incompatible list.
pub fn forget_package(t: &mut Tenant, package: &str) {
    forget(t, PACKAGES_NAV, package);
}

/// A deleted group leaves every package's incompatible groups, whether it
/// is deleted for good (a security group) or moved to deleted items (a
/// Microsoft 365 group), and a restore does not bring it back: as Entra
/// takes a deleted group out of entitlement management's lists. The v1.0
/// pages do not document it; the effect tenantctl relies on is only that a
/// deleted group is not listed and cannot be unlinked (404), so a declared
/// incompatibility shows as drift and is added again.
pub fn forget_group(t: &mut Tenant, group: &str) {
    forget(t, GROUPS_NAV, group);
}

fn forget(t: &mut Tenant, nav: &str, gone: &str) {
    let holders: Vec<String> = t
        .coll(crate::entitlement::PACKAGES)
        .map(|c| c.iter().filter(|(_, r)| r.nav.get(nav).and_then(Value::as_array).is_some_and(|l| l.iter().any(|v| v.as_str().is_some_and(|i| i.eq_ignore_ascii_case(gone))))).map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    for h in holders {
        let list = ids(t, &h, nav).into_iter().filter(|i| !i.eq_ignore_ascii_case(gone)).collect();
        set(t, &h, nav, list);
    }
}
