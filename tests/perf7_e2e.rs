//! Issue 13 (perf7): `apply` and `drift` read the tenant's id (`GET
//! /organization`, which their state is checked against) in the listings'
//! `$batch`, as `plan` does: no request of their own for it, and apply
//! reads the governance marker by that id. The check is as strong as
//! before: another tenant's ledger is refused before any of its ids is read
//! one by one and before anything is written, and with the id unreadable
//! apply writes nothing.

mod common;

use common::gov::{converged, run};
use common::*;
use sandbox::RequestCounts;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Writes sent to Graph, alone or as `$batch` items (neither the `$batch`
/// call nor the token request is one).
fn writes(c: &RequestCounts) -> u64 {
    let single: u64 = c.requests.iter().filter(|(k, _)| !k.starts_with("GET ") && !k.ends_with("/$batch") && !k.contains("/oauth2/")).map(|(_, n)| n).sum();
    let items: u64 = c.batch_items.iter().filter(|(k, _)| !k.starts_with("GET ")).map(|(_, n)| n).sum();
    single + items
}

/// The example with no approvals required (a group's change is sensitive
/// there): these tests are of the tenant check, not of approval.
fn unattended(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).expect("the desired state") {
        let path = e.expect("an entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("approvals_required = 2") {
            let text = text.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of the tenant check, not of approval\"");
            std::fs::write(&path, text).expect("written");
        }
    }
}

/// A change apply can make without approvals: a group's description.
fn edit_description(dir: &std::path::Path) {
    let path = dir.join("groups.toml");
    let text = std::fs::read_to_string(&path).expect("groups.toml");
    let from = "description = \"Immediate ring for device rollout\"";
    assert!(text.contains(from), "the example's groups changed shape");
    std::fs::write(&path, text.replacen(from, "description = \"Immediate ring for device rollout (perf7)\"", 1)).expect("written");
}

fn organization_reads(c: &RequestCounts) -> (u64, u64, u64) {
    let marker: u64 = c.requests.iter().filter(|(k, _)| k.starts_with("GET /v1.0/organization/")).map(|(_, n)| n).sum();
    (c.get("GET /v1.0/organization"), c.batch_items.get("GET /v1.0/organization").copied().unwrap_or(0), marker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_drift_read_the_tenant_id_in_the_listings_batch() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, unattended).await;
    let w = work.path();
    edit_description(&dir);

    sb.reset_counts();
    let (code, out) = run(&sb, w, &["drift", d(&dir)]);
    assert_eq!(code, Some(0), "drift reports (exit 0 without --detailed-exitcode): {out}");
    let c = sb.request_counts();
    assert_eq!(organization_reads(&c), (0, 1, 1), "drift: the id once, in the listings' batch, and the marker (its ledger seal) read by it: {c:#?}");

    sb.reset_counts();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let c = sb.request_counts();
    assert!(writes(&c) >= 1, "the description was written: {c:#?}");
    // The marker by that id: the ledger seal judged at the start, the
    // governance check, the seal re-read before it is written at the end
    // (the first two could share one read), and read back after that
    // write (Graph takes no If-Match on an open extension, so another
    // run's write that replaced it is found that way), and once more at
    // the end of the run, which puts back its seal if a slow write of
    // another run replaced it (gov27).
    assert_eq!(organization_reads(&c), (0, 1, 5), "apply: the id once, in the listings' batch, and the marker read by it: {c:#?}");

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "applied: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_another_tenants_ledger_before_reading_its_ids_or_writing() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, unattended).await;
    let w = work.path();
    edit_description(&dir);
    let path = w.join("tenantctl.lock");
    let mut ledger = engine::Ledger::parse(&std::fs::read_to_string(&path).expect("the ledger")).expect("a ledger");
    ledger.tenant_id = Some("00000000-0000-0000-0000-0000000000aa".into());
    // Ids this tenant does not have: settling would read each by id.
    let users: Vec<schema::Address> = ledger.resources.keys().filter(|a| a.kind == schema::Kind::User).cloned().collect();
    assert!(!users.is_empty(), "the example declares users");
    for (i, a) in users.iter().enumerate() {
        ledger.record(a.clone(), format!("00000000-0000-0000-0000-00000000{i:04}"), None, None);
    }
    std::fs::write(&path, ledger.render()).expect("the ledger is written");
    let before = std::fs::read_to_string(&path).expect("the ledger");
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("belongs to tenant 00000000-0000-0000-0000-0000000000aa"), "{out}");
    assert_eq!(std::fs::read_to_string(&path).expect("the ledger"), before, "the ledger is untouched");
    let c = sb.request_counts();
    assert_eq!(writes(&c), 0, "nothing is written: {c:#?}");
    assert_eq!(c.get("GET /v1.0/users/{id}"), 0, "no ledger id is waited for: {c:#?}");
    assert_eq!(organization_reads(&c), (0, 1, 0), "{c:#?}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_writes_nothing_when_the_tenant_id_cannot_be_read() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, unattended).await;
    let w = work.path();
    edit_description(&dir);
    let path = w.join("tenantctl.lock");
    let before = std::fs::read_to_string(&path).expect("the ledger");
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/organization".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    sb.reset_counts();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("organization id"), "says what it could not read: {out}");
    assert_eq!(std::fs::read_to_string(&path).expect("the ledger"), before, "the ledger is untouched");
    let c = sb.request_counts();
    assert_eq!(writes(&c), 0, "nothing is written: {c:#?}");
    assert!(c.batch_items.get("GET /v1.0/organization").copied().unwrap_or(0) >= 1, "asked in the batch: {c:#?}");
    // Once it can be read, the same apply goes through.
    sb.set_faults(sandbox::Faults::none()).expect("faults");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
