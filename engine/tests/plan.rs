//! Contract tests of `engine::plan`: the standard reconciler assertions.

use chrono::{TimeZone, Utc};
use engine::model::reference;
use engine::{plan, Action, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanOptions, Props};
use schema::{Address, Kind};
use serde_json::{json, Value};

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

fn props(v: Value) -> Props {
    serde_json::from_value(v).unwrap()
}

fn res(addr: &str, key: &str, p: Value, deps: &[&str]) -> DesiredResource {
    DesiredResource {
        address: a(addr),
        natural_key: key.to_string(),
        display_name: key.to_string(),
        props: props(p),
        immutable: vec![],
        assignment_props: vec!["assignments".into()],
        create_only: Props::new(),
        depends_on: deps.iter().map(|d| a(d)).collect(),
        expires: None,
    }
}

fn live(kind: Kind, id: &str, key: &str, p: Value) -> LiveObject {
    LiveObject { kind, id: id.into(), natural_key: key.into(), display_name: key.into(), props: props(p) }
}

fn opts() -> PlanOptions {
    PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() }
}

/// A small tenant: a user, a group with the user as member, a ring
/// assigned to the group.
fn desired() -> DesiredModel {
    let mut d = DesiredModel::default();
    d.insert(res("user.alice", "alice@contoso.onmicrosoft.com", json!({"displayName": "Alice"}), &[]));
    d.insert(res("group.ring", "ring", json!({"displayName": "Ring", "members": [reference("user.alice")]}), &["user.alice"]));
    d.insert(res(
        "update_ring.test",
        "Ring Test",
        json!({"qualityUpdatesDeferralPeriodInDays": 0, "assignments": {"include": [reference("group.ring")]}}),
        &["group.ring"],
    ));
    d
}

fn converged() -> ObservedState {
    let mut o = ObservedState::default();
    o.insert(live(Kind::User, "u1", "alice@contoso.onmicrosoft.com", json!({"displayName": "Alice", "jobTitle": "x"})));
    o.insert(live(Kind::Group, "g1", "ring", json!({"displayName": "Ring", "members": [reference("u1")]})));
    o.insert(live(
        Kind::UpdateRing,
        "p1",
        "Ring Test",
        json!({"qualityUpdatesDeferralPeriodInDays": 0, "assignments": {"include": [reference("g1")]}}),
    ));
    o
}

/// The ledger of [`converged`] as an apply of `d` records it: each object
/// with its approved record. (An object matched by natural key with no
/// approved record is an adoption, reviewed whole when it is a control or
/// a grant: `governance::unproven_record`.)
fn approved(d: &DesiredModel) -> Ledger {
    let mut l = Ledger::default();
    for (addr, id) in [("user.alice", "u1"), ("group.ring", "g1"), ("update_ring.test", "p1")] {
        let applied = d.resources.get(&a(addr)).map(engine::governance::ratify::applied_hash);
        l.record(a(addr), id.into(), applied, None);
    }
    l
}

#[test]
fn an_adoption_of_a_control_or_grant_is_reviewed_whole() {
    let p = plan(&desired(), &converged(), &Ledger::default(), &opts()).unwrap();
    let ratified: Vec<String> = p.changes.iter().filter(|c| engine::governance::ratify::is_ratify(c)).map(|c| c.address.to_string()).collect();
    assert_eq!(ratified, vec!["group.ring", "update_ring.test"], "{:#?}", p.changes);
    assert_eq!(p.changes.len(), 2);
    assert!(p.sensitive.values().all(|w| w.contains("the ledger records no approved state")), "{:#?}", p.sensitive);
}

#[test]
fn empty_tenant_plans_every_create_in_dependency_order() {
    let p = plan(&desired(), &ObservedState::default(), &Ledger::default(), &opts()).unwrap();
    let order: Vec<(String, u32)> = p.changes.iter().map(|c| (c.address.to_string(), c.wave)).collect();
    assert_eq!(order, vec![("user.alice".into(), 0), ("group.ring".into(), 1), ("update_ring.test".into(), 2)]);
    assert!(p.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(p.changes[2].waits_on, vec![a("group.ring")]);
}

#[test]
fn converged_tenant_plans_nothing() {
    let p = plan(&desired(), &converged(), &approved(&desired()), &opts()).unwrap();
    assert!(p.is_empty(), "{:#?}", p.changes);
    assert_eq!(p.unchanged.len(), 3);
}

#[test]
fn one_changed_field_plans_exactly_that_field() {
    let mut o = converged();
    o.objects.get_mut(&Kind::UpdateRing).unwrap()[0].props.insert("qualityUpdatesDeferralPeriodInDays".into(), json!(7));
    let p = plan(&desired(), &o, &approved(&desired()), &opts()).unwrap();
    assert_eq!(p.changes.len(), 1);
    let c = &p.changes[0];
    assert_eq!((c.address.to_string(), c.action), ("update_ring.test".into(), Action::Update));
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].field, "qualityUpdatesDeferralPeriodInDays");
    assert_eq!(c.fields[0].before, Some(json!(7)));
    assert_eq!(c.fields[0].after, Some(json!(0)));
    assert_eq!(c.id.as_deref(), Some("p1"));
}

#[test]
fn assignment_only_changes_are_assign_and_show_addresses() {
    let mut o = converged();
    o.insert(live(Kind::Group, "g2", "other", json!({})));
    o.objects.get_mut(&Kind::UpdateRing).unwrap()[0]
        .props
        .insert("assignments".into(), json!({"include": [reference("g2")]}));
    let p = plan(&desired(), &o, &approved(&desired()), &opts()).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Assign);
    let text = engine::render::text(&p, false);
    assert!(text.contains("id:g2"), "unmanaged ids are shown as ids: {text}");
    assert!(text.contains("group.ring"), "{text}");
}

#[test]
fn two_live_objects_with_one_natural_key_is_an_error_naming_both() {
    let mut o = converged();
    o.insert(live(Kind::Group, "g9", "RING", json!({})));
    let e = plan(&desired(), &o, &Ledger::default(), &opts()).unwrap_err().to_string();
    assert!(e.contains("g1") && e.contains("g9") && e.contains("group.ring"), "{e}");
}

#[test]
fn ledger_wins_over_natural_key_and_missing_ledger_object_is_recreated() {
    let mut o = converged();
    o.insert(live(Kind::Group, "g9", "ring", json!({"displayName": "Ring", "members": [reference("u1")]})));
    let mut ledger = Ledger::default();
    ledger.record(a("group.ring"), "g9".into(), desired().resources.get(&a("group.ring")).map(engine::governance::ratify::applied_hash), None);
    ledger.record(a("update_ring.test"), "p1".into(), desired().resources.get(&a("update_ring.test")).map(engine::governance::ratify::applied_hash), None);
    // The ring is assigned to g1, but the ledger says group.ring is g9:
    // that is drift, shown by id because g1 is not managed.
    let p = plan(&desired(), &o, &ledger, &opts()).unwrap();
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Assign);
    assert!(engine::render::text(&p, false).contains("id:g1"));
    o.objects.get_mut(&Kind::UpdateRing).unwrap()[0]
        .props
        .insert("assignments".into(), json!({"include": [reference("g9")]}));
    let p = plan(&desired(), &o, &ledger, &opts()).unwrap();
    assert!(p.is_empty(), "{:#?}", p.changes);

    let mut ledger = approved(&desired());
    ledger.record(a("update_ring.test"), "gone".into(), None, None);
    let mut o = converged();
    o.objects.remove(&Kind::UpdateRing);
    let p = plan(&desired(), &o, &ledger, &opts()).unwrap();
    let c = p.changes.iter().find(|c| c.address == a("update_ring.test")).unwrap();
    assert_eq!(c.action, Action::Create);
    assert!(c.reason.contains("gone"), "{}", c.reason);
}

#[test]
fn undeclared_ledger_objects_are_kept_unless_pruned_and_never_when_protected() {
    let mut o = converged();
    o.insert(live(Kind::Group, "g5", "old", json!({})));
    o.insert(live(Kind::User, "u5", "bg@contoso.onmicrosoft.com", json!({})));
    let mut ledger = approved(&desired());
    ledger.record(a("group.old"), "g5".into(), None, None);
    ledger.record(a("user.breakglass"), "u5".into(), None, None);
    let mut d = desired();
    let p = plan(&d, &o, &ledger, &opts()).unwrap();
    // Pruning off: the group is kept as it is; the account is kept with
    // its sign-in blocked (an account nobody declares is access nobody
    // approved to keep), unless it is protected (below).
    assert_eq!(p.orphans.len(), 1, "{:#?}", p.orphans);
    assert_eq!(p.orphans[0].address, a("group.old"));
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!((p.changes[0].address.to_string(), p.changes[0].action), ("user.breakglass".into(), Action::Update));
    assert!(p.changes[0].fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{:#?}", p.changes[0]);

    d.governance.prune.kinds = vec!["group".into(), "user".into()];
    d.governance.protected = vec!["user.breakglass".into()];
    let p = plan(&d, &o, &ledger, &opts()).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!((p.changes[0].address.to_string(), p.changes[0].action), ("group.old".into(), Action::Delete));
    assert!(p.orphans.iter().any(|o| o.address == a("user.breakglass") && o.reason.contains("protected")));
}

#[test]
fn unreadable_kinds_are_unknown_not_drift() {
    let mut o = converged();
    o.objects.remove(&Kind::Group);
    o.unreadable.insert(Kind::Group, "503 after 5 attempts".into());
    let p = plan(&desired(), &o, &Ledger::default(), &opts()).unwrap();
    assert!(p.is_empty(), "{:#?}", p.changes);
    let unknown: Vec<String> = p.unknown.iter().map(|u| u.address.to_string()).collect();
    assert_eq!(unknown, vec!["group.ring", "update_ring.test"]);
}

/// An object the ledger holds that answers by id but is not listed yet
/// (replication lag past the window) is unknown, never created again, and
/// what refers to it is unknown too.
#[test]
fn an_unread_single_object_is_unknown_not_created() {
    let mut o = converged();
    o.objects.get_mut(&Kind::Group).unwrap().clear();
    o.unread.insert(a("group.ring"), "the ledger holds g1, which answers by id but is not listed yet".into());
    let p = plan(&desired(), &o, &Ledger::default(), &opts()).unwrap();
    assert!(p.changes.iter().all(|c| c.address != a("group.ring")), "{:#?}", p.changes);
    let unknown: Vec<String> = p.unknown.iter().map(|u| u.address.to_string()).collect();
    assert_eq!(unknown, vec!["group.ring", "update_ring.test"]);
    assert!(p.unknown[0].reason.contains("not listed yet"), "{:?}", p.unknown);
}

#[test]
fn expired_access_is_removed_and_not_created() {
    let mut d = desired();
    let mut ra = res("role_assignment.alice-intune", "{{user.alice}}|intune", json!({}), &["user.alice"]);
    ra.expires = Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    d.insert(ra);
    let mut o = converged();
    o.insert(live(Kind::RoleAssignment, "ra1", "{{u1}}|intune", json!({})));
    let p = plan(&d, &o, &approved(&d), &opts()).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!((p.changes[0].action, p.changes[0].id.as_deref()), (Action::Delete, Some("ra1")));

    let p = plan(&d, &converged(), &approved(&d), &opts()).unwrap();
    assert!(p.is_empty());
    assert!(p.warnings.iter().any(|w| w.contains("expired")));
}

#[test]
fn replacing_an_object_updates_what_refers_to_it() {
    let mut d = desired();
    d.resources.get_mut(&a("group.ring")).unwrap().immutable = vec!["isAssignableToRole".into()];
    d.resources.get_mut(&a("group.ring")).unwrap().props.insert("isAssignableToRole".into(), json!(true));
    let p = plan(&d, &converged(), &Ledger::default(), &opts()).unwrap();
    let actions: Vec<(String, Action)> = p.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(actions, vec![("group.ring".into(), Action::Replace), ("update_ring.test".into(), Action::Assign)]);
    assert_eq!(p.changes[1].waits_on, vec![a("group.ring")]);
}

#[test]
fn plans_are_deterministic() {
    let one = engine::render::json(&plan(&desired(), &ObservedState::default(), &Ledger::default(), &opts()).unwrap());
    let two = engine::render::json(&plan(&desired(), &ObservedState::default(), &Ledger::default(), &opts()).unwrap());
    assert_eq!(one, two);
    let mut o = converged();
    o.objects.get_mut(&Kind::User).unwrap().reverse();
    let p1 = plan(&desired(), &converged(), &Ledger::default(), &opts()).unwrap();
    let p2 = plan(&desired(), &o, &Ledger::default(), &opts()).unwrap();
    assert_eq!(p1.observed_fingerprint, p2.observed_fingerprint);
}

#[test]
fn observed_fingerprint_changes_when_a_matched_object_changes() {
    let p1 = plan(&desired(), &converged(), &Ledger::default(), &opts()).unwrap();
    let mut o = converged();
    o.objects.get_mut(&Kind::User).unwrap()[0].props.insert("displayName".into(), json!("Alicia"));
    let p2 = plan(&desired(), &o, &Ledger::default(), &opts()).unwrap();
    assert_ne!(p1.observed_fingerprint, p2.observed_fingerprint);
    assert_eq!(p1.desired_fingerprint, p2.desired_fingerprint);
}
