//! Issue 12, through the binary: the Managed Desktop objects are protected
//! ("The Managed Desktop objects are not protected"): a user in a ring
//! device group and a second Autopilot profile on the all-devices group are
//! refused where they are written; changing a ring policy's, a ring
//! group's or the Autopilot profile's desired configuration is held by
//! reconcile for approval, and so is live drift on them (a rename, a
//! lowered password length, a user added live to a ring group): reported,
//! never put back unattended, while unprotected drift still self-heals.

mod common;

use std::path::Path;

use common::*;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

fn edit_file(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    let edited = f(t.clone());
    assert_ne!(edited, t, "{file} edited");
    std::fs::write(&p, edited).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_groups_hold_devices_only_and_one_profile_targets_all_devices() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let d = dir.to_str().unwrap();
    edit_file(&dir, "groups.toml", |t| t.replacen("description = \"Immediate ring for device rollout\"\n", "description = \"Immediate ring for device rollout\"\nmembers = [\"adele\"]\n", 1));
    let o = cli(&sb, work.path(), &["validate", d]);
    let out = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("error[ring-devices-only]: group.mwd-test is a Managed Desktop ring device group: it holds devices only, not `adele`") && out.contains("groups.toml:10:"), "{out}");

    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let p = dir.join("autopilot.toml");
    let mut t = std::fs::read_to_string(&p).unwrap();
    t.push_str("\n[autopilot_profile.second]\ndisplay_name = \"Second\"\njoin_type = \"entra\"\ndevice_type = \"windowsPc\"\nassignments = { include = [\"mwd-all\"] }\n");
    std::fs::write(&p, t).unwrap();
    let o = cli(&sb, work.path(), &["validate", dir.to_str().unwrap()]);
    let out = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("error[one-autopilot-profile]") && out.contains("at most one Autopilot profile targets the all-devices group mwd-all"), "{out}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_changes_and_drift_of_managed_desktop_objects() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    // Drift on a ring policy (desired state unchanged, the ledger beyond
    // the change's reach): a control weakened out of band, put back
    // unattended.
    let l = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    let ring = l.id(&"update_ring.broad".parse().unwrap()).unwrap().to_string();
    let url = format!("{}/_sandbox/objects/deviceConfigurations/{ring}", sb.base_url());
    let r = reqwest::Client::new().patch(&url).json(&json!({"qualityUpdatesDeferralPeriodInDays": 29})).send().await.unwrap();
    assert!(r.status().is_success());
    // Desired-state edits of protected objects: held.
    edit_file(&dir, "policies.toml", |t| t.replace("passwordMinimumLength = 12", "passwordMinimumLength = 4"));
    edit_file(&dir, "autopilot.toml", |t| t.replace("display_name = \"Modern Workplace Autopilot Profile\"", "display_name = \"Renamed\""));
    edit_file(&dir, "groups.toml", |t| t.replace("description = \"Immediate ring for device rollout\"", "description = \"Renamed ring\""));
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{log}");
    let r = last_report(w);
    assert_eq!(addresses(&r["applied"]), ["update_ring.broad"], "the ring policy's drift is put back as approved: {r:#}\n{log}");
    assert_eq!(addresses(&r["held"]), ["autopilot_profile.modern-workplace", "device_configuration.windows-restrictions", "group.mwd-test"], "desired-state changes of protected objects are held: {r:#}");
    for h in r["held"].as_array().unwrap() {
        assert!(h["reason"].as_str().unwrap().starts_with("sensitive (Managed Desktop: "), "{h:#}");
    }
    let live: Value = reqwest::Client::new().get(&url).send().await.unwrap().json().await.unwrap();
    assert_ne!(live["data"]["qualityUpdatesDeferralPeriodInDays"], 29, "the ring policy's drift is put back");
    // And apply wants approvals for them.
    let o = cli(&sb, w, &["apply", dir.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("device_configuration.windows-restrictions: Managed Desktop: device_configuration.windows-restrictions is assigned to group."), "{}", text(&o.stderr));
    sb.shutdown().await.unwrap();
}

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

async fn admin_patch(sb: &SandboxHandle, coll: &str, id: &str, body: Value) {
    let r = reqwest::Client::new().patch(format!("{}/objects/{coll}/{id}", sb.admin_url())).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{coll}/{id}");
}

async fn admin_get(sb: &SandboxHandle, coll: &str, id: &str) -> Value {
    reqwest::Client::new().get(format!("{}/objects/{coll}/{id}", sb.admin_url())).send().await.unwrap().json::<Value>().await.unwrap()["data"].clone()
}

/// Live drift on the protected objects: a user added to a ring device
/// group is held (reported for a person, `ring-devices-only`); the
/// Autopilot profile renamed and a ring policy's password length lowered
/// are controls weakened out of band, put back as approved (the ledger,
/// outside any git work tree, proves it) like an unprotected drift in the
/// same pass (hostile run 17, finding 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_live_drift_on_protected_objects_and_heals_the_rest() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    let l = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    let id = |a: &str| l.id(&a.parse().unwrap()).unwrap().to_string();
    let (profile, restrictions, ring, adele) = (id("autopilot_profile.modern-workplace"), id("device_configuration.windows-restrictions"), id("group.mwd-test"), id("user.adele"));
    admin_patch(&sb, "windowsAutopilotDeploymentProfiles", &profile, json!({"displayName": "Renamed live"})).await;
    admin_patch(&sb, "deviceConfigurations", &restrictions, json!({"passwordMinimumLength": 4})).await;
    add_member(&sb, &ring, &adele).await;
    // Unprotected drift in the same pass.
    admin_patch(&sb, "users", &adele, json!({"jobTitle": "Changed live"})).await;
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "drift remains: {log}");
    let r = last_report(w);
    assert_eq!(addresses(&r["applied"]), ["autopilot_profile.modern-workplace", "device_configuration.windows-restrictions", "user.adele"], "{r:#}\n{log}");
    assert_eq!(addresses(&r["held"]), ["group.mwd-test"], "{r:#}");
    let reason = |a: &str| r["held"].as_array().unwrap().iter().find(|h| h["address"] == a).unwrap()["reason"].as_str().unwrap().to_string();
    assert!(reason("group.mwd-test").contains("error[ring-devices-only]") && reason("group.mwd-test").contains("holds user user.adele live"), "{r:#}");
    assert!(log.contains("held: review group.mwd-test: error[ring-devices-only]"), "{log}");
    let ring_item = r["items"].as_array().unwrap().iter().find(|i| i["address"] == "group.mwd-test").expect("the ring membership is drift in the report");
    assert!(ring_item["detail"].as_str().unwrap().contains("ring-devices-only"), "{ring_item:#}");
    // The tenant keeps the ring membership for a person; the controls are put back.
    assert_ne!(admin_get(&sb, "windowsAutopilotDeploymentProfiles", &profile).await["displayName"], "Renamed live");
    assert_ne!(admin_get(&sb, "deviceConfigurations", &restrictions).await["passwordMinimumLength"], 4);
    assert_eq!(admin_get(&sb, "users", &adele).await["jobTitle"], "IT Administrator");
    let members: Value = reqwest::Client::new().get(format!("{}/groups/{ring}/members", sb.graph_url())).bearer_auth(sb.access_token()).send().await.unwrap().json().await.unwrap();
    assert!(members["value"].as_array().unwrap().iter().any(|m| m["id"] == adele.as_str()), "{members:#}");
    sb.shutdown().await.unwrap();
}

/// "reassigning it away from the all-devices group [...] self-healed" and
/// "A second Autopilot profile on the all-devices group passes", live: the
/// reassignment is held (not put back unattended), and a second profile
/// assigned to the all-devices group out of band is refused by plan and
/// held by reconcile, naming the rule. The declared profile's
/// reassignment is put back as approved (the ledger proves it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassigned_autopilot_profile_is_held_and_a_second_one_on_all_devices_refused() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    let l = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    let id = |a: &str| l.id(&a.parse().unwrap()).unwrap().to_string();
    let (profile, all, ring) = (id("autopilot_profile.modern-workplace"), id("group.mwd-all"), id("group.mwd-test"));
    let base = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles";
    let assignment = |group: &str| json!({"@odata.type": "#microsoft.graph.windowsAutopilotDeploymentProfileAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}});
    let current = graph(&sb, reqwest::Method::GET, &format!("{base}/{profile}/assignments"), None).await;
    let aid = current["value"][0]["id"].as_str().unwrap().to_string();
    graph(&sb, reqwest::Method::DELETE, &format!("{base}/{profile}/assignments/{aid}"), None).await;
    graph(&sb, reqwest::Method::POST, &format!("{base}/{profile}/assignments"), Some(assignment(&ring))).await;
    // A second profile, made and assigned to all devices out of band.
    let r = reqwest::Client::new()
        .post(format!("{}/objects/windowsAutopilotDeploymentProfiles", sb.admin_url()))
        .json(&json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "Rogue profile"}))
        .send()
        .await
        .unwrap();
    let rogue = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    graph(&sb, reqwest::Method::POST, &format!("{base}/{rogue}/assignments"), Some(assignment(&all))).await;

    let rule = format!("error[one-autopilot-profile] autopilot_profile.({rogue}): autopilot_profile.({rogue}) \"Rogue profile\" targets the all-devices group group.mwd-all live");
    let o = cli(&sb, w, &["plan", dir.to_str().unwrap()]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(&rule), "{out}");
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{log}");
    let r = last_report(w);
    assert_eq!(addresses(&r["applied"]), ["autopilot_profile.modern-workplace"], "{r:#}");
    let held = addresses(&r["held"]);
    assert_eq!(held, [format!("autopilot_profile.({rogue})")], "{r:#}");
    assert!(log.contains(&format!("held: review autopilot_profile.({rogue}): error[one-autopilot-profile]")), "{log}");
    let now = graph(&sb, reqwest::Method::GET, &format!("{base}/{profile}/assignments"), None).await;
    assert_eq!(now["value"][0]["target"]["groupId"], all.as_str(), "the reassignment is put back: {now:#}");
    sb.shutdown().await.unwrap();
}
