//! Apply at the service limits, not beyond: against a sandbox that models
//! Graph's Intune limits (scaled down to a 1 s window so the test is short)
//! and a client paced to the same limits, an apply of many Intune policies
//! gets no 429 at all.

mod common;

use std::time::Duration;

use common::*;
use engine::Ledger;
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig, PacingConfig, Rate};

/// Window and counts of the scaled limits: Graph's, with every window 1 s
/// and every count divided by 20 (5 Intune writes and 50 requests per app).
const WINDOW_MS: u64 = 1_000;
const DIVISOR: u32 = 20;

fn policies(n: usize) -> String {
    let mut out = String::from("[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n\n");
    for i in 0..n {
        out.push_str(&format!(
            "[device_configuration.p{i}]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Paced policy {i}\"\n\n[device_configuration.p{i}.settings]\npasswordMinimumLength = {}\n\n",
            8 + i % 8
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_applies_get_no_429_and_unpaced_ones_do() {
    applying_many_intune_policies_at_the_modelled_limits_gets_no_429(0).await;
    // Up to 700 ms in transit, drawn anew for every request: far more than
    // the pacer's 250 ms margin, and most of a 1 s window. A request sent
    // early lands after ones sent later; none may land in a full window.
    applying_many_intune_policies_at_the_modelled_limits_gets_no_429(700).await;
    without_pacing_the_same_apply_is_throttled().await;
}

/// The margin is the client's default (250 ms). `jitter_ms` delays each
/// request by a random amount up to it before the sandbox counts it (a
/// loaded machine, a slow network): the pacer cannot see when a request
/// arrives, only when its response comes back, and must stay under the
/// limits whatever the delay.
async fn applying_many_intune_policies_at_the_modelled_limits_gets_no_429(jitter_ms: u64) {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| f.latency_jitter_ms = jitter_ms)).expect("faults set");
    let limits = sandbox::Limits::graph_scaled(WINDOW_MS, DIVISOR);
    let rate = |writes_only: bool| {
        let l = limits.limits.iter().find(|l| l.area == sandbox::limits::Area::Intune && l.writes_only == writes_only).expect("an Intune limit");
        Some(Rate { count: l.count, per: Duration::from_millis(l.window_ms) })
    };
    let base = sb.base_url();
    let mut config = GraphConfig::new(Cloud::custom(&base, &base).unwrap());
    config.retry = fast_retry();
    config.pacing = PacingConfig { intune_writes: rate(true), intune_requests: rate(false), directory_writes: None, margin: Duration::from_millis(250) };
    let client = GraphClient::new(config, Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret())).unwrap();
    sb.set_limits(limits);

    let text = policies(20);
    let state = schema::load_str(&[("policies.toml", &text)]).expect("the generated policies load");
    let mut ledger = Ledger::default();
    let first = plan(&client, &state, &ledger).await;
    assert_eq!(first.changes.len(), 20);
    sb.reset_counts();
    apply(&client, &first, &mut ledger).await;
    let counts = sb.request_counts();
    let writes: u64 = counts.requests.iter().filter(|(k, _)| k.contains("/deviceManagement/") && !k.starts_with("GET ")).map(|(_, v)| v).sum();
    assert!(writes >= 20, "the apply wrote every policy: {counts:#?}");
    assert_eq!(counts.limited, 0, "the client exceeded a modelled limit: {counts:#?}");
    assert_eq!(counts.statuses.get(&429), None, "{counts:#?}");
    let again = plan(&client, &state, &ledger).await;
    assert!(again.is_empty(), "{}", engine::render::text(&again, false));
    sb.shutdown().await.unwrap();
}

/// The same apply with the client's pacing off does run into the limits:
/// the modelled limits are real, so the test above can see a regression.
/// Run after the paced apply, never beside it: an unpaced apply competing
/// for a loaded CI machine's two cores delayed the paced one's requests
/// in flight until two of them landed in one window (a 429 the client did
/// not cause).
async fn without_pacing_the_same_apply_is_throttled() {
    let sb = sandbox().await;
    let base = sb.base_url();
    let mut config = GraphConfig::new(Cloud::custom(&base, &base).unwrap());
    config.retry = fast_retry();
    config.pacing = PacingConfig::disabled();
    let client = GraphClient::new(config, Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret())).unwrap();
    sb.set_limits(sandbox::Limits::graph_scaled(WINDOW_MS, DIVISOR));
    let text = policies(20);
    let state = schema::load_str(&[("policies.toml", &text)]).expect("the generated policies load");
    let mut ledger = Ledger::default();
    let first = plan(&client, &state, &ledger).await;
    apply(&client, &first, &mut ledger).await;
    assert!(sb.request_counts().limited > 0, "20 policies at full speed exceed 5 writes per second");
    sb.shutdown().await.unwrap();
}
