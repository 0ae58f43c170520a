//! Token endpoint, bearer checks, users, invitations, deleted items, and
//! the OData options on the users collection, over real HTTP.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn token_endpoint_checks_secret_tenant_and_assertion() {
    let env = start().await;
    let sb = &env.sb;
    let form = |secret: &str| {
        vec![
            ("client_id".to_string(), sb.client_id().to_string()),
            ("client_secret".to_string(), secret.to_string()),
            ("scope".to_string(), "https://graph.microsoft.com/.default".to_string()),
            ("grant_type".to_string(), "client_credentials".to_string()),
        ]
    };
    let ok: Value = env.http.post(sb.token_url()).form(&form(sb.client_secret())).send().await.unwrap().json().await.unwrap();
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 3599);

    let bad = env.http.post(sb.token_url()).form(&form("wrong")).send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"], "invalid_client");
    assert!(bad["error_description"].as_str().unwrap().starts_with("AADSTS7000215"));
    assert_eq!(bad["error_codes"][0], 7000215);

    let unknown = env.http.post(format!("{}/not-a-tenant/oauth2/v2.0/token", sb.base_url())).form(&form(sb.client_secret())).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 400);

    // The domain works as the tenant segment too.
    let by_domain = env.http.post(format!("{}/{}/oauth2/v2.0/token", sb.base_url(), sb.domain())).form(&form(sb.client_secret())).send().await.unwrap();
    assert_eq!(by_domain.status().as_u16(), 200);

    // Client assertion (certificate auth): shape, aud, iss/sub are checked,
    // and the signature, against the registered certificate
    // (tests/client_assertions.rs covers signatures in depth).
    let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../providers/tests/fixtures/test-client-cert.pem")).unwrap();
    sb.register_client_certificate(&pem).unwrap();
    let key = {
        use rsa::pkcs8::DecodePrivateKey;
        let begin = pem.find("-----BEGIN PRIVATE KEY-----").unwrap();
        rsa::RsaPrivateKey::from_pkcs8_pem(&pem[begin..]).unwrap()
    };
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = chrono::Utc::now().timestamp() + 600;
    let x5t = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../providers/tests/fixtures/test-client-cert.x5t.txt")).unwrap();
    let jwt = |aud: &str, iss: &str| {
        use rsa::signature::{SignatureEncoding, Signer};
        let input = format!("{}.{}", b64(json!({"alg": "RS256", "typ": "JWT", "x5t": x5t.trim()})), b64(json!({"aud": aud, "iss": iss, "sub": iss, "exp": exp, "jti": "1"})));
        let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone()).sign(input.as_bytes());
        format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    };
    let assertion_form = |a: String| {
        vec![
            ("client_id".to_string(), sb.client_id().to_string()),
            ("client_assertion".to_string(), a),
            ("client_assertion_type".to_string(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("scope".to_string(), "https://graph.microsoft.com/.default".to_string()),
            ("grant_type".to_string(), "client_credentials".to_string()),
        ]
    };
    let good = env.http.post(sb.token_url()).form(&assertion_form(jwt(&sb.token_url(), sb.client_id()))).send().await.unwrap();
    assert_eq!(good.status().as_u16(), 200);
    let wrong_aud = env.http.post(sb.token_url()).form(&assertion_form(jwt("https://elsewhere/token", sb.client_id()))).send().await.unwrap();
    assert_eq!(wrong_aud.status().as_u16(), 401);
    let wrong_iss = env.http.post(sb.token_url()).form(&assertion_form(jwt(&sb.token_url(), "someone-else"))).send().await.unwrap();
    assert_eq!(wrong_iss.status().as_u16(), 401);
    let not_jwt = env.http.post(sb.token_url()).form(&assertion_form("abc".into())).send().await.unwrap();
    assert_eq!(not_jwt.status().as_u16(), 401);
}

#[tokio::test]
async fn graph_calls_need_a_valid_bearer_token() {
    let env = start().await;
    let r = env.http.get(env.url("/v1.0/users")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    let forged = env.http.get(env.url("/v1.0/users")).bearer_auth("eyJ.eyJ.forged").send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    assert_eq!(env.get("/v1.0/users").await.status, 200);
    assert_eq!(env.get("/beta/users").await.status, 200);
}

#[tokio::test]
async fn users_create_get_patch_delete_restore() {
    let env = start().await;
    let d = env.domain();
    let created = env.create_user("alice").await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(created["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#users/$entity"));
    assert!(created.get("passwordProfile").is_none(), "password is write-only");

    // By id and by UPN.
    let by_id = env.get(&format!("/v1.0/users/{id}")).await;
    assert_eq!(by_id.status, 200);
    let by_upn = env.get(&format!("/v1.0/users/alice@{d}")).await;
    assert_eq!(by_upn.body["id"], json!(id));
    // Default property set omits accountEnabled; $select returns it.
    assert!(by_id.body.get("accountEnabled").is_none());
    let sel = env.get(&format!("/v1.0/users/{id}?$select=accountEnabled,usageLocation")).await;
    assert_eq!(sel.body["accountEnabled"], true);
    assert_eq!(sel.body["usageLocation"], Value::Null);
    assert!(sel.body.get("displayName").is_none());

    // Duplicate UPN: Graph's exact body.
    let dup = env.post("/v1.0/users", user_body("alice", &d)).await;
    assert_graph_error(&dup, 400, "Request_BadRequest");
    assert_eq!(dup.msg(), "Another object with the same value for property userPrincipalName already exists.");
    assert_eq!(dup.body["error"]["details"][0], json!({"code": "ObjectConflict", "target": "userPrincipalName"}));

    // Required properties, verified domain, mailNickname rules.
    let mut missing = user_body("bob", &d);
    missing.as_object_mut().unwrap().remove("passwordProfile");
    assert_graph_error(&env.post("/v1.0/users", missing).await, 400, "Request_BadRequest");
    let mut missing = user_body("bob", &d);
    missing.as_object_mut().unwrap().remove("mailNickname");
    assert_graph_error(&env.post("/v1.0/users", missing).await, 400, "Request_BadRequest");
    let foreign = env.post("/v1.0/users", user_body("bob", "fabrikam.com")).await;
    assert_graph_error(&foreign, 400, "Request_BadRequest");
    assert!(foreign.msg().contains("verified domain"));
    let mut bad_nick = user_body("bob", &d);
    bad_nick["mailNickname"] = json!("bob smith");
    assert_graph_error(&env.post("/v1.0/users", bad_nick).await, 400, "Request_BadRequest");

    // PATCH returns 204 and changes the object.
    let p = env.patch(&format!("/v1.0/users/{id}"), json!({"jobTitle": "Engineer", "usageLocation": "NL"})).await;
    assert_eq!(p.status, 204);
    assert_eq!(env.get(&format!("/v1.0/users/{id}")).await.body["jobTitle"], "Engineer");
    assert_graph_error(&env.patch(&format!("/v1.0/users/{id}"), json!({"usageLocation": "Netherlands"})).await, 400, "Request_BadRequest");

    // Soft delete, list deleted, restore.
    assert_eq!(env.delete(&format!("/v1.0/users/{id}")).await.status, 204);
    assert_graph_error(&env.get(&format!("/v1.0/users/{id}")).await, 404, "Request_ResourceNotFound");
    let deleted = env.get("/v1.0/directory/deletedItems/microsoft.graph.user").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["value"][0]["id"], json!(id));
    assert!(deleted.body["value"][0]["deletedDateTime"].is_string());
    let restored = env.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await;
    assert_eq!(restored.status, 200);
    assert_eq!(restored.body["@odata.type"], "#microsoft.graph.user");
    assert_eq!(env.get(&format!("/v1.0/users/{id}")).await.status, 200);
    // Permanent delete.
    env.delete(&format!("/v1.0/users/{id}")).await;
    assert_eq!(env.delete(&format!("/v1.0/directory/deletedItems/{id}")).await.status, 204);
    assert_eq!(env.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, 404);
    assert_graph_error(&env.get("/v1.0/users/00000000-0000-0000-0000-000000000000").await, 404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn invitations_create_guest_users() {
    let env = start().await;
    let r = env.post("/v1.0/invitations", json!({"invitedUserEmailAddress": "pat@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com", "invitedUserDisplayName": "Pat"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "PendingAcceptance");
    let uid = r.body["invitedUser"]["id"].as_str().unwrap();
    let u = env.get(&format!("/v1.0/users/{uid}?$select=userType,mail,displayName,userPrincipalName")).await;
    assert_eq!(u.body["userType"], "Guest");
    assert_eq!(u.body["mail"], "pat@fabrikam.com");
    assert!(u.body["userPrincipalName"].as_str().unwrap().contains("#EXT#@"));
    let guests = env.get("/v1.0/users?$filter=userType%20eq%20'Guest'&$select=id").await;
    assert_eq!(guests.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(env.post("/v1.0/invitations", json!({"invitedUserEmailAddress": "pat@fabrikam.com"})).await.status, 400);
}

#[tokio::test]
async fn paging_2500_users_with_top_999() {
    let env = start().await;
    env.sb.seed(&sandbox::SeedSpec { seed: 7, users: 2500, ..Default::default() }).unwrap();
    let mut url = "/v1.0/users?$top=999&$select=id,displayName".to_string();
    let mut ids = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        let r = env.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        for u in r.body["value"].as_array().unwrap() {
            assert!(ids.insert(u["id"].as_str().unwrap().to_string()), "no duplicates across pages");
            assert!(u.get("userPrincipalName").is_none(), "$select trims");
        }
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with("http://127.0.0.1:"), "nextLink is absolute: {next}");
                assert!(next.contains("$skiptoken="));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(ids.len(), 2500);
    assert_eq!(pages, 3);
    // Default page size is 100.
    let r = env.get("/v1.0/users").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 100);
    // $top above 999 is refused like Graph does.
    assert_graph_error(&env.get("/v1.0/users?$top=1000").await, 400, "Request_BadRequest");
    assert_graph_error(&env.get("/v1.0/users?$top=99999999999999999999").await, 400, "Request_BadRequest");
    assert_graph_error(&env.get("/v1.0/users?$skip=10").await, 400, "Request_BadRequest");
    assert_eq!(env.get("/v1.0/users?$skiptoken=garbage").await.status, 400);
}

#[tokio::test]
async fn filter_select_and_count() {
    let env = start().await;
    for n in ["anna", "andy", "bert", "carl"] {
        env.create_user(n).await;
    }
    let d = env.domain();
    let count = |r: &Resp| r.body["value"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&env.get(&format!("/v1.0/users?$filter=userPrincipalName eq 'anna@{d}'")).await), 1);
    assert_eq!(count(&env.get("/v1.0/users?$filter=startsWith(displayName,'User an')").await), 2);
    assert_eq!(count(&env.get("/v1.0/users?$filter=mailNickname in ('bert','carl','zed')").await), 2);
    assert_eq!(count(&env.get("/v1.0/users?$filter=mailNickname eq 'bert' or mailNickname eq 'anna'").await), 2);
    assert_eq!(count(&env.get("/v1.0/users?$filter=startsWith(mailNickname,'a') and accountEnabled eq true").await), 2);
    for bad in ["/v1.0/users?$filter=mailNickname eq", "/v1.0/users?$filter=((", "/v1.0/users?$filter=foo(bar)", "/v1.0/users?$select=a;b", "/v1.0/users?$orderby=a,b"] {
        let r = env.get(bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body["error"]["innerError"]["request-id"].is_string());
    }
    // ne needs advanced query mode.
    assert_eq!(env.get("/v1.0/users?$filter=mailNickname ne 'bert'").await.status, 400);
    let adv = env.call("GET", "/v1.0/users?$filter=mailNickname ne 'bert'&$count=true", None, &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(adv.body["@odata.count"], 3);
    // $count needs ConsistencyLevel: eventual.
    assert_graph_error(&env.get("/v1.0/users?$count=true").await, 400, "Request_BadRequest");
    let c = env.call("GET", "/v1.0/users?$count=true&$top=1", None, &[("ConsistencyLevel", "eventual")]).await;
    assert_eq!(c.body["@odata.count"], 4);
    let next = c.body["@odata.nextLink"].as_str().unwrap().to_string();
    let c2 = env.call("GET", &next, None, &[("ConsistencyLevel", "eventual")]).await;
    assert!(c2.body.get("@odata.count").is_none(), "count only on the first page");
    let raw = env.http.get(env.url("/v1.0/users/$count")).bearer_auth(&env.token).header("ConsistencyLevel", "eventual").send().await.unwrap();
    assert_eq!(raw.text().await.unwrap(), "4");
    // Malformed JSON is a Graph-shaped 400.
    let r = env.http.post(env.url("/v1.0/users")).bearer_auth(&env.token).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
    // Unknown segment.
    assert_eq!(env.get("/v1.0/nonsense").await.status, 400);
}

#[tokio::test]
async fn garbage_input_gets_graph_shaped_errors_not_crashes() {
    let env = start().await;
    let paths = [
        "/v1.0/users/%ZZ", "/v1.0/users/%e9%", "/v1.0/users?$top=-1", "/v1.0/users?$top=abc", "/v1.0/users?$filter=", "/v1.0/users?$filter='",
        "/v1.0/users?$filter=a eq 'b' and", "/v1.0/users?$expand=(", "/v1.0/users?$expand=members(",
        "/v1.0/users?$count=maybe", "/v1.0/users?$orderby=displayName sideways", "/v1.0/groups/x/members/y/z", "/v1.0/roleManagement", "/beta/deviceManagement",
        "/v1.0/deviceManagement/deviceConfigurations/none/assignments/x", "/v1.0/users/delta?$skiptoken=%FF%FE", "/v1.0/groups/delta?$deltatoken=ZDpncm91cHM6OTk5Ojk5OQ",
        "/v1.0/users?$search=\"x\"", "/v2/users", "/v1.0/$batch",
    ];
    for p in paths {
        let r = env.get(p).await;
        assert!((400..500).contains(&r.status), "{p}: {} {}", r.status, r.body);
        assert!(r.body["error"]["code"].is_string(), "{p}: {}", r.body);
    }
    let deep = format!("/v1.0/users?$filter={}a eq 'b'{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(env.get(&deep).await.status, 400);
    let nots = format!("/v1.0/users?$filter={}a eq 'b'", "not ".repeat(3_000));
    assert_eq!(env.get(&nots).await.status, 400);
    // Moderate nesting is fine.
    assert_eq!(env.get("/v1.0/users?$filter=((((((((((mailNickname eq 'b'))))))))))").await.status, 200);
    let bodies = [json!([]), json!("str"), json!(null), json!({"accountEnabled": "yes"}), json!({"displayName": 5, "mailNickname": [], "userPrincipalName": {}, "accountEnabled": true, "passwordProfile": 1})];
    for b in bodies {
        for p in ["/v1.0/users", "/v1.0/groups", "/v1.0/$batch", "/beta/deviceManagement/deviceConfigurations", "/v1.0/identity/conditionalAccess/policies", "/v1.0/invitations",
                  "/v1.0/roleManagement/directory/roleAssignments", "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", "/v1.0/deviceManagement/deviceCompliancePolicies"] {
            let r = env.post(p, b.clone()).await;
            assert!((400..500).contains(&r.status), "{p} {b}: {} {}", r.status, r.body);
        }
    }
    assert_eq!(env.call("PUT", "/v1.0/users", None, &[]).await.status, 405);
    assert_eq!(env.get("/v1.0/users").await.status, 200, "still serving");
}
