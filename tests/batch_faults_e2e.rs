//! `$batch` items are throttled and fail on their own (Graph throttles each
//! sub-request separately): a converged tenant planned again and again
//! under item-level 429s, 5xx and dropped `$batch` calls shows no drift and
//! nothing unknown, because every failed item is retried by itself.

mod common;

use common::*;
use engine::Ledger;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_plans_under_batch_item_faults_show_no_drift_and_nothing_unknown() {
    let sb = sandbox().await;
    // Fast retries, but the production time budget per request: under 20%
    // throttling the pacer's own waits spent the scaled 6 s budget before
    // the attempts ran out, once the example's Settings Catalog reads
    // added three more beta batches per plan.
    let client = {
        let base = sb.base_url();
        let mut config = providers::graph::GraphConfig::new(providers::graph::Cloud::custom(&base, &base).expect("a loopback cloud"));
        config.retry = fast_retry();
        config.retry.max_total = providers::graph::RetryPolicy::default().max_total;
        let credential = providers::graph::Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
        providers::graph::GraphClient::new(config, credential).expect("a client")
    };
    let state = example();
    let mut ledger = Ledger::default();
    let first = plan(&client, &state, &ledger).await;
    apply(&client, &first, &mut ledger).await;
    let converged = plan(&client, &state, &ledger).await;
    assert!(converged.is_empty() && converged.unknown.is_empty(), "{}", engine::render::text(&converged, false));

    sb.set_faults(faults(|f| {
        f.throttle_rate = 0.2;
        f.error_rate = 0.1;
        f.drop_rate = 0.02;
        f.retry_after_secs = 0;
    }))
    .unwrap();
    sb.reset_counts();
    for i in 0..40 {
        let p = plan(&client, &state, &ledger).await;
        assert!(p.unknown.is_empty(), "plan {i}: faults made resources unknown: {:?}", p.unknown);
        assert!(p.is_empty(), "plan {i}: faults showed up as drift:\n{}", engine::render::text(&p, false));
    }
    let counts = sb.request_counts();
    let items: u64 = counts.batch_items.values().sum();
    assert!(items >= 40, "the plans read through $batch: {counts:?}");
    assert!(counts.throttled > 0 && counts.injected_errors > 0, "faults were injected: {counts:?}");
    sb.shutdown().await.unwrap();
}
