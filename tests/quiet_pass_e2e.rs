//! A quiet reconcile pass at scale (issue 13): through the binary, against
//! the sandbox, a tenant of 2,100 groups whose exported desired state
//! declares every group's `members` and `owners` costs at most 3 Graph
//! requests for users and groups together (one delta round each) and at
//! most 6 for the whole pass (the other listings go in one `$batch` per
//! API version). The example tenant's quiet pass is asserted in
//! tests/reconcile_e2e.rs. Counts come from the sandbox's accounting;
//! nothing is timed.

mod common;

use std::path::Path;

use common::*;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

/// Graph requests (the token endpoint left out): total, those on users or
/// groups, and a breakdown for failure messages.
fn counted(sb: &SandboxHandle) -> (u64, u64, String) {
    let c = sb.request_counts();
    let graph: Vec<(&String, &u64)> = c
        .requests
        .iter()
        .filter(|(k, _)| !k.contains("oauth2"))
        .collect();
    let total = graph.iter().map(|(_, n)| **n).sum();
    let directory = graph
        .iter()
        .filter(|(k, _)| k.contains("/users") || k.contains("/groups"))
        .map(|(_, n)| **n)
        .sum();
    let breakdown = graph
        .iter()
        .map(|(k, n)| format!("  {n:>4} {k}"))
        .collect::<Vec<_>>()
        .join("\n");
    (
        total,
        directory,
        format!("{breakdown}\n  batch items: {:?}", c.batch_items),
    )
}

fn last_report(work: &Path) -> Value {
    let history = work.join(".tenantctl/history");
    let mut names: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let last = names.last().expect("a pass report");
    serde_json::from_str(&std::fs::read_to_string(history.join(last)).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_pass_over_2100_groups_declaring_members_and_owners_costs_3_directory_requests() {
    let sb = sandbox().await;
    let seeded = sb
        .seed(&sandbox::SeedSpec {
            seed: 13,
            users: 3_000,
            groups: 2_100,
            memberships_per_group: 5,
            policies: 40,
        })
        .unwrap();
    assert!(seeded.groups >= 2_000);
    // Some groups have owners, so the declared owners are not all empty.
    let client = client(&sb);
    let users = client
        .v1()
        .list_all("/users?$select=id&$top=5")
        .await
        .unwrap();
    let groups = client
        .v1()
        .list_all("/groups?$select=id&$top=999")
        .await
        .unwrap();
    for (g, u) in groups.iter().take(3).zip(&users) {
        let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", u["id"].as_str().unwrap())});
        client
            .v1()
            .post_json(
                &format!("/groups/{}/owners/$ref", g["id"].as_str().unwrap()),
                body,
            )
            .await
            .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let dir = w.join("exported");
    let o = cli(&sb, w, &["export", "--out", dir.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "export failed:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let declared = std::fs::read_to_string(dir.join("groups.toml")).unwrap();
    assert!(
        declared.matches("members = [").count() >= 2_000,
        "every assigned group declares its members"
    );
    assert!(
        declared.matches("owners = [").count() >= 2_000,
        "every group declares its owners"
    );
    assert!(
        declared.matches("owners = []").count() < declared.matches("owners = [").count(),
        "some owners are declared"
    );

    // What the export adopted has no approved record: its first approved
    // apply records it (gov18). Recorded here as that apply would.
    let ledger_path = w.join("tenantctl.lock");
    let mut ledger = engine::Ledger::parse(&std::fs::read_to_string(&ledger_path).unwrap()).unwrap();
    let model = providers::kinds::desired_model(&schema::load(&dir).expect("the export loads"));
    for (a, e) in ledger.resources.iter_mut() {
        if let Some(r) = model.resources.get(a) {
            e.applied = Some(engine::governance::ratify::applied_hash(r));
            e.approved_fields = engine::governance::ratify::approved_fields(r);
        }
    }
    std::fs::write(&ledger_path, ledger.render()).unwrap();

    // Pass 1: no delta state yet, so users and groups are read in full.
    let args = ["reconcile", dir.to_str().unwrap(), "--once"];
    let o = cli(&sb, w, &args);
    let first = last_report(w);
    assert!(
        first["unknown"].as_array().unwrap().is_empty(),
        "{}\n{first:#}",
        text(&o.stderr)
    );
    assert!(
        first["items"].as_array().unwrap().is_empty(),
        "the export adopts the tenant: {first:#}"
    );

    // Pass 2, nothing changed.
    sb.reset_counts();
    let o = cli(&sb, w, &args);
    let (total, directory, breakdown) = counted(&sb);
    eprintln!(
        "quiet pass over {} groups: {total} requests\n{breakdown}",
        seeded.groups
    );
    let quiet = last_report(w);
    assert!(
        quiet["unknown"].as_array().unwrap().is_empty(),
        "everything was read: {}\n{quiet:#}",
        text(&o.stderr)
    );
    assert!(quiet["items"].as_array().unwrap().is_empty(), "{quiet:#}");
    assert!(
        directory <= 3,
        "users and groups cost {directory} requests, more than 3:\n{breakdown}"
    );
    assert!(
        total <= 6,
        "the quiet pass costs {total} requests, more than 6:\n{breakdown}"
    );
    let c = sb.request_counts();
    assert!(
        c.batch_items
            .keys()
            .all(|k| !k.contains("/groups/") && !k.contains("/users")),
        "no member, owner or directory reads in batches:\n{breakdown}"
    );
    assert_eq!(
        quiet["graph_requests"], total,
        "the report counts what the sandbox saw"
    );
    sb.shutdown().await.unwrap();
}

/// A listing refused inside the batch makes its kinds unknown, never empty
/// (which would plan their creation) or in sync; the other listings of the
/// same batch are used as read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_refused_inside_the_batch_leaves_its_kind_unknown() {
    let sb = sandbox().await;
    let client = client(&sb);
    let state = example();
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    assert!(
        plan(&client, &state, &ledger).await.is_empty(),
        "the example converges"
    );

    // Take away every permission that reads conditional access policies.
    let granted: Vec<String> = graph_metadata::metadata()
        .documented_permissions()
        .iter()
        .filter(|p| !p.starts_with("Policy."))
        .cloned()
        .collect();
    sb.set_permissions(granted).unwrap();
    sb.reset_counts();
    let p = plan(&client, &state, &ledger).await;
    let c = sb.request_counts();
    assert_eq!(
        c.batch_items
            .get("GET /v1.0/identity/conditionalAccess/policies"),
        Some(&1),
        "the listing went in the batch: {c:#?}"
    );
    assert_eq!(
        c.get("GET /v1.0/identity/conditionalAccess/policies"),
        0,
        "and was not sent again on its own: {c:#?}"
    );
    let ca: Vec<_> = state.conditional_access.keys().collect();
    assert!(!ca.is_empty());
    let unknown: Vec<String> = p.unknown.iter().map(|u| u.address.to_string()).collect();
    for key in &ca {
        assert!(
            unknown.contains(&format!("conditional_access.{key}")),
            "conditional_access.{key} is unknown: {unknown:?}"
        );
    }
    assert!(
        p.unknown
            .iter()
            .all(|u| ["conditional_access.", "named_location.", "authentication_strength.", "authentication_methods_policy.", "authorization_policy.", "cross_tenant_access."].iter().any(|k| u.address.to_string().starts_with(k))),
        "only conditional access objects, tenant policies (read with Policy.Read.All) and the authentication methods policy (Policy.ReadWrite.AuthenticationMethod) are unknown: {unknown:?}"
    );
    assert!(
        p.unknown
            .iter()
            .all(|u| u.reason.contains("403") || u.reason.to_lowercase().contains("permission")),
        "{:?}",
        p.unknown
    );
    assert!(
        p.changes.is_empty(),
        "nothing unread is planned: {:#?}",
        p.changes
    );
    sb.shutdown().await.unwrap();
}
