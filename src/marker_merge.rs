//! Every write of the tenant's governance marker is a read-modify-write
//! that keeps what other runs wrote (hostile run 25, finding 3).
//!
//! The marker ([`providers::tenant_marker`]) is one open extension on the
//! organization object, written by several kinds of run: an approved
//! apply claims its plan (`appliedPlans`), every apply seals its ledger
//! (`ledgerSeals`, one entry per ledger identity), a reconcile pass that
//! read users and groups in full records when (`deltaFullRead`); the
//! recording of a trust root writes the marker's second extension, not
//! this one ([`crate::trust_seq`]). Graph's `PATCH`
//! of an open extension replaces its data whole and takes no `If-Match`,
//! so a write cannot be conditional; two runs writing at the same moment
//! (a drift-only reconcile beside an apply on another ledger, two ledgers
//! sealed at once) replaced each other's facts: a fresh seal wiped (44
//! sensitive changes at the next plan), an `appliedPlans` claim dropped
//! (the approved plan could be replayed).
//!
//! So each writer states its change as an edit of the marker that touches
//! only its own facts ([`merge`]): the marker is read right before the
//! write and the edit applied to what the tenant holds then (other
//! ledgers' seals, other plans' claims, the full-read time, as read), the
//! result written, then read back after as long again as the write took
//! (a write sent by another run just before ours has landed by then). If
//! the read-back lost this run's facts, another run's write replaced ours:
//! the edit is applied again to what it holds, and written again, a
//! bounded number of times. The loser of any such race is the one that
//! sees its facts gone, and it puts them back on top of the winner's.
//!
//! A write Graph answers more than the claim's `X` after the read it was
//! built from is a slow write ([`crate::marker_slow`]): it may have landed
//! after facts other runs recorded meanwhile and replaced them, which no
//! read-back can tell. It is said loudly, naming the window; the writer's
//! own facts are put back by the read-back as any lost change is. The
//! trust root is not among the facts written here: it is in an extension
//! of its own ([`providers::tenant_marker::TRUST_EXTENSION_NAME`]).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use providers::graph::GraphClient;
use providers::tenant_marker::{self, Marker};

/// Writes of one change at most: the first and the merges after a
/// read-back that lost it.
const MAX_WRITES: usize = 5;

/// The longest wait before a read-back.
const MAX_SETTLE: Duration = Duration::from_secs(2);

/// How far ahead of this runner's clock another's may be.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// What [`merge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The tenant carries no marker: nothing was written.
    NoMarker,
    /// The marker holds the change (written, or it held it already).
    Kept,
    /// Another run's writes replaced the change [`MAX_WRITES`] times in a
    /// row: the marker, as last read, does not hold it.
    Lost,
}

/// Apply `edit` to the marker of organization `org` as the tenant holds it
/// right before the write, write it, and read it back; while a read-back
/// lost the change (another run's write replaced it), merge it again.
/// `edit` must touch only the facts this run records and be idempotent
/// (applied to a marker that holds them, it changes nothing): whether the
/// read-back holds the change is whether `edit` leaves it as it is.
/// `first`: the marker the caller read just now (not read again).
/// `what`: this run's facts, as a warning names them ("this run's ledger
/// seal").
pub async fn merge(client: &GraphClient, org: &str, first: Option<Marker>, edit: impl Fn(&mut Marker)) -> Result<Merged> {
    merge_named(client, org, first, "this run's change of the marker", edit).await
}

/// [`merge`], its slow writes' warning naming the facts `what`.
pub async fn merge_named(client: &GraphClient, org: &str, first: Option<Marker>, what: &str, edit: impl Fn(&mut Marker)) -> Result<Merged> {
    let mut read_at = crate::marker_slow::ReadAt::now();
    let mut slow = None;
    let merged = merge_from(client, org, first, &mut read_at, &mut slow, edit).await;
    if let Some(w) = &slow {
        crate::marker_slow::warn(what, w);
    }
    merged
}

async fn merge_from(client: &GraphClient, org: &str, first: Option<Marker>, read_at: &mut crate::marker_slow::ReadAt, slow: &mut Option<crate::marker_slow::Window>, edit: impl Fn(&mut Marker)) -> Result<Merged> {
    let mut current = match first {
        Some(m) => m,
        None => match tenant_marker::read_of(client, org).await.context("reading the tenant's governance marker")? {
            Some(m) => m,
            None => return Ok(Merged::NoMarker),
        },
    };
    for _ in 0..MAX_WRITES {
        let mut next = current.clone();
        edit(&mut next);
        if next == current {
            return Ok(Merged::Kept);
        }
        let sent = Instant::now();
        tenant_marker::update_of(client, org, &next).await?;
        let took = sent.elapsed();
        // Answered late after the read it was built from: it may have
        // replaced what others wrote meanwhile (said by the caller).
        if let Some(w) = crate::marker_slow::window(read_at) {
            *slow = Some(w);
        }
        test_pause("TENANTCTL_TEST_PAUSE_AFTER_MARKER_WRITE");
        tokio::time::sleep(took.min(MAX_SETTLE)).await;
        *read_at = crate::marker_slow::ReadAt::now();
        current = match tenant_marker::read_of(client, org).await.context("reading the tenant's governance marker back after writing it")? {
            Some(m) => m,
            // Removed meanwhile (an administrator freeing the tenant):
            // nothing to merge into.
            None => return Ok(Merged::Lost),
        };
    }
    let mut last = current.clone();
    edit(&mut last);
    Ok(if last == current { Merged::Kept } else { Merged::Lost })
}

/// Test hook: with `var` set to a number of milliseconds, a message is
/// printed and the run sleeps that long (the window in which a test writes
/// the marker as another run would).
pub(crate) fn test_pause(var: &str) {
    if let Some(ms) = std::env::var(var).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
        crate::output::status(format!("pausing {ms} ms ({var})"));
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// `deltaFullRead` after a full read at `at` (RFC 3339): the later of the
/// recorded time and `at`. A recorded time still to come (past `now`, the
/// clock's, by more than [`CLOCK_SKEW`]: another runner's clock a little
/// ahead is not fought over) is replaced, and one that cannot be read.
pub fn later_full_read(recorded: Option<&str>, at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc));
    match (recorded.and_then(parse), parse(at)) {
        (Some(r), Some(a)) if r > a && r <= now + chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default() => recorded.unwrap_or(at).to_string(),
        _ => at.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_full_read_is_kept_unless_it_is_still_to_come() {
        let now: chrono::DateTime<chrono::Utc> = "2026-12-02T12:00:00Z".parse().expect("a time");
        assert_eq!(later_full_read(None, "2026-12-02T11:00:00Z", now), "2026-12-02T11:00:00Z");
        assert_eq!(later_full_read(Some("2026-12-02T10:00:00Z"), "2026-12-02T11:00:00Z", now), "2026-12-02T11:00:00Z");
        assert_eq!(later_full_read(Some("2026-12-02T11:30:00Z"), "2026-12-02T11:00:00Z", now), "2026-12-02T11:30:00Z");
        assert_eq!(later_full_read(Some("2099-01-01T00:00:00Z"), "2026-12-02T11:00:00Z", now), "2026-12-02T11:00:00Z");
        assert_eq!(later_full_read(Some("junk"), "2026-12-02T11:00:00Z", now), "2026-12-02T11:00:00Z");
    }
}
