//! Findings the lead fixed in the tenth session, each through the binary.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::json;

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Hostile run 17, finding 4: a person made a "service account" in the
/// portal (the service-accounts group's rule widened to admit them, which
/// exempts them from conditional access) is taken out again unattended,
/// and the plan names who loses the exemption. A portal edit that took a
/// real service account out of the exemption is not undone unattended:
/// putting the approved rule back would exempt an account the tenant does
/// not exempt now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_accounts_rule_widened_in_the_portal_is_put_back_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let group = format!("/v1.0/groups/{}", ledger_id(work.path(), "group.service-accounts"));
    let approved = graph(&sb, Method::GET, &group, None).await["membershipRule"].as_str().expect("a dynamic group").to_string();

    let widened = format!("{approved} or (user.userPrincipalName -startsWith \"adele\")");
    graph(&sb, Method::PATCH, &group, Some(json!({"membershipRule": widened}))).await;
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no longer exempted: user.adele"), "{out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "nothing is held: {out}");
    assert!(out.contains("applied: update group.service-accounts"), "{out}");
    assert_eq!(graph(&sb, Method::GET, &group, None).await["membershipRule"], json!(approved));

    // An emergency edit that takes MSTEST out of the exemption: putting
    // the approved rule back exempts it again, so it is held.
    let narrowed = approved.replace(" or (user.userPrincipalName -startsWith \"MSTEST@\")", "");
    assert_ne!(narrowed, approved, "the example's rule names MSTEST@");
    graph(&sb, Method::PATCH, &group, Some(json!({"membershipRule": narrowed}))).await;
    let (code, out) = run(&sb, work.path(), &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("held: update group.service-accounts"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
