//! Unit tests of the trust root (the governance in force verifies, never
//! the desired one), listed authors, and access removal never being
//! sensitive.

use super::tests::{change, key, model, pk, plan_with, sensitive_plan};
use super::*;
use crate::plan::Action;
use schema::kinds::governance::Approver;
use serde_json::json;

// --- trust root and access removal -----------------------------------

#[test]
fn an_unlisted_author_cannot_author_a_sensitive_plan() {
    let m = model();
    let mut p = sensitive_plan();
    sign_as_author(&mut p, &key(7));
    approve(&mut p, &m.governance, &key(1)).unwrap();
    approve(&mut p, &m.governance, &key(2)).unwrap();
    assert!(matches!(verify_approvals(&p, &m), Err(ApprovalError::UnlistedAuthor { .. })));
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &m.governance, &key(1)).unwrap();
    approve(&mut p, &m.governance, &key(2)).unwrap();
    let v = verify_approvals(&p, &m).unwrap();
    assert_eq!(v.author.as_deref(), Some("erin (ERIN)"));
}

#[test]
fn the_governance_in_force_verifies_not_the_desired_one() {
    let in_force = model();
    // Desired state swaps bob for mallory (seed 5) and lowers the bar.
    let mut desired = model();
    desired.governance.approvers.remove("bob");
    desired.governance.approvers.insert("mallory".into(), Approver { name: "M".into(), public_key: pk(5) });
    desired.governance.approvals_required = 1;
    let root = trust::TrustRoot {
        format_version: trust::TRUST_FORMAT_VERSION,
        governance: in_force.governance.clone(),
        recorded_at: "2026-11-01T00:00:00Z".into(),
        plan: "sha256:p".into(),
        approved_by: vec![],
        first_use: false,
        tenant_id: None,
        protected_ids: Default::default(),
        tenant_seq: None,
    };
    let mut p = plan_with(vec![change("device_configuration.x", Action::Update)]);
    trust::attach(&mut p, &desired, Some(&root));
    let g = p.governance.clone().unwrap();
    let paths: Vec<&str> = g.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["approvals_required", "approvers.bob", "approvers.mallory"]);
    assert!(g.changes_governance());
    // The approvals line counts the governance change (hostile finding 14
    // of round 4: "Approvals: 0 sensitive change(s)").
    assert!(p.sensitive.is_empty());
    let shown = crate::render::text(&p, false);
    assert!(shown.contains("Approvals: 1 sensitive change(s)"), "{shown}");
    assert!(crate::render::markdown(&p).contains("1 sensitive change(s)."));
    // Approved by mallory (desired) and alice: mallory is not in force, so
    // the governance change is not approved.
    sign_as_author(&mut p, &key(9));
    approve(&mut p, &desired.governance, &key(5)).unwrap();
    assert!(matches!(verify_approvals(&p, &desired), Err(ApprovalError::UnknownKey { index: 1, .. })));
    p.approvals.clear();
    approve(&mut p, &in_force.governance, &key(1)).unwrap();
    let e = verify_approvals(&p, &desired).unwrap_err();
    assert!(matches!(&e, ApprovalError::NotEnough { required: 2, have: 1, .. }), "{e}");
    assert!(e.to_string().contains("governance: changes [governance] (approvals_required, approvers.bob, approvers.mallory)"), "{e}");
    approve(&mut p, &in_force.governance, &key(2)).unwrap();
    assert_eq!(verify_approvals(&p, &desired).unwrap().sensitive, 1);
    // First use: desired is trusted, with the warning, and no change is sensitive for it.
    let mut q = plan_with(vec![]);
    trust::attach(&mut q, &desired, None);
    assert!(q.governance.as_ref().unwrap().first_use() && q.governance.as_ref().unwrap().reason().is_none());
    assert!(q.warnings.iter().any(|w| w.contains("first use")));
}

#[test]
fn removing_access_is_never_sensitive_granting_is() {
    let m = model();
    let mut del = change("role_assignment.x", Action::Delete);
    assert!(removes_access(&del).is_some());
    assert_eq!(classify(&del, &m, 1), None);
    del.action = Action::Create;
    assert!(classify(&del, &m, 1).is_some());
    let mut disable = change("guest.g", Action::Update);
    disable.fields = vec![crate::diff::FieldChange { field: "accountEnabled".into(), before: Some(json!(true)), after: Some(json!(false)) }];
    assert_eq!(classify(&disable, &m, 1), None);
    disable.fields[0].after = Some(json!(true));
    assert!(classify(&disable, &m, 1).is_some(), "re-enabling is granting");
    // Deleting a guest that never expires is not an expiry.
    assert!(classify(&change("guest.g", Action::Delete), &m, 1).is_some());
}
