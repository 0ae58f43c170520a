//! Access packages (`/identityGovernance/entitlementManagement/accessPackages`,
//! v1.0), matched by display name, with the Member role of each granted
//! group (`resourceRoleScopes`). v1.0's list documents only `$select` and
//! `$filter` ("List accessPackages"); the role scopes are documented on a
//! single package's GET ("List resourceRoleScopes":
//! `accessPackages/{id}?$expand=resourceRoleScopes($expand=role,scope)`),
//! so the read lists the packages plainly, then GETs each with its catalog
//! and role scopes expanded, 20 per `$batch` (`per_package`); one package
//! that cannot be read makes the kind unreadable, never in sync) and
//! their assignment policies (`/assignmentPolicies`, read once for the
//! tenant with `$expand=accessPackage`). Policies are keyed in props by
//! their lowercased display name; a changed policy is replaced whole
//! (`PUT`, `access_package_policy_write`), one no longer declared is deleted. The catalog is set when a
//! package is created: another catalog replaces it. A policy's props form
//! is `access_policy_props`; the export is `access_package_export`.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::access_package::AccessPackage;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::access_catalog::{resources as catalog_resources, AAD_GROUP};
use super::access_package_policy_write::{delete_policy, live_policies, write_policies};
use super::access_policy_props::{normalize_policy, policy_props};
use super::access_resources::{APPLICATIONS, SITES};
use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{ref_to, resource, str_field};
use crate::apply::{err, fail, Writer};
use crate::graph::{BatchRequest, GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::AccessPackage,
    collection: PACKAGES,
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::Listed,
    desired: |s, m| {
        for (k, d) in &s.access_package { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "access-packages.toml",
    export_title: "Access packages",
    read: Read::Own(read),
    create,
    update,
    delete,
    export: super::access_package_export::export,
    import_paths: &[],
    listings: || vec![PACKAGES_LISTING.to_string(), POLICIES_LISTING.to_string()],
    after_post: &["groups", "policies", "policyNames", "applications", "sites", "incompatiblePackages", "incompatibleGroups"],
};

pub const PACKAGES: &str = "/identityGovernance/entitlementManagement/accessPackages";
pub const POLICIES: &str = "/identityGovernance/entitlementManagement/assignmentPolicies";
/// The packages, as v1.0 documents their list (no `$expand`: the
/// sandbox refuses it there, as the docs give it only in beta).
const PACKAGES_LISTING: &str = "/identityGovernance/entitlementManagement/accessPackages";
/// What each package's own GET expands (documented on the single GET).
const PACKAGE_EXPAND: &str = "?$expand=catalog,resourceRoleScopes($expand=role,scope)";
pub(crate) const POLICIES_LISTING: &str = "/identityGovernance/entitlementManagement/assignmentPolicies?$expand=accessPackage,questions,customExtensionStageSettings($expand=customExtension)";
pub(super) const GROUPS: &str = "groups";
pub(super) const POLICIES_PROP: &str = "policies";
/// The policies' lowercased names as a list: nested objects compare only
/// the keys desired state sets, so a policy added in the portal shows up
/// here (a list compares whole).
const POLICY_NAMES: &str = "policyNames";
pub(super) const CATALOG: &str = "catalog";
pub(super) const GRAPH: &str = "#microsoft.graph.";


pub fn desired(key: &str, p: &AccessPackage, state: &DesiredState) -> DesiredResource {
    let mut props = Props::new();
    props.insert("displayName".into(), json!(p.display_name));
    props.insert("description".into(), p.description.as_ref().map_or(Value::Null, |d| json!(d)));
    props.insert("isHidden".into(), json!(p.is_hidden));
    props.insert(CATALOG.into(), ref_to(state, &p.catalog, &[Kind::AccessCatalog]));
    props.insert(GROUPS.into(), Value::Array(p.groups.iter().map(|g| ref_to(state, g, &[Kind::Group])).collect()));
    super::access_resources::package_props(&p.applications, &p.sites, &mut props);
    super::access_package_incompatible::desired_props(p, state, &mut props);
    let policies: Map<String, Value> = p
        .policies
        .values()
        .map(|pol| {
            let mut v = policy_props(pol, state);
            v[super::access_policy_stages::PROP] = super::access_policy_stages::props(&pol.custom_extension_stages, p, state);
            (pol.display_name.to_lowercase(), v)
        })
        .collect();
    props.insert(POLICY_NAMES.into(), json!(policies.keys().collect::<Vec<_>>()));
    props.insert(POLICIES_PROP.into(), Value::Object(policies));
    let mut r = resource(Address::new(Kind::AccessPackage, key), p.display_name.to_lowercase(), p.display_name.clone(), props);
    r.immutable = vec![CATALOG.into()];
    super::access_policy_stages::carry_catalog(&mut r, p, state);
    super::access_package_incompatible::order(key, p, state, &mut r);
    r
}


/// A role scope as a `groups` entry: the group whose Member role it is, or
/// `originSystem:roleOriginId` for any other role (drift).
pub fn role_scope_entry(rs: &Value) -> Value {
    let role = rs.get("role").cloned().unwrap_or(Value::Null);
    let origin = str_field(&role, "originId");
    match (str_field(&role, "originSystem"), origin.strip_prefix("Member_")) {
        (AAD_GROUP, Some(group)) => reference(group),
        (system, _) => json!(format!("{system}:{origin}")),
    }
}

/// The key each live policy of one package is known by: its lowercased
/// display name (how desired state names it). Where names collide
/// (Graph allows it, and they may differ only in case), the oldest
/// (`createdDateTime`; then the one whose exact name desired state
/// declares, [`declared_policy_names`]; then id) keeps the name and each other one is
/// `name [id]`: an undeclared policy the plan shows and deletes, never
/// dropped from the read and never taken for the declared one (hostile
/// run 16: a portal-made open policy named like a declared one in other
/// case hid behind it, or was "restored" into it).
pub fn policy_keys<'a>(policies: impl IntoIterator<Item = &'a Value>, declared: &BTreeSet<String>) -> Vec<(String, &'a Value)> {
    let mut by_name: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in policies {
        by_name.entry(str_field(p, "displayName").to_lowercase()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (name, mut group) in by_name {
        // The oldest keeps the name: the portal can rename a policy and
        // make a new one with the declared name exactly, but it cannot make
        // one older than the declared policy (hostile run 18, finding 8:
        // preferring the exact name took the look-alike for the declared
        // policy, and deleted the real one with its assignments).
        let rank = |p: &Value| (str_field(p, "createdDateTime").to_string(), !declared.contains(str_field(p, "displayName")), str_field(p, "id").to_string());
        group.sort_by_key(|p| rank(p));
        for (i, p) in group.into_iter().enumerate() {
            let key = if i == 0 { name.clone() } else { format!("{name} [{}]", str_field(p, "id")) };
            out.push((key, p));
        }
    }
    out
}

/// The exact display names of the policies `packages` declare.
pub fn declared_policy_names<'a>(packages: impl IntoIterator<Item = &'a DesiredResource>) -> BTreeSet<String> {
    packages.into_iter().filter_map(|r| r.props.get(POLICIES_PROP).and_then(Value::as_object)).flat_map(|m| m.values()).filter_map(|p| p.get("displayName").and_then(Value::as_str)).map(str::to_string).collect()
}

/// A live package with its role scopes and policies (raw Graph objects).
pub fn normalize(raw: &Value, role_scopes: &[Value], policies: &[&Value], declared: &BTreeSet<String>) -> LiveObject {
    let mut p = Props::new();
    for k in ["displayName", "description"] {
        p.insert(k.into(), raw.get(k).cloned().unwrap_or(Value::Null));
    }
    p.insert("isHidden".into(), json!(raw.get("isHidden").and_then(Value::as_bool).unwrap_or(false)));
    let catalog = raw.get("catalog").map(|c| str_field(c, "id")).unwrap_or_default();
    p.insert(CATALOG.into(), if catalog.is_empty() { Value::Null } else { reference(catalog) });
    p.insert(GROUPS.into(), Value::Array(role_scopes.iter().filter(|rs| other_role(rs).is_none()).map(role_scope_entry).collect()));
    super::access_resources::package_live(role_scopes, &mut p);
    let pols: Map<String, Value> = policy_keys(policies.iter().copied(), declared).into_iter().map(|(k, x)| (k, normalize_policy(x))).collect();
    p.insert(POLICY_NAMES.into(), json!(pols.keys().collect::<Vec<_>>()));
    p.insert(POLICIES_PROP.into(), Value::Object(pols));
    LiveObject {
        kind: Kind::AccessPackage,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// An application's or a site's role (its own props), not a group's.
fn other_role(rs: &Value) -> Option<(&'static str, String)> {
    super::access_resources::scope_entry(rs)
}

fn package_path(id: &str) -> String {
    format!("{PACKAGES}/{}", schema::object_id::path_segment(id))
}

/// The package's resource role scopes, with their roles and scopes.
async fn role_scopes(api: &GraphClient, id: &str) -> Result<Vec<Value>, GraphError> {
    let mut v = api.get_json(&format!("{}?$expand=resourceRoleScopes($expand=role,scope)", package_path(id))).await?;
    super::access_package_live::all_role_scopes(api, &mut v).await?;
    Ok(v.get("resourceRoleScopes").and_then(Value::as_array).cloned().unwrap_or_default())
}

pub(crate) fn policy_package(p: &Value) -> &str {
    p.get("accessPackage").map(|a| str_field(a, "id")).unwrap_or_default()
}

/// Each listed package read again by id with its catalog and role scopes
/// expanded, 20 per `$batch` (the batch retries each item's 429/5xx). Any
/// item that still fails fails the read: a package not read is unknown,
/// never "in sync" and never missing (a 404 after the listing showed it
/// is replication, not a deletion).
async fn per_package(api: &GraphClient, listed: &[Value]) -> Result<Vec<Value>, GraphError> {
    let requests: Vec<BatchRequest> = listed.iter().map(|p| BatchRequest::get(format!("{}{PACKAGE_EXPAND}", package_path(str_field(p, "id"))))).collect();
    let mut out = Vec::with_capacity(listed.len());
    for response in api.batch(requests).await? {
        let mut pkg = response.into_result()?.unwrap_or(Value::Null);
        super::access_package_live::all_role_scopes(api, &mut pkg).await?;
        out.push(pkg);
    }
    Ok(out)
}

/// Read, or nothing on a tenant without the licence entitlement
/// management needs (`super::entitlement_licence`).
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move { super::entitlement_licence::or_unavailable(read_licensed(cx).await) })
}

fn read_licensed<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let api = cx.client.v1();
        let raw = per_package(&api, &api.list_all(PACKAGES_LISTING).await?).await?;
        let policies = api.list_all(POLICIES_LISTING).await?;
        let mut by_package: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for p in &policies {
            by_package.entry(policy_package(p)).or_default().push(p);
        }
        let declared = declared_policy_names(cx.desired.resources.range(Address::new(Kind::AccessPackage, "")..).take_while(|(a, _)| a.kind == Kind::AccessPackage).map(|(_, r)| r));
        let out: Vec<LiveObject> = raw
            .iter()
            .map(|pkg| {
                let scopes = pkg.get("resourceRoleScopes").and_then(Value::as_array).cloned().unwrap_or_default();
                normalize(pkg, &scopes, by_package.get(str_field(pkg, "id")).map(Vec::as_slice).unwrap_or_default(), &declared)
            })
            .collect();
        let mut out = out;
        if super::access_package_incompatible::wanted(cx) {
            let ids: Vec<&str> = raw.iter().map(|p| str_field(p, "id")).collect();
            let lists = super::access_package_incompatible::read(&api, &ids).await?;
            for o in &mut out {
                super::access_package_incompatible::add_live(o, lists.get(&o.id));
            }
        }
        let under = super::access_package_live::assignments_under_deletes(cx, &out).await?;
        out.extend(under);
        Ok(Readout { objects: out, after: Some(guards), refused: BTreeMap::new() })
    })
}

/// The package's guards, after every kind is read: a policy deleted under
/// assignments (`access_policy_rename`), then an extension deleted under a
/// policy that stays (`access_extension_guard`, also run after the
/// catalogs' read: this run sees the packages the first guard held).
fn guards(observed: &mut engine::ObservedState, desired: &engine::DesiredModel, ledger: &engine::Ledger) {
    super::access_policy_rename::guard(observed, desired, ledger);
    super::access_extension_guard::guard(observed, desired, ledger);
}

/// The Member role of `group` added to the package (the group must be a
/// resource of `catalog`).
async fn add_group(w: &Writer<'_>, api: &GraphClient, package: &str, resources: &[Value], group: &str) -> Result<(), ExecError> {
    let res = resources
        .iter()
        .find(|r| str_field(r, "originSystem") == AAD_GROUP && str_field(r, "originId") == group)
        .ok_or_else(|| err(format!("group {group} is not a resource of the package's catalog")))?;
    let body = json!({
        "role": {"displayName": "Member", "originId": format!("Member_{group}"), "originSystem": AAD_GROUP, "resource": {"id": str_field(res, "id"), "originId": group, "originSystem": AAD_GROUP}},
        "scope": {"originId": group, "originSystem": AAD_GROUP, "isRootScope": true},
    });
    w.send(api, Method::POST, &format!("{}/resourceRoleScopes", package_path(package)), Some(body)).await.map(|_| ())
}

pub(super) fn catalog_id(w: &Writer<'_>, r: &DesiredResource) -> Result<String, ExecError> {
    let target = r.props.get(CATALOG).and_then(as_reference).ok_or_else(|| err("the package names no catalog"))?;
    w.ref_id(target).ok_or_else(|| err(format!("{target} has no object id yet")))
}

async fn write_groups(w: &Writer<'_>, api: &GraphClient, r: &DesiredResource, id: &str, fresh: bool) -> Result<(), ExecError> {
    let want = w.ref_ids(r.props.get(GROUPS))?;
    let live = if fresh { Vec::new() } else { role_scopes(api, id).await.map_err(fail)? };
    let have: BTreeSet<String> = live.iter().filter_map(|rs| as_reference(&role_scope_entry(rs)).map(str::to_string)).collect();
    let missing: Vec<&String> = want.iter().filter(|g| !have.contains(*g)).collect();
    if !missing.is_empty() {
        let resources = catalog_resources(api, &catalog_id(w, r)?).await.map_err(fail)?;
        for g in missing {
            add_group(w, api, id, &resources, g).await?;
        }
    }
    for rs in live.iter().filter(|rs| other_role(rs).is_none()) {
        let keep = as_reference(&role_scope_entry(rs)).is_some_and(|g| want.contains(g));
        if !keep {
            let path = format!("{}/resourceRoleScopes/{}", package_path(id), schema::object_id::path_segment(str_field(rs, "id")));
            match w.try_execute(api, GraphRequest::new(Method::DELETE, path)).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }
    Ok(())
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let catalog = catalog_id(w, r)?;
        let mut body: Map<String, Value> = ["displayName", "description", "isHidden"].iter().filter_map(|k| r.props.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone()))).collect();
        body.insert(CATALOG.into(), json!({"id": catalog}));
        let id = w.post_new(w.base(), Value::Object(body)).await?;
        let api = w.api();
        w.wait(&api, &package_path(&id)).await?;
        write_groups(w, &api, r, &id, true).await?;
        super::access_resources::write_roles(w, &api, r, &package_path(&id), &catalog, &[]).await?;
        write_policies(w, &api, r, &id, true).await?;
        super::access_package_incompatible::write(w, &api, &id, true).await?;
        super::access_package_incompatible::write_named_by(w, &api, &id).await?;
        Ok(id)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let api = w.api();
        let scalar = w.scalar(&[GROUPS, POLICIES_PROP, POLICY_NAMES, CATALOG, APPLICATIONS, SITES, super::access_package_incompatible::PACKAGES_PROP, super::access_package_incompatible::GROUPS_PROP])?;
        if !scalar.is_empty() {
            w.send(&api, Method::PATCH, &package_path(id), Some(json!(scalar))).await?;
        }
        let touched = w.touched();
        if touched.contains(GROUPS) {
            write_groups(w, &api, r, id, false).await?;
        }
        if touched.contains(APPLICATIONS) || touched.contains(SITES) {
            let live = role_scopes(&api, id).await.map_err(fail)?;
            super::access_resources::write_roles(w, &api, r, &package_path(id), &catalog_id(w, r)?, &live).await?;
        }
        if touched.contains(POLICIES_PROP) || touched.contains(POLICY_NAMES) {
            write_policies(w, &api, r, id, false).await?;
        }
        if super::access_package_incompatible::touched(w) {
            super::access_package_incompatible::write(w, &api, id, false).await?;
        }
        Ok(())
    })
}

/// Its assignments ended, then its policies (Graph deletes a policy or
/// package only once nothing is assigned through it), then the package.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let api = w.api();
        super::access_package_removal::end_assignments(w, &api, id).await?;
        for p in live_policies(&api, id, &BTreeSet::new()).await.map_err(fail)?.values() {
            delete_policy(w, &api, str_field(p, "id")).await?;
        }
        match w.try_execute(&api, GraphRequest::new(Method::DELETE, package_path(id))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(fail(e)),
        }
    })
}
