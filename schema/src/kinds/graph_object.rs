//! `[graph_object.KEY]`: the typed escape hatch. Any Graph collection
//! tenantctl does not model yet, among those graph-metadata lists
//! (`collections`: each checked against Graph's metadata when generated),
//! declared as the collection's path, the object's `@odata.type`, its
//! natural key (a property of the body) and its body in Graph's own
//! (camelCase) property names. The body is checked against Graph's
//! metadata at load: every property must exist on the type, with a value
//! of its type; read-only properties and relationships are refused.
//! Only declared body properties are managed and compared. A collection
//! whose entity has an `assign` action also takes `assignments` (the
//! Intune kinds' shape), written with that action and read back with
//! `$expand=assignments`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which Graph version the collection is read and written through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GraphApi {
    #[serde(rename = "v1.0")]
    V1,
    #[serde(rename = "beta")]
    Beta,
}

impl GraphApi {
    pub fn as_str(self) -> &'static str {
        match self {
            GraphApi::V1 => "v1.0",
            GraphApi::Beta => "beta",
        }
    }
}

/// `[graph_object.KEY]`: an object of a Graph collection not modelled as a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphObject {
    /// The collection's path from the version on, e.g.
    /// `/deviceManagement/termsAndConditions`.
    pub collection: String,
    /// `v1.0` or `beta`.
    pub api: GraphApi,
    /// The object's type, e.g. `#microsoft.graph.termsAndConditions`: the
    /// collection's type or one derived from it.
    pub odata_type: String,
    /// The body property that identifies the object in its collection
    /// (`displayName`): how it is found when the ledger has no id.
    pub natural_key: String,
    /// The object's properties by their Graph names. Only these are
    /// managed and compared; everything else Graph holds is left alone.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub body: BTreeMap<String, toml::Value>,
    /// Who it applies to, for a collection whose entity Graph assigns
    /// (an `assign` action): the whole set, as on the Intune kinds. Left
    /// out, assignments are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<super::Assignments>,
}

impl GraphObject {
    /// The natural key's value, when the body gives it as a string.
    pub fn natural_value(&self) -> Option<&str> {
        self.body.get(&self.natural_key).and_then(toml::Value::as_str)
    }
}

// Validation: this kind's own checks, run through the registry.

use crate::path;
use crate::validate::Ctx;

/// Collections the kinds manage, as each kind's module declares them
/// (`COLLECTIONS`, found through the registry): a graph_object there would
/// fight the kind.
pub fn modelled_collections() -> impl Iterator<Item = &'static str> {
    crate::Kind::ALL.into_iter().flat_map(crate::Kind::collections).copied()
}

/// Whether a tenantctl kind manages the collection at `path`.
pub fn modelled(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    modelled_collections().any(|m| m.eq_ignore_ascii_case(p))
}

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    let m = graph_metadata::metadata();
    let s = cx.state;
    let mut seen: BTreeMap<(String, String), &String> = BTreeMap::new();
    for (key, d) in &s.graph_object {
        let o = &d.value;
        let origin = &d.origin;
        let modelled = modelled(&o.collection);
        let Some(coll) = m.collection(&o.collection).filter(|_| !modelled) else {
            let known: Vec<&str> = m.collections().iter().map(|c| c.path.as_str()).filter(|p| !self::modelled(p)).collect();
            let d = cx.error(
                "unknown-collection",
                origin,
                &path!["graph_object", key, "collection"],
                if modelled {
                    format!("graph_object.{key}: {} is managed by a tenantctl kind; declare it as that kind", o.collection)
                } else {
                    format!("graph_object.{key}: {} is not a Graph collection graph_object knows from Graph's metadata", o.collection)
                },
            );
            d.help = Some(match crate::suggest::closest(&o.collection, known.iter().copied()) {
                Some(s) if !modelled => format!("did you mean `{s}`?"),
                _ => format!(
                    "graph_object takes the collections Graph's metadata defines under /deviceManagement, /deviceAppManagement, /policies, /identity and /groupLifecyclePolicies that an application may create in ({} of them)",
                    known.len()
                ),
            });
            continue;
        };
        // Graph's paths are case-insensitive, but the collection is the
        // object's identity in plans, the ledger and export: one spelling,
        // the metadata's (hostile run 14, finding 27).
        if o.collection != coll.path {
            cx.error(
                "collection-spelling",
                origin,
                &path!["graph_object", key, "collection"],
                format!("graph_object.{key}: collection `{}` must be spelled exactly as Graph's metadata spells it: `{}`", o.collection, coll.path),
            )
            .help = Some(format!("write collection = \"{}\"", coll.path));
            continue;
        }
        let beta = o.api == GraphApi::Beta;
        if coll.beta_only && !beta {
            cx.error("beta-only", origin, &path!["graph_object", key, "api"], format!("graph_object.{key}: {} exists only in Graph beta; set api = \"beta\"", coll.path));
        }
        // The write permission comes from Graph's permission table, as
        // every kind's; without a rule tenantctl could not say what to grant.
        let segs: Vec<&str> = coll.path.split('/').filter(|s| !s.is_empty()).collect();
        if m.permission_rule("POST", &segs).is_none() {
            cx.error("no-permission-rule", origin, &path!["graph_object", key, "collection"], format!("graph_object.{key}: Graph's permission table has no rule for POST {}", coll.path));
        }
        let ty = graph_metadata::full_name(o.odata_type.trim_start_matches('#'));
        let def = m.type_def(&ty);
        let fits = def.is_some_and(|t| !t.r#abstract && (beta || !t.beta_only)) && m.is_a(&ty, &coll.entity);
        if !fits {
            let concrete: Vec<String> = std::iter::once(graph_metadata::full_name(&coll.entity))
                .chain(m.derived_types(&coll.entity, beta).into_iter().map(str::to_string))
                .filter(|t| m.type_def(t).is_some_and(|d| !d.r#abstract && (beta || !d.beta_only)))
                .map(|t| format!("#{t}"))
                .collect();
            let help = crate::suggest::closest(&o.odata_type, concrete.iter().map(String::as_str)).map(|s| format!("did you mean `{s}`?")).unwrap_or_else(|| format!("one of: {}", concrete.join(", ")));
            cx.error(
                "graph-type",
                origin,
                &path!["graph_object", key, "odata_type"],
                format!("graph_object.{key}: `{}` is not a type of {} ({}) in Graph {}", o.odata_type, coll.path, coll.entity, o.api.as_str()),
            )
            .help = Some(help);
            continue;
        }
        // One collection is read once, matched on one property.
        if let Some((first, nk)) = s
            .graph_object
            .iter()
            .take_while(|(k, _)| *k != key)
            .find(|(_, d)| d.value.collection.trim_end_matches('/').eq_ignore_ascii_case(o.collection.trim_end_matches('/')))
            .map(|(k, d)| (k, &d.value.natural_key))
            .filter(|(_, nk)| **nk != o.natural_key)
        {
            cx.error(
                "natural-key",
                origin,
                &path!["graph_object", key, "natural_key"],
                format!("graph_object.{key}: natural_key `{}` differs from graph_object.{first}'s `{nk}` in the same collection; objects of one collection are found by one property", o.natural_key),
            );
        }
        match o.natural_value() {
            Some(v) if !v.trim().is_empty() => {
                let k = (coll.path.to_lowercase(), v.trim().to_lowercase());
                if let Some(first) = seen.get(&k) {
                    let first = (*first).clone();
                    cx.error(
                        "duplicate-natural-key",
                        origin,
                        &path!["graph_object", key, "body", o.natural_key.as_str()],
                        format!("graph_object.{key} has the same {} as graph_object.{first} in {}; both would match one object", o.natural_key, coll.path),
                    );
                } else {
                    seen.insert(k, key);
                }
            }
            _ => {
                cx.error(
                    "natural-key",
                    origin,
                    &path!["graph_object", key, "natural_key"],
                    format!("graph_object.{key}: natural_key `{}` must name a non-empty string property of body", o.natural_key),
                );
            }
        }
        crate::graph_types::check_object_body(cx.sources, cx.diags, origin, key, &ty, beta, &o.body);
        if let Some(a) = &o.assignments {
            if coll.assign.is_none() {
                cx.error(
                    "assignments-not-supported",
                    origin,
                    &path!["graph_object", key, "assignments"],
                    if coll.beta_only {
                        // Graph publishes beta's types as names only (no
                        // actions): an assign action cannot be known there.
                        format!("graph_object.{key}: {} exists only in Graph beta, whose published type mappings list no actions, so its `assign` action (if any) is unknown: its objects take no assignments here", coll.path)
                    } else {
                        format!("graph_object.{key}: {} has no `assign` action in Graph's metadata: its objects take no assignments here", coll.path)
                    },
                );
            } else {
                crate::validate::policy::check_assignments(cx, crate::Kind::GraphObject, key, origin, a);
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("graph_object: an object of a collection tenantctl does not model");
/// The Graph collections this kind manages: none (each object names its
/// own, which no other kind may manage; see `modelled`).
pub const COLLECTIONS: &[&str] = &[];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
