//! The `enrollment_restriction` kind (beta
//! `deviceManagement/deviceEnrollmentConfigurations`): a Windows platform
//! restriction and a device limit created with their priorities and
//! assignments, a converged tenant plans empty, a limit and a nested
//! platform setting change are updates, an assignment change goes
//! through `/assign`, export writes them and re-imports empty, owned ones
//! no longer declared are deleted; the built-in device limit
//! (`default = true`) is only updated; a limit out of range is a located
//! error.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const WINDOWS: &str = "enrollment_restriction.windows-corporate";
const LIMIT: &str = "enrollment_restriction.three-devices";
const BASE: &str = "/deviceManagement/deviceEnrollmentConfigurations";

fn toml(limit: u32, min: &str, group: &str) -> String {
    format!(
        r#"
[enrollment_restriction.windows-corporate]
display_name = "Windows: corporate only"
restriction = "platform"
platform = "windows"
priority = 1
personal_device_enrollment_blocked = true
os_minimum_version = "{min}"
assignments = {{ include = ["{group}"] }}

[enrollment_restriction.three-devices]
display_name = "Three devices"
restriction = "limit"
priority = 1
limit = {limit}
assignments = {{ include = ["{group}"] }}

[enrollment_restriction.default-limit]
display_name = "All users and all devices"
restriction = "limit"
default = true
limit = 10
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_restrictions_are_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch_kind("enrollment_restriction", "restrictions.toml", &toml(3, "10.0.19045", "intune-admins"));
    let mut ledger = Ledger::default();

    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, WINDOWS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    assert_eq!(changes(&p, LIMIT).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    assert_eq!(changes(&p, "enrollment_restriction.default-limit"), vec![(Action::Update, vec!["limit".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let windows = id_of(&ledger, WINDOWS);
    let live = c.beta().get_json(&format!("{BASE}/{windows}")).await.unwrap();
    assert_eq!(live["@odata.type"], json!("#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration"));
    assert_eq!((live["platformType"].clone(), live["priority"].clone()), (json!("windows"), json!(1)));
    assert_eq!(live["platformRestriction"]["osMinimumVersion"], json!("10.0.19045"));
    let limit = id_of(&ledger, LIMIT);
    assert_eq!(c.beta().get_json(&format!("{BASE}/{limit}")).await.unwrap()["limit"], json!(3));
    let default_limit = id_of(&ledger, "enrollment_restriction.default-limit");
    assert_eq!(c.beta().get_json(&format!("{BASE}/{default_limit}")).await.unwrap()["limit"], json!(10));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Updates: a limit and a nested platform setting.
    write(&dst, "restrictions.toml", &toml(4, "10.0.22631", "intune-admins"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, LIMIT), vec![(Action::Update, vec!["limit".to_string()])]);
    assert_eq!(changes(&p, WINDOWS), vec![(Action::Update, vec!["platformRestriction.osMinimumVersion".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&format!("{BASE}/{windows}")).await.unwrap()["platformRestriction"]["osMinimumVersion"], json!("10.0.22631"));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Assignment change.
    write(&dst, "restrictions.toml", &toml(4, "10.0.22631", "mwd-test"));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, LIMIT), vec![(Action::Assign, vec!["assignments.include".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(assigned_groups(&c.beta().get_json(&format!("{BASE}/{limit}/assignments")).await.unwrap()), [id_of(&ledger, "group.mwd-test")]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export and re-import.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("enrollment-restrictions.toml")).unwrap();
    assert!(exported.contains("restriction = \"platform\"") && exported.contains("limit = 4"), "{exported}");
    assert_only_adoptions(&again);

    // Delete (the built-in limit stays declared).
    let only_default = "[enrollment_restriction.default-limit]\ndisplay_name = \"All users and all devices\"\nrestriction = \"limit\"\ndefault = true\nlimit = 10\n";
    write(&dst, "restrictions.toml", only_default);
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, WINDOWS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    assert_eq!(changes(&p, LIMIT).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&format!("{BASE}/{windows}")).await.is_err_and(|e| e.is_not_found()));
    assert!(c.beta().get_json(&format!("{BASE}/{default_limit}")).await.is_ok());
    sb.shutdown().await.unwrap();
}

#[test]
fn a_limit_out_of_range_is_a_located_error() {
    let (_dir, dst) = scratch_kind("enrollment_restriction", "restrictions.toml", &toml(20, "10.0.19045", "mwd-test"));
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "out-of-range").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(15), "{d}");
}
