//! The shape of `data/graph-metadata.json`: written by the `gen` binary,
//! read (embedded) by the library. Plain data, sorted maps, so the committed
//! file regenerates byte for byte.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}

/// Everything tenantctl knows about Graph's schema and permissions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Data {
    /// Where the data came from and how to regenerate it.
    pub generated: Generated,
    /// Entity and complex types, by full name (`microsoft.graph.user`).
    pub types: BTreeMap<String, TypeDef>,
    /// Enum types, by full name.
    pub enums: BTreeMap<String, EnumDef>,
    /// Permission rules for the requests tenantctl makes and the sandbox serves.
    pub requests: Vec<RequestRule>,
    /// The smallest set of application permissions covering every request
    /// tenantctl makes (the README's list and the sandbox's default grant).
    pub documented_permissions: Vec<String>,
    /// Maximum string lengths, one table for the sandbox and `validate`:
    /// the CSDL's `MaxLength` facets, then the limits the docs give where
    /// the CSDL has none (each with its citation). Also set as
    /// [`Prop::max`] on the properties they limit.
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// The collections `[graph_object]` may name, with their entity types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<CollectionDef>,
}

/// A collection `[graph_object]` may name: its path (from the version on),
/// the entity type its members are (or derive from), and whether only
/// `/beta` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionDef {
    pub path: String,
    pub entity: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub beta_only: bool,
    /// Its entity's bound `assign` action, when it has one (and an
    /// `assignments` navigation to read them back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<AssignDef>,
}

/// A collection's `assign` action: `POST {collection}/{id}/assign` with
/// `{param: [assignment, ...]}`, which replaces the whole set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignDef {
    /// The action's parameter (`assignments`, `mobileAppAssignments`).
    pub param: String,
    /// The assignment entity type (short name), which has a `target`.
    pub assignment: String,
}

/// One maximum string length and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Type short name (`user`).
    pub t: String,
    pub prop: String,
    pub max: u32,
    /// `CSDL MaxLength`, or the docs page that gives it.
    pub source: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Generated {
    pub command: String,
    /// Source file -> upstream repository and commit.
    pub sources: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    Entity,
    Complex,
}

/// One entity or complex type: its own properties (inherited ones are on
/// its base types).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeDef {
    pub kind: TypeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub r#abstract: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub open: bool,
    /// Only in the beta type mappings: property names without types.
    #[serde(default, skip_serializing_if = "is_false")]
    pub beta_only: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, Prop>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nav: BTreeMap<String, Nav>,
    /// Own property names that exist only on `/beta` and whose type the
    /// beta typings do not give (navigation properties, mostly).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beta_props: Vec<String>,
    /// Own properties that exist only on `/beta`, typed from the
    /// `@microsoft/microsoft-graph-types-beta` declarations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub beta_typed: BTreeMap<String, Prop>,
}

/// A structural property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prop {
    /// `Edm.String`, `microsoft.graph.groupType`, ... (element type for collections).
    pub t: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub c: bool,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub nullable: bool,
    /// Read-only (Computed in the CSDL, or documented read-only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub ro: bool,
    /// Maximum string length the docs give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nav {
    pub t: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub c: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnumDef {
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub flags: bool,
    /// Members only `/beta` has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub beta_members: Vec<String>,
}

/// Which application permissions allow one request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestRule {
    pub method: String,
    /// Template as in `requests.txt` (`/groups/{id}/members/$ref`).
    pub path: String,
    /// Any one of these grants the request...
    pub any_of: Vec<String>,
    /// ...together with all of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all_of: Vec<String>,
    /// The least privileged of `any_of` per permissions.json.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub least: Vec<String>,
    /// How it was resolved: `exact`, or `parent: METHOD /path` when
    /// permissions.json does not list the path itself.
    pub source: String,
    /// Whether tenantctl itself makes this request (else only the sandbox serves it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub tenantctl: bool,
    /// The resource type the rule is for, where the path alone does not
    /// tell (`DELETE /directory/deletedItems/{id}` of a `user` or a
    /// `group`); such rules are applied once the object is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}
