//! The Prometheus metrics a long-running `reconcile` serves
//! (`--metrics ADDR`: `/metrics`, beside the health routes): passes,
//! failures, drift, held and applied changes, Graph requests and throttling.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::output;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub passes: u64,
    pub failures: u64,
    pub last_pass: Option<i64>,
    pub last_success: Option<i64>,
    pub drift: usize,
    pub held: usize,
    pub applied_total: u64,
    pub requests_total: u64,
    pub throttled_total: u64,
}

impl Metrics {
    fn render(&self) -> String {
        let mut out = String::new();
        let mut m = |name: &str, kind: &str, help: &str, v: String| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
        };
        m("tenantctl_passes_total", "counter", "Reconcile passes run.", self.passes.to_string());
        m("tenantctl_pass_failures_total", "counter", "Passes that failed.", self.failures.to_string());
        m("tenantctl_last_pass_timestamp_seconds", "gauge", "When the last pass ended.", self.last_pass.unwrap_or(0).to_string());
        m("tenantctl_last_success_timestamp_seconds", "gauge", "When the last successful pass ended.", self.last_success.unwrap_or(0).to_string());
        m("tenantctl_drift_items", "gauge", "Drift items found by the last successful pass.", self.drift.to_string());
        m("tenantctl_changes_held", "gauge", "Changes waiting for approval or a sync window.", self.held.to_string());
        m("tenantctl_changes_applied_total", "counter", "Changes applied by self-heal.", self.applied_total.to_string());
        m("tenantctl_graph_requests_total", "counter", "Graph requests sent.", self.requests_total.to_string());
        m("tenantctl_graph_throttled_total", "counter", "Throttled Graph responses.", self.throttled_total.to_string());
        out
    }
}

pub(crate) async fn serve(addr: SocketAddr, metrics: Arc<Mutex<Metrics>>, health: &crate::reconcile_health::Health, allow_remote: bool) -> Result<()> {
    crate::reconcile_health::check_bind(addr, allow_remote)?;
    health.listen_for_stop()?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    output::status(format!("Metrics on http://{}/metrics", listener.local_addr()?));
    let m = metrics.clone();
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let text = m.lock().map(|m| m.render()).unwrap_or_default();
                async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
        .merge(health.routes());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(())
}
