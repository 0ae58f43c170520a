//! `engine::plan` grows linearly with the tenant, checked without timing
//! anything: the work of a plan is measured as the number of heap
//! allocations it makes (counted by this test binary's global allocator),
//! which is deterministic. A declared, converged tenant of N objects and
//! one of 8N are planned; linear work gives a ratio near 8, quadratic work
//! (one pass over every object for each object, as `lint_live` once did
//! for every policy) a ratio near 64.
//!
//! This file holds a single test so no other test thread allocates while
//! it counts.

use std::alloc::System;

use chrono::{TimeZone, Utc};
use engine::model::reference;
use engine::{plan, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanOptions, Props};
use schema::{Address, Kind};
use serde_json::{json, Value};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn props(v: Value) -> Props {
    serde_json::from_value(v).expect("props")
}

/// A converged tenant of `n` objects declared as `export` writes it: 70%
/// users, 20% groups with 5 members each, 10% device configurations, each
/// assigned to a group; the ledger records every object as approved.
fn tenant(n: usize) -> (DesiredModel, ObservedState, Ledger) {
    let users = n * 7 / 10;
    let groups = n * 2 / 10;
    let policies = n - users - groups;
    let mut desired = DesiredModel::default();
    let mut observed = ObservedState::default();
    let mut ledger = Ledger::default();
    let mut add = |kind: Kind, key: String, id: String, desired_props: Value, live_props: Value, deps: Vec<Address>| {
        let address = Address::new(kind, key.as_str());
        let r = DesiredResource {
            address: address.clone(),
            natural_key: key.clone(),
            display_name: key.clone(),
            props: props(desired_props),
            immutable: vec![],
            assignment_props: vec!["assignments".into()],
            create_only: Props::new(),
            depends_on: deps,
            expires: None,
        };
        observed.insert(LiveObject { kind, id: id.clone(), natural_key: key.clone(), display_name: key, props: props(live_props) });
        // Approved, as the apply that adopted it recorded it (gov18).
        ledger.record(address, id, Some(engine::governance::ratify::applied_hash(&r)), None);
        desired.insert(r);
    };
    for u in 0..users {
        add(Kind::User, format!("u{u}"), format!("uid-{u}"), json!({"displayName": format!("User {u}")}), json!({"displayName": format!("User {u}")}), vec![]);
    }
    for g in 0..groups {
        let picked: Vec<usize> = (0..5).map(|i| (g * 5 + i) % users.max(1)).collect();
        let want: Vec<Value> = picked.iter().map(|u| reference(format!("user.u{u}"))).collect();
        let have: Vec<Value> = picked.iter().map(|u| reference(format!("uid-{u}"))).collect();
        let deps = picked.iter().map(|u| Address::new(Kind::User, format!("u{u}"))).collect();
        add(Kind::Group, format!("g{g}"), format!("gid-{g}"), json!({"displayName": format!("G {g}"), "members": want}), json!({"displayName": format!("G {g}"), "members": have}), deps);
    }
    for p in 0..policies {
        let g = p % groups.max(1);
        add(
            Kind::DeviceConfiguration,
            format!("p{p}"),
            format!("pid-{p}"),
            json!({"displayName": format!("P {p}"), "assignments": {"include": [reference(format!("group.g{g}"))]}}),
            json!({"displayName": format!("P {p}"), "assignments": {"include": [reference(format!("gid-{g}"))]}}),
            vec![Address::new(Kind::Group, format!("g{g}"))],
        );
    }
    (desired, observed, ledger)
}

fn allocations_of_plan(n: usize) -> u64 {
    let (desired, observed, ledger) = tenant(n);
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("time") };
    let region = Region::new(GLOBAL);
    let p = plan(&desired, &observed, &ledger, &options).expect("plan");
    let stats = region.change();
    assert!(p.changes.is_empty(), "a converged tenant plans nothing: {:?}", p.changes.first());
    assert_eq!(p.unchanged.len(), n);
    (stats.allocations + stats.reallocations) as u64
}

#[test]
fn plan_work_grows_linearly_with_the_tenant() {
    let small = allocations_of_plan(1_000);
    let large = allocations_of_plan(8_000);
    let ratio = large as f64 / small as f64;
    eprintln!("plan allocations: {small} at 1,000 objects, {large} at 8,000 ({ratio:.2}x)");
    // 8x the objects: linear work is about 8x (a little more for deeper
    // maps); quadratic work would be about 64x. Before the fix (a map of
    // every object rebuilt for each policy in `lint_live`) this was 13.5x.
    assert!(ratio < 10.0, "plan allocations grew {ratio:.1}x for 8x the objects ({small} -> {large}): some step is superlinear");
    // And few per object (issue 13, perf5: about a quarter of the 100k
    // plan's CPU was malloc/free): 62 per object before reference lists
    // were compared in place and fingerprints stopped building texts, 22
    // after.
    let per_object = large as f64 / 8_000.0;
    assert!(per_object < 30.0, "a converged plan allocates {per_object:.1} times per declared object ({large} at 8,000)");
}
