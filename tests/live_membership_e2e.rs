//! Issue 12, through the binary: live membership of groups whose
//! membership desired state does not manage is read and judged ("Service
//! accounts can be targeted", "The Managed Desktop objects are not
//! protected"). A service account added live to a group a policy targets
//! (declared without `members`, or nested in it and not declared at all),
//! and a user added live to a ring device group, are refused by plan and
//! apply naming the rule; devices in a ring group are fine.

mod common;

use std::path::Path;

use common::*;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

/// A member added the way an admin would in the portal (Graph `$ref`).
async fn add_member(sb: &SandboxHandle, group: &str, member: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/groups/{group}/members/$ref", sb.graph_url()))
        .bearer_auth(sb.access_token())
        .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// A group made out of band (not declared).
async fn create_group(sb: &SandboxHandle, name: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/groups", sb.graph_url()))
        .bearer_auth(sb.access_token())
        .json(&json!({"displayName": name, "mailNickname": name, "mailEnabled": false, "securityEnabled": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// A device, as Autopilot registration makes one (apps cannot create
/// devices through Graph, so through the sandbox's admin API).
pub async fn create_device(sb: &SandboxHandle, name: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/objects/devices", sb.admin_url()))
        .json(&json!({"displayName": name, "deviceId": "00000000-0000-4000-a000-000000000001", "operatingSystem": "Windows", "accountEnabled": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

fn ledger_id(w: &Path, address: &str) -> String {
    let l = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    l.id(&address.parse().unwrap()).unwrap().to_string()
}

const GROUP: &str = "
[group.helpdesk]
display_name = \"Helpdesk devices\"
mail_nickname = \"helpdesk\"
description = \"Membership is managed in the portal\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_added_live_to_a_targeted_group_is_refused() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let w = work.path();
    let dir = w.join("desired-state");
    let d = dir.to_str().unwrap();
    let g = dir.join("groups.toml");
    let mut t = std::fs::read_to_string(&g).unwrap();
    t.push_str(GROUP);
    std::fs::write(&g, t).unwrap();
    let p = dir.join("policies.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    // The restrictions also go to a group whose members are added in the portal.
    let edited = t.replacen("[device_configuration.windows-restrictions.assignments]\ninclude = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"]", "[device_configuration.windows-restrictions.assignments]\ninclude = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\", \"helpdesk\"]", 1);
    assert_ne!(edited, t);
    std::fs::write(&p, edited).unwrap();
    let o = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "in sync, nothing flagged: {}{}", text(&o.stdout), text(&o.stderr));

    // Out of band: a service account in a group nested in the targeted one.
    let helpdesk = ledger_id(w, "group.helpdesk");
    let nested = create_group(&sb, "helpdesk-nested").await;
    add_member(&sb, &nested, &ledger_id(w, "user.msadmin")).await;
    add_member(&sb, &helpdesk, &nested).await;
    // Reported once (gov25), naming the nesting path.
    let rule = format!("error[service-account-targeted] device_configuration.windows-restrictions: user.msadmin is in group.helpdesk > group id:{nested} live (its membership is not managed in desired state), a service account");
    let o = cli(&sb, w, &["plan", d]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(&rule), "{out}");
    assert_eq!(out.matches("[service-account-targeted] device_configuration.windows-restrictions: ").count(), 1, "once: {out}");
    let o = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("the plan breaks governance lints") && text(&o.stderr).contains(&rule), "{}", text(&o.stderr));
    // The reconcile loop (group delta) sees it too, and holds it.
    let o = cli(&sb, w, &["reconcile", d, "--once", "--self-heal"]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("held: review device_configuration.windows-restrictions: error[service-account-targeted]") && out.contains("user.msadmin"), "{out}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_added_live_to_a_ring_device_group_is_refused_and_devices_are_not() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let w = work.path();
    let dir = w.join("desired-state");
    let d = dir.to_str().unwrap();
    let o = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ring = ledger_id(w, "group.mwd-test");
    // Devices are what a ring group holds.
    let device = create_device(&sb, "MWD-0000001").await;
    add_member(&sb, &ring, &device).await;
    let o = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    // A person is not.
    add_member(&sb, &ring, &ledger_id(w, "user.adele")).await;
    let rule = "error[ring-devices-only] group.mwd-test: group.mwd-test is a Managed Desktop ring device group: it holds devices only, but holds user user.adele live";
    let o = cli(&sb, w, &["plan", d]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(rule), "{out}");
    assert!(!out.contains("MWD-0000001") && !out.contains(&device), "the device is not flagged: {out}");
    let o = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(rule), "{}", text(&o.stderr));
    sb.shutdown().await.unwrap();
}
