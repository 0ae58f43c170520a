//! An access package's incompatible access packages and groups
//! (`incompatibleAccessPackages`, `incompatibleGroups`: v1.0 `$ref`
//! collections; "List", "Add" (`POST .../$ref` with the other object's
//! `@odata.id`) and "Remove" (`DELETE .../{id}/$ref`) pages, all
//! `EntitlementManagement.ReadWrite.All` for applications). Declared by
//! key (`incompatible_packages`, `incompatible_groups`; absent: not
//! managed), compared as sets of references, read only when a declared
//! package manages one or on export (two GETs per package, in `$batch`),
//! written after the package exists (on create) or when they changed.
//!
//! A link needs both packages to exist, not an order between their
//! creates, so packages naming each other (two both ways, or a ring
//! a -> b -> c -> a, which Entra allows) are not a dependency cycle: of
//! two linked packages the one whose key sorts later is made after the
//! other ([`order`]), and the later one writes the link whichever of the
//! two names it: its own links as usual, and on its create the links of
//! the earlier packages that name it (carried in `create_only`
//! [`NAMED_BY`]), which those packages' own writes skipped because it did
//! not exist yet.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::model::{as_reference, reference};
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::access_package::AccessPackage;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{ref_to, str_field};
use crate::apply::{fail, Writer};
use crate::graph::{BatchRequest, GraphClient, GraphError, GraphRequest, Method};
use crate::observe::ReadCx;

/// Props of the incompatible packages and groups.
pub const PACKAGES_PROP: &str = "incompatiblePackages";
pub const GROUPS_PROP: &str = "incompatibleGroups";
/// The Graph navigation of each prop.
const NAVS: [(&str, &str); 2] = [(PACKAGES_PROP, "incompatibleAccessPackages"), (GROUPS_PROP, "incompatibleGroups")];

/// `create_only` entry of a package: the packages whose keys sort before
/// its own that name it as incompatible (references); its create writes
/// their links to it.
pub const NAMED_BY: &str = "incompatibleNamedBy";

/// The packages a package's `incompatible_packages` names, resolved.
fn named(p: &AccessPackage, state: &DesiredState) -> BTreeSet<Address> {
    p.incompatible_packages.iter().flatten().filter_map(|k| state.resolve(k, &[Kind::AccessPackage]).ok()).collect()
}

/// `r` (package `key`) ordered by its links rather than by its references:
/// it depends on a linked package (either naming the other) only when
/// that package's key sorts before its own, so rings order by key; and
/// it carries the earlier packages that name it ([`NAMED_BY`]).
pub fn order(key: &str, p: &AccessPackage, state: &DesiredState, r: &mut DesiredResource) {
    let mut deps = BTreeSet::new();
    for (prop, v) in &r.props {
        if prop != PACKAGES_PROP {
            engine::plan::referenced_addresses(v, &mut deps);
        }
    }
    let earlier = |a: &Address| a.key.as_str() < key;
    deps.extend(named(p, state).into_iter().filter(|a| earlier(a)));
    let mut named_by = Vec::new();
    for (other, d) in &state.access_package {
        let at = Address::new(Kind::AccessPackage, other.as_str());
        if named(&d.value, state).iter().any(|a| a.key.as_str() == key) && earlier(&at) {
            deps.insert(at.clone());
            named_by.push(reference(at.to_string()));
        }
    }
    deps.remove(&r.address);
    r.depends_on = deps.into_iter().collect();
    if !named_by.is_empty() {
        r.create_only.insert(NAMED_BY.into(), Value::Array(named_by));
    }
}

/// The declared lists, as references.
pub fn desired_props(p: &AccessPackage, state: &DesiredState, props: &mut Props) {
    if let Some(list) = &p.incompatible_packages {
        props.insert(PACKAGES_PROP.into(), Value::Array(list.iter().map(|k| ref_to(state, k, &[Kind::AccessPackage])).collect()));
    }
    if let Some(list) = &p.incompatible_groups {
        props.insert(GROUPS_PROP.into(), Value::Array(list.iter().map(|k| ref_to(state, k, &[Kind::Group])).collect()));
    }
}

/// Whether the read needs the lists: a declared package manages one, or
/// everything is read (export).
pub fn wanted(cx: &ReadCx<'_>) -> bool {
    cx.everything || cx.desired.resources.values().any(|r| r.address.kind == Kind::AccessPackage && NAVS.iter().any(|(p, _)| r.props.contains_key(*p)))
}

fn package_path(id: &str) -> String {
    format!("{}/{}", super::access_package::PACKAGES, schema::object_id::path_segment(id))
}

/// Each package's lists (package id -> prop -> object ids), read in
/// `$batch`; a page link is followed; any failure fails the read (what was
/// not read is never in sync).
pub async fn read(api: &GraphClient, packages: &[&str]) -> Result<BTreeMap<String, BTreeMap<&'static str, Vec<String>>>, GraphError> {
    let mut asked = Vec::new();
    let mut requests = Vec::new();
    for p in packages {
        for (prop, nav) in NAVS {
            asked.push((p.to_string(), prop));
            requests.push(BatchRequest::get(format!("{}/{nav}", package_path(p))));
        }
    }
    let mut out: BTreeMap<String, BTreeMap<&'static str, Vec<String>>> = BTreeMap::new();
    for ((package, prop), response) in asked.into_iter().zip(api.batch(requests).await?) {
        let body = response.into_result()?.unwrap_or(Value::Null);
        let mut items = body.get("value").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(link) = body.get("@odata.nextLink").and_then(Value::as_str) {
            items.extend(api.list_all(link).await?);
        }
        let ids = items.iter().map(|i| str_field(i, "id").to_string()).filter(|i| !i.is_empty()).collect();
        out.entry(package).or_default().insert(prop, ids);
    }
    Ok(out)
}

/// `o` with the lists read for it.
pub fn add_live(o: &mut LiveObject, lists: Option<&BTreeMap<&'static str, Vec<String>>>) {
    let Some(lists) = lists else { return };
    for (prop, _) in NAVS {
        let refs = lists.get(prop).into_iter().flatten().map(reference).collect();
        o.props.insert(prop.into(), Value::Array(refs));
    }
}

/// Whether an update must write the lists.
pub fn touched(w: &Writer<'_>) -> bool {
    let t = w.touched();
    NAVS.iter().any(|(p, _)| t.contains(*p))
}

/// The declared lists written to package `id`: what is missing added,
/// what is not declared removed (`fresh`: the package was just made).
pub async fn write(w: &Writer<'_>, api: &GraphClient, id: &str, fresh: bool) -> Result<(), ExecError> {
    let r = w.desired()?;
    for (prop, nav) in NAVS {
        let Some(v) = r.props.get(prop) else { continue };
        let want = if prop == PACKAGES_PROP { package_ids(w, v)? } else { w.ref_ids(Some(v))? };
        let have: BTreeSet<String> = if fresh {
            BTreeSet::new()
        } else {
            let listed = api.list_all(&format!("{}/{nav}", package_path(id))).await.map_err(fail)?;
            listed.iter().map(|i| str_field(i, "id").to_string()).collect()
        };
        let target = |other: &str| {
            let base = w.client().cloud().graph_base();
            if prop == PACKAGES_PROP {
                format!("{base}/v1.0{}", package_path(other))
            } else {
                format!("{base}/v1.0/groups/{}", schema::object_id::path_segment(other))
            }
        };
        for other in want.iter().filter(|o| !have.iter().any(|h| h.eq_ignore_ascii_case(o))) {
            w.send(api, Method::POST, &format!("{}/{nav}/$ref", package_path(id)), Some(json!({"@odata.id": target(other)}))).await?;
        }
        for other in have.iter().filter(|h| !want.iter().any(|o| o.eq_ignore_ascii_case(h))) {
            let path = format!("{}/{nav}/{}/$ref", package_path(id), schema::object_id::path_segment(other));
            match w.try_execute(api, GraphRequest::new(Method::DELETE, path)).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(fail(e)),
            }
        }
    }
    Ok(())
}

/// The object ids of the declared incompatible packages; one whose key
/// sorts after this package's and that has no id yet is left out: it is
/// made later in this apply, and its create writes the link ([`NAMED_BY`]).
fn package_ids(w: &Writer<'_>, v: &Value) -> Result<BTreeSet<String>, ExecError> {
    let own = w.address().key.as_str();
    let mut out = BTreeSet::new();
    for target in v.as_array().into_iter().flatten().filter_map(as_reference) {
        match w.ref_id(target) {
            Some(id) => {
                out.insert(id);
            }
            None if target.parse::<Address>().is_ok_and(|a| a.key.as_str() > own) => {}
            None => return Err(crate::apply::err(format!("{target} has no object id yet"))),
        }
    }
    Ok(out)
}

/// On a package's create (`id`): the links of the earlier packages that
/// name it ([`NAMED_BY`]), written onto them now that it exists.
pub async fn write_named_by(w: &Writer<'_>, api: &GraphClient, id: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    let Some(list) = r.create_only.get(NAMED_BY) else { return Ok(()) };
    let this = format!("{}/v1.0{}", w.client().cloud().graph_base(), package_path(id));
    for target in list.as_array().into_iter().flatten().filter_map(as_reference) {
        let other = w.ref_id(target).ok_or_else(|| crate::apply::err(format!("{target} has no object id yet")))?;
        w.send(api, Method::POST, &format!("{}/incompatibleAccessPackages/$ref", package_path(&other)), Some(json!({"@odata.id": this}))).await?;
    }
    Ok(())
}

/// A list of declared keys, or not managed.
pub type Keys = Option<Vec<String>>;

/// The lists as TOML keys; Err naming what is not exported. A list is
/// written only when it is not empty (absent: not managed, which re-plans
/// empty against an empty live list too).
pub fn export(o: &LiveObject, key_of: &dyn Fn(&str) -> Option<Address>) -> Result<(Keys, Keys), String> {
    let keys = |prop: &str, kind: Kind, what: &str| -> Result<Keys, String> {
        let list: Vec<String> = o
            .props
            .get(prop)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(as_reference)
            .map(|id| key_of(id).filter(|a| a.kind == kind).map(|a| a.key.to_string()).ok_or_else(|| format!("incompatible {what} {id} is not exported")))
            .collect::<Result<_, _>>()?;
        let mut list = list;
        list.sort();
        Ok((!list.is_empty()).then_some(list))
    };
    Ok((keys(PACKAGES_PROP, Kind::AccessPackage, "access package")?, keys(GROUPS_PROP, Kind::Group, "group")?))
}
