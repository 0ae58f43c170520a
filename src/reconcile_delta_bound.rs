//! The delta cache bound to the tenant (hostile run 21, finding 8).
//!
//! Reconcile reads users and groups through delta queries from a cache
//! (`delta.json`, a blob under azurerm) that anyone who can write the
//! state can change: a group delta link advanced past a portal change (a
//! member added to a role-assignable group) made every later pass say "in
//! sync". A direct read of the access-granting groups each pass cost a
//! request beyond the quiet pass's budget, so the cache is bound instead:
//!
//! - the tenant's governance marker records when a `reconcile --self-heal`
//!   pass last read every user and group in full (`deltaFullRead`); a pass
//!   that finds it older than `TENANTCTL_DELTA_FULL_READ` (24 h), or
//!   absent, reads them in full rather than through the cache and records
//!   the time (under the state lock);
//! - a reconcile loop also remembers its own last full read and the digest
//!   of the cache it last wrote: while the cache is the one it wrote, its
//!   own full read counts; a cache changed by someone else does not.
//!
//! So a changed cache hides a change for at most the bound; ordinary passes
//! cost what they did. A tenant with no marker (governance never adopted)
//! has nothing to bind the cache to: it is trusted, as before.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use providers::tenant_marker::Marker;

/// This process's last full read and the digest of the cache it last wrote.
#[derive(Default)]
pub struct Memory {
    last: Mutex<Option<(DateTime<Utc>, String)>>,
}

/// The digest of a delta cache's text.
pub fn digest(bytes: &[u8]) -> String {
    providers::kinds::platform_script::sha256_hex(bytes)
}

/// Why this pass must read users and groups in full rather than trust the
/// cache it read (`read`: the cache's digest), or `None` to trust it.
pub fn due(marker: Option<&Marker>, memory: &Memory, read: &str, now: DateTime<Utc>, bound: Duration) -> Option<String> {
    let marker = marker?;
    let bound = chrono::Duration::from_std(bound).unwrap_or_else(|_| chrono::Duration::hours(24));
    let fresh = |t: DateTime<Utc>| t <= now && now - t < bound;
    if memory.last.lock().ok().and_then(|g| g.clone()).is_some_and(|(t, d)| d == read && fresh(t)) {
        return None;
    }
    let recorded = marker.delta_full_read.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    match recorded {
        Some(t) if fresh(t) => None,
        Some(t) => Some(format!("the tenant records the last full read of users and groups at {}, longer ago than {} (TENANTCTL_DELTA_FULL_READ)", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), human(bound))),
        None => Some("the tenant records no full read of users and groups".into()),
    }
}

/// After the cache was written: `full` when this pass read in full (at
/// `now`); otherwise a remembered full read carries over only if the
/// cache read was the one this process wrote (`read`).
pub fn remember(memory: &Memory, full: bool, read: &str, written: &str, now: DateTime<Utc>) {
    if let Ok(mut g) = memory.last.lock() {
        *g = match (full, g.take()) {
            (true, _) => Some((now, written.to_string())),
            (false, Some((t, d))) if d == read => Some((t, written.to_string())),
            _ => None,
        };
    }
}

/// Record in the tenant's marker that this pass read in full at `now`:
/// under the state lock (the pass's own with `--self-heal`, asked of
/// storage first; else taken for the moment, and skipped while another run
/// holds it), merged into the marker as the tenant holds it then
/// ([`crate::marker_merge`]). Three requests, only on passes that read in
/// full.
pub async fn record_locked(client: &providers::graph::GraphClient, ledger: &Path, held: Option<&crate::state::Held>, org: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let _taken = match held {
        Some(h) => {
            h.confirm().await?;
            None
        }
        None => Some(crate::state::lock(ledger, "tenantctl reconcile (recording a full read)", Duration::ZERO).await.context("taking the state lock")?),
    };
    // Only this fact is this pass's: the rest of the marker (other
    // ledgers' seals, approved plans' claims) is kept as the tenant holds
    // it at the write, and put back on top of a write that replaced it
    // (hostile run 25, finding 3).
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let merged = crate::marker_merge::merge_named(client, org, None, "this pass's full-read time", |m| m.delta_full_read = Some(crate::marker_merge::later_full_read(m.delta_full_read.as_deref(), &at, schema::clock::now()))).await?;
    if merged == crate::marker_merge::Merged::Lost {
        anyhow::bail!("other runs' writes of the tenant's governance marker replaced it each time it was written");
    }
    Ok(())
}

fn human(d: chrono::Duration) -> String {
    match d.num_seconds() {
        s if s > 0 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(at: Option<&str>) -> Marker {
        Marker { delta_full_read: at.map(str::to_string), ..Marker::default() }
    }

    #[test]
    fn a_cache_is_trusted_within_the_bound_of_a_full_read_only() {
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().expect("test fixture");
        let day = Duration::from_secs(86_400);
        let m = Memory::default();
        assert!(due(None, &m, "a", now, day).is_none(), "no marker: nothing to bind to");
        assert!(due(Some(&marker(None)), &m, "a", now, day).is_some());
        assert!(due(Some(&marker(Some("2026-12-02T01:00:00Z"))), &m, "a", now, day).is_none());
        assert!(due(Some(&marker(Some("2026-12-01T11:00:00Z"))), &m, "a", now, day).is_some());
        assert!(due(Some(&marker(Some("2099-01-01T00:00:00Z"))), &m, "a", now, day).is_some(), "a time to come proves nothing");
        // This process's own full read counts while the cache is the one it wrote.
        remember(&m, true, "x", "b", now);
        assert!(due(Some(&marker(None)), &m, "b", now, day).is_none());
        assert!(due(Some(&marker(None)), &m, "tampered", now, day).is_some());
        remember(&m, false, "b", "c", now);
        assert!(due(Some(&marker(None)), &m, "c", now, day).is_none());
        remember(&m, false, "tampered", "d", now);
        assert!(due(Some(&marker(None)), &m, "d", now, day).is_some());
    }
}
