//! Conditional access fields of Graph v1.0 desired state does not model
//! (workload identities in `conditions.clientApplications`, authentication
//! flows, the secure sign-in session ...) are never silently wiped: export
//! leaves such a policy out with a warning, and a declared policy matching
//! one is refused at plan time, naming the fields. Named locations, which
//! are modelled now, are exported (tests/ca_full_e2e.rs).

mod common;

use common::*;
use serde_json::json;

fn policy(name: &str, workloads: bool) -> serde_json::Value {
    let mut p = json!({
        "displayName": name,
        "state": "enabled",
        "conditions": {
            "clientAppTypes": ["all"],
            "users": { "includeUsers": ["All"] },
            "applications": { "includeApplications": ["All"] },
        },
        "grantControls": { "operator": "OR", "builtInControls": ["mfa"] },
    });
    if workloads {
        p["conditions"]["clientApplications"] = json!({ "includeServicePrincipals": ["ServicePrincipalsInMyTenant"], "excludeServicePrincipals": [] });
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_leaves_out_a_policy_with_a_workload_identity_condition() {
    let sb = sandbox().await;
    let c = client(&sb);
    let with = c.v1().post_json("/identity/conditionalAccess/policies", policy("Trusted locations only", true)).await.unwrap();
    let with_id = with.body.unwrap()["id"].as_str().unwrap().to_string();
    c.v1().post_json("/identity/conditionalAccess/policies", policy("Plain MFA", false)).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    let all = format!("{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{all}");
    assert!(all.contains("Trusted locations only") && all.contains("conditions.clientApplications") && all.contains("not exported"), "{all}");
    let ca = std::fs::read_to_string(out.join("conditional-access.toml")).unwrap();
    assert!(ca.contains("Plain MFA"), "{ca}");
    assert!(!ca.contains("Trusted locations only"), "{ca}");
    let ledger = std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap();
    assert!(!ledger.contains(&with_id), "the skipped policy is not adopted:\n{ledger}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_refuses_to_update_a_policy_whose_workload_identities_it_would_clear() {
    let sb = sandbox().await;
    let c = client(&sb);
    // The example declares "Require MFA for all users"; the live one also
    // targets workload identities.
    c.v1().post_json("/identity/conditionalAccess/policies", policy("Require MFA for all users", true)).await.unwrap();
    let dir = scratch_without_approvals();
    let desired = dir.path().join("desired-state");
    let o = cli(&sb, dir.path(), &["plan", desired.to_str().unwrap()]);
    let all = format!("{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("conditional_access.require-mfa") || all.contains("Require MFA for all users"), "{all}");
    assert!(all.contains("conditions.clientApplications"), "{all}");
    // Nothing was written: the live policy keeps its condition.
    let live = c.v1().list_all("/identity/conditionalAccess/policies").await.unwrap();
    assert!(live.iter().all(|p| !p["conditions"]["clientApplications"].is_null()), "{live:?}");
    sb.shutdown().await.unwrap();
}
