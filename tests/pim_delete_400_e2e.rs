//! Deleting an active assignment that exists only as a PIM schedule: Graph
//! may answer `DELETE /roleManagement/directory/roleAssignments/{scheduleId}`
//! with 400 (Request_BadRequest, invalid object identifier) rather than 404.
//! The executor then removes it through PIM, as it does on a 404. A proxy in
//! front of the sandbox turns that 404 into Graph's 400.

mod common;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::*;
use engine::{Action, Ledger};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig};
use sandbox::{Licences, Sandbox, SandboxConfig};
use serde_json::{json, Value};

const BASE: &str = r#"
[tenant]
primary_domain = "contoso.onmicrosoft.com"

[user.adele]
user_principal_name = "adele@contoso.onmicrosoft.com"
display_name = "Adele"
mail_nickname = "adele"
"#;

const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";

struct Proxy {
    upstream: String,
    http: reqwest::Client,
}

async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let path = req.uri().path_and_query().map(|x| x.as_str().to_string()).unwrap_or_default();
    let is_delete = req.method() == axum::http::Method::DELETE && req.uri().path().contains("/roleManagement/directory/roleAssignments/");
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = p.http.request(method, format!("{}{path}", p.upstream));
    for (name, value) in req.headers() {
        if name != "host" && name != "content-length" {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let body: Bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap_or_default();
    let Ok(resp) = out.body(body).send().await else {
        return axum::http::StatusCode::BAD_GATEWAY.into_response();
    };
    if is_delete && resp.status().as_u16() == 404 {
        let id = path.rsplit('/').next().unwrap_or_default();
        let body = json!({"error": {"code": "Request_BadRequest", "message": format!("Invalid object identifier '{id}'.")}});
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut builder = Response::builder().status(status);
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    builder.body(axum::body::Body::from(bytes)).unwrap()
}

async fn proxy(upstream: String) -> String {
    let app = axum::Router::new().fallback(handle).with_state(Arc::new(Proxy { upstream, http: reqwest::Client::new() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn client_at(sb: &sandbox::SandboxHandle, base: &str) -> GraphClient {
    // The token endpoint stays the sandbox's; Graph traffic goes through the proxy.
    let cloud = Cloud::custom(&sb.base_url(), base).unwrap();
    let mut config = GraphConfig::new(cloud);
    config.retry = fast_retry();
    GraphClient::new(config, Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret())).unwrap()
}

async fn schedules(c: &GraphClient, principal: &str) -> Vec<Value> {
    let all = c.v1().list_all("/roleManagement/directory/roleAssignmentSchedules").await.unwrap();
    all.into_iter().filter(|s| s["principalId"] == json!(principal) && s["roleDefinitionId"] == SECURITY_READER).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_for_a_schedule_id_at_role_assignments_removes_the_schedule_through_pim() {
    let sb = Sandbox::start(SandboxConfig::in_memory().with_domain("contoso.onmicrosoft.com").with_licences(Licences::P2)).await.expect("sandbox starts");
    let c = client_at(&sb, &proxy(sb.base_url().to_string()).await);
    let mut ledger = Ledger::default();
    let base = schema::load_str(&[("t.toml", BASE)]).unwrap();
    apply(&c, &plan(&c, &base, &ledger).await, &mut ledger).await;
    let adele = ledger.id(&"user.adele".parse().unwrap()).unwrap().to_string();
    // Granted through PIM with no end: a schedule not yet in /roleAssignments.
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/roleManagement/directory/roleAssignmentScheduleRequests");
    req.body = Some(json!({"action": "adminAssign", "principalId": adele, "roleDefinitionId": SECURITY_READER, "directoryScopeId": "/",
        "justification": "x", "scheduleInfo": {"expiration": {"type": "noExpiration"}}}));
    c.v1().execute(req).await.expect("PIM request");
    assert_eq!(schedules(&c, &adele).await.len(), 1);
    // Declared already expired: the plan deletes it.
    let st = schema::load_str(&[("t.toml", &format!("{BASE}\n[role_assignment.adele-security]\nprincipal = \"adele\"\nrole = \"Security Reader\"\nassignment = \"active\"\nexpires = 2026-01-01T00:00:00Z\n"))]).unwrap();
    let p = plan(&c, &st, &ledger).await;
    let del = p.changes.iter().find(|ch| ch.address.to_string() == "role_assignment.adele-security").expect("planned");
    assert_eq!(del.action, Action::Delete, "{del:?}");
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now);
    engine::apply::Executor::execute(&exec, del, &p.ids).await.expect("the delete succeeds through PIM despite the 400");
    assert!(schedules(&c, &adele).await.is_empty(), "the schedule is still there");
    sb.shutdown().await.unwrap();
}
