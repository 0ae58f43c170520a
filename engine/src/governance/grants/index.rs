//! What `super` looks up for each change, indexed once per [`super::Tenant`]
//! (built on first use): the groups naming each member, the objects naming
//! each group (role assignments, policies, Intune role assignments, PIM
//! approvers), the live ids' addresses, and the declared membership rules by
//! the user attribute they read. Without it every change of a plan scanned
//! every declared and live object (once per group nesting the changed one),
//! quadratic in changes x objects: a first apply of a large tenant.
//!
//! Its maps are only looked up, never walked, so they are hashed (with
//! `crate::fast_hash`; ordered maps of every live id and member name were
//! 18% of a 100k plan with changes, issue 13). Every lookup that yields
//! several candidates yields them in order (sets and vectors).
//!
//! The index narrows the candidates only; each candidate is still judged by
//! the same checks as before, in the same order, so what a plan says is
//! unchanged.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use schema::{Address, Kind};
use serde_json::Value;

use super::{policy_groups, refs, rule_attributes, rule_groups, Grants};
use crate::fast_hash::FastBuild;
use crate::model::{as_reference, DesiredModel, DesiredResource, LiveObject, ObservedState};

/// An object that may grant something to a group it names.
pub(super) enum Grantor<'a> {
    Declared(&'a Address, &'a DesiredResource),
    Live(Kind, &'a LiveObject),
}

pub(super) struct Index<'a> {
    /// Live id -> the addresses matched to it, in address order.
    pub addresses: HashMap<&'a str, Vec<&'a Address>, FastBuild>,
    /// Live ids of declared objects.
    pub declared_ids: HashSet<&'a str, FastBuild>,
    /// Every live object by id (the last of each id, in kind order, as the scan inserts it).
    pub live_by_id: HashMap<&'a str, (Kind, &'a LiveObject), FastBuild>,
    /// Live groups by id.
    pub live_groups: HashMap<&'a str, &'a LiveObject, FastBuild>,
    /// Member name -> declared groups naming it (`members`, nesting), in
    /// address order, each once. Keys borrow the names from desired state.
    pub declared_containers: HashMap<&'a str, Vec<&'a Address>, FastBuild>,
    /// Member name -> positions (in `observed.objects[Group]`) of live
    /// groups naming it (members, `memberOf` rule, memberships read), in
    /// increasing order, each once. Keys borrow the names from observed
    /// state where they are there (a `memberOf` rule's ids are lowered).
    pub live_containers: HashMap<Cow<'a, str>, Vec<usize>, FastBuild>,
    pub live_group_list: &'a [LiveObject],
    /// Objects that may grant something to the group they name.
    pub grantors: Vec<Grantor<'a>>,
    /// Group name -> positions in `grantors` naming it.
    pub grantors_of: HashMap<String, BTreeSet<usize>, FastBuild>,
    /// Declared groups with a membership rule: (group, rule), in address
    /// order, and the positions of those reading each user attribute.
    pub rule_groups: Vec<(&'a Address, &'a str)>,
    pub rules_reading: HashMap<String, BTreeSet<usize>, FastBuild>,
    /// `group_grants` already worked out, by group.
    pub grants: RefCell<BTreeMap<Address, Grants>>,
}

/// [`refs`] without copying: each reference string in `v` (addresses or
/// ids, `id:` stripped, empty strings skipped), borrowed from `v`, in the
/// order `refs` meets them. The index holds one per member of every group
/// (100k at 100k objects), where each copy and one-entry set was an
/// allocation (issue 13).
fn each_ref<'v>(v: Option<&'v Value>, f: &mut impl FnMut(&'v str)) {
    match v {
        Some(Value::Array(a)) => a.iter().for_each(|x| each_ref(Some(x), f)),
        Some(x @ Value::Object(m)) => match as_reference(x) {
            Some(r) => f(r.strip_prefix("id:").unwrap_or(r)),
            None => m.values().for_each(|x| each_ref(Some(x), f)),
        },
        Some(Value::String(s)) if !s.is_empty() => f(s),
        _ => {}
    }
}

/// Adds `at` to `key`'s list unless it ends with it already: every
/// position is added in increasing order (all of one object's names before
/// the next object's), so the lists stay sorted and each holds a position
/// once, as the sets they stand for.
fn add_at<K: std::hash::Hash + Eq, T: PartialEq + Copy>(map: &mut HashMap<K, Vec<T>, FastBuild>, key: K, at: T) {
    let list = map.entry(key).or_default();
    if list.last() != Some(&at) {
        list.push(at);
    }
}

/// The reference strings an object may name a group by, for what
/// `group_grants` checks of it (principal, policy groups, Intune role
/// members, PIM approvers).
fn granted_names(kind: Kind, props: &crate::Props) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if kind == Kind::RoleAssignment {
        if let Some(p) = props.get("principal").and_then(as_reference) {
            out.insert(p.strip_prefix("id:").unwrap_or(p).to_string());
        }
    }
    match kind {
        Kind::IntuneRoleAssignment => refs(props.get("members"), &mut out),
        Kind::RolePolicy => refs(props.get("activation").and_then(|a| a.get("approvers")), &mut out),
        _ => {}
    }
    if kind.is_policy() || kind == Kind::ConditionalAccess {
        let (inc, exc) = policy_groups(kind, props);
        out.extend(inc);
        out.extend(exc);
    }
    out
}

impl<'a> Index<'a> {
    pub fn build(desired: &'a DesiredModel, observed: &'a ObservedState, ids: &'a BTreeMap<Address, String>) -> Index<'a> {
        let mut addresses: HashMap<&str, Vec<&Address>, FastBuild> = HashMap::with_capacity_and_hasher(ids.len(), FastBuild::default());
        for (a, i) in ids {
            addresses.entry(i.as_str()).or_default().push(a);
        }
        let declared_ids = ids.values().map(String::as_str).collect();
        let mut live_by_id = HashMap::with_capacity_and_hasher(observed.objects.values().map(Vec::len).sum(), FastBuild::default());
        for (k, v) in &observed.objects {
            for o in v {
                live_by_id.insert(o.id.as_str(), (*k, o));
            }
        }
        let live_group_list: &[LiveObject] = observed.objects.get(&Kind::Group).map(Vec::as_slice).unwrap_or(&[]);
        let live_groups = live_group_list.iter().map(|o| (o.id.as_str(), o)).collect();
        let mut declared_containers: HashMap<&str, Vec<&Address>, FastBuild> = HashMap::default();
        let mut grantors = Vec::with_capacity(desired.resources.len() + live_by_id.len());
        let mut rule_groups_list = Vec::new();
        let mut rules_reading: HashMap<String, BTreeSet<usize>, FastBuild> = HashMap::default();
        for (a, r) in &desired.resources {
            if a.kind == Kind::Group {
                let mut add = |n: &'a str| add_at(&mut declared_containers, n, a);
                each_ref(r.props.get("members"), &mut add);
                each_ref(r.props.get(crate::governance::member_of::NESTED), &mut add);
                if let Some(rule) = r.props.get("membershipRule").and_then(Value::as_str) {
                    for attr in rule_attributes(rule) {
                        rules_reading.entry(attr).or_default().insert(rule_groups_list.len());
                    }
                    rule_groups_list.push((a, rule));
                }
            }
            grantors.push(Grantor::Declared(a, r));
        }
        let mut live_containers: HashMap<Cow<str>, Vec<usize>, FastBuild> = HashMap::default();
        for (p, o) in live_group_list.iter().enumerate() {
            each_ref(o.props.get("members"), &mut |n| add_at(&mut live_containers, Cow::Borrowed(n), p));
            for n in rule_groups(o) {
                add_at(&mut live_containers, Cow::Owned(n), p);
            }
            for n in observed.memberships.get(&o.id).into_iter().flat_map(|x| x.keys()) {
                add_at(&mut live_containers, Cow::Borrowed(n.as_str()), p);
            }
        }
        for (k, v) in &observed.objects {
            for o in v {
                grantors.push(Grantor::Live(*k, o));
            }
        }
        // Only objects naming some group stay candidates.
        let mut grantors_of: HashMap<String, BTreeSet<usize>, FastBuild> = HashMap::default();
        for (i, g) in grantors.iter().enumerate() {
            let names = match g {
                Grantor::Declared(a, r) => granted_names(a.kind, &r.props),
                Grantor::Live(k, o) => granted_names(*k, &o.props),
            };
            for n in names {
                grantors_of.entry(n).or_default().insert(i);
            }
        }
        Index {
            addresses,
            declared_ids,
            live_by_id,
            live_groups,
            declared_containers,
            live_containers,
            live_group_list,
            grantors,
            grantors_of,
            rule_groups: rule_groups_list,
            rules_reading,
            grants: RefCell::new(BTreeMap::new()),
        }
    }

    /// The first address (in address order) matched to live id `id`.
    pub fn address_of(&self, id: &str) -> Option<&'a Address> {
        self.addresses.get(id).and_then(|v| v.first().copied())
    }

    /// Positions in `grantors` of the objects naming any of `names`, in order.
    pub fn grantors_naming(&self, names: &BTreeSet<String>) -> BTreeSet<usize> {
        names.iter().filter_map(|n| self.grantors_of.get(n)).flatten().copied().collect()
    }

    /// Declared groups naming any of `names`, in address order.
    pub fn declared_naming(&self, names: &BTreeSet<String>) -> BTreeSet<&'a Address> {
        names.iter().filter_map(|n| self.declared_containers.get(n.as_str())).flatten().copied().collect()
    }

    /// Live groups naming any of `names`, in the order they were read.
    pub fn live_naming(&self, names: &BTreeSet<String>) -> Vec<&'a LiveObject> {
        let at: BTreeSet<usize> = names.iter().filter_map(|n| self.live_containers.get(n.as_str())).flatten().copied().collect();
        at.into_iter().filter_map(|p| self.live_group_list.get(p)).collect()
    }

    /// Declared rule groups reading any of `attributes` (lower case), in
    /// address order.
    pub fn rules_reading_any<'s>(&self, attributes: impl Iterator<Item = &'s String>) -> Vec<(&'a Address, &'a str)> {
        let at: BTreeSet<usize> = attributes.filter_map(|x| self.rules_reading.get(x)).flatten().copied().collect();
        at.into_iter().filter_map(|p| self.rule_groups.get(p).copied()).collect()
    }
}
