//! [`Props`]: an object's normalized properties, by Graph property name.
//!
//! A sorted vector with the part of `BTreeMap<String, Value>`'s interface
//! the code uses, in the same key order (so iteration, serialization and
//! `Debug` are byte for byte what the map gave). Why not the map: every
//! `BTreeMap` with at least one entry holds a whole node of eleven
//! (1,072 bytes with `serde_json::Value`), and a run holds two or three
//! maps per object (declared, create-only, live): at 100k objects the
//! largest share of a plan's peak memory, mostly empty (issue 13). Here an
//! object with n properties holds n entries (grown one at a time while
//! small, then doubled). Lookups are a binary search; inserting is a
//! shift, cheap at the sizes properties come in.

use std::borrow::Borrow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Up to this many entries, the vector grows by one (no room left unused);
/// beyond, it doubles as vectors do.
const EXACT_UP_TO: usize = 16;

/// Up to this many entries, a lookup scans (see `Props::position`).
const LINEAR_UP_TO: usize = 32;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Props {
    /// Sorted by key, keys unique.
    entries: Vec<(String, Value)>,
}

impl Props {
    pub const fn new() -> Props {
        Props { entries: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// Where `key` is, for lookups (not inserts: they need the order).
    /// Up to [`LINEAR_UP_TO`] entries, a scan that reads a key's bytes
    /// only where its length is the one sought: the lengths sit in the
    /// vector itself, where a binary search reads the bytes of each key it
    /// passes, scattered over the heap (the string compares of lookups
    /// were 8% of a 100k plan, issue 13). Keys are unique, so the entry
    /// found is the one the search would find.
    fn position(&self, key: &str) -> Option<usize> {
        if self.entries.len() > LINEAR_UP_TO {
            return self.find(key).ok();
        }
        let key = key.as_bytes();
        self.entries.iter().position(|(k, _)| k.len() == key.len() && k.as_bytes() == key)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&Value>
    where
        String: Borrow<Q>,
        Q: Ord + AsRef<str> + ?Sized,
    {
        self.position(key.as_ref()).map(|i| &self.entries[i].1)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&String, &Value)>
    where
        String: Borrow<Q>,
        Q: Ord + AsRef<str> + ?Sized,
    {
        self.position(key.as_ref()).map(|i| (&self.entries[i].0, &self.entries[i].1))
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut Value>
    where
        String: Borrow<Q>,
        Q: Ord + AsRef<str> + ?Sized,
    {
        self.position(key.as_ref()).map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        String: Borrow<Q>,
        Q: Ord + AsRef<str> + ?Sized,
    {
        self.position(key.as_ref()).is_some()
    }

    /// Sets `key`, returning the value it replaced (as `BTreeMap::insert`).
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.find(key.as_str()) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                if self.entries.len() == self.entries.capacity() && self.entries.len() < EXACT_UP_TO {
                    self.entries.reserve_exact(1);
                }
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<Value>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(String, Value)>
    where
        String: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| self.entries.remove(i))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&String, &mut Value)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = String> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    pub fn first_key_value(&self) -> Option<(&String, &Value)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    pub fn last_key_value(&self) -> Option<(&String, &Value)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    /// Entries in any order, later ones replacing earlier ones with the
    /// same key (as inserting them one by one into a map would).
    fn from_unsorted(mut entries: Vec<(String, Value)>) -> Props {
        // Stable: equal keys keep their order, and the last one wins.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        out.shrink_to_fit();
        Props { entries: out }
    }
}

/// The entries in key order, as `(&key, &value)`.
#[derive(Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Props {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Props {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, Value)> for Props {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Props {
        Props::from_unsorted(iter.into_iter().collect())
    }
}

impl Extend<(String, Value)> for Props {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a> Extend<(&'a String, &'a Value)> for Props {
    fn extend<I: IntoIterator<Item = (&'a String, &'a Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k.clone(), v.clone());
        }
    }
}

impl<const N: usize> From<[(String, Value); N]> for Props {
    fn from(entries: [(String, Value); N]) -> Props {
        entries.into_iter().collect()
    }
}

impl From<std::collections::BTreeMap<String, Value>> for Props {
    fn from(map: std::collections::BTreeMap<String, Value>) -> Props {
        // Already sorted and unique.
        Props { entries: map.into_iter().collect() }
    }
}

impl<Q> std::ops::Index<&Q> for Props
where
    String: Borrow<Q>,
    Q: Ord + AsRef<str> + ?Sized,
{
    type Output = Value;
    /// As `BTreeMap`'s: panics when the key is absent.
    fn index(&self, key: &Q) -> &Value {
        self.get(key).expect("no entry found for key")
    }
}

impl fmt::Debug for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Props {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Props {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Props, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = Props;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Props, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                Ok(Props::from_unsorted(entries))
            }
        }
        d.deserialize_map(PropsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// The same operations on a `BTreeMap` and on `Props` give the same
    /// entries, in the same order, serialized and shown the same way.
    #[test]
    fn behaves_as_the_map_it_replaces() {
        let keys = ["displayName", "b", "a", "members", "Z", "é", "a", "owners", "b", "zz", "m", "n", "o", "p", "q", "r", "s", "t", "u"];
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut props = Props::new();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.insert(k.to_string(), json!(i)), props.insert(k.to_string(), json!(i)));
        }
        assert_eq!(map.remove("m"), props.remove("m"));
        assert_eq!(map.remove("absent"), props.remove("absent"));
        map.retain(|k, _| k != "n");
        props.retain(|k, _| k != "n");
        assert_eq!(map.iter().collect::<Vec<_>>(), props.iter().collect::<Vec<_>>());
        assert_eq!(map.get("a"), props.get("a"));
        assert_eq!(map.contains_key("zz"), props.contains_key("zz"));
        assert_eq!(serde_json::to_string(&map).expect("test fixture"), serde_json::to_string(&props).expect("test fixture"));
        assert_eq!(format!("{map:?}"), format!("{props:?}"));
        assert_eq!(format!("{map:#?}"), format!("{props:#?}"));
        // Collected and deserialized: sorted, the last of equal keys wins.
        let pairs = vec![("b".to_string(), json!(1)), ("a".to_string(), json!(2)), ("b".to_string(), json!(3))];
        let from_map: BTreeMap<String, Value> = pairs.clone().into_iter().collect();
        let collected: Props = pairs.into_iter().collect();
        assert_eq!(from_map.iter().collect::<Vec<_>>(), collected.iter().collect::<Vec<_>>());
        let parsed: Props = serde_json::from_str(r#"{"b": 1, "a": 2, "b": 3}"#).expect("test fixture");
        assert_eq!(parsed, collected);
        assert_eq!(Props::from(from_map), collected);
    }

    /// Lookups find what the map finds, on both sides of the size where
    /// they stop scanning and search, with many keys of one length.
    #[test]
    fn lookups_agree_with_the_map_scanned_or_searched() {
        for n in [0, 1, 5, LINEAR_UP_TO - 1, LINEAR_UP_TO, LINEAR_UP_TO + 1, 3 * LINEAR_UP_TO] {
            let mut map: BTreeMap<String, Value> = BTreeMap::new();
            let mut props = Props::new();
            for i in 0..n {
                // Same length (k007), and longer and shorter ones.
                let k = match i % 3 {
                    0 => format!("k{i:03}"),
                    1 => format!("key{i}"),
                    _ => format!("{i}"),
                };
                map.insert(k.clone(), json!(i));
                props.insert(k, json!(i));
            }
            for i in 0..(n + 5) {
                for k in [format!("k{i:03}"), format!("key{i}"), format!("{i}"), format!("k{i:04}")] {
                    assert_eq!(map.get(&k), props.get(&k), "{n} entries, {k}");
                    assert_eq!(map.get_key_value(k.as_str()), props.get_key_value(k.as_str()), "{n} entries, {k}");
                    assert_eq!(map.contains_key(&k), props.contains_key(&k), "{n} entries, {k}");
                    assert_eq!(map.get_mut(&k).map(|v| v.clone()), props.get_mut(&k).map(|v| v.clone()), "{n} entries, {k}");
                }
            }
        }
    }

    #[test]
    fn small_props_hold_no_unused_room() {
        let mut p = Props::new();
        for i in 0..EXACT_UP_TO {
            p.insert(format!("k{i:02}"), Value::Null);
            assert_eq!(p.entries.capacity(), i + 1);
        }
    }
}
