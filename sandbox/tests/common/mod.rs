//! Shared helpers for the sandbox's HTTP tests: start a sandbox, get a token
//! from its token endpoint, and make Graph calls returning status, headers
//! and JSON.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

pub struct Env {
    pub sb: SandboxHandle,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn msg(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn token(http: &reqwest::Client, sb: &SandboxHandle) -> String {
    let r = http
        .post(sb.token_url())
        .form(&[
            ("client_id", sb.client_id()),
            ("client_secret", sb.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("token json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub async fn start_with(cfg: SandboxConfig) -> Env {
    let sb = Sandbox::start(cfg).await.expect("sandbox starts");
    let http = reqwest::Client::new();
    let token = token(&http, &sb).await;
    Env { sb, http, token }
}

pub async fn start() -> Env {
    start_with(SandboxConfig::default()).await
}

impl Env {
    /// `path` is relative to the base URL and includes the version, e.g. `/v1.0/users`;
    /// an absolute URL is used as is.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.sb.base_url())
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .http
            .request(m, self.url(path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None, &[]).await
    }

    pub fn domain(&self) -> String {
        self.sb.domain()
    }

    pub async fn create_user(&self, nick: &str) -> Value {
        let r = self
            .post("/v1.0/users", user_body(nick, &self.domain()))
            .await;
        assert_eq!(r.status, 201, "create user {nick}: {}", r.body);
        r.body
    }

    pub async fn create_group(&self, nick: &str) -> Value {
        let r = self.post("/v1.0/groups", json!({"displayName": nick, "mailEnabled": false, "mailNickname": nick, "securityEnabled": true})).await;
        assert_eq!(r.status, 201, "create group {nick}: {}", r.body);
        r.body
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .http
            .request(m, format!("{}{path}", self.sb.admin_url()));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("admin request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }
}

pub fn user_body(nick: &str, domain: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": format!("User {nick}"),
        "mailNickname": nick,
        "userPrincipalName": format!("{nick}@{domain}"),
        "passwordProfile": {"password": "Str0ng!Passw0rd", "forceChangePasswordNextSignIn": false}
    })
}

/// Asserts Graph's error shape: code, message, innerError.request-id and date.
pub fn assert_graph_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "status; body {}", r.body);
    assert_eq!(r.code(), code, "code; body {}", r.body);
    assert!(
        r.body["error"]["message"].is_string(),
        "message in {}",
        r.body
    );
    assert!(
        r.body["error"]["innerError"]["request-id"].is_string(),
        "request-id in {}",
        r.body
    );
    assert!(
        r.body["error"]["innerError"]["date"].is_string(),
        "date in {}",
        r.body
    );
}
