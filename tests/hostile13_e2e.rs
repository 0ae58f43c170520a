//! Findings of the fourth hostile run against issue 12 that the lead fixed
//! (the others are in tests/gov4_e2e.rs and tests/gov3_e2e.rs), each
//! through the binary.

mod common;

use common::*;

const PAUSED: &str = r#"
[group.sa-paused]
display_name = "SA paused"
mail_nickname = "sa-paused"
membership_rule = '(user.userPrincipalName -startsWith "MSADMIN@") or (user.userPrincipalName -startsWith "MSADMININT@") or (user.userPrincipalName -startsWith "MWAAS_SOC_RO@") or (user.userPrincipalName -startsWith "MWAAS_WDGSOC@") or (user.userPrincipalName -startsWith "MSTEST@")'
membership_rule_processing_state = "PROCESSING"

[device_configuration.everyone-restrictions]
odata_type = "windows10GeneralConfiguration"
display_name = "Everyone restrictions"

[device_configuration.everyone-restrictions.settings]
cameraBlocked = true

[device_configuration.everyone-restrictions.assignments]
all_users = true
exclude = ["sa-paused"]
"#;

/// Finding 7: a group whose rule names every service account but whose
/// processing is paused adds no one, so excluding it proves nothing; the
/// same group with its rule on does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_rule_does_not_prove_service_accounts_excluded() {
    let sb = sandbox().await;
    let paused = scratch_with(|t| t);
    append(&paused.path().join("desired-state"), "policies.toml", &PAUSED.replace("PROCESSING", "Paused"));
    let (code, out) = validate(&sb, paused.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("service-account-targeted") && out.contains("device_configuration.everyone-restrictions"), "{out}");

    let on = scratch_with(|t| t);
    append(&on.path().join("desired-state"), "policies.toml", &PAUSED.replace("PROCESSING", "On"));
    let (code, out) = validate(&sb, on.path());
    assert!(!out.contains("service-account-targeted"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 11: `reconcile --self-heal` healed drift in a pass that could
/// not read part of the tenant, where apply refuses the whole plan. Now it
/// holds every change of such a pass, naming why, and heals once the
/// tenant reads whole again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_heal_changes_nothing_in_a_pass_that_could_not_read_everything() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |d| append(d, "groups.toml", "[group.plain]\ndisplay_name = \"Plain\"\nmail_nickname = \"plain\"\ndescription = \"one\"\n")).await;
    edit_file(&dir, "groups.toml", |t| t.replace("description = \"one\"", "description = \"two\""));
    let granted: Vec<String> = graph_metadata::metadata().documented_permissions().iter().filter(|p| !p.starts_with("DeviceManagementServiceConfig.")).cloned().collect();
    sb.set_permissions(granted).expect("permissions set");
    let d = dir.to_str().expect("a UTF-8 path");
    let (code, out) = run(&sb, work.path(), &["reconcile", d, "--once", "--self-heal"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(!out.contains("applied: update group.plain"), "healed in an incomplete pass:\n{out}");
    assert!(out.contains("could not be read this pass"), "{out}");
    let id = ledger_id(work.path(), "group.plain");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/groups/{id}"), None).await;
    assert_eq!(live["description"], "one", "{live}");

    sb.set_permissions(graph_metadata::metadata().documented_permissions().to_vec()).expect("permissions restored");
    let (code, out) = run(&sb, work.path(), &["reconcile", d, "--once", "--self-heal"]);
    assert!(out.contains("update group.plain"), "{code:?} {out}");
    let live = graph(&sb, reqwest::Method::GET, &format!("/v1.0/groups/{id}"), None).await;
    assert_eq!(live["description"], "two", "{out}\n{live}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 6: an approved plan was applied a second time after the access
/// it granted was revoked in the portal and its declaration dropped and
/// restored (the tenant and desired state were back to what the plan was
/// made against). Approvals are one-shot now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_plan_is_applied_once() {
    let sb = sandbox().await;
    let Keyed { keys, work, .. } = keyed_example(&sb);
    let k = keys.path();
    let w = work.path();
    let dir = w.join("desired-state");
    common::gov9::declare_ga_pim(&dir);
    let d = dir.to_str().expect("a UTF-8 path");
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let approved = |out: &str| {
        let (code, o) = run(&sb, w, &["plan", d, "--out", out, "--author-key", &key("author")]);
        assert_eq!(code, Some(0), "{o}");
        for who in ["alice", "bob"] {
            let (code, o) = run(&sb, w, &["approve", out, "--key", &key(who), "--dir", d]);
            assert_eq!(code, Some(0), "{o}");
        }
    };
    approved("first.json");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");

    let grant = "\n[role_assignment.megan-ga]\nprincipal = \"megan\"\nrole = \"Global Administrator\"\nassignment = \"eligible\"\nexpires = 2027-01-31T00:00:00Z\njustification = \"one-off, CHG-9\"\n";
    append(&dir, "roles.toml", grant);
    approved("p1.json");
    // Finding 14: the names in a plan file are not signed; what apply shows
    // comes from the keys.
    let p1 = w.join("p1.json");
    let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p1).expect("the plan reads")).expect("the plan parses");
    for a in file["approvals"].as_array_mut().expect("approvals") {
        a["approver"] = "Eve (security officer)".into();
    }
    std::fs::write(&p1, serde_json::to_string_pretty(&file).expect("JSON")).expect("the plan is written");
    let (code, o) = run(&sb, w, &["apply", "p1.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    assert!(!o.contains("Eve"), "an unsigned name is shown:\n{o}");
    assert!(o.contains("approval 1: alice") && o.contains("approval 2: bob"), "{o}");
    let id = ledger_id(w, "role_assignment.megan-ga");

    // Revoked in the portal; the declaration dropped (forgotten) and put back.
    graph(&sb, reqwest::Method::DELETE, &format!("/_sandbox/objects/roleEligibilitySchedules/{id}"), None).await;
    edit_file(&dir, "roles.toml", |t| t.replace(grant, ""));
    let (code, o) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    append(&dir, "roles.toml", grant.trim_start_matches('\n'));
    let (code, o) = run(&sb, w, &["apply", "p1.json", "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "the approvals were used again:\n{o}");
    assert!(o.contains("already applied") && o.contains("approvals are for one application"), "{o}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 12: an out-of-band role beyond a service account's
/// `allowed_roles` (Security Reader on MSADMIN) was an error the plan
/// never removed, so every apply failed until a person went to the
/// portal. The plan removes it (it only removes access), and the unrelated
/// change in the same plan goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_beyond_a_service_accounts_allowed_roles_is_removed() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let msadmin = ledger_id(work.path(), "user.msadmin");
    let body = serde_json::json!({"principalId": msadmin, "roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509", "directoryScopeId": "/"});
    let made = graph(&sb, reqwest::Method::POST, "/v1.0/roleManagement/directory/roleAssignments", Some(body)).await;
    let rid = made["id"].as_str().expect("an id").to_string();
    append(&dir, "groups.toml", "[group.plain]\ndisplay_name = \"Plain\"\nmail_nickname = \"plain\"\n");
    let d = dir.to_str().expect("a UTF-8 path");
    let (code, out) = run(&sb, work.path(), &["plan", d]);
    assert!(out.contains(&format!("out-of-band-{rid}")) && out.contains("Security Reader"), "{code:?} {out}");
    let (code, out) = run(&sb, work.path(), &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let left = graph(&sb, reqwest::Method::GET, "/v1.0/roleManagement/directory/roleAssignments", None).await;
    assert!(!left["value"].as_array().expect("a list").iter().any(|a| a["id"] == rid.as_str()), "{left}");
    let _ = ledger_id(work.path(), "group.plain");
    sb.shutdown().await.expect("the sandbox stops");
}
