//! The providers' side of the kind registry: one [`KindProvider`] per kind,
//! declared in the kind's own module (`PROVIDER`) and found here through
//! `schema::with_kinds!`, so a kind registered in `schema/src/registry.rs`
//! without a provider module does not compile. Everything that differs per
//! kind is reached through this table: its collection, API version and
//! natural-key lookup, and its own functions to read (`read`), create,
//! update and delete (`create`, `update`, `delete`) and export (`export`).
//! `observe`, `apply` and `export` hold only the kind-independent driving
//! code (concurrency, unreadable handling, idempotent creates, ordering).

use std::future::Future;
use std::pin::Pin;

use engine::apply::ExecError;
use engine::{DesiredModel, DesiredResource, LiveObject};
use schema::{DesiredState, Kind};
use serde_json::Value;

use crate::apply::Writer;
use crate::export::ExportCx;
use crate::graph::GraphError;
use crate::observe::{ReadCx, Readout};

/// A boxed future that may cross threads (apply runs changes concurrently).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads a kind's collection (and the kinds that share it).
pub type ReadFn = for<'a> fn(&'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>>;
/// Creates the change's object; returns its id. Relations written after
/// the POST (members, assignments) are part of the create.
pub type CreateFn = for<'a> fn(&'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>>;
/// Updates (or deletes) the object with this id.
pub type WriteFn = for<'a> fn(&'a Writer<'a>, &'a str) -> BoxFuture<'a, Result<(), ExecError>>;
/// Writes every live object of the kind (already sorted by name) as TOML
/// tables through the export context.
pub type ExportFn = fn(&mut ExportCx, Vec<&LiveObject>);

/// How a kind's live objects are read.
#[derive(Clone, Copy)]
pub enum Read {
    /// By its own function, which may also yield objects of the kinds that
    /// name it in `Read::With`.
    Own(ReadFn),
    /// By another kind's read: the two share a collection (guests are read
    /// with users, update rings with device configurations).
    With(Kind),
}

/// How a create finds an object that already has the desired natural key
/// (a create whose response was lost is adopted, never duplicated).
pub struct NaturalKey {
    /// The Graph property the key is (also `$select`ed).
    pub field: &'static str,
    /// Further properties `matches` needs, comma-separated ("" for none).
    pub select: &'static str,
    /// The `$filter` that lists candidates, and the key wanted (lowercase).
    pub filter: fn(&DesiredResource) -> (String, String),
    /// Whether a listed candidate really matches: some collections have
    /// been known to ignore `$filter`, so nothing is adopted on the
    /// server's word alone.
    pub matches: fn(&Value, &DesiredResource, &str) -> bool,
}

/// OData string literal: single quotes doubled.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Whether `o.field`, lowercased, is `wanted`.
pub fn key_is(o: &Value, field: &str, wanted: &str) -> bool {
    o.get(field).and_then(Value::as_str).is_some_and(|k| k.to_lowercase() == wanted)
}

/// Found by `displayName`, as most kinds are.
pub const BY_DISPLAY_NAME: NaturalKey = NaturalKey {
    field: "displayName",
    select: "",
    filter: |r| {
        let name = r.props.get("displayName").and_then(Value::as_str).unwrap_or_default();
        (format!("displayName eq {}", lit(name)), name.to_lowercase())
    },
    matches: |o, _, wanted| key_is(o, "displayName", wanted),
};

/// Found by `displayName` among objects of the desired `@odata.type`
/// (Intune collections hold several types, and two may share a name).
pub const BY_DISPLAY_NAME_AND_TYPE: NaturalKey = NaturalKey {
    field: "displayName",
    select: "",
    filter: BY_DISPLAY_NAME.filter,
    matches: |o, r, wanted| {
        let same_type = match (r.props.get("@odata.type").and_then(Value::as_str), o.get("@odata.type").and_then(Value::as_str)) {
            (Some(w), Some(t)) => w == t,
            _ => true,
        };
        key_is(o, "displayName", wanted) && same_type
    },
};

/// Which Graph version a kind's collection is read and written through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    /// Intune policies, whose full properties and assignment filters only
    /// beta serves.
    Beta,
}

/// What a kind's create tells of its new object, for the replication rules
/// of [`crate::settle`] and apply (hostile run 22, finding 2: a create a
/// killed run never saw replicate was made again under lag). Each provider
/// states it, so a kind added later cannot silently keep the window's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The create answers with the id the object is listed under and waits
    /// until the object can be read (users, groups, Intune policies).
    Listed,
    /// It answers with the listed id but does not wait: apply reads the new
    /// object back before it counts as applied, so `applied` in the ledger
    /// means "seen" (conditional access, named locations, strengths, custom
    /// roles, filters, scope tags, device categories).
    ListedReadBack,
    /// The object is listed under another id (made through a request: a PIM
    /// schedule, an access package assignment) or never created (the
    /// tenant's singletons): the replication window's rule.
    Elsewhere,
}

impl Created {
    /// Whether the create's answer carries the id the object is listed
    /// under.
    pub fn lists_its_id(self) -> bool {
        self != Created::Elsewhere
    }
}

/// One kind's provider.
pub struct KindProvider {
    pub kind: Kind,
    /// The Graph collection its objects are created in (relative to the
    /// version); a kind may share it with another (users and guests,
    /// device configurations and update rings).
    pub collection: &'static str,
    pub api: Api,
    /// How a live object without a ledger entry is found by its natural
    /// key; none for kinds never adopted by one (role assignments).
    pub natural_key: Option<NaturalKey>,
    /// What its create tells of the new object ([`Created`]).
    pub created: Created,
    /// Adds the engine's desired resources for every declared object of
    /// this kind.
    pub desired: fn(&DesiredState, &mut DesiredModel),
    /// The file `export` writes this kind to, and what its header calls it.
    pub export_file: &'static str,
    pub export_title: &'static str,
    /// Reads its live objects.
    pub read: Read,
    pub create: CreateFn,
    pub update: WriteFn,
    /// Deletes the object ([`crate::apply::delete_plain`] for most kinds).
    pub delete: WriteFn,
    pub export: ExportFn,
    /// Where `import` looks an object up by id, when not its collection
    /// (relative to the version; each tried in turn).
    pub import_paths: &'static [&'static str],
    /// The collection listings its read starts with (at the kind's API
    /// version), exactly as the read requests them: `observe` fetches their
    /// first pages ahead in one `$batch` per version
    /// ([`crate::listing_batch`]). Empty for a kind read with another's.
    pub listings: fn() -> Vec<String>,
    /// The desired properties its `create` writes after the POST
    /// (relations, licences, assignments, an ESP's priority, a package's
    /// groups and policies, a guest's blocked sign-in): what an object
    /// adopted by natural key (a lost create's leftover) may lack, so
    /// apply sends them again on adoption. Properties in the POST are not
    /// re-sent (some, like `isAssignableToRole`, Graph refuses to change).
    pub after_post: &'static [&'static str],
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

/// The request that writes a kind's objects, whose permission is the
/// kind's write permission: a POST to its collection, or for a kind whose
/// objects Entra gives and tenantctl only updates, its PATCH (a PIM
/// policy, with its rules).
pub fn write_request(kind: Kind) -> (&'static str, String) {
    let collection = provider(kind).collection;
    match kind {
        Kind::RolePolicy => ("PATCH", format!("{collection}/{{id}}")),
        k if k.never_deleted() => ("PATCH", collection.to_string()),
        _ => ("POST", collection.to_string()),
    }
}

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
            let (method, path) = write_request(p.kind);
            // A singleton (the authorization policy) is written with PATCH only.
            let permission = crate::graph::error::permission_for(method, &path).or_else(|| crate::graph::error::permission_for("PATCH", &path));
            assert!(permission.is_some(), "{}: no permission documented for {method} {path}", p.kind);
        }
    }

    #[test]
    fn what_a_create_tells_fits_the_kind() {
        for p in all() {
            // A singleton Entra gives every tenant is never created.
            if p.kind.never_deleted() {
                assert_eq!(p.created, Created::Elsewhere, "{}", p.kind);
            }
            // Intune's policies answer their POST with the id they are
            // listed under (the create then waits for them).
            if p.kind.is_policy() {
                assert_eq!(p.created, Created::Listed, "{}", p.kind);
            }
            // A kind adopted by its natural key is created whole with a
            // POST, so its answer names the object.
            if p.natural_key.is_some() {
                assert!(p.created.lists_its_id(), "{}", p.kind);
            }
        }
    }
}
