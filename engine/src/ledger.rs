//! The ledger (`tenantctl.lock`): which Graph object each address owns.
//!
//! Only objects in the ledger are ever deleted. It is sorted, diff-friendly
//! TOML meant to be committed beside the desired state. The engine only
//! parses and renders it; callers read and write the file (atomically).

use std::collections::BTreeMap;

use schema::Address;
use serde::{Deserialize, Serialize};

pub const LEDGER_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Graph object id.
    pub id: String,
    /// Hash of the desired properties last applied, so drift can say
    /// whether the tenant or the desired state moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// When the object was last changed by tenantctl (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub version: u32,
    #[serde(default)]
    pub resources: BTreeMap<Address, LedgerEntry>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger { version: LEDGER_VERSION, resources: BTreeMap::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger is not valid TOML: {0}")]
    Parse(String),
    #[error("ledger version {found} is newer than this tenantctl understands ({LEDGER_VERSION})")]
    Version { found: u32 },
    #[error("object id {id} is owned by both {first} and {second}")]
    SharedId { id: String, first: Address, second: Address },
}

impl Ledger {
    pub fn parse(text: &str) -> Result<Ledger, LedgerError> {
        let ledger: Ledger = toml::from_str(text).map_err(|e| LedgerError::Parse(e.to_string()))?;
        if ledger.version > LEDGER_VERSION {
            return Err(LedgerError::Version { found: ledger.version });
        }
        let mut owners: BTreeMap<&str, &Address> = BTreeMap::new();
        for (a, e) in &ledger.resources {
            if let Some(first) = owners.insert(&e.id, a) {
                return Err(LedgerError::SharedId { id: e.id.clone(), first: first.clone(), second: a.clone() });
            }
        }
        Ok(ledger)
    }

    pub fn render(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# tenantctl ledger: the Graph object each address owns. Written by tenantctl;\n\
             # commit it beside the desired state. Only objects listed here are ever deleted.\n{body}"
        )
    }

    pub fn id(&self, address: &Address) -> Option<&str> {
        self.resources.get(address).map(|e| e.id.as_str())
    }

    pub fn record(&mut self, address: Address, id: String, applied: Option<String>, changed_at: Option<String>) {
        self.resources.insert(address, LedgerEntry { id, applied, changed_at });
    }

    pub fn forget(&mut self, address: &Address) -> Option<LedgerEntry> {
        self.resources.remove(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sorted() {
        let mut l = Ledger::default();
        l.record("group.b".parse().unwrap(), "2".into(), None, None);
        l.record("group.a".parse().unwrap(), "1".into(), Some("sha256:x".into()), None);
        let text = l.render();
        assert!(text.find("group.a").unwrap() < text.find("group.b").unwrap());
        assert_eq!(Ledger::parse(&text).unwrap(), l);
    }

    #[test]
    fn refuses_shared_ids_and_future_versions() {
        let text = "version = 1\n[resources.\"group.a\"]\nid = \"1\"\n[resources.\"group.b\"]\nid = \"1\"\n";
        assert!(matches!(Ledger::parse(text), Err(LedgerError::SharedId { .. })));
        assert!(matches!(Ledger::parse("version = 9\n"), Err(LedgerError::Version { found: 9 })));
        assert!(matches!(Ledger::parse("version = "), Err(LedgerError::Parse(_))));
    }
}
