//! The end-of-run re-check of what an apply recorded in the tenant's
//! governance marker: its approved plan's claim and its ledger's seal
//! (hostile run 29, finding 1).
//!
//! Another run's marker write built from a read older than this run's
//! claim or seal, and answered late (a slow write, [`crate::marker_slow`]),
//! replaces them, and no read-back of this run's own writes saw it: it
//! landed after them. Lost, the claim no longer counts the plan as applied
//! (it could be replayed until it expires) and the seal no longer proves
//! the ledger this run wrote (its next plan finds every fact unproven). So
//! at the end of its run an apply reads the marker once more, and puts
//! back (merged, [`crate::marker_merge`]) the claim and the seal it finds
//! gone, saying so. What it does not cover: a slow write that lands after
//! this re-check (the run has ended; the slow writer names the window, and
//! the next apply of this ledger seals it again), and another run's facts,
//! which only that run can put back.

use std::sync::Mutex;

use providers::graph::GraphClient;
use providers::tenant_marker::{self, Marker};

/// The seal this process recorded last: the ledger's identity, its digest
/// and the directory's hash it was bound under.
type Sealed = (String, String, Option<String>);

static SEALED: Mutex<Option<Sealed>> = Mutex::new(None);

/// Remember the seal this run recorded (by [`crate::ledger_seal`]).
pub fn sealed(id: &str, digest: &str, dir: Option<&str>) {
    if let Ok(mut s) = SEALED.lock() {
        *s = Some((id.to_string(), digest.to_string(), dir.map(str::to_string)));
    }
}

fn last_sealed() -> Option<Sealed> {
    SEALED.lock().ok().and_then(|s| s.clone())
}

/// Whether `m` holds the claim `entry` (`TAG@END`), settled or not.
fn holds_claim(m: &Marker, entry: &str) -> bool {
    let tag = tenant_marker::entry_tag(entry);
    m.applied_plans.iter().any(|e| tenant_marker::entry_tag(e) == tag)
}

fn holds_seal(m: &Marker, (id, digest, _): &Sealed) -> bool {
    m.ledger_seals.iter().any(|(i, d)| i == id && d == digest)
}

/// At the end of an apply: read the marker of organization `org`, and put
/// back this run's claim (`claim`, its settled entry, when it holds one
/// and did not give it back) and the seal it recorded, when another run's
/// write replaced them. Failures are warnings (the apply is done).
pub async fn at_end(client: &GraphClient, org: &str, claim: Option<&str>) {
    let seal = last_sealed();
    if claim.is_none() && seal.is_none() {
        return;
    }
    test_hold("TENANTCTL_TEST_PAUSE_BEFORE_MARKER_RECHECK");
    let marker = match tenant_marker::read_of(client, org).await {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            crate::output::status(format!("warning: the tenant's governance marker was not read again at the end of this run ({:#}), so whether another run's write replaced this run's claim or seal is not known", anyhow::Error::from(e)));
            return;
        }
    };
    let lost_claim = claim.filter(|c| !holds_claim(&marker, c)).map(str::to_string);
    // The state lock is this run's until it ends: no other run seals this
    // ledger meanwhile, so a seal of it other than this run's is a write
    // built from an older read.
    let lost_seal = seal.filter(|s| !holds_seal(&marker, s));
    if lost_claim.is_none() && lost_seal.is_none() {
        return;
    }
    let mut lost = Vec::new();
    if let Some(c) = &lost_claim {
        lost.push(format!("the claim of its approved plan ({c})"));
    }
    if let Some((id, digest, _)) = &lost_seal {
        lost.push(format!("its ledger's seal ({id}={digest})"));
    }
    let merged = crate::marker_merge::merge_named(client, org, Some(marker), "this run's claim and seal, put back", |m| {
        if let Some(c) = &lost_claim {
            if !holds_claim(m, c) {
                m.applied_plans.push(c.clone());
                m.applied_plans.sort();
            }
        }
        if let Some(s @ (id, digest, dir)) = &lost_seal {
            if !holds_seal(m, s) {
                m.ledger_seals = engine::ledger_seal::with_seal(&m.ledger_seals, id, digest);
                m.ledger_seal = Some(digest.clone());
                if let Some(dir) = dir {
                    m.ledger_dirs = engine::ledger_seal::with_binding(&m.ledger_dirs, dir, id);
                }
            }
        }
    })
    .await;
    let outcome = match merged {
        Ok(crate::marker_merge::Merged::Kept) => "put back now".to_string(),
        Ok(_) => "and could not be put back (other runs' writes replaced it each time)".to_string(),
        Err(e) => format!("and could not be put back ({e:#})"),
    };
    crate::output::status(format!(
        "warning: the tenant's governance marker {} no longer held {} at the end of this run: another run's write built from an older read of the marker landed after this run recorded it (a slow or stalled marker write), and may have replaced other facts too; {outcome}",
        tenant_marker::EXTENSION_NAME,
        lost.join(" and ")
    ));
}

/// Test hook: with `var` naming a file, a message is printed and the run
/// waits (at most 2 minutes) until it exists: a test lands another run's
/// slow marker write before this run's re-check.
fn test_hold(var: &str) {
    let Some(path) = std::env::var_os(var) else { return };
    crate::output::status(format!("waiting for {} ({var})", std::path::Path::new(&path).display()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::path::Path::new(&path).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
