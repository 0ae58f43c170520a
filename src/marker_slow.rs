//! A marker write answered late, and what it may have replaced (hostile
//! run 29, finding 1).
//!
//! Every write of the governance marker's facts ([`crate::marker_merge`],
//! the claim of [`crate::plan_claim`]) is built from a read of the marker
//! and replaces the extension's data whole (Graph's `PATCH` of an open
//! extension takes no `If-Match`). When Graph answers it more than the
//! claim's `X` ([`crate::plan_claim::bound`]) after that read (Graph slow
//! or throttled, the runner stalled between its read and its write, the
//! request long in transit), it may have landed after facts other runs
//! recorded in between, and replaced them: another approved plan's claim
//! (that plan could be applied again), another run's fresh ledger seal
//! (that directory's next plan finds its ledger unproven until its next
//! apply seals it again), a full-read time or a directory's binding. What
//! those were cannot be read back: the write replaced them. So the writer
//! re-reads, puts back its own facts, and says so loudly, naming the
//! window; a run whose facts were replaced finds them gone at its own
//! end-of-run re-check ([`crate::marker_recheck`]) when it is still running.
//! The trust root is in an extension of its own
//! ([`providers::tenant_marker::TRUST_EXTENSION_NAME`]) that no such write
//! touches, so a slow write never rolls it back.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

/// The read a marker write was built from: when it was made.
#[derive(Debug, Clone, Copy)]
pub struct ReadAt {
    instant: Instant,
    wall: DateTime<Utc>,
}

impl ReadAt {
    /// A read made now (take it right before the request).
    pub fn now() -> ReadAt {
        ReadAt { instant: Instant::now(), wall: Utc::now() }
    }

    /// Time since the read.
    pub fn elapsed(&self) -> Duration {
        self.instant.elapsed()
    }
}

/// A write Graph answered later than the bound after the read it was
/// built from: from that read to the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub took: Duration,
}

/// The window of a write just answered, built from `read`: `None` when it
/// was answered within the bound.
pub fn window(read: &ReadAt) -> Option<Window> {
    let took = read.elapsed();
    (took > crate::plan_claim::bound()).then(|| Window { from: read.wall, to: Utc::now(), took })
}

fn at(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The warning of a slow write: what it was (`what`, e.g. "this run's
/// ledger seal"), its window, and what it may have replaced.
pub fn warning(what: &str, w: &Window) -> String {
    format!(
        "warning: {what} was written to the tenant's governance marker {} {:.1} s after the marker was read (longer than the {:.1} s a marker write is relied on to land within; Graph slow or throttled, or this runner stalled): facts other runs recorded in the marker between {} and {} may have been replaced by this write. An approved plan another run claimed then is no longer recorded as applied (it could be applied again until it expires); a ledger another run sealed then is unproven at its next plan (its sensitive changes need approval again until its next apply seals it); a full-read time or a directory's binding may be older. This run re-read the marker and put its own facts back; the trust root is kept apart and was not touched. Check the runs that recorded anything in that window",
        providers::tenant_marker::EXTENSION_NAME,
        w.took.as_secs_f64(),
        crate::plan_claim::bound().as_secs_f64(),
        at(&w.from),
        at(&w.to)
    )
}

/// Say [`warning`] on stderr.
pub fn warn(what: &str, w: &Window) {
    crate::output::status(warning(what, w));
}
