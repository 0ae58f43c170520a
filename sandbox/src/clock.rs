//! The sandbox's clock: the wall clock, moved by an offset tests set
//! through `PUT /_sandbox/clock {"now": "RFC 3339"}` (`GET` shows it), so
//! what Entra does by time (an access package assignment that ends) can be
//! tested without waiting. Tokens keep the wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::server::App;

/// The offset from the wall clock, in ms.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// A clock `ms` away from the wall clock.
    pub fn with_offset_ms(ms: i64) -> Self {
        Clock { offset_ms: AtomicI64::new(ms) }
    }

    /// Now, as the sandbox's tenant sees it (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis().saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Sets the tenant's now to `now` (ms since the epoch).
    pub fn set_ms(&self, now: i64) {
        self.offset_ms.store(now.saturating_sub(chrono::Utc::now().timestamp_millis()), Ordering::SeqCst);
    }
}

fn show(app: &App) -> Response {
    let now = chrono::DateTime::from_timestamp_millis(app.clock.now_ms()).unwrap_or_default();
    Json(json!({"now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})).into_response()
}

pub async fn get_clock(State(app): State<Arc<App>>) -> Response {
    show(&app)
}

pub async fn put_clock(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        now: String,
    }
    let parsed = serde_json::from_slice::<Body>(&body).ok().and_then(|b| chrono::DateTime::parse_from_rfc3339(&b.now).ok());
    let Some(now) = parsed else {
        return (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": "expected {\"now\": \"<RFC 3339 time>\"}"}))).into_response();
    };
    app.clock.set_ms(now.timestamp_millis());
    show(&app)
}
