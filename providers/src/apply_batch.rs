//! Apply at Graph's limits: what a group create binds and what is left for
//! batched `$ref` writes. (The `$batch` coalescing of writes and create
//! lookups is [`crate::graph::write_batch`]; the executor routes its writes
//! through it when built `with_batching`.)
//!
//! Graph takes a group's first members and owners in the create itself
//! (`members@odata.bind`, `owners@odata.bind`), at most 20 relationships in
//! total per request (graph-reference.md, groups; "The maximum number of 20
//! relationships allowed at create time"). The rest are added one `$ref`
//! each, which the executor sends concurrently so they ride in `$batch`
//! calls of 20.

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// Graph's limit of relationships bound in one group create or update.
pub const MAX_BINDS: usize = 20;

/// A relationship left for a `POST /groups/{id}/{rel}/$ref`.
pub type PendingRef = (&'static str, String);

/// `body` (a group create body) with up to [`MAX_BINDS`] of `owners` and
/// `members` bound in it (owners first; no members for a dynamic group,
/// whose members Graph refuses to take), and the relationships left over.
/// `directory_objects` is the URL prefix of a directory object, e.g.
/// `https://graph.microsoft.com/v1.0/directoryObjects/`.
pub fn group_create_body(mut body: Value, members: &BTreeSet<String>, owners: &BTreeSet<String>, directory_objects: &str) -> (Value, Vec<PendingRef>) {
    let dynamic = body.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|v| v.as_str() == Some("DynamicMembership")));
    let mut all: Vec<PendingRef> = owners.iter().map(|o| ("owners", o.clone())).collect();
    all.extend(members.iter().map(|m| ("members", m.clone())));
    let mut rest = Vec::new();
    let mut bound: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
    for (rel, id) in all {
        let bindable = !(dynamic && rel == "members");
        if bindable && bound[0].len() + bound[1].len() < MAX_BINDS {
            bound[usize::from(rel == "members")].push(json!(format!("{directory_objects}{id}")));
        } else {
            rest.push((rel, id));
        }
    }
    if let Some(map) = body.as_object_mut() {
        let [owners, members] = bound;
        if !owners.is_empty() {
            map.insert("owners@odata.bind".into(), Value::Array(owners));
        }
        if !members.is_empty() {
            map.insert("members@odata.bind".into(), Value::Array(members));
        }
    }
    (body, rest)
}

/// Every relationship of `members` and `owners`, for a create that could
/// not bind them (a bound object not replicated yet).
pub fn all_refs(members: &BTreeSet<String>, owners: &BTreeSet<String>) -> Vec<PendingRef> {
    let mut all: Vec<PendingRef> = owners.iter().map(|o| ("owners", o.clone())).collect();
    all.extend(members.iter().map(|m| ("members", m.clone())));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize, prefix: &str) -> BTreeSet<String> {
        (0..n).map(|i| format!("{prefix}{i:02}")).collect()
    }

    #[test]
    fn at_most_twenty_relationships_ride_in_the_create_owners_first() {
        let base = json!({"displayName": "G", "mailNickname": "g"});
        let (body, rest) = group_create_body(base.clone(), &ids(25, "m"), &ids(3, "o"), "https://graph.microsoft.com/v1.0/directoryObjects/");
        let owners = body["owners@odata.bind"].as_array().unwrap();
        let members = body["members@odata.bind"].as_array().unwrap();
        assert_eq!((owners.len(), members.len()), (3, 17));
        assert_eq!(owners[0], json!("https://graph.microsoft.com/v1.0/directoryObjects/o00"));
        assert_eq!(rest.len(), 8);
        assert!(rest.iter().all(|(rel, _)| *rel == "members"));
        assert_eq!(rest[0].1, "m17");
        // Five members: all in the create, nothing left.
        let (body, rest) = group_create_body(base.clone(), &ids(5, "m"), &BTreeSet::new(), "x/");
        assert_eq!(body["members@odata.bind"].as_array().unwrap().len(), 5);
        assert!(body.get("owners@odata.bind").is_none());
        assert!(rest.is_empty());
        // Nothing declared: the body is unchanged.
        assert_eq!(group_create_body(base.clone(), &BTreeSet::new(), &BTreeSet::new(), "x/"), (base, Vec::new()));
    }

    #[test]
    fn a_dynamic_group_binds_owners_only() {
        let base = json!({"displayName": "D", "groupTypes": ["DynamicMembership"], "membershipRule": "x"});
        let (body, rest) = group_create_body(base, &ids(2, "m"), &ids(1, "o"), "x/");
        assert!(body.get("members@odata.bind").is_none());
        assert_eq!(body["owners@odata.bind"].as_array().unwrap().len(), 1);
        assert_eq!(rest.len(), 2);
        assert_eq!(all_refs(&ids(2, "m"), &ids(1, "o")).len(), 3);
    }
}
