//! Unit tests of governance: sensitivity, every refusal path of approvals,
//! a property test that one key alone never makes a sensitive plan
//! applicable, lints, certificate expiry and rollout gating.

use super::*;
use crate::model::{DesiredModel, ObservedState};
use crate::plan::{Action, Change};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signer, SigningKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use schema::{Address, Kind};
use std::collections::BTreeMap;
use super::signatures::{message, same_key, APPROVAL_DOMAIN, AUTHOR_DOMAIN};
use crate::model::{reference, DesiredResource};
use crate::plan::Plan;
use chrono::TimeZone;
use proptest::prelude::*;
use schema::kinds::governance::Approver;
use serde_json::json;

pub(super) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(super) fn pk(seed: u8) -> String {
    public_key_string(&key(seed).verifying_key())
}

pub(super) fn addr(s: &str) -> Address {
    s.parse().expect("test fixture")
}

fn res(a: &str, props: serde_json::Value) -> DesiredResource {
    DesiredResource {
        address: addr(a),
        natural_key: a.into(),
        display_name: a.into(),
        props: props.as_object().expect("test fixture").clone().into_iter().collect(),
        immutable: vec![],
        assignment_props: vec![],
        create_only: Default::default(),
        depends_on: vec![],
        expires: None,
    }
}

pub(super) fn change(a: &str, action: Action) -> Change {
    Change {
        address: addr(a),
        action,
        display_name: a.into(),
        id: None,
        reason: "test".into(),
        fields: vec![],
        waits_on: vec![],
        wave: 0,
        desired: None,
        notes: vec![],
        live: None,
    }
}

/// Approvers alice (1), bob (2), carol (3); authors dave (8), erin (9);
/// 2 approvals required.
pub(super) fn model() -> DesiredModel {
    let mut m = DesiredModel::default();
    m.governance.approvals_required = 2;
    for (name, seed) in [("alice", 1), ("bob", 2), ("carol", 3)] {
        m.governance.approvers.insert(name.into(), Approver { name: name.to_uppercase(), public_key: pk(seed) });
    }
    for (name, seed) in [("dave", 8), ("erin", 9)] {
        m.governance.authors.insert(name.into(), Approver { name: name.to_uppercase(), public_key: pk(seed) });
    }
    m.service_accounts.insert(addr("user.svc"));
    m.service_account_groups.insert(addr("group.service-accounts"));
    m.protected_groups.insert(addr("group.admins"));
    m
}

pub(super) fn plan_with(changes: Vec<Change>) -> Plan {
    Plan {
        format_version: 1,
        desired_fingerprint: "sha256:d".into(),
        observed_fingerprint: "sha256:o".into(),
        changes,
        ids: Default::default(),
        unchanged: vec![],
        unknown: vec![],
        orphans: vec![],
        warnings: vec![],
        sensitive: Default::default(),
        lints: vec![],
        rollout: vec![],
        author: None,
        approvals: vec![],
        governance: None,
        change: None,
        not_after: None,
        written_by: None,
        refused: Vec::new(),
    }
}

pub(super) fn sensitive_plan() -> Plan {
    plan_with(vec![change("role_assignment.megan-admin", Action::Create), change("device_configuration.x", Action::Update)])
}

#[test]
fn classification_names_the_reason() {
    let m = model();
    let c = |a: &str, action| classify(&change(a, action), &m, 2);
    assert_eq!(c("role_assignment.x", Action::Create).as_deref(), Some("directory role assignment"));
    assert_eq!(c("guest.x", Action::Create).as_deref(), Some("guest invitation"));
    assert_eq!(c("guest.x", Action::Update).as_deref(), Some("guest access"));
    assert_eq!(c("conditional_access.x", Action::Update).as_deref(), Some("conditional access policy"));
    assert_eq!(c("device_configuration.x", Action::Delete).as_deref(), Some("deletes device_configuration.x"));
    assert!(c("device_configuration.x", Action::Replace).expect("test fixture").starts_with("replaces"));
    assert_eq!(c("user.svc", Action::Update).as_deref(), Some("touches service account user.svc"));
    assert!(c("group.service-accounts", Action::Update).expect("test fixture").contains("service-accounts group"));
    assert!(c("group.admins", Action::Update).expect("test fixture").contains("protected"));
    assert_eq!(c("device_configuration.x", Action::Update), None);
    assert_eq!(c("group.x", Action::Forget), None);
    // A membership change that adds a service account touches it.
    let mut g = change("group.x", Action::Update);
    g.desired = Some(res("group.x", json!({"members": [reference("user.svc")]})));
    assert_eq!(classify(&g, &m, 1).as_deref(), Some("touches service account user.svc"));
    // [governance] adds kinds and addresses; large plans are sensitive.
    let mut m2 = m.clone();
    m2.governance.sensitive_kinds = vec!["update_ring".into()];
    m2.governance.sensitive_addresses = vec!["group.x".into()];
    m2.governance.large_plan_threshold = 3;
    assert!(classify(&change("update_ring.broad", Action::Update), &m2, 1).expect("test fixture").contains("sensitive_kinds"));
    assert!(classify(&change("group.x", Action::Update), &m2, 1).expect("test fixture").contains("sensitive_addresses"));
    assert!(classify(&change("group.y", Action::Update), &m2, 4).expect("test fixture").contains("large_plan_threshold (3)"));
    assert_eq!(classify(&change("group.y", Action::Update), &m2, 3), None);
}

#[test]
fn two_approvers_other_than_the_author_make_a_plan_applicable() {
    let m = model();
    let mut p = sensitive_plan();
    let hash = p.hash();
    sign_as_author(&mut p, &key(9));
    assert_eq!(p.hash(), hash, "author and approvals are outside the hash");
    assert!(approve(&mut p, &m.governance, &key(1)).expect("test fixture").starts_with("alice"));
    approve(&mut p, &m.governance, &key(2)).expect("test fixture");
    assert_eq!(p.hash(), hash);
    let v = verify_approvals(&p, &m).expect("test fixture");
    assert_eq!(v.approvers, vec!["alice", "bob"]);
    assert_eq!(v.sensitive, 1);
    // It survives a JSON round trip (the saved-plan file).
    let back: Plan = serde_json::from_str(&crate::render::json(&p)).expect("test fixture");
    assert_eq!(verify_approvals(&back, &m).expect("test fixture").approvers.len(), 2);
}

#[test]
fn plans_without_sensitive_changes_need_no_approval() {
    let m = model();
    let p = plan_with(vec![change("device_configuration.x", Action::Update)]);
    assert_eq!(verify_approvals(&p, &m).expect("test fixture").sensitive, 0);
}

#[test]
fn refusal_no_author() {
    let m = model();
    let p = sensitive_plan();
    assert_eq!(verify_approvals(&p, &m), Err(ApprovalError::NoAuthor));
    let mut p2 = sensitive_plan();
    assert_eq!(approve(&mut p2, &m.governance, &key(1)), Err(ApproveError::NoAuthor));
}

#[test]
fn refusal_not_enough_approvals_lists_the_reasons() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(1)).expect("test fixture");
    let e = verify_approvals(&p, &m).unwrap_err();
    assert!(matches!(e, ApprovalError::NotEnough { required: 2, have: 1, .. }), "{e}");
    assert!(e.to_string().contains("role_assignment.megan-admin: directory role assignment"), "{e}");
}

#[test]
fn refusal_own_approval() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(1));
    assert_eq!(approve(&mut p, &m.governance, &key(1)), Err(ApproveError::OwnPlan));
    // Forged into the file by hand: still refused at apply.
    let hash = p.hash();
    let author = p.author.clone().expect("test fixture").public_key;
    let sig = key(1).sign(&message(APPROVAL_DOMAIN, &hash, &author));
    p.approvals.push(Approval { approver: "alice".into(), public_key: pk(1), plan: hash, signature: B64.encode(sig.to_bytes()) });
    let e = verify_approvals(&p, &m).unwrap_err();
    assert_eq!(e, ApprovalError::ByAuthor { index: 1, name: "alice".into() });
    assert!(e.to_string().contains("nobody may approve their own change"));
}

#[test]
fn refusal_duplicate_approver() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(2)).expect("test fixture");
    assert!(matches!(approve(&mut p, &m.governance, &key(2)), Err(ApproveError::AlreadySigned { .. })));
    let copy = p.approvals[0].clone();
    p.approvals.push(copy);
    let e = verify_approvals(&p, &m).unwrap_err();
    assert_eq!(e.to_string(), "approval 2 is by bob's key, which also signed approval 1");
}

#[test]
fn refusal_unknown_key() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    assert!(matches!(approve(&mut p, &m.governance, &key(7)), Err(ApproveError::NotAnApprover { .. })));
    let mut other = m.clone();
    other.governance.approvers.insert("mallory".into(), Approver { name: "M".into(), public_key: pk(7) });
    approve(&mut p, &other.governance, &key(7)).expect("test fixture");
    approve(&mut p, &m.governance, &key(1)).expect("test fixture");
    let e = verify_approvals(&p, &m).unwrap_err();
    assert_eq!(e, ApprovalError::UnknownKey { index: 1, public_key: pk(7) });
    assert!(e.to_string().starts_with("approval 1 is by an unknown key ed25519:"));
}

#[test]
fn refusal_signature_for_another_plan() {
    let m = model();
    let mut other = sensitive_plan();
    other.observed_fingerprint = "sha256:other".into();
    sign_as_author(&mut other, &key(9));
    approve(&mut other, &m.governance, &key(1)).expect("test fixture");
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    p.approvals.push(other.approvals[0].clone());
    let e = verify_approvals(&p, &m).unwrap_err();
    assert!(matches!(e, ApprovalError::OtherPlan { index: 1, .. }));
    assert!(e.to_string().contains(&format!("it was made for plan {}", other.hash())), "{e}");
    // The same approval with its plan field rewritten to this plan's hash:
    // the signature itself does not match.
    p.approvals[0].plan = p.hash();
    assert!(matches!(verify_approvals(&p, &m).unwrap_err(), ApprovalError::BadSignature { index: 1, .. }));
}

#[test]
fn refusal_tampered_plan() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(1)).expect("test fixture");
    approve(&mut p, &m.governance, &key(2)).expect("test fixture");
    p.changes[1].reason = "something else".into();
    // The author's signature is checked first.
    assert_eq!(verify_approvals(&p, &m), Err(ApprovalError::AuthorSignature));
    // Re-signed by a new author, the approvals (for the old author) fail.
    sign_as_author(&mut p, &key(8));
    assert!(p.approvals.is_empty(), "a new author drops approvals made for the previous one");
}

#[test]
fn refusal_approvals_moved_to_another_author() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(1)).expect("test fixture");
    approve(&mut p, &m.governance, &key(2)).expect("test fixture");
    let approvals = p.approvals.clone();
    sign_as_author(&mut p, &key(8));
    p.approvals = approvals;
    assert!(matches!(verify_approvals(&p, &m).unwrap_err(), ApprovalError::BadSignature { index: 1, .. }));
}

#[test]
fn refusal_malformed_keys_and_signatures() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(1)).expect("test fixture");
    approve(&mut p, &m.governance, &key(2)).expect("test fixture");
    let mut q = p.clone();
    q.approvals[1].signature = "bm90IGEgc2lnbmF0dXJl".into();
    assert!(matches!(verify_approvals(&q, &m).unwrap_err(), ApprovalError::BadSignature { index: 2, .. }));
    let mut q = p.clone();
    q.approvals[0].public_key = "ed25519:AAAA".into();
    assert!(matches!(verify_approvals(&q, &m).unwrap_err(), ApprovalError::ApprovalKey { index: 1, .. }));
    let mut q = p.clone();
    q.author.as_mut().expect("test fixture").public_key = "rsa:xyz".into();
    assert!(matches!(verify_approvals(&q, &m).unwrap_err(), ApprovalError::AuthorKey(_)));
}

#[test]
fn sensitivity_is_rederived_not_trusted() {
    // A plan whose `sensitive` map was emptied by hand still needs approvals.
    let m = model();
    let mut p = sensitive_plan();
    p.sensitive.clear();
    sign_as_author(&mut p, &key(9));
    assert!(matches!(verify_approvals(&p, &m).unwrap_err(), ApprovalError::NotEnough { .. }));
}

#[test]
fn public_keys_parse_and_compare_by_bytes() {
    let k = pk(1);
    assert_eq!(parse_public_key(&k).expect("test fixture"), key(1).verifying_key());
    assert!(parse_public_key("ed25519:").is_err());
    assert!(parse_public_key(k.trim_start_matches("ed25519:")).is_err());
    assert!(same_key(&k, &format!(" {k} ")));
}

proptest! {
    /// Whatever one key signs and whatever role it claims, a sensitive plan
    /// is never applicable with approvals_required >= 1.
    #[test]
    fn no_single_key_makes_a_sensitive_plan_applicable(
        seed in 1u8..=3,
        required in 1u32..=3,
        as_author in any::<bool>(),
        copies in 0usize..4,
        claim_plan in any::<bool>(),
        author_seed_other in any::<bool>(),
    ) {
        let mut m = model();
        m.governance.approvals_required = required;
        let k = key(seed);
        let mut p = sensitive_plan();
        if as_author {
            sign_as_author(&mut p, &k);
        } else if author_seed_other {
            // An author line naming another key, without that key's signature.
            p.author = Some(Author { public_key: pk(seed % 3 + 1), signature: B64.encode(k.sign(b"x").to_bytes()) });
        }
        let hash = p.hash();
        let author = p.author.as_ref().map(|a| a.public_key.clone()).unwrap_or_default();
        for i in 0..copies {
            let msg = if claim_plan { message(APPROVAL_DOMAIN, &hash, &author) } else { message(AUTHOR_DOMAIN, &hash, &author) };
            let name = if i % 2 == 0 { "alice" } else { "bob" };
            p.approvals.push(Approval { approver: name.into(), public_key: public_key_string(&k.verifying_key()), plan: hash.clone(), signature: B64.encode(k.sign(&msg).to_bytes()) });
        }
        let _ = approve(&mut p, &m.governance, &k);
        prop_assert!(verify_approvals(&p, &m).is_err());
    }
}

// --- lints -------------------------------------------------------------

const CERT_2051: &str = "MIIBhDCCASugAwIBAgIUDIR/8b5LmINMeHiaO/9QC1Ap/3MwCgYIKoZIzj0EAwIwFzEVMBMGA1UEAwwMQ29udG9zbyBSb290MCAXDTI2MTEyMzEwMTcwNloYDzIwNTEwNzE1MTAxNzA2WjAXMRUwEwYDVQQDDAxDb250b3NvIFJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQy7tv9LKggdJ9khDcifloL575i9ido06um8FpzOxHL7Dl/5v702Dp5Rhq2Cn122Z2aCY00FraONfJtvdkSTsINo1MwUTAdBgNVHQ4EFgQUMegAoDdLZekHo7q0zBlYYduROwswHwYDVR0jBBgwFoAUMegAoDdLZekHo7q0zBlYYduROwswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiB83kuchgjNecA4w+QcsqELnPh0BvhVtgNxM0U76aqemwIgCOpEg4G6/lqC5tfnshpy/lJznG4IdQriY5cqqU1FLHY=";
const CERT_DEC_2026: &str = "MIIBiTCCAS+gAwIBAgIUDwYmPJTypUVv8XTDQwewvqoSpAYwCgYIKoZIzj0EAwIwGjEYMBYGA1UEAwwPQ29udG9zbyBJc3N1aW5nMB4XDTI2MTEyMzEwMTcwOFoXDTI2MTIyMzEwMTcwOFowGjEYMBYGA1UEAwwPQ29udG9zbyBJc3N1aW5nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExqX9HUTV18Xoy2pghMoVQLu9+nykhStHtAamuwrpv7Oa+a1azN/wUnUSP4Ikdca+oPf1MS78NLpRSlkI8f6AaKNTMFEwHQYDVR0OBBYEFGcevq+62FmWzo5qUCz/XDHD3dsUMB8GA1UdIwQYMBaAFGcevq+62FmWzo5qUCz/XDHD3dsUMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAMsZT/grQ+lmBPvO7uX0xF7vp30ZQk8SP3Uw2wMzS5GaAiA+vkuAveZJuRj9i4bfZLlDrXLQ8w9rsGK3hKHgz2JAvw==";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).single().expect("test fixture")
}

#[test]
fn certificate_not_after_is_read_from_der() {
    let der = |b: &str| B64.decode(b).expect("test fixture");
    assert_eq!(not_after(&der(CERT_2051)), Some(Utc.with_ymd_and_hms(2051, 7, 15, 10, 17, 6).single().expect("test fixture")));
    assert_eq!(not_after(&der(CERT_DEC_2026)), Some(Utc.with_ymd_and_hms(2026, 12, 23, 10, 17, 8).single().expect("test fixture")));
    assert_eq!(not_after(b"garbage"), None);
    assert_eq!(not_after(&[]), None);
    assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    // Strict DER through x509-cert: a truncated certificate or one with
    // bytes after it is not read (the hand-written reader accepted both).
    let full = der(CERT_2051);
    assert_eq!(not_after(&full[..full.len() - 1]), None);
    let mut trailing = full.clone();
    trailing.push(0);
    assert_eq!(not_after(&trailing), None);
}

fn lints_of(m: &DesiredModel) -> Vec<(String, String)> {
    lint_desired(m, now()).into_iter().map(|f| (f.lint, f.address)).collect()
}

fn clean_model() -> DesiredModel {
    let mut m = model();
    m.insert(res("user.svc", json!({})));
    m.insert(res("group.service-accounts", json!({"members": [reference("user.svc")]})));
    m.insert(res(
        "conditional_access.mfa",
        json!({"conditions": {"users": {"includeUsers": ["All"], "excludeUsers": [], "includeGroups": [], "excludeGroups": [reference("group.service-accounts")]}}}),
    ));
    m.insert(res("device_configuration.root", json!({"trustedRootCertificate": CERT_2051, "assignments": {"include": [reference("group.ring")]}})));
    let mut ra = res("role_assignment.adele", json!({"principal": reference("user.adele"), "role": "Intune Administrator"}));
    ra.expires = Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("test fixture"));
    m.insert(ra);
    m
}

#[test]
fn a_clean_model_has_no_findings() {
    assert_eq!(lints_of(&clean_model()), vec![]);
}

#[test]
fn each_lint_fires_on_a_violation_and_can_be_allowed() {
    let mut m = clean_model();
    m.insert(res("device_configuration.svc", json!({"assignments": {"include": [reference("group.service-accounts")]}})));
    m.insert(res(
        "conditional_access.bad",
        json!({"conditions": {"users": {"includeUsers": [reference("user.svc")], "excludeUsers": [], "includeGroups": [], "excludeGroups": []}}}),
    ));
    m.insert(res("role_assignment.standing", json!({"principal": reference("user.megan"), "role": "Global Administrator"})));
    // Active until 9999: standing in disguise (a hostile run's way around).
    let mut forever = res("role_assignment.until-9999", json!({"principal": reference("user.megan"), "role": "Privileged Role Administrator"}));
    forever.expires = Some(Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).single().expect("test fixture"));
    m.insert(forever);
    // Eligible for ever: a warning (hostile finding 15 of round 4).
    m.insert(res("role_assignment.eligible-forever", json!({"principal": reference("user.megan"), "role": "Global Administrator", "assignment": "eligible"})));
    m.insert(res("role_assignment.reader", json!({"principal": reference("user.megan"), "role": "Global Reader"})));
    m.insert(res("device_configuration.expiring", json!({"trustedRootCertificate": CERT_DEC_2026})));
    m.governance.approvals_required = 4;
    let found = lint_desired(&m, now());
    let names: Vec<(&str, &str)> = found.iter().map(|f| (f.lint.as_str(), f.address.as_str())).collect();
    assert_eq!(
        names,
        vec![
            ("service-account-targeted", "conditional_access.bad"),
            ("service-account-targeted", "device_configuration.svc"),
            ("service-accounts-not-excluded", "conditional_access.bad"),
            ("standing-privileged-access", "role_assignment.standing"),
            ("standing-privileged-access", "role_assignment.until-9999"),
            ("approvals-unreachable", "governance"),
            ("certificate-expiring", "device_configuration.expiring"),
            ("permanent-eligibility", "role_assignment.eligible-forever"),
            ("privileged-role-pim-settings-undeclared", "role_assignment.eligible-forever"),
        ],
        "{found:#?}"
    );
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[3].severity, Severity::Error, "standing privileged access is an error");
    assert_eq!(found[4].severity, Severity::Error, "so is an end beyond the horizon");
    assert!(found[4].message.contains("until 9999-12-31"), "{}", found[4].message);
    assert!(found[6].message.contains("2026-12-23T10:17:08Z, within 60 days"), "{}", found[6].message);
    assert_eq!(found[5].severity, Severity::Warning, "unreachable approvals warn: a tenant without [governance] still plans");
    assert_eq!(found[7].severity, Severity::Warning, "permanent eligibility warns");
    // Allowed by name, or by name and address.
    m.governance.allow = vec!["certificate-expiring".into(), "service-account-targeted:conditional_access.bad".into()];
    let names: Vec<(String, String)> = lints_of(&m);
    assert!(!names.iter().any(|(l, _)| l == "certificate-expiring"));
    assert!(!names.contains(&("service-account-targeted".into(), "conditional_access.bad".into())));
    assert!(names.contains(&("service-account-targeted".into(), "device_configuration.svc".into())));
}

#[test]
fn live_lints_flag_unmanaged_targets_and_privileged_holders() {
    use crate::model::LiveObject;
    let m = clean_model();
    let mut o = ObservedState::default();
    let live = |kind, id: &str, props: serde_json::Value| LiveObject {
        kind,
        id: id.into(),
        natural_key: id.into(),
        display_name: id.into(),
        props: props.as_object().expect("test fixture").clone().into_iter().collect(),
    };
    o.insert(live(Kind::DeviceConfiguration, "p1", json!({"assignments": {"include": [reference("g-ring"), reference("g-stranger")], "exclude": []}})));
    o.insert(live(Kind::Group, "g-ring", json!({})));
    // The ring's live membership, as providers read it (empty); unread, it
    // would be unknown (see live_tests.rs).
    o.memberships.insert("g-ring".into(), BTreeMap::new());
    o.insert(live(Kind::RoleAssignment, "ra-1", json!({"principal": reference("u-adele"), "role": "Global Administrator", "assignment": "active"})));
    o.insert(live(Kind::RoleAssignment, "ra-2", json!({"principal": reference("u-x"), "role": "Global Reader", "assignment": "active"})));
    let ids: BTreeMap<Address, String> = [
        (addr("device_configuration.root"), "p1".to_string()),
        (addr("group.ring"), "g-ring".to_string()),
        (addr("user.adele"), "u-adele".to_string()),
    ]
    .into();
    let mut f = lint_live(&m, &o, &ids);
    // No declared path to Global Administrator: the plan keeps it and says why.
    let kept: Vec<Finding> = f.iter().filter(|x| x.lint == "global-admin-not-removed").cloned().collect();
    assert_eq!(kept.len(), 1, "{f:#?}");
    assert!(kept[0].message.contains("user.adele holds Global Administrator (active) outside desired state and is NOT removed"), "{kept:#?}");
    f.retain(|x| x.lint != "global-admin-not-removed");
    assert_eq!(f.len(), 2, "{f:#?}");
    // Out-of-band Global Administrator is an error (sorted first: both are errors).
    assert_eq!((f[0].lint.as_str(), f[0].address.as_str(), f[0].severity), ("unmanaged-privileged-holder", "id:ra-1", Severity::Error));
    assert!(f[0].message.contains("user.adele holds Global Administrator"));
    f.reverse();
    assert_eq!((f[0].lint.as_str(), f[0].address.as_str()), ("unmanaged-target", "device_configuration.root"));
    assert!(f[0].message.contains("id:g-stranger"));
    // It is the only active Global Administrator: removing it would lock
    // every admin out, so it stays (the lint's error asks a person).
    assert!(out_of_band_removals(&m, &o, &ids).is_empty());
    // With a declared Global Administrator (break-glass) beside it, its
    // removal is planned, unattended (not sensitive), and settles the lint;
    // the directory sync account's role is never removed (it would break
    // Entra Connect).
    let mut o = o.clone();
    o.insert(live(Kind::RoleAssignment, "ra-0", json!({"principal": reference("u-bg"), "role": "Global Administrator", "assignment": "active"})));
    o.insert(live(Kind::RoleAssignment, "ra-3", json!({"principal": reference("u-sync"), "role": "Directory Synchronization Accounts", "assignment": "active"})));
    let mut ids = ids.clone();
    ids.insert(addr("role_assignment.bg"), "ra-0".to_string());
    let removals = out_of_band_removals(&m, &o, &ids);
    assert_eq!(removals.len(), 1, "{removals:#?}");
    assert_eq!(removals[0].address.to_string(), "role_assignment.out-of-band-ra-1");
    assert_eq!(classify(&removals[0], &m, 1), None);
    // Protected principals (break-glass) are never stripped by the plan.
    let mut protected = m.clone();
    protected.governance.protected.push("user.adele".into());
    assert!(out_of_band_removals(&protected, &o, &ids).is_empty());
    // Unknown is unknown: with groups unread, no target is called
    // unmanaged; with users unread, no holder is called out-of-band.
    let mut unread = o.clone();
    unread.unreadable.insert(Kind::Group, "503 after 5 attempts".into());
    unread.unreadable.insert(Kind::User, "403".into());
    assert_eq!(lint_live(&m, &unread, &ids), vec![]);
    // A lint never blocks its remedy: a plan that reassigns the policy
    // turns the error into a warning that says so.
    let mut reassign = change("device_configuration.root", Action::Assign);
    reassign.fields = vec![crate::diff::FieldChange { field: "assignments.include".into(), before: None, after: None }];
    settle(&mut f, &[change("device_configuration.other", Action::Assign)]);
    assert_eq!(f[0].severity, Severity::Error, "an unrelated change is no remedy");
    settle(&mut f, &[reassign]);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("this plan removes it (assign device_configuration.root)"), "{}", f[0].message);
}

// --- rollout -----------------------------------------------------------

fn ring_model() -> DesiredModel {
    let mut m = DesiredModel::default();
    let rings: Vec<String> = ["test", "first", "fast", "broad"].map(String::from).to_vec();
    for (i, r) in rings.iter().enumerate() {
        let a = addr(&format!("device_configuration.p@{r}"));
        m.insert(res(&a.to_string(), json!({})));
        m.rings.insert(a, RingOf { policy: addr("device_configuration.p"), rings: rings.clone(), index: i, soak_secs: 48 * 3600 });
    }
    m
}

fn ring_changes(rings: &[&str]) -> Vec<Change> {
    rings.iter().map(|r| change(&format!("device_configuration.p@{r}"), Action::Update)).collect()
}

#[test]
fn soak_times_parse() {
    assert_eq!(parse_soak("48h"), Some(172800));
    assert_eq!(parse_soak("2d"), Some(172800));
    assert_eq!(parse_soak("90m"), Some(5400));
    assert_eq!(parse_soak("1w"), Some(604800));
    assert_eq!(parse_soak("h"), None);
    assert_eq!(parse_soak("-1h"), None);
    assert_eq!(parse_soak("12x"), None);
}

#[test]
fn only_the_first_differing_ring_changes_then_each_after_its_soak() {
    let m = ring_model();
    let t0 = now();
    // All four differ: only test changes.
    let (keep, waits) = gate_rollouts(ring_changes(&["test", "first", "fast", "broad"]), &m, &|_| None, t0, RolloutMode::Normal);
    assert_eq!(keep.iter().map(|c| c.address.key.as_str()).collect::<Vec<_>>(), vec!["p@test"]);
    assert_eq!(waits.len(), 3);
    assert!(waits[0].reason.contains("waiting for test"));
    // test changed at t0: first waits until t0 + 48h.
    let changed = |a: &Address| (a.key == "p@test").then_some(t0);
    let (keep, waits) = gate_rollouts(ring_changes(&["first", "fast", "broad"]), &m, &changed, t0 + Duration::hours(47), RolloutMode::Normal);
    assert!(keep.is_empty());
    assert_eq!(waits[0].until.as_deref(), Some("2026-11-25T12:00Z"));
    assert_eq!(waits[0].reason, "waiting until 2026-11-25T12:00Z (test changed at 2026-11-23T12:00Z, soak 48h)");
    let (keep, _) = gate_rollouts(ring_changes(&["first", "fast", "broad"]), &m, &changed, t0 + Duration::hours(48), RolloutMode::Normal);
    assert_eq!(keep.iter().map(|c| c.address.key.as_str()).collect::<Vec<_>>(), vec!["p@first"]);
    // Hold keeps everything; force takes every ring at once.
    let (keep, waits) = gate_rollouts(ring_changes(&["test", "first"]), &m, &|_| None, t0, RolloutMode::Hold);
    assert!(keep.is_empty() && waits.iter().all(|w| w.reason.contains("--hold-rollout")));
    let (keep, waits) = gate_rollouts(ring_changes(&["test", "first", "fast", "broad"]), &m, &changed, t0, RolloutMode::Force);
    assert_eq!((keep.len(), waits.len()), (4, 0));
    // Deletes are never gated; nor are resources outside rollouts.
    let (keep, _) = gate_rollouts(vec![change("device_configuration.p@broad", Action::Delete), change("group.x", Action::Update)], &m, &|_| None, t0, RolloutMode::Hold);
    assert_eq!(keep.len(), 2);
}

#[test]
fn rings_behind_an_earlier_ring_say_when_they_could_follow() {
    let m = ring_model();
    let t0 = now();
    let (_, waits) = gate_rollouts(ring_changes(&["test", "first", "fast", "broad"]), &m, &|_| None, t0, RolloutMode::Normal);
    let reasons: Vec<&str> = waits.iter().map(|w| w.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "waiting for test to be changed and soak (2026-11-25T12:00Z at the earliest)",
            "waiting for test to be changed and soak (2026-11-27T12:00Z at the earliest)",
            "waiting for test to be changed and soak (2026-11-29T12:00Z at the earliest)",
        ]
    );
    // first soaking until t0+48h: fast and broad follow 48h and 96h later.
    let changed = |a: &Address| (a.key == "p@test").then_some(t0);
    let (_, waits) = gate_rollouts(ring_changes(&["first", "fast", "broad"]), &m, &changed, t0 + Duration::hours(1), RolloutMode::Normal);
    assert_eq!(waits[0].until.as_deref(), Some("2026-11-25T12:00Z"));
    assert!(waits[1].reason.ends_with("(2026-11-27T12:00Z at the earliest)"), "{}", waits[1].reason);
    assert!(waits[2].reason.ends_with("(2026-11-29T12:00Z at the earliest)"), "{}", waits[2].reason);
}

#[test]
fn the_latest_earlier_change_counts_so_an_in_sync_ring_skips_no_soak() {
    let m = ring_model();
    let t0 = now();
    // test changed at t0; first was already in sync (changed long ago):
    // fast still waits for test's soak, and names test.
    let changed = |a: &Address| match a.key.as_str() {
        "p@test" => Some(t0),
        "p@first" => Some(t0 - Duration::days(30)),
        _ => None,
    };
    let (keep, waits) = gate_rollouts(ring_changes(&["fast"]), &m, &changed, t0 + Duration::hours(2), RolloutMode::Normal);
    assert!(keep.is_empty());
    assert_eq!(waits[0].reason, "waiting until 2026-11-25T12:00Z (test changed at 2026-11-23T12:00Z, soak 48h)");
    // Soaks shown in their own unit; absurd soaks never overflow.
    let mut short = ring_model();
    short.rings.values_mut().for_each(|r| r.soak_secs = 90 * 60);
    let (_, waits) = gate_rollouts(ring_changes(&["first"]), &short, &changed, t0, RolloutMode::Normal);
    assert!(waits[0].reason.ends_with("soak 90m)"), "{}", waits[0].reason);
    short.rings.values_mut().for_each(|r| r.soak_secs = i64::MAX);
    let (keep, waits) = gate_rollouts(ring_changes(&["first"]), &short, &changed, t0, RolloutMode::Normal);
    assert!(keep.is_empty() && waits.len() == 1);
}

#[test]
fn a_policy_converted_to_a_rollout_keeps_its_old_object_until_every_ring_has_a_copy() {
    let m = ring_model();
    let t0 = now();
    let old = || change("device_configuration.p", Action::Delete);
    let mut changes = vec![old()];
    changes.extend(["test", "first", "fast", "broad"].iter().map(|r| change(&format!("device_configuration.p@{r}"), Action::Create)));
    let (keep, waits) = gate_rollouts(changes, &m, &|_| None, t0, RolloutMode::Normal);
    assert_eq!(keep.iter().map(|c| c.address.to_string()).collect::<Vec<_>>(), vec!["device_configuration.p@test"]);
    assert_eq!(waits[0].address, addr("device_configuration.p"));
    assert_eq!(waits[0].reason, "the rollout replaces it; kept until every ring has its own copy (pending: test, first, fast, broad)");
    // Only broad left: still kept. Held: kept. Every copy in place: deleted.
    let (keep, waits) = gate_rollouts(vec![old(), change("device_configuration.p@broad", Action::Create)], &m, &|_| Some(t0), t0, RolloutMode::Normal);
    assert!(keep.is_empty() && waits[0].reason.ends_with("(pending: broad)"), "{waits:?}");
    let (keep, _) = gate_rollouts(vec![old(), change("device_configuration.p@broad", Action::Create)], &m, &|_| Some(t0), t0, RolloutMode::Hold);
    assert!(keep.is_empty());
    let (keep, waits) = gate_rollouts(vec![old()], &m, &|_| Some(t0), t0, RolloutMode::Normal);
    assert_eq!((keep.len(), waits.len()), (1, 0));
    // Forced: the copies and the delete go in one plan (deletes run last).
    let (keep, _) = gate_rollouts(vec![old(), change("device_configuration.p@broad", Action::Create)], &m, &|_| Some(t0), t0, RolloutMode::Force);
    assert_eq!(keep.len(), 2);
}

/// Hostile finding (round 4) 1: small-order keys made approvals without
/// any private key: R = identity, s = 0 "verified" for every plan, and
/// three encodings of the identity point passed as three approvers. Such
/// keys are refused, and signatures are checked strictly.
#[test]
fn weak_and_non_canonical_keys_cannot_forge_approvals() {
    let weak = [
        "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "ed25519:7v///////////////////////////////////////38=",
        "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA=",
    ];
    for k in weak {
        assert!(parse_public_key(k).is_err(), "{k} is accepted");
    }
    let forged = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    let mut m = model();
    for (name, k) in ["dave", "frank", "grace"].into_iter().zip(weak) {
        m.governance.approvers.insert(name.into(), Approver { name: name.into(), public_key: k.into() });
    }
    let mut p = sensitive_plan();
    let hash = p.hash();
    p.author = Some(Author { public_key: weak[2].into(), signature: forged.into() });
    for (name, k) in [("dave", weak[0]), ("frank", weak[1])] {
        p.approvals.push(Approval { approver: name.into(), public_key: k.into(), plan: hash.clone(), signature: forged.into() });
    }
    assert!(verify_approvals(&p, &m).is_err(), "forged approvals verify");
    // A sound author key with the constant signature does not verify either.
    p.author = Some(Author { public_key: pk(9), signature: forged.into() });
    assert!(verify_approvals(&p, &m).is_err(), "a constant signature verifies");
}
