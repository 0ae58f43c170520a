//! Resource kinds and addresses (`kind.key`), the names every stage uses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! kind_enum {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        /// Every kind of resource tenantctl manages, in the order objects of one
        /// wave are listed in plans (generated from [`crate::registry`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant,)*
        }

        impl Kind {
            pub const ALL: [Kind; [$(stringify!($variant)),*].len()] = [$(Kind::$variant),*];

            /// The name used in TOML table headers and addresses.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => stringify!($field),)*
                }
            }

            /// Kinds that can be members of groups and hold roles.
            pub fn is_principal(self) -> bool {
                match self {
                    $(Kind::$variant => $principal,)*
                }
            }

            /// Intune policy kinds, which carry assignments.
            pub fn is_policy(self) -> bool {
                match self {
                    $(Kind::$variant => $policy,)*
                }
            }

            /// The kind named `s` (its [`Kind::as_str`]): one `match`, where
            /// a scan of [`Kind::ALL`] compared every name in turn (every
            /// reference a plan parses goes through here).
            fn named(s: &str) -> Option<Kind> {
                match s {
                    $(stringify!($field) => Some(Kind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

crate::with_kinds!(kind_enum);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::named(s).ok_or_else(|| UnknownKind(s.to_string()))
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `kind.key`: the name of one resource, stable across runs and tenants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub key: String,
}

impl Address {
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Address {
            kind,
            key: key.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` is not an address: expected `kind.key`")]
    Malformed(String),
    #[error(transparent)]
    Kind(#[from] UnknownKind),
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = s
            .split_once('.')
            .ok_or_else(|| AddressError::Malformed(s.to_string()))?;
        if key.is_empty() {
            return Err(AddressError::Malformed(s.to_string()));
        }
        Ok(Address {
            kind: kind.parse()?,
            key: key.to_string(),
        })
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Keys are ASCII letters, digits, `-` and `_`, starting with a letter or
/// digit: they appear in addresses, file names and Markdown anchors.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && key.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        let a: Address = "update_ring.broad".parse().unwrap();
        assert_eq!(a, Address::new(Kind::UpdateRing, "broad"));
        assert_eq!(a.to_string(), "update_ring.broad");
        assert!("ring.broad".parse::<Address>().is_err());
        assert!("user.".parse::<Address>().is_err());
        assert!("user".parse::<Address>().is_err());
    }

    #[test]
    fn kinds_come_from_the_registry() {
        // Every registered kind has one name that parses back to it (the
        // count follows the registry; no literal to bump per kind).
        let names: std::collections::BTreeSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
        }
        assert_eq!("named_location".parse::<Kind>(), Ok(Kind::NamedLocation));
        assert_eq!(Kind::AuthenticationStrength.as_str(), "authentication_strength");
        assert_eq!(Kind::ALL[0], Kind::User);
        assert_eq!(Kind::RoleAssignment.as_str(), "role_assignment");
        assert_eq!("conditional_access".parse::<Kind>(), Ok(Kind::ConditionalAccess));
        let principals: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_principal()).collect();
        assert_eq!(principals, [Kind::User, Kind::Guest, Kind::Group]);
        let policies: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_policy()).collect();
        // Intune policies carry assignments; principals and Entra objects
        // do not (a new kind adds nothing here).
        for kind in [Kind::DeviceConfiguration, Kind::SettingsCatalog, Kind::PlatformScript, Kind::WingetApp, Kind::GraphObject] {
            assert!(policies.contains(&kind), "{kind}");
        }
        for kind in [Kind::User, Kind::Group, Kind::ConditionalAccess, Kind::ScopeTag, Kind::IntuneRoleAssignment] {
            assert!(!policies.contains(&kind), "{kind}");
        }
        // Declaration order is plan order.
        let mut sorted = Kind::ALL;
        sorted.sort();
        assert_eq!(sorted, Kind::ALL);
    }

    #[test]
    fn keys() {
        assert!(is_valid_key("mmd-test_1"));
        assert!(!is_valid_key("-x"));
        assert!(!is_valid_key("a.b"));
        assert!(!is_valid_key(""));
    }
}
