//! The replication settings from the environment, read by one rule:
//! `TENANTCTL_REPLICATION_WINDOW` (how long a run waits for objects the
//! ledger holds to answer, default 30 s), `TENANTCTL_REPLICATION_LIMIT`
//! (how long a create a killed run never saw replicate is not called gone,
//! default 1 h) and `TENANTCTL_DELTA_FULL_READ` (how old reconcile's last
//! full read of users and groups may be before it reads them in full again
//! rather than trust its delta cache, default 24 h). Each is whole seconds
//! (`90`) or a duration with a unit (`45s`, `30m`, `1h`, `1d`).
//!
//! A value that cannot be read used to be ignored for the default without a
//! word (hostile run 22, finding 13: `1h` gave the default); the binary now
//! checks them when it starts ([`check`]) and a bad one is a usage error
//! naming the variable. A limit of 0 is refused: every create a killed run
//! left unconfirmed would count as deleted at once, and be created again
//! while the first copy is still replicating (a duplicate).

use std::time::Duration;

pub const WINDOW_ENV: &str = "TENANTCTL_REPLICATION_WINDOW";
pub const LIMIT_ENV: &str = "TENANTCTL_REPLICATION_LIMIT";
/// How old the last full read of users and groups a reconcile pass
/// trusts its delta cache after (`crate::tenant_marker::Marker::delta_full_read`).
pub const DELTA_FULL_READ_ENV: &str = "TENANTCTL_DELTA_FULL_READ";
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
pub const DEFAULT_DELTA_FULL_READ: Duration = Duration::from_secs(86_400);
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(3600);
/// Longer than anything meaningful (and than a chrono duration can hold
/// comfortably): a year.
const MOST: u64 = 366 * 86_400;

/// `value` of variable `name` as a duration: whole seconds or a number
/// with `s`, `m`, `h`, `d` or `w`; `zero_ok` says whether 0 means anything.
pub fn parse(name: &str, value: &str, zero_ok: bool) -> Result<Duration, String> {
    let v = value.trim();
    let secs = match v.parse::<u64>() {
        Ok(s) => Some(s),
        Err(_) => schema::kinds::rollout::parse_duration(v).and_then(|s| u64::try_from(s).ok()),
    };
    match secs {
        None => Err(format!("{name}=`{}` is not a duration: give whole seconds (90) or a number with a unit (45s, 30m, 1h, 1d)", value.escape_debug())),
        Some(0) if !zero_ok => Err(format!(
            "{name}=0 would count every create a killed run left unconfirmed as deleted at once, so it would be created again while the first copy may still be replicating; give a duration such as 1h (the default)"
        )),
        Some(s) if s > MOST => Err(format!("{name}=`{}` is more than a year; give a duration such as 1h", value.escape_debug())),
        Some(s) => Ok(Duration::from_secs(s)),
    }
}

fn read(name: &str, zero_ok: bool, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Duration>, String> {
    lookup(name).map(|v| parse(name, &v, zero_ok)).transpose()
}

/// Both variables checked, as the binary does before any command: the
/// first bad value's error.
pub fn check(lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    read(WINDOW_ENV, true, lookup)?;
    read(LIMIT_ENV, false, lookup)?;
    read(DELTA_FULL_READ_ENV, true, lookup)?;
    Ok(())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The replication window in force (the default when unset; a bad value
/// was refused at start, [`check`]).
pub fn window() -> Duration {
    read(WINDOW_ENV, true, &env).ok().flatten().unwrap_or(DEFAULT_WINDOW)
}

/// The replication limit in force (as [`window`]).
pub fn limit() -> Duration {
    read(LIMIT_ENV, false, &env).ok().flatten().unwrap_or(DEFAULT_LIMIT)
}

/// The bound on the delta cache's age in force (as [`window`]); 0 reads
/// users and groups in full every pass.
pub fn delta_full_read() -> Duration {
    read(DELTA_FULL_READ_ENV, true, &env).ok().flatten().unwrap_or(DEFAULT_DELTA_FULL_READ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_or_units() {
        assert_eq!(parse(LIMIT_ENV, "90", false), Ok(Duration::from_secs(90)));
        assert_eq!(parse(LIMIT_ENV, " 1h ", false), Ok(Duration::from_secs(3600)));
        assert_eq!(parse(LIMIT_ENV, "30m", false), Ok(Duration::from_secs(1800)));
        assert_eq!(parse(WINDOW_ENV, "45s", true), Ok(Duration::from_secs(45)));
        assert_eq!(parse(WINDOW_ENV, "0", true), Ok(Duration::ZERO));
        for bad in ["abc", "1.5h", "-1", "1 h", "", "99999999999999999999", "400d"] {
            assert!(parse(WINDOW_ENV, bad, true).is_err_and(|e| e.contains(WINDOW_ENV)), "{bad}");
        }
        assert!(parse(LIMIT_ENV, "0", false).is_err_and(|e| e.contains("created again")));
        assert!(parse(LIMIT_ENV, "0s", false).is_err());
    }
}
