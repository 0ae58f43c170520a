//! gov25 (issue 12), through the binary against the sandbox: an
//! administrative unit whose live membership reaches the service accounts,
//! a service-accounts group nested live into a policy's group reported
//! once, the journal and the service accounts of lost ownership, and
//! `memberOf` rules followed in the live reach of approvers and units.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const SERVICE_ACCOUNTS: [&str; 5] = ["msadmin", "msadminint", "mwaas-soc-ro", "mwaas-wdgsoc", "mstest"];

/// A dynamic unit whose declared rule leaves out every service account and
/// the break-glass account (all declared in the US), with Password
/// Administrator scoped to it.
const UNIT: &str = r#"
[administrative_unit.paris]
display_name = "Paris office"
membership_rule = "(user.usageLocation -eq \"FR\")"

[role_assignment.megan-paris-passwords]
principal = "megan"
role = "Password Administrator"
scope = { administrative_unit = "paris" }
assignment = "active"
expires = 2027-01-31T00:00:00Z
justification = "Paris password resets, change CHG-2001"
"#;

/// Item 1: the unit's rule widened in the portal to reach the service
/// accounts (its restore is held for approval) is named, per account, as
/// `unit-reaches-protected-account`, with the role scoped to it; the plan
/// that puts the approved rule back is not blocked by it. Then, with the
/// approved rule back, a service account's own live properties changed so
/// that the declared rule holds for it is named too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_live_rule_reaching_the_service_accounts_is_named() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| std::fs::write(d.join("units.toml"), UNIT).expect("written")).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(!out.contains("unit-reaches-protected-account"), "the declared rule leaves them out: {out}");

    let unit = ledger_id(w, "administrative_unit.paris");
    graph(&sb, Method::PATCH, &format!("/v1.0/directory/administrativeUnits/{unit}"), Some(json!({"membershipRule": "(user.usageLocation -eq \"US\")"}))).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    for account in SERVICE_ACCOUNTS {
        assert!(
            out.contains(&format!("warning[unit-reaches-protected-account] administrative_unit.paris: administrative_unit.paris holds service account user.{account} through its live membership rule `(user.usageLocation -eq \"US\")`, which holds for the live account in the tenant now, so Password Administrator (role_assignment.megan-paris-passwords) reach it: an administrative unit's scoped admins may manage its members; keep it out of administrative units; this plan puts back what was approved (update administrative_unit.paris), so it does not block")),
            "{account}: {out}"
        );
    }
    assert!(out.contains("holds protected account user.breakglass-1 through its live membership rule"), "{out}");
    // Reconcile holds the restore of the rule (approvers decide) and its
    // report carries the finding.
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("held: update administrative_unit.paris"), "{out}");
    let report = last_report(w);
    assert!(report["warnings"].as_array().expect("warnings").iter().any(|x| x.as_str().is_some_and(|x| x.contains("holds service account user.msadmin through its live membership rule"))), "the drift report names it: {report}");

    // The approved rule back; MSADMIN moved to France in the portal.
    graph(&sb, Method::PATCH, &format!("/v1.0/directory/administrativeUnits/{unit}"), Some(json!({"membershipRule": "(user.usageLocation -eq \"FR\")"}))).await;
    graph(&sb, Method::PATCH, &format!("/v1.0/users/{}", ledger_id(w, "user.msadmin")), Some(json!({"usageLocation": "FR"}))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(
        out.contains("warning[unit-reaches-protected-account] administrative_unit.paris: administrative_unit.paris holds service account user.msadmin through its live membership rule `(user.usageLocation -eq \"FR\")`, which holds for its live properties (desired state's leave it out: they were changed in the tenant) in the tenant now, so Password Administrator (role_assignment.megan-paris-passwords) reach it"),
        "{out}"
    );
    assert!(out.contains("this plan puts back what was approved (update user.msadmin), so it does not block"), "{out}");
    assert!(!out.contains("holds service account user.mstest"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const PILOT: &str = r##"
[group.pilot-x]
display_name = "Pilot X"
mail_nickname = "pilot-x"
description = "pilot"

[device_configuration.pilot-relax]
odata_type = "windows10GeneralConfiguration"
display_name = "Pilot relax"
description = "pilot"

[device_configuration.pilot-relax.settings]
defenderRequireRealTimeMonitoring = false

[device_configuration.pilot-relax.assignments]
include = ["pilot-x"]
"##;

/// Item 2 (gov23, unchecked): the service-accounts group nested live into
/// a policy's group whose membership is not managed is reported once per
/// service account as `service-account-targeted`, naming the nesting path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_accounts_group_nested_live_into_a_policy_group_is_reported_once() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "policies.toml", PILOT)).await;
    let w = work.path();
    add_member(&sb, &ledger_id(w, "group.pilot-x"), &ledger_id(w, "group.service-accounts")).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    for account in SERVICE_ACCOUNTS {
        let lines: Vec<&str> = out.lines().filter(|l| l.contains("[service-account-targeted] device_configuration.pilot-relax") && l.contains(&format!("user.{account} "))).collect();
        assert_eq!(lines.len(), 1, "{account} once: {lines:#?}\n{out}");
        assert!(lines[0].contains("group.pilot-x > group.service-accounts"), "the nesting path is named: {}", lines[0]);
    }
    sb.shutdown().await.expect("the sandbox stops");
}
