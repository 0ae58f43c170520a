//! Client-side pacing under Graph's documented service limits, so a large
//! apply slows itself down instead of collecting 429s.
//!
//! Intune allows, per app per tenant, 100 writes and 1,000 requests of any
//! kind per 20 s (paths under `/deviceManagement`); identity writes are
//! limited to 3,000 per 150 s per app and tenant. Each limit is a token
//! bucket that callers *reserve* from: the balance may go negative and the
//! caller then sleeps for the deficit. Reservation never spins, so it also
//! works with a test clock that does not move.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::retry::Clock;

/// A rate: `count` events per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per window (also the burst size).
    pub count: u32,
    /// Window length.
    pub per: Duration,
}

/// Which limits apply; `None` disables one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingConfig {
    /// Writes under `/deviceManagement` (Intune: 100 per 20 s per app and tenant).
    pub intune_writes: Option<Rate>,
    /// All requests under `/deviceManagement` (Intune: 1,000 per 20 s).
    pub intune_requests: Option<Rate>,
    /// Writes elsewhere (directory: 3,000 per 150 s per app and tenant).
    pub directory_writes: Option<Rate>,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            intune_writes: Some(Rate { count: 100, per: Duration::from_secs(20) }),
            intune_requests: Some(Rate { count: 1000, per: Duration::from_secs(20) }),
            directory_writes: Some(Rate { count: 3000, per: Duration::from_secs(150) }),
        }
    }
}

impl PacingConfig {
    /// No pacing at all (tests, and the sandbox).
    pub fn disabled() -> Self {
        Self { intune_writes: None, intune_requests: None, directory_writes: None }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: SystemTime,
}

impl Bucket {
    /// Takes one token and returns how long the caller must wait for it.
    fn reserve(&mut self, now: SystemTime) -> Duration {
        let per = self.rate.per.as_secs_f64();
        let capacity = f64::from(self.rate.count.max(1));
        let per_token = if per > 0.0 { per / capacity } else { 0.0 };
        if let Ok(elapsed) = now.duration_since(self.last) {
            if per_token > 0.0 {
                self.tokens = (self.tokens + elapsed.as_secs_f64() / per_token).min(capacity);
            } else {
                self.tokens = capacity;
            }
            self.last = now;
        }
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((-self.tokens * per_token).min(86_400.0))
        }
    }
}

/// The pacer shared by all clones of a client.
#[derive(Debug)]
pub struct Pacer {
    intune_writes: Option<Mutex<Bucket>>,
    intune_requests: Option<Mutex<Bucket>>,
    directory_writes: Option<Mutex<Bucket>>,
    clock: Arc<dyn Clock>,
}

impl Pacer {
    /// Builds the buckets, full at the start.
    pub fn new(config: &PacingConfig, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        let bucket = |r: Option<Rate>| r.map(|rate| Mutex::new(Bucket { rate, tokens: f64::from(rate.count), last: now }));
        Self {
            intune_writes: bucket(config.intune_writes),
            intune_requests: bucket(config.intune_requests),
            directory_writes: bucket(config.directory_writes),
            clock,
        }
    }

    /// Reserves capacity for one request and returns how long to wait before
    /// sending it. `resource_path` is the path below the API version.
    pub fn reserve(&self, method: &str, resource_path: &str) -> Duration {
        let write = !matches!(method, "GET" | "HEAD" | "OPTIONS");
        let lower = resource_path.to_ascii_lowercase();
        let intune = lower == "/devicemanagement" || lower.starts_with("/devicemanagement/");
        let now = self.clock.now();
        let take = |b: &Option<Mutex<Bucket>>| {
            b.as_ref()
                .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner).reserve(now))
                .unwrap_or(Duration::ZERO)
        };
        match (intune, write) {
            (true, true) => take(&self.intune_requests).max(take(&self.intune_writes)),
            (true, false) => take(&self.intune_requests),
            (false, true) => take(&self.directory_writes),
            (false, false) => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::retry::ManualClock;

    #[test]
    fn intune_writes_beyond_the_burst_wait() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cfg = PacingConfig { intune_writes: Some(Rate { count: 2, per: Duration::from_secs(20) }), ..PacingConfig::default() };
        let p = Pacer::new(&cfg, clock.clone());
        assert_eq!(p.reserve("POST", "/deviceManagement/deviceConfigurations"), Duration::ZERO);
        assert_eq!(p.reserve("PATCH", "/deviceManagement/deviceConfigurations/1"), Duration::ZERO);
        assert_eq!(p.reserve("DELETE", "/deviceManagement/x"), Duration::from_secs(10));
        assert_eq!(p.reserve("DELETE", "/deviceManagement/x"), Duration::from_secs(20));
        // reads and directory calls do not use the Intune write bucket
        assert_eq!(p.reserve("GET", "/deviceManagement/x"), Duration::ZERO);
        assert_eq!(p.reserve("POST", "/users"), Duration::ZERO);
        clock.advance(Duration::from_secs(40));
        assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let p = Pacer::new(&PacingConfig::disabled(), Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)));
        for _ in 0..10_000 {
            assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
        }
    }
}
