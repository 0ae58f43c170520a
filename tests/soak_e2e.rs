//! Issue 12, through the binary: the rollout soak does not depend on the
//! ledger ("The rollout soak depends on the ledger: with the ledger
//! missing, the next ring is created at once"). A ring's last change time
//! comes from the live policy's lastModifiedDateTime when the ledger has
//! none.

mod common;

use common::*;

const ROLLOUT: &str = "[update_ring.quality]\n\
    display_name = \"Windows Quality\"\n\
    quality_updates_deferral_period_in_days = 0\n\
    deadline_for_quality_updates_in_days = 2\n\
    rollout = { rings = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"], soak = \"48h\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_ledger_the_next_ring_still_waits_for_the_soak() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    std::fs::write(dir.join("rollout.toml"), ROLLOUT).unwrap();
    // The first ring is created now (real clock: the sandbox stamps
    // lastModifiedDateTime with it), by the binary.
    let d = dir.to_str().unwrap();
    let o = cli(&sb, work.path(), &["apply", d, "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("update_ring.quality@mwd-test"), "{}", text(&o.stderr));
    // The ledger is lost (a fresh CI runner, a deleted state directory).
    std::fs::remove_file(work.path().join("tenantctl.lock")).unwrap();
    let o = cli(&sb, work.path(), &["plan", d, "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).unwrap();
    // The test ring itself, adopted with the ledger lost, is ratified
    // whole once (gov18): that sends nothing and promotes nothing.
    let rings: Vec<String> = p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).map(|c| c.address.to_string()).filter(|a| a.starts_with("update_ring.quality@")).collect();
    assert!(rings.is_empty(), "no ring is promoted before the soak: {rings:?}");
    let first = p.rollout.iter().find(|w| w.ring == "mwd-first").unwrap_or_else(|| panic!("{:#?}", p.rollout));
    assert!(first.until.is_some() && first.reason.contains("mwd-test changed at"), "{first:?}");
    sb.shutdown().await.unwrap();
}
