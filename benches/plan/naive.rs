//! The naive reader the plan benchmark compares tenantctl with: list the
//! ids of each collection, then one GET per object, a bounded number in
//! flight (see the benchmark's own documentation).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use providers::graph::{ApiVersion, GraphClient};
use providers::kinds::{group, user};
use sandbox::SandboxHandle;
use serde_json::Value;

use super::{client, Counted, NaiveRun, TOP};

/// One collection the naive read lists, and how it reads one object of it.
struct Collection {
    version: ApiVersion,
    list: String,
    per_object: fn(&str) -> Vec<String>,
    policy: bool,
}

fn collections() -> Vec<Collection> {
    const CONFIGS: &str = "/deviceManagement/deviceConfigurations";
    const COMPLIANCE: &str = "/deviceManagement/deviceCompliancePolicies";
    vec![
        Collection {
            version: ApiVersion::V1,
            list: format!("/users?$select=id&$top={TOP}"),
            per_object: |id| vec![format!("/users/{id}?$select={}", user::SELECT)],
            policy: false,
        },
        Collection {
            version: ApiVersion::V1,
            list: format!("/groups?$select=id&$top={TOP}"),
            per_object: |id| vec![format!("/groups/{id}?$select={}", group::SELECT), format!("/groups/{id}/members?$select=id&$top={TOP}")],
            policy: false,
        },
        Collection {
            version: ApiVersion::Beta,
            list: format!("{CONFIGS}?$select=id&$top={TOP}"),
            per_object: |id| vec![format!("{CONFIGS}/{id}?$expand=assignments")],
            policy: true,
        },
        Collection {
            version: ApiVersion::Beta,
            list: format!("{COMPLIANCE}?$select=id&$top={TOP}"),
            per_object: |id| vec![format!("{COMPLIANCE}/{id}?$expand=assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)")],
            policy: true,
        },
    ]
}

/// The naive read: list ids, then GET each object. With `sample`, only that
/// many objects (chosen at random) are fetched.
pub(super) async fn run_naive(sb: &SandboxHandle, concurrency: usize, sample: Option<usize>, seed: u64) -> NaiveRun {
    let client = client(sb);
    let collections = collections();
    sb.reset_counts();

    // Phase 1: ids, every collection listed concurrently as tenantctl does.
    let start = Instant::now();
    let lists = collections.iter().map(|c| {
        let client = client.with_version(c.version);
        let path = c.list.clone();
        tokio::spawn(async move { client.list_all(&path).await })
    });
    let mut objects: Vec<(usize, String)> = Vec::new();
    for (i, handle) in lists.collect::<Vec<_>>().into_iter().enumerate() {
        let items = handle.await.expect("the listing task completes").expect("the naive listing succeeds");
        objects.extend(items.iter().filter_map(|v| v.get("id").and_then(Value::as_str)).map(|id| (i, id.to_string())));
    }
    let list = Counted::from_counts(start.elapsed(), &sb.request_counts());
    let listed = objects.len();

    // Phase 2: one request per object (two per group), bounded concurrency.
    let intune_requests = list.patterns.iter().filter(|(k, _)| k.contains("/deviceManagement/")).map(|(_, v)| *v as usize).sum::<usize>()
        + objects.iter().filter(|(i, _)| collections[*i].policy).count();
    let chosen = match sample {
        Some(k) if k < objects.len() => pick(&mut objects, k, seed),
        _ => objects,
    };
    let fetched_objects = chosen.len();
    let requests: Vec<(ApiVersion, String)> = chosen
        .iter()
        .flat_map(|(i, id)| {
            let c = &collections[*i];
            (c.per_object)(id).into_iter().map(|p| (c.version, p))
        })
        .collect();
    sb.reset_counts();
    let start = Instant::now();
    let errors = fetch_all(&client, requests, concurrency).await;
    let fetch = Counted::from_counts(start.elapsed(), &sb.request_counts());
    assert!(errors.is_empty(), "{} per-object reads failed, first: {}", errors.len(), errors[0]);

    NaiveRun { objects: listed, list, fetch, fetched_objects, scale: listed as f64 / fetched_objects.max(1) as f64, intune_requests }
}

/// GETs every path with at most `concurrency` in flight; returns the errors.
async fn fetch_all(client: &GraphClient, requests: Vec<(ApiVersion, String)>, concurrency: usize) -> Vec<String> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
        workers.spawn(async move {
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((version, path)) = requests.get(i) else { break };
                if let Err(e) = client.with_version(*version).get_json(path).await {
                    errors.push(format!("GET {path}: {e}"));
                }
            }
            errors
        });
    }
    let mut errors = Vec::new();
    while let Some(done) = workers.join_next().await {
        errors.extend(done.expect("a fetch worker completes"));
    }
    errors
}

/// A uniform random sample of `k` items (partial Fisher-Yates, splitmix64),
/// reproducible from `seed`. A tiny generator avoids adding `rand` to the
/// root package for one shuffle.
fn pick<T>(items: &mut Vec<T>, k: usize, seed: u64) -> Vec<T> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = items.len();
    for i in 0..k {
        let j = i + (next() % (n - i) as u64) as usize;
        items.swap(i, j);
    }
    items.truncate(k);
    std::mem::take(items)
}
