//! End-to-end tests of apply: convergence under faults, interruption at
//! many points, saved plans, prune guards, and secrets.

mod common;

use std::time::Duration;

use common::*;
use engine::{Ledger, Plan};
use schema::Kind;

fn assert_complete_ledger(state: &schema::DesiredState, ledger: &Ledger) {
    let now = opts().now;
    for a in state.addresses() {
        let expired = match a.kind {
            Kind::Guest => state.guest[&a.key].value.expires <= now,
            Kind::RoleAssignment => state.role_assignment[&a.key].value.expires.is_some_and(|e| e <= now),
            _ => false,
        };
        if !expired {
            assert!(ledger.id(&a).is_some(), "{a} is missing from the ledger");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_converges_through_throttling_errors_lag_and_dropped_connections() {
    let sb = sandbox().await;
    sb.set_faults(faults(|f| {
        f.throttle_rate = 0.2;
        f.error_rate = 0.05;
        f.drop_rate = 0.02;
        f.replication_lag_ms = 2_000;
        f.retry_after_secs = 0;
    }))
    .unwrap();
    let client = client(&sb);
    let state = example();
    let mut ledger = Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    let report = apply(&client, &p, &mut ledger).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let again = plan(&client, &state, &ledger).await;
    assert!(again.is_empty() && again.unknown.is_empty(), "{}\napply: {:?}", engine::render::text(&again, false), report.results);
    sb.set_faults(sandbox::Faults::default()).unwrap();
    assert_eq!(duplicates(&client).await, Vec::<String>::new());
    assert_complete_ledger(&state, &ledger);
    let counts = sb.request_counts();
    assert!(counts.throttled > 0 && counts.injected_errors > 0 && counts.dropped > 0, "{counts:?}");
    sb.shutdown().await.unwrap();
}

/// Kill `tenantctl apply` after it has made N requests, for many N, both
/// batched (the default: writes and lookups in `$batch` calls, so a kill
/// can cut up to 20 creates at once) and one change at a time
/// (`--concurrency 1`); the next apply always converges with no duplicates
/// and a complete ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_apply_at_any_point_then_applying_again_converges() {
    let state = example();
    let (_example, example_path) = ungoverned_example();
    let example_dir = || example_path.clone();
    let mut killed_at = Vec::new();
    // Measure a full apply's request count first, to spread the kill points.
    let total = |concurrency: &'static str| async move {
        let sb = sandbox().await;
        let dir = tempfile::tempdir().unwrap();
        let out = cli(&sb, dir.path(), &["apply", "--auto-approve", "--concurrency", concurrency, example_dir().to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let n = sb.request_counts().total;
        sb.shutdown().await.unwrap();
        n
    };
    let mut points: Vec<(&str, u64)> = Vec::new();
    for concurrency in ["4", "1"] {
        let n = total(concurrency).await;
        points.extend((1..=11).map(|i| (concurrency, (n * i / 12).max(1))));
    }
    for (concurrency, point) in points {
        let sb = sandbox().await;
        sb.set_faults(faults(|f| f.latency_ms = 5)).unwrap();
        let work = tempfile::tempdir().unwrap();
        let mut child = command(&sb, work.path())
            .args(["apply", "--auto-approve", "--concurrency", concurrency, example_dir().to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while sb.request_counts().total < point && std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        killed_at.push((concurrency, sb.request_counts().total));
        sb.set_faults(sandbox::Faults::default()).unwrap();
        let out = cli(&sb, work.path(), &["apply", "--auto-approve", example_dir().to_str().unwrap()]);
        assert!(out.status.success(), "after a kill at request {point}: {}", text(&out.stderr));
        let ledger = Ledger::parse(&std::fs::read_to_string(work.path().join("tenantctl.lock")).unwrap()).unwrap();
        assert_complete_ledger(&state, &ledger);
        let client = client(&sb);
        assert_eq!(duplicates(&client).await, Vec::<String>::new(), "duplicates after a kill at request {point}");
        let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", example_dir().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "not converged after a kill at request {point}:\n{}", text(&out.stdout));
        sb.shutdown().await.unwrap();
    }
    killed_at.sort_unstable();
    killed_at.dedup();
    assert!(killed_at.len() >= 20, "apply was interrupted at {} distinct points: {killed_at:?}", killed_at.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_once_the_tenant_changed() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = example_dir();
    let plan_file = work.path().join("plan.json");
    let out = cli(&sb, work.path(), &["plan", dir.to_str().unwrap(), "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved: Plan = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert!(!saved.is_empty());
    // Someone creates one of the planned groups by hand.
    let g = example().group.values().next().unwrap().value.clone();
    client(&sb)
        .v1()
        .post_json("/groups", serde_json::json!({"displayName": g.display_name, "mailNickname": g.mail_nickname, "mailEnabled": false, "securityEnabled": true}))
        .await
        .unwrap();
    let out = cli(&sb, work.path(), &["apply", plan_file.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("plan is stale") && err.contains("tenant changed"), "{err}");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_exactly_when_nothing_changed() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let (_example, dir) = ungoverned_example();
    let plan_file = work.path().join("plan.json");
    assert!(cli(&sb, work.path(), &["plan", dir.to_str().unwrap(), "--out", plan_file.to_str().unwrap()]).status.success());
    let out = cli(&sb, work.path(), &["apply", plan_file.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_terminal_or_auto_approve_is_an_error() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let (_example, example_path) = ungoverned_example();
    let out = cli(&sb, work.path(), &["apply", example_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--auto-approve"), "{}", text(&out.stderr));
    // Nothing was written: the plan's reads go partly in `$batch` calls
    // (POSTs carrying only GETs), no other POST.
    let c = sb.request_counts();
    assert_eq!(c.requests.keys().filter(|k| k.starts_with("POST") && !k.contains("oauth2") && !k.ends_with("/$batch")).count(), 0, "{c:#?}");
    assert!(c.batch_items.keys().all(|k| k.starts_with("GET ")), "{c:#?}");
    sb.shutdown().await.unwrap();
}


/// The example, applicable without approvals, at a stable path for one test.
fn ungoverned_example() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = scratch_without_approvals();
    let d = t.path().join("desired-state");
    (t, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_is_bounded_and_never_touches_protected_addresses() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let d = dir.to_str().unwrap();
    // Two project groups, created and owned by tenantctl.
    let extra = dir.join("project-groups.toml");
    std::fs::write(
        &extra,
        "[group.project-a]\ndisplay_name = \"Project A\"\nmail_nickname = \"project-a\"\n\n\
         [group.project-b]\ndisplay_name = \"Project B\"\nmail_nickname = \"project-b\"\n",
    )
    .unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Both are dropped from desired state; pruning of groups is turned on,
    // with no deletions allowed per run, and project-a is protected.
    std::fs::remove_file(&extra).unwrap();
    let gov_file = dir.join("tenant.toml");
    let gov = std::fs::read_to_string(&gov_file).unwrap()
        .replace("protected = [\"user.breakglass-1\"]", "protected = [\"user.breakglass-1\", \"group.project-a\"]")
        .replace("kinds = [\"device_configuration\", \"compliance_policy\", \"update_ring\"]", "kinds = [\"group\"]")
        .replace("max_deletions = 5", "max_deletions = 0");
    assert!(gov.contains("kinds = [\"group\"]") && gov.contains("group.project-a"), "the example's governance section changed shape");
    std::fs::write(&gov_file, gov).unwrap();

    let out = cli(&sb, work.path(), &["plan", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("- group.project-b"), "project-b is deleted: {shown}");
    assert!(shown.contains("group.project-a") && shown.contains("protected: never deleted"), "{shown}");
    assert!(shown.contains("Plan: 1 to delete"), "{shown}");

    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert_eq!(out.status.code(), Some(1), "over the deletion limit must be refused");
    assert!(text(&out.stderr).contains("--max-deletions 1"), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", "--max-deletions", "1", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let c = client(&sb);
    let count = |nick: &'static str| {
        let c = c.clone();
        async move { c.v1().list_all(&format!("/groups?$filter=mailNickname%20eq%20'{nick}'")).await.unwrap().len() }
    };
    assert_eq!(count("project-a").await, 1, "the protected group was deleted");
    assert_eq!(count("project-b").await, 0, "the pruned group still exists");
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_plan_file_and_ledger_contain_no_secret() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    // A known initial password handed to tenantctl through the environment.
    let accounts = dir.join("accounts.toml");
    let toml_text = std::fs::read_to_string(&accounts).unwrap();
    let toml_text = toml_text.replace("# password_env = \"BREAKGLASS_1_PASSWORD\"", "password_env = \"BREAKGLASS_1_PASSWORD\"");
    assert!(toml_text.contains("\npassword_env"), "the example shows password_env");
    std::fs::write(&accounts, toml_text).unwrap();
    let password = "S3cret-Passw0rd-For-Test!";
    let plan_file = work.path().join("plan.json");
    let run = |args: &[&str]| {
        command(&sb, work.path())
            .args(args)
            .env("BREAKGLASS_1_PASSWORD", password)
            .env("TENANTCTL_LOG", "debug")
            .output()
            .unwrap()
    };
    let d = dir.to_str().unwrap();
    let out = run(&["plan", d, "--out", plan_file.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut everything = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let out = run(&["-vv", "apply", "--auto-approve", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    everything.push_str(&text(&out.stdout));
    everything.push_str(&text(&out.stderr));
    everything.push_str(&std::fs::read_to_string(&plan_file).unwrap());
    for name in ["tenantctl.lock", "tenantctl.journal.jsonl"] {
        let content = std::fs::read_to_string(work.path().join(name)).unwrap_or_default();
        assert!(!content.is_empty(), "{name} was written");
        everything.push_str(&content);
    }
    // The password did reach Graph (the account exists) but nothing else.
    let found = client(&sb).v1().list_all("/users?$filter=userPrincipalName%20eq%20'breakglass-1@contoso.onmicrosoft.com'").await.unwrap();
    assert_eq!(found.len(), 1);
    let token = sb.access_token();
    for secret in [password, sb.client_secret(), token.as_str()] {
        assert!(!everything.contains(secret), "a secret leaked into output, plan, ledger or journal");
    }
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_adopts_only_existing_unowned_objects() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    let d = dir.to_str().unwrap();
    // A ring group made by hand before tenantctl, under another nickname.
    let g = example().group["mwd-test"].value.clone();
    let made = client(&sb)
        .v1()
        .post_json("/groups", serde_json::json!({"displayName": g.display_name, "mailNickname": "legacy-ring-test", "mailEnabled": false, "securityEnabled": true}))
        .await
        .unwrap();
    let id = made.body.unwrap()["id"].as_str().unwrap().to_string();

    let out = cli(&sb, work.path(), &["import", "group.mwd-test", "00000000-0000-0000-0000-000000000000", "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no group with id"), "{}", text(&out.stderr));

    let out = cli(&sb, work.path(), &["import", "group.mwd-test", &id, "--dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&sb, work.path(), &["import", "group.mwd-first", &id, "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already owned by group.mwd-test"), "{}", text(&out.stderr));

    // The adopted group is updated to desired state, not duplicated.
    let out = cli(&sb, work.path(), &["plan", d]);
    let shown = text(&out.stdout);
    assert!(shown.contains("~ group.mwd-test") && shown.contains("mailNickname"), "{shown}");
    sb.shutdown().await.unwrap();
}

/// A create that failed after its POST (here: its licences never written)
/// is retried as an adoption of the object it left behind; the adoption
/// writes what the create writes after its POST, so one apply converges.
/// Faults made this happen at random in the throttling test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_leftover_of_a_create_gets_its_licences() {
    use serde_json::json;
    let sb = sandbox().await;
    let c = client(&sb);
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/groups");
    req.body = Some(json!({"displayName": "Licensed", "mailNickname": "licensed", "mailEnabled": false, "securityEnabled": true}));
    let left = c.v1().execute(req).await.expect("group created").body.expect("body");
    let left_id = left["id"].as_str().expect("id").to_string();
    let state = schema::load_str(&[(
        "g.toml",
        "[group.licensed]\ndisplay_name = \"Licensed\"\nmail_nickname = \"licensed\"\nlicenses = [{ sku = \"SPE_E3\", disabled_plans = [\"YAMMER_ENTERPRISE\"] }]\n",
    )])
    .expect("valid");
    let desired = providers::kinds::desired_model(&state);
    let r = desired.resources.values().next().expect("one resource").clone();
    let change = engine::Change {
        address: r.address.clone(),
        action: engine::Action::Create,
        display_name: r.display_name.clone(),
        id: None,
        reason: "a run that lost its ledger".into(),
        fields: Vec::new(),
        waits_on: Vec::new(),
        wave: 0,
        desired: Some(r),
        notes: Vec::new(),
        live: None,
    };
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now);
    let outcome = engine::apply::Executor::execute(&exec, &change, &Default::default()).await.expect("create");
    assert_eq!(outcome.id.as_deref(), Some(left_id.as_str()), "the leftover was not adopted: {:?}", outcome.note);
    let live = c.v1().get_json(&format!("/groups/{left_id}?$select=assignedLicenses")).await.expect("read");
    let licences = live["assignedLicenses"].as_array().expect("assignedLicenses");
    assert_eq!(licences.len(), 1, "the adoption did not write the licences: {live}");
    assert_eq!(licences[0]["disabledPlans"].as_array().map(Vec::len), Some(1), "{live}");
    let mut ledger = Ledger::default();
    // As apply records the create's outcome: with its approved record
    // (without one, the group's licences would be reviewed whole: gov18).
    ledger.record(change.address.clone(), left_id.clone(), change.desired.as_ref().map(engine::governance::ratify::applied_hash), None);
    assert!(plan(&c, &state, &ledger).await.is_empty(), "the adopted group still differs");
}
