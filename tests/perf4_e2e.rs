//! Issue 13 (perf4): the tenant id a reconcile pass checks its state
//! against now comes in the listings' `$batch` (so the pass reads before
//! it checks); the check must still refuse another tenant's ledger before
//! anything of the pass is written, and the id must never come from a
//! request of its own.

mod common;

use common::gov::{converged_plain, run};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_refuses_another_tenants_ledger_before_it_writes_anything_of_the_pass() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    let path = w.join("tenantctl.lock");
    let mut ledger = engine::Ledger::parse(&std::fs::read_to_string(&path).expect("the ledger")).expect("a ledger");
    ledger.tenant_id = Some("00000000-0000-0000-0000-0000000000aa".into());
    std::fs::write(&path, ledger.render()).expect("the ledger is written");
    let before = std::fs::read_to_string(&path).expect("the ledger");
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["reconcile", dir.to_str().expect("UTF-8"), "--once", "--self-heal"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("belongs to tenant 00000000-0000-0000-0000-0000000000aa"), "{out}");
    // Nothing of the pass is written: no delta state (it would carry this
    // tenant's delta links beside the other tenant's ledger), no change.
    assert!(!w.join("tenantctl.delta.json").exists(), "no delta state is written for a refused pass");
    assert_eq!(std::fs::read_to_string(&path).expect("the ledger"), before, "the ledger is untouched");
    let c = sb.request_counts();
    assert_eq!(c.by_method("PATCH") + c.by_method("DELETE"), 0, "nothing is written to the tenant: {c:#?}");
    assert_eq!(c.get("GET /v1.0/organization"), 0, "the id comes in the listings' batch: {c:#?}");
    assert_eq!(c.batch_items.get("GET /v1.0/organization").copied(), Some(1), "{c:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}
