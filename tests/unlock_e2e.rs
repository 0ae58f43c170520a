//! `tenantctl unlock` against what a hostile run left at the lock's path
//! (found by a hostile run: a non-JSON or FIFO lock file could not be
//! removed by `unlock --yes`, which tried to read it, and a live holder's
//! lock was removed without a word), and a lock of a holder in another PID
//! namespace, which was taken over as stale because its pid was not
//! running here.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use providers::state_lock::{Holder, LocalLock};

/// `tenantctl unlock` of the ledger `ledger`, killed if it hangs (a FIFO
/// opened for reading blocks until a writer comes).
fn unlock(work: &Path, ledger: &Path, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .current_dir(work)
        .env("NO_COLOR", "1")
        .arg("unlock")
        .arg(work.join("desired"))
        .arg("--ledger")
        .arg(ledger)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("unlock hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn unlock_removes_a_fifo_a_link_or_garbage_without_opening_it() {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("tenantctl.lock");
    let lock = LocalLock::for_ledger(&ledger).path().to_path_buf();
    let outside = work.path().join("precious.txt");
    std::fs::write(&outside, "keep me").unwrap();

    let fifo = || assert!(Command::new("mkfifo").arg(&lock).status().unwrap().success());
    let link = || std::os::unix::fs::symlink(&outside, &lock).unwrap();
    let garbage = || std::fs::write(&lock, "not json at all").unwrap();
    for (what, plant) in [("FIFO", &fifo as &dyn Fn()), ("symbolic link", &link), ("not a tenantctl lock", &garbage)] {
        plant();
        let out = unlock(work.path(), &ledger, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.contains("is not a tenantctl lock") && err.contains("--yes"), "{what}: {err}");
        assert!(lock.symlink_metadata().is_ok(), "{what}: kept without --yes");
        let out = unlock(work.path(), &ledger, &["--yes"]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{what}: {err}");
        assert!(err.contains("Removed"), "{what}: {err}");
        assert!(lock.symlink_metadata().is_err(), "{what}: removed");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me", "{what}: a link's target is untouched");
    }
    // Without --ledger, a FIFO beside the default ledger is found too.
    let default_ledger = work.path().join("desired/tenantctl.lock");
    std::fs::create_dir_all(work.path().join("desired")).unwrap();
    let default_lock = LocalLock::for_ledger(&default_ledger).path().to_path_buf();
    std::os::unix::fs::symlink("/nonexistent", &default_lock).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env_remove("TENANTCTL_LEDGER")
        .args(["unlock", "desired", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(default_lock.symlink_metadata().is_err(), "{}", text(&out.stderr));
}

#[test]
fn unlock_refuses_a_live_holder_without_force_and_names_it() {
    let work = tempfile::tempdir().unwrap();
    let ledger = work.path().join("tenantctl.lock");
    let lock = LocalLock::for_ledger(&ledger).path().to_path_buf();
    let mut sleeper = Command::new("sleep").arg("120").spawn().unwrap();
    let mut live = Holder::this_process("tenantctl apply");
    live.pid = sleeper.id();
    live.start_ticks = std::fs::read_to_string(format!("/proc/{}/stat", live.pid))
        .ok()
        .and_then(|s| s[s.rfind(')').unwrap() + 1..].split_whitespace().nth(19).and_then(|x| x.parse().ok()));
    std::fs::write(&lock, serde_json::to_string(&live).unwrap()).unwrap();
    let out = unlock(work.path(), &ledger, &["--yes"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("pid {}", live.pid)) && err.contains("still running") && err.contains("--force"), "{err}");
    assert!(lock.exists());
    let out = unlock(work.path(), &ledger, &["--force"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("still running") && err.contains(&format!("pid {}", live.pid)), "{err}");
    assert!(!lock.exists());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_from_another_pid_namespace_is_not_taken_over() {
    let me = Holder::this_process("tenantctl apply");
    if me.pid_ns.is_none() {
        return;
    }
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n", sb.domain())).unwrap();
    let ledger = work.path().join("tenantctl.lock");
    let lock = LocalLock::for_ledger(&ledger).path().to_path_buf();
    // Same hostname, a pid that does not run here, another namespace: a
    // run in a sibling container that may well still be applying.
    let other = Holder { pid: u32::MAX - 7, start_ticks: Some(1), pid_ns: Some("pid:[4026530001]".into()), ..me.clone() };
    std::fs::write(&lock, serde_json::to_string(&other).unwrap()).unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("pid {} on {}", other.pid, other.host)) && err.contains("another PID namespace") && err.contains("tenantctl unlock"), "{err}");
    assert!(!ledger.exists(), "nothing was applied");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), serde_json::to_string(&other).unwrap(), "the lock is left as it was");
    // unlock cannot judge it either: --yes is needed, and says why.
    let out = unlock(work.path(), &ledger, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("another PID namespace"), "{}", text(&out.stderr));
    let out = unlock(work.path(), &ledger, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}
