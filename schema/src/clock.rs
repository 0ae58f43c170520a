//! Now, for every date tenantctl compares with the desired state, the
//! ledger or the tenant (expiries, soak, replication windows, plan
//! validity).
//!
//! `TENANTCTL_CLOCK_OFFSET` (signed whole seconds) moves this clock, so a
//! test suite whose fixtures carry fixed dates (the example's guest ends
//! 2027-03-31) keeps planning as on the day it was written. It exists for
//! the sandbox only: the binary refuses it for a real tenant or a
//! non-loopback `--graph-url` (`src/target.rs`), because a clock moved
//! back would keep an expired guest enabled. Credentials, tokens, retry
//! waits and storage leases keep the wall clock.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

pub const OFFSET_ENV: &str = "TENANTCTL_CLOCK_OFFSET";

/// Ten years either way: more is a typo.
const MOST: i64 = 10 * 366 * 86_400;

/// `value` of [`OFFSET_ENV`] as seconds.
pub fn parse_offset(value: &str) -> Result<i64, String> {
    match value.trim().parse::<i64>() {
        Ok(s) if s.abs() <= MOST => Ok(s),
        Ok(_) => Err(format!("{OFFSET_ENV}=`{}` moves the clock more than ten years", value.escape_debug())),
        Err(_) => Err(format!("{OFFSET_ENV}=`{}` is not whole seconds (e.g. -86400)", value.escape_debug())),
    }
}

/// The offset the environment sets, if any (an empty value is none).
pub fn offset_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<i64>, String> {
    lookup(OFFSET_ENV).filter(|v| !v.trim().is_empty()).map(|v| parse_offset(&v)).transpose()
}

/// This process's offset, read once (a bad value, which the binary refuses
/// before any command, counts as none).
pub fn offset() -> Option<i64> {
    static OFFSET: OnceLock<Option<i64>> = OnceLock::new();
    *OFFSET.get_or_init(|| offset_from(&|k| std::env::var(k).ok()).ok().flatten())
}

/// Now, moved by [`offset`].
pub fn now() -> DateTime<Utc> {
    let wall = Utc::now();
    match offset() {
        Some(s) => wall + Duration::seconds(s),
        None => wall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_whole_seconds_within_ten_years() {
        assert_eq!(parse_offset("-86400"), Ok(-86_400));
        assert_eq!(parse_offset(" 90 "), Ok(90));
        assert!(parse_offset("1d").unwrap_err().contains(OFFSET_ENV));
        assert!(parse_offset("999999999999").unwrap_err().contains("ten years"));
        let none = |_: &str| Some(String::new());
        assert_eq!(offset_from(&none), Ok(None));
        let set = |_: &str| Some("-5".to_string());
        assert_eq!(offset_from(&set), Ok(Some(-5)));
    }
}
