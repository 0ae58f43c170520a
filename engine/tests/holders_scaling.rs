//! `governance::holders::lint` (run by every plan) grows linearly with the
//! tenant, checked without timing anything: its work is measured as the
//! number of heap allocations it makes (counted by this test binary's
//! global allocator), which is deterministic. It once scanned every
//! declared resource for each group with members, building the group's
//! address for each role assignment it met: quadratic (20,000 groups x
//! 100,000 resources was most of `engine::plan` at 100k objects).
//!
//! This file holds a single test so no other test thread allocates while
//! it counts.

use std::alloc::System;
use std::collections::BTreeMap;

use engine::model::reference;
use engine::{DesiredModel, DesiredResource, LiveObject, ObservedState, Props};
use schema::{Address, Kind};
use serde_json::{json, Value};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn props(v: Value) -> Props {
    serde_json::from_value(v).expect("props")
}

/// `groups` groups with 3 declared and live members each, and one role
/// assignment per 10 groups held by a group (a read-only role: no finding).
fn tenant(groups: usize) -> (DesiredModel, ObservedState, BTreeMap<Address, String>) {
    let mut desired = DesiredModel::default();
    let mut observed = ObservedState::default();
    let mut ids = BTreeMap::new();
    let mut add = |kind: Kind, key: String, id: String, desired_props: Value, live_props: Value| {
        let address = Address::new(kind, key.as_str());
        desired.insert(DesiredResource {
            address: address.clone(),
            natural_key: key.clone(),
            display_name: key.clone(),
            props: props(desired_props),
            immutable: vec![],
            assignment_props: vec![],
            create_only: Props::new(),
            depends_on: vec![],
            expires: None,
        });
        observed.insert(LiveObject { kind, id: id.clone(), natural_key: key.clone(), display_name: key, props: props(live_props) });
        ids.insert(address, id);
    };
    for u in 0..groups {
        add(Kind::User, format!("u{u}"), format!("uid-{u}"), json!({}), json!({}));
    }
    for g in 0..groups {
        let picked: Vec<usize> = (0..3).map(|i| (g + i) % groups).collect();
        let want: Vec<Value> = picked.iter().map(|u| reference(format!("user.u{u}"))).collect();
        let have: Vec<Value> = picked.iter().map(|u| reference(format!("uid-{u}"))).collect();
        add(Kind::Group, format!("g{g}"), format!("gid-{g}"), json!({"members": want}), json!({"members": have}));
    }
    for r in 0..groups / 10 {
        let g = r * 10;
        add(
            Kind::RoleAssignment,
            format!("ra{r}"),
            format!("raid-{r}"),
            json!({"role": "Directory Readers", "principal": reference(format!("group.g{g}"))}),
            json!({"role": "Directory Readers", "principal": reference(format!("gid-{g}"))}),
        );
    }
    (desired, observed, ids)
}

fn allocations_of_lint(groups: usize) -> u64 {
    let (desired, observed, ids) = tenant(groups);
    let region = Region::new(GLOBAL);
    let findings = engine::governance::holders::lint(&desired, &observed, &ids, &[]);
    let stats = region.change();
    assert!(findings.is_empty(), "no live member is outside desired state: {findings:?}");
    (stats.allocations + stats.reallocations) as u64
}

#[test]
fn holders_lint_work_grows_linearly_with_groups_and_role_assignments() {
    let small = allocations_of_lint(500);
    let large = allocations_of_lint(4_000);
    let ratio = large as f64 / small as f64;
    eprintln!("holders::lint allocations: {small} at 500 groups, {large} at 4,000 ({ratio:.2}x)");
    // 8x the groups and role assignments: linear work is about 8x;
    // quadratic work (every role assignment looked at for each group, the
    // group's address built each time) about 64x.
    assert!(ratio < 10.0, "holders::lint allocations grew {ratio:.1}x for 8x the groups ({small} -> {large}): some step is superlinear");
}
