//! `Plan::hash` (what every signature covers, computed by every `plan`'s
//! text render, by `approve` and by `apply`) no longer builds the redacted
//! plan's whole JSON value: at 100k objects that value (30,003 changes of
//! an adopted tenant's first plan) was 350 MB, the peak of the `plan`
//! command (issue 13, perf14). The changes are made values one at a time,
//! so hashing a plan holds next to nothing beside it.
//!
//! Measured without timing, as this process's peak resident memory: the
//! peak is reset (`/proc/self/clear_refs`), the plan hashed, and the peak
//! read back (`VmHWM`). This file holds a single test so no other test
//! thread allocates while it measures.

use engine::plan::Plan;
use serde_json::json;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("a number in {line:?}"))
}

/// One change as an adoption review holds it: every declared field with a
/// `before` and an `after`, and a copy of the declared resource.
fn change(i: usize) -> engine::Change {
    let members: Vec<_> = (0..5).map(|m| json!({"@ref": format!("user.u{}", i * 5 + m)})).collect();
    serde_json::from_value(json!({
        "address": format!("group.g{i:05}"),
        "action": "update",
        "display_name": format!("Group {i}"),
        "id": format!("00000000-0000-0000-0000-{i:012}"),
        "reason": "no proven approved record; the tenant already has desired state",
        "fields": [
            {"field": "description", "before": "(no approved record)", "after": format!("Seeded group {i}")},
            {"field": "displayName", "before": "(no approved record)", "after": format!("Group {i}")},
            {"field": "members", "before": "(no approved record)", "after": members},
            {"field": "securityEnabled", "before": "(no approved record)", "after": true}
        ],
        "wave": 1,
        "desired": {
            "address": format!("group.g{i:05}"),
            "natural_key": format!("g{i:05}"),
            "display_name": format!("Group {i}"),
            "props": {"description": format!("Seeded group {i}"), "displayName": format!("Group {i}"), "members": members, "securityEnabled": true}
        },
        "notes": ["ratified: nothing is sent to Graph"]
    }))
    .expect("a change")
}

#[test]
fn hashing_a_large_plan_does_not_hold_its_whole_value() {
    let before = status_kib("VmRSS:");
    // Built a change at a time (no value of the whole plan is made and
    // freed here, which the hash could then reuse unseen).
    let mut plan: Plan = serde_json::from_value(json!({
        "format_version": 3,
        "desired_fingerprint": "sha256:d",
        "observed_fingerprint": "sha256:o",
        "changes": [],
        "ids": {},
        "unchanged": []
    }))
    .expect("a plan");
    plan.changes = (0..20_000).map(change).collect();
    let held = status_kib("VmRSS:").saturating_sub(before);
    assert!(held > 20 * 1024, "the plan holds {held} KiB: too small to measure against");
    std::fs::write("/proc/self/clear_refs", "5").expect("the peak resident memory is reset (/proc/self/clear_refs, Linux 4.0+)");
    let base = status_kib("VmRSS:");
    let hash = plan.hash();
    let peak = status_kib("VmHWM:").saturating_sub(base);
    assert!(hash.starts_with("sha256:"), "{hash}");
    // The whole value was larger than the plan itself; a change at a time
    // is a few KiB (and the hasher's 64 KiB block).
    assert!(peak * 10 < held, "hashing the plan raised the peak by {peak} KiB; the plan itself holds {held} KiB");
}
