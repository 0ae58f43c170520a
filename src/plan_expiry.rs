//! Approvals that do not outlive their plan, and are used once whatever
//! runner applies them.
//!
//! * `plan --out` writes `not_after` into the plan (inside its hash, so the
//!   author's and approvers' signatures cover it): 7 days by default,
//!   `--valid-for 48h` to choose. `approve` and `apply` refuse a plan whose
//!   `not_after` has passed, and `apply` refuses an approved plan that has
//!   none (made by an older tenantctl).
//! * Applying an approved plan first records its hash (and `not_after`) in
//!   the tenant's governance marker ([`providers::tenant_marker`]), and
//!   refuses a plan the marker already lists: a fresh CI runner without
//!   the journal cannot re-apply an old approved plan after the tenant came
//!   back to the state it was made against ([`crate::plan_claim`], which
//!   also keeps two runs applying it at the same moment from both doing
//!   so). Expired entries are dropped, so the marker stays under Graph's
//!   2 KB limit for an open extension.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use engine::Plan;
use providers::tenant_marker::{self, PLAN_HASH_CHARS};

/// The longest `--valid-for` accepted.
const MAX_VALIDITY_SECONDS: i64 = 30 * 86400;

/// `not_after` for a plan saved now, valid for `valid_for` (`90m`, `48h`,
/// `7d`, `1w`; at most 30 days). Without `--valid-for`, the UTC midnight
/// at least 7 days ahead: a plan made again the same day (a CI merge job
/// re-planning the approved commit, whose approvals sign the first plan's
/// hash) has the same `not_after`, so the same hash.
pub fn not_after(valid_for: Option<&str>, now: DateTime<Utc>) -> Result<String> {
    let Some(text) = valid_for else {
        let day = (now + chrono::Duration::days(8)).date_naive();
        let midnight = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now + chrono::Duration::days(8));
        return Ok(midnight.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    };
    let seconds = schema::kinds::rollout::parse_duration(text.trim()).filter(|s| *s > 0);
    let Some(seconds) = seconds else { bail!("--valid-for {text:?}: expected a whole number and a unit (90m, 48h, 7d, 1w)") };
    if seconds > MAX_VALIDITY_SECONDS {
        bail!("--valid-for {text}: at most 30 days (approvals are for one change, made soon)");
    }
    Ok((now + chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub(crate) fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// Refuse a saved plan whose `not_after` has passed; a plan with approvals
/// and no `not_after` (an older tenantctl made it) too.
pub fn check(plan: &Plan, what: &str, now: DateTime<Utc>) -> Result<()> {
    match plan.not_after.as_deref() {
        Some(t) => match parse(t) {
            Some(end) if end > now => Ok(()),
            Some(_) => bail!("refusing {what}: the plan expired at {t} (its not_after, signed with it); make a new plan and have it approved again"),
            None => bail!("refusing {what}: the plan's not_after {t:?} is not an RFC 3339 time"),
        },
        None if !plan.approvals.is_empty() => {
            bail!("refusing {what}: the plan has approvals but no not_after (made by an older tenantctl), so its approvals would never expire; make a new plan with `plan --out` and have it approved again")
        }
        None => Ok(()),
    }
}

/// The marker entry of a plan: the first hex digits of its hash and its
/// `not_after` in Unix seconds, rounded up to a UTC midnight (the marker
/// keeps plans per day: [`tenant_marker::compact_plans`]).
pub(crate) fn entry(hash: &str, not_after: DateTime<Utc>) -> String {
    let tag = tenant_marker::plan_tag(hash).unwrap_or_else(|| hash.strip_prefix("sha256:").unwrap_or(hash).chars().take(PLAN_HASH_CHARS).collect());
    format!("{tag}@{}", tenant_marker::entry_end(not_after.timestamp()))
}

pub(crate) fn entry_alive(e: &str, now: DateTime<Utc>) -> bool {
    e.split('@').nth(1).and_then(|s| s.parse::<i64>().ok()).is_some_and(|end| end > now.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_a_duration_of_at_most_thirty_days() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").expect("a time").with_timezone(&Utc);
        assert_eq!(not_after(None, now).expect("the default"), "2026-12-09T00:00:00Z");
        let later = DateTime::parse_from_rfc3339("2026-12-01T23:59:00Z").expect("a time").with_timezone(&Utc);
        assert_eq!(not_after(None, later).expect("the default"), "2026-12-09T00:00:00Z", "the same day gives the same not_after");
        assert_eq!(not_after(Some("48h"), now).expect("48h"), "2026-12-03T00:00:00Z");
        assert!(not_after(Some("31d"), now).is_err());
        assert!(not_after(Some("0h"), now).is_err());
        assert!(not_after(Some("soon"), now).is_err());
        let e = entry("sha256:00112233445566778899aabbccddeeff0011", now);
        assert_eq!(e, format!("ABEiM0@{}", now.timestamp()), "a midnight stays");
        let e2 = entry("sha256:00112233445566778899aabbccddeeff0011", now + chrono::Duration::seconds(1));
        assert_eq!(e2, format!("ABEiM0@{}", now.timestamp() + 86400), "rounded up to the next");
        assert!(!entry_alive(&e, now) && entry_alive(&e, now - chrono::Duration::seconds(1)));
    }
}
