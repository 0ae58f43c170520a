//! The ledger's seal in the tenant: reading it to judge a loaded ledger
//! (`plan`, `apply`, `drift`, `reconcile`), and recording it after a run
//! that changed the tenant wrote the ledger (`apply`, `reconcile
//! --self-heal`, `import`). The rules are [`engine::ledger_seal`]'s; the
//! seal is a property of the tenant's governance marker
//! ([`providers::tenant_marker`]), which only a run holding the tenant's
//! write credentials can write, never the pull request under review.
//!
//! Runs that only read (`plan`, `drift`, a `reconcile` without
//! `--self-heal`) never write the marker. `state push` and `state migrate`
//! do not change the tenant and write no seal: the digest is of the
//! ledger's content, so a ledger moved unchanged stays sealed, and one
//! pushed with other content is not.

use anyhow::{Context, Result};
use engine::ledger_seal::{self, Seal};
use engine::Ledger;
use providers::graph::GraphClient;
use providers::tenant_marker::{self, Marker};

use engine::ledger::LedgerOp;

use crate::output;
use crate::state::LedgerStore;

/// The marker's path, so a reconcile pass can send its read in the
/// listings' `$batch` (the tenant's id known from the ledger).
pub fn marker_path(org: &str) -> String {
    // Both of the marker's extensions in one request (gov27).
    tenant_marker::extensions_path(org)
}

/// Judge `ledger` (as `store` loaded it) against the seal `marker`
/// records for tenant `org`.
pub fn judge(store: &LedgerStore, ledger: &mut Ledger, org: &str, marker: Option<&Marker>) -> Result<()> {
    let bases = store.load_bases()?;
    let recorded = ledger_seal::Recorded { latest: marker.and_then(|m| m.ledger_seal.as_deref()), seals: marker.map(|m| m.ledger_seals.as_slice()).unwrap_or_default() };
    let (seal, sealed_base) = ledger_seal::judge_with_base(ledger, &bases.iter().collect::<Vec<_>>(), org, recorded, store.beyond_review()?);
    ledger.seal = seal;
    crate::ledger_dir::judge(store, ledger, org, marker.map(|m| m.ledger_dirs.as_slice()).unwrap_or_default());
    crate::sealed_accounts::judge(store, ledger, marker);
    crate::ledger_restore::restore(ledger);
    crate::log_owned::judge(ledger, sealed_base.and_then(|i| bases.get(i)));
    crate::lost_ownership::read(store, ledger);
    if marker.is_some() && recorded.latest.is_none() && recorded.seals.is_empty() && !ledger.resources.is_empty() {
        output::status(
            "note: the tenant's governance marker records no seal of the ledger yet (written by an older tenantctl): its facts are judged as before (restores count only for a ledger outside any git work tree, or in the azurerm backend) until the next apply seals it",
        );
    }
    if let Some(w) = ledger.seal_warning() {
        output::status(format!("warning: {w}"));
    }
    if let Some(w) = marker.and_then(Marker::fullness_warning) {
        output::status(w);
    }
    Ok(())
}

/// Read the tenant's marker and judge `ledger` against it. The marker as
/// read (`None`: it could not be). A marker that cannot be read is never
/// taken for a seal: a run that writes (`writes`) refuses; one that only
/// reads says so and judges the ledger by the fallback rule (what it shows
/// is then not proof of the seal; apply checks it before writing).
pub async fn read_and_judge(client: &GraphClient, store: &LedgerStore, ledger: &mut Ledger, org: &str, writes: bool) -> Result<Option<Option<Marker>>> {
    match tenant_marker::read_of(client, org).await {
        Ok(marker) => {
            judge(store, ledger, org, marker.as_ref())?;
            Ok(Some(marker))
        }
        Err(e) if writes => Err(anyhow::Error::from(e).context("reading the tenant's governance marker, which records the ledger's seal (Organization.Read.All); nothing was changed")),
        Err(e) => {
            output::status(format!(
                "warning: the tenant's governance marker was not read ({:#}), so the ledger's seal was not checked: its facts are judged as for a tenant that records no seal (apply checks the seal, and refuses without it)",
                anyhow::Error::from(e)
            ));
            Ok(None)
        }
    }
}

/// A ledger whose tenant could not be identified (its id not read): its
/// seal is not checked; said, and judged by the fallback rule (runs that
/// write refuse without the tenant's id).
pub fn unjudged(ledger: &mut Ledger) {
    if !ledger.resources.is_empty() {
        output::status("warning: the ledger's seal was not checked (the tenant's id was not read): its facts are judged as for a tenant that records no seal; apply checks the seal, and refuses without it");
    }
    if matches!(ledger.seal, Seal::Sealed) {
        ledger.seal = Seal::Unrecorded { beyond_review: false };
    }
}

/// What a run that loaded `loaded` needs to seal what it writes: the
/// loaded ledger itself when some of its records were unproven (they are
/// scrubbed before sealing), else only its seal.
pub struct Sealing {
    seal: Seal,
    loaded: Option<Ledger>,
}

impl Sealing {
    pub fn of(loaded: &Ledger) -> Sealing {
        Sealing { seal: loaded.seal.clone(), loaded: ledger_seal::needs_scrub(&loaded.seal).then(|| loaded.clone()) }
    }

    /// Whether the ledger was sealed when loaded.
    pub fn was_sealed(&self) -> bool {
        self.seal == Seal::Sealed
    }

    /// How a run that loaded this ledger ends its write, given whether it
    /// may seal what it wrote ([`Sealing::prepare`]). A run that may not
    /// seal keeps the write-ahead log (appending what it changed) when the
    /// ledger it loaded is the sealed one, or the sealed one under a log:
    /// compacted, the ledger's digest would no longer be the tenant's, and
    /// every entry would be unproven where only those the log touched
    /// were (hostile run 28, finding 5: one killed apply, then one
    /// self-heal pass that healed something, left all 46 unproven). A
    /// ledger no seal proves any of (or none is recorded) has nothing to
    /// keep: compacted.
    pub fn finish(&self, may_seal: bool) -> Finish {
        match &self.seal {
            _ if may_seal => Finish::Seal,
            Seal::Sealed | Seal::Broken { only: Some(_), .. } => Finish::KeepLog,
            _ => Finish::Compact,
        }
    }

    /// Scrub `after` before it is written ([`ledger_seal::scrub`]), and
    /// give it the tenant's id `org` when it records none (a sealed ledger
    /// always names its tenant, so a reconcile pass can ask for the seal in
    /// its listings' `$batch`); whether it may then be sealed (`complete`:
    /// the run carried out its whole plan).
    pub fn prepare(&self, after: &mut Ledger, complete: bool, org: Option<&str>) -> bool {
        self.prepare_vouched(after, complete, org, &Default::default())
    }

    /// [`Sealing::prepare`], keeping the `applied` of `vouched` entries
    /// (see [`ledger_seal::scrub`]).
    pub fn prepare_vouched(&self, after: &mut Ledger, complete: bool, org: Option<&str>, vouched: &std::collections::BTreeSet<schema::Address>) -> bool {
        if let Some(org) = org {
            after.tenant_id.get_or_insert_with(|| org.to_string());
        }
        // Its identity, under which the tenant keeps its seal.
        after.ledger_id.get_or_insert_with(new_ledger_id);
        if let Some(loaded) = &self.loaded {
            let count = |l: &Ledger| (l.resources.values().filter(|e| e.applied.is_some()).count(), l.resources.values().filter(|e| e.changed_at.is_some()).count());
            let before = count(after);
            ledger_seal::scrub(loaded, after, vouched);
            let now = count(after);
            let plural = |n: usize| if n == 1 { "y" } else { "ies" };
            let applied = before.0 - now.0;
            if applied > 0 {
                output::status(format!("Dropped the `applied` records of {applied} ledger entr{} the tenant's seal did not prove and this run did not find in sync: a correction of them is reviewed", plural(applied)));
            }
            let changed = before.1 - now.1;
            if changed > 0 {
                output::status(format!("Dropped the `changed_at` records of {changed} ledger entr{} the tenant's seal did not prove: a soak counts from the live object", plural(changed)));
            }
        }
        if let Some(loaded) = &self.loaded {
            crate::log_owned::scrub(loaded, after);
        }
        let ok = ledger_seal::may_seal(&self.seal, complete);
        if !ok {
            output::status("The ledger is not sealed: it did not match the tenant's seal, and this run did not carry out its whole plan; the next apply that does seals it");
        }
        ok
    }
}

/// How a run writes the ledger it changed ([`Sealing::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Sealed in the tenant, then compacted.
    Seal,
    /// Not sealed: what changed is appended to the write-ahead log, which
    /// is kept, so what the tenant's seal proves of the ledger under it
    /// stays proven.
    KeepLog,
    /// Not sealed, and no seal proves any of it (or the tenant records
    /// none): compacted.
    Compact,
}

/// A new ledger identity: [`ledger_seal::LEDGER_ID_CHARS`] random hex digits.
fn new_ledger_id() -> String {
    let bytes: [u8; ledger_seal::LEDGER_ID_CHARS / 2] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Record the seal of `ledger` (as just written) in the tenant's marker.
/// A tenant without a marker (governance never recorded) is not sealed.
/// A failure is an error: the caller keeps the write-ahead log, so the
/// next run finds only the entries it logged unproven (hostile run 23,
/// finding 15).
async fn try_seal(client: &GraphClient, org: &str, ledger: &Ledger, dir: Option<&str>) -> Result<()> {
    let Some(marker) = tenant_marker::read_of(client, org).await.context("reading the tenant's governance marker")? else {
        output::status("note: the tenant carries no governance marker, so the ledger was not sealed (the first apply that records the trust root writes one)");
        return Ok(());
    };
    let digest = ledger_seal::digest(ledger, org);
    let Some(id) = ledger.ledger_id.as_deref() else {
        anyhow::bail!("the ledger names no identity to seal it under");
    };
    if !engine::ledger::valid_ledger_id(id) {
        anyhow::bail!("the ledger's identity is not {} lower-case hex digits, so no seal is recorded under it", ledger_seal::LEDGER_ID_CHARS);
    }
    // This directory's binding to the ledger it seals (hostile run 28,
    // finding 1), when the run knows its directory (`dir`: its hash).
    let bound = |m: &Marker| match dir {
        Some(dir) => m.ledger_dirs.iter().any(|(d, i)| d == dir && i == ledger_seal::binding_id(id)),
        None => true,
    };
    let own = |m: &Marker| m.ledger_seals.iter().any(|(i, d)| i == id && *d == digest) && bound(m);
    // Which accounts it owns (hostile run 28, finding 2).
    let accounts = engine::governance::sealed_accounts::Sketch::of_ledger(ledger).encode();
    let accounts_kept = |m: &Marker| m.ledger_accounts.iter().any(|(i, k)| i == ledger_seal::binding_id(id) && *k == accounts);
    // Only this ledger's seal is this run's: other ledgers' seals, the
    // approved plans' claims and the full-read time are kept as the tenant
    // holds them right before the write. Graph's update of an open
    // extension takes no If-Match, so the write cannot be conditional: it
    // is read back, and a seal another run's write replaced is merged again
    // on top of it (hostile run 18, finding 14; run 25, finding 3).
    let merged = crate::marker_merge::merge_named(client, org, Some(marker), "this run's ledger seal", |m| {
        if !own(m) {
            m.ledger_seals = ledger_seal::with_seal(&m.ledger_seals, id, &digest);
            m.ledger_seal = Some(digest.clone());
            if let Some(dir) = dir {
                m.ledger_dirs = ledger_seal::with_binding(&m.ledger_dirs, dir, id);
            }
        }
        if !accounts_kept(m) {
            m.ledger_accounts = engine::governance::sealed_accounts::with_accounts(&m.ledger_accounts, id, &accounts);
            m.fit_accounts();
        }
    })
    .await
    .context("recording the ledger's seal in the tenant's governance marker (Organization.ReadWrite.All)")?;
    crate::marker_recheck::sealed(id, &digest, dir);
    if merged == crate::marker_merge::Merged::Lost {
        output::status(
            "warning: the seal this run recorded was replaced in the tenant's governance marker by other runs' writes each time it was written again (other ledgers on this tenant, a second desired-state directory or --ledger, sealed concurrently); until the next apply of this ledger its facts are not proof",
        );
    }
    Ok(())
}

/// Seal `l` in the tenant (when `may_seal`), then write it whole. The seal
/// comes first, and every change of `l` since it was loaded is in the
/// write-ahead log first (what sealing dropped, a new identity, tenant id
/// or pending creates: [`LedgerOp::Header`]), ended by a checkpoint: a run
/// killed between the two leaves the sealed ledger as its log over the
/// last compacted one, which the next run loads and finds sealed, rather
/// than a compacted ledger the tenant's seal does not match (hostile run
/// 18, finding 2; run 23, finding 3), and a run killed after that before
/// its own seal leaves only its own entries unproven (run 23, finding 4).
/// When the seal cannot be recorded, the log is kept (not compacted) and
/// the run fails saying so (run 23, finding 15).
/// Not sealed ([`Finish::KeepLog`]), the same lines are appended without
/// the checkpoint (a checkpoint marks a ledger a run may have sealed) and
/// the log is kept (hostile run 28, finding 5).
pub async fn seal_then_compact(store: &LedgerStore, client: &providers::graph::GraphClient, org: &str, l: engine::Ledger, finish: Finish) -> Result<()> {
    match finish {
        Finish::Compact => return store.compact(&l),
        Finish::KeepLog => return log_changes(store, &l),
        Finish::Seal => {}
    }
    log_changes(store, &l)?;
    store.append(&LedgerOp::Checkpoint)?;
    test_pause("TENANTCTL_TEST_PAUSE_BEFORE_SEAL");
    // A run whose lease was broken does not seal: the run holding it now
    // seals what it writes (hostile run 28, finding 6).
    store.confirm_lease().context("checking the state lease before sealing the ledger (the log is kept)")?;
    let dir = crate::ledger_dir::hash(store);
    try_seal(client, org, &l, dir.as_deref()).await.with_context(|| {
        format!(
            "the ledger's seal was not recorded in the tenant, so its write-ahead log {} is kept, not compacted: what this run changed is recorded there, and the next run finds only those entries unproven (the next complete apply seals the ledger)",
            store.wal_name()
        )
    })?;
    test_pause("TENANTCTL_TEST_PAUSE_BEFORE_COMPACT");
    store.compact(&l)
}

/// Append to the write-ahead log every change of `l` from the ledger as
/// the store has it now (its base replayed with its log).
fn log_changes(store: &LedgerStore, l: &engine::Ledger) -> Result<()> {
    let logged = store.load()?;
    for (a, e) in &l.resources {
        if logged.resources.get(a) != Some(e) {
            store.append(&LedgerOp::Record { address: a.clone(), entry: e.clone() })?;
        }
    }
    for a in logged.resources.keys().filter(|a| !l.resources.contains_key(*a)) {
        store.append(&LedgerOp::Forget { address: a.clone() })?;
    }
    if logged.pending != l.pending || logged.tenant_id != l.tenant_id || logged.ledger_id != l.ledger_id || logged.version != l.version {
        store.append(&LedgerOp::Header { tenant_id: l.tenant_id.clone(), ledger_id: l.ledger_id.clone(), version: l.version, pending: l.pending.clone() })?;
    }
    Ok(())
}

/// Test hook: with `var` set to a number of milliseconds, a message is
/// printed and the run sleeps that long (a kill test's window).
fn test_pause(var: &str) {
    if let Some(ms) = std::env::var(var).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
        output::status(format!("pausing {ms} ms ({var})"));
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
