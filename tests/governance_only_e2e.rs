//! A pull request that only changes `[governance]` (hostile run 21,
//! finding 4) is a change to review and apply with the approvers in force:
//! `plan --detailed-exitcode` exits 2 and its headline (text and Markdown)
//! names it, where it said "no changes" and exited 0; `drift` and
//! `reconcile --once` exit 2 and no longer print "in sync".

mod common;

use common::gov::{converged, edit_file, run};
use common::sandbox;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governance_only_change_is_a_change_for_plan_drift_and_reconcile() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().expect("a UTF-8 path");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged first: {out}");
    edit_file(&dir, "tenant.toml", |t| t.replace("large_plan_threshold = 50", "large_plan_threshold = 5000"));

    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(2), "changes found: {out}");
    assert!(out.contains("governance change only: 1 field(s) of [governance]") && !out.contains("no changes"), "{out}");
    let (_, md) = run(&sb, w, &["plan", "--format", "markdown", d]);
    assert!(md.contains("governance change only") && !md.contains("no changes: the tenant matches"), "{md}");

    let (code, out) = run(&sb, w, &["drift", "--detailed-exitcode", "--no-record", d]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not in sync:") && !out.contains(": in sync:") && !out.lines().any(|l| l.starts_with("in sync:")), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", "--once", d]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not in sync:") && !out.lines().any(|l| l.contains(": in sync:")), "{out}");
}
