//! `tenantctl state push` reads the file it is given by the loader's rules
//! and checks its ids: a link to /proc/self/environ must not have the
//! environment echoed by the parse error, and a ledger whose ids are not
//! Graph ids is refused before it replaces the stored one (found by a
//! hostile run).

mod common;

use common::*;

fn push(dir: &std::path::Path, file: &std::path::Path, ledger: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"))
        .current_dir(dir)
        .env("TENANTCTL_SANDBOX", "1")
        .env("TENANTCTL_TEST_PUSH_SECRET", "s3cr3t-value-that-must-not-leak")
        .env("NO_COLOR", "1")
        .args(["state", "push", file.to_str().unwrap(), example_dir().to_str().unwrap(), "--ledger", ledger.to_str().unwrap()])
        .output()
        .expect("tenantctl runs")
}

#[test]
fn a_link_to_the_environment_is_refused_without_echoing_it() {
    let t = tempfile::tempdir().unwrap();
    let link = t.path().join("env.lock");
    std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
    let ledger = t.path().join("state").join("tenantctl.lock");
    let out = push(t.path(), &link, &ledger);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("s3cr3t-value-that-must-not-leak"), "the environment leaked: {all}");
    assert!(!ledger.exists(), "nothing is pushed");
}

#[test]
fn a_ledger_with_an_id_that_is_no_graph_id_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let good = engine::Ledger::default();
    let mut bad = good.clone();
    bad.record("group.x".parse().unwrap(), "../../users/x?$select=*".into(), None, None);
    let file = t.path().join("bad.lock");
    std::fs::write(&file, bad.render()).unwrap();
    let ledger = t.path().join("tenantctl.lock");
    let out = push(t.path(), &file, &ledger);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("group.x") && err.contains("id"), "{err}");
    assert!(!ledger.exists(), "nothing is pushed");
}
