//! Unknown is never in sync: when reads fail (a garbage token answered 401
//! on every request, a permission missing for one collection answered 403)
//! `plan`, `drift` and `apply` exit 1 naming what could not be read, with
//! or without `--detailed-exitcode`, and drift never says "in sync".

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::*;

fn fixture(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("tenant.toml"),
        format!(
            r#"
[tenant]
primary_domain = "{domain}"

[governance]
approvals_required = 0
unattended = "a test fixture of rendering and reads, not of approval"

[user.ada]
user_principal_name = "ada@{domain}"
display_name = "Ada Lovelace"
mail_nickname = "ada"

[group.devices]
display_name = "Managed Devices"
mail_nickname = "managed-devices"
members = ["ada"]

[device_configuration.base]
odata_type = "windows10GeneralConfiguration"
display_name = "Baseline"
settings = {{ passwordRequired = true }}
assignments = {{ include = ["devices"] }}

[conditional_access.mfa]
display_name = "Require MFA"
state = "enabled"
users = {{ include_users = ["All"], exclude_users = ["ada"] }}
applications = {{ include_applications = ["All"] }}
grant = {{ built_in_controls = ["mfa"] }}
"#
        ),
    )
    .unwrap();
}

/// The fixture applied with the library, its ledger where the CLI finds it.
async fn converged(sb: &sandbox::SandboxHandle, work: &Path) -> std::path::PathBuf {
    let dir = work.join("desired");
    fixture(&dir, &sb.domain());
    let state = schema::load(&dir).expect("fixture loads");
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.join("tenantctl.lock"), ledger.render()).unwrap();
    dir
}

struct Run {
    code: Option<i32>,
    out: String,
}

fn run(mut c: std::process::Command, args: &[&str]) -> Run {
    let o = c.args(args).output().expect("tenantctl runs");
    Run {
        code: o.status.code(),
        out: format!("{}\n{}", text(&o.stdout), text(&o.stderr)),
    }
}

/// plan, drift and apply, each with and without --detailed-exitcode where
/// it has one: all exit 1, say what could not be read, never "in sync" or
/// "no changes", and never change the tenant.
fn assert_every_command_fails(
    command: impl Fn() -> std::process::Command,
    dir: &str,
    unread: &str,
    secret: &str,
) {
    let now = "2026-11-23T12:00:00Z";
    let runs = [
        ("plan", run(command(), &["plan", dir])),
        (
            "plan --detailed-exitcode",
            run(command(), &["plan", dir, "--detailed-exitcode"]),
        ),
        (
            "plan --format json",
            run(
                command(),
                &["plan", dir, "--format", "json", "--detailed-exitcode"],
            ),
        ),
        (
            "drift",
            run(command(), &["drift", dir, "--no-record", "--now", now]),
        ),
        (
            "drift --detailed-exitcode",
            run(
                command(),
                &[
                    "drift",
                    dir,
                    "--detailed-exitcode",
                    "--no-record",
                    "--now",
                    now,
                ],
            ),
        ),
        (
            "drift --format markdown",
            run(
                command(),
                &[
                    "drift",
                    dir,
                    "--format",
                    "markdown",
                    "--no-record",
                    "--now",
                    now,
                ],
            ),
        ),
        (
            "drift --format html",
            run(
                command(),
                &[
                    "drift",
                    dir,
                    "--format",
                    "html",
                    "--no-record",
                    "--now",
                    now,
                ],
            ),
        ),
        ("apply", run(command(), &["apply", dir, "--auto-approve"])),
    ];
    for (what, r) in &runs {
        assert_eq!(
            r.code,
            Some(1),
            "{what} must exit 1 when reads fail:\n{}",
            r.out
        );
        assert!(
            r.out.contains("could not be read"),
            "{what} says what could not be read:\n{}",
            r.out
        );
        assert!(r.out.contains(unread), "{what} names {unread}:\n{}", r.out);
        assert!(
            !r.out.contains("in sync:") && !r.out.contains("no changes"),
            "{what} claimed in sync:\n{}",
            r.out
        );
        assert!(
            !r.out.contains(secret),
            "{what} leaked the credential:\n{}",
            r.out
        );
    }
    let apply = &runs[runs.len() - 1].1;
    assert!(apply.out.contains("nothing was applied"), "{}", apply.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_token_401_on_every_request_fails_plan_drift_and_apply() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = converged(&sb, work.path()).await;
    let garbage = "garbage.token.SENTINEL-7f3a";
    let command = || {
        let mut c = command(&sb, work.path());
        c.env_remove("AZURE_CLIENT_SECRET")
            .env("TENANTCTL_ACCESS_TOKEN", garbage);
        c
    };
    assert_every_command_fails(
        command,
        dir.to_str().unwrap(),
        "device_configuration.base",
        garbage,
    );
    // With the right credentials the same tenant is in sync: the failures
    // above were the token's.
    let ok = run(
        common::command(&sb, work.path()),
        &[
            "drift",
            dir.to_str().unwrap(),
            "--detailed-exitcode",
            "--no-record",
            "--now",
            "2026-11-23T12:00:00Z",
        ],
    );
    assert_eq!(ok.code, Some(0), "{}", ok.out);
    assert!(ok.out.contains("in sync:"), "{}", ok.out);
    sb.shutdown().await.unwrap();
}

/// A loopback proxy in front of the sandbox that answers 403 (as Graph does
/// for a missing permission) for one collection and passes the rest on.
async fn forbidding_proxy(
    upstream: String,
    forbidden: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    struct Proxy {
        upstream: String,
        forbidden: &'static str,
        http: reqwest::Client,
    }
    async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
        let path = req
            .uri()
            .path_and_query()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default();
        if req.uri().path().contains(p.forbidden) {
            let body = serde_json::json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}});
            return (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
        let mut out = p.http.request(method, format!("{}{path}", p.upstream));
        for (name, value) in req.headers() {
            if name != "host" && name != "content-length" {
                out = out.header(name.as_str(), value.as_bytes());
            }
        }
        let body: Bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let resp = match out.body(body.clone()).send().await {
            Ok(r) => r,
            Err(_) => return axum::http::StatusCode::BAD_GATEWAY.into_response(),
        };
        let status = axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let mut builder = Response::builder().status(status);
        for (name, value) in resp.headers() {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
        }
        let mut bytes = resp.bytes().await.unwrap_or_default();
        // Inside a `$batch`, Graph answers the forbidden item 403 and the
        // rest as usual: do the same to the batch's responses.
        if path.ends_with("/$batch") {
            let sent: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let forbidden_ids: Vec<serde_json::Value> = sent["requests"].as_array().into_iter().flatten().filter(|r| r["url"].as_str().is_some_and(|u| u.contains(p.forbidden))).map(|r| r["id"].clone()).collect();
            let mut answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            for item in answer["responses"].as_array_mut().into_iter().flatten() {
                if forbidden_ids.contains(&item["id"]) {
                    item["status"] = serde_json::json!(403);
                    item["body"] = serde_json::json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}});
                }
            }
            bytes = Bytes::from(serde_json::to_vec(&answer).unwrap_or_default());
        }
        builder.body(axum::body::Body::from(bytes)).unwrap()
    }
    let state = Arc::new(Proxy {
        upstream,
        forbidden,
        http: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_one_collection_fails_plan_drift_and_apply() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = converged(&sb, work.path()).await;
    let (proxy, task) =
        forbidding_proxy(sb.base_url(), "/identity/conditionalAccess/policies").await;
    let command = || {
        let mut c = command(&sb, work.path());
        c.env("TENANTCTL_GRAPH_URL", &proxy);
        c
    };
    assert_every_command_fails(
        command,
        dir.to_str().unwrap(),
        "conditional_access.mfa",
        sb.client_secret(),
    );
    // The readable rest is still reported: drift says it matches.
    let drift = run(
        command(),
        &[
            "drift",
            dir.to_str().unwrap(),
            "--no-record",
            "--now",
            "2026-11-23T12:00:00Z",
        ],
    );
    assert!(
        drift
            .out
            .contains("incomplete: 1 resource(s) could not be read"),
        "{}",
        drift.out
    );
    task.abort();
    sb.shutdown().await.unwrap();
}
