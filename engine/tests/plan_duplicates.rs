//! Two live objects with one natural key, one of them owned by the ledger:
//! the owned one is matched, the other is a warning naming its id, not an
//! error that stops every plan.

use chrono::{TimeZone, Utc};
use engine::{plan, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanError, PlanOptions, Props};
use serde_json::json;

fn group(key: &str) -> DesiredResource {
    let mut props = Props::new();
    props.insert("displayName".into(), json!("Devices"));
    props.insert("mailNickname".into(), json!(key));
    DesiredResource {
        address: format!("group.{key}").parse().unwrap(),
        natural_key: key.into(),
        display_name: "Devices".into(),
        props,
        immutable: vec![],
        assignment_props: vec![],
        create_only: Props::new(),
        depends_on: vec![],
        expires: None,
    }
}

fn live(id: &str, key: &str) -> LiveObject {
    let mut props = Props::new();
    props.insert("displayName".into(), json!("Devices"));
    props.insert("mailNickname".into(), json!(key));
    LiveObject { kind: schema::Kind::Group, id: id.into(), natural_key: key.into(), display_name: "Devices".into(), props }
}

#[test]
fn the_owned_object_wins_and_the_duplicate_is_a_warning() {
    let mut d = DesiredModel::default();
    d.insert(group("devices"));
    let mut observed = ObservedState::default();
    observed.insert(live("id-owned", "devices"));
    observed.insert(live("id-copy", "devices"));
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() };
    // Without a ledger entry, which one is meant cannot be known: an error.
    assert!(matches!(plan(&d, &observed, &Ledger::default(), &options), Err(PlanError::AmbiguousMatch { .. })));
    let mut ledger = Ledger::default();
    ledger.record("group.devices".parse().unwrap(), "id-owned".into(), None, None);
    let p = plan(&d, &observed, &ledger, &options).expect("an owned object resolves the duplicate");
    assert!(p.is_empty(), "{:?}", p.changes);
    assert_eq!(p.ids[&"group.devices".parse().unwrap()], "id-owned");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("unmanaged duplicate id-copy") && p.warnings[0].contains("id-owned"), "{}", p.warnings[0]);
}
