//! The output of stage 1: `DesiredState`, every declared resource merged from
//! all files, each with where it was declared.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::address::{Address, Kind};
use crate::diagnostic::{Diagnostics, Origin};
use crate::kinds::*;

/// A declared value and where it came from. Serializes as the value alone,
/// so fingerprints of desired state do not change when files move.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T: Serialize> Serialize for Declared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

macro_rules! desired_state {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct DesiredState {
            pub tenant: Option<Declared<Tenant>>,
            pub governance: Option<Declared<Governance>>,
            pub change: Option<Declared<crate::kinds::change::ChangeRecord>>,
            /// `[state]`: where the ledger and the lock live (not a resource, so
            /// not part of the fingerprint).
            #[serde(skip)]
            pub state: Option<Declared<StateBackend>>,
            $(pub $field: BTreeMap<String, Declared<$ty>>,)*
            /// Problems that do not stop the load (shown by `validate` and `plan`).
            #[serde(skip)]
            pub warnings: Diagnostics,
            /// Resources that were declared but failed to parse; references to them
            /// are not reported as undeclared a second time.
            #[serde(skip)]
            pub broken: std::collections::BTreeSet<Address>,
        }

        impl DesiredState {
            /// Keys declared for one kind, sorted.
            pub fn keys(&self, kind: Kind) -> Vec<&String> {
                match kind {
                    $(Kind::$variant => self.$field.keys().collect(),)*
                }
            }

            /// Whether `key` is declared as `kind`, without building its
            /// address (references are resolved against every kind).
            pub fn declares(&self, kind: Kind, key: &str) -> bool {
                match kind {
                    $(Kind::$variant => self.$field.contains_key(key),)*
                }
            }

            /// Where a resource was declared.
            pub fn origin(&self, a: &Address) -> Option<&Origin> {
                let k = &a.key;
                match a.kind {
                    $(Kind::$variant => self.$field.get(k).map(|d| &d.origin),)*
                }
            }
        }
    };
}

crate::with_kinds!(desired_state);

/// Why a reference written in TOML does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing of an allowed kind has this key.
    Undeclared {
        reference: String,
        suggestion: Option<String>,
    },
    /// The key exists, but as a kind this field does not accept.
    WrongKind {
        reference: String,
        found: Address,
        expected: Vec<Kind>,
    },
    /// A bare key matches more than one allowed kind.
    Ambiguous {
        reference: String,
        candidates: Vec<Address>,
    },
}

impl DesiredState {
    /// The declared key of an allowed kind closest to `reference`, for a
    /// "did you mean" (it compares with every such key: call it for the
    /// problems shown, not for each of a million).
    pub fn suggest_key(&self, reference: &str, allowed: &[Kind]) -> Option<String> {
        let candidates = allowed
            .iter()
            .flat_map(|k| self.keys(*k))
            .collect::<Vec<_>>();
        crate::suggest::closest(reference, candidates.iter().map(|k| k.as_str()))
    }

    /// The governance settings, or the defaults when none are declared.
    pub fn governance(&self) -> Governance {
        self.governance
            .as_ref()
            .map(|g| g.value.clone())
            .unwrap_or_default()
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.origin(address).is_some()
    }

    /// Every declared address, in kind then key order.
    pub fn addresses(&self) -> Vec<Address> {
        Kind::ALL
            .into_iter()
            .flat_map(|kind| {
                self.keys(kind)
                    .into_iter()
                    .map(move |k| Address::new(kind, k.clone()))
            })
            .collect()
    }

    /// Count of resources per kind, for summaries.
    pub fn counts(&self) -> Vec<(Kind, usize)> {
        Kind::ALL
            .into_iter()
            .map(|k| (k, self.keys(k).len()))
            .collect()
    }

    /// Resolve a reference written in TOML, either `key` or `kind.key`, to an
    /// address of one of the `allowed` kinds.
    pub fn resolve(&self, reference: &str, allowed: &[Kind]) -> Result<Address, ResolveError> {
        if let Ok(address) = reference.parse::<Address>() {
            if self.contains(&address) {
                if allowed.contains(&address.kind) {
                    return Ok(address);
                }
                return Err(ResolveError::WrongKind {
                    reference: reference.to_string(),
                    found: address,
                    expected: allowed.to_vec(),
                });
            }
        }
        // Kinds first, addresses only for those that declare the key (one
        // allocation per kind per reference was most of loading 100k
        // member references).
        let found: Vec<Address> = Kind::ALL
            .into_iter()
            .filter(|kind| self.declares(*kind, reference))
            .map(|kind| Address::new(kind, reference))
            .collect();
        let fitting: Vec<Address> = found
            .iter()
            .filter(|a| allowed.contains(&a.kind))
            .cloned()
            .collect();
        match (fitting.len(), found.first()) {
            (1, _) => Ok(fitting[0].clone()),
            (0, Some(other)) => Err(ResolveError::WrongKind {
                reference: reference.to_string(),
                found: other.clone(),
                expected: allowed.to_vec(),
            }),
            // No suggestion here: finding one looks at every declared key,
            // so the caller asks [`DesiredState::suggest_key`] for the few
            // it shows.
            (0, None) => Err(ResolveError::Undeclared {
                reference: reference.to_string(),
                suggestion: None,
            }),
            _ => Err(ResolveError::Ambiguous {
                reference: reference.to_string(),
                candidates: fitting,
            }),
        }
    }
}
