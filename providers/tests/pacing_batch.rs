//! `$batch` items are paced the way single requests are
//! (tests/pacing_slot.rs): their send time is reserved before the call
//! takes a concurrency slot, and a call that got its slot later than the
//! pacing margin covers gives that time back and reserves again, so the
//! windows count when the items really left. Before, each item reserved and
//! slept on its own and the call then went whenever it got a slot, with the
//! old send time still counted: a later request was let through inside the
//! same window. On a fake clock, with a sleeper the test releases.

mod graph_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use graph_support::{start, test_config, GateSleeper, Reply};
use providers::graph::{BatchRequest, Credential, GraphClient, ManualClock, PacingConfig, Rate, Secret};
use serde_json::{json, Value};

async fn until(what: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_got_its_slot_late_is_paced_again_so_the_window_counts_its_real_send() {
    let server = start(|r, _| {
        if r.path.ends_with("/$batch") {
            let responses: Vec<Value> = r.json()["requests"].as_array().unwrap().iter().map(|q| json!({"id": q["id"], "status": 200, "body": {"value": []}})).collect();
            Reply::json(200, json!({ "responses": responses }))
        } else {
            Reply::json(200, json!({"value": []}))
        }
    })
    .await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)));
    let (mut config, _) = test_config(&server.base);
    config.max_concurrency = 1;
    // One Intune read per 20 s, with a 2 s margin (a send 1 s late is tolerated).
    config.pacing = PacingConfig { intune_requests: Some(Rate { count: 1, per: Duration::from_secs(20) }), margin: Duration::from_secs(2), ..PacingConfig::disabled() };
    config.clock = clock.clone();
    config.sleeper = Arc::new(GateSleeper { gate: gate.clone(), asked: asked.clone(), calls: calls.clone() });
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("static-token-value"))).unwrap();
    let beta = client.beta();

    // T0: the first batch item goes at once.
    beta.batch(vec![BatchRequest::get("/deviceManagement/deviceConfigurations")]).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the first item is not held back");

    // The second must wait for the window: 20 s + the 2 s margin.
    let second = {
        let beta = beta.clone();
        tokio::spawn(async move { beta.batch(vec![BatchRequest::get("/deviceManagement/deviceCompliancePolicies")]).await })
    };
    until(|| calls.load(Ordering::SeqCst) > 0).await;
    assert_eq!(asked.lock().unwrap().as_slice(), &[Duration::from_secs(22)]);
    // It gets its slot only at T0 + 32 s, 10 s after its send time (as
    // when other calls held every slot), and leaves then.
    clock.advance(Duration::from_secs(32));
    gate.add_permits(1);
    second.await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "leaving late needs no second wait: the window was free");

    // T0 + 47 s: 15 s after the batch really left, so one more Intune read
    // must wait until T0 + 32 + 22 = T0 + 54 s: 7 s. (Counting the stale
    // send time T0 + 22 s, it went at once: two reads within 15 s.)
    clock.advance(Duration::from_secs(15));
    let third = {
        let beta = beta.clone();
        tokio::spawn(async move { beta.get_json("/deviceManagement/deviceConfigurations").await })
    };
    until(|| calls.load(Ordering::SeqCst) > 1 || third.is_finished()).await;
    assert_eq!(asked.lock().unwrap().as_slice(), &[Duration::from_secs(22), Duration::from_secs(7)], "the window counts the batch at its real send time");
    gate.add_permits(1);
    third.await.unwrap().unwrap();
    assert_eq!(server.graph_requests().len(), 3);
}
