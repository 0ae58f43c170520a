//! A request waiting out a service limit does not hold a concurrency slot:
//! with one slot, a write the pacer holds back for 20 s (on a fake clock,
//! with a sleeper the test releases) leaves a read free to go meanwhile.

mod graph_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use graph_support::{start, test_config, GateSleeper, Reply};
use providers::graph::{Credential, GraphClient, ManualClock, PacingConfig, Rate, Secret};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_write_waits_without_holding_the_only_slot() {
    let server = start(|r, _| match r.method.as_str() {
        "GET" => Reply::json(200, json!({"value": []})),
        _ => Reply::json(201, json!({"id": "p"})),
    })
    .await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (mut config, _) = test_config(&server.base);
    config.max_concurrency = 1;
    config.pacing = PacingConfig { intune_writes: Some(Rate { count: 1, per: Duration::from_secs(20) }), margin: Duration::ZERO, ..PacingConfig::disabled() };
    config.clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)));
    config.sleeper = Arc::new(GateSleeper { gate: gate.clone(), asked: asked.clone(), calls: calls.clone() });
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("static-token-value"))).unwrap();
    let beta = client.beta();

    // The first write goes at once; the second must wait 20 s for the window.
    beta.post_json("/deviceManagement/deviceConfigurations", json!({"displayName": "a"})).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the first write is not held back");
    let waiting = {
        let beta = beta.clone();
        tokio::spawn(async move { beta.post_json("/deviceManagement/deviceConfigurations", json!({"displayName": "b"})).await })
    };
    // Until the second write is asleep in the pacer.
    for _ in 0..500 {
        if calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(asked.lock().unwrap().as_slice(), &[Duration::from_secs(20)], "the pacer holds the second write back 20 s");
    // A read goes while the write waits: the one slot is free. (Before,
    // the write slept holding it, and this read waited as long.)
    let read = tokio::time::timeout(Duration::from_secs(60), client.v1().get_json("/users")).await;
    assert!(read.expect("the read is not blocked behind the paced write").is_ok());
    assert!(!waiting.is_finished(), "the write is still held back");
    assert_eq!(server.graph_requests().len(), 2);
    gate.add_permits(1);
    waiting.await.unwrap().unwrap();
    let methods: Vec<String> = server.graph_requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, vec!["POST", "GET", "POST"]);
}
