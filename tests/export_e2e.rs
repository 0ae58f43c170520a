//! Export adopts an existing tenant: export a seeded 2,000-object tenant,
//! then planning the exported desired state with the exported ledger against
//! the same tenant makes no changes.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_plan_is_empty_on_a_seeded_tenant() {
    let sb = sandbox().await;
    let seeded = sb.seed(&sandbox::SeedSpec { seed: 11, users: 1_400, groups: 500, memberships_per_group: 4, policies: 100 }).unwrap();
    assert!(seeded.users + seeded.groups + seeded.policies >= 2_000);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "export failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    for f in ["users.toml", "groups.toml", "device-configurations.toml", "compliance.toml", "update-rings.toml", "tenant.toml"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let groups = std::fs::read_to_string(out.join("groups.toml")).unwrap();
    assert!(groups.contains("[group.seed-11-group-00000]"), "keys derived from names:\n{}", &groups[..groups.len().min(800)]);
    assert!(groups.contains("members = ["), "assigned groups keep their members");
    let rings = std::fs::read_to_string(out.join("update-rings.toml")).unwrap();
    assert!(rings.contains("quality_updates_deferral_period_in_days"), "update rings are typed");
    // Independent check with the library: plan the exported dir with its ledger.
    let state = schema::load(&out).expect("the export is valid desired state");
    assert_eq!(state.user.len(), seeded.users);
    assert_eq!(state.group.len(), seeded.groups);
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let p = plan(&client(&sb), &state, &ledger).await;
    assert_only_adoptions(&p);
    assert!(p.unknown.is_empty());
    // And through the binary.
    // (Its exit code is governance's business: an export declares no approvers.)
    let o = cli(&sb, tmp.path(), &["plan", out.to_str().unwrap(), "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)));
    assert_only_adoptions(&p);
    // A second export refuses to overwrite.
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    sb.shutdown().await.unwrap();
}
