//! Unit tests of live membership judgement: membership not read is
//! unknown (an error that says so), never "no service account".

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::json;

use super::live::lint_membership;
use crate::model::{reference, DesiredModel, DesiredResource, LiveObject, ObservedState};

fn res(a: &str, props: serde_json::Value) -> DesiredResource {
    DesiredResource {
        address: a.parse().unwrap(),
        natural_key: a.into(),
        display_name: a.into(),
        props: props.as_object().unwrap().clone().into_iter().collect(),
        immutable: vec![],
        assignment_props: vec![],
        create_only: Default::default(),
        depends_on: vec![],
        expires: None,
    }
}

fn live(kind: Kind, id: &str) -> LiveObject {
    LiveObject { kind, id: id.into(), natural_key: id.into(), display_name: id.into(), props: Default::default() }
}

fn setup() -> (DesiredModel, ObservedState, BTreeMap<Address, String>) {
    let mut d = DesiredModel::default();
    let policy = res("compliance_policy.p", json!({"assignments": {"include": [reference("group.g")], "exclude": []}}));
    d.resources.insert(policy.address.clone(), policy);
    let g = res("group.g", json!({"displayName": "g"}));
    d.resources.insert(g.address.clone(), g);
    let s = res("user.svc", json!({"userPrincipalName": "svc@x"}));
    d.resources.insert(s.address.clone(), s);
    d.service_accounts.insert("user.svc".parse().unwrap());
    let mut o = ObservedState::default();
    o.insert(live(Kind::Group, "g1"));
    o.insert(live(Kind::User, "s1"));
    o.objects.entry(Kind::CompliancePolicy).or_default();
    let ids = [("group.g", "g1"), ("user.svc", "s1"), ("compliance_policy.p", "p1")].iter().map(|(a, i)| (a.parse().unwrap(), i.to_string())).collect();
    (d, o, ids)
}

#[test]
fn unread_membership_is_unknown_never_no_service_account() {
    let (d, o, ids) = setup();
    let f = lint_membership(&d, &o, &ids);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].message.contains("the live membership of group.g was not read"), "{f:?}");
}

#[test]
fn a_service_account_held_live_is_found_and_an_exclude_takes_it_away() {
    let (mut d, mut o, ids) = setup();
    o.memberships.insert("g1".into(), [("s1".to_string(), "user".to_string())].into_iter().collect());
    let f = lint_membership(&d, &o, &ids);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].lint, "service-account-targeted");
    assert!(f[0].message.contains("reaches service account user.svc through group.g, which holds it live"), "{f:?}");
    // Empty, read membership: nothing.
    o.memberships.insert("g1".into(), BTreeMap::new());
    assert!(lint_membership(&d, &o, &ids).is_empty());
    // Excluding the account directly takes it away.
    o.memberships.insert("g1".into(), [("s1".to_string(), "user".to_string())].into_iter().collect());
    let p = d.resources.get_mut(&"compliance_policy.p".parse::<Address>().unwrap()).unwrap();
    p.props.insert("assignments".into(), json!({"include": [reference("group.g")], "exclude": [reference("user.svc")]}));
    assert!(lint_membership(&d, &o, &ids).is_empty());
}

#[test]
fn groups_unread_say_nothing_here() {
    let (d, mut o, ids) = setup();
    o.unreadable.insert(Kind::Group, "403".into());
    assert!(lint_membership(&d, &o, &ids).is_empty(), "the plan lists unread groups as unknown already");
}
