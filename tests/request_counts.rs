//! How many Graph requests a plan costs on a large tenant, asserted from the
//! sandbox's request accounting: one list page per 999 objects per
//! collection, plus one `$batch` per 20 per-object reads (including the
//! live membership governance reads, issue 12).

mod common;

use common::*;
use engine::Ledger;

fn pages(n: usize) -> u64 {
    n.div_ceil(999).max(1) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_a_large_tenant_costs_pages_plus_batches() {
    let sb = sandbox().await;
    let seeded = sb
        .seed(&sandbox::SeedSpec { seed: 42, users: 5_000, groups: 1_000, memberships_per_group: 5, policies: 300 })
        .unwrap();
    let client = client(&sb);
    let state = example();
    sb.reset_counts();
    let p = plan(&client, &state, &Ledger::default()).await;
    assert!(p.unknown.is_empty());
    let counts = sb.request_counts();
    let get = |pattern: &str| counts.requests.get(pattern).copied().unwrap_or(0);
    // Every seeded object was read through full pages.
    let users = seeded.users + state.user.len();
    assert!(get("GET /v1.0/users") <= pages(users), "{counts:#?}");
    assert!(get("GET /v1.0/groups") <= pages(seeded.groups + state.group.len()), "{counts:#?}");
    assert!(get("GET /beta/deviceManagement/deviceConfigurations") <= pages(seeded.policies + 10), "{counts:#?}");
    // Members are read only for groups whose membership desired state
    // manages, 20 per batch, never one request per group.
    let managed = state.group.values().filter(|g| g.value.members.is_some() || g.value.owners.is_some()).count();
    let batches = counts.requests.iter().filter(|(k, _)| k.contains("$batch")).map(|(_, v)| v).sum::<u64>();
    // Plus the Settings Catalog's: the declared settings' definitions and
    // the templates' settings (the example's baseline and LAPS policy), one
    // `$batch` each.
    assert!(batches <= (2 * managed).div_ceil(20) as u64 + 3, "{counts:#?}");
    assert_eq!(counts.requests.keys().filter(|k| k.contains("/groups/{id}")).count(), 0, "no per-group requests: {counts:#?}");
    let total: u64 = counts.requests.iter().filter(|(k, _)| !k.contains("oauth2")).map(|(_, v)| v).sum();
    let bound = pages(users) + pages(seeded.groups) + pages(seeded.policies) + 12;
    assert!(total <= bound, "{total} requests for a plan, more than {bound}: {counts:#?}");
    // Nothing of the example exists yet, so no membership is read for
    // governance (issue 12): there is no ring group to read.
    assert_eq!(counts.batch_items.get("GET /v1.0/groups/{id}/members").copied().unwrap_or(0), 0, "{counts:#?}");

    // With the example applied, governance also reads the live membership
    // of the groups it judges whose membership desired state does not
    // manage (issue 12): here the four ring device groups the policies
    // target. Once each, in one more `$batch` (never per group, never for
    // the seeded groups nothing targets), beside the one that reads the
    // members and owners of the groups whose membership is managed.
    let mut ledger = Ledger::default();
    apply(&client, &p, &mut ledger).await;
    sb.reset_counts();
    let again = plan(&client, &state, &ledger).await;
    assert!(again.unknown.is_empty());
    let counts = sb.request_counts();
    let rings = 4;
    // And the service-accounts group (dynamic): its live members are
    // service accounts whatever desired state declares (issue 12).
    let service_accounts_group = 1;
    let managed_members = state.group.values().filter(|g| g.value.members.is_some()).count() as u64;
    assert_eq!(counts.batch_items.get("GET /v1.0/groups/{id}/members").copied().unwrap_or(0), managed_members + rings + service_accounts_group, "{counts:#?}");
    // Three v1.0 batches: the first pages of the listings (users, groups,
    // roles, conditional access: issue 13; with `GET /subscribedSkus` and,
    // by ledger id, the licences of the licensed groups, issue 16), the
    // members and owners, and the governance membership reads.
    assert_eq!(counts.get("POST /v1.0/$batch"), 3, "{counts:#?}");
    // The whole plan of the example: the rest of the user pages, one beta
    // batch of Intune listings, and one of every kind's dependent reads
    // together (`graph::coalesce`): the Autopilot assignments, the Settings
    // Catalog's three (the policies' settings, the declared settings'
    // definitions, the templates' settings) and the example's
    // remediation's scripts (read by id: the list leaves them out).
    assert_eq!(counts.get("POST /beta/$batch"), 2, "{counts:#?}");
    assert_eq!(counts.requests.keys().filter(|k| k.contains("/groups/{id}")).count(), 0, "no per-group requests: {counts:#?}");
    sb.shutdown().await.unwrap();
}
