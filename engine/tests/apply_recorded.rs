//! The recorded apply walk: a change that cannot be recorded stops the
//! walk, naming the change, and nothing starts after it; natural-key
//! matches are recorded (adopted) even when nothing changes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use engine::apply::{apply_recorded, ApplyOptions, ExecError, Executor, Outcome, Record, Status};
use engine::ledger::LedgerOp;
use engine::{plan, Change, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanOptions, Props};
use schema::Address;
use serde_json::json;

fn res(addr: &str) -> DesiredResource {
    let mut props = Props::new();
    props.insert("displayName".into(), json!(addr));
    DesiredResource {
        address: addr.parse().unwrap(),
        natural_key: addr.into(),
        display_name: addr.into(),
        props,
        immutable: vec![],
        assignment_props: vec![],
        create_only: Props::new(),
        depends_on: vec![],
        expires: None,
    }
}

struct Counting {
    started: AtomicUsize,
}

impl Executor for Counting {
    async fn execute(&self, change: &Change, _ids: &BTreeMap<Address, String>) -> Result<Outcome, ExecError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        Ok(Outcome { id: Some(format!("id-{}", change.address.key)), request_ids: vec![], note: None })
    }
}

fn options() -> PlanOptions {
    PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() }
}

#[test]
fn a_change_that_cannot_be_recorded_stops_the_walk_at_that_change() {
    let mut d = DesiredModel::default();
    for i in 0..10 {
        d.insert(res(&format!("group.g{i:02}")));
    }
    let p = plan(&d, &ObservedState::default(), &Ledger::default(), &options()).unwrap();
    assert_eq!(p.changes.len(), 10);
    for concurrency in [1, 4] {
        let exec = Counting { started: AtomicUsize::new(0) };
        let mut ledger = Ledger::default();
        let mut recorded = Vec::new();
        let report = futures::executor::block_on(apply_recorded(
            &p,
            &mut ledger,
            &exec,
            &ApplyOptions { concurrency, now: "2026-11-23T00:00:00Z".into() },
            |r, _| {
                if let Record::Change { result, op } = r {
                    assert!(matches!(op, Some(LedgerOp::Record { .. })), "a create's ledger op comes with its result");
                    if recorded.len() == 3 {
                        return Err(format!("disk full writing {}", result.address));
                    }
                    recorded.push(result.address.to_string());
                }
                Ok(())
            },
        ));
        let stopped = report.stopped.clone().expect("the walk reports where it stopped");
        assert!(stopped.error.contains("disk full"), "{stopped:?}");
        assert_eq!(stopped.action, "create");
        assert!(!report.ok());
        let started = exec.started.load(Ordering::SeqCst);
        // The 4th change failed to record; only changes already running
        // (at most concurrency - 1 more) finished after it.
        assert!(started >= 4 && started < 4 + concurrency, "concurrency {concurrency}: {started} changes started");
        let skipped: Vec<&engine::apply::ChangeResult> = report.results.iter().filter(|r| matches!(r.status, Status::Skipped { .. })).collect();
        assert_eq!(skipped.len(), 10 - started, "every change not started is reported");
        for s in skipped {
            match &s.status {
                Status::Skipped { blocked_by, error } => {
                    assert_eq!(blocked_by, &stopped.address);
                    assert!(error.contains("not started") && error.contains(&stopped.address.to_string()), "{error}");
                }
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn natural_key_matches_are_recorded_as_adoptions_even_with_no_change() {
    let mut d = DesiredModel::default();
    d.insert(res("group.a"));
    d.insert(res("group.b"));
    let mut observed = ObservedState::default();
    for (id, key) in [("1", "group.a"), ("2", "group.b")] {
        let mut props = Props::new();
        props.insert("displayName".into(), json!(key));
        observed.insert(LiveObject { kind: schema::Kind::Group, id: id.into(), natural_key: key.into(), display_name: key.into(), props });
    }
    // A ledger cut short: it knows only group.a.
    let mut ledger = Ledger::default();
    ledger.record("group.a".parse().unwrap(), "1".into(), None, None);
    let p = plan(&d, &observed, &ledger, &options()).unwrap();
    assert!(p.is_empty(), "{:?}", p.changes);
    let exec = Counting { started: AtomicUsize::new(0) };
    let mut adopted = Vec::new();
    let report = futures::executor::block_on(apply_recorded(&p, &mut ledger, &exec, &ApplyOptions { concurrency: 1, now: "t".into() }, |r, _| {
        if let Record::Adopted { address, id, .. } = r {
            adopted.push(format!("{address}={id}"));
        }
        Ok(())
    }));
    assert!(report.ok());
    assert_eq!(adopted, vec!["group.b=2"]);
    assert_eq!(ledger.id(&"group.b".parse().unwrap()), Some("2"));
}
