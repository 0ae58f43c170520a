//! Delta queries (`/users/delta`, `/groups/delta`): a full read the first
//! time, then only changes, with the state kept in the `@odata.deltaLink`.

use serde_json::Value;

use super::error::{GraphError, RequestInfo};
use super::{into_response, GraphClient, Method};

/// Objects per delta page asked for: Graph's maximum for directory objects.
/// Delta refuses `$top`; the page size is asked for with
/// `Prefer: odata.maxpagesize` on every page instead.
pub const DELTA_PAGE_SIZE: usize = 999;

/// `headers` with `odata.maxpagesize` added to its `Prefer` (or a `Prefer`
/// header added), unless the caller already asks for a page size.
fn with_page_size(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let page = format!("odata.maxpagesize={DELTA_PAGE_SIZE}");
    let mut out: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    match out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("prefer")) {
        Some((_, v)) if v.to_ascii_lowercase().contains("odata.maxpagesize") => {}
        Some((_, v)) => *v = format!("{v}, {page}"),
        None => out.push(("Prefer".to_owned(), page)),
    }
    out
}

/// The result of one delta round: every page up to the new deltaLink.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeltaPage {
    /// Added or changed objects (with `Prefer: return=minimal`, only the
    /// changed properties).
    pub items: Vec<Value>,
    /// Objects reported with `@removed`.
    pub removed: Vec<RemovedItem>,
    /// The `@odata.deltaLink` to store for the next round.
    pub delta_link: String,
}

/// An object that left the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedItem {
    /// Object id.
    pub id: String,
    /// `changed` (soft-deleted, restorable) or `deleted` (permanent), when given.
    pub reason: Option<String>,
}

impl GraphClient {
    /// Runs a delta round: starts from `previous_delta_link` when given
    /// (otherwise from `path`, e.g. `/groups/delta?$select=displayName,members`),
    /// follows every skiptoken page and returns the changes plus the new
    /// deltaLink.
    ///
    /// An expired or invalid token (410 Gone, or the codes
    /// `syncStateNotFound`, `resyncRequired`, `syncStateInvalid`) returns
    /// [`GraphError::DeltaExpired`]; the caller should call again with `None`.
    pub async fn delta(&self, path: &str, previous_delta_link: Option<&str>) -> Result<DeltaPage, GraphError> {
        self.delta_with(path, previous_delta_link, &[]).await
    }

    /// Like [`GraphClient::delta`] with extra headers on every page (e.g.
    /// `Prefer: return=minimal`). Every page asks for
    /// [`DELTA_PAGE_SIZE`] objects (`Prefer: odata.maxpagesize`).
    pub async fn delta_with(
        &self,
        path: &str,
        previous_delta_link: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<DeltaPage, GraphError> {
        let mut items = Vec::new();
        let (removed, delta_link) = self.delta_each(path, previous_delta_link, headers, |item| items.push(item)).await?;
        Ok(DeltaPage { items, removed, delta_link })
    }

    /// Like [`GraphClient::delta_with`], handing each added or changed
    /// object to `on_item` as its page arrives (in order) instead of
    /// collecting them, so a caller that keeps them in a compact form never
    /// holds a whole round as JSON values. Returns the removed objects and
    /// the new deltaLink. An error may come after some objects were handed
    /// over: the caller keeps them only once the round succeeded.
    pub async fn delta_each(
        &self,
        path: &str,
        previous_delta_link: Option<&str>,
        headers: &[(&str, &str)],
        mut on_item: impl FnMut(Value),
    ) -> Result<(Vec<RemovedItem>, String), GraphError> {
        let headers = with_page_size(headers);
        let mut removed = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut url = self.url_for(previous_delta_link.unwrap_or(path))?;
        loop {
            let info = RequestInfo::new("GET", &url);
            if !seen.insert(url.as_str().to_owned()) {
                return Err(GraphError::UnexpectedResponse { request: info, reason: "delta nextLink repeats an earlier page".to_owned() });
            }
            let raw = self.run(&Method::GET, url, None, &headers, false).await?;
            let mut page = into_response(info.clone(), raw)?.body.unwrap_or(Value::Null);
            // The page's objects are moved out, not copied.
            let Some(values) = page.get_mut("value").and_then(Value::as_array_mut).map(std::mem::take) else {
                return Err(GraphError::UnexpectedResponse { request: info, reason: "delta response has no `value` array".to_owned() });
            };
            for item in values {
                match item.get("@removed") {
                    Some(gone) => removed.push(RemovedItem {
                        id: item.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        reason: gone.get("reason").and_then(Value::as_str).map(str::to_owned),
                    }),
                    None => on_item(item),
                }
            }
            if let Some(link) = page.get("@odata.deltaLink").and_then(Value::as_str) {
                // Validate it now so a bad link fails this round, not the next.
                self.url_for(link)?;
                return Ok((removed, link.to_owned()));
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(link) => url = self.url_for(link)?,
                None => {
                    return Err(GraphError::UnexpectedResponse {
                        request: info,
                        reason: "delta page has neither @odata.nextLink nor @odata.deltaLink".to_owned(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_joins_the_callers_prefer() {
        assert_eq!(with_page_size(&[]), vec![("Prefer".to_owned(), "odata.maxpagesize=999".to_owned())]);
        assert_eq!(with_page_size(&[("Prefer", "return=minimal")]), vec![("Prefer".to_owned(), "return=minimal, odata.maxpagesize=999".to_owned())]);
        assert_eq!(with_page_size(&[("prefer", "odata.maxpagesize=10")]), vec![("prefer".to_owned(), "odata.maxpagesize=10".to_owned())]);
    }
}
