//! Retry policy, backoff and injectable time.
//!
//! All waiting goes through a [`Sleeper`] and all wall-clock reads through a
//! [`Clock`], so tests can record the delays the client asked for (and check
//! that `Retry-After` was honoured) without actually waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::Rng;

/// Bounds on retrying one logical request.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (at least 1).
    pub max_attempts: u32,
    /// First backoff step; step `n` is `base_delay * 2^(n-1)`, then full jitter.
    pub base_delay: Duration,
    /// Cap on one backoff step.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client will wait; a longer one ends the
    /// call with [`super::GraphError::Throttled`] carrying the requested delay,
    /// rather than parking a reconcile run for an unbounded time.
    pub max_retry_after: Duration,
    /// Budget for all attempts and waits of one request together.
    pub max_total: Duration,
    /// Timeout for one HTTP attempt (connect, send and read the body).
    pub request_timeout: Duration,
    /// Waits between reads of a just-created object that still 404s
    /// (Entra replication lag), see [`super::GraphClient::wait_until_readable`].
    pub replication_delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            max_total: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
            replication_delays: [1, 2, 4, 8, 16].into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetryPolicy {
    /// A policy with every duration divided by `factor` (at least 1), for
    /// tests that want the real shape of the schedule at a fraction of the time.
    pub fn scaled(&self, factor: u32) -> Self {
        let f = factor.max(1);
        Self {
            max_attempts: self.max_attempts,
            base_delay: self.base_delay / f,
            max_delay: self.max_delay / f,
            max_retry_after: self.max_retry_after / f,
            max_total: self.max_total / f,
            request_timeout: self.request_timeout / f,
            replication_delays: self.replication_delays.iter().map(|d| *d / f).collect(),
        }
    }

    /// Full-jitter exponential backoff for retry number `retry` (1-based):
    /// a uniform delay in `[0, min(max_delay, base_delay * 2^(retry-1))]`.
    /// Full jitter spreads concurrent clients out instead of having them
    /// retry in lockstep after a shared failure.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self.base_delay.saturating_mul(1u32 << exp).min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when: SystemTime = date.with_timezone(&chrono::Utc).into();
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A source of wall-clock time (token expiry, JWT `nbf`/`exp`, pacing).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; for tests of token refresh.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// Starts at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *t = t.checked_add(by).unwrap_or(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A boxed sleep future.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Something that can wait; every delay in the client goes through it.
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// Sleeps on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Records every requested delay and returns at once (after yielding), so
/// tests can assert on the schedule without waiting for it.
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper {
    delays: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    /// A new recorder with no delays.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delay requested so far, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.delays.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(duration);
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let p = RetryPolicy { base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(250), ..RetryPolicy::default() };
        for retry in 1..40 {
            let d = p.backoff(retry);
            let cap = Duration::from_millis(100 * (1u64 << (retry - 1).min(10))).min(Duration::from_millis(250));
            assert!(d <= cap, "retry {retry}: {d:?} > {cap:?}");
        }
        let zero = RetryPolicy { base_delay: Duration::ZERO, ..RetryPolicy::default() };
        assert_eq!(zero.backoff(3), Duration::ZERO);
    }

    #[test]
    fn scaled_policy_divides_durations() {
        let p = RetryPolicy::default().scaled(1000);
        assert_eq!(p.replication_delays[0], Duration::from_millis(1));
        assert_eq!(p.replication_delays[4], Duration::from_millis(16));
        assert_eq!(p.max_attempts, RetryPolicy::default().max_attempts);
    }
}
