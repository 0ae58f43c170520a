//! End-to-end drift reports against the sandbox: in sync (exit 0), each
//! kind of drift (exit 2), errors (exit 1), and the HTML report rendered in
//! headless Chromium.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

pub fn fixture(dir: &Path, domain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("tenant.toml"),
        format!(
            r#"
[tenant]
primary_domain = "{domain}"

[user.ada]
user_principal_name = "ada@{domain}"
display_name = "Ada Lovelace"
mail_nickname = "ada"

[guest.vendor]
email = "vendor@example.com"
display_name = "Vendor Person"
expires = "2027-09-01T00:00:00Z"

[group.devices]
display_name = "Managed Devices"
mail_nickname = "managed-devices"
members = ["ada"]

[device_configuration.base]
odata_type = "windows10GeneralConfiguration"
display_name = "Baseline"
settings = {{ passwordRequired = true, passwordMinimumLength = 12 }}
assignments = {{ include = ["devices"] }}

[device_configuration.extra]
odata_type = "windows10GeneralConfiguration"
display_name = "Extra"
settings = {{ passwordRequired = true }}

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

/// Apply the fixture with the library (sensitive creates need approvals
/// through the CLI) and write the ledger where the CLI finds it.
pub async fn setup(sb: &sandbox::SandboxHandle, dir: &Path, work: &Path) {
    let state = schema::load(dir).expect("fixture loads");
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.join("tenantctl.lock"), ledger.render()).unwrap();
}

pub fn ledger_id(work: &Path, address: &str) -> String {
    let l = engine::Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap();
    l.id(&address.parse().unwrap()).unwrap().to_string()
}

pub async fn admin(sb: &sandbox::SandboxHandle, method: reqwest::Method, path: &str, body: Option<Value>) {
    let url = format!("{}/_sandbox/objects/{path}", sb.base_url());
    let mut req = reqwest::Client::new().request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_each_kind_with_exit_codes_and_renders_in_chromium() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    fixture(&dir, &sb.domain());
    let d = dir.to_str().unwrap();
    setup(&sb, &dir, work.path()).await;

    let o = cli(&sb, work.path(), &["drift", d, "--detailed-exitcode", "--now", "2026-11-23T12:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "in sync: {}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains("in sync"));

    // Drift behind the tool's back: a changed setting, a deleted object, an
    // unmanaged policy; and (with a later clock) a guest past its expiry.
    let base = ledger_id(work.path(), "device_configuration.base");
    admin(&sb, reqwest::Method::PATCH, &format!("deviceConfigurations/{base}"), Some(json!({"passwordRequired": false}))).await;
    let extra = ledger_id(work.path(), "device_configuration.extra");
    admin(&sb, reqwest::Method::DELETE, &format!("deviceConfigurations/{extra}"), None).await;
    client(&sb)
        .beta()
        .post_json("/deviceManagement/deviceConfigurations", json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "Rogue <policy>"}))
        .await
        .unwrap();

    let o = cli(&sb, work.path(), &["drift", d, "--format", "json", "--detailed-exitcode", "--now", "2029-06-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(2), "drift: {}\n{}", text(&o.stdout), text(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<(String, String)> = report["items"].as_array().unwrap().iter().map(|i| (i["address"].as_str().unwrap().to_string(), i["drift"].as_str().unwrap().to_string())).collect();
    assert!(kinds.contains(&("device_configuration.base".into(), "changed".into())), "{kinds:?}");
    assert!(kinds.contains(&("device_configuration.extra".into(), "missing".into())), "{kinds:?}");
    assert!(kinds.contains(&("guest.vendor".into(), "expired".into())), "{kinds:?}");
    assert!(kinds.iter().any(|(a, k)| a.starts_with("device_configuration.(") && k == "unmanaged"), "{kinds:?}");
    let changed = report["items"].as_array().unwrap().iter().find(|i| i["address"] == "device_configuration.base").unwrap();
    assert_eq!(changed["fields"][0], json!({"field": "passwordRequired", "live": false, "desired": true}));
    // Users and groups are never reported as unmanaged: a tenant has many.
    assert!(kinds.iter().all(|(a, _)| !a.starts_with("user.(") && !a.starts_with("group.(")));

    // "since" comes from the history of earlier reports.
    let o = cli(&sb, work.path(), &["drift", d, "--format", "json", "--now", "2029-06-01T06:00:00Z"]);
    let later: Value = serde_json::from_slice(&o.stdout).unwrap();
    let base_item = later["items"].as_array().unwrap().iter().find(|i| i["address"] == "device_configuration.base").unwrap();
    assert_eq!(base_item["since"], "2029-06-01T00:00:00Z");
    assert_eq!(later["generated_at"], "2029-06-01T06:00:00Z");

    // HTML, rendered by a real browser.
    let html = work.path().join("report.html");
    let o = cli(&sb, work.path(), &["drift", d, "--format", "html", "--out", html.to_str().unwrap(), "--no-record", "--now", "2029-06-01T06:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let dom = chromium_dom(&html, work.path());
    assert!(dom.contains("tenantctl drift report"), "{dom}");
    assert!(dom.contains("data-kind=\"changed\"><td>changed fields</td><td class=\"n\">1</td>"), "summary counts: {dom}");
    assert!(dom.contains("data-kind=\"missing\"><td>missing objects</td><td class=\"n\">1</td>"), "{dom}");
    assert!(dom.contains("<code>passwordRequired</code></td><td class=\"old\"><code>false</code></td><td class=\"new\"><code>true</code>"), "{dom}");
    assert!(dom.contains("Rogue &lt;policy&gt;"), "escaped: {dom}");
    let raw = std::fs::read_to_string(&html).unwrap();
    assert!(!raw.contains("<script") && !raw.contains("<link") && !raw.contains("src="), "self-contained");

    // Errors exit 1.
    let o = cli(&sb, work.path(), &["drift", work.path().join("nowhere").to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(1));
    sb.shutdown().await.unwrap();
}

/// The DOM of a file as headless Chromium renders it. Fails (never skips)
/// when Chromium is missing: `.ci/run` installs it.
fn chromium_dom(file: &Path, tmp: &Path) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .unwrap_or_else(|| panic!("headless Chromium is required for the HTML report test: install it (apt-get install chromium; .ci/run does)"));
    let profile = tmp.join("chromium-profile");
    let o = std::process::Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "chromium failed: {}", text(&o.stderr));
    text(&o.stdout)
}
