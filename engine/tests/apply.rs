//! The apply walk against a fake executor.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{TimeZone, Utc};
use engine::apply::{apply, ApplyOptions, ExecError, Executor, Outcome, Status};
use engine::model::reference;
use engine::{plan, Change, DesiredModel, DesiredResource, Ledger, ObservedState, PlanOptions, Props};
use schema::Address;
use serde_json::json;

fn res(addr: &str, deps: &[&str]) -> DesiredResource {
    let mut props = Props::new();
    props.insert("displayName".into(), json!(addr));
    if let Some(d) = deps.first() {
        props.insert("assignments".into(), json!({"include": [reference(*d)]}));
    }
    DesiredResource {
        address: addr.parse().unwrap(),
        natural_key: addr.into(),
        display_name: addr.into(),
        props,
        immutable: vec![],
        assignment_props: vec![],
        create_only: Props::new(),
        depends_on: deps.iter().map(|d| d.parse().unwrap()).collect(),
        expires: None,
    }
}

struct Fake {
    fail: &'static str,
    seen: Mutex<Vec<(String, BTreeMap<Address, String>)>>,
}

impl Executor for Fake {
    async fn execute(&self, change: &Change, ids: &BTreeMap<Address, String>) -> Result<Outcome, ExecError> {
        self.seen.lock().unwrap().push((change.address.to_string(), ids.clone()));
        if change.address.to_string() == self.fail {
            return Err(ExecError { message: "HTTP 400 Request_BadRequest".into(), request_id: Some("req-1".into()), retryable: false, stops_run: false, not_sent: false });
        }
        Ok(Outcome { id: Some(format!("id-{}", change.address.key)), request_ids: vec!["req-2".into()], note: None })
    }
}

#[test]
fn failures_skip_dependents_and_independent_changes_run() {
    let mut d = DesiredModel::default();
    d.insert(res("group.a", &[]));
    d.insert(res("group.b", &[]));
    d.insert(res("update_ring.on-a", &["group.a"]));
    d.insert(res("update_ring.on-b", &["group.b"]));
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() };
    let p = plan(&d, &ObservedState::default(), &Ledger::default(), &options).unwrap();
    let fake = Fake { fail: "group.a", seen: Mutex::new(vec![]) };
    let mut ledger = Ledger::default();
    let mut calls = 0;
    let report = futures::executor::block_on(apply(
        &p,
        &mut ledger,
        &fake,
        &ApplyOptions { concurrency: 4, now: "2026-11-23T00:00:00Z".into() },
        |_, _| calls += 1,
    ));
    assert_eq!(calls, 4, "the callback runs after every change");
    let status: BTreeMap<String, Status> = report.results.iter().map(|r| (r.address.to_string(), r.status.clone())).collect();
    assert!(matches!(status["group.a"], Status::Failed { .. }));
    assert_eq!(status["group.b"], Status::Applied);
    assert_eq!(status["update_ring.on-b"], Status::Applied);
    match &status["update_ring.on-a"] {
        Status::Skipped { blocked_by, error } => {
            assert_eq!(blocked_by.to_string(), "group.a");
            assert!(error.contains("Request_BadRequest"));
        }
        other => panic!("expected skipped, got {other:?}"),
    }
    assert_eq!(ledger.id(&"group.b".parse().unwrap()), Some("id-b"));
    assert_eq!(ledger.id(&"group.a".parse().unwrap()), None);
    // The dependent saw the id of what it waits on, created in an earlier wave.
    let seen = fake.seen.lock().unwrap();
    let (_, ids) = seen.iter().find(|(a, _)| a == "update_ring.on-b").unwrap();
    assert_eq!(ids.get(&"group.b".parse().unwrap()).map(String::as_str), Some("id-b"));
    assert!(!report.ok());
}
