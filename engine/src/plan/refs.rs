//! References between the two sides: live ids rewritten as the addresses of
//! matched objects, and the addresses a declared value refers to.

use std::collections::BTreeSet;

use schema::Address;
use serde_json::Value;

use crate::fast_hash::IdMap;
use crate::model::{as_reference, reference};

/// Replace `{{id}}` placeholders in a live natural key with `{{address}}`
/// where the id belongs to a matched object, so keys that embed references
/// (role assignments) compare by identity.
pub(super) fn resolve_key(key: &str, ids: &IdMap) -> String {
    let mut out = String::new();
    let mut rest = key;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let inner = &after[..end];
                match ids.get(inner) {
                    Some(a) => out.push_str(&format!("{{{{{a}}}}}")),
                    None => out.push_str(&format!("{{{{{inner}}}}}")),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.to_lowercase()
}

/// A live reference's target: the address of a matched object, else `id:ID`.
fn resolve_id(id: &str, ids: &IdMap) -> String {
    match ids.get(id) {
        Some(a) => a.to_string(),
        None => format!("id:{id}"),
    }
}

/// Rewrite live references (ids) as addresses where known.
pub(super) fn resolve_refs(v: &Value, ids: &IdMap) -> Value {
    if let Some(id) = as_reference(v) {
        return reference(resolve_id(id, ids));
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_refs(v, ids))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_refs(v, ids)).collect()),
        other => other.clone(),
    }
}

/// A live object's properties, references resolved (what a delete carries).
pub(super) fn resolved_props(o: &crate::model::LiveObject, ids: &IdMap) -> crate::model::Props {
    o.props.iter().map(|(k, v)| (k.clone(), resolve_refs(v, ids))).collect()
}

/// The addresses a value refers to.
pub fn referenced_addresses(v: &Value, out: &mut BTreeSet<Address>) {
    if let Some(r) = as_reference(v) {
        if let Ok(a) = r.parse() {
            out.insert(a);
        }
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|v| referenced_addresses(v, out)),
        Value::Array(a) => a.iter().for_each(|v| referenced_addresses(v, out)),
        _ => {}
    }
}
