//! `governance::settle` (lints never block their remedy) is linear in
//! findings + changes, checked without timing anything: its work is
//! counted as heap allocations (this test binary's global allocator),
//! which is deterministic. Before it was indexed, every error finding
//! scanned every change and formatted each change's address: N findings
//! and N changes cost N^2 allocations, so 8x the plan cost 64x.
//!
//! This file holds a single test so no other test thread allocates while
//! it counts.

use std::alloc::System;

use engine::diff::FieldChange;
use engine::governance::{settle, Finding, Severity};
use engine::{Action, Change};
use schema::{Address, Kind};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn change(kind: Kind, key: String, action: Action, id: Option<String>, fields: Vec<FieldChange>) -> Change {
    Change {
        address: Address::new(kind, key.as_str()),
        action,
        display_name: key,
        id,
        reason: "test".into(),
        fields,
        waits_on: vec![],
        wave: 0,
        desired: None,
        notes: vec![],
        live: None,
    }
}

fn error(lint: &str, address: String) -> Finding {
    Finding { severity: Severity::Error, lint: lint.into(), address, message: "m".into() }
}

/// `n` unmanaged-target errors and `n` out-of-band holders, with `n`
/// unrelated updates, one reassignment and one deletion that remedy the
/// first of each.
fn case(n: usize) -> (Vec<Finding>, Vec<Change>) {
    let mut findings = Vec::new();
    let mut changes = Vec::new();
    for i in 0..n {
        findings.push(error("unmanaged-target", format!("device_configuration.p{i}")));
        findings.push(error("unmanaged-privileged-holder", format!("id:ra-{i}")));
        changes.push(change(Kind::User, format!("u{i}"), Action::Update, Some(format!("uid-{i}")), vec![]));
    }
    let assign = FieldChange { field: "assignments.include".into(), before: None, after: None };
    changes.push(change(Kind::DeviceConfiguration, "p0".into(), Action::Assign, Some("pid-0".into()), vec![assign]));
    changes.push(change(Kind::RoleAssignment, "ra".into(), Action::Delete, Some("ra-0".into()), vec![]));
    (findings, changes)
}

fn allocations_of_settle(n: usize) -> u64 {
    let (mut findings, changes) = case(n);
    let region = Region::new(GLOBAL);
    settle(&mut findings, &changes);
    let stats = region.change();
    // The remedies settle their findings and nothing else does.
    let warned: Vec<&str> = findings.iter().filter(|f| f.severity == Severity::Warning).map(|f| f.address.as_str()).collect();
    assert_eq!(warned, ["device_configuration.p0", "id:ra-0"], "n = {n}");
    assert!(findings[0].message.contains("this plan removes it (assign device_configuration.p0)"), "{}", findings[0].message);
    stats.allocations as u64
}

#[test]
fn settling_findings_against_changes_is_linear() {
    let small = allocations_of_settle(250);
    let large = allocations_of_settle(2_000);
    let ratio = large as f64 / small as f64;
    eprintln!("settle: {small} allocations at 250, {large} at 2,000 ({ratio:.1}x for 8x)");
    assert!(ratio < 12.0, "settle grows {ratio:.1}x for 8x the findings and changes ({small} -> {large} allocations): not linear");
}
