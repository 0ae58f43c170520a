//! The state lock: one run that writes (apply, reconcile's self-heal,
//! import, export's ledger write) at a time per ledger.
//!
//! [`StateLock`] is the interface; [`LocalLock`] keeps the lock in a file
//! beside the ledger. A remote state backend (an Azure Blob lease, say)
//! provides its own implementation: acquiring is "create if absent", the
//! holder is what the refusal names, and breaking is an operator's
//! decision (`tenantctl unlock`).
//!
//! The local lock is a file created atomically (written to a temporary
//! file, then hard-linked to the lock's name, which fails if it exists),
//! holding who holds it: host, pid, command, since. It is not an `flock`:
//! an advisory kernel lock carries no holder to name, is not reliable on
//! network file systems, and has no "break" for a lock held elsewhere;
//! the file has all three, like the remote lease it stands in for. A lock
//! left by a process that is gone (same host, pid not running, or running
//! since after the lock was taken, or a reboot since) is stale and taken
//! over, under a short guard so two runs cannot both take it over.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    /// The command line, e.g. `tenantctl apply`.
    pub command: String,
    /// When it was taken (RFC 3339).
    pub since: String,
    /// The kernel boot the process ran in, and its start time in clock
    /// ticks since boot: with the pid, they tell a live holder from a pid
    /// reused by another process or a holder from before a reboot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
    /// The PID namespace the process ran in (`/proc/self/ns/pid`, e.g.
    /// `pid:[4026531836]`): containers sharing a hostname and a ledger
    /// volume have pids that mean nothing to each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<String>,
}

/// Whether a lock's holder still runs, as far as this process can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// On this host, in this PID namespace, and running.
    Running,
    /// On this host, in this PID namespace, and certainly gone.
    Dead,
    /// Cannot be told from here (why): another host or PID namespace.
    Unknown(String),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` (pid {} on {}, since {})", self.command, self.pid, self.host, self.since)
    }
}

impl Holder {
    /// This process, running `command`.
    pub fn this_process(command: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            host: hostname(),
            pid,
            command: command.to_string(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            boot_id: boot_id(),
            start_ticks: start_ticks(pid),
            pid_ns: pid_namespace(),
        }
    }

    /// The holder is on this host and in this PID namespace, and certainly
    /// not running any more: only then is its lock taken over.
    pub fn is_dead_here(&self) -> bool {
        self.liveness() == Liveness::Dead
    }

    /// Whether the holder runs: judged only for one on this host and in
    /// this PID namespace (a pid of another container with the same
    /// hostname names some other process here, or none).
    pub fn liveness(&self) -> Liveness {
        if self.host != hostname() {
            return Liveness::Unknown(format!("it ran on another host ({})", self.host));
        }
        match (&self.pid_ns, pid_namespace()) {
            (Some(theirs), Some(ours)) if *theirs == ours => {}
            (Some(theirs), Some(ours)) => {
                return Liveness::Unknown(format!("it ran in another PID namespace ({theirs}, this run is in {ours}): another container with the same hostname"))
            }
            (None, _) => return Liveness::Unknown("its PID namespace is not recorded".into()),
            (_, None) => return Liveness::Unknown("this system does not show PID namespaces".into()),
        }
        match (&self.boot_id, boot_id()) {
            (Some(theirs), Some(ours)) if *theirs != ours => return Liveness::Dead,
            _ => {}
        }
        match process_stat(self.pid) {
            None => Liveness::Dead,
            // Killed but not yet reaped by its parent (a zombie), or being
            // torn down: it will never release the lock.
            Some(stat) if matches!(stat.state, 'Z' | 'X' | 'x') => Liveness::Dead,
            Some(stat) if self.start_ticks.is_some_and(|then| then != stat.start_ticks) => Liveness::Dead,
            Some(_) => Liveness::Running,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run holds the state lock {path}: {holder}{}{}. {}", waited_for(waited), unjudged(holder), release_hint(path))]
    Held { path: PathBuf, holder: Box<Holder>, waited: Duration },
    #[error("state lock {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// How long the refused run waited (nothing with `--lock-timeout 0`).
fn waited_for(waited: &Duration) -> String {
    match waited.as_secs() {
        0 if waited.is_zero() => String::new(),
        0 => format!("; it was not released within {} ms", waited.as_millis()),
        s => format!("; it was not released within {s} s"),
    }
}

/// What releases the lock if its holder is gone: `unlock` for a lock file,
/// `state unlock DIR --yes` for a blob lease (hostile run 21, finding 5:
/// `unlock --yes` named for a lease did nothing and exited 0).
fn release_hint(path: &std::path::Path) -> &'static str {
    if path.to_string_lossy().starts_with("the lease on ") {
        "If that run is gone, `tenantctl state unlock DIR --yes` breaks the lease (or wait for it to expire with `--lock-timeout 2m`)"
    } else {
        "If that run is gone, `tenantctl unlock --yes` releases the lock"
    }
}

/// Why a holder's lock is not taken over although its pid may be gone.
fn unjudged(holder: &Holder) -> String {
    match holder.liveness() {
        Liveness::Unknown(why) if holder.pid != 0 => format!(" (whether it still runs cannot be checked from here: {why})"),
        _ => String::new(),
    }
}

/// What is at a local lock's path, looked at without following a link or
/// opening anything but a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Absent,
    Held(Holder),
    /// Something that is not a tenantctl lock (a FIFO, a link, a file that
    /// is not a lock record), with what it is.
    NotALock(String),
}

/// What a successful acquire found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Free,
    /// A stale lock of a process that is gone was taken over.
    TookOver(Holder),
}

/// The interface of a state lock.
pub trait StateLock: Sync {
    /// Take the lock for `holder` if it is free (or stale); `Ok(Err(h))`
    /// when `h` holds it.
    fn try_acquire(&self, holder: &Holder) -> impl Future<Output = Result<Result<Acquired, Holder>, LockError>> + Send;
    /// Release the lock if `holder` still holds it.
    fn release(&self, holder: &Holder) -> impl Future<Output = Result<(), LockError>> + Send;
    /// Who holds it now, if anyone.
    fn holder(&self) -> impl Future<Output = Result<Option<Holder>, LockError>> + Send;
    /// Remove the lock whoever holds it (`tenantctl unlock`); returns who did.
    fn break_lock(&self) -> impl Future<Output = Result<Option<Holder>, LockError>> + Send;
    /// Where the lock is, for messages.
    fn describe(&self) -> String;
}

/// Take `lock`, waiting up to `timeout` (polling with back-off) while
/// another run holds it.
pub async fn acquire<L: StateLock>(lock: &L, holder: &Holder, timeout: Duration) -> Result<Acquired, LockError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match lock.try_acquire(holder).await? {
            Ok(a) => return Ok(a),
            Err(other) => {
                let waited = started.elapsed();
                if waited >= timeout {
                    return Err(LockError::Held { path: PathBuf::from(lock.describe()), holder: Box::new(other), waited: timeout });
                }
                tokio::time::sleep(delay.min(timeout - waited)).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// The lock as a file beside the ledger.
#[derive(Debug, Clone)]
pub struct LocalLock {
    path: PathBuf,
}

impl LocalLock {
    /// The lock of the ledger at `ledger`: `<ledger stem>.state-lock` beside it.
    pub fn for_ledger(ledger: &Path) -> LocalLock {
        LocalLock { path: ledger.with_extension("state-lock") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Release the lock if `holder` still holds it (synchronously, for
    /// guards released on drop).
    pub fn release_now(&self, holder: &Holder) -> Result<(), LockError> {
        match self.read() {
            Ok(Some((current, _))) if current == *holder => std::fs::remove_file(&self.path).map_err(|e| self.io("removing", e)),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What is at the lock's path: looked at with `lstat` first, so a
    /// link, FIFO or device planted there is named, never followed or
    /// opened.
    pub fn inspect(&self) -> Result<Found, LockError> {
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Absent),
            Err(e) => return Err(self.io("looking at", e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Ok(Found::NotALock("a symbolic link".into()));
        }
        if kind.is_dir() {
            return Ok(Found::NotALock("a directory".into()));
        }
        if !kind.is_file() {
            return Ok(Found::NotALock("not a regular file (a FIFO, socket or device)".into()));
        }
        match self.read() {
            Ok(Some((h, _))) => Ok(Found::Held(h)),
            Ok(None) => Ok(Found::Absent),
            Err(LockError::Io { reason, .. }) => Ok(Found::NotALock(reason)),
            Err(e) => Err(e),
        }
    }

    /// Remove whatever is at the lock's path without opening it (a link
    /// is removed, not its target). An empty directory is removed too; one
    /// with content is refused, since it is nothing tenantctl made.
    pub fn remove(&self) -> Result<(), LockError> {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_dir()) {
            return match std::fs::remove_dir(&self.path) {
                Ok(()) => schema::read::sync_parent(&self.path).map_err(|e| self.io("syncing the folder after removing", e)),
                Err(e) => Err(self.io("removing the directory (only an empty one is removed; look at its content and remove it by hand)", e)),
            };
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => schema::read::sync_parent(&self.path).map_err(|e| self.io("syncing the folder after removing", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("removing", e)),
        }
    }

    fn io(&self, what: &str, e: std::io::Error) -> LockError {
        LockError::Io { path: self.path.clone(), reason: format!("{what}: {e}") }
    }

    fn read(&self) -> Result<Option<(Holder, String)>, LockError> {
        match read_small(&self.path) {
            Ok(text) => match serde_json::from_str::<Holder>(&text) {
                Ok(h) => Ok(Some((h, text))),
                // Unreadable content: never treated as free or stale.
                Err(e) => Err(LockError::Io { path: self.path.clone(), reason: format!("the lock file is not a tenantctl lock ({e}); remove it with `tenantctl unlock --yes` if no run holds it") }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("reading", e)),
        }
    }

    fn temp(&self, holder: &Holder, tag: &str) -> Result<PathBuf, LockError> {
        // A fresh name, created new: a link planted at a predictable name
        // cannot redirect the holder's record.
        let tmp = self.path.with_extension(format!("state-lock.{tag}.{}.{:08x}", holder.pid, rand::random::<u32>()));
        let text = serde_json::to_string_pretty(holder).map_err(|e| LockError::Io { path: self.path.clone(), reason: e.to_string() })?;
        let mut f = schema::read::create_new(&tmp).map_err(|e| self.io("creating", e))?;
        f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| self.io("writing", e))?;
        Ok(tmp)
    }

    fn try_acquire_now(&self, holder: &Holder) -> Result<Result<Acquired, Holder>, LockError> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| LockError::Io { path: self.path.clone(), reason: format!("creating the state directory {}: {e}", parent.display()) })?;
        }
        let mut found = None;
        for _ in 0..3 {
            let tmp = self.temp(holder, "new")?;
            // Atomic create: the link fails if the lock exists.
            let linked = std::fs::hard_link(&tmp, &self.path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    schema::read::sync_parent(&self.path).map_err(|e| self.io("syncing the folder", e))?;
                    return Ok(Ok(Acquired::Free));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(self.io("creating", e)),
            }
            // Released in between the two looks: try again.
            if let Some(f) = self.read()? {
                found = Some(f);
                break;
            }
        }
        let Some((current, text)) = found else {
            return Ok(Err(holder_unknown()));
        };
        // A lock from another host that is the very file a commit holds
        // came with the checkout (a pull request, a stray `git add -A`): a
        // run's lock is made when it starts and never committed, so it
        // names no run of this checkout, and blocked every apply and reconcile until
        // someone ran `unlock --yes` (hostile run 23, finding 11). A holder
        // running on this host is never taken over, committed or not.
        let committed = || matches!(current.liveness(), Liveness::Unknown(_)) && tracked_by_git(&self.path);
        if !current.is_dead_here() && !committed() {
            return Ok(Err(current));
        }
        if !current.is_dead_here() {
            tracing::warn!(lock = %self.path.display(), holder = %current, "the state lock file is the one committed to git (it came with the checkout, not from a run here); taking it over. Remove it from the repository");
        }
        let took = self.take_over(holder, &text)?;
        Ok(if took { Ok(Acquired::TookOver(current.clone())) } else { Err(current) })
    }

    /// Replace a stale lock whose content is `stale`, under a guard file so
    /// only one run takes it over. False if it changed meanwhile.
    fn take_over(&self, holder: &Holder, stale: &str) -> Result<bool, LockError> {
        let guard = self.path.with_extension("state-lock.guard");
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&guard) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another run is taking over right now; a guard older than
                // a minute was left by a run killed in this instant.
                let old = std::fs::metadata(&guard).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > Duration::from_secs(60));
                if old {
                    let _ = std::fs::remove_file(&guard);
                }
                return Ok(false);
            }
            Err(e) => return Err(self.io("creating the take-over guard", e)),
        }
        let result = (|| {
            match read_small(&self.path) {
                Ok(now) if now == stale => {}
                _ => return Ok(false),
            }
            let tmp = self.temp(holder, "takeover")?;
            std::fs::rename(&tmp, &self.path).map_err(|e| self.io("taking over", e))?;
            schema::read::sync_parent(&self.path).map_err(|e| self.io("syncing the folder", e))?;
            Ok(true)
        })();
        let _ = std::fs::remove_file(&guard);
        result
    }
}

/// A holder that let go between two looks: shown only if it persists.
fn holder_unknown() -> Holder {
    Holder { host: "?".into(), pid: 0, command: "(releasing)".into(), since: String::new(), boot_id: None, start_ticks: None, pid_ns: None }
}

impl StateLock for LocalLock {
    async fn try_acquire(&self, holder: &Holder) -> Result<Result<Acquired, Holder>, LockError> {
        self.try_acquire_now(holder)
    }

    async fn release(&self, holder: &Holder) -> Result<(), LockError> {
        self.release_now(holder)
    }

    async fn holder(&self) -> Result<Option<Holder>, LockError> {
        self.read().map(|h| h.map(|(h, _)| h))
    }

    async fn break_lock(&self) -> Result<Option<Holder>, LockError> {
        let holder = self.read().ok().flatten().map(|(h, _)| h);
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("removing", e)),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Whether `path` is exactly the file the checkout brought: git tracks it
/// and it does not differ from the commit checked out (`git ls-files
/// --error-unmatch`, then `git diff --quiet HEAD`, run in its folder). A
/// lock a run wrote over a tracked path differs from the commit (its host,
/// pid and time), so it is never taken for one (hostile run 24, finding
/// 2). False when git is not installed or the folder is no work tree.
fn tracked_by_git(path: &Path) -> bool {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return false };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .arg(name)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    git(&["ls-files", "--error-unmatch", "--"]) && git(&["diff", "--quiet", "HEAD", "--"])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".into())
}

/// This process's PID namespace, e.g. `pid:[4026531836]` (Linux).
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid").ok().map(|p| p.to_string_lossy().into_owned())
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|b| b.trim().to_string())
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks
/// since boot. None when there is no such process (or no /proc).
fn start_ticks(pid: u32) -> Option<u64> {
    process_stat(pid).map(|s| s.start_ticks)
}

/// What `/proc/PID/stat` says of a process.
struct ProcStat {
    /// Field 3: `R`, `S`, `D`, ... `Z` for a zombie, `X`/`x` dead.
    state: char,
    /// Field 22: when it started, in clock ticks since boot.
    start_ticks: u64,
}

fn process_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let start_ticks = rest.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_ticks })
}

/// A lock file's text, read by the loader's rules: a regular file (no link
/// leaving its folder, no device or FIFO that could hang or fill memory),
/// at most 64 KiB. A lock file is a few hundred bytes.
fn read_small(path: &std::path::Path) -> std::io::Result<String> {
    match schema::read::read_state_file(path, 64 * 1024) {
        Ok(Some(bytes)) => String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8")),
        Ok(None) => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no lock file")),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("test fixture").block_on(f)
    }

    #[test]
    fn one_holder_at_a_time_named_in_the_refusal() {
        let dir = tempfile::tempdir().expect("test fixture");
        let lock = LocalLock::for_ledger(&dir.path().join("state/tenantctl.lock"));
        let me = Holder::this_process("tenantctl apply");
        assert_eq!(block(acquire(&lock, &me, Duration::ZERO)).expect("test fixture"), Acquired::Free);
        let other = Holder { command: "tenantctl import".into(), ..Holder::this_process("x") };
        let e = block(acquire(&lock, &other, Duration::from_millis(300))).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("tenantctl apply") && text.contains(&format!("pid {}", me.pid)) && text.contains(&me.host), "{text}");
        // Release by someone else is a no-op; by the holder, it frees it.
        block(lock.release(&other)).expect("test fixture");
        assert_eq!(block(lock.holder()).expect("test fixture"), Some(me.clone()));
        block(lock.release(&me)).expect("test fixture");
        assert_eq!(block(acquire(&lock, &other, Duration::ZERO)).expect("test fixture"), Acquired::Free);
        assert_eq!(block(lock.break_lock()).expect("test fixture"), Some(other));
        assert_eq!(block(lock.holder()).expect("test fixture"), None);
    }

    /// A holder killed but not yet reaped by its parent (a zombie: a CI
    /// runner that is wedged, a container whose PID 1 does not reap) is
    /// dead: its lock is taken over without `--force` (hostile 19/3).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_holder_not_yet_reaped_is_dead() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("test fixture");
        let pid = child.id();
        let holder = Holder { pid, start_ticks: start_ticks(pid), ..Holder::this_process("tenantctl apply") };
        assert_eq!(holder.liveness(), Liveness::Running);
        child.kill().expect("test fixture");
        // Not waited for: the child stays a zombie until `wait`.
        let mut zombie = false;
        for _ in 0..200 {
            if process_stat(pid).is_some_and(|s| s.state == 'Z') {
                zombie = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(zombie, "the killed child never showed as a zombie");
        assert_eq!(holder.liveness(), Liveness::Dead);
        let dir = tempfile::tempdir().expect("test fixture");
        let lock = LocalLock::for_ledger(&dir.path().join("tenantctl.lock"));
        std::fs::write(lock.path(), serde_json::to_string(&holder).expect("test fixture")).expect("test fixture");
        let me = Holder::this_process("tenantctl apply");
        assert_eq!(block(acquire(&lock, &me, Duration::ZERO)).expect("test fixture"), Acquired::TookOver(holder.clone()));
        child.wait().expect("test fixture");
    }

    #[test]
    fn a_lock_of_a_dead_process_on_this_host_is_taken_over() {
        let dir = tempfile::tempdir().expect("test fixture");
        let lock = LocalLock::for_ledger(&dir.path().join("tenantctl.lock"));
        let mut dead = Holder::this_process("tenantctl apply");
        // A pid that runs, but started at another time: reused, so dead.
        dead.start_ticks = dead.start_ticks.map(|t| t + 1);
        std::fs::write(lock.path(), serde_json::to_string(&dead).expect("test fixture")).expect("test fixture");
        let me = Holder::this_process("tenantctl apply");
        assert_eq!(block(acquire(&lock, &me, Duration::ZERO)).expect("test fixture"), Acquired::TookOver(dead));
        assert_eq!(block(lock.holder()).expect("test fixture"), Some(me));
        // Another host's lock is never judged from here.
        let remote = Holder { host: "elsewhere".into(), pid: 1, ..Holder::this_process("tenantctl apply") };
        std::fs::write(lock.path(), serde_json::to_string(&remote).expect("test fixture")).expect("test fixture");
        assert!(matches!(block(acquire(&lock, &Holder::this_process("y"), Duration::ZERO)), Err(LockError::Held { .. })));
    }

    /// A dead pid of a holder in another PID namespace (another container
    /// with this hostname sharing the ledger's volume) names nothing here:
    /// the lock is not taken over, and the refusal names the holder, why it
    /// is not judged, and `tenantctl unlock`. Nor is a record without one.
    #[test]
    fn a_holder_in_another_pid_namespace_is_never_taken_over() {
        let dir = tempfile::tempdir().expect("test fixture");
        let lock = LocalLock::for_ledger(&dir.path().join("tenantctl.lock"));
        let me = Holder::this_process("tenantctl apply");
        if me.pid_ns.is_none() {
            // No /proc/self/ns here: nothing is ever judged dead.
            return;
        }
        let mut other = Holder::this_process("tenantctl apply");
        // A pid that certainly does not run here.
        other.pid = u32::MAX - 7;
        other.start_ticks = Some(1);
        other.pid_ns = Some("pid:[1]".into());
        assert!(matches!(other.liveness(), Liveness::Unknown(_)));
        std::fs::write(lock.path(), serde_json::to_string(&other).expect("test fixture")).expect("test fixture");
        let text = block(acquire(&lock, &me, Duration::ZERO)).unwrap_err().to_string();
        assert!(text.contains(&format!("pid {}", other.pid)) && text.contains("another PID namespace") && text.contains("tenantctl unlock"), "{text}");
        assert_eq!(block(lock.holder()).expect("test fixture"), Some(other.clone()));
        // A record of an older version, without a namespace: not judged.
        other.pid_ns = None;
        std::fs::write(lock.path(), serde_json::to_string(&other).expect("test fixture")).expect("test fixture");
        let text = block(acquire(&lock, &me, Duration::ZERO)).unwrap_err().to_string();
        assert!(text.contains("not recorded"), "{text}");
        // The same namespace and a dead pid: taken over.
        other.pid_ns = me.pid_ns.clone();
        assert_eq!(other.liveness(), Liveness::Dead);
        std::fs::write(lock.path(), serde_json::to_string(&other).expect("test fixture")).expect("test fixture");
        assert_eq!(block(acquire(&lock, &me, Duration::ZERO)).expect("test fixture"), Acquired::TookOver(other));
    }

    #[cfg(unix)]
    #[test]
    fn what_is_at_the_lock_path_is_looked_at_without_opening_it() {
        let dir = tempfile::tempdir().expect("test fixture");
        let lock = LocalLock::for_ledger(&dir.path().join("tenantctl.lock"));
        assert_eq!(lock.inspect().expect("test fixture"), Found::Absent);
        let status = std::process::Command::new("mkfifo").arg(lock.path()).status().expect("test fixture");
        assert!(status.success());
        assert!(matches!(lock.inspect().expect("test fixture"), Found::NotALock(w) if w.contains("FIFO")));
        lock.remove().expect("test fixture");
        assert_eq!(lock.inspect().expect("test fixture"), Found::Absent);
        std::os::unix::fs::symlink("/nonexistent/target", lock.path()).expect("test fixture");
        assert!(matches!(lock.inspect().expect("test fixture"), Found::NotALock(w) if w.contains("link")));
        lock.remove().expect("test fixture");
        std::fs::write(lock.path(), "garbage").expect("test fixture");
        assert!(matches!(lock.inspect().expect("test fixture"), Found::NotALock(w) if w.contains("not a tenantctl lock")));
        lock.remove().expect("test fixture");
        // A directory: an empty one is removed, one with content is left
        // for a person to look at.
        std::fs::create_dir(lock.path()).expect("test fixture");
        assert!(matches!(lock.inspect().expect("test fixture"), Found::NotALock(w) if w.contains("directory")));
        std::fs::write(lock.path().join("x"), "x").expect("test fixture");
        let refused = lock.remove().unwrap_err().to_string();
        assert!(refused.contains("by hand"), "{refused}");
        assert!(lock.path().join("x").exists());
        std::fs::remove_file(lock.path().join("x")).expect("test fixture");
        lock.remove().expect("test fixture");
        assert_eq!(lock.inspect().expect("test fixture"), Found::Absent);
    }
}
