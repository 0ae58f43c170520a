//! A run that loses its state lease stops before its next change (hostile
//! run 21, finding 1): the lease broken by `state unlock --yes` (or expired
//! while storage did not answer) used to be only a logged warning, and the
//! run went on writing Graph while the next run, holding the lease, wrote
//! too. Now the ledger log refuses the next record, so the run stops,
//! exit 1, naming the lost lease.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::azurite::{container, DEV_KEY};
use common::*;

fn tctl(sb: &sandbox::SandboxHandle, cwd: &Path) -> Command {
    let mut c = command(sb, cwd);
    c.env_remove("TENANTCTL_LEDGER").env("AZURE_STORAGE_KEY", DEV_KEY).env_remove("AZURE_STORAGE_CONNECTION_STRING");
    c
}

async fn groups(sb: &sandbox::SandboxHandle) -> usize {
    client(sb).v1().list_all("/groups?$select=id&$top=999").await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_was_broken_stops_before_its_next_change() {
    const N: usize = 12;
    let az = common::azurite::start();
    let c = container();
    let sb = sandbox().await;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = String::new();
    for i in 0..N {
        g.push_str(&format!("[group.gen-{i:03}]\ndisplay_name = \"Generated {i:03}\"\nmail_nickname = \"generated-{i:03}\"\n\n"));
    }
    std::fs::write(dir.join("groups.toml"), g).unwrap();
    std::fs::write(dir.join("state.toml"), common::azurite::state_table(&az, &c, "ci")).unwrap();
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.latency_ms = 1500)).unwrap();
    let first = tctl(&sb, t.path()).args(["apply", "--auto-approve", d, "--concurrency", "1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Once it has created something, another operator breaks its lease.
    let started = Instant::now();
    while groups(&sb).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the first run created nothing");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = tctl(&sb, t.path()).args(["state", "unlock", d, "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap()).await.unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lost the state lease") && err.contains("stopped before its next change"), "{err}");
    sb.set_faults(faults(|_| {})).unwrap();
    let made = groups(&sb).await;
    assert!(made < N, "the run went on after losing its lease: {made} of {N} groups made\n{err}");
    // The next run takes the lease and finishes, with no duplicate.
    let out = tctl(&sb, t.path()).args(["apply", "--auto-approve", d]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(groups(&sb).await, N);
    sb.shutdown().await.unwrap();
}
