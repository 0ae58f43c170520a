//! Access the ledger owns is ended when desired state stops declaring it,
//! whatever `governance.prune.kinds` says, and without approvals (removing
//! access is never held): a role assignment's declaration removed deletes
//! it; a guest whose recorded access end has passed is disabled even when
//! its declaration was removed (hostile run 14, findings 12 and 22).

mod common;

use common::gov::{converged, edit_file, graph, ledger_of, run};
use common::sandbox;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_role_assignment_is_removed_without_approval() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let id = ledger_of(w).id(&"role_assignment.megan-user-admin".parse().expect("an address")).expect("applied").to_string();
    edit_file(&dir, "roles.toml", |t| {
        let start = t.find("[role_assignment.megan-user-admin]").expect("the example declares megan's User Administrator");
        let end = t[start + 1..].find("\n[").map(|e| start + 1 + e).unwrap_or(t.len());
        format!("{}{}", &t[..start], &t[end..])
    });
    let d = dir.to_str().expect("a UTF-8 path");
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("role_assignment.megan-user-admin") && out.contains("the access it grants is removed"), "{out}");
    assert!(!out.contains("pruning is off for role_assignment"), "not kept: {out}");

    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "removing access needs no approval: {out}");
    assert!(ledger_of(w).id(&"role_assignment.megan-user-admin".parse().expect("an address")).is_none());
    let live = graph(&sb, reqwest::Method::GET, "/v1.0/roleManagement/directory/roleAssignments", None).await;
    assert!(!live["value"].as_array().expect("a list").iter().any(|a| a["id"] == id.as_str()), "deleted in the tenant: {live}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "converged: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_guest_past_its_recorded_expiry_is_disabled() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let id = ledger_of(w).id(&"guest.fabrikam-auditor".parse().expect("an address")).expect("applied").to_string();
    // Time passes: the access end the ledger recorded is behind us.
    edit_file(w, "tenantctl.lock", |t| t.replace("2027-03-31T17:00:00Z", "2026-01-01T00:00:00Z"));
    std::fs::remove_file(dir.join("guests.toml")).expect("the declaration is removed");
    // The guest's access package assignment names it, so it goes too (and
    // is ended unattended as well).
    std::fs::remove_file(dir.join("access-package-assignments.toml")).expect("the assignment is removed");
    let d = dir.to_str().expect("a UTF-8 path");
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("guest.fabrikam-auditor") && out.contains("its access expired at 2026-01-01T00:00:00Z"), "{out}");

    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "ending access needs no approval: {out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await;
    assert_eq!(live["accountEnabled"], serde_json::json!(false), "{live}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "ended: {out}");
}


/// A contractor's account, added to the example's accounts.
const TEMP: &str = "\n[user.temp]\nuser_principal_name = \"temp.contractor@contoso.onmicrosoft.com\"\ndisplay_name = \"Temp Contractor\"\nmail_nickname = \"temp.contractor\"\nusage_location = \"US\"\n";

/// The example with [`TEMP`] declared, converged.
async fn converged_with_temp(sb: &sandbox::SandboxHandle) -> (tempfile::TempDir, std::path::PathBuf) {
    converged(sb, |d| {
        let p = d.join("accounts.toml");
        let t = std::fs::read_to_string(&p).expect("the example's accounts");
        std::fs::write(&p, format!("{t}{TEMP}")).expect("written");
    })
    .await
}

/// An account tenantctl created whose declaration is removed (a reverted
/// pull request), with pruning off for users (the default): the account is
/// kept, but its sign-in is blocked, unattended (hostile run 17, finding
/// 14: the account used to stay enabled). A service account is kept as it
/// is: a service may depend on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_account_pruning_keeps_is_disabled_but_a_service_account_is_not() {
    let sb = sandbox().await;
    let (work, dir) = converged_with_temp(&sb).await;
    let w = work.path();
    let d = dir.to_str().expect("a UTF-8 path");
    // The CLI's apply records which users it applied as service accounts.
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(ledger_of(w).resources[&"user.mstest".parse().expect("an address")].service, "MSTEST recorded as a service account");
    let temp = ledger_of(w).id(&"user.temp".parse().expect("an address")).expect("applied").to_string();
    let svc = ledger_of(w).id(&"user.mstest".parse().expect("an address")).expect("applied").to_string();
    edit_file(&dir, "accounts.toml", |t| t.replace(TEMP, "\n"));
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("user.temp") && out.contains("the account is kept with its sign-in blocked"), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d]);
    assert_eq!(code, Some(0), "blocking sign-in needs no approval: {out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/users/{temp}?$select=accountEnabled"), None).await;
    assert_eq!(live["accountEnabled"], serde_json::json!(false), "{live}");
    let (code, out) = run(&sb, w, &["plan", "--detailed-exitcode", d]);
    assert_eq!(code, Some(0), "kept, disabled, nothing more to do: {out}");
    assert!(out.contains("user.temp") && out.contains("its sign-in is blocked"), "still reported as kept: {out}");

    // A service account's declaration removed: kept as it is.
    edit_file(&dir, "accounts.toml", |t| {
        let start = t.find("[user.mstest]").expect("the example declares MSTEST");
        let end = t[start + 1..].find("\n[").map(|e| start + 1 + e).unwrap_or(t.len());
        format!("{}{}", &t[..start], &t[end..])
    });
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(!out.contains("sign-in blocked (an account nobody declares"), "a service account is not disabled: {out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/users/{svc}?$select=accountEnabled"), None).await;
    assert_eq!(live["accountEnabled"], serde_json::json!(true), "{live}");
}

/// A pull request that only renames an account's key (the same UPN under
/// another address) moves the account, it does not drop it: its sign-in is
/// not blocked (hostile run 22, finding 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_key_is_renamed_keeps_its_sign_in() {
    let sb = sandbox().await;
    let (work, dir) = converged_with_temp(&sb).await;
    let w = work.path();
    let d = dir.to_str().expect("a UTF-8 path");
    let temp = ledger_of(w).id(&"user.temp".parse().expect("an address")).expect("applied").to_string();
    edit_file(&dir, "accounts.toml", |t| t.replace("[user.temp]", "[user.contractor]"));
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(!out.contains("sign-in blocked"), "a renamed key is not a dropped account: {out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d]);
    assert_eq!(code, Some(0), "{out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/users/{temp}?$select=accountEnabled"), None).await;
    assert_eq!(live["accountEnabled"], serde_json::json!(true), "{live}");
    assert_eq!(ledger_of(w).id(&"user.contractor".parse().expect("an address")), Some(temp.as_str()), "the new address owns the account");
}
