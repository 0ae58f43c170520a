//! Issue 13 (perf5): `plan` reads the tenant's id (`GET /organization`,
//! which its state is checked against) in the listings' `$batch`, as a
//! reconcile pass does, and the governance marker by that id: no request
//! of its own for either id. Another tenant's ledger is still refused, and
//! before any of its ids is waited for one by one.

mod common;

use common::gov::{converged_plain, run};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_the_tenant_id_in_the_listings_batch() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["plan", dir.to_str().expect("UTF-8")]);
    assert_eq!(code, Some(0), "{out}");
    let c = sb.request_counts();
    assert_eq!(c.get("GET /v1.0/organization"), 0, "the id comes in the listings' batch: {c:#?}");
    assert_eq!(c.batch_items.get("GET /v1.0/organization").copied(), Some(1), "read once, in a batch: {c:#?}");
    // The marker is read by the id the batch gave (not after a second
    // `GET /organization`).
    let marker: u64 = c.requests.iter().filter(|(k, _)| k.starts_with("GET /v1.0/organization/")).map(|(_, n)| n).sum();
    assert_eq!(marker, 1, "one read of the marker: {c:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_refuses_another_tenants_ledger_before_reading_its_ids_one_by_one() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    let path = w.join("tenantctl.lock");
    let mut ledger = engine::Ledger::parse(&std::fs::read_to_string(&path).expect("the ledger")).expect("a ledger");
    ledger.tenant_id = Some("00000000-0000-0000-0000-0000000000aa".into());
    // Ids this tenant does not have: settling would read each by id.
    let addresses: Vec<schema::Address> = ledger.resources.keys().filter(|a| a.kind == schema::Kind::User).cloned().collect();
    assert!(!addresses.is_empty(), "the example declares users");
    for (i, a) in addresses.iter().enumerate() {
        ledger.record(a.clone(), format!("00000000-0000-0000-0000-00000000{i:04}"), None, None);
    }
    std::fs::write(&path, ledger.render()).expect("the ledger is written");
    let before = std::fs::read_to_string(&path).expect("the ledger");
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["plan", dir.to_str().expect("UTF-8")]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("belongs to tenant 00000000-0000-0000-0000-0000000000aa"), "{out}");
    assert_eq!(std::fs::read_to_string(&path).expect("the ledger"), before, "the ledger is untouched");
    let c = sb.request_counts();
    assert_eq!(c.get("GET /v1.0/users/{id}"), 0, "no ledger id is waited for: {c:#?}");
    assert_eq!(c.by_method("PATCH") + c.by_method("DELETE") + c.by_method("PUT"), 0, "nothing is written: {c:#?}");
    assert_eq!(c.get("GET /v1.0/organization"), 0, "{c:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tenant_id_in_the_batch_is_said_and_spoils_nothing_else_of_the_read() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/organization".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["plan", dir.to_str().expect("UTF-8")]);
    // Every kind was read: nothing unknown, nothing to change.
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the state was not checked against the tenant's id"), "{out}");
    assert!(out.contains("no changes: the tenant matches desired state"), "{out}");
    let c = sb.request_counts();
    assert!(c.batch_items.get("GET /v1.0/organization").copied().unwrap_or(0) >= 1, "asked in the batch first: {c:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}
