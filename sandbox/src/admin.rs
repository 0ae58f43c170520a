//! The admin API under `/_sandbox/` (loopback peers only, no auth, no faults,
//! no request accounting): faults, request counts, seeding, changing
//! objects behind the tool's back, expiring delta tokens, health.

use crate::faults::Faults;
use crate::seed::SeedSpec;
use crate::server::{lock, App, Peer};
use crate::store::ChangeKind;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn admin_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

async fn loopback_only(req: Request, next: Next) -> Response {
    let ok = req.extensions().get::<Peer>().is_none_or(|p| p.0.ip().is_loopback());
    if ok {
        next.run(req).await
    } else {
        admin_error(StatusCode::FORBIDDEN, "the admin API is only served to loopback clients")
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(admin_error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))))
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/_sandbox/health", get(health))
        .route("/_sandbox/faults", put(put_faults).get(get_faults))
        .route("/_sandbox/licences", put(put_licences).get(get_licences))
        .route("/_sandbox/requests", get(get_requests).delete(reset_requests))
        .route("/_sandbox/permissions", get(get_permissions).put(put_permissions))
        .route("/_sandbox/seed", post(seed))
        .route("/_sandbox/delta/expire", post(expire_delta))
        .route("/_sandbox/certificates", get(get_certificates).put(put_certificate).delete(delete_certificates))
        .route("/_sandbox/objects/{collection}", post(create_object))
        .route("/_sandbox/objects/{collection}/{id}", get(get_object).patch(patch_object).delete(delete_object))
        .route("/_sandbox/clock", put(crate::clock::put_clock).get(crate::clock::get_clock))
        .layer(middleware::from_fn(loopback_only))
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let t = lock(&app.tenant);
    let mut counts = Map::new();
    for c in ["users", "groups", "deletedItems", "roleAssignments", "deviceConfigurations", "deviceCompliancePolicies", "configurationPolicies", "windowsAutopilotDeploymentProfiles", "conditionalAccessPolicies"] {
        counts.insert(c.into(), json!(t.len(c)));
    }
    Json(json!({"status": "ok", "tenant_id": t.info.tenant_id, "domain": t.info.domain, "persistent": t.is_persistent(), "objects": counts})).into_response()
}

async fn get_faults(State(app): State<Arc<App>>) -> Response {
    Json(lock(&app.faults).cfg.clone()).into_response()
}

async fn put_faults(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let f: Faults = match parse(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(e) = f.validate() {
        return admin_error(StatusCode::BAD_REQUEST, e.to_string());
    }
    lock(&app.faults).set(f.clone());
    Json(f).into_response()
}

async fn get_permissions(State(app): State<Arc<App>>) -> Response {
    Json(json!({"permissions": lock(&app.permissions).as_slice()})).into_response()
}

/// `{"permissions": ["User.ReadWrite.All", ...]}` grants exactly these;
/// `{"permissions": null}` restores the documented default.
async fn put_permissions(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Grant {
        permissions: Option<Vec<String>>,
    }
    let g: Grant = match parse(&body) {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let p = g.permissions.unwrap_or_else(crate::permissions::documented);
    if let Err(e) = crate::check_permissions(&p) {
        return admin_error(StatusCode::BAD_REQUEST, e.to_string());
    }
    *lock(&app.permissions) = Arc::new(p.clone());
    Json(json!({"permissions": p})).into_response()
}

/// `{"licences": "p1"|"p2"}`: the tenant's licence tier.
async fn get_licences(State(app): State<Arc<App>>) -> Response {
    Json(json!({"licences": lock(&app.licences).as_str()})).into_response()
}

async fn put_licences(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        licences: crate::Licences,
    }
    let b: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    *lock(&app.licences) = b.licences;
    Json(json!({"licences": b.licences.as_str()})).into_response()
}

async fn get_requests(State(app): State<Arc<App>>) -> Response {
    Json(lock(&app.counts).clone()).into_response()
}

async fn reset_requests(State(app): State<Arc<App>>) -> Response {
    *lock(&app.counts) = Default::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn seed(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let spec: SeedSpec = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let app2 = app.clone();
    let res = tokio::task::spawn_blocking(move || {
        let mut t = lock(&app2.tenant);
        let report = crate::seed::seed(&mut t, &spec);
        t.flush().map(|()| report)
    })
    .await;
    match res {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn expire_delta(State(app): State<Arc<App>>) -> Response {
    let mut t = lock(&app.tenant);
    t.expire_delta_tokens();
    match t.flush() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_object(State(app): State<Arc<App>>, Path((coll, id)): Path<(String, String)>) -> Response {
    let t = lock(&app.tenant);
    match t.get(&coll, &id) {
        Some(r) => Json(json!({"data": r.data, "nav": r.nav, "created_ms": r.created_ms})).into_response(),
        None => admin_error(StatusCode::NOT_FOUND, format!("no object {coll}/{id}")),
    }
}

/// Merges the body's top-level properties into the stored object, with no
/// validation: this is how tests simulate drift made outside the tool.
async fn patch_object(State(app): State<Arc<App>>, Path((coll, id)): Path<(String, String)>, body: axum::body::Bytes) -> Response {
    let patch: Map<String, Value> = match parse(&body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut t = lock(&app.tenant);
    let ok = t.update(&coll, &id, |r| {
        for (k, v) in patch {
            if k != "id" {
                r.data.insert(k, v);
            }
        }
    });
    if !ok {
        return admin_error(StatusCode::NOT_FOUND, format!("no object {coll}/{id}"));
    }
    if let Err(e) = t.flush() {
        return admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    match t.get(&coll, &id) {
        Some(r) => Json(Value::Object(r.data.clone())).into_response(),
        None => admin_error(StatusCode::NOT_FOUND, format!("no object {coll}/{id}")),
    }
}

/// Creates an object behind the tool's back (e.g. a device, which an app
/// cannot create through Graph): the body's properties, a new id unless
/// it names one. Answers the stored object.
async fn create_object(State(app): State<Arc<App>>, Path(coll): Path<String>, body: axum::body::Bytes) -> Response {
    let mut data: Map<String, Value> = match parse(&body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let id = data.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(crate::resources::new_id);
    data.insert("id".into(), json!(id));
    let mut t = lock(&app.tenant);
    if t.get(&coll, &id).is_some() {
        return admin_error(StatusCode::CONFLICT, format!("{coll}/{id} exists"));
    }
    t.put(&coll, &id, crate::store::Record { data: data.clone(), nav: Map::new(), created_ms: 0 });
    if let Err(e) = t.flush() {
        return admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    (StatusCode::CREATED, Json(Value::Object(data))).into_response()
}

/// Deletes an object permanently behind the tool's back.
async fn delete_object(State(app): State<Arc<App>>, Path((coll, id)): Path<(String, String)>) -> Response {
    let mut t = lock(&app.tenant);
    if t.remove(&coll, &id, ChangeKind::HardDelete).is_none() {
        return admin_error(StatusCode::NOT_FOUND, format!("no object {coll}/{id}"));
    }
    t.purge_links(&id);
    match t.flush() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The client's registered certificates, by `x5t#S256` thumbprint.
async fn get_certificates(State(app): State<Arc<App>>) -> Response {
    Json(json!({"thumbprints": app.auth.certificates.thumbprints()})).into_response()
}

/// Register a certificate credential: the body is PEM text (its first
/// `CERTIFICATE` block is used; a private key beside it is ignored).
async fn put_certificate(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match crate::certs::RegisteredCertificate::from_pem(&text) {
        Ok(cert) => {
            let thumbprint = cert.thumbprint_sha256.clone();
            app.auth.certificates.register(cert);
            Json(json!({"thumbprint": thumbprint})).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, format!("not a certificate: {e}")),
    }
}

async fn delete_certificates(State(app): State<Arc<App>>) -> Response {
    app.auth.certificates.clear();
    StatusCode::NO_CONTENT.into_response()
}
