//! The tenant's built-in enrollment configurations (`default = true`) keep
//! Intune's own ids (`{tenant}_DefaultWindows10EnrollmentCompletionPage…`,
//! `{tenant}_DefaultLimit`), which are not GUIDs. Declaring them once made
//! the ledger unreadable: every later plan, apply and reconcile failed
//! (hostile run 14, finding 8).

mod common;

use common::gov::{append, run};
use common::{sandbox, scratch_without_approvals};

const DEFAULTS: &str = r#"
[enrollment_status_page.default]
display_name = "All users and all devices"
default = true
install_progress_timeout_in_minutes = 90

[enrollment_restriction.default-limit]
display_name = "All users and all devices"
restriction = "limit"
default = true
limit = 10
"#;

#[tokio::test(flavor = "multi_thread")]
async fn declaring_the_default_enrollment_configurations_keeps_the_state_readable() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    append(&dir, "enrollment.toml", DEFAULTS);
    let d = dir.to_str().expect("a UTF-8 path");

    let (code, out) = run(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = std::fs::read_to_string(work.path().join("tenantctl.lock")).expect("the ledger is written");
    assert!(ledger.contains("_DefaultWindows10EnrollmentCompletionPageConfiguration"), "{ledger}");
    assert!(ledger.contains("_DefaultLimit"), "{ledger}");

    // The next plan reads that ledger and finds nothing to do.
    let (code, out) = run(&sb, work.path(), &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged and readable: {out}");
    let (code, out) = run(&sb, work.path(), &["reconcile", d, "--once"]);
    assert_eq!(code, Some(0), "{out}");
}
