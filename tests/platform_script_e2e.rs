//! The `platform_script` kind (beta `deviceManagement/deviceManagementScripts`):
//! created with its file's content, a converged tenant plans empty (the
//! content compared by SHA-256, read by id: lists carry none), a changed
//! file is an update shown as hashes, an assignment change goes through
//! `/assign`, export writes the TOML and the script and re-imports empty,
//! an owned script no longer declared is deleted. A file leaving the
//! desired-state directory (`..`, a symbolic link out) is a located error
//! that shows nothing of the file.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const SCRIPT: &str = "platform_script.time-zone";
const TZ: &str = "Set-TimeZone -Id 'W. Europe Standard Time'\n";

fn toml(file: &str, group: &str) -> String {
    format!(
        r#"
[platform_script.time-zone]
display_name = "Set time zone"
description = "Every device in Western Europe time"
file = "{file}"
run_as_account = "system"
enforce_signature_check = false
assignments = {{ include = ["{group}"] }}
"#
    )
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_script_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch_kind("platform_script", "scripts.toml", &toml("scripts/time-zone.ps1", "mwd-test"));
    write(&dst, "scripts/time-zone.ps1", TZ);
    let mut ledger = Ledger::default();

    // Create.
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, SCRIPT).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, SCRIPT);
    let path = format!("/deviceManagement/deviceManagementScripts/{id}");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!(live["scriptContent"], json!(b64(TZ)));
    assert_eq!(live["fileName"], json!("time-zone.ps1"));
    assert_eq!(live["runAsAccount"], json!("system"));
    // Lists carry no content: the read gets it by id.
    let listed = c.beta().get_json("/deviceManagement/deviceManagementScripts").await.unwrap();
    assert_eq!(listed["value"][0]["scriptContent"], json!(null), "{listed}");
    let test_group = id_of(&ledger, "group.mwd-test");
    assert_eq!(assigned_groups(&c.beta().get_json(&format!("{path}/assignments")).await.unwrap()), [test_group]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update: the file changed; the plan compares hashes and shows the
    // script as it will run in notes for the approvers (never its base64).
    let new = "Set-TimeZone -Id 'GMT Standard Time'\n";
    write(&dst, "scripts/time-zone.ps1", new);
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, SCRIPT), vec![(Action::Update, vec!["scriptContentSha256".to_string()])]);
    let shown = engine::render::text(&p, false);
    assert!(shown.contains(&providers::kinds::platform_script::sha256_hex(new.as_bytes())), "{shown}");
    assert!(shown.contains("note: scriptContent + Set-TimeZone -Id 'GMT Standard Time'") && !shown.contains(&b64(new)), "the plan shows the script as text:\n{shown}");
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["scriptContent"], json!(b64(new)));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Drift: the script replaced in Intune is put back.
    let url = format!("{}/_sandbox/objects/deviceManagementScripts/{id}", sb.base_url());
    let r = reqwest::Client::new().patch(&url).json(&json!({"scriptContent": b64("Remove-Item C:\\ -Recurse\n")})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, SCRIPT), vec![(Action::Update, vec!["scriptContentSha256".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&path).await.unwrap()["scriptContent"], json!(b64(new)));

    // Assignment change.
    write(&dst, "scripts.toml", &toml("scripts/time-zone.ps1", "mwd-first"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, SCRIPT), vec![(Action::Assign, vec!["assignments.include".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let first_group = id_of(&ledger, "group.mwd-first");
    assert_eq!(assigned_groups(&c.beta().get_json(&format!("{path}/assignments")).await.unwrap()), [first_group]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export writes the TOML and the script, and re-imports empty.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("platform-scripts.toml")).unwrap();
    assert!(exported.contains("[platform_script.set-time-zone]") && exported.contains("file = \"scripts/set-time-zone.ps1\""), "{exported}");
    assert_eq!(std::fs::read_to_string(out.join("scripts/set-time-zone.ps1")).unwrap(), new);
    assert_only_adoptions(&again);

    // Delete.
    std::fs::remove_file(dst.join("scripts.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, SCRIPT).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));
    sb.shutdown().await.unwrap();
}

#[test]
fn a_script_path_climbing_out_is_a_located_error() {
    let (_dir, dst) = scratch_kind("platform_script", "scripts.toml", &toml("../outside.ps1", "mwd-test"));
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-script-file").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{d}");
    assert!(e.message.contains("leaves the desired-state directory"), "{d}");
}

#[test]
fn a_script_through_a_symlink_out_is_refused_without_its_content() {
    let (dir, dst) = scratch_kind("platform_script", "scripts.toml", &toml("scripts/time-zone.ps1", "mwd-test"));
    let outside = dir.path().join("secret.ps1");
    std::fs::write(&outside, "$password = 'hunter2'\n").unwrap();
    std::fs::create_dir_all(dst.join("scripts")).unwrap();
    std::os::unix::fs::symlink(&outside, dst.join("scripts/time-zone.ps1")).unwrap();
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-script-file").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{d}");
    assert!(!d.to_string().contains("hunter2"), "{d}");
    // A folder linked out is refused the same way.
    std::fs::remove_file(dst.join("scripts/time-zone.ps1")).unwrap();
    std::fs::remove_dir(dst.join("scripts")).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    std::fs::write(dir.path().join("elsewhere/time-zone.ps1"), "$password = 'hunter2'\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), dst.join("scripts")).unwrap();
    let d = errors(&dst);
    assert!(d.errors().any(|e| e.code == "invalid-script-file" || e.code == "unsafe-file"), "{d}");
    assert!(!d.to_string().contains("hunter2"), "{d}");
}

#[test]
fn a_missing_script_file_is_a_located_error() {
    let (_dir, dst) = scratch_kind("platform_script", "scripts.toml", &toml("scripts/nowhere.ps1", "mwd-test"));
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-script-file").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{d}");
    assert!(e.message.contains("does not exist"), "{d}");
}

#[test]
fn a_script_that_is_a_fifo_is_refused_without_hanging() {
    let (_dir, dst) = scratch_kind("platform_script", "scripts.toml", &toml("scripts/time-zone.ps1", "mwd-test"));
    std::fs::create_dir_all(dst.join("scripts")).unwrap();
    let made = std::process::Command::new("mkfifo").arg(dst.join("scripts/time-zone.ps1")).status().unwrap();
    assert!(made.success());
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-script-file").unwrap_or_else(|| panic!("{d}"));
    assert!(e.message.contains("not a regular file"), "{d}");
}
