//! Cheap repeat reads of users and groups through delta queries, for the
//! reconcile loop. The first pass reads `/users/delta` and `/groups/delta`
//! (with `members` and `owners`) in full; the snapshot of selected Graph
//! properties and the deltaLinks are kept in a state file (no secrets: only
//! what `$select` names). Later passes fetch only what changed, apply
//! `@removed` entries, `members@delta` and `owners@delta`, and fall back to
//! a full resync when the token has expired. So a quiet pass costs one
//! request for users and one for groups, whatever the tenant's size and
//! whatever membership and ownership desired state manages. The other
//! collections are read as `observe` reads them.

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::graph::{GraphClient, GraphError};
use crate::kinds::{group, guest, str_field, user};

/// 2: group snapshots hold owners (from `owners@delta`); 3: and member
/// types (for governance, `crate::membership`); an older state resyncs once.
pub const DELTA_STATE_VERSION: u32 = 3;

/// One collection's snapshot: raw objects by id, members by group id.
///
/// Each object is kept as its compact JSON text (what the state file holds
/// for it), not as a `serde_json::Value`: at 100k users and groups the
/// values were several times the text, and the largest holder of a
/// reconcile pass's memory (issue 13). Readers parse one object at a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub delta_link: String,
    pub objects: BTreeMap<String, Box<RawValue>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owners: BTreeMap<String, BTreeSet<String>>,
    /// Member id -> type (`user`, `device`, `group`, ...) from `members@delta`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub member_types: BTreeMap<String, String>,
}

/// The state file (`.tenantctl/delta.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeltaState {
    pub version: u32,
    /// The Graph endpoint the snapshot belongs to: another endpoint resyncs.
    pub graph: String,
    #[serde(default)]
    pub users: Option<Snapshot>,
    #[serde(default)]
    pub groups: Option<Snapshot>,
    /// When the tenant recorded the last full read of users and groups as
    /// this cache was written (RFC 3339): a hint that lets a reconcile
    /// pass whose full read is due read in full at once rather than twice.
    /// Never trusted to skip a full read (the tenant's marker decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read_at: Option<String>,
}

impl DeltaState {
    pub fn new(graph: &str) -> Self {
        DeltaState { version: DELTA_STATE_VERSION, graph: graph.to_string(), users: None, groups: None, full_read_at: None }
    }

    /// Parse a saved state; anything unusable starts over (a full read).
    pub fn parse(text: &str, graph: &str) -> Self {
        match serde_json::from_str::<DeltaState>(text) {
            Ok(s) if s.version == DELTA_STATE_VERSION && s.graph == graph => s,
            _ => DeltaState::new(graph),
        }
    }

    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// How a delta round went, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaStats {
    pub full_resyncs: u32,
    pub changed: usize,
    pub removed: usize,
}

/// One change to a group's `members` or `owners` from `members@delta` /
/// `owners@delta`: the linked object's id, its member type (members
/// only), and whether the link was removed.
struct LinkChange {
    id: String,
    member_type: Option<String>,
    removed: bool,
}

/// One added or changed object of a delta round, kept compact until the
/// round is complete: its link changes, and its other properties as JSON
/// text.
struct Changed {
    id: String,
    /// `members@delta`, `owners@delta`, when the object carried them.
    links: [Option<Vec<LinkChange>>; 2],
    properties: Option<Box<RawValue>>,
}

const LINK_FIELDS: [&str; 2] = ["members@delta", "owners@delta"];

impl Changed {
    /// The compact form of one delta item (`None` without an id).
    fn of(mut item: Value) -> Option<Changed> {
        let id = str_field(&item, "id").to_string();
        if id.is_empty() {
            return None;
        }
        let mut links: [Option<Vec<LinkChange>>; 2] = [None, None];
        for (field, out) in LINK_FIELDS.iter().zip(links.iter_mut()) {
            if let Some(changes) = item.as_object_mut().and_then(|m| m.remove(*field)) {
                let members = *field == LINK_FIELDS[0];
                *out = Some(
                    changes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| {
                            let removed = m.get("@removed").is_some();
                            let member_type = (members && !removed).then(|| engine::governance::live::member_type(m.get("@odata.type").and_then(Value::as_str)));
                            LinkChange { id: str_field(m, "id").to_string(), member_type, removed }
                        })
                        .collect(),
                );
            }
        }
        // (A `Value` always serializes: its keys are strings.)
        let properties = item.is_object().then(|| serde_json::value::to_raw_value(&item).ok()).flatten();
        Some(Changed { id, links, properties })
    }
}

/// Apply one collection's delta round to its snapshot; a missing or expired
/// snapshot is replaced by a full read.
async fn sync(client: &GraphClient, path: &str, snap: &mut Option<Snapshot>, stats: &mut DeltaStats) -> Result<(), GraphError> {
    let v1 = client.v1();
    let previous = snap.as_ref().map(|s| s.delta_link.clone());
    // Each page's objects are made compact as they arrive; the round is
    // applied only once it is complete, as before.
    let v1 = &v1;
    let round = |link: Option<String>| async move {
        let mut changed = Vec::new();
        let (removed, delta_link) = v1.delta_each(path, link.as_deref(), &[], |item| changed.extend(Changed::of(item))).await?;
        Ok::<_, GraphError>((changed, removed, delta_link))
    };
    let (changed, removed, delta_link) = match round(previous.clone()).await {
        Ok(r) if previous.is_some() => r,
        Ok(r) => {
            stats.full_resyncs += 1;
            *snap = Some(Snapshot::default());
            r
        }
        Err(GraphError::DeltaExpired { .. }) => {
            tracing::info!(path, "delta token expired: full resync");
            stats.full_resyncs += 1;
            *snap = Some(Snapshot::default());
            round(None).await?
        }
        Err(e) => return Err(e),
    };
    let s = snap.get_or_insert_with(Snapshot::default);
    for r in &removed {
        s.objects.remove(&r.id);
        s.members.remove(&r.id);
        s.owners.remove(&r.id);
        stats.removed += 1;
    }
    for c in changed {
        let Changed { id, links: [members, owners], properties } = c;
        for (changes, links) in [(members, &mut s.members), (owners, &mut s.owners)] {
            let Some(changes) = changes else { continue };
            let set = links.entry(id.clone()).or_default();
            for m in changes {
                if let Some(t) = m.member_type {
                    s.member_types.insert(m.id.clone(), t);
                }
                if m.removed {
                    set.remove(&m.id);
                } else {
                    set.insert(m.id);
                }
            }
        }
        // A changed object replaces the stored one, keeping properties a
        // minimal response leaves out.
        let merged = match (s.objects.remove(&id), properties) {
            (None, Some(new)) => new,
            (None, None) => empty_object(),
            (Some(old), None) => old,
            (Some(old), Some(new)) => merge(&old, &new).unwrap_or(new),
        };
        s.objects.insert(id, merged);
        stats.changed += 1;
    }
    s.delta_link = delta_link;
    Ok(())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).expect("an empty object is JSON")
}

/// `new`'s properties written over `old`'s, in `old`'s order (a stored
/// object that is not an object is kept as it is). An error (a stored text
/// nested past the parser's depth) makes the caller keep `new`.
fn merge(old: &RawValue, new: &RawValue) -> Result<Box<RawValue>, serde_json::Error> {
    let mut old: Value = serde_json::from_str(old.get())?;
    let new: Value = serde_json::from_str(new.get())?;
    if let (Some(o), Value::Object(n)) = (old.as_object_mut(), new) {
        for (k, v) in n {
            o.insert(k, v);
        }
    }
    serde_json::value::to_raw_value(&old)
}

/// A stored object as a value, to normalize (one at a time).
fn parsed(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

/// Read users and groups through delta, the rest as `observe` does.
pub async fn observe_with_delta(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, state: &mut DeltaState) -> Result<(ObservedState, DeltaStats), GraphError> {
    let (observed, stats, _) = observe_with_delta_view(client, desired, ledger, state, &[]).await?;
    Ok((observed, stats))
}

/// [`observe_with_delta`], with `extra` (v1.0 or beta) GETs sent in the
/// listings' `$batch` (e.g. `GET /organization`,
/// [`crate::tenant_marker::ORGANIZATION`]); returns the view that answers
/// them (each once) through its `get_json`/`list_all`.
pub async fn observe_with_delta_view(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, state: &mut DeltaState, extra: &[(crate::graph::ApiVersion, String)]) -> Result<(ObservedState, DeltaStats, GraphClient), GraphError> {
    let (rest_desired, rest_ledger) = without_directory(desired, ledger);
    let kinds = crate::observe::kinds_in_scope(desired, ledger);
    // What the directory's licences need (the SKUs, and each licensed
    // object's read by its ledger id where the batch has room) comes in
    // the other kinds' listings `$batch`, and is read below from that view.
    let mut listings = crate::listing_batch::declared_listings(&kinds, desired);
    listings.extend(extra.iter().cloned());
    let speculative = crate::listing_batch::ledger_listings(&kinds, desired, ledger);
    let (mut observed, view) = crate::observe::observe_without_requests(client, &rest_desired, &rest_ledger, &listings, &speculative).await?;
    drop((rest_desired, rest_ledger));
    let mut stats = DeltaStats::default();
    if kinds.contains(&Kind::User) || kinds.contains(&Kind::Guest) {
        let path = format!("/users/delta?$select={}", user::SELECT);
        match sync(client, &path, &mut state.users, &mut stats).await {
            Ok(()) => {
                observed.objects.entry(Kind::User).or_default();
                observed.objects.entry(Kind::Guest).or_default();
                for raw in state.users.iter().flat_map(|s| s.objects.values()).filter_map(|r| parsed(r)) {
                    if let Some(o) = user::normalize(&raw).or_else(|| guest::normalize(&raw)) {
                        observed.insert(o);
                    }
                }
            }
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => {
                state.users = None;
                observed.unreadable.insert(Kind::User, e.to_string());
                observed.unreadable.insert(Kind::Guest, e.to_string());
            }
        }
    }
    if kinds.contains(&Kind::Group) {
        let path = format!("/groups/delta?$select={},members,owners", group::SELECT);
        match sync(client, &path, &mut state.groups, &mut stats).await {
            Ok(()) => {
                observed.objects.entry(Kind::Group).or_default();
                read_groups(desired, ledger, state.groups.as_ref()).into_iter().for_each(|o| observed.insert(o));
                crate::membership::from_snapshot(desired, ledger, state.groups.as_ref(), &mut observed);
            }
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => {
                state.groups = None;
                observed.unreadable.insert(Kind::Group, e.to_string());
            }
        }
    }
    for list in observed.objects.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
        // Grown object by object (doubling): not held with room to spare
        // for the rest of the pass (issue 13).
        list.shrink_to_fit();
    }
    crate::licensing::read(&view, desired, ledger, &mut observed, false).await?;
    crate::licence_loss::read(&view, desired, ledger, &mut observed).await?;
    // With the directory in: whom a group a package's policy admits, or
    // whose members approve, reaches decides which waiting requests a
    // change strands (`access_policy_pending`, `access_policy_reach`).
    crate::kinds::access_policy_pending::read(&view, desired, ledger, &mut observed).await?;
    Ok((observed, stats, view))
}

/// Desired state and ledger without users, guests and groups (read here
/// through delta), for `observe` to read the rest. Only the other
/// resources are copied: at declared scale the directory is most of the
/// model, and a whole copy of it was the largest allocation of a pass.
/// (Every field is named, so a field added to either type is a compile
/// error here rather than silently left out.)
fn without_directory(desired: &DesiredModel, ledger: &Ledger) -> (DesiredModel, Ledger) {
    let directory = [Kind::User, Kind::Guest, Kind::Group];
    let keep = |a: &schema::Address| !directory.contains(&a.kind);
    let DesiredModel { resources, governance, service_accounts, service_account_groups, protected_groups, rings, service_account_roles, origins } = desired;
    let desired = DesiredModel {
        resources: resources.iter().filter(|(a, _)| keep(a)).map(|(a, r)| (a.clone(), r.clone())).collect(),
        governance: governance.clone(),
        service_accounts: service_accounts.clone(),
        service_account_groups: service_account_groups.clone(),
        protected_groups: protected_groups.clone(),
        rings: rings.clone(),
        service_account_roles: service_account_roles.clone(),
        origins: origins.clone(),
    };
    let Ledger { version, tenant_id, ledger_id, resources, pending, seal, log_removed, journal_owned, log_owned, sealed_accounts, sealed_accounts_unbound } = ledger;
    let ledger = Ledger {
        version: *version,
        tenant_id: tenant_id.clone(),
        ledger_id: ledger_id.clone(),
        resources: resources.iter().filter(|(a, _)| keep(a)).map(|(a, e)| (a.clone(), e.clone())).collect(),
        pending: pending.clone(),
        seal: seal.clone(),
        log_removed: log_removed.iter().filter(|(a, _)| keep(a)).map(|(a, e)| (a.clone(), e.clone())).collect(),
        journal_owned: journal_owned.iter().filter(|(a, _)| keep(a)).map(|(a, e)| (a.clone(), e.clone())).collect(),
        log_owned: log_owned.iter().filter(|a| keep(a)).cloned().collect(),
        sealed_accounts: *sealed_accounts,
        sealed_accounts_unbound: sealed_accounts_unbound.clone(),
    };
    (desired, ledger)
}

/// Groups from the snapshot, with members and owners (both tracked by
/// group delta) for the groups whose membership or ownership is managed.
fn read_groups(desired: &DesiredModel, ledger: &Ledger, snap: Option<&Snapshot>) -> Vec<LiveObject> {
    let Some(snap) = snap else { return Vec::new() };
    let mut wants_members = BTreeSet::new();
    let mut wants_owners = BTreeSet::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::Group) {
        let keys: Vec<String> = std::iter::once(r.natural_key.clone()).chain(ledger.id(&r.address).map(str::to_string)).collect();
        for k in keys {
            if r.props.contains_key("members") {
                wants_members.insert(k.clone());
            }
            // As the full read does: an adopted group's owners are shown.
            if r.props.contains_key("owners") || group::under_adoption_review(r, ledger) {
                wants_owners.insert(k);
            }
        }
    }
    let wanted = |set: &BTreeSet<String>, g: &Value| set.contains(str_field(g, "id")) || set.contains(&str_field(g, "mailNickname").to_lowercase());
    snap.objects
        .values()
        .filter_map(|g| parsed(g))
        .map(|g| {
            let g = &g;
            let id = str_field(g, "id").to_string();
            let dynamic = g.get("groupTypes").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
            let links = |set: &BTreeMap<String, BTreeSet<String>>| -> Vec<String> { set.get(&id).map(|m| m.iter().cloned().collect()).unwrap_or_default() };
            let members: Option<Vec<String>> = (!dynamic && wanted(&wants_members, g)).then(|| links(&snap.members));
            let owners: Option<Vec<String>> = wanted(&wants_owners, g).then(|| links(&snap.owners));
            group::normalize(g, members.as_deref(), owners.as_deref())
        })
        .collect()
}
