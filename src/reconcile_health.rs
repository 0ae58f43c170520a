//! `/healthz` and `/readyz` of `tenantctl reconcile`, for Kubernetes probes,
//! served beside `/metrics`.
//!
//! - `/healthz` (liveness) answers 200 while the loop makes progress: a pass
//!   started or ended within three intervals plus ten minutes. A loop stuck
//!   longer answers 503, so the kubelet restarts it.
//! - `/readyz` (readiness) answers 200 once a pass has read the whole tenant
//!   and compared it (drift found or not), and 503 before that, after a pass
//!   that failed or could not read everything, and from SIGTERM on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use axum::http::StatusCode;

/// Shared health state, updated by the reconcile loop.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    /// Unix seconds of the last pass start or end.
    progress: AtomicI64,
    /// The last finished pass read and compared everything.
    last_pass_ok: AtomicBool,
    stopping: AtomicBool,
    stall_limit: Duration,
}

impl Health {
    /// Health for a loop running every `interval`.
    pub fn new(interval: Duration) -> Self {
        let stall_limit = interval
            .saturating_mul(3)
            .saturating_add(Duration::from_secs(600));
        Self {
            inner: Arc::new(Inner {
                progress: AtomicI64::new(now()),
                last_pass_ok: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                stall_limit,
            }),
        }
    }

    /// A pass begins.
    pub fn pass_started(&self) {
        self.inner.progress.store(now(), Ordering::SeqCst);
    }

    /// A pass ended; `complete` when it read and compared everything.
    pub fn pass_ended(&self, complete: bool) {
        self.inner.progress.store(now(), Ordering::SeqCst);
        self.inner.last_pass_ok.store(complete, Ordering::SeqCst);
    }

    /// Liveness: status and a one-line reason.
    pub fn live(&self) -> (StatusCode, String) {
        let idle = now()
            .saturating_sub(self.inner.progress.load(Ordering::SeqCst))
            .max(0) as u64;
        if idle > self.inner.stall_limit.as_secs() {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("stalled: no pass started or ended for {idle}s\n"),
            )
        } else {
            (StatusCode::OK, "ok\n".to_owned())
        }
    }

    /// Readiness: status and a one-line reason.
    pub fn ready(&self) -> (StatusCode, String) {
        if self.inner.stopping.load(Ordering::SeqCst) {
            (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned())
        } else if self.inner.last_pass_ok.load(Ordering::SeqCst) {
            (StatusCode::OK, "ready\n".to_owned())
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "no complete pass yet (or the last one failed)\n".to_owned(),
            )
        }
    }

    /// The probe routes.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        let (live, ready) = (self.clone(), self.clone());
        axum::Router::new()
            .route(
                "/healthz",
                axum::routing::get(move || std::future::ready(live.live())),
            )
            .route(
                "/readyz",
                axum::routing::get(move || std::future::ready(ready.ready())),
            )
    }

    /// Marks the service not ready on SIGTERM (the loop stops on its own).
    pub fn listen_for_stop(&self) -> Result<()> {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let inner = self.inner.clone();
            tokio::spawn(async move {
                term.recv().await;
                inner.stopping.store(true, Ordering::SeqCst);
            });
        }
        Ok(())
    }
}

/// The metrics address is loopback unless `allow_remote` (in a container,
/// where the kubelet and Prometheus reach the pod's address).
pub fn check_bind(addr: SocketAddr, allow_remote: bool) -> Result<()> {
    if !addr.ip().is_loopback() && !allow_remote {
        bail!("--metrics-addr {addr} is not a loopback address; pass --metrics-allow-remote (in a container) or put a proxy in front to expose it");
    }
    Ok(())
}

fn now() -> i64 {
    schema::clock::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_a_complete_pass_and_not_after_a_failed_one() {
        let h = Health::new(Duration::from_secs(60));
        assert_eq!(h.ready().0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h.live().0, StatusCode::OK);
        h.pass_started();
        h.pass_ended(true);
        assert_eq!(h.ready().0, StatusCode::OK);
        h.pass_ended(false);
        assert_eq!(h.ready().0, StatusCode::SERVICE_UNAVAILABLE);
        h.inner.stopping.store(true, Ordering::SeqCst);
        h.pass_ended(true);
        assert_eq!(h.ready().1, "stopping\n");
    }

    #[test]
    fn a_stalled_loop_is_not_live() {
        let h = Health::new(Duration::from_secs(1));
        h.inner.progress.store(now() - 3 - 601, Ordering::SeqCst);
        assert_eq!(h.live().0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn remote_metrics_addresses_need_the_flag() {
        let remote: SocketAddr = "0.0.0.0:9464".parse().expect("test fixture");
        assert!(check_bind(remote, false).is_err());
        assert!(check_bind(remote, true).is_ok());
        assert!(check_bind("127.0.0.1:9464".parse().expect("test fixture"), false).is_ok());
    }
}
