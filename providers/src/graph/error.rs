//! Typed errors of the Graph client and the one place that decides what a
//! failure means for the caller (retry, give up, resync, fix permissions).
//!
//! Every [`GraphError`] variant names the request (method and path, with
//! secret-bearing query values redacted); messages never repeat their
//! `#[source]`, so a chain printer shows each cause once.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::auth::AuthError;

/// The request an error belongs to: method plus path (query values that
/// carry state tokens are redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// HTTP method, upper case.
    pub method: String,
    /// URL path including the API version, with a redacted query.
    pub path: String,
}

impl RequestInfo {
    /// Builds the context for a URL; query values of token-like parameters
    /// (`$skiptoken`, `$deltatoken`, anything named like a secret) become `***`.
    pub fn new(method: &str, url: &url::Url) -> Self {
        Self { method: method.to_owned(), path: redacted_path(url) }
    }

    /// The path below the API version (`/users/x` for `/v1.0/users/x`),
    /// without query, used to name the permission a call needs.
    pub fn resource_path(&self) -> &str {
        let path = self.path.split('?').next().unwrap_or_default();
        for marker in ["/v1.0/", "/beta/"] {
            if let Some(i) = path.find(marker) {
                return &path[i + marker.len() - 1..];
            }
        }
        path
    }
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

fn redacted_path(url: &url::Url) -> String {
    let mut out = url.path().to_owned();
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if !pairs.is_empty() {
        out.push('?');
        let rendered: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let sensitive = ["token", "secret", "sig", "password", "key", "code", "assertion"]
                    .iter()
                    .any(|m| lower.contains(m));
                if sensitive {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push_str(&rendered.join("&"));
    }
    out
}

/// Graph's error body: `{"error":{"code","message","innerError":{...},"details":[...]}}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiErrorBody {
    /// `error.code`, e.g. `Request_BadRequest`.
    pub code: String,
    /// `error.message`; for Intune, the inner `Message` of the JSON string it
    /// often contains.
    pub message: String,
    /// `innerError.request-id` (or the `request-id` response header).
    pub request_id: Option<String>,
    /// `innerError.date`.
    pub date: Option<String>,
    /// `error.details` entries as `(code, message, target)`.
    pub details: Vec<ErrorDetail>,
}

/// One entry of `error.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// `code`, e.g. `ObjectConflict`.
    pub code: String,
    /// `message`.
    pub message: String,
    /// `target`, e.g. `userPrincipalName`.
    pub target: Option<String>,
}

impl ApiErrorBody {
    /// Parses Graph's error shape; `None` when the body is not that shape.
    pub fn parse(body: &Value) -> Option<Self> {
        let err = body.get("error")?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let inner = err.get("innerError").or_else(|| err.get("innererror"));
        let details = err
            .get("details")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|d| ErrorDetail {
                        code: text(d.get("code")).unwrap_or_default(),
                        message: text(d.get("message")).unwrap_or_default(),
                        target: text(d.get("target")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            code: text(err.get("code")).unwrap_or_default(),
            message: unwrap_intune_message(&text(err.get("message")).unwrap_or_default()),
            request_id: inner.and_then(|i| text(i.get("request-id"))),
            date: inner.and_then(|i| text(i.get("date"))),
            details,
        })
    }
}

impl ApiErrorBody {
    /// Every secret this process sent ([`super::redact`]) masked in the
    /// body's texts.
    pub fn redact_secrets(&mut self) {
        let r = super::redact::redact;
        self.code = r(&self.code);
        self.message = r(&self.message);
        for d in &mut self.details {
            d.code = r(&d.code);
            d.message = r(&d.message);
            d.target = d.target.as_deref().map(r);
        }
    }
}

/// Intune wraps its real message in a JSON string such as
/// `{"_version":3,"Message":"An error has occurred - Operation ID ...",...}`;
/// returns that inner `Message`, or the input unchanged.
pub fn unwrap_intune_message(message: &str) -> String {
    let trimmed = message.trim();
    let (Some(start), Some(end)) = (trimmed.find('{'), trimmed.rfind('}')) else {
        return message.to_owned();
    };
    if end <= start {
        return message.to_owned();
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&trimmed[start..=end]) else {
        return message.to_owned();
    };
    let inner = ["Message", "message"].iter().find_map(|k| obj.get(*k).and_then(Value::as_str));
    match inner {
        Some(inner) => {
            let prefix = trimmed[..start].trim().trim_end_matches(':').trim();
            if prefix.is_empty() {
                inner.to_owned()
            } else {
                format!("{prefix}: {inner}")
            }
        }
        None => message.to_owned(),
    }
}

/// Delta error codes that mean "the token is gone, resync from scratch".
/// `syncStateNotFound` is what directory resources return for tokens older
/// than 7 days; `resyncRequired` and `syncStateInvalid` are listed in
/// Graph's error-code table; 410 Gone is the status some workloads use.
pub const DELTA_EXPIRED_CODES: [&str; 3] = ["syncStateNotFound", "resyncRequired", "syncStateInvalid"];

/// Errors of [`super::GraphClient`] calls.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Still throttled (429, or 503 with `Retry-After`) after every allowed retry.
    #[error("{request} was throttled (HTTP {status}) after {attempts} attempt(s)")]
    Throttled {
        /// The request.
        request: RequestInfo,
        /// 429 or 503.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The last `Retry-After` the service asked for.
        retry_after: Option<Duration>,
        /// Parsed error body, if any.
        detail: Option<Box<ApiErrorBody>>,
    },
    /// A server-side or transport failure that persisted through retries.
    #[error("{request} failed after {attempts} attempt(s){}", last_status.map(|s| format!(" (last status HTTP {s})")).unwrap_or_else(|| " (no response)".to_owned()))]
    Transient {
        /// The request.
        request: RequestInfo,
        /// Last HTTP status seen, `None` when the last attempt got no response.
        last_status: Option<u16>,
        /// Attempts made.
        attempts: u32,
        /// Parsed error body, if any.
        detail: Option<Box<ApiErrorBody>>,
    },
    /// 404: the object does not exist (or is not replicated yet).
    #[error("{request}: not found (HTTP 404){}", fmt_detail(detail))]
    NotFound {
        /// The request.
        request: RequestInfo,
        /// Parsed error body, if any.
        detail: Option<Box<ApiErrorBody>>,
    },
    /// 409 or 412: a conflicting object or a changed precondition.
    #[error("{request}: conflict (HTTP {status}){}", fmt_detail(detail))]
    Conflict {
        /// The request.
        request: RequestInfo,
        /// 409 or 412.
        status: u16,
        /// Parsed error body, if any.
        detail: Option<Box<ApiErrorBody>>,
    },
    /// 401/403: the app lacks a permission (named when the path is known).
    #[error("{request}: permission denied (HTTP {status}){}{}", permission.as_deref().map(|p| format!("; the app likely needs the Graph application permission {p}")).unwrap_or_default(), fmt_detail(detail))]
    PermissionDenied {
        /// The request.
        request: RequestInfo,
        /// 401 or 403.
        status: u16,
        /// The Graph application permission(s) this request needs
        /// ([`permission_for`]), e.g. `Directory.Read.All`.
        permission: Option<String>,
        /// Parsed error body, if any.
        detail: Option<Box<ApiErrorBody>>,
    },
    /// Any other 4xx: Graph rejected the request as written.
    #[error("{request}: rejected (HTTP {status}) {}: {}{}", detail.code, detail.message, detail.request_id.as_deref().map(|r| format!(" (request-id {r})")).unwrap_or_default())]
    InvalidRequest {
        /// The request.
        request: RequestInfo,
        /// HTTP status.
        status: u16,
        /// Graph's `error.code`, `error.message` (Intune's inner message
        /// unwrapped) and request id; synthesized when the body had none.
        detail: Box<ApiErrorBody>,
    },
    /// The delta token is expired or invalid: the caller must resync fully.
    #[error("{request}: delta token is no longer valid ({code}); a full resync is needed")]
    DeltaExpired {
        /// The request.
        request: RequestInfo,
        /// The error code (or `HTTP 410`).
        code: String,
    },
    /// Getting an access token failed.
    #[error("{request}: could not get an access token")]
    Auth {
        /// The request.
        request: RequestInfo,
        /// What the token endpoint or the credential said.
        #[source]
        source: Box<AuthError>,
    },
    /// A transport failure that was not (or could not safely be) retried.
    #[error("{request}: network error after {attempts} attempt(s)")]
    Network {
        /// The request.
        request: RequestInfo,
        /// Attempts made.
        attempts: u32,
        /// The transport error (its URL removed).
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx response whose body was not the JSON expected.
    #[error("{request}: could not decode the response body")]
    Decode {
        /// The request.
        request: RequestInfo,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A response that is valid JSON but not the shape Graph documents.
    #[error("{request}: unexpected response: {reason}")]
    UnexpectedResponse {
        /// The request.
        request: RequestInfo,
        /// What was wrong.
        reason: String,
    },
    /// The client was configured with something unusable.
    #[error("invalid Graph client configuration")]
    Config(#[from] ConfigError),
}

fn fmt_detail(detail: &Option<Box<ApiErrorBody>>) -> String {
    match detail {
        Some(d) if !d.code.is_empty() || !d.message.is_empty() => {
            let id = d.request_id.as_deref().map(|r| format!(" (request-id {r})")).unwrap_or_default();
            format!(": {}: {}{}", d.code, d.message, id)
        }
        _ => String::new(),
    }
}

/// Configuration problems found before any request is sent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A URL that is not an absolute http(s) URL.
    #[error("invalid URL {0:?}: expected an absolute http or https URL")]
    InvalidUrl(String),
    /// A cloud name that is not known.
    #[error("unknown cloud {0:?}: expected global, usgov, usgovdod or china")]
    UnknownCloud(String),
    /// A path that cannot be joined to the Graph base.
    #[error("invalid Graph path {0:?}")]
    InvalidPath(String),
    /// An absolute URL (e.g. a nextLink) pointing at another host; the
    /// client refuses to send the bearer token there.
    #[error("refusing to follow a link to another origin than the Graph base: {0}")]
    ForeignLink(String),
    /// A request header name or value that HTTP does not allow.
    #[error("invalid request header {0:?}")]
    InvalidHeader(String),
    /// reqwest could not build its client.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

impl GraphError {
    /// The request this error is about, when there is one.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Self::Throttled { request, .. }
            | Self::Transient { request, .. }
            | Self::NotFound { request, .. }
            | Self::Conflict { request, .. }
            | Self::PermissionDenied { request, .. }
            | Self::InvalidRequest { request, .. }
            | Self::DeltaExpired { request, .. }
            | Self::Auth { request, .. }
            | Self::Network { request, .. }
            | Self::Decode { request, .. }
            | Self::UnexpectedResponse { request, .. } => Some(request),
            Self::Config(_) => None,
        }
    }

    /// Whether trying the same call again later may succeed without any
    /// change (throttling, transient server, network or token-endpoint
    /// failures). The
    /// reconcile loop uses this to choose "retry the run" over "report".
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Transient { .. } | Self::Network { .. } => true,
            Self::Auth { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// True for 404s (used by replication-lag waits and natural-key lookups).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Graph's error code, when the service sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { detail, .. } => Some(&detail.code),
            Self::DeltaExpired { code, .. } => Some(code),
            Self::Throttled { detail, .. }
            | Self::Transient { detail, .. }
            | Self::NotFound { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::PermissionDenied { detail, .. } => detail.as_ref().map(|d| d.code.as_str()),
            _ => None,
        }
    }

    /// Graph's request id, when the service sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { detail, .. } => detail.request_id.as_deref(),
            Self::Throttled { detail, .. }
            | Self::Transient { detail, .. }
            | Self::NotFound { detail, .. }
            | Self::Conflict { detail, .. }
            | Self::PermissionDenied { detail, .. } => detail.as_ref().and_then(|d| d.request_id.as_deref()),
            _ => None,
        }
    }
}

/// What the retry loop should do with an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 429, 503: wait for `Retry-After` (or back off) and retry; the service
    /// did not process the request, so this is safe even for POST.
    Throttled,
    /// 500, 502, 504: back off with jitter; the request may have been
    /// processed, so only idempotent (or caller-marked) requests retry.
    ServerError,
    /// Anything else: not retried.
    Fatal,
}

/// Classifies a status for the retry loop (the one place retry policy lives).
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        429 | 503 => StatusClass::Throttled,
        500 | 502 | 504 => StatusClass::ServerError,
        _ => StatusClass::Fatal,
    }
}

/// Builds the typed error for a final non-success response.
pub fn error_from_response(
    request: RequestInfo,
    status: u16,
    body: Option<&Value>,
    header_request_id: Option<String>,
    attempts: u32,
    retry_after: Option<Duration>,
) -> GraphError {
    let mut detail = body.and_then(ApiErrorBody::parse).map(Box::new);
    if let Some(d) = detail.as_mut() {
        // Graph's text may echo what was sent: never a secret tenantctl sent.
        d.redact_secrets();
        if d.request_id.is_none() {
            d.request_id.clone_from(&header_request_id);
        }
    }
    let code = detail.as_ref().map(|d| d.code.clone()).unwrap_or_default();
    if status == 410 || DELTA_EXPIRED_CODES.iter().any(|c| c.eq_ignore_ascii_case(&code)) {
        let code = if code.is_empty() { "HTTP 410".to_owned() } else { code };
        return GraphError::DeltaExpired { request, code };
    }
    match status {
        429 => GraphError::Throttled { request, status, attempts, retry_after, detail },
        503 if retry_after.is_some() => GraphError::Throttled { request, status, attempts, retry_after, detail },
        500..=599 => GraphError::Transient { request, last_status: Some(status), attempts, detail },
        404 => GraphError::NotFound { request, detail },
        409 | 412 => GraphError::Conflict { request, status, detail },
        401 | 403 => {
            let permission = permission_for(&request.method, request.resource_path());
            GraphError::PermissionDenied { request, status, permission, detail }
        }
        _ => {
            let detail = detail.unwrap_or_else(|| {
                Box::new(ApiErrorBody {
                    code: format!("HTTP{status}"),
                    message: "no Graph error body".to_owned(),
                    request_id: header_request_id,
                    ..ApiErrorBody::default()
                })
            });
            GraphError::InvalidRequest { request, status, detail }
        }
    }
}

/// The Graph application permissions a 403 most likely means are missing,
/// from Microsoft's permission table for this exact request (generated into
/// `graph-metadata`): the documented permissions that grant it, and those it
/// also requires (conditional access writes need `Policy.Read.All` and
/// `Application.Read.All` besides `Policy.ReadWrite.ConditionalAccess`).
pub fn permission_for(method: &str, resource_path: &str) -> Option<String> {
    let path = resource_path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let m = graph_metadata::metadata();
    let rule = m.permission_rule(method, &segs)?;
    let mut text = rule.granted_by(m.documented_permissions()).join(" or ");
    if !rule.all_of.is_empty() {
        text = format!("{text} together with {}", rule.all_of.join(" and "));
    }
    // Creating a role-assignable group, or changing its members or owners,
    // also needs RoleManagement.ReadWrite.Directory (Graph "Create group",
    // example 3), which the table does not say.
    let group_write = matches!((method, segs.as_slice()), ("POST", ["groups"]) | ("POST" | "DELETE", ["groups", _, "members" | "owners", ..]));
    if group_write && !text.is_empty() {
        text = format!("{text} (and RoleManagement.ReadWrite.Directory for a role-assignable group)");
    }
    // Adding a group to a catalog with application permissions also needs
    // Group.ReadWrite.All (v1.0 "Create accessPackageResourceRequest").
    if matches!((method, segs.as_slice()), ("POST", ["identityGovernance", "entitlementManagement", "resourceRequests"])) && !text.is_empty() {
        text = format!("{text} (and Group.ReadWrite.All when the resource is a group)");
    }
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(method: &str, url: &str) -> RequestInfo {
        RequestInfo::new(method, &url::Url::parse(url).unwrap())
    }

    #[test]
    fn request_info_redacts_state_tokens() {
        let r = req("GET", "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc123&$select=id");
        assert_eq!(r.to_string(), "GET /v1.0/users/delta?$deltatoken=***&$select=id");
        assert_eq!(r.resource_path(), "/users/delta");
    }

    #[test]
    fn permissions_come_from_the_generated_table() {
        assert_eq!(permission_for("GET", "/directoryObjects/abc").as_deref(), Some("Directory.Read.All"));
        assert_eq!(permission_for("POST", "/groups").as_deref(), Some("Group.ReadWrite.All (and RoleManagement.ReadWrite.Directory for a role-assignable group)"));
        assert_eq!(permission_for("POST", "/groups/g/members/$ref").as_deref(), Some("Group.ReadWrite.All (and RoleManagement.ReadWrite.Directory for a role-assignable group)"));
        assert_eq!(permission_for("PATCH", "/groups/g").as_deref(), Some("Group.ReadWrite.All"));
        assert_eq!(
            permission_for("POST", "/identity/conditionalAccess/policies").as_deref(),
            Some("Policy.ReadWrite.ConditionalAccess together with Application.Read.All and Policy.Read.All")
        );
        assert_eq!(
            permission_for("POST", "/deviceManagement/windowsAutopilotDeploymentProfiles/1/assignments").as_deref(),
            Some("DeviceManagementServiceConfig.ReadWrite.All")
        );
        assert_eq!(
            permission_for("PATCH", "/deviceManagement/deviceConfigurations/1").as_deref(),
            Some("DeviceManagementConfiguration.ReadWrite.All")
        );
        assert!(permission_for("GET", "/domains").is_some_and(|p| p.contains("Directory.Read.All")));
        assert!(permission_for("POST", "/roleManagement/directory/roleAssignments").is_some_and(|p| p == "RoleManagement.ReadWrite.Directory"));
        assert_eq!(
            permission_for("POST", "/identityGovernance/entitlementManagement/resourceRequests").as_deref(),
            Some("EntitlementManagement.ReadWrite.All (and Group.ReadWrite.All when the resource is a group)")
        );
        assert_eq!(permission_for("GET", "/usersx"), None);
        assert_eq!(permission_for("GET", "/me"), None);
    }

    #[test]
    fn intune_message_is_unwrapped() {
        let raw = "{\r\n  \"_version\": 3,\r\n  \"Message\": \"An error has occurred - Operation ID (for customer support): 0000 - Activity ID: 1111\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null\r\n}";
        assert_eq!(
            unwrap_intune_message(raw),
            "An error has occurred - Operation ID (for customer support): 0000 - Activity ID: 1111"
        );
        assert_eq!(unwrap_intune_message("plain text"), "plain text");
        assert_eq!(unwrap_intune_message("} weird {"), "} weird {");
        assert_eq!(unwrap_intune_message("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn graph_error_shape_is_parsed_with_request_id() {
        let body = json!({"error":{"code":"Request_BadRequest","message":"Another object with the same value for property userPrincipalName already exists.","innerError":{"request-id":"rid-1","date":"2024-01-01T00:00:00"},"details":[{"target":"userPrincipalName","code":"ObjectConflict"}]}});
        let e = error_from_response(req("POST", "https://g/v1.0/users"), 400, Some(&body), None, 1, None);
        assert_eq!(e.code(), Some("Request_BadRequest"));
        assert_eq!(e.request_id(), Some("rid-1"));
        let text = e.to_string();
        assert!(text.starts_with("POST /v1.0/users: rejected (HTTP 400) Request_BadRequest"), "{text}");
        assert!(text.contains("rid-1"));
        match e {
            GraphError::InvalidRequest { detail: d, .. } => {
                assert_eq!(d.details[0].code, "ObjectConflict");
                assert_eq!(d.details[0].target.as_deref(), Some("userPrincipalName"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn statuses_map_to_variants() {
        let r = || req("GET", "https://g/beta/deviceManagement/deviceConfigurations");
        assert!(matches!(error_from_response(r(), 404, None, None, 1, None), GraphError::NotFound { .. }));
        assert!(matches!(error_from_response(r(), 409, None, None, 1, None), GraphError::Conflict { .. }));
        let e = error_from_response(r(), 403, None, None, 1, None);
        assert!(e.to_string().contains("DeviceManagementConfiguration.ReadWrite.All"), "{e}");
        assert!(matches!(error_from_response(r(), 410, None, None, 1, None), GraphError::DeltaExpired { .. }));
        let body = json!({"error":{"code":"syncStateNotFound","message":"expired"}});
        assert!(matches!(error_from_response(r(), 400, Some(&body), None, 1, None), GraphError::DeltaExpired { .. }));
        let e = error_from_response(r(), 502, None, None, 3, None);
        assert!(e.is_retryable());
        assert_eq!(e.to_string(), "GET /beta/deviceManagement/deviceConfigurations failed after 3 attempt(s) (last status HTTP 502)");
        let e = error_from_response(r(), 400, Some(&json!("not an error")), Some("hdr-id".into()), 1, None);
        assert_eq!(e.request_id(), Some("hdr-id"));
        assert!(!e.is_retryable());
        assert_eq!(classify_status(503), StatusClass::Throttled);
        assert_eq!(classify_status(504), StatusClass::ServerError);
        assert_eq!(classify_status(501), StatusClass::Fatal);
    }
}
