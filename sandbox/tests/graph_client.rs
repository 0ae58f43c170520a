//! Drives the sandbox with Microsoft's official Graph JavaScript client
//! (`@microsoft/microsoft-graph-client`, from npm) to prove the wire format
//! is Graph's and not just our own idea of it. Needs node and
//! `npm ci --prefix sandbox/tests/graph-client`.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_graph_js_client_works_against_the_sandbox() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/graph-client");
    assert!(
        dir.join("node_modules/@microsoft/microsoft-graph-client").is_dir(),
        "the Graph JS client is not installed: run `npm ci --prefix sandbox/tests/graph-client` (needs node >= 18 and npm)"
    );
    let env = start().await;
    env.sb.seed(&sandbox::SeedSpec { seed: 9, users: 230, ..Default::default() }).unwrap();
    let (script, base, token, domain) = (dir.join("check.js"), env.sb.base_url(), env.token.clone(), env.domain());
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("node").arg(script).arg(base).arg(token).arg(domain).output())
        .await
        .expect("join")
        .expect("node runs (is node installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "node failed\nstdout: {stdout}\nstderr: {stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad output {line:?}: {e}\nstderr: {stderr}"));
    assert!(v["createdId"].is_string());
    assert_eq!(v["createdUpn"], serde_json::json!(format!("node.client@{}", env.domain())));
    // 230 seeded + the one created, through 5 pages of 50 with PageIterator.
    assert_eq!(v["listed"], 231, "{v}");
    assert_eq!(v["distinct"], 231);
    assert_eq!(v["batch"]["1"], 201);
    assert_eq!(v["batch"]["2"], 404);
    assert_eq!(v["batch"]["3"], 424);
    assert_eq!(v["batchGroupName"], "Node Batch Group");
    assert_eq!(v["error"]["statusCode"], 404);
    assert_eq!(v["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(v["error"]["hasRequestId"], true);
    assert_eq!(v["error"]["hasDate"], true);
    assert_eq!(v["afterThrottling"], 4, "the client's RetryHandler got through the 429s");
    let counts = env.sb.request_counts();
    assert!(counts.throttled > 0, "some requests were throttled: {counts:?}");
    // 5 pages through PageIterator, then 4 reads plus their retries.
    assert_eq!(counts.get("GET /v1.0/users"), 5 + 4 + counts.throttled, "{counts:?}");
}
