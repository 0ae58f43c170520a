//! Collection reads that follow every `@odata.nextLink`.

use serde_json::Value;

use super::error::{GraphError, RequestInfo};
use super::{into_response, GraphClient, Method};

impl GraphClient {
    /// GETs a collection and every following page; returns all `value` items.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        self.list_all_with(path, &[]).await
    }

    /// Like [`GraphClient::list_all`] with extra headers sent on *every*
    /// page: Graph does not carry `ConsistencyLevel: eventual` over to the
    /// nextLink, so advanced queries would fail on page 2 without this.
    pub async fn list_all_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        self.list_pages_with(path, headers, |page| items.extend(page)).await?;
        Ok(items)
    }

    /// Like [`GraphClient::list_all`], handing each page's items to `each`
    /// as the page arrives: a caller that keeps only what it makes of them
    /// (normalized objects) never holds the whole listing as raw JSON
    /// beside them (70,000 users at 100k objects).
    pub async fn list_pages(&self, path: &str, each: impl FnMut(Vec<Value>)) -> Result<(), GraphError> {
        self.list_pages_with(path, &[], each).await
    }

    async fn list_pages_with(&self, path: &str, headers: &[(&str, &str)], mut each: impl FnMut(Vec<Value>)) -> Result<(), GraphError> {
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut seen = std::collections::HashSet::new();
        let mut next = Some(self.url_for(path)?);
        while let Some(url) = next.take() {
            let info = RequestInfo::new("GET", &url);
            if !seen.insert(url.as_str().to_owned()) {
                return Err(GraphError::UnexpectedResponse { request: info, reason: "nextLink repeats an earlier page".to_owned() });
            }
            // The first page may have come ahead in a `$batch` (prefetch.rs).
            let prefetched = if seen.len() == 1 && headers.is_empty() { self.take_prefetched(&url) } else { None };
            let mut page = match prefetched {
                Some(page) => page?,
                None => {
                    let raw = self.run(&Method::GET, url, None, &headers, false).await?;
                    into_response(info.clone(), raw)?.body.unwrap_or(Value::Null)
                }
            };
            // The items are moved out of the page, not copied: a page of
            // 999 users is never held twice.
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(values)) => each(values),
                _ => {
                    return Err(GraphError::UnexpectedResponse {
                        request: info,
                        reason: "collection response has no `value` array".to_owned(),
                    })
                }
            }
            if let Some(link) = page.get("@odata.nextLink").and_then(Value::as_str) {
                next = Some(self.url_for(link)?);
            }
        }
        Ok(())
    }
}
