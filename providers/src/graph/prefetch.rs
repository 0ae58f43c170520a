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
//! sent on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use url::Url;

use super::{ApiVersion, BatchRequest, BatchResponse, GraphClient, GraphError};

/// Prefetched first pages by absolute URL.
#[derive(Default)]
pub(crate) struct Prefetched {
    pages: Mutex<HashMap<String, BatchResponse>>,
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
                if paths.len() < 2 {
                    return pages;
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
                    Err(e) => tracing::warn!(error = %e, "batched listing failed; collections are listed one by one"),
                }
                pages
            }
        });
        let [v1, beta] = calls;
        let (v1, beta) = tokio::join!(v1, beta);
        let prefetched = Prefetched {
            pages: Mutex::new(v1.into_iter().chain(beta).collect()),
        };
        GraphClient {
            inner: Arc::clone(&self.inner),
            version: self.version,
            prefetched: Some(Arc::new(prefetched)),
        }
    }

    /// The prefetched first page of `url`, once.
    pub(crate) fn take_prefetched(&self, url: &Url) -> Option<Result<Value, GraphError>> {
        let p = self.prefetched.as_ref()?;
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
