//! `plan` and `drift` right after an apply, while Graph still lags behind
//! (found by a hostile run: only apply waited for objects the ledger holds,
//! so `plan --detailed-exitcode` said `create` and `drift` said "missing"
//! for objects that had just been made, and a scheduled drift job raised a
//! false alarm after every apply). They now wait for ledger ids within the
//! replication window as apply does.

mod common;

use std::path::Path;

use common::*;

fn desired(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!("[tenant]\nprimary_domain = \"{domain}\"\n\n[group.alpha]\ndisplay_name = \"Lag alpha\"\nmail_nickname = \"lag-alpha\"\n");
    std::fs::write(dir.join("tenant.toml"), text).unwrap();
}

/// Start an apply with the sandbox's replication lag on and kill it once
/// the create is recorded (it then waits for the object to replicate), as
/// an operator's Ctrl-C or a CI timeout does; then run `args` at once, while
/// the new group still answers 404 and is not listed.
async fn right_after_apply(args: &[&str]) -> (Option<i32>, String) {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| f.replication_lag_ms = 4_000)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let d = dir.to_str().unwrap();
    // The id is recorded (not only the create announced as pending).
    kill_apply_after_record(&sb, work.path(), &["--auto-approve", d], "group.alpha");
    let mut full = args.to_vec();
    full.push(d);
    let out = command(&sb, work.path())
        .env("TENANTCTL_REPLICATION_WINDOW", "20")
        .args(&full)
        .output()
        .unwrap();
    sb.shutdown().await.unwrap();
    (out.status.code(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_right_after_an_apply_under_replication_lag_is_in_sync() {
    let (code, out) = right_after_apply(&["plan", "--detailed-exitcode"]).await;
    assert!(!out.contains("create"), "lag reported as a create:\n{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("to replicate"), "the wait is said:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_right_after_an_apply_under_replication_lag_is_in_sync() {
    let (code, out) = right_after_apply(&["drift", "--detailed-exitcode", "--no-record"]).await;
    assert!(!out.to_lowercase().contains("missing"), "lag reported as drift:\n{out}");
    assert_eq!(code, Some(0), "{out}");
}
