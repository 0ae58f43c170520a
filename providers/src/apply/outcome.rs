//! What the writes of one change got back: the request ids (for the
//! journal) and whether any write may have landed, or every one was
//! refused for sure (a `refused` ledger operation then clears the
//! change's `pending` mark).

use crate::graph::{GraphError, Method};

/// The request ids of the calls one change made (for the journal).
#[derive(Default)]
pub(crate) struct Calls {
    request_ids: std::sync::Mutex<Vec<String>>,
    writes: std::sync::Mutex<Writes>,
}

/// What the writes (every request but a GET) of one change got back.
#[derive(Default)]
struct Writes {
    /// One was answered 2xx, or not answered for sure (a timeout, a
    /// dropped connection, 5xx or 429 through every retry): it may have
    /// landed.
    may_have_landed: bool,
    /// The status of the last write Graph refused for sure.
    refused: Option<u16>,
}

/// The status of an answer that refuses a write for sure, so that nothing
/// of it was carried out: a 4xx but 408 (a timeout), 429 (throttled) and
/// 409/412 (a conflict: an object with the same key exists, which may be
/// one an earlier create made, still replicating).
pub fn definite_refusal(e: &GraphError) -> Option<u16> {
    match e {
        GraphError::InvalidRequest { status, .. } if (400..500).contains(status) && !matches!(status, 408 | 429) => Some(*status),
        GraphError::PermissionDenied { status, .. } => Some(*status),
        GraphError::NotFound { .. } => Some(404),
        _ => None,
    }
}

impl Calls {
    pub(crate) fn note(&self, r: &crate::graph::GraphResponse) {
        if let (Some(id), Ok(mut ids)) = (&r.request_id, self.request_ids.lock()) {
            ids.push(id.clone());
        }
    }

    /// Note what a write (`method` not GET) got back.
    pub(crate) fn wrote<T>(&self, method: &Method, r: &Result<T, GraphError>) {
        if *method == Method::GET {
            return;
        }
        if let Ok(mut w) = self.writes.lock() {
            match r.as_ref().err().map(definite_refusal) {
                Some(Some(status)) => w.refused = Some(status),
                _ => w.may_have_landed = true,
            }
        }
    }

    /// The status of the refusal when every write so far was refused for
    /// sure (and there was one).
    pub(crate) fn refused_only(&self) -> Option<u16> {
        self.writes.lock().ok().and_then(|w| if w.may_have_landed { None } else { w.refused })
    }

    pub(crate) fn take(self) -> Vec<String> {
        self.request_ids.into_inner().unwrap_or_default()
    }
}
