//! Apply at Graph's limits (issue 13): writes and create lookups go in
//! `$batch` calls of 20, group members ride in the create, a failed or
//! throttled item fails or delays only its own change, and an apply paced
//! under the modelled service limits draws no 429. Request counts are read
//! from the sandbox's accounting; nothing here is timed.

mod common;

use std::time::Duration;

use common::*;
use engine::apply::{ApplyOptions, ApplyReport, Status};
use engine::Ledger;
use providers::graph::{GraphClient, PacingConfig, Rate};
use sandbox::limits::{Area, Limit, Limits};

/// `users` users, `groups` groups of `members` of those users each (round
/// robin), and `policies` device configurations, as desired-state TOML.
fn desired(users: usize, groups: usize, members: usize, policies: usize) -> schema::DesiredState {
    let mut text = String::new();
    for u in 0..users {
        text.push_str(&format!("[user.u{u:04}]\nuser_principal_name = \"u{u:04}@contoso.onmicrosoft.com\"\ndisplay_name = \"User {u}\"\nmail_nickname = \"u{u:04}\"\n\n"));
    }
    for g in 0..groups {
        let m: Vec<String> = (0..members).map(|k| format!("\"u{:04}\"", (g * members + k) % users.max(1))).collect();
        text.push_str(&format!("[group.g{g:03}]\ndisplay_name = \"Group {g}\"\nmail_nickname = \"g{g:03}\"\nmembers = [{}]\n\n", m.join(", ")));
    }
    for p in 0..policies {
        text.push_str(&format!("[device_configuration.p{p:03}]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Policy {p}\"\n\n[device_configuration.p{p:03}.settings]\ncameraBlocked = true\n\n"));
    }
    schema::load_str(&[("state.toml", &text)]).expect("the generated desired state is valid")
}

async fn apply_batched(client: &GraphClient, plan: &engine::Plan, ledger: &mut Ledger, linger: Duration) -> ApplyReport {
    let exec = providers::apply::GraphExecutor::new(client.clone(), |_| None, opts().now)
        .with_create_retry_delay(Duration::from_millis(50))
        .with_batch_linger(linger);
    engine::apply::apply(plan, ledger, &exec, &ApplyOptions { concurrency: 4 * 20, now: "2026-11-23T12:00:00Z".into() }, |_, _| {}).await
}

fn item(counts: &sandbox::RequestCounts, key: &str) -> u64 {
    counts.batch_items.get(key).copied().unwrap_or(0)
}

/// 60 users and 12 groups of 5 members: every create and every create
/// lookup rides in a `$batch`; members go in with the group's create, so
/// not one `$ref` POST is sent; 9 batches carry it all (3 + 3 for the users'
/// lookups and creates, 1 + 1 + 1 for the groups' lookups, creates and
/// reads after create), not 60 + 60 + 12 + 12 + 12 + 60 single requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_groups_with_members_take_a_batch_per_twenty_and_no_member_posts() {
    let sb = sandbox().await;
    let c = client(&sb);
    let state = desired(60, 12, 5, 0);
    let mut ledger = Ledger::default();
    let plan = plan(&c, &state, &ledger).await;
    assert_eq!(plan.changes.len(), 72);
    sb.reset_counts();
    let report = apply_batched(&c, &plan, &mut ledger, Duration::from_millis(400)).await;
    assert!(report.ok(), "{:#?}", report.results.iter().filter(|r| r.status != Status::Applied).collect::<Vec<_>>());
    let counts = sb.request_counts();
    assert_eq!(counts.get("POST /v1.0/users") + counts.get("POST /v1.0/groups"), 0, "no create goes alone: {counts:#?}");
    assert_eq!(item(&counts, "POST /v1.0/users"), 60);
    assert_eq!(item(&counts, "POST /v1.0/groups"), 12);
    assert_eq!(item(&counts, "GET /v1.0/users") + counts.get("GET /v1.0/users"), 60, "one lookup per user, batched");
    assert_eq!(item(&counts, "GET /v1.0/users"), 60);
    assert_eq!(item(&counts, "GET /v1.0/groups"), 12);
    let refs = counts.get("POST /v1.0/groups/{id}/members/$ref") + item(&counts, "POST /v1.0/groups/{id}/members/$ref");
    assert_eq!(refs, 0, "members go in with the create");
    let batches = counts.get("POST /v1.0/$batch");
    assert!((9..=11).contains(&batches), "{batches} $batch calls for 156 items (ideal 9): {counts:#?}");
    assert_eq!(item(&counts, "GET /v1.0/groups/{id}"), 12, "reads after create ride in a batch");
    // The engine's report and ledger are exactly per change.
    assert_eq!(report.applied(), 72);
    assert!(report.results.iter().all(|r| r.id.is_some() && !r.request_ids.is_empty()));
    assert_eq!(ledger.resources.len(), 72);
    // The tenant holds what was declared: each group with its 5 members.
    let g = ledger.id(&"group.g003".parse().unwrap()).unwrap().to_string();
    let members = c.v1().list_all(&format!("/groups/{g}/members?$select=id")).await.unwrap();
    assert_eq!(members.len(), 5);
    // And a second plan is empty.
    let again = common::plan(&c, &state, &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
}

/// A group of 27 members: 20 ride in the create (Graph's limit), the other
/// 7 go as `$ref` items in one `$batch`, not 27 POSTs; cut to 3 members,
/// the 24 removals go as batched `$ref` deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_beyond_twenty_go_in_one_batch_of_refs() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let users = desired(27, 0, 0, 0);
    let p = plan(&c, &users, &ledger).await;
    assert!(apply_batched(&c, &p, &mut ledger, Duration::from_millis(100)).await.ok());
    let state = desired(27, 1, 27, 0);
    let p = plan(&c, &state, &ledger).await;
    sb.reset_counts();
    let report = apply_batched(&c, &p, &mut ledger, Duration::from_millis(400)).await;
    assert!(report.ok(), "{report:#?}");
    let counts = sb.request_counts();
    assert_eq!(item(&counts, "POST /v1.0/groups/{id}/members/$ref"), 7, "{counts:#?}");
    assert_eq!(counts.get("POST /v1.0/groups/{id}/members/$ref"), 0);
    let g = ledger.id(&"group.g000".parse().unwrap()).unwrap().to_string();
    assert_eq!(c.v1().list_all(&format!("/groups/{g}/members?$select=id")).await.unwrap().len(), 27);
    // Down to 3 members: the 24 removals go as batched `$ref` deletes.
    let fewer = desired(27, 1, 3, 0);
    let p = plan(&c, &fewer, &ledger).await;
    sb.reset_counts();
    let report = apply_batched(&c, &p, &mut ledger, Duration::from_millis(400)).await;
    assert!(report.ok(), "{report:#?}");
    let counts = sb.request_counts();
    assert_eq!(item(&counts, "DELETE /v1.0/groups/{id}/members/{id}/$ref"), 24, "{counts:#?}");
    assert_eq!(counts.get("DELETE /v1.0/groups/{id}/members/{id}/$ref"), 0);
    assert_eq!(c.v1().list_all(&format!("/groups/{g}/members?$select=id")).await.unwrap().len(), 3);
    assert!(plan(&c, &fewer, &ledger).await.changes.is_empty());
}

/// Throttled and failing items are retried on their own; one change Graph
/// refuses fails alone, and everything else is applied and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_or_refused_item_affects_only_its_own_change() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut text = String::new();
    for u in 0..30 {
        text.push_str(&format!("[user.u{u:02}]\nuser_principal_name = \"u{u:02}@contoso.onmicrosoft.com\"\ndisplay_name = \"User {u}\"\nmail_nickname = \"u{u:02}\"\n\n"));
    }
    let state = schema::load_str(&[("t.toml", &text)]).unwrap();
    let mut ledger = Ledger::default();
    let mut p = plan(&c, &state, &ledger).await;
    // Graph refuses this one create (a userPrincipalName on a domain the
    // tenant does not hold); the plan is edited after validation on purpose.
    let bad = p.changes.iter_mut().find(|ch| ch.address.to_string() == "user.u07").unwrap();
    bad.desired.as_mut().unwrap().props.insert("userPrincipalName".into(), serde_json::json!("u07@not-this-tenant.example"));
    sb.set_faults(faults(|f| {
        f.throttle_rate = 0.2;
        f.retry_after_secs = 1;
    }))
    .unwrap();
    let report = apply_batched(&c, &p, &mut ledger, Duration::from_millis(100)).await;
    sb.set_faults(sandbox::Faults::none()).unwrap();
    let failed: Vec<_> = report.results.iter().filter(|r| r.status != Status::Applied).map(|r| r.address.to_string()).collect();
    assert_eq!(failed, vec!["user.u07"], "{report:#?}");
    assert!(matches!(&report.results.iter().find(|r| r.address.to_string() == "user.u07").unwrap().status, Status::Failed { error } if error.contains("400")));
    assert_eq!(ledger.resources.len(), 29);
    let counts = sb.request_counts();
    assert!(counts.throttled > 0, "the faults did throttle items: {counts:#?}");
    // No user was created twice.
    let all = c.v1().list_all("/users?$select=userPrincipalName").await.unwrap();
    let mut upns: Vec<&str> = all.iter().filter_map(|u| u["userPrincipalName"].as_str()).filter(|u| u.starts_with('u')).collect();
    let n = upns.len();
    upns.dedup();
    assert_eq!((n, upns.len()), (29, 29));
}

/// Graph's limits, scaled to 2 s windows so a test can cross several: an
/// apply paced by the client's matching limits draws no 429 from the
/// sandbox's model, with Intune writes (creates and assigns) and directory
/// writes both beyond one window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_paced_under_the_modelled_limits_draws_no_429() {
    let sb = sandbox().await;
    let window = Duration::from_secs(2);
    let l = |name: &str, area, writes_only, count| Limit { name: name.into(), area, writes_only, count, window_ms: 2000 };
    sb.set_limits(Limits {
        limits: vec![
            l("Intune writes per app", Area::Intune, true, 6),
            l("Intune requests per app", Area::Intune, false, 60),
            l("directory writes per app and tenant", Area::Directory, true, 25),
        ],
    });
    let c = {
        let base = sb.base_url();
        let mut config = providers::graph::GraphConfig::new(providers::graph::Cloud::custom(&base, &base).unwrap());
        config.retry = fast_retry();
        config.pacing = PacingConfig {
            intune_writes: Some(Rate { count: 6, per: window }),
            intune_requests: Some(Rate { count: 60, per: window }),
            directory_writes: Some(Rate { count: 25, per: window }),
            margin: Duration::from_millis(250),
        };
        let credential = providers::graph::Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
        GraphClient::new(config, credential).unwrap()
    };
    let state = desired(40, 6, 3, 8);
    let mut ledger = Ledger::default();
    let p = plan(&c, &state, &ledger).await;
    sb.reset_counts();
    let report = apply_batched(&c, &p, &mut ledger, Duration::from_millis(20)).await;
    assert!(report.ok(), "{:#?}", report.results.iter().filter(|r| r.status != Status::Applied).collect::<Vec<_>>());
    let counts = sb.request_counts();
    assert_eq!(counts.limited, 0, "the sandbox answered 429 to a request over its limits: {counts:#?}");
    assert_eq!(c.stats().throttled, 0);
    // Both limits were crossed: 16 Intune writes (8 creates, 8 assigns)
    // against 6 per window, 46 directory writes against 25.
    let intune_writes: u64 = counts.batch_items.iter().chain(&counts.requests).filter(|(k, _)| !k.starts_with("GET") && k.contains("/deviceManagement")).map(|(_, v)| v).sum();
    assert_eq!(intune_writes, 16, "{counts:#?}");
    assert_eq!(item(&counts, "POST /v1.0/users") + item(&counts, "POST /v1.0/groups"), 46);
}
