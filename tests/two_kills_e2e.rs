//! Two interrupted applies in a row (hostile run 21, finding 2): the
//! recovering run used to compact the killed run's log into the ledger
//! before its first change, without sealing it, so a second kill left a
//! ledger whose every fact was unproven (and every control a ratification
//! needing two approvers). The log is now kept until the run seals: after
//! two kills only the entries the logs touched are unproven.

mod common;

use common::gov::{converged, run};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kills_in_a_row_leave_only_the_logged_entries_unproven() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().expect("a UTF-8 path");
    // Sealed by an apply of the binary.
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    let mut extra = String::new();
    for i in 1..=4 {
        extra.push_str(&format!("\n[group.kx-{i}]\ndisplay_name = \"Kill test {i}\"\nmail_nickname = \"kill-test-{i}\"\n"));
    }
    std::fs::write(dir.join("kill-test.toml"), extra).unwrap();
    sb.set_faults(faults(|f| f.latency_ms = 300)).unwrap();
    kill_apply_after_record(&sb, w, &["--auto-approve", "--concurrency", "1", d], "group.kx-1");
    kill_apply_after_record(&sb, w, &["--auto-approve", "--concurrency", "1", d], "group.kx-2");
    sb.set_faults(sandbox::Faults::default()).unwrap();
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("the entries a write-ahead log changed since the last seal"), "{out}");
    assert!(!out.contains("none of its facts is proof"), "the whole ledger judged edited: {out}");
    // The next apply finishes and seals; the tenant converges.
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "{out}");
}
