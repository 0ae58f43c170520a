//! Request accounting: counts per `METHOD /version/path-pattern` (ids
//! replaced by `{id}`), per `$batch` item, per status, and of injected
//! faults, so tests and benchmarks can assert how many calls a plan made.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Plain-data snapshot of the counters; also the JSON of `GET /_sandbox/requests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestCounts {
    /// HTTP requests received on Graph paths and the token endpoint.
    pub total: u64,
    /// HTTP requests per `METHOD /version/pattern`, e.g. `GET /v1.0/users/{id}`.
    pub requests: BTreeMap<String, u64>,
    /// `$batch` sub-requests per pattern (also counted in `requests` only as the `POST /v1.0/$batch`).
    pub batch_items: BTreeMap<String, u64>,
    /// Responses per status code, including batch items.
    pub statuses: BTreeMap<u16, u64>,
    /// Injected 429s (requests and batch items).
    pub throttled: u64,
    /// Injected 500/503s.
    pub injected_errors: u64,
    /// Connections dropped on purpose.
    pub dropped: u64,
    /// 429s answered because a modelled service limit was exceeded
    /// (`limits.rs`; requests and batch items), apart from injected ones.
    pub limited: u64,
}

impl RequestCounts {
    /// How many HTTP requests matched `key` (e.g. `"GET /v1.0/users"`).
    pub fn get(&self, key: &str) -> u64 {
        self.requests.get(key).copied().unwrap_or(0)
    }

    /// Sum of HTTP requests whose key starts with `method` (e.g. `"POST"`).
    pub fn by_method(&self, method: &str) -> u64 {
        self.requests.iter().filter(|(k, _)| k.split(' ').next() == Some(method)).map(|(_, v)| v).sum()
    }
}

/// The path pattern of a request: every segment that is not a fixed word is `{id}`.
pub fn pattern(method: &str, version: &str, segs: &[String]) -> String {
    let mut p = format!("{method} /{version}");
    for s in segs {
        p.push('/');
        if crate::resources::is_known_segment(s) {
            p.push_str(s);
        } else if let Some(name) = s.split_once('(').map(|(n, _)| n).filter(|n| crate::resources::is_known_segment(n)) {
            // A function call: its name, arguments as `(…)`.
            p.push_str(name);
            p.push_str("(…)");
        } else {
            p.push_str("{id}");
        }
    }
    p
}
