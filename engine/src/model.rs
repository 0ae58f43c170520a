//! The engine's view of both sides, in one normalized shape.
//!
//! Desired resources are produced from `schema::DesiredState` by the
//! providers' per-kind mappings; live objects by the providers' reads. Both
//! use Graph property names, with references written as `{"@ref": X}` where X
//! is an address on the desired side and an object id on the live side. The
//! engine resolves live ids to addresses before comparing, so references are
//! compared by resolved identity and shown by key.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Normalized properties of one object, by Graph property name (a sorted
/// vector with a map's interface: see [`crate::props`]).
pub use crate::props::Props;

/// The marker key of a reference inside props.
pub const REF: &str = "@ref";

/// A reference to another object: to an address (desired) or an id (live).
pub fn reference(target: impl Into<String>) -> Value {
    // Sized for its one entry: a map grown by `insert` reserves room for
    // three, and every member and owner of every group is a reference (at
    // 100k objects, 200,000 of them between the two sides) (issue 13).
    let mut m = serde_json::Map::with_capacity(1);
    m.insert(REF.to_string(), Value::String(target.into()));
    Value::Object(m)
}

/// The target of a reference value, if it is one.
pub fn as_reference(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(REF).and_then(Value::as_str),
        _ => None,
    }
}

/// One resource as desired state declares it, ready to diff and apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredResource {
    pub address: Address,
    /// What identifies the object in Graph when the ledger does not:
    /// userPrincipalName, mailNickname, displayName...
    pub natural_key: String,
    /// Human name for plans.
    pub display_name: String,
    /// Only these properties are managed and compared.
    pub props: Props,
    /// Properties Graph cannot change in place; a difference means replace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub immutable: Vec<String>,
    /// Properties that are assignments (changed through their own call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignment_props: Vec<String>,
    /// Properties sent only when creating, never compared (e.g. how the
    /// initial password is obtained: the name of an environment variable,
    /// never the password itself).
    #[serde(default, skip_serializing_if = "Props::is_empty")]
    pub create_only: Props,
    /// Resources that must exist before this one (from references).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// When the access this resource grants ends (guests, role assignments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

/// One object read from the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveObject {
    pub kind: Kind,
    pub id: String,
    pub natural_key: String,
    pub display_name: String,
    /// Normalized properties, server-managed fields removed.
    pub props: Props,
}

/// Everything read from the tenant for one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedState {
    /// Live objects per kind, in any order (the engine sorts).
    pub objects: BTreeMap<Kind, Vec<LiveObject>>,
    /// Kinds that could not be read, with why: their resources are
    /// "unknown", never drift.
    pub unreadable: BTreeMap<Kind, String>,
    /// `lastModifiedDateTime` of live policies, by object id: never
    /// compared nor fingerprinted; a ring's last change time when it is
    /// later than the ledger's, or the ledger has none (the rollout soak).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modified: BTreeMap<String, String>,
    /// Resources the live tenant cannot hold or cannot show, with why
    /// (e.g. PIM assignments on a tenant without Entra ID P2): a declared
    /// one is refused with that reason, a ledger-only one is unknown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<Address, String>,
    /// Said once in the plan's warnings (e.g. a part of a collection that
    /// the tenant's licences do not offer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Single resources that could not be read, with why (an object the
    /// ledger holds that answers by id but is not listed yet, within the
    /// replication window): "unknown", never missing nor created.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unread: BTreeMap<Address, String>,
    /// Live membership of the groups governance judges whose membership
    /// desired state does not manage (groups assignments target, nested
    /// ones, ring device groups), by group id: member id -> member type
    /// (`user`, `device`, `group`, ...). A live group missing here was not
    /// read: unknown (see `governance::live`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub memberships: BTreeMap<String, BTreeMap<String, String>>,
    /// Declared resources whose properties the tenant completes (a
    /// template's defaults), by address: `plan` uses these properties in
    /// place of the declared ones (see `crate::completed`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub completed: BTreeMap<Address, crate::completed::Completion>,
    /// Declared resources whose change the tenant cannot take now (a
    /// licence it lacks, a delete Graph refuses while assignments depend
    /// on it), with why: left out of the plan and listed, the rest planned
    /// (see `crate::held`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<Address, crate::held::Held>,
}

impl ObservedState {
    pub fn insert(&mut self, object: LiveObject) {
        self.objects.entry(object.kind).or_default().push(object);
    }
}

/// The desired side handed to `plan`: every resource plus the settings that
/// shape planning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredModel {
    /// Shared between clones of the model until one writes it (see
    /// [`crate::shared_resources`]).
    pub resources: crate::shared_resources::Resources,
    pub governance: schema::kinds::Governance,
    /// Users declared `kind = "service"`: never targeted by policy or
    /// conditional access, and any change touching them is sensitive.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub service_accounts: BTreeSet<Address>,
    /// Groups that hold only service accounts (by members or by a dynamic
    /// rule naming them): conditional access must exclude one of them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub service_account_groups: BTreeSet<Address>,
    /// Groups declared `protected = true`: membership changes only through
    /// desired state, and every change to them is sensitive.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub protected_groups: BTreeSet<Address>,
    /// Per-ring copies of policies rolled out ring by ring.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rings: BTreeMap<Address, crate::governance::RingOf>,
    /// The roles each service account may hold (least privilege).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_account_roles: BTreeMap<Address, ServiceRoles>,
    /// The file (as shown) declaring a resource, for problems only a read
    /// of the tenant finds (an unknown licence SKU): kept out of plans.
    #[serde(skip)]
    pub origins: BTreeMap<Address, String>,
}

/// What a service account declares it may hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRoles {
    /// Role names (`allowed_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Only read-only roles (`read_only = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl DesiredModel {
    pub fn insert(&mut self, r: DesiredResource) {
        self.resources.insert(r.address.clone(), r);
    }
}

// Kind is used as a map key in serialized observed state.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip() {
        let r = reference("group.mwd-test");
        assert_eq!(as_reference(&r), Some("group.mwd-test"));
        assert_eq!(as_reference(&Value::String("x".into())), None);
    }
}
