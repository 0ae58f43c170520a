//! Graph's documented service limits, modelled so that a client that
//! exceeds them sees what Graph answers: 429 `TooManyRequests` with a
//! `Retry-After`. Off unless set (tests choose per test, the benchmarks turn
//! them on).
//!
//! Each limit is a sliding window: a request is refused when `count`
//! requests it applies to were accepted in the `window_ms` before it,
//! counted when they arrive (after any modelled latency). Graph's pages
//! give Intune's limits as "N requests per 20 seconds" without saying
//! where a window starts, and describe identity's as a token bucket; a
//! window of that length wherever it starts is the strictest reading, and
//! a client it admits is admitted by a fixed window at any offset, or a
//! bucket of the same size, too.
//! [`Limits::graph`] holds the documented values (graph-reference.md
//! section 8, from Microsoft's throttling-limits page):
//!
//! * Intune (paths under `/deviceManagement`), per app and tenant: 100
//!   writes (POST, PUT, PATCH, DELETE) and 1,000 requests of any kind per
//!   20 s; per tenant (all apps): 200 writes and 2,000 requests per 20 s.
//! * Identity and access (every other path), per app and tenant: 3,000
//!   writes per 150 s.
//!
//! The sandbox has one app registration, so the per-app and per-tenant
//! windows count the same requests (the per-app ones bind). `$batch` items
//! are counted one by one, as Graph throttles them; the `$batch` call itself
//! is not. A refused request is not counted.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::GraphError;
use crate::faults::throttled;

/// Which requests a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Paths under `/deviceManagement`.
    Intune,
    /// Every other Graph path (users, groups, roles, conditional access...).
    Directory,
}

/// One limit: at most `count` requests in any `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// What the limit is called in the 429's message.
    pub name: String,
    pub area: Area,
    /// Counts only writes (anything but GET and HEAD).
    pub writes_only: bool,
    pub count: u32,
    pub window_ms: u64,
}

impl Limit {
    fn applies(&self, area: Area, write: bool) -> bool {
        self.area == area && (write || !self.writes_only)
    }
}

/// The limits in force; empty means none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub limits: Vec<Limit>,
}

impl Limits {
    /// No limits (the default).
    pub fn none() -> Limits {
        Limits::default()
    }

    /// Graph's documented limits.
    pub fn graph() -> Limits {
        let l = |name: &str, area, writes_only, count, secs: u64| Limit { name: name.into(), area, writes_only, count, window_ms: secs * 1000 };
        Limits {
            limits: vec![
                l("Intune writes per app", Area::Intune, true, 100, 20),
                l("Intune requests per app", Area::Intune, false, 1000, 20),
                l("Intune writes per tenant", Area::Intune, true, 200, 20),
                l("Intune requests per tenant", Area::Intune, false, 2000, 20),
                l("directory writes per app and tenant", Area::Directory, true, 3000, 150),
            ],
        }
    }

    /// Graph's limits with every window `window_ms` long and every count
    /// divided by `divisor` (at least 1): the same shape, quick to hit in a test.
    pub fn graph_scaled(window_ms: u64, divisor: u32) -> Limits {
        let mut out = Limits::graph();
        for l in &mut out.limits {
            l.window_ms = window_ms;
            l.count = (l.count / divisor.max(1)).max(1);
        }
        out
    }
}

/// What one limit has counted since it was set: for benchmarks (writes per
/// second against the limit) and tests (no 429s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitUsage {
    pub name: String,
    pub count: u32,
    pub window_ms: u64,
    /// Requests it counted (accepted).
    pub accepted: u64,
    /// Requests it refused with 429.
    pub refused: u64,
    /// Accept times (ms since the epoch) of the first and last counted request.
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// The limits and what each has accepted.
#[derive(Debug, Default)]
pub struct LimitState {
    cfg: Limits,
    /// Accept times (ms) per limit, oldest first.
    accepted: Vec<VecDeque<i64>>,
    usage: Vec<LimitUsage>,
}

impl LimitState {
    pub fn new(cfg: Limits) -> LimitState {
        let accepted = vec![VecDeque::new(); cfg.limits.len()];
        let usage = cfg
            .limits
            .iter()
            .map(|l| LimitUsage { name: l.name.clone(), count: l.count, window_ms: l.window_ms, accepted: 0, refused: 0, first_ms: None, last_ms: None })
            .collect();
        LimitState { cfg, accepted, usage }
    }

    pub fn set(&mut self, cfg: Limits) {
        *self = LimitState::new(cfg);
    }

    pub fn limits(&self) -> &Limits {
        &self.cfg
    }

    /// What each limit has counted and refused since it was set.
    pub fn usage(&self) -> Vec<LimitUsage> {
        self.usage.clone()
    }

    /// Admits one request at `now_ms` (path below the version), or refuses
    /// it with Graph's 429 and the seconds until the window has room.
    pub fn admit(&mut self, method: &str, path: &[String], now_ms: i64) -> Result<(), GraphError> {
        if self.cfg.limits.is_empty() {
            return Ok(());
        }
        let write = !matches!(method, "GET" | "HEAD");
        let area = match path.first() {
            Some(s) if s.eq_ignore_ascii_case("deviceManagement") => Area::Intune,
            _ => Area::Directory,
        };
        let mut wait_ms: i64 = 0;
        for ((limit, log), usage) in self.cfg.limits.iter().zip(&mut self.accepted).zip(&mut self.usage) {
            if !limit.applies(area, write) {
                continue;
            }
            let window = i64::try_from(limit.window_ms).unwrap_or(i64::MAX);
            while log.front().is_some_and(|&t| t <= now_ms.saturating_sub(window)) {
                log.pop_front();
            }
            if log.len() >= limit.count as usize {
                let oldest = log.front().copied().unwrap_or(now_ms);
                wait_ms = wait_ms.max(oldest.saturating_add(window).saturating_sub(now_ms));
                usage.refused += 1;
                tracing::debug!(limit = %limit.name, count = limit.count, window_ms = limit.window_ms, "service limit exceeded");
            }
        }
        if wait_ms > 0 {
            let secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
            return Err(throttled(secs));
        }
        for ((limit, log), usage) in self.cfg.limits.iter().zip(&mut self.accepted).zip(&mut self.usage) {
            if limit.applies(area, write) {
                log.push_back(now_ms);
                usage.accepted += 1;
                usage.first_ms.get_or_insert(now_ms);
                usage.last_ms = Some(now_ms);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    #[test]
    fn the_101st_intune_write_in_20_seconds_is_refused_until_the_window_slides() {
        let mut s = LimitState::new(Limits::graph());
        for i in 0..100 {
            s.admit("POST", &path("deviceManagement/deviceConfigurations"), i * 10).expect("test fixture");
        }
        let e = s.admit("PATCH", &path("deviceManagement/deviceConfigurations/x"), 5_000).unwrap_err();
        assert_eq!((e.status, e.retry_after), (429, Some(15)));
        // Reads have their own, larger budget; directory writes are another area.
        s.admit("GET", &path("deviceManagement/deviceConfigurations"), 5_000).expect("test fixture");
        s.admit("POST", &path("groups"), 5_000).expect("test fixture");
        // 20 s after the first write, one more fits.
        s.admit("POST", &path("deviceManagement/x"), 20_000).expect("test fixture");
        assert!(s.admit("POST", &path("deviceManagement/x"), 20_001).is_err());
        // What each limit counted and refused.
        let u = s.usage();
        assert_eq!((u[0].name.as_str(), u[0].accepted, u[0].refused, u[0].first_ms, u[0].last_ms), ("Intune writes per app", 101, 2, Some(0), Some(20_000)));
        assert_eq!((u[1].accepted, u[1].refused), (102, 0), "reads count in the request limit");
        assert_eq!((u[4].accepted, u[4].refused), (1, 0), "one directory write");
    }

    #[test]
    fn no_limits_admit_everything() {
        let mut s = LimitState::new(Limits::none());
        for i in 0..10_000 {
            s.admit("POST", &path("deviceManagement/x"), i).expect("test fixture");
        }
    }
}
