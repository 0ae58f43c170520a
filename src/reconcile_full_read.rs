//! One read of users and groups per reconcile pass, also when a full read
//! is due (gov17's known gap).
//!
//! Whether the delta cache may be trusted is judged against the tenant's
//! marker ([`crate::reconcile_delta_bound`]), which arrives in the same
//! `$batch` as the listings: a pass whose full read was due read users
//! and groups through the cache first, then again in full. The cache now
//! carries, as a hint, the last full read the tenant recorded when it was
//! written (`DeltaState::full_read_at`): when that is past the bound, the
//! pass reads in full from the start. The hint only saves a read: the
//! marker still decides, so a cache whose hint was edited to look fresh
//! is read in full a second time, as before.

use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::delta::DeltaState;
use providers::tenant_marker::Marker;

/// Why the cache's own record says this pass reads in full, or `None`
/// (no record: a cache written before it was kept, or for a tenant whose
/// marker binds nothing; or a full read within `bound`).
pub fn hinted(delta: &DeltaState, now: DateTime<Utc>, bound: Duration) -> Option<String> {
    let at = delta.full_read_at.as_deref()?;
    let bound = chrono::Duration::from_std(bound).unwrap_or_else(|_| chrono::Duration::hours(24));
    match DateTime::parse_from_rfc3339(at).map(|t| t.with_timezone(&Utc)) {
        Ok(t) if t <= now && now - t < bound => None,
        _ => Some(format!("the last full read of users and groups it records ({}) is not within the bound (TENANTCTL_DELTA_FULL_READ)", engine::render::text_safe(at))),
    }
}

/// What the cache written by this pass records: the full read the tenant
/// records after it (this pass's, `now`, when it read in full), only when
/// the tenant has a marker to bind the cache to.
pub fn hint(read_in_full: bool, marker: Option<&Marker>, now: DateTime<Utc>) -> Option<String> {
    let m = marker?;
    if read_in_full {
        return Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    m.delta_full_read.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_hints_a_full_read_past_the_bound() {
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().expect("test fixture");
        let day = Duration::from_secs(86_400);
        let mut d = DeltaState::new("g");
        assert_eq!(hinted(&d, now, day), None, "no record: the marker decides");
        d.full_read_at = Some("2026-12-02T01:00:00Z".into());
        assert_eq!(hinted(&d, now, day), None);
        d.full_read_at = Some("2026-12-01T11:00:00Z".into());
        assert!(hinted(&d, now, day).is_some());
        d.full_read_at = Some("2099-01-01T00:00:00Z".into());
        assert!(hinted(&d, now, day).is_some(), "a time to come proves nothing");
        d.full_read_at = Some("garbage\u{1b}".into());
        assert!(hinted(&d, now, day).is_some_and(|w| !w.contains('\u{1b}')));
    }
}
