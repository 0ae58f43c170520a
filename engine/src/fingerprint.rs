//! Fingerprints: the sha256 of a value's canonical JSON (compact, object
//! keys sorted at every level), fed to the hasher as it is written, never
//! built as a string, and with live references resolved on the way rather
//! than in a copy of the value. The bytes hashed are exactly those of the
//! canonical JSON text, so fingerprints stay comparable with saved plans.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::io;

use schema::{Address, Kind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fast_hash::IdMap;
use crate::model::{as_reference, DesiredModel, DesiredResource, LiveObject, Props, REF};

/// The hasher, fed in blocks of [`BLOCK`] bytes: the canonical JSON is
/// written in many small pieces (a comma, a key), each of which would
/// otherwise be a call into the hash on its own.
struct Hasher {
    sha: Sha256,
    buf: Vec<u8>,
}

const BLOCK: usize = 64 * 1024;

impl Hasher {
    fn new() -> Hasher {
        // Grown as needed up to a block: most hashes are of one object's
        // properties (a ledger entry's `applied`, checked for every object
        // in sync), a few hundred bytes, where a block allocated up front
        // was 64 KiB per object planned.
        Hasher { sha: Sha256::new(), buf: Vec::with_capacity(512) }
    }

    /// `"bytes"`, in one step.
    fn quoted(&mut self, bytes: &[u8]) {
        self.buf.reserve(bytes.len() + 2);
        self.buf.push(b'"');
        self.buf.extend_from_slice(bytes);
        self.buf.push(b'"');
        if self.buf.len() >= BLOCK {
            self.sha.update(&self.buf);
            self.buf.clear();
        }
    }

    fn update(&mut self, bytes: impl AsRef<[u8]>) {
        self.buf.extend_from_slice(bytes.as_ref());
        if self.buf.len() >= BLOCK {
            self.sha.update(&self.buf);
            self.buf.clear();
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A JSON string (or any scalar), escaped exactly as `serde_json` prints it.
fn scalar<T: serde::Serialize + ?Sized>(h: &mut Hasher, v: &T) {
    // Writing into a hasher cannot fail, and these values always serialize.
    let _ = serde_json::to_writer(&mut *h, v);
}

/// Whether `serde_json` prints `s` as it is between the quotes: it escapes
/// only `"`, `\\` and control characters below U+0020.
fn plain(s: &str) -> bool {
    // Without an early exit, so the loop runs many bytes at a time: most
    // strings are plain, and every one is checked (issue 13).
    !s.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'))
}

/// A string, as [`scalar`] writes it.
fn string(h: &mut Hasher, s: &str) {
    if plain(s) {
        h.quoted(s.as_bytes());
    } else {
        scalar(h, s);
    }
}

/// An address (`kind.key`), as [`scalar`] writes it, without formatting it:
/// kind names need no escaping.
fn write_address(h: &mut Hasher, a: &Address) {
    if plain(&a.key) {
        h.update(b"\"");
        h.update(a.kind.as_str());
        h.update(b".");
        h.update(&a.key);
        h.update(b"\"");
    } else {
        scalar(h, a);
    }
}

/// Anything printable, as the JSON string of its text (escaped as it is
/// printed, never built as a `String` first).
struct Text<T>(T);

impl<T: std::fmt::Display> serde::Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A list of strings (or addresses), as the JSON array of their texts.
fn strings<T>(h: &mut Hasher, items: &[T], write: impl Fn(&mut Hasher, &T)) {
    h.update(b"[");
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        write(h, x);
    }
    h.update(b"]");
}

fn finish(mut h: Hasher) -> String {
    h.sha.update(&h.buf);
    format!("sha256:{}", hex::encode(h.sha.finalize()))
}

/// sha256 of a value's canonical JSON (sorted keys).
pub fn fingerprint(v: &Value) -> String {
    let mut h = Hasher::new();
    write_value(&mut h, v, None);
    finish(h)
}

/// sha256 of the canonical JSON of the object `top` whose entry `key` is
/// the array of `items`, each made a value only when it is hashed: exactly
/// [`fingerprint`] of that object (whatever `top` holds at `key` is not
/// used), without the array built whole. A plan's changes: at 100k
/// objects its value was 350 MB, the peak of `plan` (issue 13). An item
/// that cannot be made a value is the error.
pub(crate) fn object_with_array<E>(top: &serde_json::Map<String, Value>, key: &str, items: impl Iterator<Item = Result<Value, E>>) -> Result<String, E> {
    let mut entries: Vec<(&str, Option<&Value>)> = top.iter().filter(|(k, _)| k.as_str() != key).map(|(k, v)| (k.as_str(), Some(v))).collect();
    entries.push((key, None));
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut items = items;
    let mut h = Hasher::new();
    h.update(b"{");
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        string(&mut h, k);
        h.update(b":");
        match v {
            Some(v) => write_value(&mut h, v, None),
            None => {
                h.update(b"[");
                for (j, item) in items.by_ref().enumerate() {
                    if j > 0 {
                        h.update(b",");
                    }
                    write_value(&mut h, &item?, None);
                }
                h.update(b"]");
            }
        }
    }
    h.update(b"}");
    Ok(finish(h))
}

/// sha256 of a set of properties' canonical JSON, exactly as
/// [`fingerprint`] of their `serde_json::to_value` (what a ledger entry's
/// `applied` records), without copying them into a value first.
pub fn props(p: &Props) -> String {
    let mut h = Hasher::new();
    write_entries(&mut h, p.iter(), None);
    finish(h)
}

/// sha256 of the canonical JSON of the desired model, exactly as
/// [`fingerprint`] of `serde_json::to_value(model)` (null when it does not
/// serialize), without building that value for the whole model: the
/// resources are turned into values one at a time and hashed in key order.
pub fn desired(model: &DesiredModel) -> String {
    desired_hash(model).unwrap_or_else(|_| fingerprint(&Value::Null))
}

fn desired_hash(model: &DesiredModel) -> Result<String, serde_json::Error> {
    // Everything but the resources, as one value (small). Every field is
    // named, so a field added to the model cannot be left out unnoticed.
    let shell = DesiredModel {
        resources: Default::default(),
        governance: model.governance.clone(),
        service_accounts: model.service_accounts.clone(),
        service_account_groups: model.service_account_groups.clone(),
        protected_groups: model.protected_groups.clone(),
        rings: model.rings.clone(),
        service_account_roles: model.service_account_roles.clone(),
        // Not serialized: kept out of plans and so out of the hash.
        origins: BTreeMap::new(),
    };
    let Value::Object(top) = serde_json::to_value(&shell)? else {
        return Ok(fingerprint(&Value::Null));
    };
    let mut entries: Vec<(&String, &Value)> = top.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut h = Hasher::new();
    h.update(b"{");
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        string(&mut h, k.as_str());
        h.update(b":");
        if k == "resources" {
            // Keyed by the address's text, sorted as text, as the map of
            // the whole value would be.
            h.update(b"{");
            for (j, (address, r)) in by_text(&model.resources).enumerate() {
                if j > 0 {
                    h.update(b",");
                }
                write_address(&mut h, address);
                h.update(b":");
                write_resource(&mut h, r)?;
            }
            h.update(b"}");
        } else {
            write_value(&mut h, v, None);
        }
    }
    h.update(b"}");
    Ok(finish(h))
}

/// The entries of a map keyed by address in the order of the addresses'
/// texts (`kind.key`), as a map keyed by those texts would hold them,
/// without building the texts: by kind name, then by key (the map's own
/// order within a kind), since kind names hold only characters that sort
/// after the dot.
fn by_text<K: Borrow<Address> + Ord, V>(map: &BTreeMap<K, V>) -> impl Iterator<Item = (&K, &V)> {
    let mut kinds = Kind::ALL.to_vec();
    kinds.sort_unstable_by_key(|k| k.as_str());
    kinds.into_iter().flat_map(move |kind| map.range::<Address, _>(Address::new(kind, "")..).take_while(move |(a, _)| (*a).borrow().kind == kind))
}

/// A desired resource's canonical JSON, as `write_value` of its
/// `serde_json::to_value` would write it, without copying its props: the
/// fields in key order, those serde skips when empty skipped alike (the
/// small ones still go through a value, exactly as serde writes them).
fn write_resource(h: &mut Hasher, r: &DesiredResource) -> Result<(), serde_json::Error> {
    let DesiredResource { address, natural_key, display_name, props, immutable, assignment_props, create_only, depends_on, expires } = r;
    h.update(b"{");
    let mut first = true;
    let mut key = |h: &mut Hasher, k: &str| {
        if !first {
            h.update(b",");
        }
        first = false;
        string(h, k);
        h.update(b":");
    };
    // Addresses and times serialize as strings (`collect_str`), the
    // same text their values hold.
    key(h, "address");
    write_address(h, address);
    if !assignment_props.is_empty() {
        key(h, "assignment_props");
        strings(h, assignment_props, |h, s| string(h, s));
    }
    if !create_only.is_empty() {
        key(h, "create_only");
        write_entries(h, create_only.iter(), None);
    }
    if !depends_on.is_empty() {
        key(h, "depends_on");
        strings(h, depends_on, write_address);
    }
    key(h, "display_name");
    string(h, display_name);
    if let Some(e) = expires {
        key(h, "expires");
        scalar(h, e);
    }
    if !immutable.is_empty() {
        key(h, "immutable");
        strings(h, immutable, |h, s| string(h, s));
    }
    key(h, "natural_key");
    string(h, natural_key);
    key(h, "props");
    write_entries(h, props.iter(), None);
    h.update(b"}");
    Ok(())
}

/// How live references are rewritten while hashing: an id of a matched
/// object becomes its address, any other id becomes `id:ID`.
type Ids<'a> = Option<&'a IdMap<'a>>;

fn write_reference(h: &mut Hasher, id: &str, ids: &IdMap) {
    h.update(b"{");
    scalar(h, REF);
    h.update(b":");
    match ids.get(id) {
        Some(a) => write_address(h, a),
        None if plain(id) => {
            h.update(b"\"id:");
            h.update(id);
            h.update(b"\"");
        }
        None => scalar(h, &Text(format_args!("id:{id}"))),
    }
    h.update(b"}");
}

fn write_value(h: &mut Hasher, v: &Value, ids: Ids) {
    if let (Some(ids), Some(id)) = (ids, as_reference(v)) {
        write_reference(h, id, ids);
        return;
    }
    match v {
        // Most objects arrive in key order already (Graph's and the
        // loaders' own): written as they are, without a sorted copy.
        Value::Object(m) if m.keys().zip(m.keys().skip(1)).all(|(a, b)| a < b) => write_entries(h, m.iter(), ids),
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            write_entries(h, entries.into_iter(), ids);
        }
        Value::Array(a) => {
            h.update(b"[");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                write_value(h, x, ids);
            }
            h.update(b"]");
        }
        Value::String(s) => string(h, s),
        Value::Bool(true) => h.update(b"true"),
        Value::Bool(false) => h.update(b"false"),
        Value::Null => h.update(b"null"),
        other => scalar(h, other),
    }
}

/// An object whose entries are already in key order.
fn write_entries<'v>(h: &mut Hasher, entries: impl Iterator<Item = (&'v String, &'v Value)>, ids: Ids) {
    h.update(b"{");
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            h.update(b",");
        }
        string(h, k);
        h.update(b":");
        write_value(h, v, ids);
    }
    h.update(b"}");
}

/// One address's share of the observed fingerprint.
#[derive(Debug, Clone, Copy)]
pub enum ObservedPart<'a> {
    /// Declared, but no live object matched.
    Missing,
    /// A live object known by id only (an orphan).
    Id(&'a str),
    /// A matched live object: its id and its properties, references resolved.
    Live(&'a LiveObject),
}

/// The observed fingerprint: the canonical JSON of
/// `{address: null | {"id": ID} | {"id": ID, "props": PROPS}}`, with the
/// ids in `props` resolved through `ids`, hashed without copying any object.
/// The addresses are keyed by their text, in text order (see
/// [`by_text`]).
pub fn observed(parts: &[(&Address, ObservedPart<'_>)], ids: &IdMap) -> String {
    debug_assert!(parts.windows(2).all(|w| w[0].0 < w[1].0), "parts sorted by address, each once");
    let mut kinds = Kind::ALL.to_vec();
    kinds.sort_unstable_by_key(|k| k.as_str());
    // In the order of the addresses' texts (see [`by_text`]): by kind name,
    // then by key (the slice's own order within a kind).
    let by_text = kinds.into_iter().flat_map(|kind| {
        let from = parts.partition_point(|(a, _)| a.kind < kind);
        let to = parts.partition_point(|(a, _)| a.kind <= kind);
        &parts[from..to]
    });
    let mut h = Hasher::new();
    h.update(b"{");
    for (i, (address, part)) in by_text.enumerate() {
        if i > 0 {
            h.update(b",");
        }
        write_address(&mut h, address);
        h.update(b":");
        match part {
            ObservedPart::Missing => h.update(b"null"),
            ObservedPart::Id(id) => {
                h.update(b"{\"id\":");
                string(&mut h, id);
                h.update(b"}");
            }
            ObservedPart::Live(o) => {
                h.update(b"{\"id\":");
                string(&mut h, &o.id);
                h.update(b",\"props\":");
                write_props(&mut h, &o.props, ids);
                h.update(b"}");
            }
        }
    }
    h.update(b"}");
    finish(h)
}

/// Props as one object (already sorted: a BTreeMap), treated as a reference
/// when it is exactly one, as the value it stands for would be.
fn write_props(h: &mut Hasher, props: &Props, ids: &IdMap) {
    if props.len() == 1 {
        if let Some(id) = props.get(REF).and_then(Value::as_str) {
            write_reference(h, id, ids);
            return;
        }
    }
    write_entries(h, props.iter(), Some(ids));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_resource_hashes_as_its_value_does_every_optional_field_set_or_not() {
        let bare: DesiredResource = serde_json::from_value(json!({"address": "group.a", "natural_key": "a", "display_name": "A \"quoted\"", "props": {"z": 1, "a": {"y": [1, {"@ref": "user.b"}], "b": null}}})).expect("resource");
        let mut full = bare.clone();
        full.immutable = vec!["mailNickname".into()];
        full.assignment_props = vec!["assignments".into()];
        full.create_only.insert("password".into(), json!({"env": "X"}));
        full.depends_on = vec!["user.b".parse().expect("address")];
        full.expires = Some(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 1, 9, 0, 0).single().expect("time"));
        for r in [bare, full] {
            let mut h = Hasher::new();
            write_resource(&mut h, &r).expect("hashes");
            assert_eq!(finish(h), fingerprint(&serde_json::to_value(&r).expect("value")), "{r:?}");
        }
    }

    /// The canonical JSON the fingerprint used to be built from, as text.
    fn canonical_json(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let inner: Vec<String> = keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical_json(&m[*k]))).collect();
                format!("{{{}}}", inner.join(","))
            }
            Value::Array(a) => format!("[{}]", a.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }

    fn text_fingerprint(v: &Value) -> String {
        let mut h = Hasher::new();
        h.update(canonical_json(v).as_bytes());
        finish(h)
    }

    fn resolve(v: &Value, ids: &IdMap) -> Value {
        if let Some(id) = as_reference(v) {
            return match ids.get(id) {
                Some(a) => crate::model::reference(a.to_string()),
                None => crate::model::reference(format!("id:{id}")),
            };
        }
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v, ids))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, ids)).collect()),
            other => other.clone(),
        }
    }

    fn sample() -> Value {
        json!({
            "z": [1, 2.5, -3, null, true, "x\"y\\\n\u{1}é😀"],
            "a": {"nested": {"b": 1, "a": [{"k": "v", "c": {}}]}, "empty": []},
            "M": "upper sorts first",
            "refs": [{"@ref": "id-1"}, {"@ref": "id-2"}, {"@ref": "id-1", "other": 1}],
        })
    }

    #[test]
    fn props_hash_as_their_value_does() {
        let mut p = Props::new();
        for (k, v) in sample().as_object().expect("test fixture") {
            p.insert(k.clone(), v.clone());
        }
        assert_eq!(props(&p), fingerprint(&serde_json::to_value(&p).expect("a value")));
        assert_eq!(props(&Props::new()), fingerprint(&serde_json::to_value(Props::new()).expect("a value")));
    }

    #[test]
    fn strings_and_addresses_are_written_as_serde_json_writes_them() {
        for s in ["", "plain", "é😀", "q\"uote", "back\\slash", "nl\n", "\u{1f}", "\u{7f}", "</script>"] {
            let (mut fast, mut serde) = (Hasher::new(), Hasher::new());
            string(&mut fast, s);
            scalar(&mut serde, s);
            assert_eq!(fast.buf, serde.buf, "{s:?}");
            let a = Address::new(Kind::Group, s);
            let (mut fast, mut serde) = (Hasher::new(), Hasher::new());
            write_address(&mut fast, &a);
            scalar(&mut serde, &a);
            assert_eq!(fast.buf, serde.buf, "{a:?}");
        }
    }

    #[test]
    fn kind_names_sort_after_the_dot_so_addresses_sort_by_kind_then_key() {
        for k in Kind::ALL {
            assert!(k.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{k}");
        }
    }

    #[test]
    fn streamed_fingerprint_equals_the_text_one() {
        let v = sample();
        assert_eq!(fingerprint(&v), text_fingerprint(&v));
        assert_eq!(fingerprint(&json!(null)), text_fingerprint(&json!(null)));
        assert_eq!(fingerprint(&json!("s")), text_fingerprint(&json!("s")));
        // Objects already in key order (written without a sorted copy) beside ones that are not.
        let ordered = json!({"a": {"p": true, "q": null, "r": {"x": false, "y": [1, {"b": 2, "a": 1}]}}, "b": 1});
        assert_eq!(fingerprint(&ordered), text_fingerprint(&ordered));
    }

    #[test]
    fn desired_fingerprint_equals_the_one_of_the_whole_value() {
        let mut model = DesiredModel::default();
        for (address, key) in [("user.b", "b@x"), ("group.a", "a"), ("user.a", "a@x"), ("role_assignment.z", "z"), ("access_package_assignment.a", "a"), ("access_package.b", "b"), ("group.A-é", "x")] {
            let address: Address = address.parse().expect("test fixture");
            let mut props = Props::new();
            for (k, v) in sample().as_object().expect("test fixture") {
                props.insert(k.clone(), v.clone());
            }
            model.insert(DesiredResource {
                address: address.clone(),
                natural_key: key.into(),
                display_name: key.into(),
                props,
                immutable: vec!["z".into()],
                assignment_props: Vec::new(),
                create_only: Props::new(),
                depends_on: vec!["group.a".parse().expect("test fixture")],
                expires: None,
            });
        }
        model.service_accounts.insert("user.a".parse().expect("test fixture"));
        model.protected_groups.insert("group.a".parse().expect("test fixture"));
        let whole = fingerprint(&serde_json::to_value(&model).expect("test fixture"));
        assert_eq!(desired(&model), whole);
        assert_eq!(desired(&DesiredModel::default()), fingerprint(&serde_json::to_value(DesiredModel::default()).expect("test fixture")));
    }

    #[test]
    fn observed_fingerprint_equals_the_text_one_with_resolved_references() {
        let mut ids = IdMap::default();
        let ring = "group.ring".parse::<Address>().expect("test fixture");
        ids.insert("id-1", &ring);
        let mut props = Props::new();
        for (k, v) in sample().as_object().expect("test fixture") {
            props.insert(k.clone(), v.clone());
        }
        let live = LiveObject { kind: schema::Kind::Group, id: "obj-1".into(), natural_key: "k".into(), display_name: "d".into(), props };
        let mut parts = Vec::new();
        let at = |a: &str| a.parse::<Address>().expect("test fixture");
        let (b, a, orphan, assignment, package) = (at("user.b"), at("user.a"), at("group.orphan"), at("access_package_assignment.a"), at("access_package.z"));
        parts.push((&b, ObservedPart::Live(&live)));
        parts.push((&a, ObservedPart::Missing));
        parts.push((&orphan, ObservedPart::Id("obj-9")));
        parts.push((&assignment, ObservedPart::Missing));
        parts.push((&package, ObservedPart::Id("obj-8")));
        parts.sort_by(|x, y| x.0.cmp(y.0));
        let mut expected = serde_json::Map::new();
        expected.insert("user.b".into(), json!({"id": "obj-1", "props": resolve(&Value::Object(live.props.clone().into_iter().collect()), &ids)}));
        expected.insert("user.a".into(), Value::Null);
        expected.insert("group.orphan".into(), json!({"id": "obj-9"}));
        expected.insert("access_package_assignment.a".into(), Value::Null);
        expected.insert("access_package.z".into(), json!({"id": "obj-8"}));
        assert_eq!(observed(&parts, &ids), text_fingerprint(&Value::Object(expected)));
    }
}
