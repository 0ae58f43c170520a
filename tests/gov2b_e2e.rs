//! Hostile findings against issue 12, through the binary:
//! * dropping `kind = "service"` does not turn the service-account rules
//!   off for an account the service-accounts group still holds;
//! * a live lint whose violation the plan removes does not block it;
//! * guest access beyond the expiry horizon is standing access (an error);
//! * a protected account's access changes only with approval;
//! * the privileged set is Microsoft's (and custom roles count);
//! * out-of-band privileged access, active or eligible, any privileged
//!   role, is removed by the plan, unattended.

mod common;


use common::*;
use serde_json::{json, Value};

const MIXED: &str = "[group.mixed]\ndisplay_name = \"Mixed\"\nmail_nickname = \"mixed\"\nmembers = [\"adele\", \"mstest\"]\n";
const MIXED_POLICY: &str = "[device_configuration.mixed-policy]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Mixed policy\"\n\n[device_configuration.mixed-policy.settings]\ncameraBlocked = true\n\n[device_configuration.mixed-policy.assignments]\ninclude = [\"mixed\"]\n";

/// Finding 2: MSTEST without `kind = "service"` is still a service account
/// (the service-accounts group's rule matches it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_kind_service_keeps_the_service_account_rules() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    edit_file(&dir, "accounts.toml", |t| t.replace("mail_nickname = \"MSTEST\"\nkind = \"service\"\n", "mail_nickname = \"MSTEST\"\n"));
    append(&dir, "groups.toml", MIXED);
    append(&dir, "policies.toml", MIXED_POLICY);
    append(&dir, "roles.toml", "[role_assignment.mstest-ga]\nprincipal = \"mstest\"\nrole = \"Global Administrator\"\nassignment = \"eligible\"\nexpires = 2027-01-15T00:00:00Z\njustification = \"x\"\n");
    let (code, out) = validate(&sb, work.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] device_configuration.mixed-policy: reaches service account user.mstest"), "{out}");
    assert!(out.contains("error[service-account-privileged] role_assignment.mstest-ga: user.mstest is a service account"), "{out}");

    // Changing MSTEST itself (it has no kind any more) is still sensitive.
    let (work, dir) = converged(&sb, |d| edit_file(d, "accounts.toml", |t| t.replace("mail_nickname = \"MSTEST\"\nkind = \"service\"\n", "mail_nickname = \"MSTEST\"\n"))).await;
    edit_file(&dir, "accounts.toml", |t| t.replace("display_name = \"MSTEST\"", "display_name = \"MSTEST renamed\""));
    let (code, out) = run(&sb, work.path(), &["plan", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: touches service account user.mstest"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 4: a live violation the plan removes does not block the plan
/// (a policy assigned out of band to a group holding a service account; a
/// privileged role given to a service account out of band).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lint_does_not_block_the_plan_that_removes_it() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let g = graph(
        &sb,
        reqwest::Method::POST,
        "/v1.0/groups",
        Some(json!({"displayName": "Sneaky", "mailNickname": "sneaky", "mailEnabled": false, "securityEnabled": true})),
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let msadmin = ledger_id(w, "user.msadmin");
    let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{msadmin}")});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{gid}/members/$ref"), Some(body)).await;
    let policy = ledger_id(w, "device_configuration.windows-restrictions");
    let mut targets: Vec<Value> = ["mwd-test", "mwd-first", "mwd-fast", "mwd-broad"]
        .iter()
        .map(|k| json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": ledger_id(w, &format!("group.{k}"))}}))
        .collect();
    targets.push(json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid}}));
    graph(&sb, reqwest::Method::POST, &format!("/beta/deviceManagement/deviceConfigurations/{policy}/assign"), Some(json!({"assignments": targets}))).await;
    // And Authentication Administrator (privileged) for MSTEST, out of
    // band. (Not Global Administrator: the example declares none, and the
    // last active one is never removed by the plan, which would lock every
    // admin out.)
    let mstest = ledger_id(w, "user.mstest");
    let ra = graph(
        &sb,
        reqwest::Method::POST,
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(json!({"principalId": mstest, "roleDefinitionId": "c4e39bd9-1100-46d3-8c65-fb160da0071f", "directoryScopeId": "/"})),
    )
    .await;
    let rid = ra["id"].as_str().unwrap().to_string();
    let (code, out) = run(&sb, w, &["plan", dir.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("! error["), "{out}");
    assert!(
        out.contains(&format!("warning[service-account-targeted] device_configuration.windows-restrictions: reaches service account user.msadmin through group id:{gid}")),
        "{out}"
    );
    assert!(out.contains(&format!("warning[service-account-privileged] id:{rid}: user.mstest")), "{out}");
    assert!(out.contains("the state after this plan no longer has it, so it does not block"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Finding 5: a guest whose access never ends (9999) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_with_standing_access_is_refused() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 9999-12-31T00:00:00Z"));
    let (code, out) = validate(&sb, work.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[standing-guest-access]"), "{out}");
    assert!(out.contains("guests.toml:"), "located: {out}");
    sb.shutdown().await.unwrap();
}

/// Finding 6: ending a protected (break-glass) account's role is sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_accounts_access_changes_only_with_approval() {
    let sb = sandbox().await;
    let until = (common::now() + chrono::Duration::days(100)).format("%Y-%m-%dT00:00:00Z").to_string();
    let ga = format!("[role_assignment.bg-ga]\nprincipal = \"breakglass-1\"\nrole = \"Privileged Role Administrator\"\nassignment = \"active\"\nexpires = {until}\njustification = \"drill\"\n");
    let (work, dir) = converged(&sb, |d| {
        append(d, "roles.toml", &ga);
        edit_file(d, "tenant.toml", |t| t.replace("kinds = [\"device_configuration\",", "kinds = [\"role_assignment\", \"device_configuration\","));
    })
    .await;
    let w = work.path();
    edit_file(&dir, "roles.toml", |t| t.replace(&ga, ""));
    let d = dir.to_str().unwrap();
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("role_assignment.bg-ga"), "{out}");
    assert!(out.contains("sensitive: changes the access of protected user.breakglass-1"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "needs approvals: {out}");
    assert!(out.contains("role_assignment.bg-ga: changes the access of protected user.breakglass-1"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d, "--once", "--self-heal"]);
    assert!(!out.contains("applied: delete role_assignment.bg-ga"), "never self-healed: {out}");
    sb.shutdown().await.unwrap();
}

/// Finding 7: Microsoft's privileged roles, and custom roles, held
/// permanently are standing privileged access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_privileged_roles_and_custom_roles_are_privileged() {
    let sb = sandbox().await;
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    append(
        &dir,
        "roles.toml",
        "[role_assignment.adele-app]\nprincipal = \"adele\"\nrole = \"Application Administrator\"\n\n[role_assignment.adele-pauth]\nprincipal = \"adele\"\nrole = \"Privileged Authentication Administrator\"\n\n[role_assignment.adele-custom]\nprincipal = \"adele\"\nrole = \"0e5a5d6f-1111-4a4a-9b9b-123456789abc\"\n\n[role_assignment.adele-reports]\nprincipal = \"adele\"\nrole = \"Reports Reader\"\n",
    );
    let (code, out) = validate(&sb, work.path());
    assert_eq!(code, Some(1), "{out}");
    for a in ["adele-app", "adele-pauth", "adele-custom"] {
        assert!(out.contains(&format!("error[standing-privileged-access] role_assignment.{a}:")), "{a}: {out}");
    }
    assert!(!out.contains("role_assignment.adele-reports:"), "not privileged: {out}");
    sb.shutdown().await.unwrap();
}

/// Finding 8: out-of-band privileged access beyond active Global and
/// Privileged Role Administrator (an eligible Global Administrator, an
/// active Authentication Administrator) is removed, without approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_privileged_access_of_any_kind_is_removed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let adele = ledger_id(w, "user.adele");
    let start = common::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    graph(
        &sb,
        reqwest::Method::POST,
        "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
        Some(json!({"action": "adminAssign", "principalId": adele, "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "directoryScopeId": "/", "justification": "x", "scheduleInfo": {"startDateTime": start, "expiration": {"type": "noExpiration"}}})),
    )
    .await;
    let megan = ledger_id(w, "user.megan");
    graph(
        &sb,
        reqwest::Method::POST,
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(json!({"principalId": megan, "roleDefinitionId": "c4e39bd9-1100-46d3-8c65-fb160da0071f", "directoryScopeId": "/"})),
    )
    .await;
    let d = dir.to_str().unwrap();
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("out-of-band privileged access: user.adele holds Global Administrator (eligible)"), "{out}");
    assert!(out.contains("out-of-band privileged access: user.megan holds Authentication Administrator (active)"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "removing access needs no approval: {out}");
    let (code, out) = run(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "removed: {out}");
    assert!(!out.contains("unmanaged-privileged-holder"), "{out}");
    sb.shutdown().await.unwrap();
}
