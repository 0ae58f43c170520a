//! End-to-end tests of plan (and apply) against the sandbox.

mod common;

use std::collections::BTreeSet;

use common::*;
use engine::{Action, Ledger};
use schema::Kind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_on_empty_tenant_plans_every_create_in_a_valid_order() {
    let sb = sandbox().await;
    let state = example();
    let plan = plan(&client(&sb), &state, &Ledger::default()).await;
    assert_eq!(plan.changes.len(), state.addresses().len() - expired_count(&state));
    // Objects Entra gives every tenant (its authentication methods policy,
    // each role's PIM policy, its guest settings, the default cross-tenant
    // access) are updated; everything else is created.
    let given = |c: &engine::Change| c.address.kind.never_deleted() || c.address.kind == schema::Kind::CrossTenantAccess;
    assert!(plan.changes.iter().all(|c| c.action == if given(c) { Action::Update } else { Action::Create }), "{:#?}", plan.changes);
    let mut done = BTreeSet::new();
    for c in &plan.changes {
        for w in &c.waits_on {
            assert!(done.contains(w), "{} runs before {w}, which it waits on", c.address);
        }
        let deps = &c.desired.as_ref().unwrap().depends_on;
        for d in deps {
            let created_later = plan.changes.iter().any(|o| &o.address == d && o.wave >= c.wave);
            assert!(!created_later, "{} is in wave {} but depends on {d}", c.address, c.wave);
        }
        done.insert(c.address.clone());
    }
    sb.shutdown().await.unwrap();
}

fn expired_count(state: &schema::DesiredState) -> usize {
    let now = opts().now;
    state.guest.values().filter(|g| g.value.expires <= now).count()
        + state.role_assignment.values().filter(|r| r.value.expires.is_some_and(|e| e <= now)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_the_example_converges_and_stays_converged_under_faults() {
    let sb = sandbox().await;
    let client = client(&sb);
    let state = example();
    let mut ledger = Ledger::default();
    let first = plan(&client, &state, &ledger).await;
    apply(&client, &first, &mut ledger).await;
    let again = plan(&client, &state, &ledger).await;
    assert!(again.is_empty(), "planning again after applying makes no changes:\n{}", engine::render::text(&again, false));
    assert!(again.unknown.is_empty());

    // Throttling, server errors and dropped connections are retried, never drift.
    sb.set_faults(faults(|f| {
        f.throttle_rate = 0.2;
        f.error_rate = 0.05;
        f.drop_rate = 0.02;
        f.retry_after_secs = 0;
    }))
    .unwrap();
    for _ in 0..3 {
        let p = plan(&client, &state, &ledger).await;
        assert!(p.is_empty() && p.unknown.is_empty(), "faults showed up as drift:\n{}", engine::render::text(&p, false));
    }
    let counts = sb.request_counts();
    assert!(counts.throttled > 0 && counts.injected_errors > 0, "faults were injected: {counts:?}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_converges_with_replication_lag() {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| f.replication_lag_ms = 300)).unwrap();
    let client = client(&sb);
    let state = example();
    let mut ledger = Ledger::default();
    let first = plan(&client, &state, &ledger).await;
    apply(&client, &first, &mut ledger).await;
    // Reads straight after the apply still see lagging objects as missing;
    // once replicated, the plan is empty.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let again = plan(&client, &state, &ledger).await;
    assert!(again.is_empty(), "{}", engine::render::text(&again, false));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_changed_behind_the_tools_back_plans_exactly_that_field() {
    let sb = sandbox().await;
    let client = client(&sb);
    let state = example();
    let mut ledger = Ledger::default();
    apply(&client, &plan(&client, &state, &ledger).await, &mut ledger).await;
    let (address, _) = ledger.resources.iter().find(|(a, _)| a.kind == Kind::UpdateRing).map(|(a, e)| (a.clone(), e.clone())).unwrap();
    let id = ledger.id(&address).unwrap().to_string();
    // An admin edits the ring in the portal.
    let r = client
        .beta()
        .patch_json(
            &format!("/deviceManagement/deviceConfigurations/{id}"),
            serde_json::json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "qualityUpdatesDeferralPeriodInDays": 27}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let p = plan(&client, &state, &ledger).await;
    assert_eq!(p.changes.len(), 1, "{}", engine::render::text(&p, false));
    let c = &p.changes[0];
    assert_eq!((c.address.clone(), c.action), (address, Action::Update));
    assert_eq!(c.fields.len(), 1);
    assert_eq!(c.fields[0].field, "qualityUpdatesDeferralPeriodInDays");
    assert_eq!(c.fields[0].before, Some(serde_json::json!(27)));
    // Applying it converges again.
    apply(&client, &p, &mut ledger).await;
    assert!(plan(&client, &state, &ledger).await.is_empty());
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_renderings_of_the_example_plan() {
    let sb = sandbox().await;
    let p = plan(&client(&sb), &example(), &Ledger::default()).await;
    golden("example-plan.txt", &engine::render::text(&p, false));
    golden("example-plan.md", &engine::render::markdown(&p));
    golden("example-plan.json", &engine::render::json(&p));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_an_error_not_unknown_state() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let out = command(&sb, work.path())
        .args(["plan", "--detailed-exitcode", example_dir().to_str().unwrap()])
        .env("AZURE_CLIENT_SECRET", "not-the-secret-123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("AADSTS7000215"), "the identity platform's reason is shown: {err}");
    assert!(!err.contains("not-the-secret-123") && !text(&out.stdout).contains("not-the-secret-123"));
    sb.shutdown().await.unwrap();
}
