//! Who a declared group holds where desired state does not say (issue 12,
//! "live membership where desired state does not manage it"; hostile run
//! 17, findings 10, 11 and 16): the live members of a group declared
//! without `members` or rule, and of the groups it nests, declared nesting
//! followed down to the groups whose membership is live. Members desired
//! state declares are judged from desired state; these are the rest.
//!
//! Membership that was not read ([`ObservedState::memberships`] has no
//! entry for a live group) is returned as unread: unknown, never "nobody".

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schema::{Address, Kind};

use super::live::{manages_membership, DEVICE, GROUP};
use crate::model::{DesiredModel, ObservedState};
use crate::plan::referenced_addresses;

/// The live members of a group where its membership is live.
#[derive(Debug, Default)]
pub struct Held {
    /// Member id -> (member type, path of groups it was found through).
    pub members: BTreeMap<String, (String, String)>,
    /// Paths of groups whose live membership was not read.
    pub unread: Vec<String>,
    /// The address desired state (or the ledger) gives each member that
    /// has one, by member id.
    pub addresses: BTreeMap<String, Address>,
}

impl Held {
    /// The address of member `id`, if it has one.
    pub fn address(&self, id: &str) -> Option<&Address> {
        self.addresses.get(id)
    }

    /// How member `id` is named: its address, else its id.
    pub fn who(&self, id: &str) -> String {
        self.address(id).map(Address::to_string).unwrap_or_else(|| format!("id:{id}"))
    }
}

/// A group to walk: declared (its address) or live only (its id).
enum Node {
    /// A declared group, and whether it was reached through a live nesting
    /// (its membership of the group above it is nobody's declaration).
    Declared(Address, bool),
    Live(String),
}

/// The live members (not devices, not groups: those are followed) of
/// declared group `g` wherever its membership, or that of a group it nests,
/// is not managed by desired state. A group the plan has not created yet
/// holds no one live.
pub fn of(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, g: &Address) -> Held {
    walk(desired, observed, ids, Node::Declared(g.clone(), false), g.to_string())
}

/// [`of`] for a live group desired state does not declare (its id).
pub fn of_id(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, id: &str) -> Held {
    walk(desired, observed, ids, Node::Live(id.to_string()), format!("group id:{id}"))
}

fn walk(desired: &DesiredModel, observed: &ObservedState, ids: &BTreeMap<Address, String>, start: Node, name: String) -> Held {
    let by_id: HashMap<&str, &Address> = ids.iter().map(|(a, i)| (i.as_str(), a)).collect();
    let mut out = Held::default();
    let mut seen_a = BTreeSet::new();
    let mut seen_id = BTreeSet::new();
    let mut todo = vec![(start, name)];
    while let Some((node, path)) = todo.pop() {
        match node {
            Node::Declared(a, live) => {
                if a.kind != Kind::Group || !seen_a.insert(a.clone()) {
                    continue;
                }
                let read = ids.get(&a).filter(|id| observed.memberships.contains_key(*id));
                if live && desired.service_account_groups.contains(&a) {
                    // The service accounts' group nested live holds every
                    // service account, whatever its rule reads now.
                    for m in &desired.service_accounts {
                        if let Some(id) = ids.get(m) {
                            out.members.entry(id.clone()).or_insert_with(|| ("user".to_string(), path.clone()));
                            out.addresses.insert(id.clone(), m.clone());
                        }
                    }
                }
                if manages_membership(desired, &a) && live && read.is_some() {
                    // Nested live and read (the service accounts' group):
                    // whoever is in it is reached.
                    todo.push((Node::Live(read.cloned().unwrap_or_default()), path));
                } else if manages_membership(desired, &a) {
                    let mut refs = BTreeSet::new();
                    if let Some(m) = desired.resources.get(&a).and_then(|r| r.props.get("members")) {
                        referenced_addresses(m, &mut refs);
                    }
                    // Reached through a live nesting, its declared members
                    // are members of the group above it that nobody
                    // declared (hostile run 26, finding 1); from desired
                    // state, callers judge them already.
                    if live {
                        for m in refs.iter().filter(|m| matches!(m.kind, Kind::User | Kind::Guest)) {
                            if let Some(id) = ids.get(m) {
                                out.members.entry(id.clone()).or_insert_with(|| ("user".to_string(), path.clone()));
                                out.addresses.insert(id.clone(), m.clone());
                            }
                        }
                    }
                    todo.extend(refs.into_iter().filter(|m| m.kind == Kind::Group).map(|m| {
                        let p = format!("{path} > {m}");
                        (Node::Declared(m, live), p)
                    }));
                    // A `memberOf` rule (resolved by the plan) makes the
                    // named groups' members this group's: followed like
                    // declared nesting, down to live membership (hostile
                    // run 24, findings 7 and 8, the rest).
                    todo.extend(member_of_named(desired, &a).map(|n| match n {
                        Ok(m) => {
                            let p = format!("{path} > {m}");
                            (Node::Declared(m, live), p)
                        }
                        Err(id) => (Node::Live(id.clone()), format!("{path} > group id:{id}")),
                    }));
                } else if let Some(id) = ids.get(&a) {
                    todo.push((Node::Live(id.clone()), path));
                }
            }
            Node::Live(id) => {
                if !seen_id.insert(id.clone()) {
                    continue;
                }
                let Some(members) = observed.memberships.get(&id) else {
                    out.unread.push(path);
                    continue;
                };
                for (mid, ty) in members {
                    match ty.as_str() {
                        GROUP => {
                            let next = match by_id.get(mid.as_str()) {
                                Some(a) if desired.resources.contains_key(*a) => (Node::Declared((*a).clone(), true), format!("{path} > {a}")),
                                _ => (Node::Live(mid.clone()), format!("{path} > group id:{mid}")),
                            };
                            todo.push(next);
                        }
                        DEVICE => {}
                        _ => {
                            out.members.entry(mid.clone()).or_insert_with(|| (ty.clone(), path.clone()));
                            if let Some(a) = by_id.get(mid.as_str()) {
                                out.addresses.insert(mid.clone(), (*a).clone());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The groups group `a`'s `memberOf` rule names, as the plan resolved
/// them (`super::member_of::NESTED`): an address, or `Err(id)` for an id
/// nothing declares.
pub(crate) fn member_of_named<'a>(desired: &'a DesiredModel, a: &Address) -> impl Iterator<Item = Result<Address, String>> + 'a {
    let named = desired.resources.get(a).and_then(|r| r.props.get(super::member_of::NESTED)).and_then(serde_json::Value::as_array);
    named.into_iter().flatten().filter_map(crate::model::as_reference).map(|r| match r.strip_prefix("id:") {
        Some(id) => Err(id.to_string()),
        None => r.parse::<Address>().map_err(|_| r.to_string()),
    })
}

/// Whether live member `id` is a guest: declared as one, or read as one
/// (the guests' listing, or `userType` `Guest`).
pub fn is_guest(observed: &ObservedState, address: Option<&Address>, id: &str) -> bool {
    if address.is_some_and(|a| a.kind == Kind::Guest) {
        return true;
    }
    observed.objects.get(&Kind::Guest).into_iter().flatten().any(|o| o.id == id)
        || observed.objects.get(&Kind::User).into_iter().flatten().any(|o| o.id == id && o.props.get("userType").and_then(serde_json::Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("guest")))
}
