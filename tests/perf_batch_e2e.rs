//! Request counts of the writes and reads issue 13 left unbatched: the
//! create lookups and writes of role assignments (permanent ones and PIM
//! schedule requests) ride in `$batch` calls with the other changes' when
//! apply batches, and the Autopilot profiles' assignments are read 20 to a
//! `$batch`, never one GET per profile. Counts come from the sandbox's
//! accounting; nothing here is timed.

mod common;

use std::time::Duration;

use common::*;
use engine::apply::{ApplyOptions, Status};
use engine::Ledger;

fn item(counts: &sandbox::RequestCounts, key: &str) -> u64 {
    counts.batch_items.get(key).copied().unwrap_or(0)
}

/// `users` users, each given User Administrator permanently, and the
/// first `eligible` of them Helpdesk Administrator as eligible (a PIM
/// eligibility schedule request).
fn desired(users: usize, eligible: usize) -> schema::DesiredState {
    let mut text = String::new();
    for u in 0..users {
        text.push_str(&format!("[user.u{u:03}]\nuser_principal_name = \"u{u:03}@contoso.onmicrosoft.com\"\ndisplay_name = \"User {u}\"\nmail_nickname = \"u{u:03}\"\n\n"));
        text.push_str(&format!("[role_assignment.ua{u:03}]\nprincipal = \"u{u:03}\"\nrole = \"User Administrator\"\n\n"));
    }
    for u in 0..eligible {
        text.push_str(&format!(
            "[role_assignment.he{u:03}]\nprincipal = \"u{u:03}\"\nrole = \"Helpdesk Administrator\"\nassignment = \"eligible\"\nexpires = 2027-03-31T00:00:00Z\njustification = \"support rota\"\n\n"
        ));
    }
    schema::load_str(&[("state.toml", &text)]).expect("the generated desired state is valid")
}

/// 30 permanent role assignments and 6 eligible ones: every create lookup
/// (`roleAssignments`, `roleAssignmentSchedules` and `roleEligibilitySchedules`
/// filtered by principal) and every write (`POST roleAssignments`, `POST
/// roleEligibilityScheduleRequests`) rides in a `$batch`; not one goes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_assignment_lookups_and_pim_requests_ride_in_batches() {
    let sb = sandbox().await;
    let c = client(&sb);
    let state = desired(30, 6);
    let mut ledger = Ledger::default();
    let plan = plan(&c, &state, &ledger).await;
    assert_eq!(plan.changes.len(), 66);
    sb.reset_counts();
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now)
        .with_create_retry_delay(Duration::from_millis(50))
        .with_batch_linger(Duration::from_millis(300));
    let report = engine::apply::apply(&plan, &mut ledger, &exec, &ApplyOptions { concurrency: 4 * 20, now: "2026-11-23T12:00:00Z".into() }, |_, _| {}).await;
    assert!(report.ok(), "{:#?}", report.results.iter().filter(|r| r.status != Status::Applied).collect::<Vec<_>>());
    let counts = sb.request_counts();
    let role = "/v1.0/roleManagement/directory";
    for key in [
        format!("GET {role}/roleAssignments"),
        format!("GET {role}/roleAssignmentSchedules"),
        format!("GET {role}/roleEligibilitySchedules"),
        format!("POST {role}/roleAssignments"),
        format!("POST {role}/roleEligibilityScheduleRequests"),
    ] {
        assert_eq!(counts.get(&key), 0, "{key} goes in a $batch: {counts:#?}");
    }
    assert_eq!(item(&counts, &format!("POST {role}/roleAssignments")), 30, "{counts:#?}");
    assert_eq!(item(&counts, &format!("POST {role}/roleEligibilityScheduleRequests")), 6, "{counts:#?}");
    // Each permanent create looks up the principal's activations and its
    // assignments; each eligible one its activations and eligibilities.
    assert_eq!(item(&counts, &format!("GET {role}/roleAssignmentSchedules")), 36, "{counts:#?}");
    assert_eq!(item(&counts, &format!("GET {role}/roleAssignments")), 30, "{counts:#?}");
    assert_eq!(item(&counts, &format!("GET {role}/roleEligibilitySchedules")), 6, "{counts:#?}");
    // 30 users (lookups, creates) and 36 assignments (principal reads,
    // two lookups, creates) make 30 x 2 + 36 x 4 = 204 items: 11 full
    // batches at best; a few more for what is not yet due together.
    let batches = counts.get("POST /v1.0/$batch");
    assert!((11..=24).contains(&batches), "{batches} $batch calls: {counts:#?}");
    assert!(counts.requests.iter().filter(|(k, _)| !k.contains("$batch") && !k.contains("oauth2")).all(|(_, n)| *n == 0), "only $batch calls: {counts:#?}");
    // The tenant holds what was declared: a second plan is empty.
    let again = common::plan(&c, &state, &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);
    sb.shutdown().await.expect("the sandbox stops");
}

/// 45 Autopilot profiles: their assignments are read in 3 `$batch` calls
/// (20 + 20 + 5), not 45 GETs, beside the listings' own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopilot_assignments_are_read_twenty_to_a_batch() {
    let sb = sandbox().await;
    let c = client(&sb);
    let beta = c.beta();
    for i in 0..45 {
        let body = serde_json::json!({
            "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
            "displayName": format!("Profile {i:02}"),
            "deviceNameTemplate": "MWD-%RAND:7%",
        });
        beta.post_json("/deviceManagement/windowsAutopilotDeploymentProfiles", body).await.expect("the profile is created");
    }
    let mut text = String::new();
    for i in 0..45 {
        text.push_str(&format!("[autopilot_profile.p{i:02}]\ndisplay_name = \"Profile {i:02}\"\njoin_type = \"entra\"\ndevice_name_template = \"MWD-%RAND:7%\"\n\n"));
    }
    let state = schema::load_str(&[("state.toml", &text)]).expect("valid desired state");
    sb.reset_counts();
    let p = plan(&c, &state, &Ledger::default()).await;
    let counts = sb.request_counts();
    let assignments = "GET /beta/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments";
    assert_eq!(counts.get(assignments), 0, "{counts:#?}");
    assert_eq!(item(&counts, assignments), 45, "{counts:#?}");
    // The listings (the profiles, and the Intune role assignments read for
    // out-of-band admins wherever Intune is managed) ride in one more.
    assert_eq!(counts.get("POST /beta/$batch"), 4, "{counts:#?}");
    let profiles = "GET /beta/deviceManagement/windowsAutopilotDeploymentProfiles";
    assert_eq!(counts.get(profiles) + item(&counts, profiles), 1, "{counts:#?}");
    assert!(p.changes.iter().all(|c| c.action != engine::Action::Create), "every profile is matched: {:#?}", p.changes);
    sb.shutdown().await.expect("the sandbox stops");
}
