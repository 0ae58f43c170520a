//! Issue 12's remaining gaps (hostile findings 9, 10, 13 and the one-shot
//! approvals' reliance on the local journal), through the binary:
//! * an out-of-band Global Administrator (active, person or service
//!   account) is removed unattended while a declared path to Global
//!   Administrator stays (the example's break-glass account); without one
//!   the plan says why it keeps it;
//! * the ledger and trust root record the tenant id, and another tenant's
//!   are refused naming both ids;
//! * a ledger edit moving a protected object's id to another key is a
//!   governance change;
//! * saved plans expire (`not_after`, signed), and applied approved plans
//!   are recorded in the tenant's marker, so a runner without the journal
//!   cannot replay one;
//! * `memberOf` membership rules count as nesting for ring protection and
//!   service-account targeting.

mod common;

use common::*;
use serde_json::json;

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";

fn d(dir: &std::path::Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// An active Global Administrator assignment made out of band; its id.
async fn out_of_band_ga(sb: &sandbox::SandboxHandle, principal: &str) -> String {
    let body = json!({"principalId": principal, "roleDefinitionId": GA, "directoryScopeId": "/"});
    let made = graph(sb, reqwest::Method::POST, "/v1.0/roleManagement/directory/roleAssignments", Some(body)).await;
    made["id"].as_str().expect("an id").to_string()
}

async fn live_assignment_ids(sb: &sandbox::SandboxHandle) -> Vec<String> {
    let left = graph(sb, reqwest::Method::GET, "/v1.0/roleManagement/directory/roleAssignments", None).await;
    left["value"].as_array().expect("a list").iter().filter_map(|a| a["id"].as_str().map(str::to_string)).collect()
}

/// Finding 9: out-of-band active Global Administrators on a person and on
/// a service account are removed unattended, since the break-glass
/// account's declared Global Administrator stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_global_administrators_are_removed_while_break_glass_stays() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let adele = out_of_band_ga(&sb, &ledger_id(w, "user.adele")).await;
    let msadmin = out_of_band_ga(&sb, &ledger_id(w, "user.msadmin")).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(&format!("role_assignment.out-of-band-{adele}")), "{out}");
    assert!(out.contains(&format!("role_assignment.out-of-band-{msadmin}")), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    let left = live_assignment_ids(&sb).await;
    assert!(!left.contains(&adele) && !left.contains(&msadmin), "{out}\n{left:?}");
    // The declared path stays.
    assert!(left.contains(&ledger_id(w, "role_assignment.breakglass-1-ga")), "{left:?}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 9: with no declared path to Global Administrator, the
/// out-of-band one is kept and the plan says why, naming the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_declared_path_the_plan_says_why_it_keeps_the_global_administrator() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| {
        edit_file(d, "roles.toml", |t| t[..t.find("\n# Emergency access: the break-glass").expect("the break-glass GA")].to_string());
        edit_file(d, "tenant.toml", |t| t.replace("\"standing-privileged-access:role_assignment.breakglass-1-ga\"", "#"));
    })
    .await;
    let w = work.path();
    let adele = out_of_band_ga(&sb, &ledger_id(w, "user.adele")).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains(&format!("out-of-band-{adele}")), "{out}");
    assert!(out.contains(&format!("warning[global-admin-not-removed] id:{adele}: user.adele holds Global Administrator (active) outside desired state and is NOT removed")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 10: the ledger and the trust root name their tenant; planning
/// another tenant with them is refused, naming both ids. A ledger from
/// before gets the id at the next apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ledger_or_trust_root_is_refused() {
    let a = sandbox().await;
    let (work, dir) = converged(&a, |_| {}).await;
    let w = work.path();
    assert!(!std::fs::read_to_string(w.join("tenantctl.lock")).expect("a ledger").contains("tenant_id"), "written by the library, as by an older tenantctl");
    let (code, out) = run(&a, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = std::fs::read_to_string(w.join("tenantctl.lock")).expect("a ledger");
    assert!(ledger.contains(&format!("tenant_id = \"{}\"", a.tenant_id())), "adopted at the next apply:\n{ledger}");
    let trust = std::fs::read_to_string(w.join("tenantctl.trust.json")).expect("a trust root");
    assert!(trust.contains(&format!("\"tenant_id\": \"{}\"", a.tenant_id())), "{trust}");

    let other = "22222222-2222-4222-8222-222222222222";
    let b = sandbox::Sandbox::start(sandbox::SandboxConfig::in_memory().with_domain("contoso.onmicrosoft.com").with_tenant_id(other)).await.expect("sandbox B starts");
    let (code, out) = run(&b, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("the ledger {} belongs to tenant {}, but the target tenant is {other}", w.join("tenantctl.lock").display(), a.tenant_id())), "{out}");
    let (code, out) = run(&b, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("belongs to tenant"), "{out}");
    // Without the ledger's id, the trust root still names its tenant.
    std::fs::write(w.join("tenantctl.lock"), ledger.replace(&format!("tenant_id = \"{}\"\n", a.tenant_id()), "")).expect("the ledger is written");
    let (code, out) = run(&b, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("belongs to tenant {}, but the target tenant is {other}", a.tenant_id())) && out.contains("trust root"), "{out}");
    b.shutdown().await.expect("sandbox B stops");
    a.shutdown().await.expect("the sandbox stops");
}

/// Finding 13: renaming a ring group's ledger entry moves its object to
/// another key; the trust root knows the object by id, so the plan shows a
/// governance change for the approvers in force and apply refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_edit_moving_a_protected_id_is_a_governance_change() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "[group.plain]\ndisplay_name = \"Plain\"\nmail_nickname = \"plain\"\n")).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ring = ledger_id(w, "group.mwd-test");
    let trust = std::fs::read_to_string(w.join("tenantctl.trust.json")).expect("a trust root");
    assert!(trust.contains(&format!("\"{ring}\": \"group.mwd-test\"")), "the ring's id is recorded: {trust}");
    let mut ledger = ledger_of(w);
    let entry = ledger.resources.remove(&"group.mwd-test".parse().expect("an address")).expect("the ring's entry");
    ledger.resources.insert("group.plain".parse().expect("an address"), entry);
    std::fs::write(w.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    edit_file(&dir, "groups.toml", |t| t.replace("mail_nickname = \"plain\"\n", "mail_nickname = \"plain\"\nmembers = [\"megan\"]\n"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(&format!("protected_ids.{ring}")), "{out}");
    assert!(out.contains("\"group.mwd-test\" -> \"group.plain\""), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sensitive"), "{out}");
    let members = graph(&sb, reqwest::Method::GET, &format!("/v1.0/groups/{ring}/members"), None).await;
    assert_eq!(members["value"].as_array().map(Vec::len), Some(0), "nobody was added to the ring group: {members}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// One-shot approvals without the journal: the tenant's marker records an
/// applied approved plan, so a runner that lost the journal cannot apply
/// it again; saved plans expire (`not_after`, signed with the plan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_plans_expire_and_are_applied_once_from_any_runner() {
    let sb = sandbox().await;
    let Keyed { keys, work, .. } = keyed_example(&sb);
    let k = keys.path();
    let w = work.path();
    let dir = w.join("desired-state");
    common::gov9::declare_ga_pim(&dir);
    let d = d(&dir);
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let approved = |out: &str, extra: &[&str]| {
        let mut args = vec!["plan", d, "--out", out];
        let author = key("author");
        args.extend(["--author-key", author.as_str()]);
        args.extend(extra);
        let (code, o) = run(&sb, w, &args);
        assert_eq!(code, Some(0), "{o}");
        for who in ["alice", "bob"] {
            let (code, o) = run(&sb, w, &["approve", out, "--key", &key(who), "--dir", d]);
            assert_eq!(code, Some(0), "{o}");
        }
    };
    approved("first.json", &[]);
    let first: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.join("first.json")).expect("the plan")).expect("JSON");
    assert!(first["not_after"].as_str().is_some_and(|t| t.ends_with('Z')), "{first}");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");

    let grant = "\n[role_assignment.megan-ga]\nprincipal = \"megan\"\nrole = \"Global Administrator\"\nassignment = \"eligible\"\nexpires = 2027-01-31T00:00:00Z\njustification = \"one-off, CHG-9\"\n";
    append(&dir, "roles.toml", grant);
    approved("p1.json", &[]);
    // not_after is signed: moving it is refused as a tampered plan.
    let p1 = std::fs::read_to_string(w.join("p1.json")).expect("the plan");
    let mut moved: serde_json::Value = serde_json::from_str(&p1).expect("JSON");
    moved["not_after"] = json!("2099-01-01T00:00:00Z");
    std::fs::write(w.join("moved.json"), moved.to_string()).expect("written");
    let (code, o) = run(&sb, w, &["apply", "moved.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "{o}");
    let (code, o) = run(&sb, w, &["apply", "p1.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    let id = ledger_id(w, "role_assignment.megan-ga");
    let org = graph(&sb, reqwest::Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an org").to_string();
    let marker = graph(&sb, reqwest::Method::GET, &format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance"), None).await;
    assert!(marker["appliedPlans"].as_str().is_some_and(|s| !s.is_empty()), "{marker}");
    assert!(marker.to_string().len() < 2048, "the marker stays under Graph's 2 KB: {marker}");

    // A fresh runner: no journal. Revoked in the portal, the declaration
    // dropped and put back: the tenant is where p1 was made.
    std::fs::remove_file(w.join("tenantctl.journal.jsonl")).expect("the journal is removed");
    graph(&sb, reqwest::Method::DELETE, &format!("/_sandbox/objects/roleEligibilitySchedules/{id}"), None).await;
    edit_file(&dir, "roles.toml", |t| t.replace(grant, ""));
    let (code, o) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    append(&dir, "roles.toml", grant.trim_start_matches('\n'));
    let (code, o) = run(&sb, w, &["apply", "p1.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "the approvals were used again:\n{o}");
    assert!(o.contains("was already applied to this tenant (the tenant's governance marker"), "{o}");

    // Expiry: a plan valid for one second cannot be approved or applied later.
    approved("short.json", &["--valid-for", "1h"]);
    let (code, o) = run(&sb, w, &["plan", d, "--out", "soon.json", "--author-key", &key("author"), "--valid-for", "1s"]);
    assert_eq!(code, Some(0), "{o}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, o) = run(&sb, w, &["approve", "soon.json", "--key", &key("alice"), "--dir", d]);
    assert_eq!(code, Some(1), "{o}");
    assert!(o.contains("the plan expired at"), "{o}");
    let (code, o) = run(&sb, w, &["plan", d, "--out", "long.json", "--valid-for", "31d"]);
    assert_eq!(code, Some(1), "{o}");
    assert!(o.contains("at most 30 days"), "{o}");
    sb.shutdown().await.expect("the sandbox stops");
}

const FOLLOW_POLICY: &str = "[device_configuration.follow]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Follows a ring\"\nassignments = { include = [\"ring-follow\"] }\n[device_configuration.follow.settings]\npasswordMinimumLength = 12\n";

fn member_of_group(key: &str, subject: &str, id: &str) -> String {
    format!("[group.{key}]\ndisplay_name = \"{key}\"\nmail_nickname = \"{key}\"\nmembership_rule = \"{subject}.memberOf -any (group.objectId -in ['{id}'])\"\nmembership_rule_processing_state = \"On\"\n")
}

/// A `device.memberOf` rule naming a ring group nests it: a policy on that
/// group reaches ring devices and is protected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_rule_naming_a_ring_protects_the_policy() {
    let sb = sandbox().await;
    let placeholder = "00000000-0000-4000-8000-000000000000";
    let (work, dir) = converged(&sb, |d| {
        append(d, "groups.toml", &member_of_group("ring-follow", "device", placeholder));
        append(d, "policies.toml", FOLLOW_POLICY);
    })
    .await;
    let w = work.path();
    let ring = ledger_id(w, "group.mwd-test");
    edit_file(&dir, "groups.toml", |t| t.replace(placeholder, &ring));
    edit_file(&dir, "policies.toml", |t| t.replace("display_name = \"Follows a ring\"\nassignments = { include = [\"ring-follow\"] }\n[device_configuration.follow.settings]\npasswordMinimumLength = 12", "display_name = \"Follows a ring\"\nassignments = { include = [\"ring-follow\"] }\n[device_configuration.follow.settings]\npasswordMinimumLength = 4"));
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("sensitive: Managed Desktop: device_configuration.follow is assigned to group.ring-follow, which reaches ring devices (group.ring-follow nests group.mwd-test)"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A `user.memberOf` rule is nesting for service-account targeting: one
/// naming a group of people reaches no service account (it is no longer
/// "a rule over users that could match one"); one naming the
/// service-accounts group reaches them, named through the nesting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_rule_is_nesting_for_service_account_targeting() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let admins = ledger_id(w, "group.intune-admins");
    append(&dir, "groups.toml", &member_of_group("ring-follow", "user", &admins));
    append(&dir, "policies.toml", FOLLOW_POLICY);
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("service-account-targeted"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    let accounts = ledger_id(w, "group.service-accounts");
    edit_file(&dir, "groups.toml", |t| t.replace(&admins, &accounts));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] device_configuration.follow: reaches service account user.msadmin through group.ring-follow > group.service-accounts (its user.memberOf rule)"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
