//! Client-side pacing under Graph's documented service limits, so a large
//! apply slows itself down instead of collecting 429s.
//!
//! Intune allows, per app per tenant, 100 writes and 1,000 requests of any
//! kind per 20 s (paths under `/deviceManagement`); identity writes are
//! limited to 3,000 per 150 s per app and tenant. Graph counts a request
//! when it *arrives*, and the documentation does not say where its windows
//! start; so the pacer keeps every window of length `per`, wherever it
//! starts, at `count` or fewer arrivals (a fixed window or a token bucket
//! of the same count is then never exceeded either).
//!
//! The client cannot see when a request arrives, only that it arrives
//! after it was sent and before its response begins. A request therefore
//! holds its place from the moment its send time is reserved until its
//! response comes back (it could arrive at any time in between: on a loaded
//! machine, or behind a slow connection, a request sent early can arrive
//! after one sent later), and for `per` (plus a small margin) after that.
//! The next request may go only when fewer than `count` places are held:
//! however long each one spends in transit, no window of arrivals can hold
//! more than `count`, and a steady stream runs at `count` per `per` plus
//! one round trip (20.25 s + the response time, over 95% of the limit at
//! any response time under a second). When every place is held by a request
//! still in flight, no send time can be known yet: the caller waits for a
//! response ([`Pacer::subscribe`]) and asks again. Reservation never spins,
//! so it also works with a test clock that does not move.

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
    /// Added to every window: the service's clock and its counting are not
    /// ours, so a place is held a little longer than `per` after the
    /// response that freed it.
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

/// The places of one limit: requests reserved and not yet answered
/// (`open`), and the times the latest answered ones were answered.
#[derive(Debug)]
struct Window {
    rate: Rate,
    /// Requests holding a place with no answer yet: each may arrive at
    /// any time from now on.
    open: usize,
    /// When the answered requests were answered, oldest first; only the
    /// latest `count` can still matter.
    answered: VecDeque<SystemTime>,
}

impl Window {
    fn new(rate: Rate) -> Window {
        Window { rate, open: 0, answered: VecDeque::with_capacity(rate.count as usize + 1) }
    }

    fn count(&self) -> usize {
        self.rate.count.max(1) as usize
    }

    /// The earliest time at or after `now` when `k` more requests may go
    /// together, or `None` while requests in flight hold too many places
    /// for any time to be known. A request answered at `t` arrived at `t`
    /// or before, and one sent at `at` arrives at `at` or after: past
    /// `t + per + margin`, the two can never share a window. (More than
    /// `count` at once cannot fit: they go alone, when every earlier one has
    /// left the window.)
    fn earliest(&self, now: SystemTime, margin: Duration, k: usize) -> Option<SystemTime> {
        let count = self.count();
        let k = k.clamp(1, count);
        if self.open + k > count {
            return None;
        }
        // Answered requests that may still share a window with these.
        let room = count - self.open - k;
        let n = self.answered.len();
        if n <= room {
            return Some(now);
        }
        Some(now.max(self.answered[n - room - 1] + self.rate.per + margin))
    }

    /// `k` requests answered at `at` (or given up without a response).
    fn answer(&mut self, k: usize, at: SystemTime) {
        self.open = self.open.saturating_sub(k);
        for _ in 0..k {
            // Answers come back nearly in order: the place is found from the back.
            let i = self.answered.iter().rposition(|t| *t <= at).map_or(0, |i| i + 1);
            self.answered.insert(i, at);
        }
        while self.answered.len() > self.count() {
            self.answered.pop_front();
        }
    }
}

/// Every limit's place is held by a request still in flight: no send
/// time can be given until one is answered ([`Pacer::subscribe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// What the clones of a pacer share, and what a [`Reservation`] gives its
/// places back to.
#[derive(Debug)]
struct Shared {
    intune_writes: Option<Mutex<Window>>,
    intune_reads: Option<Mutex<Window>>,
    directory_writes: Option<Mutex<Window>>,
    margin: Duration,
    clock: Arc<dyn Clock>,
    /// Bumped whenever places are given back.
    freed: tokio::sync::watch::Sender<u64>,
}

/// Places held in the windows for requests that leave together (one
/// request, or the items of one `$batch` call). Dropping it says the
/// requests were answered (or will never arrive): their places are freed
/// `per` after now. [`Reservation::cancel`] says they never left.
pub struct Reservation {
    /// When the requests may leave.
    pub at: SystemTime,
    /// How long from the reservation until then.
    pub wait: Duration,
    /// Requests counted, per limit: (intune, write) -> how many.
    counted: Vec<((bool, bool), usize)>,
    shared: Arc<Shared>,
    given_back: bool,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation").field("at", &self.at).field("wait", &self.wait).field("counted", &self.counted).finish_non_exhaustive()
    }
}

impl Reservation {
    /// Gives the places back: the requests never left (a batch that could
    /// not carry them, a send time no longer wanted).
    pub fn cancel(mut self) {
        self.given_back = true;
        self.shared.give_back(&self.counted, None);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.given_back {
            // Never earlier than the send time handed out: a reservation
            // dropped before it is taken as sent then and answered at once.
            let at = self.shared.clock.now().max(self.at);
            self.shared.give_back(&self.counted, Some(at));
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
    shared: Arc<Shared>,
}

fn locked(m: &Mutex<Window>) -> MutexGuard<'_, Window> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn windows(&self, intune: bool, write: bool) -> Vec<&Mutex<Window>> {
        match (intune, write) {
            (true, true) => self.intune_writes.iter().collect(),
            (true, false) => self.intune_reads.iter().collect(),
            (false, true) => self.directory_writes.iter().collect(),
            (false, false) => Vec::new(),
        }
    }

    /// Frees the places of `counted`: answered at `answered`, or never sent.
    fn give_back(&self, counted: &[((bool, bool), usize)], answered: Option<SystemTime>) {
        for &((intune, write), k) in counted {
            for w in self.windows(intune, write) {
                let mut w = locked(w);
                match answered {
                    Some(at) => w.answer(k, at),
                    None => w.open = w.open.saturating_sub(k),
                }
            }
        }
        self.freed.send_modify(|n| *n = n.wrapping_add(1));
    }
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
        let (freed, _) = tokio::sync::watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                intune_writes: window(writes),
                intune_reads: window(reads),
                directory_writes: window(config.directory_writes),
                margin: config.margin,
                clock,
                freed,
            }),
        }
    }

    /// Reserves a place for one request (`resource_path` is the path below
    /// the API version): `Ok(None)` when no limit applies, [`Full`] when
    /// the caller must wait for a response first. `$batch` calls are not
    /// paced here: their items are.
    pub fn reserve_slot(&self, method: &str, resource_path: &str) -> Result<Option<Reservation>, Full> {
        self.reserve_many(&[(method, resource_path)])
    }

    /// One send time for requests that leave together (the items of one
    /// `$batch` call, each `(method, resource path)`): the earliest at which
    /// every limit they count in has room for all of them, with a place
    /// held for each in each limit until the reservation is dropped.
    pub fn reserve_many(&self, requests: &[(&str, &str)]) -> Result<Option<Reservation>, Full> {
        let mut counted: std::collections::BTreeMap<(bool, bool), usize> = std::collections::BTreeMap::new();
        for (method, resource_path) in requests {
            let write = !matches!(*method, "GET" | "HEAD" | "OPTIONS");
            let lower = resource_path.to_ascii_lowercase();
            if lower == "/$batch" {
                continue;
            }
            let intune = lower == "/devicemanagement" || lower.starts_with("/devicemanagement/");
            if !self.shared.windows(intune, write).is_empty() {
                *counted.entry((intune, write)).or_default() += 1;
            }
        }
        if counted.is_empty() {
            return Ok(None);
        }
        let shared = &self.shared;
        let now = shared.clock.now();
        // Always locked in the same order (the map's); one send time for
        // every window the requests count in.
        let mut guards: Vec<(MutexGuard<'_, Window>, usize)> =
            counted.iter().flat_map(|(&(intune, write), &k)| shared.windows(intune, write).into_iter().map(move |w| (locked(w), k))).collect();
        let mut at = now;
        for (w, k) in &guards {
            at = at.max(w.earliest(now, shared.margin, *k).ok_or(Full)?);
        }
        for (w, k) in &mut guards {
            w.open += *k;
        }
        drop(guards);
        let wait = at.duration_since(now).unwrap_or(Duration::ZERO).min(Duration::from_secs(86_400));
        Ok(Some(Reservation { at, wait, counted: counted.into_iter().collect(), shared: Arc::clone(shared), given_back: false }))
    }

    /// Changes whenever places are given back: subscribe *before* a
    /// reservation that may be [`Full`], then wait for the change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.freed.subscribe()
    }
}

/// Waits for the pacer *without* holding a concurrency slot, then takes
/// one: a request waiting out a service limit never keeps other requests
/// (reads, other services) from going. The reservation comes back with
/// the slot: hold it until the response has begun (or the request failed),
/// then drop it.
pub(crate) async fn paced_slot<'a>(
    pacer: &Pacer,
    semaphore: &'a tokio::sync::Semaphore,
    sleeper: &dyn super::retry::Sleeper,
    method: &str,
    info: &super::error::RequestInfo,
) -> (Option<tokio::sync::SemaphorePermit<'a>>, Option<Reservation>) {
    paced_slot_for(pacer, semaphore, sleeper, &[(method, info.resource_path())], &info.path).await
}

/// [`paced_slot`] for requests that leave together: the items of one
/// `$batch` call (`(method, resource path)` each; the call itself is not
/// paced). They are paced as one send, before the call takes its slot.
/// A request that gets its slot later than its send time is still counted
/// right: its place is held until it is answered, whenever it leaves.
pub(crate) async fn paced_slot_for<'a>(
    pacer: &Pacer,
    semaphore: &'a tokio::sync::Semaphore,
    sleeper: &dyn super::retry::Sleeper,
    requests: &[(&str, &str)],
    path: &str,
) -> (Option<tokio::sync::SemaphorePermit<'a>>, Option<Reservation>) {
    loop {
        let mut freed = pacer.subscribe();
        match pacer.reserve_many(requests) {
            Err(Full) => {
                tracing::debug!(path, requests = requests.len(), "pacing under service limits: waiting for a response");
                // The sender lives as long as the pacer.
                let _ = freed.changed().await;
            }
            Ok(reservation) => {
                if let Some(wait) = reservation.as_ref().map(|r| r.wait).filter(|w| !w.is_zero()) {
                    tracing::debug!(path, requests = requests.len(), wait_ms = wait.as_millis() as u64, "pacing under service limits");
                    sleeper.sleep(wait).await;
                }
                return (semaphore.acquire().await.ok(), reservation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::retry::ManualClock;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// Reserves one request and has it answered at its send time: a
    /// request with no time in transit.
    fn go(p: &Pacer, method: &str, path: &str) -> Duration {
        p.reserve_slot(method, path).expect("room").map_or(Duration::ZERO, |r| r.wait)
    }

    fn intune_writes(count: u32, margin_ms: u64) -> PacingConfig {
        PacingConfig { intune_writes: Some(Rate { count, per: Duration::from_secs(20) }), margin: Duration::from_millis(margin_ms), ..PacingConfig::default() }
    }

    #[test]
    fn a_request_holds_its_place_until_it_is_answered() {
        let t0 = SystemTime::UNIX_EPOCH;
        let clock = Arc::new(ManualClock::new(t0));
        let p = Pacer::new(&intune_writes(2, 200), clock.clone());
        let a = p.reserve_slot("POST", "/deviceManagement/x").expect("room").expect("paced");
        let b = p.reserve_slot("POST", "/deviceManagement/x").expect("room").expect("paced");
        assert_eq!((a.wait, b.wait), (Duration::ZERO, Duration::ZERO));
        // Both in flight: either may still arrive at any moment, so no send
        // time can be given, however long they have been on their way.
        clock.advance(Duration::from_secs(30));
        assert_eq!(p.reserve_slot("POST", "/deviceManagement/x").map(|_| ()), Err(Full));
        let freed = p.subscribe();
        assert!(!freed.has_changed().expect("the pacer lives"));
        // a is answered at 30 s: it arrived at 30 s or before, so the next
        // may go 20 s + margin after that.
        drop(a);
        assert!(freed.has_changed().expect("the pacer lives"), "waiters are woken");
        let c = p.reserve_slot("POST", "/deviceManagement/x").expect("room").expect("paced");
        assert_eq!(c.at, t0 + Duration::from_millis(50_200));
        // c's place is held while it waits; given back, it is free again.
        assert_eq!(p.reserve_slot("POST", "/deviceManagement/x").map(|_| ()), Err(Full));
        c.cancel();
        let d = p.reserve_slot("POST", "/deviceManagement/x").expect("room").expect("paced");
        assert_eq!(d.at, t0 + Duration::from_millis(50_200));
        drop((b, d));
        // Reads outside Intune and $batch calls hold nothing.
        assert!(p.reserve_slot("GET", "/users").expect("room").is_none());
        assert!(p.reserve_slot("POST", "/$batch").expect("room").is_none());
    }

    #[test]
    fn a_place_given_back_from_a_full_window_does_not_open_it() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let p = Pacer::new(&intune_writes(2, 0), clock.clone());
        assert_eq!(go(&p, "POST", "/deviceManagement/x"), Duration::ZERO);
        assert_eq!(go(&p, "POST", "/deviceManagement/x"), Duration::ZERO);
        // A third would wait; a batch that cannot wait gives it back.
        let held = p.reserve_slot("POST", "/deviceManagement/x").expect("room").expect("paced");
        assert_eq!(held.wait, Duration::from_secs(20));
        held.cancel();
        // The window is still full: the next one waits just as long.
        assert_eq!(go(&p, "POST", "/deviceManagement/x"), Duration::from_secs(20));
    }

    #[test]
    fn intune_writes_beyond_the_burst_wait() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let p = Pacer::new(&intune_writes(2, 0), clock.clone());
        assert_eq!(go(&p, "POST", "/deviceManagement/deviceConfigurations"), Duration::ZERO);
        assert_eq!(go(&p, "PATCH", "/deviceManagement/deviceConfigurations/1"), Duration::ZERO);
        // The window is full: the third waits until 20 s after the first.
        assert_eq!(go(&p, "DELETE", "/deviceManagement/x"), Duration::from_secs(20));
        assert_eq!(go(&p, "DELETE", "/deviceManagement/x"), Duration::from_secs(20));
        assert_eq!(go(&p, "DELETE", "/deviceManagement/x"), Duration::from_secs(40));
        // reads and directory calls do not use the Intune write places
        assert_eq!(go(&p, "GET", "/deviceManagement/x"), Duration::ZERO);
        assert_eq!(go(&p, "POST", "/users"), Duration::ZERO);
        clock.advance(Duration::from_secs(80));
        assert_eq!(go(&p, "POST", "/deviceManagement/x"), Duration::ZERO);
    }

    /// Sends every request at the time the pacer gives it, answered at
    /// once, with a fake clock moving in uneven steps, and checks every
    /// window: never more than `count` in any `per`, and a steady stream
    /// at least 90% of the limit.
    #[test]
    fn no_window_ever_holds_more_than_the_limit_and_the_limit_is_used() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let p = Pacer::new(&PacingConfig::default(), clock.clone());
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
                let wait = go(&p, "GET", "/deviceManagement/deviceConfigurations");
                assert_eq!(wait, Duration::ZERO, "a few reads never wait behind writes");
                reads.push(now + wait);
            }
            let wait = go(&p, "POST", "/deviceManagement/deviceConfigurations");
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

    /// A deterministic xorshift: the same delays on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    enum Event {
        /// A worker asks the pacer for its next send time.
        Ask(usize),
        /// A worker's request is answered: its reservation is dropped.
        Answered(usize),
    }

    /// Eight workers (the client's concurrency) write to Intune as fast as
    /// the pacer lets them, one to four items a call (a `$batch` carries
    /// several), on a fake clock. Each call is delayed in transit by a
    /// random 0-800 ms (one in 25 stalls 3 s more), as on a loaded machine,
    /// and answered 20-200 ms after it arrives. Counted where Graph counts
    /// them, on arrival: no window of 20 s (wherever it starts, so fixed
    /// windows at any offset too) ever holds more than 100, and the stream
    /// still runs at 90% or more of 100 per 20 s.
    #[test]
    fn requests_delayed_in_transit_never_overfill_a_window_of_arrivals() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let p = Pacer::new(&PacingConfig::default(), clock.clone());
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let workers = 8;
        let mut events: BinaryHeap<Reverse<(SystemTime, u64, usize, bool)>> = BinaryHeap::new();
        let mut seq = 0u64;
        let mut push = |events: &mut BinaryHeap<_>, at: SystemTime, e: Event| {
            seq += 1;
            let (w, answered) = match e {
                Event::Ask(w) => (w, false),
                Event::Answered(w) => (w, true),
            };
            events.push(Reverse((at, seq, w, answered)));
        };
        for w in 0..workers {
            push(&mut events, start, Event::Ask(w));
        }
        let mut in_flight: Vec<Option<Reservation>> = (0..workers).map(|_| None).collect();
        let mut parked: Vec<usize> = Vec::new();
        let mut arrivals: Vec<SystemTime> = Vec::new();
        let mut stalls = 0;
        while arrivals.len() < 3_000 {
            let Reverse((at, _, w, answered)) = events.pop().expect("the workers never all stop");
            clock.advance(at.duration_since(clock.now()).unwrap_or_default());
            if answered {
                drop(in_flight[w].take());
                for parked in parked.drain(..) {
                    push(&mut events, at, Event::Ask(parked));
                }
                push(&mut events, at + Duration::from_millis(rng.below(30)), Event::Ask(w));
                continue;
            }
            let k = 1 + rng.below(4) as usize;
            let items = vec![("POST", "/deviceManagement/deviceConfigurations"); k];
            match p.reserve_many(&items) {
                Err(Full) => parked.push(w),
                Ok(r) => {
                    let r = r.expect("Intune writes are paced");
                    let mut transit = Duration::from_millis(rng.below(800));
                    if rng.below(25) == 0 {
                        transit += Duration::from_secs(3);
                        stalls += 1;
                    }
                    let arrival = r.at + transit;
                    arrivals.resize(arrivals.len() + k, arrival);
                    let answer = arrival + Duration::from_millis(20 + rng.below(180));
                    in_flight[w] = Some(r);
                    push(&mut events, answer, Event::Answered(w));
                }
            }
        }
        assert!(stalls > 10, "the run had its stalls ({stalls})");
        arrivals.sort();
        let per = Duration::from_secs(20);
        for w in arrivals.windows(101) {
            let span = w[100].duration_since(w[0]).expect("sorted");
            assert!(span >= per, "101 arrivals within {span:?}");
        }
        for offset in [0, 5, 10, 15] {
            let mut fixed: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
            for a in &arrivals {
                let s = a.duration_since(start).expect("after the start").as_secs() + offset;
                *fixed.entry(s / 20).or_default() += 1;
            }
            assert!(fixed.values().all(|n| *n <= 100), "a fixed window at offset {offset} s over 100: {fixed:?}");
        }
        let span = arrivals[arrivals.len() - 1].duration_since(arrivals[0]).expect("sorted").as_secs_f64();
        let rate = (arrivals.len() - 100) as f64 / span;
        assert!(rate >= 0.9 * 5.0, "sustained {rate:.2} writes/s, under 90% of 5/s");
    }

    #[test]
    fn the_items_of_a_batch_leave_together_where_the_window_has_room_for_all() {
        let t0 = SystemTime::UNIX_EPOCH;
        let cfg = PacingConfig { intune_requests: Some(Rate { count: 5, per: Duration::from_secs(20) }), ..PacingConfig::disabled() };
        let p = Pacer::new(&cfg, Arc::new(ManualClock::new(t0)));
        let items = [("GET", "/deviceManagement/a"); 3];
        // 3 at once, then 3 more: only 2 fit beside the first 3 until they
        // leave the window, so the second three go together at T0 + 20 s.
        let first = p.reserve_many(&items).expect("room").expect("paced");
        assert_eq!(first.at, t0);
        drop(first);
        let second = p.reserve_many(&items).expect("room").expect("paced");
        assert_eq!(second.at, t0 + Duration::from_secs(20));
        // Given back, its three places are free again.
        second.cancel();
        assert_eq!(p.reserve_many(&items[..2]).expect("room").map(|r| r.at), Some(t0));
        // Unpaced items (directory reads, the call itself) count nothing.
        assert!(p.reserve_many(&[("GET", "/users"), ("POST", "/$batch")]).expect("room").is_none());
        // A single request is a batch of one.
        assert_eq!(p.reserve_slot("GET", "/deviceManagement/a").expect("room").map(|r| r.at), Some(t0 + Duration::from_secs(20)));
    }

    #[test]
    fn a_batch_call_is_not_paced_itself() {
        let cfg = PacingConfig { directory_writes: Some(Rate { count: 1, per: Duration::from_secs(150) }), ..PacingConfig::default() };
        let p = Pacer::new(&cfg, Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)));
        for _ in 0..10 {
            assert!(p.reserve_slot("POST", "/$batch").expect("room").is_none());
        }
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let p = Pacer::new(&PacingConfig::disabled(), Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)));
        for _ in 0..10_000 {
            assert!(p.reserve_slot("POST", "/deviceManagement/x").expect("room").is_none());
        }
    }
}
