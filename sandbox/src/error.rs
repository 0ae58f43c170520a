//! Errors: the library's own error enum ([`SandboxError`]) and the
//! Graph-shaped error responses the emulated service sends ([`GraphError`]).

use serde_json::{json, Value};

/// Errors from starting, running or stopping a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A non-loopback address was requested without `allow_remote`.
    #[error("refusing to listen on non-loopback address {addr} (pass --allow-remote to override)")]
    NotLoopback { addr: String },
    /// The state database could not be opened, read or written.
    #[error("state database {path}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// Something other than a regular file stands where the state database
    /// (or its `-wal`/`-shm` file) goes: it is not opened.
    #[error("state database {path} is {what}; only a regular file is opened there (remove it)")]
    UnsafeStateFile { path: String, what: String },
    /// A stored object could not be decoded.
    #[error("corrupt state in {path}: {detail}")]
    Corrupt { path: String, detail: String },
    /// An argument was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Waiting for Ctrl-C failed.
    #[error("waiting for shutdown signal")]
    Signal(#[source] std::io::Error),
}

/// A Graph error response: status code plus the `{"error":{...}}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Vec<Value>,
    /// `Retry-After` seconds, for throttling and unavailability.
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 `Request_BadRequest`, the directory's generic validation error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    /// 404 `Request_ResourceNotFound` for an object id (directory wording).
    pub fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    /// 400 for a path segment Graph does not know (Graph answers 400, not 404).
    pub fn no_segment(segment: &str) -> Self {
        Self::new(400, "BadRequest", format!("Resource not found for the segment '{segment}'."))
    }

    /// 405 for a known resource with an unsupported method.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    }

    /// An Intune-style error: Intune puts a JSON document inside `message`.
    pub fn intune(status: u16, code: &str, message: &str) -> Self {
        let inner = json!({
            "_version": 3,
            "Message": format!("{message} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000"),
            "CustomApiErrorPhrase": "",
            "RetryAfter": null,
            "ErrorSourceService": "",
            "HttpHeaders": "{}"
        });
        Self::new(status, code, inner.to_string())
    }

    pub fn with_detail(mut self, code: &str, target: &str) -> Self {
        self.details.push(json!({"code": code, "target": target}));
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The JSON body, with `innerError.request-id` and `date` as Graph sends them.
    pub fn body(&self, request_id: &str, client_request_id: Option<&str>) -> Value {
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let mut inner = json!({"date": date, "request-id": request_id});
        if let Some(c) = client_request_id {
            inner["client-request-id"] = json!(c);
        }
        let mut err = json!({"code": self.code, "message": self.message, "innerError": inner});
        if !self.details.is_empty() {
            err["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": err })
    }
}
