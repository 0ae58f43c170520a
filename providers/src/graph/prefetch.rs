//! First pages of several collections fetched together through `$batch`.
//!
//! A read of many small collections (role assignments and PIM schedules,
//! conditional access, Intune policies, filters ...) costs one request per
//! collection when each is listed on its own. [`GraphClient::prefetch_first_pages`]
//! sends their first pages in one `$batch` per API version (a batch goes to
//! `/v1.0/$batch` or `/beta/$batch`, so the two versions cannot share one;
//! 20 items per call) and returns a view of the client that answers
//! [`GraphClient::list_all`] of those paths from the prefetched page,
//! following any `@odata.nextLink` as usual. Each prefetched page is used
//! once: a second listing of the same path goes to Graph.
//!
//! Failures keep their meaning: an item answered with an error (after the
//! per-item retries of [`GraphClient::batch`] for 429/5xx) is that
//! listing's error, so its kinds are unreadable, never empty; a `$batch`
//! call that fails as a whole prefetches nothing and each listing is then
//! sent on its own, unless it failed without any response (Graph not
//! answering through every retry): then each listing fails at once with
//! that cause, rather than waiting out the same timeouts one by one
//! (hostile run 16, finding 13: a plan against a Graph that stopped
//! answering ran for more than 15 minutes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use url::Url;

use super::{ApiVersion, BatchRequest, BatchResponse, GraphClient, GraphError};

/// Prefetched first pages by absolute URL.
#[derive(Default)]
pub(crate) struct Prefetched {
    pages: Mutex<HashMap<String, BatchResponse>>,
    /// Listings whose batch got no response, with the cause.
    unanswered: Mutex<HashMap<String, String>>,
}

impl GraphClient {
    /// Fetches the first page of each `(version, path)` listing through
    /// `$batch` (one per version; a version with a single listing is left
    /// to its own request, which costs the same) and returns a view that
    /// serves [`GraphClient::list_all`] of exactly those paths from them.
    pub async fn prefetch_first_pages(&self, listings: &[(ApiVersion, String)]) -> GraphClient {
        let calls = [ApiVersion::V1, ApiVersion::Beta].map(|version| {
            let view = self.with_version(version);
            let mut paths: Vec<&str> = listings.iter().filter(|(v, _)| *v == version).map(|(_, p)| p.as_str()).collect();
            paths.sort_unstable();
            paths.dedup();
            async move {
                let mut pages = Vec::new();
                let mut unanswered = Vec::new();
                if paths.len() < 2 {
                    return (pages, unanswered);
                }
                let requests = paths.iter().map(|p| BatchRequest::get(*p)).collect();
                match view.batch(requests).await {
                    Ok(responses) => {
                        for (path, response) in paths.iter().zip(responses) {
                            if let Ok(url) = view.url_for(path) {
                                pages.push((url.to_string(), response));
                            }
                        }
                    }
                    Err(e) if no_response(&e) => {
                        tracing::warn!(error = %e, "batched listing got no response; its collections are not read");
                        unanswered.extend(paths.iter().filter_map(|p| view.url_for(p).ok()).map(|u| (u.to_string(), e.to_string())));
                    }
                    Err(e) => tracing::warn!(error = %e, "batched listing failed; collections are listed one by one"),
                }
                (pages, unanswered)
            }
        });
        let [v1, beta] = calls;
        let ((v1, v1_down), (beta, beta_down)) = tokio::join!(v1, beta);
        let prefetched = Prefetched {
            pages: Mutex::new(v1.into_iter().chain(beta).collect()),
            unanswered: Mutex::new(v1_down.into_iter().chain(beta_down).collect()),
        };
        GraphClient {
            inner: Arc::clone(&self.inner),
            version: self.version,
            prefetched: Some(Arc::new(prefetched)),
        }
    }

    /// The prefetched first page of `url`, once (or, once, the failure of
    /// a batch that got no response).
    pub(crate) fn take_prefetched(&self, url: &Url) -> Option<Result<Value, GraphError>> {
        let p = self.prefetched.as_ref()?;
        if let Some(cause) = p.unanswered.lock().ok()?.remove(url.as_str()) {
            return Some(Err(GraphError::UnexpectedResponse { request: super::error::RequestInfo::new("GET", url), reason: format!("not sent: Graph gave no response to the batched listing it was part of ({cause})") }));
        }
        let response = p.pages.lock().ok()?.remove(url.as_str())?;
        Some(response.into_result().map(|b| b.unwrap_or(Value::Null)))
    }

    /// The prefetched answer to a `$batch` item, once: a GET without
    /// headers of a path fetched ahead (e.g. a licensed group read by its
    /// ledger id), with the status it was answered with.
    pub(crate) fn take_prefetched_item(&self, request: &BatchRequest) -> Option<BatchResponse> {
        let p = self.prefetched.as_ref()?;
        if request.method != super::Method::GET || !request.headers.is_empty() || request.body.is_some() {
            return None;
        }
        let url = self.url_for(&request.url_path()).ok()?;
        p.pages.lock().ok()?.remove(url.as_str())
    }
}

/// Whether `e` is Graph not answering at all through every retry (no
/// response), as opposed to refusing the batch.
fn no_response(e: &GraphError) -> bool {
    matches!(e, GraphError::Network { .. } | GraphError::Transient { last_status: None, .. })
}
