//! Export: the reverse of the per-kind mappings. Reads a whole tenant
//! (`observe::observe_everything`) and writes desired-state TOML, one file
//! per kind (each kind's own `export`, through `KindProvider`, in registry
//! order, so principals and filters have keys before what refers to them), with readable keys derived from names, references between
//! objects by key, and the ledger that binds every key to its object, so
//! that planning the export against the same tenant makes no changes. This
//! is how an existing tenant is adopted.
//!
//! What is skipped, with a warning: groups that are not plain security
//! groups (Microsoft 365 and mail-enabled groups are not a kind here),
//! disabled guests (their access has in effect ended), role assignments
//! whose principal is not exported (service principals), and conditional
//! access policies that name users, groups or roles by an id not exported.
//! Membership or owners naming an object that is not exported (devices,
//! service principals) leave membership unmanaged for that group.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use engine::{Ledger, LiveObject, ObservedState, Props};
use schema::kinds::Tenant;
use schema::{Address, Kind};
use serde_json::Value;

use crate::kinds::registry;

/// The exported desired state: file name -> TOML text, plus the ledger.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub files: BTreeMap<String, String>,
    pub ledger: Ledger,
    pub warnings: Vec<String>,
    pub counts: BTreeMap<Kind, usize>,
}

/// A key from a name: lowercase ASCII letters, digits and hyphens.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(100);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "unnamed".to_string()
    } else {
        out
    }
}

/// Keys unique across every kind, so a bare key never means two things.
#[derive(Default)]
pub(crate) struct Keys {
    taken: BTreeSet<String>,
    /// object id -> address
    by_id: BTreeMap<String, Address>,
    /// Exported assignment filters: lowercased display name -> key.
    pub(crate) filter_names: BTreeMap<String, String>,
    /// Exported access package policies: (package id, lowercased display
    /// name) -> the key the package's export gave the policy.
    pub(crate) policy_keys: BTreeMap<(String, String), String>,
    /// Exported catalogs' custom workflow extensions: (catalog id,
    /// lowercased display name) -> the key the catalog's export gave it.
    pub(crate) extension_keys: BTreeMap<(String, String), String>,
    /// Ids of the groups live access packages grant (their members come
    /// from the packages' assignments, so export leaves them undeclared).
    pub(crate) package_groups: std::collections::BTreeSet<String>,
}

impl Keys {
    pub(crate) fn assign(&mut self, kind: Kind, name: &str, id: &str) -> Address {
        // Keyed already (a kind that names it exported first): the same key.
        if let Some(a) = self.by_id.get(id).filter(|a| a.kind == kind) {
            return a.clone();
        }
        let base = slug(name);
        let mut key = base.clone();
        let mut n = 2;
        while self.taken.contains(&key) {
            key = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(key.clone());
        let a = Address::new(kind, &key);
        self.by_id.insert(id.to_string(), a.clone());
        a
    }

    pub(crate) fn key_of(&self, id: &str) -> Option<&Address> {
        self.by_id.get(id)
    }

    /// How policies name a filter (`name` is a lowercased display name or
    /// an id): the key of an exported filter, else as it was.
    pub(crate) fn filter(&self, name: &str) -> String {
        match self.key_of(name) {
            Some(a) if a.kind == Kind::AssignmentFilter => a.key.clone(),
            _ => self.filter_names.get(name).cloned().unwrap_or_else(|| name.to_string()),
        }
    }
}

pub(crate) fn s(p: &Props, k: &str) -> Option<String> {
    p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string)
}

pub(crate) fn b(p: &Props, k: &str) -> Option<bool> {
    p.get(k).and_then(Value::as_bool)
}

/// JSON to TOML, dropping nulls (TOML has none; absent and null compare equal).
pub fn json_to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(x) => toml::Value::Boolean(*x),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(x) => toml::Value::String(x.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        Value::Object(m) => toml::Value::Table(m.iter().filter_map(|(k, v)| json_to_toml(v).map(|t| (k.clone(), t))).collect()),
    })
}

fn camel_to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Live props as snake_case JSON (for typed kinds), nulls and `@` keys dropped.
pub(crate) fn snake(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(k, v)| !k.starts_with('@') && !v.is_null()).map(|(k, v)| (camel_to_snake(k), snake(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(snake).collect()),
        other => other.clone(),
    }
}

/// Deserialize a typed kind from live props, dropping top-level properties
/// the type does not model (read-only or unmanaged Graph properties).
pub(crate) fn typed<T: serde::de::DeserializeOwned>(mut m: serde_json::Map<String, Value>) -> Result<T, String> {
    for _ in 0..64 {
        match serde_json::from_value::<T>(Value::Object(m.clone())) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let msg = e.to_string();
                let unknown = msg.strip_prefix("unknown field `").and_then(|r| r.split('`').next()).map(str::to_string);
                match unknown {
                    Some(f) if m.remove(&f).is_some() => continue,
                    _ => return Err(msg),
                }
            }
        }
    }
    Err("too many unmodelled properties".into())
}

/// What a kind's `export` (`KindProvider::export`) is given: the keys
/// handed out so far (principals and filters before what refers to them)
/// and the export being built.
pub struct ExportCx {
    pub(crate) keys: Keys,
    out: Export,
    now: DateTime<Utc>,
    stamp: String,
}

impl ExportCx {
    /// When the export runs (guests are given 90 days from it).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A new key for a live object, unique across kinds.
    pub(crate) fn key(&mut self, kind: Kind, name: &str, id: &str) -> Address {
        self.keys.assign(kind, name, id)
    }

    /// Said in the export's summary (what was skipped, and why).
    pub(crate) fn warn(&mut self, warning: String) {
        self.out.warnings.push(warning);
    }

    /// Bind an exported key to its object in the ledger.
    pub(crate) fn record(&mut self, address: Address, id: &str) {
        self.out.ledger.record(address, id.to_string(), None, None);
    }

    /// Write a kind's `[KIND.KEY]` tables to its provider's export file,
    /// under the file's header and `note`.
    pub(crate) fn table<T: serde::Serialize>(&mut self, kind: Kind, note: &str, items: &BTreeMap<String, T>) {
        let header = self.header(registry::provider(kind).export_title);
        table(&mut self.out, &format!("{header}{note}"), items, kind);
    }

    /// Write a file beside the TOML (a script a kind's tables name), at
    /// `name` relative to the export's directory.
    pub(crate) fn file(&mut self, name: String, text: String) {
        self.out.files.insert(name, text);
    }

    fn header(&self, what: &str) -> String {
        format!(
            "# {what}, exported by `tenantctl export` at {}.\n# Review before committing; keys are derived from names and may be renamed\n# (rename them in the ledger too).\n\n",
            self.stamp
        )
    }
}

/// Build the export of an observed tenant. `domains` are the tenant's
/// verified domains, default first.
pub fn export(observed: &ObservedState, domains: &[String], now: DateTime<Utc>) -> Export {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut cx = ExportCx { keys: Keys::default(), out: Export::default(), now, stamp };
    cx.keys.package_groups = crate::kinds::access_policy_keys::granted_groups(observed);
    let empty = Vec::new();
    for p in registry::all() {
        let mut objects: Vec<&LiveObject> = observed.objects.get(&p.kind).unwrap_or(&empty).iter().collect();
        objects.sort_by(|a, b| (a.display_name.to_lowercase(), &a.id).cmp(&(b.display_name.to_lowercase(), &b.id)));
        (p.export)(&mut cx, objects);
    }
    if let Some((primary, rest)) = domains.split_first() {
        let t = Tenant { primary_domain: primary.clone(), verified_domains: rest.to_vec(), tenant_id: None, cloud: Default::default(), client_id: None };
        let header = cx.header("The tenant");
        put(&mut cx.out, "tenant.toml", &header, "tenant", toml::Value::try_from(&t).ok());
    }
    cx.out
}

fn put(out: &mut Export, file: &str, header: &str, name: &str, value: Option<toml::Value>) {
    let Some(v) = value else { return };
    let mut root = toml::Table::new();
    root.insert(name.to_string(), v);
    let body = toml::to_string_pretty(&root).unwrap_or_default();
    out.files.insert(file.to_string(), format!("{header}{body}"));
}

/// `[KIND.KEY]` tables of one kind, in its provider's export file.
fn table<T: serde::Serialize>(out: &mut Export, header: &str, items: &BTreeMap<String, T>, kind: Kind) {
    if items.is_empty() {
        return;
    }
    let (file, name) = (registry::provider(kind).export_file, kind.as_str());
    out.counts.insert(kind, items.len());
    match crate::export_split::split_table(file, name, items, crate::export_split::FILE_BUDGET) {
        Ok(parts) => {
            for (part, body) in parts {
                out.files.insert(part, format!("{header}{body}"));
            }
        }
        Err(e) => out.warnings.push(format!("{file}: could not be written as TOML: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_keys() {
        assert_eq!(slug("Modern Workplace Devices [Test]"), "modern-workplace-devices-test");
        assert_eq!(slug("  ***  "), "unnamed");
        assert!(schema::address::is_valid_key(&slug("Ünïcode Näme 1")));
    }

    #[test]
    fn keys_are_deduplicated() {
        let mut k = Keys::default();
        assert_eq!(k.assign(Kind::Group, "Sales", "1").key, "sales");
        assert_eq!(k.assign(Kind::User, "sales", "2").key, "sales-2");
        assert_eq!(k.key_of("2").map(|a| a.kind), Some(Kind::User));
    }

    #[test]
    fn json_nulls_vanish_in_toml() {
        let v = json_to_toml(&serde_json::json!({"a": null, "b": [1, 2.5], "c": {"d": null, "e": "x"}})).unwrap();
        assert_eq!(toml::to_string(&v).unwrap().trim(), "b = [1, 2.5]\n\n[c]\ne = \"x\"");
    }
}
