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
