//! The providers' side of the kind registry: one [`KindProvider`] per kind,
//! declared in the kind's own module (`PROVIDER`) and found here through
//! `schema::with_kinds!`, so a kind registered in `schema/src/registry.rs`
//! without a provider module does not compile. What differs per kind
//! beyond this table (read, normalize, write bodies, export) lives in the
//! kind's module; `observe`, `apply` and `export` take the collection, the
//! API version, the natural key and the export file from here.

use engine::DesiredModel;
use schema::{DesiredState, Kind};

/// Which Graph version a kind's collection is read and written through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    /// Intune policies, whose full properties and assignment filters only
    /// beta serves.
    Beta,
}

/// One kind's provider.
pub struct KindProvider {
    pub kind: Kind,
    /// The Graph collection its objects are created in (relative to the
    /// version); a kind may share it with another (users and guests,
    /// device configurations and update rings).
    pub collection: &'static str,
    pub api: Api,
    /// The property a live object without a ledger entry is found by;
    /// none for kinds never adopted by a natural key (role assignments).
    pub natural_key: Option<&'static str>,
    /// Adds the engine's desired resources for every declared object of
    /// this kind.
    pub desired: fn(&DesiredState, &mut DesiredModel),
    /// The file `export` writes this kind to, and what its header calls it.
    pub export_file: &'static str,
    pub export_title: &'static str,
}

macro_rules! kind_providers {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        /// The provider of `kind`.
        pub fn provider(kind: Kind) -> &'static KindProvider {
            match kind {
                $(Kind::$variant => &super::$field::PROVIDER,)*
            }
        }
    };
}

schema::with_kinds!(kind_providers);

/// Every provider, in registry (plan) order.
pub fn all() -> impl Iterator<Item = &'static KindProvider> {
    Kind::ALL.into_iter().map(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_provider() {
        for kind in Kind::ALL {
            let p = provider(kind);
            assert_eq!(p.kind, kind, "{kind}'s PROVIDER names another kind");
            assert!(p.collection.starts_with('/'), "{kind}: {}", p.collection);
            assert!(p.export_file.ends_with(".toml"), "{kind}: {}", p.export_file);
            // Intune policies go through beta (so do assignment filters,
            // which only beta serves).
            if kind.is_policy() {
                assert_eq!(p.api, Api::Beta, "{kind}");
            }
        }
        let files: std::collections::BTreeSet<_> = all().map(|p| p.export_file).collect();
        assert_eq!(files.len(), Kind::ALL.len(), "two kinds export to one file");
    }

    #[test]
    fn every_collection_has_a_documented_write_permission() {
        for p in all() {
            let permission = crate::graph::error::permission_for("POST", p.collection);
            assert!(permission.is_some(), "{}: no permission documented for POST {}", p.kind, p.collection);
        }
    }
}
