//! Issue 12, through the binary: the Managed Desktop objects are protected
//! ("The Managed Desktop objects are not protected"): a user in a ring
//! device group and a second Autopilot profile on the all-devices group are
//! refused where they are written; changing a ring policy's, a ring
//! group's or the Autopilot profile's desired configuration is held by
//! reconcile for approval, while drift on them is still put back.

mod common;

use std::path::{Path, PathBuf};

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

async fn converged(sb: &SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let state = schema::load(&dir).unwrap();
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).unwrap();
    (work, dir)
}

fn last_report(work: &Path) -> Value {
    let history = work.join(".tenantctl/history");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&history).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    serde_json::from_str(&std::fs::read_to_string(names.last().unwrap()).unwrap()).unwrap()
}

fn addresses(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list.as_array().unwrap().iter().map(|h| h["address"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_holds_changes_to_managed_desktop_objects_and_restores_their_drift() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb).await;
    let w = work.path();
    // Drift on a ring policy (desired state unchanged): put back.
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
    let r = last_report(w);
    assert_eq!(addresses(&r["applied"]), ["update_ring.broad"], "drift is restored: {r:#}\n{log}");
    assert_eq!(addresses(&r["held"]), ["autopilot_profile.modern-workplace", "device_configuration.windows-restrictions", "group.mwd-test"], "{r:#}");
    for h in r["held"].as_array().unwrap() {
        assert!(h["reason"].as_str().unwrap().starts_with("sensitive (Managed Desktop: "), "{h:#}");
    }
    // And apply wants approvals for them.
    let o = cli(&sb, w, &["apply", dir.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("device_configuration.windows-restrictions: Managed Desktop: device_configuration.windows-restrictions is assigned to group."), "{}", text(&o.stderr));
    sb.shutdown().await.unwrap();
}
