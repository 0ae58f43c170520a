//! Endpoint security policies from their templates, through the binary:
//! one per family (antivirus, firewall, disk encryption, attack surface
//! reduction, account protection with Windows LAPS, endpoint detection and
//! response), each named by its template's display name, created with the
//! template's defaults and references, assigned, re-planned empty; an
//! assignment change is an assignment; export re-imports empty; and a
//! template-based policy rolled out ring by ring gets one copy per ring,
//! the later rings waiting for the first to soak.

mod common;

use common::baselines::*;
use common::*;
use engine::Ledger;
use serde_json::{json, Value};

const D: &str = "device_vendor_msft_policy_config_defender_";

fn families() -> String {
    format!(
        r#"
[settings_catalog.av]
name = "Contoso Defender Antivirus"
template = "Microsoft Defender Antivirus"
assignments = {{ include = ["mwd-test"] }}
settings = {{ {D}avgcpuloadfactor = 30 }}

[settings_catalog.firewall]
name = "Contoso Firewall"
template = "Windows Firewall"
assignments = {{ include = ["mwd-test"] }}

[settings_catalog.bitlocker]
name = "Contoso BitLocker"
template = "BitLocker"
assignments = {{ include = ["mwd-test"] }}

[settings_catalog.asr]
name = "Contoso ASR rules"
template = "Attack Surface Reduction Rules"
assignments = {{ include = ["mwd-test"] }}
settings = {{ {D}attacksurfacereductionrules_blockexecutablecontentfromemailclientandwebmail = "{D}attacksurfacereductionrules_blockexecutablecontentfromemailclientandwebmail_audit" }}

[settings_catalog.laps]
name = "Contoso Windows LAPS"
template = "Local admin password solution (Windows LAPS)"
assignments = {{ include = ["mwd-test"] }}
settings = {{ device_vendor_msft_laps_policies_passwordagedays_aad = 14 }}

[settings_catalog.edr]
name = "Contoso EDR"
template = "Endpoint detection and response"
assignments = {{ include = ["mwd-test"] }}
"#
    )
}

fn run(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, args: &[&str]) -> String {
    let out = cli(sb, cwd, args);
    assert!(out.status.success(), "{args:?} failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json_plan(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, dst: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["plan", dst.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&run(sb, cwd, &args)).expect("a JSON plan")
}

fn ledger_of(dir: &std::path::Path) -> Ledger {
    Ledger::parse(&std::fs::read_to_string(dir.join("tenantctl.lock")).expect("a ledger")).expect("the ledger parses")
}

/// The changes of this test's policies (the example has Settings Catalog policies of its own).
fn of<'a>(plan: &'a Value, prefix: &str) -> Vec<&'a Value> {
    const MINE: [&str; 6] = ["av", "firewall", "bitlocker", "asr", "laps", "edr"];
    plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["address"].as_str().is_some_and(|a| a.starts_with(prefix) && MINE.iter().any(|k| a.strip_prefix("settings_catalog.").is_some_and(|rest| rest == *k || rest.starts_with(&format!("{k}@"))))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_policy_per_endpoint_security_family_is_created_assigned_and_round_trips() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (dir, dst) = scratch(&families());
    let cwd = dir.path();
    let d = dst.to_str().unwrap();

    let p = json_plan(&sb, cwd, &dst, &[]);
    let creates = of(&p, "settings_catalog.");
    assert_eq!(creates.len(), 6, "{p:#}");
    let laps = creates.iter().find(|c| c["address"] == json!("settings_catalog.laps")).unwrap();
    assert!(laps["notes"].to_string().contains("device_vendor_msft_laps_policies_passwordcomplexity"), "the LAPS defaults are named: {laps:#}");
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let ledger = ledger_of(cwd);
    let test_group = ledger.id(&"group.mwd-test".parse().unwrap()).unwrap().to_string();
    for (key, family, settings) in [("av", "endpointSecurityAntivirus", 3), ("firewall", "endpointSecurityFirewall", 3), ("bitlocker", "endpointSecurityDiskEncryption", 2), ("asr", "endpointSecurityAttackSurfaceReduction", 2), ("laps", "endpointSecurityAccountProtection", 4), ("edr", "endpointSecurityEndpointDetectionAndResponse", 1)] {
        let (id, live) = live_policy(&c, &ledger, &format!("settings_catalog.{key}")).await;
        assert_eq!(live["templateReference"]["templateFamily"], json!(family), "{key}: {live:#}");
        let written = live_settings(&c, &id).await;
        assert_eq!(written.len(), settings, "{key}: {written:#?}");
        let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}/assignments")).await.unwrap();
        assert_eq!(assigned["value"][0]["target"]["groupId"], json!(test_group), "{key}: {assigned}");
    }
    let (laps_id, _) = live_policy(&c, &ledger, "settings_catalog.laps").await;
    let laps_settings = live_settings(&c, &laps_id).await;
    assert_eq!(instance(&laps_settings, "device_vendor_msft_laps_policies_passwordagedays_aad")["simpleSettingValue"]["value"], json!(14));
    assert_eq!(instance(&laps_settings, "device_vendor_msft_laps_policies_passwordlength")["simpleSettingValue"]["value"], json!(14), "the template's default");
    let out = cli(&sb, cwd, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Assignment change: LAPS moves to the First ring.
    let moved = families().replace(
        "template = \"Local admin password solution (Windows LAPS)\"\nassignments = { include = [\"mwd-test\"] }",
        "template = \"Local admin password solution (Windows LAPS)\"\nassignments = { include = [\"mwd-first\"] }",
    );
    assert_ne!(moved, families());
    std::fs::write(dst.join("baselines.toml"), &moved).unwrap();
    let p = json_plan(&sb, cwd, &dst, &[]);
    let changes = of(&p, "settings_catalog.");
    assert_eq!(changes.len(), 1, "{p:#}");
    assert_eq!(changes[0]["address"], json!("settings_catalog.laps"));
    assert_eq!(changes[0]["action"], json!("assign"));
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let first = ledger.id(&"group.mwd-first".parse().unwrap()).unwrap().to_string();
    let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{laps_id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(first), "{assigned}");

    // Export and re-import: empty.
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("exported");
    run(&sb, tmp.path(), &["export", "--out", out_dir.to_str().unwrap()]);
    let exported = schema::load(&out_dir).expect("the export loads");
    // These six and the example's baseline and LAPS policy.
    assert_eq!(exported.settings_catalog.values().filter(|p| p.value.template.is_some()).count(), 8);
    let again = plan(&c, &exported, &ledger_of(tmp.path())).await;
    assert_only_adoptions(&again);
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_security_policy_rolls_out_ring_by_ring() {
    let sb = sandbox().await;
    let c = client(&sb);
    let policy = format!(
        r#"
[settings_catalog.av]
name = "Contoso Defender Antivirus"
template = "Microsoft Defender Antivirus"
rollout = {{ rings = ["mwd-test", "mwd-first"], soak = "48h" }}
settings = {{ {D}avgcpuloadfactor = 30 }}
"#
    );
    let (dir, dst) = scratch(&policy);
    let cwd = dir.path();
    let d = dst.to_str().unwrap();
    let p = json_plan(&sb, cwd, &dst, &[]);
    let changes = of(&p, "settings_catalog.");
    assert_eq!(changes.iter().map(|c| c["address"].as_str().unwrap()).collect::<Vec<_>>(), ["settings_catalog.av@mwd-test"], "{p:#}");
    assert_eq!(p["rollout"][0]["address"], json!("settings_catalog.av@mwd-first"), "{:#}", p["rollout"]);
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let (_, live) = live_policy(&c, &ledger_of(cwd), "settings_catalog.av@mwd-test").await;
    assert_eq!(live["name"], json!("Contoso Defender Antivirus [mwd-test]"));
    // The next ring waits for the soak; forced, it is created too.
    let p = json_plan(&sb, cwd, &dst, &[]);
    assert!(of(&p, "settings_catalog.").is_empty() && p["rollout"][0]["address"] == json!("settings_catalog.av@mwd-first"), "{p:#}");
    run(&sb, cwd, &["apply", d, "--auto-approve", "--force-rollout"]);
    let (id, live) = live_policy(&c, &ledger_of(cwd), "settings_catalog.av@mwd-first").await;
    assert_eq!(live["templateReference"]["templateFamily"], json!("endpointSecurityAntivirus"));
    let first = ledger_of(cwd).id(&"group.mwd-first".parse().unwrap()).unwrap().to_string();
    let assigned = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}/assignments")).await.unwrap();
    assert_eq!(assigned["value"][0]["target"]["groupId"], json!(first), "{assigned}");
    let out = cli(&sb, cwd, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}
