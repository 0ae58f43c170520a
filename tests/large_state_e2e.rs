//! State files tenantctl writes itself grow with the tenant: the ledger
//! `export` writes for a 100k-object tenant is over the 8 MB limit of a
//! desired-state file, and `plan` of that export refused it ("is larger
//! than the limit", found by benches/memory.rs). State files have their own,
//! larger bound (`TENANTCTL_MAX_STATE_FILE_BYTES`, 512 MiB by default),
//! still enforced.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_over_the_desired_state_file_limit_is_read_and_the_state_limit_still_holds() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // A valid ledger of 9 MiB (comment lines stand in for 100k entries).
    let mut ledger = engine::Ledger::default().render();
    let pad = "# padding standing in for the entries of a large tenant\n";
    while ledger.len() <= 9 * 1024 * 1024 {
        ledger.push_str(pad);
    }
    std::fs::write(w.join("tenantctl.lock"), &ledger).unwrap();
    let dir = example_dir();
    let d = dir.to_str().unwrap();

    let o = cli(&sb, w, &["plan", d]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(!err.contains("larger than the limit"), "the ledger is read:\n{err}");
    assert!(out.contains("create"), "the example is planned:\n{out}\n{err}");

    // The bound still holds, and the error says which variable raises it.
    let o = command(&sb, w).env("TENANTCTL_MAX_STATE_FILE_BYTES", "1").env("TENANTCTL_MAX_FILE_BYTES", "1048576").args(["plan", d]).output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("larger than the limit of 1048576 bytes") && err.contains("TENANTCTL_MAX_STATE_FILE_BYTES"), "{err}");
    sb.shutdown().await.unwrap();
}
