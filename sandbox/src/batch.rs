//! JSON batching (`POST /{version}/$batch`): at most 20 requests with unique
//! ids, `dependsOn` (424 when a dependency failed), and faults and
//! accounting applied to each item on its own.

use crate::error::GraphError;
use crate::faults::Decision;
use crate::graph::{self, Ctx, GReq, GResp};
use crate::server::{lock, App};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const MAX_REQUESTS: usize = 20;

fn bad(msg: &str) -> GraphError {
    GraphError::new(400, "BadRequest", msg)
}

struct Item {
    id: String,
    method: String,
    url: String,
    body: Option<Value>,
    depends_on: Vec<String>,
    /// `ConsistencyLevel: eventual` in the item's own headers.
    eventual: bool,
    /// `Prefer: odata.maxpagesize` in the item's own headers.
    max_page_size: Option<usize>,
}

fn parse(body: Option<&Value>) -> Result<Vec<Item>, GraphError> {
    let requests = body.and_then(|b| b.get("requests")).and_then(Value::as_array).ok_or_else(|| bad("Invalid batch payload format: 'requests' array is required."))?;
    if requests.is_empty() {
        return Err(bad("Invalid batch payload format: the batch contains no requests."));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(bad(&format!("Invalid batch payload format: a batch can contain at most {MAX_REQUESTS} requests.")));
    }
    let mut items: Vec<Item> = Vec::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("Invalid batch payload format: every request needs an 'id'.")),
        };
        if items.iter().any(|i| i.id == id) {
            return Err(bad(&format!("Invalid batch payload format: the request id '{id}' is not unique.")));
        }
        let method = r.get("method").and_then(Value::as_str).ok_or_else(|| bad("Invalid batch payload format: every request needs a 'method'."))?.to_ascii_uppercase();
        let url = r.get("url").and_then(Value::as_str).ok_or_else(|| bad("Invalid batch payload format: every request needs a 'url'."))?.to_string();
        let body = r.get("body").cloned();
        let eventual = r
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.iter().any(|(k, v)| k.eq_ignore_ascii_case("consistencylevel") && v.as_str().is_some_and(|v| v.eq_ignore_ascii_case("eventual"))));
        let max_page_size = crate::delta::max_page_size(
            r.get("headers").and_then(Value::as_object).into_iter().flatten().filter(|(k, _)| k.eq_ignore_ascii_case("prefer")).filter_map(|(_, v)| v.as_str()),
        );
        if body.is_some() {
            let has_ct = r.get("headers").and_then(Value::as_object).is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
            if !has_ct {
                return Err(bad(&format!("Invalid batch payload format: request '{id}' has a body but no Content-Type header.")));
            }
        }
        let depends_on: Vec<String> = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().map(|d| d.as_str().map(str::to_string).ok_or_else(|| bad("Invalid batch payload format: 'dependsOn' must list request ids."))).collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("Invalid batch payload format: 'dependsOn' must be an array.")),
        };
        for d in &depends_on {
            if !items.iter().any(|i| &i.id == d) {
                return Err(bad(&format!("Invalid batch payload format: request '{id}' depends on '{d}', which is not an earlier request in the batch.")));
            }
        }
        items.push(Item { id, method, url, body, depends_on, eventual, max_page_size });
    }
    Ok(items)
}

/// Splits a batch item URL (relative, or absolute with the version) into path and query.
fn split_url(url: &str, version: &str) -> (Vec<String>, String) {
    let mut u = url;
    if let Some(i) = u.find("://") {
        u = &u[i + 3..];
        u = u.find('/').map_or("", |j| &u[j..]);
    }
    let (path, query) = u.split_once('?').unwrap_or((u, ""));
    let mut segs = graph::split_path(path);
    if segs.first().map(String::as_str) == Some(version) {
        segs.remove(0);
    }
    (segs, query.to_string())
}

fn item_response(id: &str, resp: GResp, request_id: &str) -> Value {
    let mut headers = Map::new();
    for (k, v) in &resp.headers {
        headers.insert(k.clone(), json!(v));
    }
    let mut out = json!({"id": id, "status": resp.status});
    if let Some(b) = resp.body {
        headers.insert("Content-Type".into(), json!("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
        out["body"] = b;
    } else if let Some(t) = resp.text {
        headers.insert("Content-Type".into(), json!("text/plain"));
        out["body"] = json!(t);
    }
    headers.insert("request-id".into(), json!(request_id));
    out["headers"] = Value::Object(headers);
    out
}

pub fn error_resp(e: &GraphError, request_id: &str) -> GResp {
    let mut r = GResp::json(e.status, e.body(request_id, None));
    if let Some(s) = e.retry_after {
        r.headers.push(("Retry-After".into(), s.to_string()));
    }
    r
}

/// Runs a batch and returns the 200 response holding every item's result.
pub fn run(app: &App, ctx: &Ctx, body: Option<&Value>) -> Result<GResp, GraphError> {
    let items = parse(body)?;
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::with_capacity(items.len());
    for item in &items {
        let request_id = crate::resources::new_id();
        let (segs, query) = split_url(&item.url, ctx.version.as_str());
        let pattern = crate::accounting::pattern(&item.method, ctx.version.as_str(), &segs);
        let failed_dep = item.depends_on.iter().find(|d| statuses.get(*d).is_none_or(|s| !(200..300).contains(s)));
        let resp = if let Some(d) = failed_dep {
            let e = GraphError::new(424, "FailedDependency", format!("The request depends on request '{d}', which failed."));
            error_resp(&e, &request_id)
        } else if segs.first().map(String::as_str) == Some("$batch") {
            error_resp(&bad("Nested batch requests are not supported."), &request_id)
        } else if let Err(e) = crate::server::admit(app, &item.method, &segs) {
            error_resp(&e, &request_id)
        } else {
            let decision = {
                let mut f = lock(&app.faults);
                f.failing_path(&segs).map_or_else(|| f.decide(false), Decision::Fail)
            };
            match decision {
                Decision::Fail(e) => {
                    let mut c = lock(&app.counts);
                    if e.status == 429 {
                        c.throttled += 1;
                    } else {
                        c.injected_errors += 1;
                    }
                    drop(c);
                    error_resp(&e, &request_id)
                }
                Decision::Pass | Decision::Drop => {
                    let req = GReq { method: item.method.clone(), path: segs, query, body: item.body.clone() };
                    let mut t = lock(&app.tenant);
                    let mut item_ctx = ctx.clone();
                    item_ctx.now_ms = app.clock.now_ms();
                    // Headers are per item in a batch; the outer request's do not carry over.
                    item_ctx.eventual = item.eventual;
                    item_ctx.max_page_size = item.max_page_size;
                    let r = graph::dispatch(&mut t, &item_ctx, &req);
                    let flushed = t.flush();
                    drop(t);
                    match (r, flushed) {
                        (Ok(r), Ok(())) => r,
                        (Err(e), Ok(())) => error_resp(&e, &request_id),
                        (_, Err(err)) => {
                            tracing::error!(error = %err, "state write failed");
                            error_resp(&GraphError::new(500, "generalException", "The sandbox could not persist the change."), &request_id)
                        }
                    }
                }
            }
        };
        {
            let mut c = lock(&app.counts);
            *c.batch_items.entry(pattern).or_default() += 1;
            *c.statuses.entry(resp.status).or_default() += 1;
        }
        statuses.insert(item.id.clone(), resp.status);
        responses.push(item_response(&item.id, resp, &request_id));
    }
    Ok(GResp::json(200, json!({"responses": responses})))
}
