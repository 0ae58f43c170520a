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
        Window { rate, sent: VecDeque::with_capacity(2 * rate.count as usize) }
    }

    /// The earliest time at or after `now` when `k` more requests sent
    /// together keep every window of length `per + margin` at `count` or
    /// fewer. (More than `count` at once cannot fit: they go when every
    /// earlier send has left the window.)
    fn earliest(&self, now: SystemTime, margin: Duration, k: usize) -> SystemTime {
        let mut at = now;
        if let Some(last) = self.sent.back() {
            // Send times handed out never go backwards.
            at = at.max(*last);
        }
        let count = self.rate.count.max(1) as usize;
        let k = k.clamp(1, count);
        // The oldest `len + k - count` sends must have left the window.
        if self.sent.len() + k > count {
            if let Some(t) = self.sent.get(self.sent.len() + k - count - 1) {
                at = at.max(*t + self.rate.per + margin);
            }
        }
        at
    }

    /// Keeps twice `count` send times, not `count`: a time given back
    /// ([`Window::forget`]) must not leave the window short of the older
    /// time that recording it pushed out, or the next request would go at
    /// once into a full window.
    fn record(&mut self, at: SystemTime) {
        self.sent.push_back(at);
        // `earliest` needs the last `count`; a few more keep a window right
        // when a batch's send times are given back (`forget`).
        let keep = 2 * self.rate.count.max(1) as usize + super::batch::MAX_BATCH;
        while self.sent.len() > keep {
            self.sent.pop_front();
        }
    }

    /// Forgets one send time `at` handed out earlier (the latest such).
    /// Fewer sends never make a window fuller, so the times handed out
    /// since stay valid.
    fn forget(&mut self, at: SystemTime) {
        if let Some(i) = self.sent.iter().rposition(|t| *t == at) {
            self.sent.remove(i);
        }
    }
}

/// A send time handed out by [`Pacer::reserve_slot`] or
/// [`Pacer::reserve_many`]: one time for every request it covers (all the
/// items of a `$batch` call leave together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// When the request may leave.
    pub at: SystemTime,
    /// How long from the reservation until then.
    pub wait: Duration,
    /// Requests counted, per limit: (intune, write) -> how many.
    counted: Vec<((bool, bool), usize)>,
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
        self.reserve_slot(method, resource_path).map_or(Duration::ZERO, |r| r.wait)
    }

    /// Like [`Pacer::reserve`], returning the send time handed out (`None`
    /// when no limit applies), so a request that could not leave on time
    /// can give it back ([`Pacer::late`], [`Pacer::cancel`]).
    pub fn reserve_slot(&self, method: &str, resource_path: &str) -> Option<Reservation> {
        self.reserve_many(&[(method, resource_path)])
    }

    /// One send time for requests that leave together (the items of one
    /// `$batch` call, each `(method, resource path)`): the earliest at which
    /// every limit they count in has room for all of them, recorded for
    /// each. `None` when no limit applies to any of them.
    pub fn reserve_many(&self, requests: &[(&str, &str)]) -> Option<Reservation> {
        let mut counted: std::collections::BTreeMap<(bool, bool), usize> = std::collections::BTreeMap::new();
        for (method, resource_path) in requests {
            let write = !matches!(*method, "GET" | "HEAD" | "OPTIONS");
            let lower = resource_path.to_ascii_lowercase();
            if lower == "/$batch" {
                continue;
            }
            let intune = lower == "/devicemanagement" || lower.starts_with("/devicemanagement/");
            if !self.windows(intune, write).is_empty() {
                *counted.entry((intune, write)).or_default() += 1;
            }
        }
        if counted.is_empty() {
            return None;
        }
        let now = self.clock.now();
        // Always locked in the same order (the map's); one send time for
        // every window the requests count in, so none records a time
        // earlier than the send.
        let mut guards: Vec<(MutexGuard<'_, Window>, usize)> =
            counted.iter().flat_map(|(&(intune, write), &k)| self.windows(intune, write).into_iter().map(move |w| (locked(w), k))).collect();
        let at = guards.iter().map(|(w, k)| w.earliest(now, self.margin, *k)).max().unwrap_or(now);
        for (w, k) in &mut guards {
            for _ in 0..*k {
                w.record(at);
            }
        }
        let wait = at.duration_since(now).unwrap_or(Duration::ZERO).min(Duration::from_secs(86_400));
        Some(Reservation { at, wait, counted: counted.into_iter().collect() })
    }

    fn windows(&self, intune: bool, write: bool) -> Vec<&Mutex<Window>> {
        match (intune, write) {
            (true, true) => self.intune_writes.iter().collect(),
            (true, false) => self.intune_reads.iter().collect(),
            (false, true) => self.directory_writes.iter().collect(),
            (false, false) => Vec::new(),
        }
    }

    /// Whether a request reserved for `r.at` would now leave so late that
    /// the margin no longer covers it (it waited for a concurrency slot
    /// after its pacing wait): it should [`Pacer::cancel`] and reserve
    /// again, or a window could hold more than its count. Never late with
    /// a zero margin (no tolerance was asked for).
    pub fn late(&self, r: &Reservation) -> bool {
        let tolerance = self.margin / 2;
        !tolerance.is_zero() && self.clock.now().duration_since(r.at).is_ok_and(|late| late > tolerance)
    }

    /// Gives a reserved send time back (the request did not leave at it).
    pub fn cancel(&self, r: &Reservation) {
        for &((intune, write), k) in &r.counted {
            for w in self.windows(intune, write) {
                let mut w = locked(w);
                for _ in 0..k {
                    w.forget(r.at);
                }
            }
        }
    }
}

/// Waits for the pacer *without* holding a concurrency slot, then takes
/// one: a request waiting out a service limit never keeps other requests
/// (reads, other services) from going. A request that got its slot so late
/// that the pacing margin no longer covers it gives its send time back and
/// reserves again, so what the window counts is when requests really leave.
pub(crate) async fn paced_slot<'a>(
    pacer: &Pacer,
    semaphore: &'a tokio::sync::Semaphore,
    sleeper: &dyn super::retry::Sleeper,
    method: &str,
    info: &super::error::RequestInfo,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    paced_slot_for(pacer, semaphore, sleeper, &[(method, info.resource_path())], &info.path).await
}

/// [`paced_slot`] for requests that leave together: the items of one
/// `$batch` call (`(method, resource path)` each; the call itself is not
/// paced). They are paced as one send, before the call takes its slot, and
/// re-paced if the slot came too late, exactly as a single request is.
pub(crate) async fn paced_slot_for<'a>(
    pacer: &Pacer,
    semaphore: &'a tokio::sync::Semaphore,
    sleeper: &dyn super::retry::Sleeper,
    requests: &[(&str, &str)],
    path: &str,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    let mut reservation = pacer.reserve_many(requests);
    loop {
        if let Some(wait) = reservation.as_ref().map(|r| r.wait).filter(|w| !w.is_zero()) {
            tracing::debug!(path, requests = requests.len(), wait_ms = wait.as_millis() as u64, "pacing under service limits");
            sleeper.sleep(wait).await;
        }
        let permit = semaphore.acquire().await.ok();
        match &reservation {
            Some(r) if pacer.late(r) => {
                pacer.cancel(r);
                let again = pacer.reserve_many(requests);
                if again.as_ref().is_none_or(|r| r.wait.is_zero()) {
                    return permit;
                }
                drop(permit);
                reservation = again;
            }
            _ => return permit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::retry::ManualClock;

    #[test]
    fn a_send_time_given_back_frees_its_place_in_the_window() {
        let t0 = SystemTime::UNIX_EPOCH;
        let clock = Arc::new(ManualClock::new(t0));
        let cfg = PacingConfig { intune_writes: Some(Rate { count: 2, per: Duration::from_secs(20) }), margin: Duration::from_millis(200), ..PacingConfig::default() };
        let p = Pacer::new(&cfg, clock.clone());
        let a = p.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        assert_eq!(a.wait, Duration::ZERO);
        clock.advance(Duration::from_secs(5));
        let b = p.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        assert_eq!(b.wait, Duration::ZERO);
        let c = p.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        assert_eq!(c.at, t0 + Duration::from_millis(20_200), "20 s + margin after a");
        assert!(!p.late(&b), "on time");
        // b could not leave for 100 ms (half the margin): still on time.
        clock.advance(Duration::from_millis(100));
        assert!(!p.late(&b));
        clock.advance(Duration::from_millis(50));
        assert!(p.late(&b), "150 ms late is more than half the 200 ms margin");
        p.cancel(&b);
        // With b's time given back, d may go with c at 20.2 s (a, at 0, is
        // outside that window); had b kept its place, d would wait until
        // 20.2 s after b (25.2 s).
        let d = p.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        assert_eq!(d.at, t0 + Duration::from_millis(20_200));
        // Reads outside Intune and $batch calls reserve nothing.
        assert!(p.reserve_slot("GET", "/users").is_none());
        assert!(p.reserve_slot("POST", "/$batch").is_none());
        // Without a margin nothing is ever late.
        let strict = Pacer::new(&PacingConfig { margin: Duration::ZERO, ..cfg }, clock.clone());
        let e = strict.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        clock.advance(Duration::from_secs(60));
        assert!(!strict.late(&e));
    }

    #[test]
    fn a_send_time_given_back_from_a_full_window_does_not_open_it() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cfg = PacingConfig { intune_writes: Some(Rate { count: 2, per: Duration::from_secs(20) }), margin: Duration::ZERO, ..PacingConfig::default() };
        let p = Pacer::new(&cfg, clock.clone());
        assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
        assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::ZERO);
        // A third would wait; a batch that cannot wait gives it back.
        let held = p.reserve_slot("POST", "/deviceManagement/x").expect("test fixture");
        assert_eq!(held.wait, Duration::from_secs(20));
        p.cancel(&held);
        // The window is still full: the next one waits just as long.
        assert_eq!(p.reserve("POST", "/deviceManagement/x"), Duration::from_secs(20));
    }

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
            let span = w[100].duration_since(w[0]).expect("test fixture");
            assert!(span >= Duration::from_secs(20), "101 writes within {span:?}");
        }
        // Reads and writes together stay under the request limit too.
        let mut all: Vec<SystemTime> = writes.clone();
        all.extend(reads);
        all.sort();
        for w in all.windows(1001) {
            assert!(w[1000].duration_since(w[0]).expect("test fixture") >= Duration::from_secs(20));
        }
        // Once callers outrun the limit, writes go at the limit: over the
        // last 500, at least 90% of 100 per 20 s.
        let span = writes[999].duration_since(writes[499]).expect("test fixture").as_secs_f64();
        let rate = 500.0 / span;
        assert!(rate >= 0.9 * 100.0 / 20.0, "sustained {rate:.2} writes/s, under 90% of 5/s");
        assert!(rate <= 100.0 / 20.0 + 0.01, "{rate:.2} writes/s is over the limit");
    }

    #[test]
    fn the_items_of_a_batch_leave_together_where_the_window_has_room_for_all() {
        let t0 = SystemTime::UNIX_EPOCH;
        let cfg = PacingConfig { intune_requests: Some(Rate { count: 5, per: Duration::from_secs(20) }), ..PacingConfig::disabled() };
        let p = Pacer::new(&cfg, Arc::new(ManualClock::new(t0)));
        let items = [("GET", "/deviceManagement/a"); 3];
        // 3 at once, then 3 more: only 2 fit beside the first 3 until they
        // leave the window, so the second three go together at T0 + 20 s.
        let first = p.reserve_many(&items).expect("paced");
        assert_eq!(first.at, t0);
        let second = p.reserve_many(&items).expect("paced");
        assert_eq!(second.at, t0 + Duration::from_secs(20));
        // Given back, its three places are free again.
        p.cancel(&second);
        assert_eq!(p.reserve_many(&items[..2]).map(|r| r.at), Some(t0));
        // Unpaced items (directory reads, the call itself) count nothing.
        assert_eq!(p.reserve_many(&[("GET", "/users"), ("POST", "/$batch")]), None);
        // A single request is a batch of one.
        assert_eq!(p.reserve_slot("GET", "/deviceManagement/a").map(|r| r.at), Some(t0 + Duration::from_secs(20)));
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
