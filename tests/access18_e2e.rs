//! Issue 16, access packages (access18, hostile run 29 finding 4),
//! through the binary against the sandbox: the requests already waiting
//! that a plan strands without touching the policy itself are named:
//!
//! * an approver *group* from whose declared `members` the plan takes an
//!   approver out: every request waiting through the policy (as for an
//!   approver taken out of the stage); an approver only added strands
//!   nothing, and costs no request;
//! * a dynamic allowed-requestor group whose `membership_rule` the plan
//!   narrows: the requests of the people the new rule no longer matches
//!   (evaluated against the live users), and only theirs;
//! * people reached through a nested group: taken out (the nested group
//!   taken out, or the person taken out of it), named; moved from a direct
//!   membership into a nested group the policy keeps, not named;
//! * a package whose granted roles grow: every request waiting on it,
//!   with the roles added.

mod common;

use std::path::Path;

use common::gov::{edit_file, ledger_of, run};
use common::kind::*;
use common::pending::{policy_id, reads, warning};
use common::*;

const STAFF: &str = "access18.staff@contoso.onmicrosoft.com";
const TEMP: &str = "access18.temp@contoso.onmicrosoft.com";
const LEAD: &str = "access18.lead@contoso.onmicrosoft.com";
const AUDITOR: &str = "access18.auditor@contoso.onmicrosoft.com";
const CLERK: &str = "access18.clerk@contoso.onmicrosoft.com";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn user(key: &str, extra: &str) -> String {
    format!(
        "[user.access18-{key}]\nuser_principal_name = \"access18.{key}@contoso.onmicrosoft.com\"\ndisplay_name = \"Access18 {key}\"\nmail_nickname = \"access18.{key}\"\nusage_location = \"US\"\n{extra}\n"
    )
}

const CONTRACTORS: &str = r#"members = ["access18-staff", "access18-temp", "access18-lead", "access18-interns"]"#;
const INTERNS: &str = r#"members = ["access18-temp", "access18-lead"]"#;
const APPROVERS: &str = r#"members = ["adele", "megan"]"#;
const FINANCE: &str = r#"membership_rule = '(user.department -eq "Finance")'"#;
const AUDITORS_ONLY: &str = r#"membership_rule = '(user.department -eq "Finance") -and (user.jobTitle -eq "Auditor")'"#;

/// Six people (one a second approver, added later); contractors (with a nested interns group), a dynamic
/// finance group, and an approvers group.
fn extra() -> String {
    let mut t = String::new();
    for k in ["staff", "temp", "lead", "second"] {
        t.push_str(&user(k, ""));
    }
    t.push_str(&user("auditor", "department = \"Finance\"\njob_title = \"Auditor\""));
    t.push_str(&user("clerk", "department = \"Finance\"\njob_title = \"Clerk\""));
    t.push_str(&format!(
        r#"[group.access18-interns]
display_name = "access18 interns"
mail_nickname = "access18-interns"
{INTERNS}

[group.access18-contractors]
display_name = "access18 contractors"
mail_nickname = "access18-contractors"
{CONTRACTORS}

[group.access18-finance]
display_name = "access18 finance"
mail_nickname = "access18-finance"
{FINANCE}

[group.access18-approvers]
display_name = "access18 approvers"
mail_nickname = "access18-approvers"
{APPROVERS}

[group.access18-extra]
display_name = "access18 extra"
mail_nickname = "access18-extra"
"#
    ));
    t
}

/// A second policy on the guest package: the contractors and the finance
/// group ask, the approvers group decides.
const POLICY: &str = r#"
[access_package.fabrikam-audit.policies.contractors]
display_name = "Audit contractors"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access18-contractors", "access18-finance"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }

[access_package.fabrikam-audit.policies.contractors.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["access18-approvers"], duration_before_automatic_denial = "P7D" }]
"#;

/// The example with the contractors' policy applied, and a request
/// waiting on it for each of staff, temp, lead, the auditor and the clerk
/// (by UPN).
struct Seeded {
    sb: sandbox::SandboxHandle,
    work: tempfile::TempDir,
    dir: std::path::PathBuf,
    requests: Vec<(&'static str, String)>,
}

async fn seeded() -> Seeded {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access18", "extra.toml", &extra());
    edit_file(&dir, "access-packages.toml", |t| format!("{t}{POLICY}"));
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(work.path());
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let policy = policy_id(&sb, &package, "Audit contractors").await;
    let mut requests = Vec::new();
    for (who, upn) in [("staff", STAFF), ("temp", TEMP), ("lead", LEAD), ("auditor", AUDITOR), ("clerk", CLERK)] {
        let id = sb.add_pending_request(&package, &policy, &id_of(&ledger, &format!("user.access18-{who}"))).expect("the request waits");
        requests.push((upn, id));
    }
    Seeded { sb, work, dir, requests }
}

/// Asserts `w` names exactly the requests of `named` among `all`.
fn names_only(w: &str, all: &[(&str, String)], named: &[&str], out: &str) {
    for (upn, id) in all {
        let expected = named.contains(upn);
        assert_eq!(w.contains(upn), expected, "{upn} named: {expected}: {out}");
        assert_eq!(w.contains(id.as_str()), expected, "{upn}'s request {id} named: {expected}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_taken_out_of_an_approver_group_names_every_request_of_the_policy() {
    let Seeded { sb, work, dir, requests } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // Converged: nothing named, and what a quiet plan reads.
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(warning(&out).is_empty(), "{out}");
    let quiet = reads(&sb);

    // An approver only added to the group: the requests already waiting
    // are still decided by the approvers they were sent to, all kept;
    // nothing is stranded, nothing named, nothing more read.
    edit_file(&dir, "extra.toml", |t| t.replacen(APPROVERS, r#"members = ["adele", "megan", "access18-second"]"#, 1));
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.access18-approvers") && warning(&out).is_empty(), "{out}");
    assert_eq!(reads(&sb), quiet, "no policy or request read for an approver added: {:?}", sb.request_counts());

    // Megan taken out of the approvers group: the stage is re-pointed
    // without a change to the policy; every request through it is named.
    edit_file(&dir, "extra.toml", |t| t.replacen(r#"members = ["adele", "megan", "access18-second"]"#, r#"members = ["adele"]"#, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("re-points the approval of policy `Audit contractors` (approval stage 1 re-pointed (approver group `access18 approvers` loses 1 member; requests already sent there stay with them))"), "{out}");
    assert!(w.contains("5 requests already waiting") && w.contains("have the approvers now declared decide"), "{out}");
    names_only(&w, &requests, &[STAFF, TEMP, LEAD, AUDITOR, CLERK], &out);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_membership_rule_names_the_requests_of_those_it_no_longer_matches() {
    let Seeded { sb, work, dir, requests } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // The finance group narrowed to its auditors: the clerk's request no
    // longer fits the policy; the auditor's still does.
    edit_file(&dir, "extra.toml", |t| t.replacen(FINANCE, AUDITORS_ONLY, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.access18-finance"), "{out}");
    let w = warning(&out);
    assert!(w.contains("narrows policy `Audit contractors` (group `access18 finance`, an allowed requestor, loses 1 member it admitted)"), "{out}");
    assert!(w.contains("1 request already waiting"), "{out}");
    names_only(&w, &requests, &[CLERK], &out);

    // The users not read in this plan: whom the new rule leaves out cannot
    // be told, so the plan says so, naming the policy, and names every
    // request waiting through it rather than none.
    sb.set_faults(sandbox::Faults { fail_paths: vec!["/users".into()], retry_after_secs: 0, ..sandbox::Faults::none() }).expect("faults");
    let (code, out) = run(&sb, root, &["plan", dd]);
    sb.set_faults(sandbox::Faults::none()).expect("faults cleared");
    assert_eq!(code, Some(1), "users not read: the plan is incomplete: {out}");
    let w = warning(&out);
    assert!(w.contains("narrows policy `Audit contractors` (group `access18 finance`, an allowed requestor, no longer admits everyone it did, and not all of them are known (the membership rule of group `access18 finance` changes and whom it matches could not be evaluated: users could not be read in this plan): every request waiting through the policy is concerned)"), "{out}");
    assert!(!w.contains("group `access18 contractors`"), "the contractors lose no one: {out}");
    names_only(&w, &requests, &[STAFF, TEMP, LEAD, AUDITOR, CLERK], &out);

    // Widened instead: no one is lost, nothing named.
    edit_file(&dir, "extra.toml", |t| t.replacen(AUDITORS_ONLY, r#"membership_rule = '(user.department -eq "Finance") -or (user.department -eq "Audit")'"#, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.access18-finance") && warning(&out).is_empty(), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_reached_through_a_nested_group_taken_out_are_named() {
    let Seeded { sb, work, dir, requests } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // Temp and the lead moved from direct members to members through the
    // interns group the contractors keep: still admitted, not named.
    edit_file(&dir, "extra.toml", |t| t.replacen(CONTRACTORS, r#"members = ["access18-staff", "access18-interns"]"#, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.access18-contractors") && warning(&out).is_empty(), "still admitted through the nested group: {out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // The lead taken out of the nested group: no longer admitted.
    edit_file(&dir, "extra.toml", |t| t.replacen(INTERNS, r#"members = ["access18-temp"]"#, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("group `access18 contractors`, an allowed requestor, loses 1 member it admitted"), "{out}");
    names_only(&w, &requests, &[LEAD], &out);

    // The nested group itself taken out: everyone reached only through it.
    edit_file(&dir, "extra.toml", |t| t.replacen(r#"members = ["access18-temp"]"#, INTERNS, 1).replacen(r#"members = ["access18-staff", "access18-interns"]"#, r#"members = ["access18-staff"]"#, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("group `access18 contractors`, an allowed requestor, loses 2 members it admitted") && w.contains("2 requests already waiting"), "{out}");
    names_only(&w, &requests, &[TEMP, LEAD], &out);
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_whose_roles_grow_names_every_request_waiting_on_it() {
    let Seeded { sb, work, dir, requests } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    let listings = |sb: &sandbox::SandboxHandle| -> u64 {
        let c = sb.request_counts();
        c.requests.iter().chain(&c.batch_items).filter(|(k, _)| k.contains("assignmentRequests")).map(|(_, n)| *n).sum()
    };
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    let quiet = listings(&sb);

    // The package also grants the extra group: whoever is approved now
    // gets it too.
    edit_file(&dir, "access-packages.toml", |t| t.replace(r#"groups = ["fabrikam-audit-guests"]"#, r#"groups = ["fabrikam-audit-guests", "access18-extra"]"#));
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: access package (grants group access"), "the change itself is reviewed: {out}");
    let w = warning(&out);
    assert!(w.contains("access_package.fabrikam-audit: sensitive: this plan adds to what the access package grants (group `access18 extra`)"), "{out}");
    assert!(w.contains("5 requests are already waiting") && w.contains("through policy `Audit contractors`"), "{out}");
    names_only(&w, &requests, &[STAFF, TEMP, LEAD, AUDITOR, CLERK], &out);
    assert_eq!(listings(&sb), quiet + 1, "one listing of the package's requests: {:?}", sb.request_counts());

    // A group this plan creates, granted by the package: named by its address.
    edit_file(&dir, "extra.toml", |t| format!("{t}\n[group.access18-new]\ndisplay_name = \"access18 new\"\nmail_nickname = \"access18-new\"\n"));
    edit_file(&dir, "access-packages.toml", |t| t.replace(r#"groups = ["fabrikam-audit-guests", "access18-extra"]"#, r#"groups = ["fabrikam-audit-guests", "access18-new"]"#));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("this plan adds to what the access package grants (group `group.access18-new`)"), "{out}");
    names_only(&w, &requests, &[STAFF, TEMP, LEAD, AUDITOR, CLERK], &out);

    // Roles taken away only: nothing more is granted, nothing named.
    edit_file(&dir, "access-packages.toml", |t| t.replace(r#"groups = ["fabrikam-audit-guests", "access18-new"]"#, r#"groups = ["fabrikam-audit-guests"]"#));
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    edit_file(&dir, "access-packages.toml", |t| t.replacen(r#"groups = ["fabrikam-audit-guests"]"#, r#"groups = []"#, 2));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("access_package.fabrikam-audit") && !out.contains("adds to what the access package grants"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_pass_names_them_too_once_the_directory_is_read_through_delta() {
    let Seeded { sb, work, dir, requests } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // Temp and the lead left to the interns group (nested in the
    // contractors), and the lead taken out of it: a reconcile pass reads
    // users and groups through delta apart from the other kinds; the
    // request it strands (the lead's) is named in the pass's report.
    edit_file(&dir, "extra.toml", |t| t.replacen(INTERNS, r#"members = ["access18-temp"]"#, 1).replacen(CONTRACTORS, r#"members = ["access18-staff", "access18-interns"]"#, 1));
    let (code, out) = run(&sb, root, &["reconcile", dd, "--once", "--now", "2026-11-23T12:00:00Z"]);
    assert!(code.is_some(), "{out}");
    let history = root.join(".tenantctl/history");
    let reports: Vec<String> = std::fs::read_dir(&history).expect("the pass's report").map(|e| std::fs::read_to_string(e.expect("an entry").path()).expect("a report")).collect();
    assert_eq!(reports.len(), 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&reports[0]).expect("JSON");
    let w = report["warnings"].as_array().into_iter().flatten().filter_map(|w| w.as_str()).filter(|w| w.contains("already waiting for approval")).collect::<Vec<_>>().join("\n");
    assert!(w.contains("group `access18 contractors`, an allowed requestor, loses 1 member it admitted"), "{report:#}");
    names_only(&w, &requests, &[LEAD], &reports[0]);
    sb.shutdown().await.expect("the sandbox stops");
}
