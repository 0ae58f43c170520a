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
