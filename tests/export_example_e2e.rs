//! Export of the example tenant: every kind's export validates and plans
//! empty against the tenant it came from, not only generated data.

mod common;

use common::*;
use engine::Ledger;

/// Apply the example to a sandbox, export it through the binary, validate
/// the export (through the binary, as a user would), plan it: empty.
async fn export_round_trip(edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, std::path::PathBuf) {
    let sb = sandbox().await;
    let c = client(&sb);
    let scratch = scratch_without_approvals();
    let rings = scratch.path().join("desired-state/update-rings.toml");
    std::fs::write(&rings, edit(std::fs::read_to_string(&rings).unwrap())).unwrap();
    let state = schema::load(&scratch.path().join("desired-state")).expect("valid");
    let mut ledger = Ledger::default();
    let p = plan(&c, &state, &ledger).await;
    apply(&c, &p, &mut ledger).await;

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let o = cli(&sb, tmp.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "export failed:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    let o = cli(&sb, tmp.path(), &["validate", out.to_str().unwrap()]);
    assert!(o.status.success(), "the export does not validate:\n{}\n{}", text(&o.stdout), text(&o.stderr));
    let exported = schema::load(&out).expect("the export loads");
    for kind in schema::Kind::ALL {
        let declared = state.addresses().iter().filter(|a| a.kind == kind).count();
        let got = exported.addresses().iter().filter(|a| a.kind == kind).count();
        // Expired assignments are not created; everything else round-trips.
        assert!(got >= declared.min(1), "{kind}: {declared} declared, {got} exported");
    }
    let ledger = Ledger::parse(&std::fs::read_to_string(tmp.path().join("tenantctl.lock")).unwrap()).unwrap();
    let again = plan(&c, &exported, &ledger).await;
    assert_only_adoptions(&again);
    assert!(again.unknown.is_empty(), "{:?}", again.unknown);
    sb.shutdown().await.unwrap();
    (tmp, out)
}

/// Defect 13: update-ring active hours came back as "08:00:00", which
/// validate refuses, so export of the example tenant failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_tenant_exports_validates_and_plans_empty() {
    let (_tmp, out) = export_round_trip(|t| t).await;
    let rings = std::fs::read_to_string(out.join("update-rings.toml")).unwrap();
    assert!(rings.contains("active_hours_start = \"08:00\""), "{rings}");
}

/// Defect 14: a ring with automaticUpdateMode = windowsDefault (a member of
/// the beta enum, which update rings are written through) is declared,
/// applied and exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_default_ring_is_declared_and_exported() {
    let (_tmp, out) = export_round_trip(|t| {
        let declared = "automatic_update_mode = \"autoInstallAtMaintenanceTime\"";
        assert!(t.contains(declared), "the example's rings changed shape");
        t.replacen(declared, "automatic_update_mode = \"windowsDefault\"", 1)
    })
    .await;
    let rings = std::fs::read_to_string(out.join("update-rings.toml")).unwrap();
    assert!(rings.contains("automatic_update_mode = \"windowsDefault\""), "{rings}");
}
