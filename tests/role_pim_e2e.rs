//! Role assignments as Entra holds them: without Entra ID P2 (no PIM),
//! with PIM activations that show in /roleAssignments, and PIM requests
//! whose first response was lost.

mod common;

use common::*;
use engine::{Action, Ledger};
use sandbox::{Licences, Sandbox, SandboxConfig};
use serde_json::{json, Value};

const BASE: &str = r#"
[tenant]
primary_domain = "contoso.onmicrosoft.com"

[user.adele]
user_principal_name = "adele@contoso.onmicrosoft.com"
display_name = "Adele"
mail_nickname = "adele"

[role_assignment.adele-reader]
principal = "adele"
role = "Global Reader"
assignment = "active"
"#;

const ELIGIBLE: &str = r#"
[role_assignment.adele-intune]
principal = "adele"
role = "Intune Administrator"
assignment = "eligible"
expires = 2027-03-31T00:00:00Z
"#;

fn state(extra: &str) -> schema::DesiredState {
    schema::load_str(&[("t.toml", &format!("{BASE}{extra}"))]).expect("valid desired state")
}

async fn sandbox_with(licences: Licences) -> sandbox::SandboxHandle {
    Sandbox::start(
        SandboxConfig::in_memory()
            .with_domain("contoso.onmicrosoft.com")
            .with_licences(licences),
    )
    .await
    .expect("sandbox starts")
}

fn try_plan(
    observed: &engine::ObservedState,
    state: &schema::DesiredState,
    ledger: &Ledger,
) -> Result<engine::Plan, engine::plan::PlanError> {
    engine::plan(
        &providers::kinds::desired_model(state),
        observed,
        ledger,
        &opts(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_sandbox_answers_pim_requests_as_graph_does_without_p2() {
    let sb = sandbox_with(Licences::P1).await;
    let c = client(&sb);
    for path in [
        "/roleManagement/directory/roleEligibilitySchedules",
        "/roleManagement/directory/roleAssignmentScheduleInstances",
    ] {
        let e = c.v1().list_all(path).await.expect_err("PIM needs P2");
        assert_eq!(e.code(), Some("AadPremiumLicenseRequired"), "{e}");
    }
    // Plain role assignments need no P2.
    c.v1()
        .list_all("/roleManagement/directory/roleAssignments")
        .await
        .expect("roleAssignments are read on P1");
    // The admin API switches the tier.
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{}/licences", sb.admin_url()))
        .json(&json!({"licences": "p2"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    c.v1()
        .list_all("/roleManagement/directory/roleEligibilitySchedules")
        .await
        .expect("PIM on P2");
}

/// Defect 1: on a tenant without P2 the PIM lists answer 400
/// AadPremiumLicenseRequired. Permanent assignments are still read and
/// applied; only eligible or time-boxed ones are refused, naming the
/// licence; and the plan says once that PIM is unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_p2_permanent_assignments_work_and_only_pim_ones_are_refused() {
    let sb = sandbox_with(Licences::P1).await;
    let c = client(&sb);
    let st = state("");
    let mut ledger = Ledger::default();
    let p = plan(&c, &st, &ledger).await;
    assert!(p.unknown.is_empty(), "nothing is unknown: {:?}", p.unknown);
    assert!(p.changes.iter().any(
        |ch| ch.address.to_string() == "role_assignment.adele-reader"
            && ch.action == Action::Create
    ));
    assert_eq!(
        p.warnings
            .iter()
            .filter(|w| w.contains("Microsoft Entra ID P2"))
            .count(),
        1,
        "{:?}",
        p.warnings
    );
    apply(&c, &p, &mut ledger).await;
    let again = plan(&c, &st, &ledger).await;
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    let with_pim = state(ELIGIBLE);
    let desired = providers::kinds::desired_model(&with_pim);
    let observed = providers::observe::observe(&c, &desired, &ledger)
        .await
        .expect("read");
    // Refused, not fatal: the rest of the plan is planned (access5).
    let p = try_plan(&observed, &with_pim, &ledger).expect("the rest is planned");
    let e: String = p.refused.iter().map(|r| format!("{}: {}\n", r.address, r.reason)).collect();
    assert!(
        e.contains("role_assignment.adele-intune")
            && e.contains("Microsoft Entra ID P2")
            && e.contains("Governance"),
        "{e}"
    );
    assert!(
        !e.contains("adele-reader"),
        "only what needs PIM is refused: {e}"
    );
    assert!(
        p.changes.iter().all(|c| c.address.to_string() != "role_assignment.adele-intune"),
        "{:?}",
        p.changes
    );
}

/// Defect 1, export: a tenant without P2 exports its plain assignments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_p2_export_reads_plain_assignments() {
    let sb = sandbox_with(Licences::P1).await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let p = plan(&c, &state(""), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let observed = providers::observe::observe_everything(&c)
        .await
        .expect("export reads a P1 tenant");
    assert_eq!(observed.objects[&schema::Kind::RoleAssignment].len(), 1);
    assert!(observed
        .warnings
        .iter()
        .any(|w| w.contains("Microsoft Entra ID P2")));
}

/// Activates an eligible assignment as its holder would (selfActivate).
async fn activate(c: &providers::graph::GraphClient, principal: &str, role: &str) {
    let body = json!({
        "action": "selfActivate", "principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/",
        "justification": "incident", "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT4H"}}
    });
    let mut req = providers::graph::GraphRequest::new(
        providers::graph::Method::POST,
        "/roleManagement/directory/roleAssignmentScheduleRequests",
    );
    req.body = Some(body);
    c.v1().execute(req).await.expect("activation");
}

const INTUNE_ADMIN: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

/// Defect 7: an activation shows in /roleAssignments (as in Entra) but is
/// never read as a permanent assignment: not by export, not adopted by a
/// create, not satisfying a desired permanent assignment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_is_never_a_permanent_assignment() {
    let sb = sandbox_with(Licences::P2).await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let st = state(ELIGIBLE);
    let p = plan(&c, &st, &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let adele = ledger
        .id(&"user.adele".parse().unwrap())
        .unwrap()
        .to_string();
    activate(&c, &adele, INTUNE_ADMIN).await;
    // The sandbox models Entra: the activation is an "Activated" schedule
    // and shows in /roleAssignments while it lasts.
    let schedules = c
        .v1()
        .list_all("/roleManagement/directory/roleAssignmentScheduleInstances")
        .await
        .unwrap();
    assert!(schedules
        .iter()
        .any(|s| s["assignmentType"] == "Activated" && s["principalId"] == json!(adele)));
    let plain = c
        .v1()
        .list_all("/roleManagement/directory/roleAssignments")
        .await
        .unwrap();
    assert!(plain
        .iter()
        .any(|a| a["roleDefinitionId"] == INTUNE_ADMIN && a["principalId"] == json!(adele)));

    // Export: only the eligible assignment and the permanent one.
    let observed = providers::observe::observe_everything(&c).await.unwrap();
    let roles: Vec<(String, Value)> = observed.objects[&schema::Kind::RoleAssignment]
        .iter()
        .map(|o| {
            (
                o.props["role"].as_str().unwrap().to_string(),
                o.props["assignment"].clone(),
            )
        })
        .collect();
    assert!(
        !roles.contains(&("Intune Administrator".into(), json!("active"))),
        "the activation was read as an assignment: {roles:?}"
    );
    assert!(roles.contains(&("Intune Administrator".into(), json!("eligible"))));

    // A desired permanent assignment of the activated role is not satisfied
    // by the activation, and its create does not adopt it.
    let permanent = state(&format!("{ELIGIBLE}\n[role_assignment.adele-intune-permanent]\nprincipal = \"adele\"\nrole = \"Intune Administrator\"\nassignment = \"active\"\n"));
    let p = plan(&c, &permanent, &ledger).await;
    let create = p
        .changes
        .iter()
        .find(|ch| ch.address.to_string() == "role_assignment.adele-intune-permanent")
        .expect("the permanent assignment is planned");
    assert_eq!(create.action, Action::Create);
    let before: Vec<String> = plain
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now);
    let ids = p.ids.clone();
    let outcome = engine::apply::Executor::execute(&exec, create, &ids).await;
    // The sandbox, like Entra, refuses a second active assignment of a role
    // held by activation; what matters is that the activation is not adopted.
    if let Ok(o) = outcome {
        assert!(
            !before.contains(o.id.as_ref().unwrap()),
            "the create adopted the activation {:?}",
            o.id
        );
        assert!(o.note.is_none(), "{:?}", o.note);
    }
}

/// A PIM request sent straight to Graph (another admin, or a first
/// attempt whose response was lost).
async fn pim(c: &providers::graph::GraphClient, body: Value) -> Value {
    let mut req = providers::graph::GraphRequest::new(
        providers::graph::Method::POST,
        "/roleManagement/directory/roleAssignmentScheduleRequests",
    );
    req.body = Some(body);
    c.v1()
        .execute(req)
        .await
        .expect("PIM request")
        .body
        .unwrap_or(Value::Null)
}

async fn schedules_of(c: &providers::graph::GraphClient, principal: &str) -> Vec<Value> {
    let all = c
        .v1()
        .list_all("/roleManagement/directory/roleAssignmentSchedules")
        .await
        .unwrap();
    all.into_iter()
        .filter(|s| s["principalId"] == json!(principal))
        .collect()
}

async fn apply_one(
    c: &providers::graph::GraphClient,
    change: &engine::Change,
    ids: &std::collections::BTreeMap<schema::Address, String>,
) -> Result<engine::apply::Outcome, engine::apply::ExecError> {
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, opts().now);
    engine::apply::Executor::execute(&exec, change, ids).await
}

/// Defect 11: an active assignment that exists only as a PIM schedule (not
/// yet mirrored into /roleAssignments) is removed through PIM; a 404 from
/// DELETE /roleAssignments/{scheduleId} is not success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_assignment_not_yet_in_role_assignments_removes_its_schedule() {
    let sb = sandbox_with(Licences::P2).await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &state(""), &ledger).await, &mut ledger).await;
    let adele = ledger
        .id(&"user.adele".parse().unwrap())
        .unwrap()
        .to_string();
    // Someone grants Security Reader through PIM with no end: in the
    // sandbox, as in Entra before replication, it is a schedule only.
    pim(&c, json!({"action": "adminAssign", "principalId": adele, "roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509", "directoryScopeId": "/",
        "justification": "x", "scheduleInfo": {"expiration": {"type": "noExpiration"}}}))
    .await;
    // Desired state declares it, already expired: the plan deletes it.
    let st = state("\n[role_assignment.adele-security]\nprincipal = \"adele\"\nrole = \"Security Reader\"\nassignment = \"active\"\nexpires = 2026-01-01T00:00:00Z\n");
    let p = plan(&c, &st, &ledger).await;
    let del = p
        .changes
        .iter()
        .find(|ch| ch.address.to_string() == "role_assignment.adele-security")
        .expect("planned");
    assert_eq!(del.action, Action::Delete, "{del:?}");
    apply_one(&c, del, &p.ids)
        .await
        .expect("the delete succeeds");
    let left: Vec<Value> = schedules_of(&c, &adele)
        .await
        .into_iter()
        .filter(|s| s["roleDefinitionId"] == "5d6b6bb7-de71-4623-b4af-96380a352509")
        .collect();
    assert!(
        left.is_empty(),
        "the delete reported success but the schedule is still there: {left:?}"
    );
}

/// Defect 15: an adminRemove or adminUpdate whose first attempt landed but
/// whose response was lost comes back 400 when retried; the executor checks
/// the live schedule and counts it as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pim_requests_whose_first_attempt_landed_are_done() {
    let sb = sandbox_with(Licences::P2).await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let timeboxed = |end: &str| {
        state(&format!("\n[role_assignment.adele-users]\nprincipal = \"adele\"\nrole = \"User Administrator\"\nassignment = \"active\"\nexpires = {end}\n"))
    };
    apply(
        &c,
        &plan(&c, &timeboxed("2027-02-01T00:00:00Z"), &ledger).await,
        &mut ledger,
    )
    .await;
    let adele = ledger
        .id(&"user.adele".parse().unwrap())
        .unwrap()
        .to_string();
    const USER_ADMIN: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    let request = |action: &str, end: &str| {
        json!({"action": action, "principalId": adele, "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/", "justification": "x",
            "scheduleInfo": {"startDateTime": "2026-11-23T12:00:00Z", "expiration": {"type": "afterDateTime", "endDateTime": end}}})
    };

    // adminUpdate: the first attempt moved the end; the retry is refused.
    let p = plan(&c, &timeboxed("2027-03-01T00:00:00Z"), &ledger).await;
    let update = p
        .changes
        .iter()
        .find(|ch| ch.address.to_string() == "role_assignment.adele-users")
        .expect("planned");
    assert_eq!(update.action, Action::Update);
    pim(&c, request("adminUpdate", "2027-03-01T00:00:00Z")).await;
    apply_one(&c, update, &p.ids)
        .await
        .expect("a retried adminUpdate that had landed is done");

    // adminRemove: the first attempt removed it; the retry is refused.
    let p = plan(&c, &timeboxed("2026-01-01T00:00:00Z"), &ledger).await;
    let remove = p
        .changes
        .iter()
        .find(|ch| ch.address.to_string() == "role_assignment.adele-users")
        .expect("planned");
    assert_eq!(remove.action, Action::Delete);
    pim(&c, request("adminRemove", "2027-03-01T00:00:00Z")).await;
    apply_one(&c, remove, &p.ids)
        .await
        .expect("a retried adminRemove that had landed is done");

    // A 400 that is not explained by the live schedule is still an error.
    let p = plan(&c, &timeboxed("2027-04-01T00:00:00Z"), &ledger).await;
    let create = p
        .changes
        .iter()
        .find(|ch| ch.address.to_string() == "role_assignment.adele-users")
        .expect("planned");
    assert_eq!(create.action, Action::Create);
    let mut update = create.clone();
    update.action = Action::Update;
    update.id = Some("nothing".into());
    assert!(
        apply_one(&c, &update, &p.ids).await.is_err(),
        "an update of an assignment that does not exist is not done"
    );
}

/// Defect 1, import: on a tenant without P2 an id that is not a plain
/// assignment is "no such object", not a licence error from the PIM lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_p2_import_looks_up_plain_assignments_only() {
    let sb = sandbox_with(Licences::P1).await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &state(""), &ledger).await, &mut ledger).await;
    let id = ledger.id(&"role_assignment.adele-reader".parse().unwrap()).unwrap().to_string();
    let found = providers::apply::read_object(&c, schema::Kind::RoleAssignment, &id).await.expect("read");
    assert!(found.is_some());
    let missing = providers::apply::read_object(&c, schema::Kind::RoleAssignment, "no-such-assignment").await.expect("a missing id is not an error on P1");
    assert!(missing.is_none());
}
