//! The `remediation` kind (beta `deviceManagement/deviceHealthScripts`):
//! created with its detection and remediation scripts and its schedule on
//! every assignment, a converged tenant plans empty, a changed script is an
//! update shown as a hash, a schedule or group change goes through
//! `/assign`, export writes the TOML and both scripts and re-imports
//! empty, an owned remediation no longer declared is deleted; a bad
//! schedule is a located error.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const ADDRESS: &str = "remediation.stale-temp";
const DETECT: &str = "if ((Get-ChildItem $env:TEMP).Count -gt 1000) { exit 1 } else { exit 0 }\n";
const FIX: &str = "Get-ChildItem $env:TEMP | Remove-Item -Recurse -Force\n";

fn toml(schedule: &str, group: &str) -> String {
    format!(
        r#"
[remediation.stale-temp]
display_name = "Clear stale temp files"
publisher = "Contoso IT"
detection_file = "scripts/stale-temp-detect.ps1"
remediation_file = "scripts/stale-temp-fix.ps1"
run_as_account = "system"
schedule = {schedule}
assignments = {{ include = ["{group}"] }}
"#
    )
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remediation_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let daily = r#"{ every = "daily", interval = 1, time = "09:30" }"#;
    let (_dir, dst) = scratch_kind("remediation", "remediations.toml", &toml(daily, "mwd-test"));
    write(&dst, "scripts/stale-temp-detect.ps1", DETECT);
    write(&dst, "scripts/stale-temp-fix.ps1", FIX);
    let mut ledger = Ledger::default();

    // Create.
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, ADDRESS);
    let path = format!("/deviceManagement/deviceHealthScripts/{id}");
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!((live["detectionScriptContent"].clone(), live["remediationScriptContent"].clone()), (json!(b64(DETECT)), json!(b64(FIX))));
    assert_eq!(live["publisher"], json!("Contoso IT"));
    let assignments = c.beta().get_json(&format!("{path}/assignments")).await.unwrap();
    assert_eq!(assigned_groups(&assignments), [id_of(&ledger, "group.mwd-test")]);
    let a = &assignments["value"][0];
    assert_eq!(a["runRemediationScript"], json!(true), "{a}");
    assert_eq!(a["runSchedule"]["@odata.type"], json!("#microsoft.graph.deviceHealthScriptDailySchedule"), "{a}");
    assert_eq!(a["runSchedule"]["time"], json!("09:30:00"), "{a}");
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update: the remediation script changed.
    let fix2 = "Get-ChildItem $env:TEMP -File | Remove-Item -Force\n";
    write(&dst, "scripts/stale-temp-fix.ps1", fix2);
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS), vec![(Action::Update, vec!["remediationScriptContentSha256".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&path).await.unwrap();
    assert_eq!((live["detectionScriptContent"].clone(), live["remediationScriptContent"].clone()), (json!(b64(DETECT)), json!(b64(fix2))));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Assignment change: another ring, hourly.
    let hourly = r#"{ every = "hourly", interval = 4 }"#;
    write(&dst, "remediations.toml", &toml(hourly, "mwd-first"));
    let p = plan(&c, &load(&dst), &ledger).await;
    let touched: Vec<String> = changes(&p, ADDRESS).into_iter().flat_map(|c| c.1).collect();
    assert!(touched.iter().any(|f| f.starts_with("assignments")) && touched.iter().any(|f| f.starts_with("runSchedule")), "{touched:?}");
    apply(&c, &p, &mut ledger).await;
    let assignments = c.beta().get_json(&format!("{path}/assignments")).await.unwrap();
    assert_eq!(assigned_groups(&assignments), [id_of(&ledger, "group.mwd-first")]);
    assert_eq!(assignments["value"][0]["runSchedule"], json!({"@odata.type": "#microsoft.graph.deviceHealthScriptHourlySchedule", "interval": 4}));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export writes the TOML and both scripts, and re-imports empty.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("remediations.toml")).unwrap();
    assert!(exported.contains("[remediation.clear-stale-temp-files]") && exported.contains("every = \"hourly\""), "{exported}");
    assert_eq!(std::fs::read_to_string(out.join("scripts/clear-stale-temp-files-detect.ps1")).unwrap(), DETECT);
    assert_eq!(std::fs::read_to_string(out.join("scripts/clear-stale-temp-files-remediate.ps1")).unwrap(), fix2);
    assert_only_adoptions(&again);
    // Microsoft's own remediation (every tenant has some) is not the
    // tenant's: not exported, and read-only in the sandbox as in Intune.
    assert!(!exported.contains("Restart stopped Office C2R svc"), "{exported}");
    let global = format!("/deviceManagement/deviceHealthScripts/{}", sandbox::scripts::GLOBAL_ID);
    assert!(c.beta().patch_json(&global, json!({"description": "mine now"})).await.is_err());

    // Delete.
    std::fs::remove_file(dst.join("remediations.toml")).unwrap();
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, ADDRESS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&path).await.is_err_and(|e| e.is_not_found()));
    // Only the declared one went: Microsoft's stays, and nothing plans it.
    assert_eq!(c.beta().get_json(&global).await.unwrap()["isGlobalScript"], json!(true));
    assert!(c.beta().delete(&global).await.is_err());
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn a_bad_schedule_is_a_located_error() {
    let (_dir, dst) = scratch_kind("remediation", "remediations.toml", &toml(r#"{ every = "hourly", interval = 4, time = "25:00" }"#, "mwd-test"));
    write(&dst, "scripts/stale-temp-detect.ps1", DETECT);
    write(&dst, "scripts/stale-temp-fix.ps1", FIX);
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-schedule").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(8), "{d}");
}

#[test]
fn a_detection_script_outside_the_directory_is_a_located_error() {
    let (_dir, dst) = scratch_kind("remediation", "remediations.toml", &toml(r#"{ every = "daily" }"#, "mwd-test").replace("scripts/stale-temp-detect.ps1", "/etc/passwd.ps1"));
    write(&dst, "scripts/stale-temp-fix.ps1", FIX);
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "invalid-script-file").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(5), "{d}");
}
