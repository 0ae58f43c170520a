//! The collections `[graph_object]` may name, found in the metadata rather
//! than listed by hand: every collection-valued navigation property of the
//! singletons in `tables::OBJECT_OWNERS` (v1.0, or only in beta where the
//! beta declarations type it) and the entity sets in
//! `tables::OBJECT_ENTITY_SETS`, whose members are entities Graph's
//! permission table lets an application create (an exact `POST` rule).
//! Each notes its assignment action when its entity (or a base) has a bound
//! `assign` action taking assignments with a `target`, and an `assignments`
//! navigation to read them back.

use crate::beta;
use crate::csdl::Csdl;
use crate::tables::{OBJECT_ENTITY_SETS, OBJECT_OWNERS};
use crate::NS;
use graph_metadata::model::{AssignDef, CollectionDef, TypeKind};
use std::collections::BTreeMap;

/// `assign` actions bound to an entity type: bound type -> (parameter
/// name, assignment element type), from the CSDL text.
pub fn assign_actions(xml: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for block in xml.split("<Action Name=\"assign\" IsBound=\"true\"").skip(1) {
        let Some(block) = block.split("</Action>").next() else { continue };
        let params: Vec<(String, String)> = block
            .split("<Parameter Name=\"")
            .skip(1)
            .filter_map(|p| {
                let (name, rest) = p.split_once('"')?;
                let ty = rest.split("Type=\"").nth(1)?.split('"').next()?;
                Some((name.to_string(), ty.to_string()))
            })
            .collect();
        let [(_, bound), (param, ty)] = params.as_slice() else { continue };
        let full = |t: &str| t.replacen("graph.", &format!("{NS}."), 1);
        let Some(elem) = ty.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')) else { continue };
        if bound.starts_with("Collection(") || !elem.starts_with("graph.") {
            continue;
        }
        out.insert(full(bound), (param.clone(), full(elem)));
    }
    out
}

/// Whether `t` (or a base) has property `p` typed `ty`.
fn has_prop(v1: &Csdl, t: &str, p: &str, ty: &str) -> bool {
    let mut cur = Some(t.to_string());
    while let Some(name) = cur {
        let Some(d) = v1.types.get(&name) else { return false };
        if d.props.get(p).or(d.beta_typed.get(p)).is_some_and(|x| x.t == ty) {
            return true;
        }
        cur = d.base.clone();
    }
    false
}

/// The assign action of `entity` (its own or a base's), when its
/// assignments have a target and the entity an `assignments` navigation.
fn assign_of(v1: &Csdl, actions: &BTreeMap<String, (String, String)>, entity: &str) -> Option<AssignDef> {
    let mut cur = Some(entity.to_string());
    let mut nav = false;
    let mut found = None;
    while let Some(name) = cur {
        let d = v1.types.get(&name)?;
        nav |= d.nav.contains_key("assignments");
        if found.is_none() {
            found = actions.get(&name).cloned();
        }
        cur = d.base.clone();
    }
    let (param, assignment) = found?;
    let target = format!("{NS}.deviceAndAppManagementAssignmentTarget");
    (nav && has_prop(v1, &assignment, "target", &target)).then(|| AssignDef {
        param,
        assignment: assignment.trim_start_matches(&format!("{NS}.")).to_string(),
    })
}

/// Candidate collections: (path, entity full name, beta only).
pub fn candidates(v1: &Csdl, ts: &BTreeMap<String, beta::Interface>) -> Result<Vec<(String, String, bool)>, String> {
    let mut out = Vec::new();
    for (prefix, owner) in OBJECT_OWNERS {
        let owner_full = format!("{NS}.{owner}");
        let t = v1.types.get(&owner_full).ok_or_else(|| format!("OBJECT_OWNERS: no type {owner_full}"))?;
        for (name, n) in &t.nav {
            if n.c && v1.types.get(&n.t).is_some_and(|e| e.kind == TypeKind::Entity) {
                out.push((format!("{prefix}/{name}"), n.t.clone(), false));
            }
        }
        // Beta-only navigation properties, typed by the beta declarations.
        for name in t.beta_props.iter().chain(t.beta_typed.keys()) {
            let Some(p) = ts.get(&owner_full).and_then(|i| i.props.get(name)) else { continue };
            let typed = beta::edm(p, |x| v1.types.contains_key(x));
            if typed.c && v1.types.get(&typed.t).is_some_and(|e| e.kind == TypeKind::Entity) {
                out.push((format!("{prefix}/{name}"), typed.t, true));
            }
        }
    }
    for (path, entity) in OBJECT_ENTITY_SETS {
        let full = format!("{NS}.{entity}");
        if !v1.types.contains_key(&full) {
            return Err(format!("OBJECT_ENTITY_SETS: {path}: no type {full}"));
        }
        out.push(((*path).to_string(), full, false));
    }
    out.sort();
    out.dedup_by(|a, b| a.0.eq_ignore_ascii_case(&b.0));
    Ok(out)
}

/// The requests tenantctl's graph_object makes on a collection (for the
/// permission rules), `requests.txt` lines.
pub fn requests(c: &CollectionDef) -> Vec<String> {
    let mut v = vec![
        format!("GET {}", c.path),
        format!("GET {}/{{id}}", c.path),
        format!("POST {}", c.path),
        format!("PATCH {}/{{id}}", c.path),
        format!("DELETE {}/{{id}}", c.path),
    ];
    if c.assign.is_some() {
        v.push(format!("POST {}/{{id}}/assign", c.path));
        v.push(format!("GET {}/{{id}}/assignments", c.path));
    }
    v
}

/// The collections, given which paths have an exact POST rule.
pub fn object_collections(
    v1: &Csdl,
    ts: &BTreeMap<String, beta::Interface>,
    actions: &BTreeMap<String, (String, String)>,
    creatable: impl Fn(&str) -> bool,
) -> Result<Vec<CollectionDef>, String> {
    let mut out = Vec::new();
    for (path, entity, beta_only) in candidates(v1, ts)? {
        if !creatable(&path) {
            continue;
        }
        let assign = if beta_only { None } else { assign_of(v1, actions, &entity) };
        out.push(CollectionDef {
            path,
            entity: entity.trim_start_matches(&format!("{NS}.")).to_string(),
            beta_only,
            assign,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
