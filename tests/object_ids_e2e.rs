//! Object ids are checked before they reach a URL (found by a hostile run:
//! `import group.a ../users/x` and a ledger entry holding `../users/x` sent
//! requests to another collection).

mod common;

use std::path::Path;

use common::*;

fn desired(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{domain}\"\n\n[group.a]\ndisplay_name = \"A\"\nmail_nickname = \"a\"\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_an_id_that_is_not_a_graph_id_before_any_request() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    let before = sb.request_counts().total;
    for bad in ["../users/x", "3f2504e0-4f89-41d3-9a0c-0305e82c3301/../../users", "x?$select=id"] {
        let out = cli(&sb, work.path(), &["import", "group.a", bad, "--dir", dir.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(err.contains("cannot import group.a") && err.contains("is not a Graph object id"), "{bad}: {err}");
    }
    assert_eq!(sb.request_counts().total, before, "no request was sent");
    assert!(!work.path().join("tenantctl.lock").exists());
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_entry_with_a_path_for_an_id_is_an_error_naming_it() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    desired(&dir, &sb.domain());
    std::fs::write(work.path().join("tenantctl.lock"), "version = 1\n\n[resources.\"group.a\"]\nid = \"../users/x\"\n").unwrap();
    let before = sb.request_counts().total;
    for args in [vec!["plan"], vec!["drift", "--no-record"], vec!["apply", "--auto-approve"]] {
        let mut full = args.clone();
        full.push(dir.to_str().unwrap());
        let out = cli(&sb, work.path(), &full);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("group.a") && err.contains("`../users/x` is not a Graph object id"), "{args:?}: {err}");
    }
    assert_eq!(sb.request_counts().total, before, "no request was sent");
    sb.shutdown().await.unwrap();
}
