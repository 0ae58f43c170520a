//! Issue 16, access packages (access17, hostile run 28 finding 8),
//! through the binary against the sandbox: the requests already waiting
//! that a plan names include those it makes inadmissible or routes
//! elsewhere without touching the policy's own audience fields:
//!
//! * people taken out of the declared membership of a group the policy
//!   admits (`groupMembers`): the waiting requests of those people, and
//!   only theirs (not of a member kept, nor of one the policy still names
//!   directly);
//! * an approval stage re-pointed to other approvers (same number of
//!   stages): every request waiting through that policy, and none through
//!   another;
//! * neither planned: no request or policy is read for it.

mod common;

use std::path::Path;

use common::gov::{edit_file, ledger_of, run};
use common::kind::*;
use common::pending::{policy_id, reads, warning};
use common::*;
use serde_json::{json, Value};

const PARTNER: &str = "partner17_fabrikam.com#EXT#@contoso.onmicrosoft.com";
const STAFF: &str = "access17.staff@contoso.onmicrosoft.com";
const TEMP: &str = "access17.temp@contoso.onmicrosoft.com";
const LEAD: &str = "access17.lead@contoso.onmicrosoft.com";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// Three people in a contractors group; the lead is also named on the
/// policy directly.
const EXTRA: &str = r#"[user.access17-staff]
user_principal_name = "access17.staff@contoso.onmicrosoft.com"
display_name = "Access17 Staff"
mail_nickname = "access17.staff"
usage_location = "US"

[user.access17-temp]
user_principal_name = "access17.temp@contoso.onmicrosoft.com"
display_name = "Access17 Temp"
mail_nickname = "access17.temp"
usage_location = "US"

[user.access17-lead]
user_principal_name = "access17.lead@contoso.onmicrosoft.com"
display_name = "Access17 Lead"
mail_nickname = "access17.lead"
usage_location = "US"

[group.access17-contractors]
display_name = "access17 contractors"
mail_nickname = "access17-contractors"
members = ["access17-staff", "access17-temp", "access17-lead"]
"#;

const MEMBERS: &str = r#"members = ["access17-staff", "access17-temp", "access17-lead"]"#;
const FEWER: &str = r#"members = ["access17-staff"]"#;

/// A second policy on the guest package: the contractors (and the lead by
/// name) ask, Adele (else Megan) approves.
const CONTRACTORS: &str = r#"
[access_package.fabrikam-audit.policies.contractors]
display_name = "Audit contractors"
allowed_target_scope = "specificDirectoryUsers"
specific_allowed_targets = ["access17-contractors", "access17-lead"]
expiration = { type = "afterDuration", duration = "P30D" }
requestor_settings = { enable_targets_to_self_add_access = true }

[access_package.fabrikam-audit.policies.contractors.request_approval_settings]
is_approval_required_for_add = true
stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }]
"#;

const APPROVERS: &str = r#"stages = [{ primary_approvers = ["adele"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }]
"#;
const OTHER_APPROVERS: &str = r#"stages = [{ primary_approvers = ["megan"], fallback_primary_approvers = ["adele"], duration_before_automatic_denial = "P7D" }]
"#;

const ADDED_APPROVER: &str = r#"stages = [{ primary_approvers = ["adele", "megan"], fallback_primary_approvers = ["megan"], duration_before_automatic_denial = "P7D" }]
"#;

/// The example with the contractors' policy applied, each contractor
/// waiting on it and a partner on the external policy.
struct Seeded {
    sb: sandbox::SandboxHandle,
    work: tempfile::TempDir,
    dir: std::path::PathBuf,
    /// Staff's, temp's and the lead's requests, and the partner's.
    requests: [String; 4],
}

async fn seeded() -> Seeded {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access17", "extra.toml", EXTRA);
    edit_file(&dir, "access-packages.toml", |t| format!("{t}{CONTRACTORS}"));
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(work.path());
    let package = id_of(&ledger, "access_package.fabrikam-audit");
    let external = policy_id(&sb, &package, "Fabrikam auditors").await;
    let contractors = policy_id(&sb, &package, "Audit contractors").await;
    let mut requests = Vec::new();
    for who in ["user.access17-staff", "user.access17-temp", "user.access17-lead"] {
        requests.push(sb.add_pending_request(&package, &contractors, &id_of(&ledger, who)).expect("the contractor's request waits"));
    }
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/objects/users", sb.base_url()))
        .json(&json!({"displayName": "Pending Partner", "userPrincipalName": PARTNER, "mail": "partner17@fabrikam.com", "userType": "Guest", "accountEnabled": true}))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    let partner = r.json::<Value>().await.expect("the user")["id"].as_str().expect("its id").to_string();
    requests.push(sb.add_pending_request(&package, &external, &partner).expect("the guest's request waits"));
    let requests = <[String; 4]>::try_from(requests).expect("four requests");
    Seeded { sb, work, dir, requests }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requests_of_people_taken_out_of_a_group_a_policy_admits_are_named() {
    let Seeded { sb, work, dir, requests: [staff_request, temp_request, lead_request, _] } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // Converged: nothing named.
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    assert!(warning(&out).is_empty(), "{out}");
    let quiet = reads(&sb);

    // A membership change to a group no policy admits reads nothing more.
    edit_file(&dir, "groups.toml", |t| t.replacen(r#"members = ["adele", "megan"]"#, r#"members = ["adele"]"#, 1));
    sb.reset_counts();
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("group.licensed-users") && warning(&out).is_empty(), "{out}");
    assert_eq!(reads(&sb), quiet, "no policy or request read for a change that touches none: {:?}", sb.request_counts());
    edit_file(&dir, "groups.toml", |t| t.replacen(r#"members = ["adele"]"#, r#"members = ["adele", "megan"]"#, 1));

    // Temp and the lead taken out of the contractors: temp's request no
    // longer fits the policy and is named; the lead is still named on the
    // policy, staff still a member: theirs are not.
    edit_file(&dir, "extra.toml", |t| t.replacen(MEMBERS, FEWER, 1));
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("narrows policy `Audit contractors` (group `access17 contractors`, an allowed requestor, loses 1 member it admitted)"), "{out}");
    assert!(w.contains("1 request already waiting") && w.contains(TEMP) && w.contains(&temp_request), "{out}");
    assert!(!w.contains(STAFF) && !w.contains(&staff_request) && !w.contains(LEAD) && !w.contains(&lead_request) && !w.contains(PARTNER), "only the person the policy stops admitting: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_waiting_through_a_policy_whose_stage_is_re_pointed_is_named() {
    let Seeded { sb, work, dir, requests: [staff_request, temp_request, lead_request, partner_request] } = seeded().await;
    let (root, dd) = (work.path(), d(&dir));

    // The stage re-pointed (Megan instead of Adele, Adele the fallback,
    // still one stage): every request waiting through the policy is
    // named, the partner's through the other policy is not.
    edit_file(&dir, "access-packages.toml", |t| {
        let at = t.find("[access_package.fabrikam-audit.policies.contractors.request_approval_settings]").expect("the contractors' approval");
        format!("{}{}", &t[..at], t[at..].replacen(APPROVERS, OTHER_APPROVERS, 1))
    });
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    let w = warning(&out);
    assert!(w.contains("re-points the approval of policy `Audit contractors` (approval stage 1 re-pointed (1 approver taken out, 1 fallback approver taken out; requests already sent there stay with them))"), "{out}");
    assert!(w.contains("3 requests already waiting"), "{out}");
    for (who, id) in [(STAFF, &staff_request), (TEMP, &temp_request), (LEAD, &lead_request)] {
        assert!(w.contains(who) && w.contains(id.as_str()), "{who}: {out}");
    }
    assert!(w.contains("have the approvers now declared decide") && !w.contains(PARTNER) && !w.contains(&partner_request), "{out}");

    // An approver only added takes no one's power away: nothing named.
    edit_file(&dir, "access-packages.toml", |t| {
        let at = t.find("[access_package.fabrikam-audit.policies.contractors.request_approval_settings]").expect("the contractors' approval");
        format!("{}{}", &t[..at], t[at..].replacen(OTHER_APPROVERS, ADDED_APPROVER, 1))
    });
    let (code, out) = run(&sb, root, &["plan", dd]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("access_package.fabrikam-audit") && warning(&out).is_empty(), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
