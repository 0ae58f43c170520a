//! The binary with hostile files: a desired-state file or the ledger linked
//! to `/proc/self/environ` (where the client secret is), `/dev/zero` or a
//! FIFO. Each is an error naming the path, the run ends, and the secret
//! appears in no output.

#![cfg(unix)]

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;

const SENTINEL: &str = "SENTINEL-token-4d2e9b";

fn desired(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{domain}\"\n\n[group.devices]\ndisplay_name = \"Devices\"\nmail_nickname = \"devices\"\n")).unwrap();
}

fn run(sb: &sandbox::SandboxHandle, work: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = command(sb, work)
        .env("TENANTCTL_TEST_SENTINEL", SENTINEL)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        format!("{}\n{}", text(&o.stdout), text(&o.stderr)),
    )
}

fn assert_clean(sb: &sandbox::SandboxHandle, out: &str) {
    assert!(!out.contains(SENTINEL), "the environment leaked:\n{out}");
    assert!(
        !out.contains(sb.client_secret()),
        "the client secret leaked:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_state_files_linked_outside_are_refused_by_every_command() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    symlink("/proc/self/environ", dir.join("env.toml")).unwrap();
    symlink("/dev/zero", dir.join("zero.toml")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe.toml"))
        .status()
        .unwrap();
    assert!(status.success());
    let d = dir.to_str().unwrap();
    for args in [
        vec!["validate", d],
        vec!["plan", d],
        vec!["drift", d, "--no-record"],
        vec!["apply", d, "--auto-approve"],
    ] {
        let (code, out) = run(&sb, work.path(), &args);
        assert_eq!(code, Some(1), "{args:?}:\n{out}");
        for name in ["env.toml", "zero.toml", "pipe.toml"] {
            assert!(
                out.contains(&format!("error[unsafe-file]: {}", dir.join(name).display())),
                "{args:?} names {name}:\n{out}"
            );
        }
        assert_clean(&sb, &out);
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_linked_to_the_environment_or_a_fifo_is_refused_unread() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let d = dir.to_str().unwrap();
    let ledger = work.path().join("tenantctl.lock");
    symlink("/proc/self/environ", &ledger).unwrap();
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("reading ledger") && out.contains("outside"),
        "{out}"
    );
    assert_clean(&sb, &out);
    std::fs::remove_file(&ledger).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&ledger)
        .status()
        .unwrap();
    assert!(status.success());
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("reading ledger") && out.contains("FIFO"),
        "{out}"
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_report_linked_to_dev_zero_is_skipped_without_reading_it() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let history = work.path().join("history");
    std::fs::create_dir_all(&history).unwrap();
    symlink("/dev/zero", history.join("drift-99990101T000000Z.json")).unwrap();
    symlink("/proc/self/environ", history.join("drift-99990102T000000Z.json")).unwrap();
    let (code, out) = run(&sb, work.path(), &["drift", dir.to_str().unwrap(), "--history", history.to_str().unwrap(), "--no-record", "-v"]);
    // Returning at all shows /dev/zero was not read; the drift itself ran.
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("skipping an unreadable history report"), "{out}");
    assert_clean(&sb, &out);
    sb.shutdown().await.unwrap();
}

/// The trust root and the state lock sit beside the ledger (inside the
/// desired-state folder for a real tenant): a link to /dev/zero or a FIFO
/// there is refused unread, never read into memory or waited on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_root_and_the_lock_linked_to_devices_are_refused_unread() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let d = dir.to_str().unwrap();
    let trust = work.path().join("tenantctl.trust.json");
    symlink("/dev/zero", &trust).unwrap();
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("tenantctl.trust.json"), "{out}");
    std::fs::remove_file(&trust).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&trust).status().unwrap();
    assert!(status.success());
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("tenantctl.trust.json") && out.contains("FIFO"), "{out}");
    std::fs::remove_file(&trust).unwrap();
    let lock = work.path().join("tenantctl.state-lock");
    symlink("/dev/zero", &lock).unwrap();
    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("tenantctl.state-lock"), "{out}");
    assert_clean(&sb, &out);
    sb.shutdown().await.unwrap();
}

/// The journal, the ledger's temporary file and the write probe beside the
/// ledger are never written through a link a pull request could plant
/// there: apply refuses before changing anything, or writes new files of
/// its own, and the link's target is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_files_beside_the_ledger_are_never_written_through_links() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "UNTOUCHED").unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let d = dir.to_str().unwrap();
    let journal = work.path().join("tenantctl.journal.jsonl");
    symlink(&victim, &journal).unwrap();
    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("symbolic link") && out.contains("before changing anything"), "{out}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "UNTOUCHED");
    let groups = client(&sb).v1().list_all("/groups?$select=id").await.unwrap();
    assert!(groups.is_empty(), "nothing was created: {groups:?}");
    std::fs::remove_file(&journal).unwrap();
    // Links at the names earlier versions used for temporary files.
    for name in ["tenantctl.tmp", "tenantctl.probe", "plan.tmp"] {
        symlink(&victim, work.path().join(name)).unwrap();
    }
    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    let plan_out = work.path().join("plan.json");
    let (code, out) = run(&sb, work.path(), &["plan", d, "--out", plan_out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "UNTOUCHED");
    for f in ["tenantctl.lock", "tenantctl.journal.jsonl", "plan.json"] {
        let meta = std::fs::symlink_metadata(work.path().join(f)).unwrap();
        assert!(meta.file_type().is_file(), "{f} is a regular file");
    }
    sb.shutdown().await.unwrap();
}
