//! Before a run that writes plans creates: wait out replication lag for
//! what the ledger says exists. Entra replicates asynchronously, so an
//! object created moments ago (by a run that was then killed) can answer
//! 404 and be missing from lists for a while. Planning then would forget
//! the ledger entry and create the object again: a duplicate.
//!
//! So a ledger id missing from the lists is read by id, with back-off, for
//! up to the replication window after it was last recorded; a create that
//! was started but never recorded (a pending create) is waited out for the
//! window too. Then the tenant is read again, so the plan matches those
//! objects by ledger id or natural key before it may create anything.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use engine::{DesiredModel, Ledger, ObservedState};
use schema::Address;

use crate::graph::{GraphClient, GraphError};

/// What waiting found, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Ledger ids that answered after a wait (replication lag).
    pub appeared: Vec<(Address, String)>,
    /// Ledger ids still missing after the window: really gone.
    pub gone: Vec<(Address, String)>,
    /// Ledger ids of creates never seen applied, still missing after the
    /// window, that Graph does not show deleted (or, for kinds with no
    /// deleted items, any such create), within the replication limit: they
    /// may still be replicating, so they are unread, never created again
    /// (hostile run 19, finding 6; run 22, finding 2).
    pub unconfirmed: Vec<(Address, String)>,
    /// Pending creates waited out.
    pub pending: Vec<Address>,
    /// How often the tenant was read again.
    pub rereads: u32,
}

impl Settled {
    pub fn waited(&self) -> bool {
        !self.appeared.is_empty() || !self.pending.is_empty() || !self.unconfirmed.is_empty() || self.rereads > 0
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Ledger entries of readable kinds whose id is not among the live objects.
fn missing(ledger: &Ledger, observed: &ObservedState) -> Vec<(Address, String, Option<DateTime<Utc>>)> {
    // The live ids of each kind, looked up once per ledger entry (a scan of
    // the kind's list per entry made this 70,000 x 70,000 comparisons for
    // an exported tenant of 100,000 objects).
    let live: std::collections::BTreeMap<schema::Kind, std::collections::HashSet<&str>> =
        observed.objects.iter().map(|(k, list)| (*k, list.iter().map(|o| o.id.as_str()).collect())).collect();
    ledger
        .resources
        .iter()
        // A kind read as unavailable (entitlement management without its
        // licence) refuses its ledger entries: they are not waited for by
        // id, which Graph would refuse too (hostile run 15, finding 6).
        .filter(|(a, _)| observed.objects.contains_key(&a.kind) && !observed.unreadable.contains_key(&a.kind) && !observed.refused.contains_key(*a) && !observed.held.contains_key(*a))
        .filter(|(a, e)| !live.get(&a.kind).is_some_and(|ids| ids.contains(e.id.as_str())))
        .map(|(a, e)| (a.clone(), e.id.clone(), e.changed_at.as_deref().and_then(parse_time)))
        .collect()
}

/// Ledger ids still not listed after the wait that were not found gone (an
/// id that answered by id, whose lists lag past the window) exist: they
/// are unread, so the plan calls them unknown instead of creating them.
fn mark_unread(ledger: &Ledger, observed: &mut ObservedState, settled: &Settled) {
    for (a, id, _) in missing(ledger, observed) {
        if settled.gone.iter().any(|(g, _)| *g == a) {
            continue;
        }
        let why = if settled.unconfirmed.iter().any(|(u, _)| *u == a) && !has_deleted_items(a.kind) {
            format!(
                "the ledger holds {id}, which a killed run created less than {} ago and never saw replicate; it does not answer yet, and Graph keeps no deleted items of this kind to show whether it was deleted, so it may still be replicating and is not created again (a duplicate); run again later (after that time it counts as deleted: TENANTCTL_REPLICATION_LIMIT, e.g. 2h)",
                human(limit_of())
            )
        } else if settled.unconfirmed.iter().any(|(u, _)| *u == a) {
            format!(
                "the ledger holds {id}, which a killed run created less than {} ago and never saw replicate; it does not answer yet and Graph does not show it deleted, so it may still be replicating and is not created again; run again later (once it shows in the directory's deleted items, or after that time, it counts as deleted: TENANTCTL_REPLICATION_LIMIT, e.g. 2h)",
                human(limit_of())
            )
        } else {
            format!("the ledger holds {id}, which answers by id but is not listed yet (replication lag); read again later")
        };
        observed.unread.insert(a, why);
    }
}

/// How long after tenantctl last changed a directory object its id may
/// still not answer from replication lag: Entra's directory is eventually
/// consistent with no documented bound, and the case arises exactly when an
/// apply was killed right after a create. `TENANTCTL_REPLICATION_LIMIT`
/// ([`crate::replication_env`]) overrides the default of one hour: a create
/// that a kill left unconfirmed holds every apply back that long at most
/// (hostile run 22, finding 3).
fn replication_limit() -> chrono::Duration {
    chrono::Duration::from_std(limit_of()).unwrap_or_else(|_| chrono::Duration::hours(1))
}

fn limit_of() -> Duration {
    crate::replication_env::limit()
}

/// Kinds whose deleted objects the directory's deleted items list
/// (`directory-deleteditems-get`: application, group, servicePrincipal,
/// administrative unit, user; a security group is deleted for good and
/// answers 404 there).
fn has_deleted_items(kind: schema::Kind) -> bool {
    use schema::Kind::*;
    matches!(kind, User | Guest | Group | AdministrativeUnit)
}

/// Kinds whose create answers with the id their list shows, so a ledger
/// id a killed run recorded is the object it may still be waiting for
/// (each provider's [`crate::kinds::registry::Created`]). Hostile run 22,
/// finding 2 found a device configuration created twice; the same lag
/// after a kill created a conditional access policy twice.
fn create_lists_its_id(kind: schema::Kind) -> bool {
    crate::kinds::registry::provider(kind).created.lists_its_id()
}

fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Whether a ledger id that still does not answer after the replication
/// window is gone. An object whose create Graph answered but tenantctl
/// never saw applied (its entry has no `applied` digest: the run was
/// killed while waiting for it to replicate) may still be replicating, for
/// every kind [`create_lists_its_id`] (Intune's read-after-write lag is as
/// real as Entra's; hostile run 22, finding 2: a device configuration was
/// created twice). It is gone when the create is older than `limit`, or,
/// for a kind the directory keeps deleted items of, when they hold it
/// (`GET /directory/deletedItems/{id}`); until then it is not created
/// again. Intune and conditional access keep no deleted items to ask, so
/// only the limit proves those gone. An object tenantctl applied and read
/// back, deleted since, and the other kinds keep the window's rule.
async fn proven_gone(client: &GraphClient, ledger: &Ledger, a: &Address, id: &str, limit: chrono::Duration) -> Result<bool, GraphError> {
    let Some(entry) = ledger.resources.get(a) else { return Ok(true) };
    // Intune's policies as well as the directory's: objects whose create
    // answers with the id their list shows. (A kind created through a
    // request, such as a PIM schedule, is listed under another id; it keeps
    // the window's rule.)
    if entry.applied.is_some() || !create_lists_its_id(a.kind) {
        return Ok(true);
    }
    let created = entry.changed_at.as_deref().and_then(parse_time);
    if created.is_none_or(|t| schema::clock::now() - t >= limit) {
        return Ok(true);
    }
    if !has_deleted_items(a.kind) {
        return Ok(false);
    }
    let path = format!("/directory/deletedItems/{}", schema::object_id::path_segment(id));
    match client.v1().get_json(&path).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Read the tenant as [`crate::observe::observe`] does, then wait out
/// replication lag for ledger ids that do not answer yet and for pending
/// creates, and read it again. `recorded_at` is when the ledger was last
/// written (a lower bound for every entry's last change); `window` is how
/// long Graph may take to show a new object.
pub async fn observe_settled(
    client: &GraphClient,
    desired: &DesiredModel,
    ledger: &Ledger,
    recorded_at: Option<DateTime<Utc>>,
    window: Duration,
) -> Result<(ObservedState, Settled), GraphError> {
    let observed = crate::observe::observe(client, desired, ledger).await?;
    settle(client, desired, ledger, observed, recorded_at, window).await
}

/// The first read of [`observe_settled`], with `extra` GETs (the tenant's
/// `GET /organization`) sent in the listings' `$batch`; returns the view
/// that answers them (each once). The caller checks what it must before
/// [`settle`] waits anything out (`plan` checks its state's tenant id, so
/// another tenant's ledger is refused before its ids are read one by one).
pub async fn observe_first(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, extra: &[(crate::graph::ApiVersion, String)]) -> Result<(ObservedState, GraphClient), GraphError> {
    crate::observe::observe_prefetching(client, desired, ledger, extra, &[]).await
}

/// The rest of [`observe_settled`] after its first read (`observed`).
pub async fn settle(
    client: &GraphClient,
    desired: &DesiredModel,
    ledger: &Ledger,
    mut observed: ObservedState,
    recorded_at: Option<DateTime<Utc>>,
    window: Duration,
) -> Result<(ObservedState, Settled), GraphError> {
    let mut settled = Settled::default();
    let limit = replication_limit();
    let window = chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::seconds(30));
    let started = schema::clock::now();
    let deadline_of = |changed: Option<DateTime<Utc>>| -> DateTime<Utc> {
        let last = match (changed, recorded_at) {
            (Some(a), Some(b)) => a.max(b),
            (a, b) => a.or(b).unwrap_or(DateTime::<Utc>::MIN_UTC),
        };
        // A time in the future (an edited ledger, a runner whose clock ran
        // ahead, or runs behind the ledger file's time) is taken as when
        // this wait started, not as each moment's now: it must not make
        // the wait unbounded (hostile run 22, finding 3). Taken as now, the
        // re-read below recomputed it every round, so an entry a read by id
        // finds and its list never shows (a guest entry holding a member
        // user's id) was waited for for ever.
        last.min(started) + window
    };
    // Ledger ids that do not answer: read each by id until it does or its
    // window has passed.
    let mut waiting: BTreeMap<Address, (String, DateTime<Utc>)> =
        missing(ledger, &observed).into_iter().map(|(a, id, changed)| (a, (id, deadline_of(changed)))).collect();
    let mut pending: BTreeMap<Address, DateTime<Utc>> = BTreeMap::new();
    for (a, since) in &ledger.pending {
        // A `since` in the future (an edited ledger or log, a runner whose
        // clock ran ahead) is taken as now, as `deadline_of` takes other
        // times: otherwise the wait never ended (hostile run 25, finding 1).
        let until = parse_time(since).map(|t| t.min(schema::clock::now()) + window).unwrap_or(DateTime::<Utc>::MIN_UTC);
        if until > schema::clock::now() {
            pending.insert(a.clone(), until);
        }
        settled.pending.push(a.clone());
    }
    let anything = !waiting.is_empty() || !pending.is_empty();
    let mut delay = Duration::from_millis(250);
    while !waiting.is_empty() || !pending.is_empty() {
        let mut found = Vec::new();
        for (a, (id, until)) in &waiting {
            match crate::apply::read_object(client, a.kind, id).await {
                Ok(Some(_)) => found.push(a.clone()),
                Ok(None) if schema::clock::now() >= *until => {
                    if proven_gone(client, ledger, a, id, limit).await? {
                        settled.gone.push((a.clone(), id.clone()));
                    } else {
                        settled.unconfirmed.push((a.clone(), id.clone()));
                    }
                    found.push(a.clone());
                }
                Ok(None) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        for a in found {
            if let Some((id, _)) = waiting.remove(&a) {
                if !settled.gone.iter().chain(&settled.unconfirmed).any(|(g, _)| *g == a) {
                    settled.appeared.push((a, id));
                }
            }
        }
        let now = schema::clock::now();
        pending.retain(|_, until| *until > now);
        if waiting.is_empty() && pending.is_empty() {
            break;
        }
        let next = waiting.values().map(|(_, u)| *u).chain(pending.values().copied()).min().unwrap_or(now);
        let left = (next - now).to_std().unwrap_or(Duration::ZERO).max(Duration::from_millis(50));
        tracing::info!(waiting = waiting.len(), pending = pending.len(), "waiting for objects the ledger holds to replicate");
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 2).min(Duration::from_secs(4));
    }
    if !anything {
        return Ok((observed, settled));
    }
    // Read again; lists can lag behind reads by id, so an id that answered
    // is waited for in the lists too, within its window.
    let mut delay = Duration::from_millis(250);
    loop {
        observed = crate::observe::observe(client, desired, ledger).await?;
        settled.rereads += 1;
        let now = schema::clock::now();
        let gone: Vec<&Address> = settled.gone.iter().chain(&settled.unconfirmed).map(|(a, _)| a).collect();
        let lagging: Vec<DateTime<Utc>> = missing(ledger, &observed)
            .into_iter()
            .filter(|(a, _, _)| !gone.contains(&a))
            .map(|(_, _, changed)| deadline_of(changed))
            .filter(|until| *until > now)
            .collect();
        if lagging.is_empty() {
            mark_unread(ledger, &mut observed, &settled);
            return Ok((observed, settled));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(4));
    }
}
