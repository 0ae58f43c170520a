//! Wire-level tests of the Graph client against an in-test mock server:
//! exact methods, URLs, headers and bodies, retries, paging, batching,
//! delta and error mapping.

mod graph_support;

use std::sync::Arc;
use std::time::Duration;

use graph_support::{dropping_server, start, static_client, test_config, Reply};
use providers::graph::{BatchRequest, Credential, GraphClient, GraphError, GraphRequest, Method, Secret};
use serde_json::{json, Value};

#[tokio::test]
async fn send_builds_exact_url_headers_and_body() {
    let server = start(|r, _| {
        if r.method == "POST" {
            Reply::json(201, json!({"id": "new-id"})).header("request-id", "rid-post")
        } else {
            Reply::empty(204).header("request-id", "rid-patch")
        }
    })
    .await;
    let (client, _) = static_client(&server.base);
    let created = client.post_json("/groups", json!({"displayName": "G"})).await.unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.body, Some(json!({"id": "new-id"})));
    assert_eq!(created.request_id.as_deref(), Some("rid-post"));
    let patched = client
        .beta()
        .send(Method::PATCH, "deviceManagement/deviceConfigurations/abc", Some(json!({"a": 1})), &[("Prefer", "return=minimal")])
        .await
        .unwrap();
    assert_eq!(patched.status, 204);
    assert_eq!(patched.body, None);

    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1.0/groups");
    assert_eq!(reqs[0].header("authorization").as_deref(), Some("Bearer static-token-value"));
    assert_eq!(reqs[0].header("content-type").as_deref(), Some("application/json"));
    assert_eq!(reqs[0].json(), json!({"displayName": "G"}));
    assert_eq!(reqs[1].method, "PATCH");
    assert_eq!(reqs[1].path, "/beta/deviceManagement/deviceConfigurations/abc");
    assert_eq!(reqs[1].header("prefer").as_deref(), Some("return=minimal"));
    let stats = client.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.by_method.get("POST"), Some(&1));
    assert_eq!(stats.by_method.get("PATCH"), Some(&1));
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn list_all_follows_next_links_and_resends_consistency_level() {
    let server = start(|r, _| {
        let base = format!("http://{}", r.header("host").unwrap());
        match r.query_param("$skiptoken").as_deref() {
            None => Reply::json(200, json!({"@odata.count": 5, "value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": format!("{base}/v1.0/users?$skiptoken=p2")})),
            Some("p2") => Reply::json(200, json!({"value": [{"id": "3"}, {"id": "4"}], "@odata.nextLink": format!("{base}/v1.0/users?$skiptoken=p3")})),
            Some("p3") => Reply::json(200, json!({"value": [{"id": "5"}]})),
            Some(_) => Reply::empty(500),
        }
    })
    .await;
    let (client, _) = static_client(&server.base);
    let items = client
        .list_all_with("/users?$filter=endsWith(mail,'@x.com')&$count=true", &[("ConsistencyLevel", "eventual")])
        .await
        .unwrap();
    let ids: Vec<&str> = items.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].query_param("$filter").as_deref(), Some("endsWith(mail,'@x.com')"));
    for r in &reqs {
        assert_eq!(r.path, "/v1.0/users");
        assert_eq!(r.header("consistencylevel").as_deref(), Some("eventual"), "{r:?}");
        assert_eq!(r.header("authorization").as_deref(), Some("Bearer static-token-value"));
    }
    assert_eq!(reqs[2].query_param("$skiptoken").as_deref(), Some("p3"));
}

#[tokio::test]
async fn next_link_to_another_host_is_refused() {
    let server = start(|_, _| Reply::json(200, json!({"value": [], "@odata.nextLink": "https://evil.example/v1.0/users?$skiptoken=x"}))).await;
    let (client, _) = static_client(&server.base);
    let err = client.list_all("/users").await.unwrap_err();
    assert!(matches!(err, GraphError::Config(_)), "{err:?}");
    assert_eq!(server.graph_requests().len(), 1);
}

#[tokio::test]
async fn batch_chunks_45_requests_into_3_batches_and_reorders() {
    let server = start(|r, _| {
        let body = r.json();
        let mut responses: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sub| json!({"id": sub["id"], "status": 200, "headers": {"Content-Type": "application/json"}, "body": {"echo": sub["url"]}}))
            .collect();
        responses.reverse(); // out of order, as Graph may answer
        Reply::json(200, json!({"responses": responses}))
    })
    .await;
    let (client, _) = static_client(&server.base);
    let requests: Vec<BatchRequest> = (0..45)
        .map(|i| {
            if i % 2 == 0 {
                BatchRequest::get(format!("/users/u{i}?$select=id"))
            } else {
                BatchRequest::new(Method::PATCH, format!("groups/g{i}")).json(json!({"description": i}))
            }
        })
        .collect();
    let responses = client.batch(requests.clone()).await.unwrap();
    assert_eq!(responses.len(), 45);
    for (i, resp) in responses.iter().enumerate() {
        assert_eq!(resp.status, 200);
        let expected = if i % 2 == 0 { format!("/users/u{i}?$select=id") } else { format!("/groups/g{i}") };
        assert_eq!(resp.body.as_ref().unwrap()["echo"], json!(expected), "position {i}");
    }
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 3);
    let mut all_ids = std::collections::HashSet::new();
    let sizes: Vec<usize> = reqs
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, "/v1.0/$batch");
            let subs = r.json()["requests"].as_array().unwrap().clone();
            let ids: std::collections::HashSet<String> = subs.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
            assert_eq!(ids.len(), subs.len(), "ids unique within a batch");
            all_ids.extend(ids);
            for s in &subs {
                if s.get("body").is_some() {
                    assert_eq!(s["headers"]["Content-Type"], json!("application/json"));
                    assert_eq!(s["method"], json!("PATCH"));
                } else {
                    assert!(s.get("headers").is_none());
                }
            }
            subs.len()
        })
        .collect();
    assert_eq!(sizes, [20, 20, 5]);
    assert_eq!(all_ids.len(), 45);
    let stats = client.stats();
    assert_eq!(stats.batches, 3);
    assert_eq!(stats.batch_subrequests, 45);
}

#[tokio::test]
async fn batch_retries_throttled_sub_requests_after_their_retry_after() {
    let server = start(|r, earlier| {
        let first_batch = earlier.is_empty();
        let responses: Vec<Value> = r.json()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sub| {
                if first_batch && sub["url"] == json!("/users/b") {
                    json!({"id": sub["id"], "status": 429, "headers": {"Retry-After": "3"}, "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}})
                } else if first_batch && sub["url"] == json!("/users/c") {
                    json!({"id": sub["id"], "status": 503, "headers": {"Retry-After": "1"}})
                } else {
                    json!({"id": sub["id"], "status": 200, "body": {"url": sub["url"]}})
                }
            })
            .collect();
        Reply::json(200, json!({"responses": responses}))
    })
    .await;
    let (client, sleeper) = static_client(&server.base);
    let out = client
        .batch(vec![BatchRequest::get("/users/a"), BatchRequest::get("/users/b"), BatchRequest::get("/users/c")])
        .await
        .unwrap();
    assert!(out.iter().all(|r| r.status == 200), "{out:?}");
    assert_eq!(out[1].body.as_ref().unwrap()["url"], json!("/users/b"));
    // Each sub-request waits for its own Retry-After: c after 1 s, b after 3 s.
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 3);
    let urls = |r: &graph_support::Recorded| -> Vec<Value> { r.json()["requests"].as_array().unwrap().iter().map(|s| s["url"].clone()).collect() };
    assert_eq!(urls(&reqs[1]), [json!("/users/c")]);
    assert_eq!(urls(&reqs[2]), [json!("/users/b")]);
    assert_eq!(sleeper.delays(), [Duration::from_secs(1), Duration::from_secs(2)], "each Retry-After honoured from the first answer");
    assert_eq!((out[0].attempts, out[1].attempts, out[2].attempts), (1, 2, 2));
    let stats = client.stats();
    assert_eq!(stats.throttled, 2);
    assert_eq!(stats.retries, 2);
}

#[tokio::test]
async fn a_sub_request_throttled_every_time_reports_the_attempts_it_took() {
    let server = start(|r, _| {
        let responses: Vec<Value> = r.json()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sub| {
                if sub["url"] == json!("/groups/g/owners") {
                    json!({"id": sub["id"], "status": 429, "headers": {"Retry-After": "0"}, "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}})
                } else if sub["url"] == json!("/groups/h/owners") {
                    json!({"id": sub["id"], "status": 424, "body": {"error": {"code": "FailedDependency", "message": "dependency failed"}}})
                } else {
                    json!({"id": sub["id"], "status": 200, "body": {"value": []}})
                }
            })
            .collect();
        Reply::json(200, json!({"responses": responses}))
    })
    .await;
    let (client, _) = static_client(&server.base);
    let out = client
        .batch(vec![BatchRequest::get("/groups/g/members"), BatchRequest::get("/groups/g/owners"), BatchRequest::get("/groups/h/owners")])
        .await
        .unwrap();
    assert_eq!(out[0].attempts, 1);
    // test_config allows 4 attempts in all; 424 (a failed dependency) is retried like 429.
    assert_eq!((out[1].attempts, out[2].attempts), (4, 4));
    let err = out[1].clone().into_result().unwrap_err();
    assert!(err.to_string().contains("4 attempt"), "{err}");
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 4, "the retries are re-batched together");
    assert!(reqs[1..].iter().all(|r| r.json()["requests"].as_array().unwrap().len() == 2));
}

#[tokio::test]
async fn batches_are_sent_concurrently_and_answers_keep_request_order() {
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    let server = start(move |r, _| {
        seen.lock().unwrap().push(std::time::Instant::now());
        let responses: Vec<Value> = r.json()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sub| json!({"id": sub["id"], "status": 200, "body": {"url": sub["url"]}}))
            .collect();
        // Each call takes 2 s: sent one after another, 3 calls arrive at least 2 s apart.
        Reply::json(200, json!({"responses": responses})).delayed(Duration::from_secs(2))
    })
    .await;
    let (client, _) = static_client(&server.base);
    let requests: Vec<BatchRequest> = (0..60).map(|i| BatchRequest::get(format!("/users/u{i}"))).collect();
    let out = client.batch(requests).await.unwrap();
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r.body.as_ref().unwrap()["url"], json!(format!("/users/u{i}")), "position {i}");
    }
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 3);
    let spread = arrivals[2].duration_since(arrivals[0]);
    assert!(spread < Duration::from_secs(2), "all three $batch calls were in flight together (spread {spread:?})");
}

#[tokio::test]
async fn batch_sub_errors_become_typed_errors() {
    let server = start(|r, _| {
        let subs = r.json()["requests"].as_array().unwrap().clone();
        Reply::json(200, json!({"responses": [
            {"id": subs[0]["id"], "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}},
            {"id": subs[1]["id"], "status": 201, "body": {"id": "x"}},
        ]}))
    })
    .await;
    let (client, _) = static_client(&server.base);
    let out = client
        .batch(vec![BatchRequest::get("/groups/missing"), BatchRequest::new(Method::POST, "/groups").json(json!({"displayName": "g"}))])
        .await
        .unwrap();
    let err = out[0].clone().into_result().unwrap_err();
    assert!(err.is_not_found());
    assert!(err.to_string().contains("GET /v1.0/groups/missing"), "{err}");
    assert_eq!(out[1].clone().into_result().unwrap(), Some(json!({"id": "x"})));
}

#[tokio::test]
async fn throttled_request_honours_retry_after() {
    let server = start(|_, earlier| {
        if earlier.is_empty() {
            Reply::json(429, json!({"error": {"code": "TooManyRequests", "message": "throttled"}})).header("Retry-After", "2")
        } else {
            Reply::json(200, json!({"ok": true}))
        }
    })
    .await;
    let (client, sleeper) = static_client(&server.base);
    let body = client.get_json("/deviceManagement/deviceConfigurations").await.unwrap();
    assert_eq!(body, json!({"ok": true}));
    assert_eq!(sleeper.delays(), [Duration::from_secs(2)]);
    let stats = client.stats();
    assert_eq!(stats.throttled, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.requests, 2);
}

#[tokio::test]
async fn retry_after_longer_than_the_cap_ends_with_throttled() {
    let server = start(|_, _| Reply::empty(429).header("Retry-After", "3600")).await;
    let (client, sleeper) = static_client(&server.base);
    let err = client.get_json("/users").await.unwrap_err();
    match &err {
        GraphError::Throttled { retry_after, attempts, status, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(3600)));
            assert_eq!(*attempts, 1);
            assert_eq!(*status, 429);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn service_unavailable_then_success() {
    let server = start(|_, earlier| if earlier.is_empty() { Reply::empty(503) } else { Reply::json(200, json!({"id": "1"})) }).await;
    let (client, sleeper) = static_client(&server.base);
    assert_eq!(client.get_json("/groups/1").await.unwrap(), json!({"id": "1"}));
    assert_eq!(server.graph_requests().len(), 2);
    assert_eq!(sleeper.delays().len(), 1);
    assert!(sleeper.delays()[0] <= Duration::from_millis(1), "full jitter within base delay");
}

#[tokio::test]
async fn bounded_retries_end_in_an_error_naming_the_request() {
    let server = start(|_, _| Reply::json(500, json!({"error": {"code": "InternalServerError", "message": "boom", "innerError": {"request-id": "rid-500"}}}))).await;
    let (client, sleeper) = static_client(&server.base);
    let err = client.get_json("/users?$select=id&$skiptoken=SECRETSTATE").await.unwrap_err();
    let text = err.to_string();
    assert_eq!(text, "GET /v1.0/users?$select=id&$skiptoken=*** failed after 4 attempt(s) (last status HTTP 500)");
    assert!(!format!("{err:?}").contains("SECRETSTATE"));
    assert!(err.is_retryable());
    assert_eq!(err.request_id(), Some("rid-500"));
    assert_eq!(server.graph_requests().len(), 4);
    assert_eq!(sleeper.delays().len(), 3);
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_after_a_server_error() {
    let server = start(|_, _| Reply::empty(502)).await;
    let (client, _) = static_client(&server.base);
    let err = client.post_json("/users", json!({"displayName": "u"})).await.unwrap_err();
    assert!(matches!(err, GraphError::Transient { last_status: Some(502), attempts: 1, .. }), "{err:?}");
    assert_eq!(server.graph_requests().len(), 1);
}

#[tokio::test]
async fn connection_drop_then_success_for_get() {
    let (base, seen) = dropping_server(1, r#"{"id":"abc"}"#).await;
    let (client, _) = static_client(&base);
    assert_eq!(client.get_json("/users/abc").await.unwrap(), json!({"id": "abc"}));
    assert_eq!(*seen.lock().unwrap(), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn unsafe_post_is_not_retried_after_a_connection_drop() {
    let (base, seen) = dropping_server(1, r#"{"id":"abc"}"#).await;
    let (client, _) = static_client(&base);
    let err = client.post_json("/users", json!({"displayName": "u"})).await.unwrap_err();
    assert!(matches!(err, GraphError::Network { attempts: 1, .. }), "{err:?}");
    assert!(err.to_string().starts_with("POST /v1.0/users: network error"), "{err}");
    assert_eq!(*seen.lock().unwrap(), 1);
}

#[tokio::test]
async fn post_marked_safe_is_retried_after_a_connection_drop() {
    let (base, seen) = dropping_server(1, r#"{"id":"abc"}"#).await;
    let (client, _) = static_client(&base);
    let request = GraphRequest::new(Method::POST, "/users").json(json!({"displayName": "u"})).safe_to_retry(true);
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.body, Some(json!({"id": "abc"})));
    assert_eq!(*seen.lock().unwrap(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind and drop a listener so the port is (almost certainly) closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (client, sleeper) = static_client(&base);
    let err = client.post_json("/users", json!({})).await.unwrap_err();
    // Nothing reached a server, so even a POST is retried up to the bound.
    assert!(matches!(err, GraphError::Network { attempts: 4, .. }), "{err:?}");
    assert_eq!(sleeper.delays().len(), 3);
}

#[tokio::test]
async fn per_request_timeout_is_retried_for_get() {
    let server = start(|_, earlier| {
        if earlier.is_empty() {
            Reply::json(200, json!({"slow": true})).delayed(Duration::from_millis(800))
        } else {
            Reply::json(200, json!({"slow": false}))
        }
    })
    .await;
    let (mut config, _) = test_config(&server.base);
    config.retry.request_timeout = Duration::from_millis(200);
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("t"))).unwrap();
    assert_eq!(client.get_json("/users").await.unwrap(), json!({"slow": false}));
    assert_eq!(server.graph_requests().len(), 2);
}

#[tokio::test]
async fn graph_and_intune_error_shapes_are_parsed() {
    let server = start(|r, _| {
        if r.path.contains("deviceManagement") {
            Reply::json(400, json!({"error": {"code": "BadRequest", "message": "{\r\n  \"_version\": 3,\r\n  \"Message\": \"Compliance policy must have one and only one block scheduled action - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": \"{}\"\r\n}", "innerError": {"date": "2024-05-01T10:00:00", "request-id": "rid-intune", "client-request-id": "c"}}}))
        } else if r.path.contains("roleManagement") {
            Reply::json(403, json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation.", "innerError": {"request-id": "rid-403"}}}))
        } else if r.path.contains("conflict") {
            Reply::json(409, json!({"error": {"code": "Conflict", "message": "exists"}}))
        } else {
            Reply::json(400, json!({"error": {"code": "Request_BadRequest", "message": "Another object with the same value for property userPrincipalName already exists.", "innerError": {"request-id": "rid-1", "date": "2024-01-01T00:00:00"}, "details": [{"target": "userPrincipalName", "code": "ObjectConflict"}]}}))
                .header("request-id", "rid-1")
        }
    })
    .await;
    let (client, _) = static_client(&server.base);
    let err = client.post_json("/users", json!({})).await.unwrap_err();
    assert_eq!(err.code(), Some("Request_BadRequest"));
    assert_eq!(err.request_id(), Some("rid-1"));
    match &err {
        GraphError::InvalidRequest { status, detail, request } => {
            assert_eq!(*status, 400);
            assert_eq!(request.to_string(), "POST /v1.0/users");
            assert_eq!(detail.details[0].code, "ObjectConflict");
        }
        other => panic!("unexpected {other:?}"),
    }

    let err = client.beta().post_json("/deviceManagement/deviceCompliancePolicies", json!({})).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "POST /beta/deviceManagement/deviceCompliancePolicies: rejected (HTTP 400) BadRequest: Compliance policy must have one and only one block scheduled action - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 (request-id rid-intune)"
    );

    let err = client.get_json("/roleManagement/directory/roleAssignments").await.unwrap_err();
    match &err {
        GraphError::PermissionDenied { permission, status, .. } => {
            assert!(permission.as_deref().is_some_and(|p| p.contains("RoleManagement.ReadWrite.Directory")), "{permission:?}");
            assert_eq!(*status, 403);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("RoleManagement.ReadWrite.Directory"));
    assert!(!err.is_retryable());

    let err = client.post_json("/groups/conflict", json!({})).await.unwrap_err();
    assert!(matches!(err, GraphError::Conflict { status: 409, .. }), "{err:?}");
}

#[tokio::test]
async fn non_json_success_body_is_a_decode_error() {
    let (base, _) = dropping_server(0, "not json").await;
    let (client, _) = static_client(&base);
    let err = client.get_json("/users").await.unwrap_err();
    assert!(matches!(err, GraphError::Decode { .. }), "{err:?}");
    assert!(err.to_string().starts_with("GET /v1.0/users"));
}

#[tokio::test]
async fn delta_round_trip_and_expired_token() {
    let server = start(|r, _| {
        let base = format!("http://{}", r.header("host").unwrap());
        if let Some(token) = r.query_param("$deltatoken") {
            return match token.as_str() {
                "d1" => Reply::json(200, json!({"value": [
                    {"id": "g2", "displayName": "renamed"},
                    {"id": "g1", "@removed": {"reason": "deleted"}},
                    {"id": "g3", "@removed": {"reason": "changed"}},
                ], "@odata.deltaLink": format!("{base}/v1.0/groups/delta?$deltatoken=d2")})),
                "old" => Reply::json(410, json!({"error": {"code": "resyncRequired", "message": "Resync required."}})),
                _ => Reply::json(400, json!({"error": {"code": "syncStateNotFound", "message": "The sync state generation is not found."}})),
            };
        }
        match r.query_param("$skiptoken").as_deref() {
            None => Reply::json(200, json!({"value": [{"id": "g1"}, {"id": "g2"}], "@odata.nextLink": format!("{base}/v1.0/groups/delta?$skiptoken=s2")})),
            Some(_) => Reply::json(200, json!({"value": [{"id": "g3"}], "@odata.deltaLink": format!("{base}/v1.0/groups/delta?$deltatoken=d1")})),
        }
    })
    .await;
    let (client, _) = static_client(&server.base);
    let first = client.delta("/groups/delta?$select=displayName,members", None).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.removed.is_empty());
    assert!(first.delta_link.ends_with("/v1.0/groups/delta?$deltatoken=d1"));
    let reqs = server.graph_requests();
    assert_eq!(reqs[0].path, "/v1.0/groups/delta");
    assert_eq!(reqs[0].query_param("$select").as_deref(), Some("displayName,members"));
    assert_eq!(reqs[1].query_param("$skiptoken").as_deref(), Some("s2"));

    let second = client.delta("/groups/delta", Some(&first.delta_link)).await.unwrap();
    assert_eq!(second.items, vec![json!({"id": "g2", "displayName": "renamed"})]);
    assert_eq!(second.removed.len(), 2);
    assert_eq!(second.removed[0].id, "g1");
    assert_eq!(second.removed[0].reason.as_deref(), Some("deleted"));
    assert_eq!(second.removed[1].reason.as_deref(), Some("changed"));
    assert!(second.delta_link.ends_with("$deltatoken=d2"));

    let gone = format!("{}/v1.0/groups/delta?$deltatoken=old", server.base);
    let err = client.delta("/groups/delta", Some(&gone)).await.unwrap_err();
    assert!(matches!(&err, GraphError::DeltaExpired { code, .. } if code == "resyncRequired"), "{err:?}");
    let stale = format!("{}/v1.0/groups/delta?$deltatoken=week-old", server.base);
    let err = client.delta("/groups/delta", Some(&stale)).await.unwrap_err();
    assert!(matches!(&err, GraphError::DeltaExpired { code, .. } if code == "syncStateNotFound"), "{err:?}");
    assert!(!err.to_string().contains("week-old"), "{err}");
}

#[tokio::test]
async fn wait_until_readable_retries_404_with_replication_delays() {
    let server = start(|_, earlier| {
        if earlier.len() < 3 {
            Reply::json(404, json!({"error": {"code": "Request_ResourceNotFound", "message": "not yet"}}))
        } else {
            Reply::json(200, json!({"id": "fresh"}))
        }
    })
    .await;
    let (client, sleeper) = static_client(&server.base);
    assert_eq!(client.wait_until_readable("/groups/fresh").await.unwrap(), json!({"id": "fresh"}));
    assert_eq!(sleeper.delays(), [1, 2, 4].map(Duration::from_millis));

    let never = start(|_, _| Reply::empty(404)).await;
    let (client, sleeper) = static_client(&never.base);
    let err = client.wait_until_readable("/groups/never").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(sleeper.delays().len(), 5);
    assert_eq!(never.graph_requests().len(), 6);
}

#[tokio::test]
async fn concurrency_is_bounded_by_the_semaphore() {
    let server = start(|_, _| Reply::json(200, json!({})).delayed(Duration::from_millis(50))).await;
    let (mut config, _) = test_config(&server.base);
    config.max_concurrency = 2;
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("t"))).unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.get_json(&format!("/users/{i}")).await }));
    }
    let started = std::time::Instant::now();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // 6 requests of 50 ms, 2 at a time: at least 3 rounds.
    assert!(started.elapsed() >= Duration::from_millis(140), "{:?}", started.elapsed());
    assert_eq!(client.stats().requests, 6);
}

#[tokio::test]
async fn intune_writes_are_paced_through_the_sleeper() {
    use providers::graph::{ManualClock, PacingConfig, Rate};
    let server = start(|_, _| Reply::empty(204)).await;
    let (mut config, sleeper) = test_config(&server.base);
    config.clock = Arc::new(ManualClock::new(std::time::SystemTime::UNIX_EPOCH));
    config.pacing = PacingConfig {
        intune_writes: Some(Rate { count: 2, per: Duration::from_secs(20) }),
        ..PacingConfig::disabled()
    };
    let client = GraphClient::new(config, Credential::StaticToken(Secret::new("t"))).unwrap();
    for i in 0..3 {
        client.beta().patch_json(&format!("/deviceManagement/deviceConfigurations/{i}"), json!({"a": i})).await.unwrap();
    }
    // Directory writes and reads are not in the Intune bucket.
    client.patch_json("/groups/g", json!({"description": "x"})).await.unwrap();
    // Two writes fill the 20 s window; the third waits until it has slid past the first.
    assert_eq!(sleeper.delays(), [Duration::from_secs(20)]);
    assert_eq!(server.graph_requests().len(), 4);
}
