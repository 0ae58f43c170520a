//! Client-side pacing under Graph's documented service limits, so a large
//! apply slows itself down instead of collecting 429s.
//!
//! Intune allows, per app per tenant, 100 writes and 1,000 requests of any
//! kind per 20 s (paths under `/deviceManagement`); identity writes are
//! limited to 3,000 per 150 s per app and tenant. Each limit is a sliding
//! window: the pacer remembers the send times it handed out for the last
//! `count` requests, and the next one may go only `per` (plus a small
//! margin) after the oldest of them. So no window of length `per` ever
//! holds more than `count` requests (a full bucket at the start cannot
//! double the first window, as a token bucket's burst plus refill did),
//! while a steady stream still runs at the limit. Callers *reserve* a send
//! time and sleep until it; reservation never spins, so it also works with
//! a test clock that does not move.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::retry::Clock;

/// A rate: `count` events per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed in any window of length `per`.
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
    /// Added to every window, so that a request delayed a little on its way
    /// (scheduling, the connection pool) still lands outside the window of
    /// the one `count` before it.
    pub margin: Duration,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            intune_writes: Some(Rate { count: 100, per: Duration::from_secs(20) }),
            intune_requests: Some(Rate { count: 1000, per: Duration::from_secs(20) }),
            directory_writes: Some(Rate { count: 3000, per: Duration::from_secs(150) }),
            margin: Duration::from_millis(250),
        }
    }
}

impl PacingConfig {
    /// No pacing at all (tests, and the sandbox).
    pub fn disabled() -> Self {
        Self { intune_writes: None, intune_requests: None, directory_writes: None, margin: Duration::ZERO }
    }
}

/// The send times handed out for the last `rate.count` requests of one limit.
#[derive(Debug)]
struct Window {
    rate: Rate,
    sent: VecDeque<SystemTime>,
}

impl Window {
    fn new(rate: Rate) -> Window {
        Window { rate, sent: VecDeque::with_capacity(rate.count as usize) }
    }

    /// The earliest time at or after `now` when one more request keeps every
    /// window of length `per + margin` at `count` or fewer.
    fn earliest(&self, now: SystemTime, margin: Duration) -> SystemTime {
        let mut at = now;
        if let Some(last) = self.sent.back() {
            // Send times handed out never go backwards.
            at = at.max(*last);
        }
        if self.sent.len() >= self.rate.count.max(1) as usize {
            if let Some(oldest) = self.sent.front() {
                at = at.max(*oldest + self.rate.per + margin);
            }
        }
        at
    }

    fn record(&mut self, at: SystemTime) {
        self.sent.push_back(at);
        while self.sent.len() > self.rate.count.max(1) as usize {
            self.sent.pop_front();
        }
    }
}

/// The pacer shared by all clones of a client.
///
/// Intune's request limit counts reads and writes together. Writes are
/// paced to the write limit and reads to what the request limit leaves
/// (1,000 - 100 = 900 per 20 s), so the two never exceed the request limit
/// together, and a read never queues behind the send times of a backlog of
/// writes.
#[derive(Debug)]
pub struct Pacer {
    intune_writes: Option<Mutex<Window>>,
    intune_reads: Option<Mutex<Window>>,
    directory_writes: Option<Mutex<Window>>,
    margin: Duration,
    clock: Arc<dyn Clock>,
}

fn locked(m: &Mutex<Window>) -> MutexGuard<'_, Window> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pacer {
    /// Empty windows: the first `count` requests of each limit go at once.
    pub fn new(config: &PacingConfig, clock: Arc<dyn Clock>) -> Self {
        let window = |r: Option<Rate>| r.map(|rate| Mutex::new(Window::new(rate)));
        let (writes, reads) = match (config.intune_writes, config.intune_requests) {
            (Some(w), Some(r)) => (Some(w), Some(Rate { count: r.count.saturating_sub(w.count).max(1), per: r.per })),
            // Without a write limit, writes count against the request limit only.
            (None, Some(r)) => (Some(r), Some(r)),
            (w, None) => (w, None),
        };
        Self {
            intune_writes: window(writes),
            intune_reads: window(reads),
            directory_writes: window(config.directory_writes),
            margin: config.margin,
            clock,
        }
    }

    /// Reserves a send time for one request and returns how long to wait
    /// before sending it. `resource_path` is the path below the API version.
    /// `$batch` calls are not paced here: their items are, one by one.
    pub fn reserve(&self, method: &str, resource_path: &str) -> Duration {
        let write = !matches!(method, "GET" | "HEAD" | "OPTIONS");
        let lower = resource_path.to_ascii_lowercase();
        if lower == "/$batch" {
            return Duration::ZERO;
        }
        let intune = lower == "/devicemanagement" || lower.starts_with("/devicemanagement/");
        let windows: Vec<&Mutex<Window>> = match (intune, write) {
            (true, true) => self.intune_writes.iter().collect(),
            (true, false) => self.intune_reads.iter().collect(),
            (false, true) => self.directory_writes.iter().collect(),
            (false, false) => Vec::new(),
        };
        if windows.is_empty() {
            return Duration::ZERO;
        }
        let now = self.clock.now();
        // Always locked in the same order; one send time for every window
        // the request counts in, so none records a time earlier than the send.
        let mut guards: Vec<MutexGuard<'_, Window>> = windows.into_iter().map(locked).collect();
        let at = guards.iter().map(|w| w.earliest(now, self.margin)).max().unwrap_or(now);
        for w in &mut guards {
            w.record(at);
        }
        at.duration_since(now).unwrap_or(Duration::ZERO).min(Duration::from_secs(86_400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::retry::ManualClock;

    #[test]
    fn intune_writes_beyond_the_burst_wait() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cfg = PacingConfig { intune_writes: Some(Rate { count: 2, per: Duration::from_secs(20) }), margin: Duration::ZERO, ..PacingConfig::default() };
        let p = Pacer::new(&cfg, clock.clone());
        assert_eq!(p.reserve("POST", "/deviceManagement/deviceConfigurations"), Duration::ZERO);
        assert_eq!(p.reserve("PATCH", "/deviceManagement/deviceConfigurations/1"), Duration::ZERO);
        // The window is full: the third waits until 20 s after the first.
        assert_eq!(p.reserve("DELETE", "/deviceManagement/x"), Duration::from_secs(20));
        assert_eq!(p.reserve("DELETE", "/deviceManagement/x"), Duration::from_secs(20));
        assert_eq!(p.reserve("DELETE", "/deviceManagement/x"), Duration::from_secs(40));
        // reads and directory calls do not use the Intune write bucket
        assert_eq!(p.reserve("GET", "/deviceManagement/x"), Duration::ZERO);
        assert_eq!(p.reserve("POST", "/users"), Duration::ZERO);
        clock.advance(Duration::from_secs(80));
        assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
    }

    /// Sends every request at the time the pacer gives it, with a fake
    /// clock moving in uneven steps, and checks every window: never more
    /// than `count` in any `per`, and a steady stream at least 90% of the
    /// limit.
    #[test]
    fn no_window_ever_holds_more_than_the_limit_and_the_limit_is_used() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let cfg = PacingConfig {
            intune_writes: Some(Rate { count: 100, per: Duration::from_secs(20) }),
            intune_requests: Some(Rate { count: 1000, per: Duration::from_secs(20) }),
            directory_writes: Some(Rate { count: 3000, per: Duration::from_secs(150) }),
            margin: Duration::from_millis(250),
        };
        let p = Pacer::new(&cfg, clock.clone());
        let mut writes = Vec::new();
        let mut reads = Vec::new();
        let mut now = start;
        for i in 0..1_000u64 {
            // Callers arrive in bursts and pauses: 0 to 350 ms apart, on
            // average faster than the limit lets them go.
            let step = Duration::from_millis((i * 7919) % 8 * 50);
            clock.advance(step);
            now += step;
            // A read now and then shares the request budget.
            if i % 3 == 0 {
                let wait = p.reserve("GET", "/deviceManagement/deviceConfigurations");
                assert_eq!(wait, Duration::ZERO, "a few reads never wait behind writes");
                reads.push(now + wait);
            }
            let wait = p.reserve("POST", "/deviceManagement/deviceConfigurations");
            writes.push(now + wait);
        }
        writes.sort();
        // Any 101 consecutive writes span more than 20 s.
        for w in writes.windows(101) {
            let span = w[100].duration_since(w[0]).unwrap();
            assert!(span >= Duration::from_secs(20), "101 writes within {span:?}");
        }
        // Reads and writes together stay under the request limit too.
        let mut all: Vec<SystemTime> = writes.clone();
        all.extend(reads);
        all.sort();
        for w in all.windows(1001) {
            assert!(w[1000].duration_since(w[0]).unwrap() >= Duration::from_secs(20));
        }
        // Once callers outrun the limit, writes go at the limit: over the
        // last 500, at least 90% of 100 per 20 s.
        let span = writes[999].duration_since(writes[499]).unwrap().as_secs_f64();
        let rate = 500.0 / span;
        assert!(rate >= 0.9 * 100.0 / 20.0, "sustained {rate:.2} writes/s, under 90% of 5/s");
        assert!(rate <= 100.0 / 20.0 + 0.01, "{rate:.2} writes/s is over the limit");
    }

    #[test]
    fn a_batch_call_is_not_paced_itself() {
        let cfg = PacingConfig { directory_writes: Some(Rate { count: 1, per: Duration::from_secs(150) }), ..PacingConfig::default() };
        let p = Pacer::new(&cfg, Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)));
        for _ in 0..10 {
            assert_eq!(p.reserve("POST", "/$batch"), Duration::ZERO);
        }
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let p = Pacer::new(&PacingConfig::disabled(), Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)));
        for _ in 0..10_000 {
            assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
        }
    }
}
