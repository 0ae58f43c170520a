//! `$select` and `$filter` name properties Graph's metadata knows: Graph
//! answers 400 for a property the type does not have, and for `eq` on a
//! collection (`otherMails eq 'x'`; a collection is compared inside
//! `any()`). Checked for the directory and conditional access collections,
//! whose types are not polymorphic; Intune collections hold many derived
//! types whose properties a query may name, and are not checked.

use crate::error::GraphError;
use crate::odata::{Filter, Query};
use graph_metadata::{metadata, PropInfo};

/// The entity type of a collection whose queries are checked.
fn entity(coll: &str) -> Option<&'static str> {
    Some(match coll {
        "users" => "user",
        "groups" => "group",
        "roleAssignments" => "unifiedRoleAssignment",
        "roleDefinitions" => "unifiedRoleDefinition",
        "conditionalAccessPolicies" => "conditionalAccessPolicy",
        _ => return None,
    })
}

fn unknown(prop: &str, t: &str) -> GraphError {
    GraphError::bad_request(format!("Could not find a property named '{prop}' on type 'microsoft.graph.{t}'."))
}

/// Refuses a query naming a property `coll`'s type does not have, or
/// comparing a collection with `eq`/`ne`/`in`.
pub fn check(coll: &str, q: &Query, beta: bool) -> Result<(), GraphError> {
    let Some(t) = entity(coll) else { return Ok(()) };
    let props = metadata().properties(t, beta);
    if props.is_empty() {
        return Ok(());
    }
    let head = |p: &str| p.split('/').next().unwrap_or(p).to_string();
    for p in q.select.iter().flatten() {
        if !p.starts_with('@') && !props.contains_key(head(p).as_str()) {
            return Err(unknown(p, t));
        }
    }
    let Some(f) = &q.filter else { return Ok(()) };
    let mut named = Vec::new();
    walk(f, &mut named);
    for (p, compared) in named {
        match props.get(head(&p).as_str()) {
            None => return Err(unknown(&p, t)),
            Some(PropInfo::Typed(info)) if compared && info.c && !p.contains('/') => {
                return Err(GraphError::bad_request(format!(
                    "Invalid filter clause: the property '{p}' is a collection; compare its items with any(), e.g. {p}/any(x:x eq 'value')."
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every property a filter names, and whether it is compared as a single
/// value (`eq`, `ne`, `in`, `startswith`, ...) rather than through `any()`.
fn walk(f: &Filter, out: &mut Vec<(String, bool)>) {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            walk(a, out);
            walk(b, out);
        }
        Filter::Not(a) => walk(a, out),
        Filter::Cmp(p, ..) | Filter::StartsWith(p, _) | Filter::EndsWith(p, _) | Filter::In(p, _) => out.push((p.clone(), true)),
        Filter::Any(p, _) => out.push((p.clone(), false)),
        Filter::IsOf(_) => {}
    }
}
