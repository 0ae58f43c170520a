//! Issue 12, through the binary: service accounts hold only the roles they
//! declare, the SOC's read-only account only read-only roles, nobody a
//! privileged role permanently, and out-of-band Global Administrator is an
//! error whose removal runs unattended ("Service accounts can be
//! targeted", "Standing access is a warning").

mod common;


use common::*;

fn with_roles(extra: &str) -> tempfile::TempDir {
    let work = scratch_with(|t| t);
    let p = work.path().join("desired-state/roles.toml");
    let mut t = std::fs::read_to_string(&p).unwrap();
    t.push_str(extra);
    std::fs::write(&p, t).unwrap();
    work
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_lints_refuse_each_way_around() {
    let sb = sandbox().await;
    // A service account holding Global Administrator permanently.
    let w = with_roles("\n[role_assignment.svc-ga]\nprincipal = \"msadmin\"\nrole = \"Global Administrator\"\nassignment = \"active\"\n");
    let (code, out) = validate(&sb, w.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-role] role_assignment.svc-ga: user.msadmin may hold only the roles it declares in allowed_roles (none); Global Administrator is not one"), "{out}");
    assert!(out.contains("error[standing-privileged-access] role_assignment.svc-ga: user.msadmin holds Global Administrator permanently"), "{out}");

    // The SOC read-only account holding a role that writes.
    let w = with_roles("\n[role_assignment.soc-secadmin]\nprincipal = \"mwaas-soc-ro\"\nrole = \"Security Administrator\"\nassignment = \"eligible\"\nexpires = 2027-01-01T00:00:00Z\n");
    let (code, out) = validate(&sb, w.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-role] role_assignment.soc-secadmin: user.mwaas-soc-ro is read-only and may hold only read-only roles"), "{out}");
    // ... and declaring the write role as allowed is refused where it is written.
    let work = scratch_with(|t| t);
    let accounts = work.path().join("desired-state/accounts.toml");
    let t = std::fs::read_to_string(&accounts).unwrap();
    std::fs::write(&accounts, t.replace("allowed_roles = [\"Security Reader\", \"Global Reader\"]", "allowed_roles = [\"Security Reader\", \"Security Administrator\"]")).unwrap();
    let (code, out) = validate(&sb, work.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("read-only-role") && out.contains("accounts.toml:30:37"), "{out}");
    // A read-only role it declares is fine.
    let w = with_roles("\n[role_assignment.soc-reader]\nprincipal = \"mwaas-soc-ro\"\nrole = \"Security Reader\"\nassignment = \"active\"\n");
    let (code, out) = validate(&sb, w.path());
    assert_eq!(code, Some(0), "{out}");

    // A group (and a person) holding a privileged role permanently: an error, not a warning.
    let w = with_roles("\n[role_assignment.admins-ga]\nprincipal = \"intune-admins\"\nrole = \"Intune Administrator\"\nassignment = \"active\"\n");
    let (code, out) = validate(&sb, w.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[standing-privileged-access] role_assignment.admins-ga: group.intune-admins holds Intune Administrator permanently"), "{out}");
    // Excepted with a reason, it passes.
    let p = w.path().join("desired-state/tenant.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, t.replace("[governance.exceptions]\n", "[governance.exceptions]\n\"standing-privileged-access:role_assignment.admins-ga\" = \"on-call rota, reviewed monthly\"\n")).unwrap();
    let (code, out) = validate(&sb, w.path());
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.unwrap();
}

/// Privileged Role Administrator, not Global Administrator: the example
/// declares no Global Administrator, and the plan never removes the last
/// active one (engine governance tests cover that guard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_privileged_role_is_removed_unattended() {
    let sb = sandbox().await;
    let (work, dir) = converged_plain(&sb, |_| {}).await;
    let w = work.path();
    let client = client(&sb);
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).unwrap()).unwrap();
    let adele = ledger.id(&"user.adele".parse().unwrap()).unwrap().to_string();
    let r = client
        .v1()
        .post_json("/roleManagement/directory/roleAssignments", serde_json::json!({"principalId": adele, "roleDefinitionId": "e8611ab8-c189-46e8-94e1-60213ab1f814", "directoryScopeId": "/"}))
        .await
        .unwrap();
    assert!(r.status < 300, "{r:?}");
    let ga = r.body.as_ref().unwrap()["id"].as_str().unwrap().to_string();
    // The plan removes it; the lint names it and does not block its remedy.
    let o = cli(&sb, w, &["plan", dir.to_str().unwrap()]);
    let shown = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{shown}{}", text(&o.stderr));
    assert!(shown.contains(&format!("role_assignment.out-of-band-{ga}")), "{shown}");
    assert!(shown.contains("unmanaged-privileged-holder") && shown.contains("user.adele holds Privileged Role Administrator"), "{shown}");
    // Reconcile removes it unattended, journalled and reported.
    let o = cli(&sb, w, &["reconcile", dir.to_str().unwrap(), "--once", "--self-heal", "--now", "2026-12-01T00:00:00Z"]);
    let log = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(log.contains(&format!("self-heal: delete role_assignment.out-of-band-{ga}")), "{log}");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    assert!(journal.contains(&format!("out-of-band-{ga}")), "{journal}");
    let roles = client.v1().list_all("/roleManagement/directory/roleAssignments").await.unwrap();
    assert!(roles.iter().all(|r| r["id"] != ga.as_str()), "{roles:#?}");
    sb.shutdown().await.unwrap();
}
