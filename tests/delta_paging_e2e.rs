//! Delta pages: Graph refuses `$top` on delta and pages it by
//! `Prefer: odata.maxpagesize`, which the client sends on every page
//! (999, Graph's maximum for directory objects). An initial read of N
//! objects costs ceil(N / 999) requests, a quiet read one, and pages lost
//! to 429s are retried without losing or repeating an object.

mod common;

use std::collections::BTreeSet;

use common::*;
use providers::graph::delta::DELTA_PAGE_SIZE;
use sandbox::{SandboxHandle, SeedSpec};
use serde_json::Value;

/// Requests the sandbox saw for `pattern`, 429s included.
fn count(sb: &SandboxHandle, pattern: &str) -> u64 {
    sb.request_counts().requests.iter().filter(|(k, _)| k.as_str() == pattern).map(|(_, v)| *v).sum()
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items.iter().filter_map(|i| i.get("id").and_then(Value::as_str)).map(str::to_string).collect()
}

fn pages(n: usize) -> u64 {
    n.div_ceil(DELTA_PAGE_SIZE).max(1) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_delta_reads_full_pages_and_a_quiet_read_costs_one_request() {
    let sb = sandbox().await;
    sb.seed(&SeedSpec { seed: 3, users: 2_500, groups: 1_100, memberships_per_group: 5, policies: 0 }).unwrap();
    let client = client(&sb);
    let v1 = client.v1();

    sb.reset_counts();
    let users = v1.delta("/users/delta?$select=displayName,userPrincipalName", None).await.unwrap();
    let n = users.items.len();
    assert!(n >= 2_500, "{n} users");
    assert_eq!(ids(&users.items).len(), n, "no user twice");
    assert_eq!(count(&sb, "GET /v1.0/users/delta"), pages(n), "{:#?}", sb.request_counts());

    sb.reset_counts();
    let groups = v1.delta("/groups/delta?$select=displayName,members", None).await.unwrap();
    let g = groups.items.len();
    assert!(g >= 1_100, "{g} groups");
    assert_eq!(ids(&groups.items).len(), g);
    assert!(groups.items.iter().any(|i| i.get("members@delta").and_then(Value::as_array).is_some_and(|m| m.len() == 5)));
    assert_eq!(count(&sb, "GET /v1.0/groups/delta"), pages(g), "{:#?}", sb.request_counts());

    // Quiet: nothing changed, one request each.
    sb.reset_counts();
    let quiet = v1.delta("/users/delta", Some(&users.delta_link)).await.unwrap();
    assert!(quiet.items.is_empty() && quiet.removed.is_empty());
    let quiet_groups = v1.delta("/groups/delta", Some(&groups.delta_link)).await.unwrap();
    assert!(quiet_groups.items.is_empty());
    assert_eq!(count(&sb, "GET /v1.0/users/delta"), 1);
    assert_eq!(count(&sb, "GET /v1.0/groups/delta"), 1);
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_refuses_top_and_caps_the_page_size() {
    let sb = sandbox().await;
    sb.seed(&SeedSpec { seed: 4, users: 1_200, groups: 0, memberships_per_group: 0, policies: 0 }).unwrap();
    let client = client(&sb);
    let err = client.v1().get_json("/users/delta?$top=5").await.unwrap_err();
    assert!(err.to_string().contains("$top"), "{err}");
    // Without the Prefer header Graph's default page (100) applies: the
    // client's own reads always send it, so this is the raw endpoint.
    let raw = client.v1().get_json("/users/delta").await.unwrap();
    assert_eq!(raw["value"].as_array().map(Vec::len), Some(100));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_pages_survive_429s_without_losing_or_repeating_objects() {
    let sb = sandbox().await;
    sb.seed(&SeedSpec { seed: 5, users: 3_000, groups: 600, memberships_per_group: 5, policies: 0 }).unwrap();
    let client = client(&sb);
    let v1 = client.v1();
    // The same reads without faults, for comparison.
    let clean_users = v1.delta("/users/delta?$select=displayName", None).await.unwrap();
    let clean_groups = v1.delta("/groups/delta?$select=displayName,members", None).await.unwrap();

    sb.set_faults(faults(|f| {
        f.throttle_rate = 0.4;
        f.error_rate = 0.1;
        f.retry_after_secs = 0;
    }))
    .unwrap();
    sb.reset_counts();
    let users = v1.delta("/users/delta?$select=displayName", None).await.unwrap();
    let groups = v1.delta("/groups/delta?$select=displayName,members", None).await.unwrap();
    let counts = sb.request_counts();
    sb.set_faults(sandbox::Faults::default()).unwrap();

    assert_eq!(ids(&users.items), ids(&clean_users.items), "every user once, none lost");
    assert_eq!(users.items.len(), clean_users.items.len(), "no user repeated");
    assert_eq!(ids(&groups.items), ids(&clean_groups.items));
    assert_eq!(groups.items.len(), clean_groups.items.len());
    let members = |items: &[Value]| -> usize { items.iter().filter_map(|i| i.get("members@delta").and_then(Value::as_array)).map(Vec::len).sum() };
    assert_eq!(members(&groups.items), members(&clean_groups.items), "no membership lost");
    // Some pages were really throttled and retried.
    let tried: u64 = counts.requests.iter().filter(|(k, _)| k.contains("/delta")).map(|(_, v)| *v).sum();
    assert!(tried > pages(users.items.len()) + pages(groups.items.len()), "faults were injected: {counts:#?}");
    // The deltaLink got under faults is good for a quiet read.
    sb.reset_counts();
    assert!(v1.delta("/users/delta", Some(&users.delta_link)).await.unwrap().items.is_empty());
    assert_eq!(count(&sb, "GET /v1.0/users/delta"), 1);
    sb.shutdown().await.unwrap();
}
