//! The access-package governance rules, hardened against hostile run 17
//! (issue 16, access8): a guest named through `specificDirectoryUsers`, a
//! self-service package granting Intune or PIM-approver rights or a ring
//! group, self-extension with no approval, guests approving guests, and a
//! guest review that never happens. Each through `tenantctl validate` of
//! the example with the hostile edit.

mod common;

use std::path::Path;

use common::gov::{append, converged, edit_file, graph, ledger_of, run};
use common::{sandbox, scratch_with};
use serde_json::json;

const PACKAGES: &str = "access-packages.toml";
const ASSIGNMENTS: &str = "access-package-assignments.toml";

/// `tenantctl validate` of `dir`: whether it passed, and what it said.
fn validate(dir: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl")).args(["validate", dir.to_str().expect("a UTF-8 path")]).output().expect("the binary runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The example, edited by `edit`, validated.
fn validated(edit: impl FnOnce(&Path)) -> (bool, String) {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    edit(&dir);
    validate(&dir)
}

/// The lines of `out` that report `lint` (as error or warning).
fn lines<'a>(out: &'a str, lint: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(&format!("[{lint}]"))).collect()
}

/// The example's guest policy rewritten with `policy` (everything from
/// the policy's header to the end of the file).
fn guest_policy(dir: &Path, policy: &str) {
    edit_file(dir, PACKAGES, |t| {
        let cut = t.find("[access_package.fabrikam-audit.policies.external]").expect("the example's guest policy");
        format!("{}{policy}", &t[..cut])
    });
}

#[test]
fn the_example_stays_valid() {
    let (ok, out) = validated(|_| {});
    assert!(ok, "{out}");
    assert!(lines(&out, "guest-access-without-review").is_empty() && lines(&out, "access-without-approval").is_empty(), "{out}");
}

// Finding 18: a guest named through specificDirectoryUsers.
const SPECIFIC: &str = r#"[access_package.fabrikam-audit.policies.external]
display_name = "Fabrikam auditors"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["ext-people"]
expiration = { type = "noExpiration" }
requestor_settings = { enable_targets_to_self_add_access = true }
request_approval_settings = { is_approval_required_for_add = false }
"#;

#[test]
fn specific_targets_that_hold_a_guest_admit_external_users() {
    let (ok, out) = validated(|d| {
        guest_policy(d, SPECIFIC);
        append(d, PACKAGES, "[group.ext-people]\ndisplay_name = \"External people\"\nmail_nickname = \"ext-people\"\nmembers = [\"fabrikam-auditor\"]\n");
        edit_file(d, ASSIGNMENTS, |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2099-03-31T17:00:00Z"));
    });
    assert!(!ok, "{out}");
    let approval = lines(&out, "access-without-approval");
    assert!(approval.iter().any(|l| l.contains("error") && l.contains("group.ext-people is or holds guest guest.fabrikam-auditor")), "{out}");
    let standing = lines(&out, "standing-guest-access");
    assert!(standing.iter().any(|l| l.contains("never ends (noExpiration)")), "the policy: {out}");
    assert!(standing.iter().any(|l| l.contains("access_package_assignment.fabrikam-auditor: guest.fabrikam-auditor is a guest")), "the assignment: {out}");
    assert!(lines(&out, "guest-access-without-review").iter().any(|l| l.contains("warning") && l.contains("specificDirectoryUsers")), "{out}");

    // Nested, or by a rule that does not pin member users: the same.
    let (ok, out) = validated(|d| {
        guest_policy(d, SPECIFIC);
        append(
            d,
            PACKAGES,
            "[group.ext-people]\ndisplay_name = \"External people\"\nmail_nickname = \"ext-people\"\nmembers = [\"megan\", \"auditors-by-rule\"]\n\n[group.auditors-by-rule]\ndisplay_name = \"Auditors\"\nmail_nickname = \"auditors-by-rule\"\nmembership_rule = '(user.department -eq \"Audit\")'\nmembership_rule_processing_state = \"On\"\n",
        );
        edit_file(d, ASSIGNMENTS, |t| t.replace("target = \"fabrikam-auditor\"", "target = \"megan\""));
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("through group.auditors-by-rule") && l.contains("may hold guests")), "{out}");

    // Targets proved to be members only: no guest rules.
    let (_, out) = validated(|d| {
        guest_policy(d, SPECIFIC);
        append(d, PACKAGES, "[group.ext-people]\ndisplay_name = \"Staff\"\nmail_nickname = \"ext-people\"\nmembership_rule = '(user.userType -eq \"Member\") and (user.department -eq \"Audit\")'\nmembership_rule_processing_state = \"On\"\n");
        edit_file(d, ASSIGNMENTS, |t| t.replace("target = \"fabrikam-auditor\"", "target = \"megan\""));
    });
    assert!(lines(&out, "access-without-approval").is_empty() && lines(&out, "guest-access-without-review").is_empty(), "{out}");
}

#[test]
fn a_guest_assignment_ends_within_the_horizon_whatever_the_policy_says() {
    let (ok, out) = validated(|d| {
        edit_file(d, PACKAGES, |t| t.replace("expiration = { type = \"afterDateTime\", end_date_time = 2027-03-31T17:00:00Z }", "expiration = { type = \"noExpiration\" }"));
        edit_file(d, "tenant.toml", |t| t.replace("[governance.exceptions]", "[governance.exceptions]\n\"standing-guest-access:access_package.fabrikam-audit\" = \"access8: the policy's end is excepted\""));
        edit_file(d, ASSIGNMENTS, |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2099-03-31T17:00:00Z"));
    });
    assert!(!ok, "{out}");
    let standing = lines(&out, "standing-guest-access");
    assert!(standing.iter().all(|l| l.contains("access_package_assignment.fabrikam-auditor")) && standing.len() == 1, "{out}");
}

// Finding 1: a self-service package granting admin rights or a ring group.
const INTUNE_OPS: &str = r#"
[group.intune-ops]
display_name = "Intune operators"
mail_nickname = "intune-ops"

[intune_role_definition.full-intune]
display_name = "Full Intune operator"
allowed_actions = ["Microsoft.Intune_DeviceConfigurations_Read", "Microsoft.Intune_DeviceConfigurations_Create", "Microsoft.Intune_DeviceConfigurations_Update", "Microsoft.Intune_DeviceConfigurations_Delete", "Microsoft.Intune_DeviceConfigurations_Assign"]

[intune_role_assignment.ops]
display_name = "Intune operators over all devices"
role = "full-intune"
members = ["intune-ops"]
all_devices = true
expires = 2027-03-31T00:00:00Z
"#;

/// A self-service package of the `internal` catalog granting `group`.
fn self_service(group: &str) -> String {
    format!(
        r#"
[access_catalog.internal]
display_name = "Internal"
groups = ["{group}"]

[access_package.ops]
display_name = "Self service"
catalog = "internal"
groups = ["{group}"]

[access_package.ops.policies.anyone]
display_name = "Any member"
allowed_target_scope = "allMemberUsers"
expiration = {{ type = "afterDuration", duration = "P30D" }}
requestor_settings = {{ enable_targets_to_self_add_access = true, enable_targets_to_self_remove_access = true }}
request_approval_settings = {{ is_approval_required_for_add = false }}
"#
    )
}

#[test]
fn a_self_service_package_granting_admin_rights_needs_approval() {
    // An Intune role over all devices.
    let (ok, out) = validated(|d| append(d, PACKAGES, &format!("{INTUNE_OPS}{}", self_service("intune-ops"))));
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("access_package.ops") && l.contains("holds Intune role full-intune over all devices")), "{out}");

    // Through nesting: the granted group is a member of the operators.
    let (ok, out) = validated(|d| {
        let nested = INTUNE_OPS.replace("mail_nickname = \"intune-ops\"", "mail_nickname = \"intune-ops\"\nmembers = [\"ops-requesters\"]");
        append(d, PACKAGES, &format!("{nested}\n[group.ops-requesters]\ndisplay_name = \"Ops requesters\"\nmail_nickname = \"ops-requesters\"\n{}", self_service("ops-requesters")));
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("group.ops-requesters is a member of group.intune-ops") && l.contains("Intune role")), "{out}");

    // A group that approves PIM activation.
    let (ok, out) = validated(|d| {
        edit_file(d, "role-policies.toml", |t| t.replace("approvers = [\"adele\"]", "approvers = [\"pim-approvers\"]"));
        append(d, PACKAGES, &format!("\n[group.pim-approvers]\ndisplay_name = \"PIM approvers\"\nmail_nickname = \"pim-approvers\"\n{}", self_service("pim-approvers")));
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("group.pim-approvers approves activation of")), "{out}");
}

#[test]
fn a_package_never_delivers_to_a_ring_group() {
    let (ok, out) = validated(|d| {
        let text = self_service("mwd-test").replace("request_approval_settings = { is_approval_required_for_add = false }", "request_approval_settings = { is_approval_required_for_add = true, stages = [{ primary_approvers = [\"adele\"], fallback_primary_approvers = [\"megan\"] }] }");
        append(d, PACKAGES, &text);
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "ring-devices-only").iter().any(|l| l.contains("access_package.ops grants group.mwd-test")), "{out}");
}

// Finding 17: guests extend their own access with no second person.
#[test]
fn self_update_needs_approval_for_updates() {
    let (ok, out) = validated(|d| {
        edit_file(d, PACKAGES, |t| t.replace("enable_targets_to_self_remove_access = true }", "enable_targets_to_self_remove_access = true, enable_targets_to_self_update_access = true }"));
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("enable_targets_to_self_update_access") && l.contains("is_approval_required_for_update is false")), "{out}");
    let (ok, out) = validated(|d| {
        edit_file(d, PACKAGES, |t| {
            t.replace("enable_targets_to_self_remove_access = true }", "enable_targets_to_self_remove_access = true, enable_targets_to_self_update_access = true }")
                .replace("is_approval_required_for_add = true\n", "is_approval_required_for_add = true\nis_approval_required_for_update = true\n")
        });
    });
    assert!(ok && lines(&out, "access-without-approval").is_empty(), "{out}");
}

// Finding 2: guests approve and review guests.
#[test]
fn the_packages_own_group_and_external_sponsors_are_not_a_second_person() {
    let (ok, out) = validated(|d| edit_file(d, PACKAGES, |t| t.replace("primary_approvers = [\"adele\"], fallback_primary_approvers = [\"megan\"]", "primary_approvers = [\"fabrikam-audit-guests\"], fallback_primary_approvers = [\"megan\"]")));
    assert!(!ok, "{out}");
    assert!(lines(&out, "self-approval").iter().any(|l| l.contains("group.fabrikam-audit-guests") && l.contains("a group access_package.fabrikam-audit grants")), "{out}");

    let (ok, out) = validated(|d| {
        edit_file(d, PACKAGES, |t| t.replace("primary_reviewers = [\"adele\"]", "primary_reviewers = [\"audit-reviewers\"]"));
        append(d, PACKAGES, "[group.audit-reviewers]\ndisplay_name = \"Audit reviewers\"\nmail_nickname = \"audit-reviewers\"\nmembers = [\"megan\", \"fabrikam-audit-guests\"]\n");
    });
    assert!(!ok, "{out}");
    assert!(lines(&out, "self-approval").iter().any(|l| l.contains("group.audit-reviewers (through group.fabrikam-audit-guests)")), "{out}");

    let (ok, out) = validated(|d| edit_file(d, PACKAGES, |t| t.replace("primary_approvers = [\"adele\"], fallback_primary_approvers = [\"megan\"]", "primary_approvers = [\"external_sponsors\"], fallback_primary_approvers = [\"external_sponsors\"]")));
    assert!(!ok, "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("approved only by external_sponsors") && l.contains("internal second person")), "{out}");
}

// Finding 7: a guest review that never happens.
#[test]
fn a_guest_review_that_never_happens_is_a_warning() {
    for (from, to, said) in [
        ("start_date_time = 2027-01-04T09:00:00Z", "start_date_time = 2099-01-04T09:00:00Z", "on or after the access ends"),
        ("recurrence = \"absoluteMonthly\", interval = 1", "recurrence = \"absoluteYearly\", interval = 99", "recurs every 99 absoluteYearly"),
        ("expiration_behavior = \"removeAccess\"", "expiration_behavior = \"keepAccess\"", "keepAccess"),
        // Hostile run 18, finding 14: a ten-year review window.
        ("duration = \"P7D\", recurrence", "duration = \"P3650D\", recurrence", "stays open 3650 days"),
    ] {
        let (ok, out) = validated(|d| edit_file(d, PACKAGES, |t| t.replace(from, to)));
        assert!(ok, "a warning, not an error: {out}");
        assert!(lines(&out, "guest-access-without-review").iter().any(|l| l.contains("warning") && l.contains("never takes effect") && l.contains(said)), "{to}: {out}");
    }
}

// Finding 18, live: a guest added (in the portal) to a target group whose
// membership desired state does not manage.
const INTERNAL: &str = r#"
[group.ext-people]
display_name = "Audit helpers"
mail_nickname = "ext-people"

[access_package.fabrikam-audit.policies.internal]
display_name = "Audit helpers"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["ext-people"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }
request_approval_settings = { is_approval_required_for_add = false }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_among_the_live_members_of_a_specific_target_admits_external_users() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, PACKAGES, INTERNAL)).await;
    let d = dir.to_str().expect("a UTF-8 path");
    let (_, out) = run(&sb, work.path(), &["plan", d]);
    assert!(!out.contains("access-without-approval") && !out.contains("guest-access-without-review"), "no guest in the group yet: {out}");

    let ledger = ledger_of(work.path());
    let id = |a: &str| ledger.id(&a.parse().expect("an address")).expect("in the ledger").to_string();
    let (group, guest) = (id("group.ext-people"), id("guest.fabrikam-auditor"));
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{guest}")}))).await;
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_ne!(code, Some(0), "{out}");
    let approval = lines(&out, "access-without-approval");
    assert!(approval.iter().any(|l| l.contains("error") && l.contains("policy `audit helpers`") && l.contains("group.ext-people holds guest.fabrikam-auditor live")), "{out}");
    assert!(lines(&out, "guest-access-without-review").iter().any(|l| l.contains("policy `audit helpers`")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

// Finding 1: the plan says what the package grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_says_what_a_package_grants() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    let approved = self_service("intune-ops")
        .replace("allowed_target_scope = \"allMemberUsers\"", "allowed_target_scope = \"specificDirectoryUsers\"\nspecific_allowed_targets = [\"ops-requesters\"]")
        .replace("request_approval_settings = { is_approval_required_for_add = false }", "request_approval_settings = { is_approval_required_for_add = true, stages = [{ primary_approvers = [\"adele\"] }] }");
    append(&dir, PACKAGES, &format!("{INTUNE_OPS}{approved}\n[group.ops-requesters]\ndisplay_name = \"Ops requesters\"\nmail_nickname = \"ops-requesters\"\nmembers = [\"megan\"]\n"));
    let (_, out) = run(&sb, work.path(), &["plan", dir.to_str().expect("a UTF-8 path")]);
    assert!(out.lines().any(|l| l.contains("sensitive: access package") && l.contains("grants group.intune-ops, which holds Intune role")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

// Finding 13: the plan that removes the package role which put a guest in
// a ring group is not refused by the ring lint it remedies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_package_role_that_delivered_into_a_ring_is_not_blocked_by_it() {
    const EM: &str = "/identityGovernance/entitlementManagement";
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let d = dir.to_str().expect("a UTF-8 path");
    let ledger = ledger_of(work.path());
    let id = |a: &str| ledger.id(&a.parse().expect("an address")).expect("in the ledger").to_string();
    let (ring, guest, catalog, package) = (id("group.mwd-test"), id("guest.fabrikam-auditor"), id("access_catalog.guest-access"), id("access_package.fabrikam-audit"));
    // In the portal: the ring joins the catalog and the package grants its
    // Member role; Entra delivers the package's assignee into the ring.
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/resourceRequests"), Some(json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": ring, "originSystem": "AadGroup"}}))).await;
    let role = json!({"role": {"displayName": "Member", "originId": format!("Member_{ring}"), "originSystem": "AadGroup"}, "scope": {"originId": ring, "originSystem": "AadGroup", "isRootScope": true}});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0{EM}/accessPackages/{package}/resourceRoleScopes"), Some(role)).await;
    let members = graph(&sb, reqwest::Method::GET, &format!("/v1.0/groups/{ring}/members?$select=id"), None).await;
    assert!(members["value"].as_array().is_some_and(|m| m.iter().any(|x| x["id"] == json!(guest))), "delivered into the ring: {members:#}");

    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert!(out.contains("access_package.fabrikam-audit"), "the plan takes the ring out of the package: {out}");
    let ring_lint = lines(&out, "ring-devices-only");
    assert!(!ring_lint.is_empty() && ring_lint.iter().all(|l| l.contains("warning")), "the ring lint does not block its remedy: {out}");
    assert!(out.contains("the state after this plan no longer has it"), "{out}");
    assert!(!out.contains("lint error(s)"), "nothing else blocks it ({code:?}): {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

// Finding 1, live: the package's group is nested, in the portal, into a
// group (membership not managed) that holds an Intune role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_group_nested_live_into_an_intune_role_group_needs_approval() {
    let sb = sandbox().await;
    let ops = INTUNE_OPS.replace("members = [\"intune-ops\"]", "members = [\"helpdesk\"]");
    let requesters = self_service("ops-people");
    let (work, dir) = converged(&sb, |d| append(d, PACKAGES, &format!("{ops}\n[group.helpdesk]\ndisplay_name = \"Helpdesk\"\nmail_nickname = \"helpdesk\"\n\n[group.ops-people]\ndisplay_name = \"Ops people\"\nmail_nickname = \"ops-people\"\n{requesters}"))).await;
    let d = dir.to_str().expect("a UTF-8 path");
    let (_, out) = run(&sb, work.path(), &["plan", d]);
    assert!(lines(&out, "access-without-approval").is_empty(), "not nested yet: {out}");

    let ledger = ledger_of(work.path());
    let id = |a: &str| ledger.id(&a.parse().expect("an address")).expect("in the ledger").to_string();
    let (helpdesk, people) = (id("group.helpdesk"), id("group.ops-people"));
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{helpdesk}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{people}")}))).await;
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_ne!(code, Some(0), "{out}");
    assert!(lines(&out, "access-without-approval").iter().any(|l| l.contains("error") && l.contains("access_package.ops") && l.contains("group.ops-people, which holds Intune role") && l.contains("group.helpdesk")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

// The same nesting into a group whose members desired state declares:
// the plan takes it out again, so the lint does not block that plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_nesting_the_plan_removes_does_not_block_it() {
    let sb = sandbox().await;
    let ops = INTUNE_OPS.replace("mail_nickname = \"intune-ops\"", "mail_nickname = \"intune-ops\"\nmembers = [\"megan\"]");
    let requesters = self_service("ops-people");
    let (work, dir) = converged(&sb, |d| append(d, PACKAGES, &format!("{ops}\n[group.ops-people]\ndisplay_name = \"Ops people\"\nmail_nickname = \"ops-people\"\n{requesters}"))).await;
    let d = dir.to_str().expect("a UTF-8 path");
    let ledger = ledger_of(work.path());
    let id = |a: &str| ledger.id(&a.parse().expect("an address")).expect("in the ledger").to_string();
    let (intune_ops, people) = (id("group.intune-ops"), id("group.ops-people"));
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{intune_ops}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{people}")}))).await;
    let (_, out) = run(&sb, work.path(), &["plan", d]);
    assert!(out.contains("group.intune-ops"), "the plan takes the nesting out: {out}");
    let approval = lines(&out, "access-without-approval");
    assert!(!approval.is_empty() && approval.iter().all(|l| l.contains("warning") && l.contains("no longer has it")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

// Finding 2, live: an approver group whose membership desired state does
// not manage holds, live, someone the policy admits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_group_is_judged_on_its_live_members() {
    let sb = sandbox().await;
    let text = r#"
[group.auditors]
display_name = "Internal auditors"
mail_nickname = "auditors"
members = ["megan"]

[group.audit-approvers]
display_name = "Audit approvers"
mail_nickname = "audit-approvers"

[access_package.fabrikam-audit.policies.internal]
display_name = "Internal auditors"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["auditors"]
expiration = { type = "afterDuration", duration = "P30D" }

[access_package.fabrikam-audit.policies.internal.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["audit-approvers"], duration_before_automatic_denial = "P7D" }]
"#;
    let (work, dir) = converged(&sb, |d| append(d, PACKAGES, text)).await;
    let d = dir.to_str().expect("a UTF-8 path");
    let (_, out) = run(&sb, work.path(), &["plan", d]);
    assert!(lines(&out, "self-approval").is_empty(), "nobody in the approvers yet: {out}");
    let ledger = ledger_of(work.path());
    let id = |a: &str| ledger.id(&a.parse().expect("an address")).expect("in the ledger").to_string();
    let (group, megan) = (id("group.audit-approvers"), id("user.megan"));
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{megan}")}))).await;
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert_ne!(code, Some(0), "{out}");
    assert!(lines(&out, "self-approval").iter().any(|l| l.contains("error") && l.contains("group.audit-approvers holds user.megan live")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
