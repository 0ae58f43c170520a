//! The Graph calls apply makes for each kind of change, checked from the
//! sandbox's request accounting and the resulting live state.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::Value;

fn writes(sb: &sandbox::SandboxHandle) -> Vec<String> {
    let mut w: Vec<String> = sb
        .request_counts()
        .requests
        .into_iter()
        .filter(|(k, _)| !k.starts_with("GET") && !k.contains("oauth2") && !k.contains("$batch"))
        .map(|(k, n)| format!("{k} x{n}"))
        .collect();
    w.sort();
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_uses_the_documented_graph_calls() {
    let sb = sandbox().await;
    let client = client(&sb);
    let mut state = example();
    let mut ledger = Ledger::default();
    apply(&client, &plan(&client, &state, &ledger).await, &mut ledger).await;

    // A new grace period goes through scheduleActionsForRules, not PATCH.
    state.compliance_policy.get_mut("windows-baseline").unwrap().value.grace_period_hours = 48;
    // The Test ring is also assigned to the First ring's devices.
    state.update_ring.get_mut("test").unwrap().value.assignments.include.push("mwd-first".into());
    // Megan joins the admins group.
    state.group.get_mut("intune-admins").unwrap().value.members.as_mut().unwrap().push("megan".into());
    let p = plan(&client, &state, &ledger).await;
    let actions: Vec<(String, Action)> = p.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        vec![
            ("group.intune-admins".to_string(), Action::Update),
            ("compliance_policy.windows-baseline".to_string(), Action::Update),
            ("update_ring.test".to_string(), Action::Assign),
        ],
        "{}",
        engine::render::text(&p, false)
    );
    sb.reset_counts();
    apply(&client, &p, &mut ledger).await;
    assert_eq!(
        writes(&sb),
        vec![
            "POST /beta/deviceManagement/deviceCompliancePolicies/{id}/scheduleActionsForRules x1".to_string(),
            "POST /beta/deviceManagement/deviceConfigurations/{id}/assign x1".to_string(),
            "POST /v1.0/groups/{id}/members/$ref x1".to_string(),
        ],
    );
    // /assign replaced the whole set: both ring groups, nothing else.
    let ring = ledger.id(&"update_ring.test".parse().unwrap()).unwrap().to_string();
    let assigned = client.beta().list_all(&format!("/deviceManagement/deviceConfigurations/{ring}/assignments")).await.unwrap();
    let mut groups: Vec<String> = assigned.iter().filter_map(|a| a.pointer("/target/groupId").and_then(Value::as_str).map(str::to_string)).collect();
    groups.sort();
    let mut expected = vec![
        ledger.id(&"group.mwd-test".parse().unwrap()).unwrap().to_string(),
        ledger.id(&"group.mwd-first".parse().unwrap()).unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(groups, expected);
    assert!(plan(&client, &state, &ledger).await.is_empty());

    // A settings change is a PATCH that carries @odata.type (Intune refuses
    // one without it, so success proves it was sent).
    state.update_ring.get_mut("broad").unwrap().value.quality_updates_deferral_period_in_days = Some(10);
    let p = plan(&client, &state, &ledger).await;
    sb.reset_counts();
    apply(&client, &p, &mut ledger).await;
    assert_eq!(writes(&sb), vec!["PATCH /beta/deviceManagement/deviceConfigurations/{id} x1".to_string()]);

    // Deleting an Autopilot profile removes its assignments first.
    state.autopilot_profile.clear();
    let mut model_gov = state.governance.clone().unwrap();
    model_gov.value.prune.kinds.push("autopilot_profile".into());
    state.governance = Some(model_gov);
    let p = plan(&client, &state, &ledger).await;
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action, Action::Delete);
    sb.reset_counts();
    apply(&client, &p, &mut ledger).await;
    assert_eq!(
        writes(&sb),
        vec![
            "DELETE /beta/deviceManagement/windowsAutopilotDeploymentProfiles/{id} x1".to_string(),
            "DELETE /beta/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments/{id} x1".to_string(),
        ]
    );
    assert!(ledger.id(&"autopilot_profile.modern-workplace".parse().unwrap()).is_none());
    assert!(plan(&client, &state, &ledger).await.is_empty());
    sb.shutdown().await.unwrap();
}
