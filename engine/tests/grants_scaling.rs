//! What group membership grants (`governance::grants`, judged for every
//! change of a plan, from desired state and from the live tenant) grows
//! linearly with the tenant, checked without timing anything: the work is
//! measured as the number of heap allocations the plan makes (counted by
//! this test binary's global allocator), which is deterministic.
//!
//! The plan is a first apply: every group is created (each with members,
//! some holding a role or included in a conditional access policy, some
//! with a membership rule) and every user changes an attribute a rule
//! reads. Each group create once scanned every declared and live object
//! for each group nesting it, and each user change every declared group:
//! quadratic in changes x objects.
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

fn resource(kind: Kind, key: &str, p: Value, deps: Vec<Address>) -> DesiredResource {
    DesiredResource {
        address: Address::new(kind, key),
        natural_key: key.to_string(),
        display_name: key.to_string(),
        props: props(p),
        immutable: vec![],
        assignment_props: vec![],
        create_only: Props::new(),
        depends_on: deps,
        expires: None,
    }
}

/// `groups` groups to create, 3 users each (live, adopted, each with a
/// changed department); one group in 10 holds a role, one in 10 is
/// included in a conditional access policy, one in 50 nests the next one,
/// one in 100 has a rule reading the department.
fn first_apply(groups: usize) -> (DesiredModel, ObservedState, Ledger) {
    let mut desired = DesiredModel::default();
    let mut observed = ObservedState::default();
    let mut ledger = Ledger::default();
    let users = groups * 3;
    for u in 0..users {
        let key = format!("u{u}");
        desired.insert(resource(Kind::User, &key, json!({"displayName": key, "department": "new"}), vec![]));
        observed.insert(LiveObject { kind: Kind::User, id: format!("uid-{u}"), natural_key: key.clone(), display_name: key.clone(), props: props(json!({"displayName": key, "department": "old"})) });
        ledger.record(Address::new(Kind::User, key.as_str()), format!("uid-{u}"), None, None);
    }
    for g in 0..groups {
        let mut members: Vec<Value> = (0..3).map(|i| reference(format!("user.u{}", g * 3 + i))).collect();
        if g % 50 == 0 && g + 1 < groups {
            members.push(reference(format!("group.g{}", g + 1)));
        }
        let mut p = json!({"displayName": format!("G {g}"), "members": members});
        if g % 100 == 0 {
            p["membershipRule"] = json!("user.department -eq \"new\"");
        }
        desired.insert(resource(Kind::Group, &format!("g{g}"), p, vec![]));
        if g % 10 == 0 {
            let ra = json!({"role": "Directory Readers", "principal": reference(format!("group.g{g}"))});
            desired.insert(resource(Kind::RoleAssignment, &format!("ra{g}"), ra, vec![Address::new(Kind::Group, format!("g{g}"))]));
        }
        if g % 10 == 5 {
            let ca = json!({"displayName": format!("CA {g}"), "state": "enabled", "conditions": {"users": {"includeGroups": [reference(format!("group.g{g}"))]}}});
            desired.insert(resource(Kind::ConditionalAccess, &format!("ca{g}"), ca, vec![Address::new(Kind::Group, format!("g{g}"))]));
        }
    }
    (desired, observed, ledger)
}

fn allocations_of_plan(groups: usize) -> u64 {
    let (desired, observed, ledger) = first_apply(groups);
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("time") };
    let region = Region::new(GLOBAL);
    let p = plan(&desired, &observed, &ledger, &options).expect("plan");
    let stats = region.change();
    // What is judged stays judged: the groups holding a role or included in
    // a policy are sensitive, and a user whose changed attribute a rule
    // group reads (that group holds a role) too.
    let held = |key: &str| p.sensitive.get(&key.parse::<Address>().expect("address")).cloned().unwrap_or_default();
    assert!(held("group.g10").contains("holds active Directory Readers"), "{}", held("group.g10"));
    assert!(held("group.g15").contains("is included in conditional_access.ca15"), "{}", held("group.g15"));
    assert!(held("group.g1").contains("through group.g1 > group.g0"), "a nested group grants what its container does: {}", held("group.g1"));
    assert!(held("user.u7").contains("read by the membership rule of group.g0"), "{}", held("user.u7"));
    (stats.allocations + stats.reallocations) as u64
}

#[test]
fn grants_work_grows_linearly_with_changes_and_objects() {
    let small = allocations_of_plan(250);
    let large = allocations_of_plan(2_000);
    let ratio = large as f64 / small as f64;
    eprintln!("first-apply plan allocations: {small} at 250 groups, {large} at 2,000 ({ratio:.2}x)");
    // 8x the groups, users and policies: linear work is about 8x;
    // quadratic work (each change judged against every object) about 64x.
    assert!(ratio < 10.0, "plan allocations grew {ratio:.1}x for 8x the tenant ({small} -> {large}): judging grants is superlinear");
}
