//! The `enrollment_status_page` kind (beta
//! `deviceManagement/deviceEnrollmentConfigurations`,
//! windows10EnrollmentCompletionPageConfiguration): created with its
//! priority (`setPriority`) and assignments (`/assign`), the tenant's
//! built-in page (`default = true`, priority 0) only updated, a converged
//! tenant plans empty, a setting change is an update, a new page taking
//! priority 1 moves the other one down, an assignment change goes through
//! `/assign`, export writes the pages (not the built-in one) and re-imports
//! empty, an owned page no longer declared is deleted while the built-in
//! one stays; two pages with one priority are a located error.

mod common;

use common::intunemore::*;
use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const RINGS: &str = "enrollment_status_page.rings";
const DEFAULT: &str = "enrollment_status_page.default";
const BASE: &str = "/deviceManagement/deviceEnrollmentConfigurations";

fn toml(timeout: u32, group: &str, priority: u32) -> String {
    format!(
        r#"
[enrollment_status_page.rings]
display_name = "Managed Desktop rings"
priority = {priority}
show_installation_progress = true
install_progress_timeout_in_minutes = {timeout}
custom_error_message = "Call the service desk"
block_device_setup_retry_by_user = false
assignments = {{ include = ["{group}"] }}

[enrollment_status_page.default]
display_name = "All users and all devices"
default = true
install_progress_timeout_in_minutes = 120
"#
    )
}

const BROAD: &str = r#"
[enrollment_status_page.broad]
display_name = "Broad ring"
priority = 1
show_installation_progress = false
assignments = { include = ["mwd-broad"] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_status_page_is_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch_kind("enrollment_status_page", "esp.toml", &toml(90, "mwd-test", 1));
    let mut ledger = Ledger::default();

    // Create; the built-in page is found and updated, never created.
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, RINGS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    assert_eq!(changes(&p, DEFAULT), vec![(Action::Update, vec!["installProgressTimeoutInMinutes".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let id = id_of(&ledger, RINGS);
    let live = c.beta().get_json(&format!("{BASE}/{id}")).await.unwrap();
    assert_eq!((live["priority"].clone(), live["installProgressTimeoutInMinutes"].clone()), (json!(1), json!(90)));
    let default_id = id_of(&ledger, DEFAULT);
    let live_default = c.beta().get_json(&format!("{BASE}/{default_id}")).await.unwrap();
    assert_eq!((live_default["priority"].clone(), live_default["installProgressTimeoutInMinutes"].clone()), (json!(0), json!(120)));
    assert_eq!(assigned_groups(&c.beta().get_json(&format!("{BASE}/{id}/assignments")).await.unwrap()), [id_of(&ledger, "group.mwd-test")]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Update.
    write(&dst, "esp.toml", &toml(100, "mwd-test", 1));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, RINGS), vec![(Action::Update, vec!["installProgressTimeoutInMinutes".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(c.beta().get_json(&format!("{BASE}/{id}")).await.unwrap()["installProgressTimeoutInMinutes"], json!(100));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // A new page first: the rings page moves to 2.
    write(&dst, "esp.toml", &format!("{}{BROAD}", toml(100, "mwd-test", 2)));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, RINGS), vec![(Action::Update, vec!["priority".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    let broad = id_of(&ledger, "enrollment_status_page.broad");
    assert_eq!(c.beta().get_json(&format!("{BASE}/{broad}")).await.unwrap()["priority"], json!(1));
    assert_eq!(c.beta().get_json(&format!("{BASE}/{id}")).await.unwrap()["priority"], json!(2));
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Assignment change.
    write(&dst, "esp.toml", &format!("{}{BROAD}", toml(100, "mwd-first", 2)));
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, RINGS), vec![(Action::Assign, vec!["assignments.include".to_string()])]);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(assigned_groups(&c.beta().get_json(&format!("{BASE}/{id}/assignments")).await.unwrap()), [id_of(&ledger, "group.mwd-first")]);
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());

    // Export: the two pages, not the built-in one; re-imports empty.
    let tmp = tempfile::tempdir().unwrap();
    let (out, again) = export_and_plan(&sb, &c, tmp.path()).await;
    let exported = std::fs::read_to_string(out.join("enrollment-status-pages.toml")).unwrap();
    assert!(exported.contains("[enrollment_status_page.managed-desktop-rings]") && exported.contains("[enrollment_status_page.broad-ring]"), "{exported}");
    assert!(!exported.contains("All users and all devices"), "{exported}");
    assert_only_adoptions(&again);

    // Delete the pages; the built-in one stays declared and is kept.
    write(&dst, "esp.toml", "[enrollment_status_page.default]\ndisplay_name = \"All users and all devices\"\ndefault = true\ninstall_progress_timeout_in_minutes = 120\n");
    let p = plan(&c, &load(&dst), &ledger).await;
    assert_eq!(changes(&p, RINGS).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Delete]);
    assert!(changes(&p, DEFAULT).is_empty(), "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert!(c.beta().get_json(&format!("{BASE}/{id}")).await.is_err_and(|e| e.is_not_found()));
    assert!(c.beta().get_json(&format!("{BASE}/{default_id}")).await.is_ok());
    assert!(plan(&c, &load(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[test]
fn two_pages_with_one_priority_are_a_located_error() {
    let (_dir, dst) = scratch_kind("enrollment_status_page", "esp.toml", &format!("{}{BROAD}", toml(90, "mwd-test", 1)));
    let d = errors(&dst);
    let e = d.errors().find(|e| e.code == "duplicate-priority").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(4), "{d}");
}

#[test]
fn the_built_in_page_takes_no_priority_nor_assignments() {
    let text = "[enrollment_status_page.default]\ndisplay_name = \"All users and all devices\"\ndefault = true\npriority = 3\nassignments = { include = [\"mwd-test\"] }\n";
    let (_dir, dst) = scratch_kind("enrollment_status_page", "esp.toml", text);
    let d = errors(&dst);
    let p = d.errors().find(|e| e.code == "default-priority").unwrap_or_else(|| panic!("{d}"));
    assert_eq!(p.location.as_ref().map(|l| l.line), Some(4), "{d}");
    assert!(d.errors().any(|e| e.code == "default-assignments"), "{d}");
}
