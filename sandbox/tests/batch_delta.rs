//! `$batch` (limits, unique ids, dependsOn/424) and delta queries (full sync,
//! incremental changes, `@removed`, `members@delta`, expired tokens).

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn batch_with_failed_dependency() {
    let env = start().await;
    let d = env.domain();
    let u = env.create_user("batchuser").await;
    let uid = u["id"].as_str().unwrap();
    let body = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/groups", "headers": {"Content-Type": "application/json"},
         "body": {"displayName": "batch", "mailEnabled": false, "mailNickname": "batch", "securityEnabled": true}},
        {"id": "2", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000009"},
        {"id": "3", "method": "GET", "url": format!("/users/{uid}"), "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": format!("users/batchuser@{d}?$select=id"), "dependsOn": ["1"]},
        {"id": "5", "method": "PATCH", "url": format!("/users/{uid}"), "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "Batched"}}
    ]});
    let r = env.post("/v1.0/$batch", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let by_id = |id: &str| r.body["responses"].as_array().unwrap().iter().find(|x| x["id"] == json!(id)).cloned().unwrap_or(Value::Null);
    assert_eq!(by_id("1")["status"], 201);
    assert_eq!(by_id("1")["body"]["displayName"], "batch");
    assert_eq!(by_id("2")["status"], 404);
    assert_eq!(by_id("2")["body"]["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(by_id("3")["status"], 424);
    assert_eq!(by_id("4")["status"], 200);
    assert_eq!(by_id("4")["body"]["id"], json!(uid));
    assert_eq!(by_id("5")["status"], 204);
    assert_eq!(env.get(&format!("/v1.0/users/{uid}")).await.body["jobTitle"], "Batched");

    // Accounting sees the batch and each item.
    let counts = env.sb.request_counts();
    assert_eq!(counts.get("POST /v1.0/$batch"), 1);
    assert_eq!(counts.batch_items.get("GET /v1.0/users/{id}").copied(), Some(3));
    assert_eq!(counts.batch_items.get("POST /v1.0/groups").copied(), Some(1));

    // Limits: more than 20, duplicate ids, body without Content-Type, unknown dependency.
    let many: Vec<Value> = (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect();
    assert_eq!(env.post("/v1.0/$batch", json!({"requests": many})).await.status, 400);
    let dup = json!({"requests": [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}]});
    assert_graph_error(&env.post("/v1.0/$batch", dup).await, 400, "BadRequest");
    let no_ct = json!({"requests": [{"id": "1", "method": "POST", "url": "/groups", "body": {}}]});
    assert_eq!(env.post("/v1.0/$batch", no_ct).await.status, 400);
    let bad_dep = json!({"requests": [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}]});
    assert_eq!(env.post("/v1.0/$batch", bad_dep).await.status, 400);
    assert_eq!(env.post("/v1.0/$batch", json!({"nope": 1})).await.status, 400);
    let counted = env.post("/v1.0/$batch", json!({"requests": [
        {"id": "a", "method": "GET", "url": "/users?$count=true", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "b", "method": "GET", "url": "/users?$count=true"}]})).await;
    assert_eq!(counted.body["responses"][0]["body"]["@odata.count"], 1);
    assert_eq!(counted.body["responses"][1]["status"], 400);
    let twenty: Vec<Value> = (0..20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$top=1"})).collect();
    assert_eq!(env.post("/beta/$batch", json!({"requests": twenty})).await.body["responses"].as_array().unwrap().len(), 20);
}

async fn drain(env: &Env, start: &str) -> (Vec<Value>, String) {
    let mut url = start.to_string();
    let mut items = Vec::new();
    loop {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        items.extend(r.body["value"].as_array().unwrap().iter().cloned());
        if let Some(n) = r.body["@odata.nextLink"].as_str() {
            url = n.to_string();
        } else {
            return (items, r.body["@odata.deltaLink"].as_str().expect("deltaLink at the end").to_string());
        }
    }
}

#[tokio::test]
async fn delta_round_trip_users_and_groups() {
    let env = start().await;
    env.sb.seed(&sandbox::SeedSpec { seed: 11, users: 250, groups: 3, memberships_per_group: 5, ..Default::default() }).unwrap();
    let (all, link) = drain(&env, "/v1.0/users/delta?$select=displayName,jobTitle").await;
    assert_eq!(all.len(), 250);
    assert!(link.contains("$deltatoken="));
    // Nothing changed: empty.
    let (none, link) = drain(&env, &link).await;
    assert!(none.is_empty());

    let a = env.create_user("delta-new").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let victim = all[0]["id"].as_str().unwrap().to_string();
    let changed = all[1]["id"].as_str().unwrap().to_string();
    env.delete(&format!("/v1.0/users/{victim}")).await;
    env.patch(&format!("/v1.0/users/{changed}"), json!({"jobTitle": "Changed"})).await;
    let (changes, link) = drain(&env, &link).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    let find = |id: &str| changes.iter().find(|c| c["id"] == json!(id)).cloned().unwrap_or(Value::Null);
    assert_eq!(find(&aid)["displayName"], "User delta-new");
    assert_eq!(find(&changed)["jobTitle"], "Changed");
    assert_eq!(find(&victim)["@removed"]["reason"], "changed");
    // Purge: reported as deleted.
    env.delete(&format!("/v1.0/directory/deletedItems/{victim}")).await;
    let (purged, _) = drain(&env, &link).await;
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0]["@removed"]["reason"], "deleted");

    // Groups with members@delta.
    let (groups, glink) = drain(&env, "/v1.0/groups/delta?$select=displayName,members").await;
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0]["members@delta"].as_array().unwrap().len(), 5);
    let gid = groups[0]["id"].as_str().unwrap().to_string();
    let member = groups[0]["members@delta"][0]["id"].as_str().unwrap().to_string();
    env.delete(&format!("/v1.0/groups/{gid}/members/{member}/$ref")).await;
    env.post(&format!("/v1.0/groups/{gid}/members/$ref"), json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{aid}")})).await;
    let (gchanges, glink) = drain(&env, &glink).await;
    assert_eq!(gchanges.len(), 1);
    let md = gchanges[0]["members@delta"].as_array().unwrap();
    assert!(md.iter().any(|m| m["id"] == json!(member) && m["@removed"]["reason"] == "deleted"));
    assert!(md.iter().any(|m| m["id"] == json!(aid) && m.get("@removed").is_none()));

    // Expired tokens: Graph's syncStateNotFound, then a full resync works.
    env.sb.expire_delta_tokens().unwrap();
    assert_graph_error(&env.get(&glink).await, 400, "syncStateNotFound");
    assert_graph_error(&env.get(&link).await, 400, "syncStateNotFound");
    let (again, _) = drain(&env, "/v1.0/groups/delta").await;
    assert_eq!(again.len(), 3);
    assert_eq!(env.get("/v1.0/users/delta?$deltatoken=garbage").await.code(), "syncStateNotFound");
    assert_eq!(env.admin("POST", "/delta/expire", None).await.0, 204);
}
