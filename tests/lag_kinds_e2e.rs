//! A create a killed run recorded and never saw replicate is not made
//! again for kinds other than users, groups and Intune policies (hostile
//! run 22, finding 2, the rest): an administrative unit, which Entra keeps
//! in its deleted items, and a conditional access policy, which nothing
//! keeps.

mod common;

use common::*;

fn scratch(sb: &sandbox::SandboxHandle, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n{body}", sb.domain())).unwrap();
    (work, dir)
}

fn apply_again(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, d: &str) -> (Option<i32>, String) {
    let out = command(sb, cwd).env("TENANTCTL_REPLICATION_WINDOW", "1").args(["apply", "--auto-approve", d]).output().unwrap();
    (out.status.code(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
}

async fn count(sb: &sandbox::SandboxHandle, path: &str, name: &str) -> usize {
    client(sb).v1().list_all(path).await.unwrap().iter().filter(|o| o["displayName"] == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_administrative_unit_is_not_created_again_until_graph_shows_it_deleted() {
    let sb = sandbox().await;
    let (work, dir) = scratch(&sb, "[administrative_unit.lag-au]\ndisplay_name = \"Lag AU\"\ndescription = \"made by a run that was killed\"\n");
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.replication_lag_ms = 120_000)).unwrap();
    kill_apply_after_record(&sb, work.path(), &["--auto-approve", d, "--concurrency", "1"], "administrative_unit.lag-au");
    // The window passes; the unit still lags and is not in deleted items.
    let (code, all) = apply_again(&sb, work.path(), d);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("may still be replicating") && all.contains("does not show it deleted") && !all.contains("it is gone"), "{all}");
    sb.set_faults(sandbox::Faults::default()).unwrap();
    assert_eq!(count(&sb, "/directory/administrativeUnits?$select=id,displayName", "Lag AU").await, 1, "a duplicate was created");
    // Deleted in the portal: the directory's deleted items show it, so it
    // is gone, and the next apply makes it again, once.
    let units = client(&sb).v1().list_all("/directory/administrativeUnits?$select=id,displayName").await.unwrap();
    let id = units.iter().find(|u| u["displayName"] == "Lag AU").and_then(|u| u["id"].as_str()).unwrap().to_string();
    client(&sb).v1().delete(&format!("/directory/administrativeUnits/{id}")).await.unwrap();
    let deleted = client(&sb).v1().get_json(&format!("/directory/deletedItems/{id}")).await.unwrap();
    assert_eq!(deleted["@odata.type"], "#microsoft.graph.administrativeUnit", "{deleted}");
    let (code, all) = apply_again(&sb, work.path(), d);
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("create") && all.contains("administrative_unit.lag-au"), "{all}");
    assert_eq!(count(&sb, "/directory/administrativeUnits?$select=id,displayName", "Lag AU").await, 1);
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_conditional_access_policy_is_not_created_again() {
    let sb = sandbox().await;
    let (work, dir) = scratch(
        &sb,
        "[governance]\napprovals_required = 0\nunattended = \"tests of replication lag, not of approval\"\n\n[conditional_access.lag-ca]\ndisplay_name = \"Lag CA\"\nstate = \"enabledForReportingButNotEnforced\"\nusers = { include_users = [\"All\"] }\napplications = { include_applications = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n",
    );
    let d = dir.to_str().unwrap();
    sb.set_faults(faults(|f| f.replication_lag_ms = 120_000)).unwrap();
    kill_apply_after_record(&sb, work.path(), &["--auto-approve", d, "--concurrency", "1"], "conditional_access.lag-ca");
    for _ in 0..2 {
        let (code, all) = apply_again(&sb, work.path(), d);
        assert_eq!(code, Some(1), "{all}");
        assert!(all.contains("may still be replicating") && all.contains("keeps no deleted items") && !all.contains("it is gone"), "{all}");
    }
    sb.set_faults(sandbox::Faults::default()).unwrap();
    assert_eq!(count(&sb, "/identity/conditionalAccess/policies", "Lag CA").await, 1, "a duplicate was created");
    let out = cli(&sb, work.path(), &["plan", d]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("to create"), "{all}");
    sb.shutdown().await.unwrap();
}
