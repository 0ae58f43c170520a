//! Findings of hostile run 16, each through the binary.

mod common;

use common::*;
use reqwest::Method;
use sandbox::Faults;
use serde_json::json;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// With `GET /organization` failing, a self-healing pass cannot show that
/// the ledger and trust root are this tenant's, so it writes nothing: not
/// the tenant, not the ledger, not the delta state. A reporting pass still
/// reports, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_heal_refuses_when_the_tenant_id_cannot_be_read() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let id = ledger_id(work.path(), "conditional_access.block-untrusted-locations");
    let policy = format!("/v1.0/identity/conditionalAccess/policies/{id}");
    graph(&sb, Method::PATCH, &policy, Some(json!({"state": "enabledForReportingButNotEnforced"}))).await;
    let ledger = work.path().join("tenantctl.lock");
    let before = std::fs::read(&ledger).expect("the ledger");
    sb.set_faults(Faults { fail_paths: vec!["/organization".into()], retry_after_secs: 0, ..Faults::none() }).expect("faults");

    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("refusing to self-heal: the tenant's id"), "{out}");
    assert!(!out.contains("applied:"), "{out}");
    assert_eq!(std::fs::read(&ledger).expect("the ledger"), before, "the ledger is not rewritten");
    assert_eq!(graph(&sb, Method::GET, &policy, None).await["state"], "enabledForReportingButNotEnforced", "the tenant is not written");

    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once"]);
    assert_eq!(code, Some(2), "a reporting pass still reports the drift: {out}");
    assert!(out.contains("the state was not checked against the tenant's id"), "{out}");

    sb.set_faults(Faults::none()).expect("faults");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("applied: update conditional_access.block-untrusted-locations"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
