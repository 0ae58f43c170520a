//! Field-level comparison of desired and live properties.
//!
//! Only what desired state declares is compared. Normalization makes the
//! comparison free of false drift: null, absent and empty are equal; numbers
//! compare by value; arrays of references are sets; nested objects compare
//! only the keys desired state sets.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use schema::Address;

use crate::model::{as_reference, Props};

/// One property that differs. `before` is None when the live object lacks
/// it (or for a create); `after` is None for a removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Dotted path, e.g. `installationSchedule.activeHoursStart`.
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub after: Option<Value>,
}

/// A side that is present in the file, `null` included, is `Some`: serde's
/// default reads `"before": null` as `None`, which is then written without
/// the key, so a plan with a `null` side (a field no longer managed whose
/// live value is null) hashed differently once read back and no approver
/// could sign it (hostile run 28, finding 7). An absent key is `None`
/// (`default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Whether a value counts as "not set".
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_empty),
        _ => false,
    }
}

/// Canonical form used for comparison and display: empty values removed
/// from objects, reference arrays sorted.
pub fn canonical(v: &Value) -> Value {
    canonicalize(v, false)
}

/// The desired side's canonical form keeps empty values: a declared empty
/// list (no exclusions) must still be compared with what is live.
fn canonical_desired(v: &Value) -> Value {
    canonicalize(v, true)
}

fn canonicalize(v: &Value, keep_empty: bool) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let c = canonicalize(&m[k], keep_empty);
                if keep_empty || !is_empty(&c) {
                    out.insert(k.clone(), c);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|i| canonicalize(i, keep_empty)).collect();
            if items.iter().all(|i| as_reference(i).is_some() || i.is_string()) {
                // Each item's text once (not once per comparison); the
                // sort is stable, so the order is the same.
                items.sort_by_cached_key(|x| x.to_string());
                items.dedup();
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

fn equal(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => equal(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(a, b)| equal(a, b)),
        (d, l) if is_empty(d) && is_empty(l) => true,
        (d, l) => d == l,
    }
}

/// Differences between desired and live props, for the keys desired declares.
pub fn diff_props(desired: &Props, live: &Props) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (k, dv) in desired {
        let dv = canonical_desired(dv);
        let lv = live.get(k).map(canonical).unwrap_or(Value::Null);
        diff_value(k, &dv, &lv, &mut out);
    }
    out
}

/// Whether a value is a JSON scalar: its canonical form is itself.
fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// [`diff_props`] against live props whose references are still ids:
/// `resolve` rewrites a live value's references (it is only called for the
/// declared keys whose values are not scalars), `resolve_id` the address
/// a live reference's target was matched to (`resolve` writes it so, and
/// any other as `id:ID`). Scalars on both sides
/// are compared in place, without copying either, and so are lists of
/// references (members, owners) that hold the same targets: the result is
/// exactly that of `diff_props(desired, &live resolved)`.
pub fn diff_props_with<'i>(desired: &Props, live: &Props, resolve: impl Fn(&Value) -> Value, resolve_id: impl Fn(&str) -> Option<&'i Address>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (k, dv) in desired {
        // Looked up, not walked beside: a walk compared the bytes of every
        // live key it passed (live objects carry many more keys than are
        // declared), where `Props::get` compares only keys of the same
        // length (string compares were the diff's largest cost, issue 13).
        let lv = live.get(k.as_str());
        if is_scalar(dv) && lv.is_none_or(is_scalar) {
            // Canonical forms and resolved references of scalars are the
            // scalars themselves.
            diff_value(k, dv, lv.unwrap_or(&Value::Null), &mut out);
            continue;
        }
        if let (Value::Array(d), Some(Value::Array(l))) = (dv, lv) {
            if same_targets(d, l, &resolve_id) {
                continue;
            }
        }
        let dv = canonical_desired(dv);
        let lv = lv.map(|v| canonical(&resolve(v))).unwrap_or(Value::Null);
        diff_value(k, &dv, &lv, &mut out);
    }
    out
}

/// Whether two lists made only of references hold the same targets (the
/// live ones resolved): then their canonical forms (sorted, deduplicated)
/// are equal. False when either holds anything else, or they differ: the
/// caller then compares them the long way, which names the difference.
/// A live id resolves to the address it was matched to (`resolve_id`), else
/// to `id:ID`; that text is compared without being built.
fn same_targets<'i>(desired: &[Value], live: &[Value], resolve_id: &impl Fn(&str) -> Option<&'i Address>) -> bool {
    let Some(mut d) = desired.iter().map(as_reference).collect::<Option<Vec<&str>>>() else { return false };
    let Some(ids) = live.iter().map(as_reference).collect::<Option<Vec<&str>>>() else { return false };
    d.sort_unstable();
    d.dedup();
    // Every live target is a declared one, and every declared one is hit.
    let mut hit = vec![false; d.len()];
    for id in ids {
        let found = match resolve_id(id) {
            Some(a) => d.binary_search_by(|t| cmp_joined(t, &[a.kind.as_str(), ".", &a.key])),
            None => d.binary_search_by(|t| cmp_joined(t, &["id:", id])),
        };
        match found {
            Ok(i) => hit[i] = true,
            Err(_) => return false,
        }
    }
    hit.into_iter().all(|h| h)
}

/// `s` ordered against the concatenation of `parts` (byte order, as `str`
/// orders), without building it.
pub fn cmp_joined(s: &str, parts: &[&str]) -> Ordering {
    let mut rest = s.as_bytes();
    for p in parts {
        let p = p.as_bytes();
        let n = rest.len().min(p.len());
        match rest[..n].cmp(&p[..n]) {
            Ordering::Equal => {}
            other => return other,
        }
        if rest.len() < p.len() {
            return Ordering::Less;
        }
        rest = &rest[n..];
    }
    if rest.is_empty() {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

fn diff_value(path: &str, dv: &Value, lv: &Value, out: &mut Vec<FieldChange>) {
    if equal(dv, lv) {
        return;
    }
    // Descend into plain nested objects so a reviewer sees the leaf that changed.
    if let (Value::Object(d), Value::Object(l)) = (dv, lv) {
        if !d.is_empty() && !d.keys().any(|k| k.starts_with('@')) {
            for (k, v) in d {
                let sub = l.get(k).cloned().unwrap_or(Value::Null);
                diff_value(&format!("{path}.{k}"), v, &sub, out);
            }
            return;
        }
    }
    out.push(FieldChange {
        field: path.to_string(),
        before: (!is_empty(lv)).then(|| lv.clone()),
        after: (!is_empty(dv)).then(|| dv.clone()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reference;
    use serde_json::json;

    fn props(v: Value) -> Props {
        serde_json::from_value(v).expect("test fixture")
    }

    #[test]
    fn null_empty_and_absent_are_equal() {
        let d = props(json!({"description": null, "members": [], "x": ""}));
        assert!(diff_props(&d, &Props::new()).is_empty());
    }

    #[test]
    fn only_declared_keys_compared_and_numbers_by_value() {
        let d = props(json!({"a": 1, "n": {"x": true}}));
        let l = props(json!({"a": 1.0, "b": 2, "n": {"x": true, "y": 3}}));
        assert!(diff_props(&d, &l).is_empty());
    }

    #[test]
    fn reference_sets_ignore_order_and_nested_leaves_are_named() {
        let d = props(json!({"members": [reference("user.b"), reference("user.a")], "s": {"start": "08:00"}}));
        let l = props(json!({"members": [reference("user.a"), reference("user.b")], "s": {"start": "09:00"}}));
        let changes = diff_props(&d, &l);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "s.start");
        assert_eq!(changes[0].before, Some(json!("09:00")));
    }

    #[test]
    fn declared_empty_nested_lists_are_compared() {
        let d = props(json!({"assignments": {"include": [reference("group.a")], "exclude": []}}));
        let l = props(json!({"assignments": {"include": [reference("group.a")], "exclude": [reference("id:x")]}}));
        let c = diff_props(&d, &l);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "assignments.exclude");
        assert_eq!(c[0].after, None);
        // Absent live keys still equal declared empties.
        let l = props(json!({"assignments": {"include": [reference("group.a")]}}));
        assert!(diff_props(&d, &l).is_empty());
    }

    #[test]
    fn diff_with_unresolved_live_props_equals_diff_of_resolved_ones() {
        let ids = |v: &Value| match as_reference(v) {
            Some(id) => reference(format!("user.{id}")),
            None => v.clone(),
        };
        let resolve = |v: &Value| match v {
            Value::Array(a) => Value::Array(a.iter().map(ids).collect()),
            other => ids(other),
        };
        let d = props(json!({"a": 1, "b": "x", "c": null, "d": "", "e": true, "m": [reference("user.b"), reference("user.a")], "n": {"x": 1}, "o": "s", "p": 2, "q": []}));
        let l = props(json!({"a": 1.0, "b": "y", "c": {"k": null}, "d": null, "e": false, "m": [reference("a"), reference("c")], "n": {"x": 2}, "o": {"k": 1}, "p": [1], "q": [reference("z")]}));
        let users: std::collections::HashMap<&str, Address> = ["a", "b", "c", "z"].into_iter().map(|id| (id, Address::new(schema::Kind::User, id))).collect();
        let resolve_id = |id: &str| users.get(id);
        let resolved: Props = l.iter().map(|(k, v)| (k.clone(), resolve(v))).collect();
        let expected = diff_props(&d, &resolved);
        assert_eq!(diff_props_with(&d, &l, resolve, resolve_id), expected);
        assert_eq!(expected.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["b", "e", "m", "n.x", "o", "p", "q"]);
        assert_eq!(diff_props_with(&d, &Props::new(), resolve, resolve_id), diff_props(&d, &Props::new()));
        // Lists of the same targets, in another order and repeated, are
        // equal without the long way; any other list still differs.
        let d = props(json!({"m": [reference("user.b"), reference("user.a")], "e": [], "x": [reference("user.a"), "s"]}));
        for live in [json!({"m": [reference("a"), reference("b"), reference("a")], "e": [], "x": [reference("a"), "s"]}), json!({"m": [reference("a")], "e": [reference("a")], "x": ["s"]}), json!({"m": [reference("a"), reference("c")]})] {
            let l = props(live);
            let resolved: Props = l.iter().map(|(k, v)| (k.clone(), resolve(v))).collect();
            assert_eq!(diff_props_with(&d, &l, resolve, resolve_id), diff_props(&d, &resolved), "{l:?}");
        }
    }

    #[test]
    fn joined_parts_order_as_their_text() {
        let texts = ["", "a", "ab", "abc", "abd", "b", "user.a", "user.ab", "user.b", "id:x", "é"];
        let splits: [&[&str]; 11] = [&[], &["a"], &["a", "b"], &["ab", "", "c"], &["a", "bd"], &["", "b"], &["user", ".", "a"], &["user.", "ab"], &["user", ".b"], &["id:", "x"], &["é"]];
        for t in texts {
            for parts in splits {
                assert_eq!(cmp_joined(t, parts), t.cmp(parts.concat().as_str()), "{t:?} {parts:?}");
            }
        }
    }

    #[test]
    fn removal_and_addition() {
        let d = props(json!({"members": [reference("user.a")]}));
        let l = props(json!({"members": [reference("user.a"), reference("user.b")]}));
        let c = diff_props(&d, &l);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "members");
    }

    #[test]
    fn a_null_side_survives_the_plan_file() {
        let c = FieldChange { field: "customWorkflowExtensions".into(), before: Some(Value::Null), after: None };
        let written = serde_json::to_string(&c).expect("serializes");
        assert_eq!(written, r#"{"field":"customWorkflowExtensions","before":null}"#);
        let read: FieldChange = serde_json::from_str(&written).expect("parses");
        assert_eq!(read, c);
        assert_eq!(serde_json::to_string(&read).expect("serializes"), written, "the bytes an approver hashes are the author's");
        let absent: FieldChange = serde_json::from_str(r#"{"field":"x"}"#).expect("parses");
        assert_eq!((absent.before, absent.after), (None, None));
    }
}
