//! Issue 16, the Entra kinds' remaining gaps (access10), through the
//! binary against the sandbox:
//!
//! * PIM rules are written with one PATCH of the policy carrying its
//!   rules: the per-rule update is delegated-only in v1.0, and the sandbox
//!   (application tokens only) refuses it (audit U1);
//! * an access package's incompatible packages and groups are declared by
//!   key, validated, planned, applied, diffed and exported; the sandbox
//!   refuses unknown ids and a package incompatible with itself; taking an
//!   incompatibility away is a sensitive loosening;
//! * requestor questions carry their translations (`localizations`, of the
//!   question and of each choice): validated, applied, diffed, exported;
//! * an authentication methods update reuses the plan's read of each
//!   method (carried on the change) instead of reading it again;
//! * PIM role settings need Entra ID P2: on a P1 tenant the declared
//!   `role_policy` is refused naming the licence and the rest applies.

mod common;

use std::path::Path;

use common::gov::{edit_file, graph, ledger_of, run};
use common::kind::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

async fn pim_policy_id(sb: &sandbox::SandboxHandle, role: &str) -> String {
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let v = graph(sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicyAssignments?{filter}"), None).await;
    v["value"].as_array().into_iter().flatten().find(|a| a["roleDefinitionId"] == json!(role)).and_then(|a| a["policyId"].as_str()).expect("the role's policy").to_string()
}

fn rule<'a>(policy: &'a Value, id: &str) -> &'a Value {
    policy["rules"].as_array().into_iter().flatten().find(|r| r["id"] == json!(id)).expect("the rule")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_rules_are_written_through_the_policy_with_an_application_token() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    sb.reset_counts();
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let counts = sb.request_counts();
    // One PATCH of the policy for the example's one role_policy (alone or
    // in a `$batch`), none per rule.
    let patch = "PATCH /v1.0/policies/roleManagementPolicies/{id}";
    assert_eq!(counts.get(patch) + counts.batch_items.get(patch).copied().unwrap_or(0), 1, "{counts:#?}");
    assert!(!counts.requests.keys().chain(counts.batch_items.keys()).any(|k| k.contains("roleManagementPolicies/{id}/rules")), "{counts:#?}");
    let pid = pim_policy_id(&sb, INTUNE_ADMIN).await;
    let live = graph(&sb, Method::GET, &format!("/v1.0/policies/roleManagementPolicies/{pid}?$expand=rules"), None).await;
    assert_eq!(rule(&live, "Expiration_EndUser_Assignment")["maximumDuration"], json!("PT4H"));
    assert_eq!(rule(&live, "Approval_EndUser_Assignment")["setting"]["isApprovalRequired"], json!(true));
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The per-rule update answers 403 to the application token the sandbox issues.
    let r = reqwest::Client::new()
        .patch(format!("{}/v1.0/policies/roleManagementPolicies/{pid}/rules/Expiration_EndUser_Assignment", sb.base_url()))
        .bearer_auth(sb.access_token())
        .json(&json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true, "maximumDuration": "PT2H"}))
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(r.status().as_u16(), 403);
    // The policy update refuses what it cannot change and rules the policy lacks.
    for body in [json!({"displayName": "x"}), json!({"rules": [{"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "id": "Expiration_Nobody"}]})] {
        let r = reqwest::Client::new().patch(format!("{}/v1.0/policies/roleManagementPolicies/{pid}", sb.base_url())).bearer_auth(sb.access_token()).json(&body).send().await.expect("the sandbox answers");
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }
    sb.shutdown().await.expect("the sandbox stops");
}

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

const SOD: &str = r#"
[group.access10-blocked]
display_name = "access10 blocked"
mail_nickname = "access10-blocked"

[access_package.contractor-desk]
display_name = "Contractor desk"
catalog = "guest-access"
groups = []
incompatible_packages = ["fabrikam-audit"]
incompatible_groups = ["access10-blocked"]
"#;

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["value"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str()).map(str::to_string).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_packages_and_groups_round_trip_and_removing_one_is_sensitive() {
    // Validation: unknown keys, duplicates, itself, located; naming each
    // other is allowed (access12_e2e applies it).
    let (_bad, bad) = kind_scratch(&[], "access10", "sod.toml", &SOD.replace(
        "incompatible_groups = [\"access10-blocked\"]",
        "incompatible_groups = [\"access10-blocked\", \"access10-blocked\"]\n\n[access_package.other-desk]\ndisplay_name = \"Other desk\"\ncatalog = \"guest-access\"\nincompatible_packages = [\"other-desk\", \"nowhere\", \"third-desk\"]\n\n[access_package.third-desk]\ndisplay_name = \"Third desk\"\ncatalog = \"guest-access\"\nincompatible_packages = [\"other-desk\"]",
    ));
    let diags = load_errors(&bad);
    assert_error_at(&diags, "sod.toml", "duplicate", 11);
    assert_error_at(&diags, "sod.toml", "incompatible-with-itself", 16);
    assert!(diags.errors().any(|e| e.message.contains("nowhere")), "{diags}");
    assert!(!diags.errors().any(|e| e.code == "incompatible-both-ways"), "{diags}");
    assert!(!diags.errors().any(|e| e.message.contains("fabrikam-audit")), "one direction is fine: {diags}");

    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access10", "sod.toml", SOD);
    let root = work.path();
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let ledger = ledger_of(root);
    let (desk, audit, blocked) = (id_of(&ledger, "access_package.contractor-desk"), id_of(&ledger, "access_package.fabrikam-audit"), id_of(&ledger, "group.access10-blocked"));
    let live = |nav: &'static str| {
        let (sb, desk) = (&sb, desk.clone());
        async move { ids(&graph(sb, Method::GET, &format!("{EM}/accessPackages/{desk}/{nav}"), None).await) }
    };
    assert_eq!(live("incompatibleAccessPackages").await, vec![audit.clone()]);
    assert_eq!(live("incompatibleGroups").await, vec![blocked.clone()]);
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    // The sandbox is strict: unknown ids and the package itself.
    let post = |nav: &str, target: String| {
        let url = format!("{}{EM}/accessPackages/{desk}/{nav}/$ref", sb.base_url());
        let token = sb.access_token();
        async move { reqwest::Client::new().post(url).bearer_auth(token).json(&json!({"@odata.id": target})).send().await.expect("the sandbox answers").status().as_u16() }
    };
    let unknown = "00000000-0000-0000-0000-0000000000aa";
    assert_eq!(post("incompatibleAccessPackages", format!("https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{unknown}")).await, 404);
    assert_eq!(post("incompatibleGroups", format!("https://graph.microsoft.com/v1.0/groups/{unknown}")).await, 404);
    assert_eq!(post("incompatibleAccessPackages", format!("https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{desk}")).await, 400);

    // Taken away in the portal: drift, and putting it back only tightens.
    graph(&sb, Method::DELETE, &format!("{EM}/accessPackages/{desk}/incompatibleGroups/{blocked}/$ref"), None).await;
    let (code, out) = run(&sb, root, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("access_package.contractor-desk") && out.contains("incompatibleGroups"), "{out}");
    assert!(!out.contains("loosens separation of duties"), "{out}");
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(live("incompatibleGroups").await, vec![blocked.clone()]);

    // Export writes them by key, and the export re-plans empty.
    let c = client(&sb);
    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let desk_toml = e.access_package.values().find(|p| p.value.display_name == "Contractor desk").expect("exported");
    let audit_key = e.access_package.iter().find(|(_, p)| p.value.display_name == "Fabrikam audit").map(|(k, _)| k.to_string()).expect("exported");
    assert_eq!(desk_toml.value.incompatible_packages, Some(vec![audit_key]));
    assert_eq!(desk_toml.value.incompatible_groups.as_ref().map(Vec::len), Some(1));
    assert_export_replans_empty(&c, &tmp, &exported).await;

    // Desired state drops one of each: a sensitive loosening, applied.
    edit_file(&dir, "sod.toml", |t| t.replace("incompatible_packages = [\"fabrikam-audit\"]", "incompatible_packages = []").replace("incompatible_groups = [\"access10-blocked\"]", "incompatible_groups = []"));
    let (code, out) = run(&sb, root, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("sensitive: loosens separation of duties on access_package.contractor-desk"), "{out}");
    let (code, out) = run(&sb, root, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(live("incompatibleAccessPackages").await.is_empty());
    assert!(live("incompatibleGroups").await.is_empty());
    let (code, out) = run(&sb, root, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const REQUESTOR: &str = "requestor_settings = { enable_targets_to_self_add_access = true, enable_targets_to_self_remove_access = true }\n";
const LOCALIZED: &str = r#"questions = [
  { text = "Which audit engagement?", is_required = true, localizations = [{ language_code = "fr-fr", text = "Quel audit ?" }, { language_code = "de", text = "Welche Prüfung?" }], choices = [{ value = "fy26", text = "FY2026 audit", localizations = [{ language_code = "fr-fr", text = "Audit 2026" }] }] },
]
"#;

/// The live policy of `package`, its questions expanded.
async fn policy_of(sb: &sandbox::SandboxHandle, package: &str) -> Value {
    let all = graph(sb, Method::GET, &format!("{EM}/assignmentPolicies?$expand=accessPackage,questions"), None).await;
    all["value"].as_array().into_iter().flatten().find(|p| p["accessPackage"]["id"] == json!(package)).cloned().expect("the policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_translations_are_validated_applied_diffed_and_exported() {
    let sb = sandbox().await;
    let (work, dir) = kind_scratch(&[], "access10", "extra.toml", "[group.access10-extra]\ndisplay_name = \"access10 extra\"\nmail_nickname = \"access10-extra\"\n");
    edit_file(&dir, "access-packages.toml", |t| t.replacen(REQUESTOR, &format!("{REQUESTOR}{LOCALIZED}"), 1));
    let (root, dd) = (work.path(), d(&dir));

    // Validation: a code of the wrong form, a language twice, an empty text.
    for (from, to, said) in [
        ("language_code = \"de\"", "language_code = \"german\"", "`german` is not a language code"),
        ("language_code = \"de\"", "language_code = \"FR-fr\"", "language `FR-fr` is given twice"),
        ("text = \"Audit 2026\"", "text = \" \"", "question 1 choice 1: the `fr-fr` text is empty"),
    ] {
        edit_file(&dir, "access-packages.toml", |t| t.replace(from, to));
        let (code, out) = run(&sb, root, &["validate", dd]);
        assert_ne!(code, Some(0), "{to}: {out}");
        assert!(out.contains(said) && out.contains("access-packages.toml:"), "{to}: {out}");
        edit_file(&dir, "access-packages.toml", |t| t.replace(to, from));
    }

    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let package = id_of(&ledger_of(root), "access_package.fabrikam-audit");
    let q = policy_of(&sb, &package).await["questions"][0].clone();
    let mut codes: Vec<String> = q["localizations"].as_array().into_iter().flatten().map(|l| l["languageCode"].as_str().unwrap_or_default().to_string()).collect();
    codes.sort();
    assert_eq!(codes, ["de", "fr-fr"], "{q:#}");
    assert_eq!(q["choices"][0]["localizations"], json!([{"languageCode": "fr-fr", "text": "Audit 2026"}]), "{q:#}");
    let (code, out) = run(&sb, root, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // A translation changed: an update of the question, applied.
    edit_file(&dir, "access-packages.toml", |t| t.replace("Audit 2026", "Audit de 2026"));
    let (code, out) = run(&sb, root, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("questions") && out.contains("Audit de 2026"), "{out}");
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(policy_of(&sb, &package).await["questions"][0]["choices"][0]["localizations"][0]["text"], json!("Audit de 2026"));
    let (code, out) = run(&sb, root, &["plan", "--detailed-exitcode", dd]);
    assert_eq!(code, Some(0), "converged: {out}");

    // Exported with their translations, and the export plans empty.
    let (tmp, out) = export_tenant(&sb);
    let exported = std::fs::read_to_string(out.join("access-packages.toml")).expect("the packages are exported");
    assert!(exported.contains("language_code = \"de\"") && exported.contains("Audit de 2026"), "{exported}");
    assert_export_replans_empty(&client(&sb), &tmp, &out).await;
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_method_updates_reuse_the_plans_read() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    // A live feature target desired state does not declare, which the
    // update must keep.
    let fido = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/microsoftAuthenticator";
    let live = graph(&sb, Method::GET, fido, None).await;
    let kept = live["featureSettings"]["displayAppInformationRequiredState"].clone();
    assert!(kept.is_object(), "{live:#}");

    edit_file(&dir, "authentication-methods.toml", |t| t.replacen("is_usable_once = true", "is_usable_once = false", 1).replacen("authentication_mode = \"any\"", "authentication_mode = \"push\"", 1));
    sb.reset_counts();
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let counts = sb.request_counts();
    let method = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/";
    let n = |verb: &str| counts.requests.iter().chain(counts.batch_items.iter()).filter(|(k, _)| k.starts_with(&format!("{verb} {method}"))).map(|(_, v)| v).sum::<u64>();
    assert_eq!(n("PATCH"), 2, "{counts:#?}");
    assert_eq!(n("GET"), 0, "no method is read again: {counts:#?}");
    let after = graph(&sb, Method::GET, fido, None).await;
    assert_eq!(after["featureSettings"]["displayAppInformationRequiredState"], kept, "{after:#}");
    let (code, out) = run(&sb, work.path(), &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_settings_are_a_p2_feature() {
    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::in_memory().with_domain("contoso.onmicrosoft.com").with_licences(sandbox::Licences::P1)).await.expect("sandbox starts");
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let e = client(&sb).v1().list_all(&format!("/policies/roleManagementPolicyAssignments?{filter}")).await.expect_err("PIM role settings need P2");
    assert_eq!(e.code(), Some("AadPremiumLicenseRequired"), "{e}");

    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let (_, out) = run(&sb, work.path(), &["plan", d(&dir)]);
    assert!(out.contains("needs-licence") && out.contains("role_policy.intune-administrator") && out.contains("PIM role settings need Microsoft Entra ID P2"), "{out}");
    assert_eq!(out.matches("PIM role settings are unavailable").count(), 1, "said once: {out}");
    let (_, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert!(out.contains("group.intune-admins") && !out.contains("update role_policy.intune-administrator"), "the rest applies, not the role settings: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}
