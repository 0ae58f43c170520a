//! What a parsed ledger holds, in bytes, counted by this test binary's
//! global allocator (deterministic: no timing). The ledger is held for a
//! whole `plan`, `export` check and `reconcile` pass; at 100k objects its
//! map, deserialized entry by entry in key order, left its nodes about
//! half full: 43 MB where its entries need about 23 (issue 13, perf14).
//! It is built again from its sorted entries once parsed.
//!
//! This file holds a single test so no other test thread allocates while
//! it counts.

use std::alloc::System;

use engine::Ledger;
use schema::{Address, Kind};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes a parsed ledger holds per entry allowed. perf14 measured the
/// ledger of 10,000 adopted objects (as `export` writes it: an id each)
/// at 487 bytes per entry before the map was built again, 291 after.
const PER_ENTRY: i64 = 330;

#[test]
fn a_parsed_ledger_holds_its_entries_in_full_nodes() {
    let n = 10_000;
    let mut ledger = Ledger::default();
    for i in 0..n {
        let kind = [Kind::User, Kind::Group, Kind::DeviceConfiguration][i % 3];
        ledger.record(Address::new(kind, format!("seed-42-object-{i:06}")), format!("00000000-0000-4000-8000-{i:012}"), None, None);
    }
    let text = ledger.render();
    let region = Region::new(GLOBAL);
    let parsed = Ledger::parse(&text).expect("the ledger parses");
    let s = region.change();
    let held = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    assert_eq!(parsed.resources.len(), n);
    let per_entry = held / n as i64;
    assert!(per_entry <= PER_ENTRY, "a parsed ledger holds {per_entry} bytes per entry ({held} in all for {n}); at most {PER_ENTRY}");
    drop(parsed);
}
