//! Stage 2 of the pipeline: read the live tenant into `ObservedState`.
//!
//! One listing per Graph collection (users and guests share `/users`;
//! update rings share `deviceConfigurations`), the collections read
//! concurrently, every page followed, the largest page size, `$select` on
//! directory objects, assignments and scheduled actions through `$expand`,
//! and per-object reads (group members and owners, Autopilot assignments)
//! through `$batch`, 20 at a time, only for the objects that need them.
//! A collection that cannot be read marks its kinds unreadable: unknown,
//! never drift. Each kind's own read is its module's `read` (through
//! `KindProvider::read`); this module only drives them.

use std::collections::{BTreeMap, BTreeSet};

use engine::{DesiredModel, Ledger, LiveObject, ObservedState};
use schema::Kind;

use crate::graph::{GraphClient, GraphError};
use crate::kinds::registry::{self, Read, ReadFn};

/// Which kinds to read: those declared or owned in the ledger, and Intune
/// role assignments wherever desired state manages Intune at all: an
/// out-of-band Intune admin (write and wipe over every device) is access
/// to end whether or not desired state declares Intune RBAC (hostile run
/// 16, finding 3), as out-of-band directory roles are.
pub fn kinds_in_scope(desired: &DesiredModel, ledger: &Ledger) -> BTreeSet<Kind> {
    // With what a write-ahead log forgot of the compacted ledger: when the
    // tenant's seal (judged after this read) does not prove the log, they
    // are judged as the sealed ledger has them (`engine::governance::undeclared`).
    let mut kinds: BTreeSet<Kind> = desired.resources.keys().chain(ledger.resources.keys()).chain(ledger.log_removed.keys()).map(|a| a.kind).collect();
    if kinds.iter().any(|k| k.is_policy()) {
        kinds.insert(Kind::IntuneRoleAssignment);
    }
    // Role assignments read (declared or owned, eligible ones among them,
    // live eligibility outside desired state too): every role's PIM
    // settings are read, for the live lint of the ones not declared
    // (`engine::governance::pim_live`, `pim_exposure`), in the read's `$batch`.
    if kinds.contains(&Kind::RoleAssignment) {
        kinds.insert(Kind::RolePolicy);
    }
    kinds
}

/// An error with its causes, for reasons shown to people.
fn chain(e: &GraphError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// What a kind's read (`KindProvider::read`) is given.
pub struct ReadCx<'a> {
    pub client: &'a GraphClient,
    pub desired: &'a DesiredModel,
    pub ledger: &'a Ledger,
    /// Export: read everything in full (e.g. the members and owners of
    /// every group), not only what the desired state manages.
    pub everything: bool,
    /// Policies' `lastModifiedDateTime` by id, for the rollout soak.
    pub modified: &'a std::sync::Mutex<BTreeMap<String, String>>,
    /// Declared resources the tenant completes (a template's defaults),
    /// by address: `ObservedState::completed`.
    pub completed: &'a std::sync::Mutex<BTreeMap<schema::Address, engine::completed::Completion>>,
}

/// What a kind's read yields: live objects (of it and of the kinds that
/// share its read), and a check to run once everything is in.
#[derive(Default)]
pub struct Readout {
    pub objects: Vec<LiveObject>,
    /// Run after every collection is read and sorted, with the desired
    /// model and the ledger (e.g. refusing PIM assignments on a tenant
    /// without PIM).
    pub after: Option<fn(&mut ObservedState, &DesiredModel, &Ledger)>,
    /// Declared resources the tenant would refuse, with why (e.g. a
    /// setting its catalog does not define): refused in the plan.
    pub refused: BTreeMap<schema::Address, String>,
}

impl From<Vec<LiveObject>> for Readout {
    fn from(objects: Vec<LiveObject>) -> Self {
        Readout { objects, after: None, refused: BTreeMap::new() }
    }
}

/// Every read the registry holds, with the kinds each yields.
fn reads() -> Vec<(ReadFn, Vec<Kind>)> {
    registry::all()
        .filter_map(|p| match p.read {
            Read::Own(f) => {
                let shared = registry::all().filter(|o| matches!(o.read, Read::With(k) if k == p.kind)).map(|o| o.kind);
                Some((f, std::iter::once(p.kind).chain(shared).collect()))
            }
            Read::With(_) => None,
        })
        .collect()
}

/// Run the reads wanted, concurrently (each boxed: side by side in one
/// join, unboxed futures made the caller's future large enough to overflow
/// a 2 MB test-thread stack in debug builds).
async fn read_all(cx: &ReadCx<'_>, wanted: impl Fn(&[Kind]) -> bool) -> Vec<(Vec<Kind>, Result<Readout, GraphError>)> {
    let reads: Vec<(ReadFn, Vec<Kind>)> = reads().into_iter().filter(|(_, ks)| wanted(ks)).collect();
    // Their dependent reads share one `$batch` per dependency level.
    let results = crate::graph::coalesce::join_all(reads.iter().map(|(f, _)| f(cx))).await;
    reads.into_iter().map(|(_, ks)| ks).zip(results).collect()
}

/// Read every collection the desired state and ledger need. A collection
/// that cannot be read makes its kinds unknown; failing to authenticate at
/// all is an error, since nothing could be read.
pub async fn observe(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger) -> Result<ObservedState, GraphError> {
    Ok(observe_prefetching(client, desired, ledger, &[], &[]).await?.0)
}

/// [`observe`], with `extra` listings fetched ahead in the same `$batch`
/// as the kinds' own; returns the view serving what was not used yet.
/// `speculative` reads (by ledger id) ride along where the batch has room.
pub(crate) async fn observe_prefetching(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, extra: &[(crate::graph::ApiVersion, String)], speculative: &[(crate::graph::ApiVersion, String)]) -> Result<(ObservedState, GraphClient), GraphError> {
    let (mut observed, view) = observe_without_requests(client, desired, ledger, extra, speculative).await?;
    crate::kinds::access_policy_pending::read(&view, desired, ledger, &mut observed).await?;
    Ok((observed, view))
}

/// [`observe_prefetching`] without the requests waiting on access
/// packages (`access_policy_pending`): the reconcile loop reads users and
/// groups through delta apart from the other kinds, and looks for those
/// requests once the directory is in (`crate::delta`), since whom a group
/// reaches decides which are stranded.
pub(crate) async fn observe_without_requests(client: &GraphClient, desired: &DesiredModel, ledger: &Ledger, extra: &[(crate::graph::ApiVersion, String)], speculative: &[(crate::graph::ApiVersion, String)]) -> Result<(ObservedState, GraphClient), GraphError> {
    let kinds = kinds_in_scope(desired, ledger);
    let mut listings = crate::listing_batch::listings(&kinds);
    listings.extend(crate::listing_batch::declared_listings(&kinds, desired));
    listings.extend(extra.iter().cloned());
    let mut speculative = speculative.to_vec();
    speculative.extend(crate::listing_batch::ledger_listings(&kinds, desired, ledger));
    crate::listing_batch::fill(&mut listings, speculative);
    let view = client.prefetch_first_pages(&listings).await;
    let client = &view;
    let modified = std::sync::Mutex::new(BTreeMap::new());
    let completed = std::sync::Mutex::new(BTreeMap::new());
    let cx = ReadCx { client, desired, ledger, everything: false, modified: &modified, completed: &completed };
    let results = read_all(&cx, |ks| ks.iter().any(|k| kinds.contains(k))).await;
    let mut observed = ObservedState::default();
    let mut after = Vec::new();
    for (ks, result) in results {
        match result {
            Ok(readout) => {
                for k in &ks {
                    observed.objects.entry(*k).or_default();
                }
                for o in readout.objects {
                    observed.insert(o);
                }
                after.extend(readout.after);
                observed.refused.extend(readout.refused);
            }
            Err(e @ GraphError::Auth { .. }) => return Err(e),
            Err(e) => {
                let reason = chain(&e);
                tracing::warn!(error = %reason, "read failed; affected resources are unknown");
                for k in ks {
                    observed.unreadable.insert(k, reason.clone());
                }
            }
        }
    }
    for list in observed.objects.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
        // Grown object by object (doubling): 70,000 users left room for
        // 61,000 more, held to the end of the run (issue 13).
        list.shrink_to_fit();
    }
    observed.modified = modified.into_inner().unwrap_or_default();
    observed.completed = completed.into_inner().unwrap_or_default();
    for f in after {
        f(&mut observed, desired, ledger);
    }
    crate::membership::read_live(client, desired, ledger, &mut observed).await?;
    crate::ca_unmodelled::refuse(&mut observed, desired, ledger);
    crate::licensing::read(client, desired, ledger, &mut observed, false).await?;
    crate::licence_loss::read(client, desired, ledger, &mut observed).await?;
    crate::kinds::access_extension_guard::unread_packages(client, desired, ledger, &mut observed).await?;
    Ok((observed, view))
}

/// Read every collection in full, with members and owners of every
/// assigned group: what `export` adopts. Any failed read is an error, since
/// an export that silently lacks a collection would not adopt it.
pub async fn observe_everything(client: &GraphClient) -> Result<ObservedState, GraphError> {
    observe_everything_with(client, &DesiredModel::default()).await
}

/// [`observe_everything`], with the desired state an export is made
/// beside (`export --from`): what only desired state can say, such as the
/// collections its `graph_object`s name, is read too.
pub async fn observe_everything_with(client: &GraphClient, desired: &DesiredModel) -> Result<ObservedState, GraphError> {
    let ledger = Ledger::default();
    let desired = desired.clone();
    let modified = std::sync::Mutex::new(BTreeMap::new());
    let completed = std::sync::Mutex::new(BTreeMap::new());
    let cx = ReadCx { client, desired: &desired, ledger: &ledger, everything: true, modified: &modified, completed: &completed };
    let results = read_all(&cx, |_| true).await;
    let mut observed = ObservedState::default();
    for k in Kind::ALL {
        observed.objects.entry(k).or_default();
    }
    let mut after = Vec::new();
    for (_, result) in results {
        let readout = result?;
        for o in readout.objects {
            observed.insert(o);
        }
        after.extend(readout.after);
    }
    for list in observed.objects.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    for f in after {
        f(&mut observed, &desired, &ledger);
    }
    crate::licensing::read(client, &desired, &ledger, &mut observed, true).await?;
    Ok(observed)
}

