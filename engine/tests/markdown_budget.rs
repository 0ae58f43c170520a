//! `render::markdown_within`: pull-request Markdown that fits a size limit
//! and keeps what reviewers need (summary table, sensitive changes, lints).

use chrono::{TimeZone, Utc};
use engine::governance::{Finding, Severity};
use engine::render::{markdown, markdown_within};
use engine::{
    plan, DesiredModel, DesiredResource, Ledger, ObservedState, Plan, PlanOptions, Props,
};
use schema::Address;
use serde_json::json;

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

/// A plan creating `n` users with bulky properties, three of them marked
/// sensitive, and one lint error. With `all_sensitive`, the plan is over
/// governance.large_plan_threshold, which makes every change sensitive.
fn big_plan(n: usize) -> Plan {
    plan_of(n, false)
}

fn plan_of(n: usize, all_sensitive: bool) -> Plan {
    let mut d = DesiredModel::default();
    if !all_sensitive {
        d.governance.large_plan_threshold = 100_000;
    }
    for i in 0..n {
        let key = format!("user{i:04}@contoso.onmicrosoft.com");
        let props: Props = serde_json::from_value(json!({
            "displayName": format!("User {i}"),
            "jobTitle": "Engineer ".repeat(20),
            "department": format!("Department {i} ").repeat(10),
            "officeLocation": "Building 42, floor 7, room 1234 ".repeat(4),
        }))
        .unwrap();
        d.insert(DesiredResource {
            address: a(&format!("user.u{i:04}")),
            natural_key: key.clone(),
            display_name: key,
            props,
            immutable: vec![],
            assignment_props: vec![],
            create_only: Props::new(),
            depends_on: vec![],
            expires: None,
        });
    }
    let opts = PlanOptions {
        now: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    };
    let mut p = plan(&d, &ObservedState::default(), &Ledger::default(), &opts).unwrap();
    for i in [n - 1, n / 2, 7].into_iter().filter(|_| !all_sensitive) {
        p.sensitive.insert(
            a(&format!("user.u{i:04}")),
            "a service account with a privileged role".into(),
        );
    }
    p.lints.push(Finding {
        severity: Severity::Error,
        lint: "mfa-exclusion".into(),
        address: "conditional_access.block".into(),
        message: "excludes every user from MFA".into(),
    });
    p
}

#[test]
fn a_plan_of_hundreds_of_changes_fits_githubs_limit_and_keeps_the_essentials() {
    let p = big_plan(400);
    let full = markdown(&p);
    assert!(
        full.len() > 65_536,
        "the fixture must exceed the limit ({} bytes)",
        full.len()
    );
    let md = markdown_within(&p, 65_536);
    assert!(md.len() <= 65_536, "{} bytes", md.len());
    // The summary table, lints, approvals and footer are kept.
    assert!(
        md.contains("## tenantctl plan") && md.contains("| kind |") && md.contains("| `user` |"),
        "summary table"
    );
    assert!(
        md.contains("### Governance lints") && md.contains("mfa-exclusion"),
        "lints"
    );
    assert!(md.contains("### Approvals") && md.contains("3 sensitive change(s)"));
    assert!(md.contains("<sub>plan `"), "footer");
    // Every sensitive change is shown in full, wherever it is in the plan.
    for i in [399, 200, 7] {
        let section = format!("<details><summary><code>+ user.u{i:04}</code>");
        assert!(md.contains(&section), "sensitive change {i} in full");
    }
    // The rest is shortened with a pointer to the saved plan.
    assert!(
        md.contains("Shortened to fit 65536 bytes") && md.contains("plan.json"),
        "pointer"
    );
    assert!(md.contains("\n- <code>+ user."), "some changes as one line");
    // It uses the room it has.
    assert!(md.len() > 60_000, "only {} bytes used", md.len());
}

#[test]
fn a_small_limit_is_never_exceeded() {
    let p = big_plan(300);
    for n in [0, 1, 10, 100, 500, 2_000, 5_000, 20_000] {
        let md = markdown_within(&p, n);
        assert!(md.len() <= n, "limit {n}: {} bytes", md.len());
        assert!(std::str::from_utf8(md.as_bytes()).is_ok());
    }
    let md = markdown_within(&p, 5_000);
    assert!(
        md.contains("| kind |") && md.contains("mfa-exclusion"),
        "{md}"
    );
    assert!(md.contains("Shortened to fit 5000 bytes"), "{md}");
}

#[test]
fn a_plan_within_the_limit_is_unchanged() {
    let p = big_plan(3);
    assert_eq!(markdown_within(&p, 65_536), markdown(&p));
}

#[test]
fn an_over_threshold_plan_lists_every_sensitive_change_and_keeps_the_lints() {
    let p = plan_of(400, true);
    assert_eq!(
        p.sensitive.len(),
        400,
        "every change of a large plan is sensitive"
    );
    let md = markdown_within(&p, 65_536);
    assert!(md.len() <= 65_536);
    assert!(md.contains("mfa-exclusion") && md.contains("400 sensitive change(s)"));
    for i in 0..400 {
        assert!(
            md.contains(&format!("<code>+ user.u{i:04}</code>")),
            "sensitive change {i} listed"
        );
    }
    assert!(
        md.contains("— **sensitive**"),
        "the one-line form says it is sensitive"
    );
}
