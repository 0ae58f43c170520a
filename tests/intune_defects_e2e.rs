//! Intune policies as Intune holds them: a compliance policy's scheduled
//! actions besides the block action, and assignment filters on targets.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

const TEMPLATE: &str = "7a4b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d";

fn policy(extra: &str) -> schema::DesiredState {
    let text = format!(
        r#"
[group.it]
display_name = "IT"
mail_nickname = "it"

[group.devices]
display_name = "Devices"
mail_nickname = "devices"

[compliance_policy.win]
odata_type = "windows10CompliancePolicy"
display_name = "Windows compliance"
settings = {{ bitLockerEnabled = true }}
assignments = {{ include = ["devices"] }}
{extra}
"#
    );
    schema::load_str(&[("p.toml", &text)]).expect("valid desired state")
}

async fn post(c: &providers::graph::GraphClient, path: &str, body: Value) {
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, path);
    req.body = Some(body);
    c.beta().execute(req).await.expect("POST");
}

/// (actionType, gracePeriodHours) of every live scheduled action.
async fn live_actions(c: &providers::graph::GraphClient, id: &str) -> Vec<(String, u64)> {
    let p = c.beta().get_json(&format!("/deviceManagement/deviceCompliancePolicies/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await.unwrap();
    let mut out: Vec<(String, u64)> = p["scheduledActionsForRule"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scheduledActionConfigurations"].as_array().cloned().unwrap_or_default())
        .map(|a| (a["actionType"].as_str().unwrap().to_string(), a["gracePeriodHours"].as_u64().unwrap()))
        .collect();
    out.sort();
    out
}

/// Defect 8: changing the grace period keeps the notification, lock and
/// retire actions set in Intune (undeclared actions are not managed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_period_change_keeps_undeclared_actions() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    apply(&c, &plan(&c, &policy("grace_period_hours = 0"), &ledger).await, &mut ledger).await;
    let id = ledger.id(&"compliance_policy.win".parse().unwrap()).unwrap().to_string();
    // An Intune administrator adds actions in the portal.
    post(
        &c,
        &format!("/deviceManagement/deviceCompliancePolicies/{id}/scheduleActionsForRules"),
        json!({"deviceComplianceScheduledActionForRules": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
            {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": "", "notificationMessageCCList": []},
            {"actionType": "notification", "gracePeriodHours": 0, "notificationTemplateId": TEMPLATE, "notificationMessageCCList": []},
            {"actionType": "remoteLock", "gracePeriodHours": 72, "notificationTemplateId": "", "notificationMessageCCList": []},
            {"actionType": "retire", "gracePeriodHours": 720, "notificationTemplateId": "", "notificationMessageCCList": []}
        ]}]}),
    )
    .await;
    let st = policy("grace_period_hours = 24");
    let p = plan(&c, &st, &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    let want: Vec<(String, u64)> = vec![("block".into(), 24), ("notification".into(), 0), ("remoteLock".into(), 72), ("retire".into(), 720)];
    assert_eq!(live_actions(&c, &id).await, want, "undeclared actions were dropped");
    assert!(plan(&c, &st, &ledger).await.changes.is_empty());
}

/// Defect 8: actions declared in desired state are created, compared,
/// changed as a whole set, and exported in the same form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_actions_are_applied_compared_and_exported() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut ledger = Ledger::default();
    let declared = |lock: u32| {
        policy(&format!(
            "grace_period_hours = 12\nactions = [\n  {{ type = \"notification\", grace_period_hours = 0, template = \"{TEMPLATE}\", cc = [\"it\"] }},\n  {{ type = \"remoteLock\", grace_period_hours = {lock} }},\n]\n"
        ))
    };
    apply(&c, &plan(&c, &declared(48), &ledger).await, &mut ledger).await;
    let id = ledger.id(&"compliance_policy.win".parse().unwrap()).unwrap().to_string();
    assert_eq!(live_actions(&c, &id).await, vec![("block".to_string(), 12), ("notification".into(), 0), ("remoteLock".into(), 48)]);
    let it = ledger.id(&"group.it".parse().unwrap()).unwrap().to_string();
    let p = c.beta().get_json(&format!("/deviceManagement/deviceCompliancePolicies/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await.unwrap();
    let note = p["scheduledActionsForRule"][0]["scheduledActionConfigurations"].as_array().unwrap().iter().find(|a| a["actionType"] == "notification").cloned().unwrap();
    assert_eq!(note["notificationMessageCCList"], json!([it]));
    assert_eq!(note["notificationTemplateId"], json!(TEMPLATE));
    assert!(plan(&c, &declared(48), &ledger).await.changes.is_empty(), "declared actions re-plan empty");

    let p = plan(&c, &declared(96), &ledger).await;
    assert_eq!(p.changes.len(), 1);
    assert!(p.changes[0].fields.iter().any(|f| f.field.starts_with("scheduledActions")), "{:?}", p.changes[0].fields);
    apply(&c, &p, &mut ledger).await;
    assert_eq!(live_actions(&c, &id).await, vec![("block".to_string(), 12), ("notification".into(), 0), ("remoteLock".into(), 96)]);

    // Export writes them back in desired state's form, and that plans empty.
    let observed = providers::observe::observe_everything(&c).await.unwrap();
    let export = providers::export::export(&observed, &["contoso.onmicrosoft.com".to_string()], opts().now);
    let text = &export.files["compliance.toml"];
    assert!(text.contains("remoteLock") && text.contains(TEMPLATE) && text.contains("cc = [\"it\"]"), "{text}");
    let files: Vec<(&str, &str)> = export.files.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let exported = schema::load_str(&files).expect("the export validates");
    let again = plan(&c, &exported, &export.ledger).await;
    // An export's ledger records no approved state: its first plan
    // ratifies what it adopted (gov18) and sends nothing.
    common::kind::assert_only_adoptions(&again);
}

#[test]
fn declared_actions_are_validated() {
    let bad = |actions: &str| {
        let text = format!("[compliance_policy.win]\nodata_type = \"windows10CompliancePolicy\"\ndisplay_name = \"W\"\nactions = {actions}\n");
        match schema::load_str(&[("p.toml", &text)]) {
            Err(schema::LoadError::Invalid(d)) => d.to_string(),
            other => panic!("{actions} was accepted: {other:?}"),
        }
    };
    assert!(bad("[{ type = \"notification\" }]").contains("needs `template`"));
    assert!(bad("[{ type = \"retire\", template = \"7a4b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d\" }]").contains("only a notification has a template"));
    assert!(bad("[{ type = \"block\" }]").contains("unknown variant"));
    assert!(bad("[{ type = \"retire\", grace_period_hours = 9000 }]").contains("at most 8760"));
    assert!(bad("[{ type = \"notification\", template = \"7a4b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d\", cc = [\"nobody\"] }]").contains("nobody"));
}

async fn new_filter(c: &providers::graph::GraphClient, name: &str) -> String {
    let mut req = providers::graph::GraphRequest::new(providers::graph::Method::POST, "/deviceManagement/assignmentFilters");
    req.body = Some(json!({"displayName": name, "platform": "windows10AndLater", "rule": "(device.deviceOwnership -eq \"Corporate\")"}));
    c.beta().execute(req).await.expect("filter created").body.unwrap()["id"].as_str().unwrap().to_string()
}

/// (groupId, filterId, filterType) of every live assignment target.
async fn targets(c: &providers::graph::GraphClient, id: &str) -> Vec<(String, Value, String)> {
    let list = c.beta().list_all(&format!("/deviceManagement/deviceCompliancePolicies/{id}/assignments")).await.unwrap();
    let mut out: Vec<(String, Value, String)> = list
        .iter()
        .map(|a| {
            let t = &a["target"];
            (t["groupId"].as_str().unwrap_or_default().to_string(), t["deviceAndAppManagementAssignmentFilterId"].clone(), t["deviceAndAppManagementAssignmentFilterType"].as_str().unwrap_or("none").to_string())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The policy assigned as `assignments` (a TOML inline table).
fn filtered(assignments: &str) -> schema::DesiredState {
    let text = format!(
        "[group.it]\ndisplay_name = \"IT\"\nmail_nickname = \"it\"\n\n[group.devices]\ndisplay_name = \"Devices\"\nmail_nickname = \"devices\"\n\n[compliance_policy.win]\nodata_type = \"windows10CompliancePolicy\"\ndisplay_name = \"Windows compliance\"\nsettings = {{ bitLockerEnabled = true }}\nassignments = {assignments}\n"
    );
    schema::load_str(&[("p.toml", &text)]).expect("valid desired state")
}

/// Defect 9: assignment filters are written (by name or id), read back,
/// kept when assignments change, and filtered and unfiltered targets never
/// compare equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_filters_are_written_read_and_compared() {
    let sb = sandbox().await;
    let c = client(&sb);
    let corporate = new_filter(&c, "Corporate laptops").await;
    let kiosks = new_filter(&c, "Kiosks").await;
    let mut ledger = Ledger::default();
    let by_name = filtered(r#"{ include = ["devices"], filters = { devices = { filter = "Corporate laptops", mode = "include" } } }"#);
    apply(&c, &plan(&c, &by_name, &ledger).await, &mut ledger).await;
    let id = ledger.id(&"compliance_policy.win".parse().unwrap()).unwrap().to_string();
    let devices = ledger.id(&"group.devices".parse().unwrap()).unwrap().to_string();
    let it = ledger.id(&"group.it".parse().unwrap()).unwrap().to_string();
    assert_eq!(targets(&c, &id).await, vec![(devices.clone(), json!(corporate), "include".to_string())]);
    assert!(plan(&c, &by_name, &ledger).await.changes.is_empty(), "a filter named by display name re-plans empty");
    let by_id = filtered(&format!(r#"{{ include = ["devices"], filters = {{ devices = {{ filter = "{corporate}", mode = "include" }} }} }}"#));
    // Named by id instead of by name: the same filter, so nothing is
    // written; desired state's text moved from what was approved, which
    // the plan only ratifies (gov12).
    let p = plan(&c, &by_id, &ledger).await;
    assert!(p.changes.iter().all(engine::governance::ratify::is_ratify), "a filter named by id writes nothing: {:#?}", p.changes);

    // An unfiltered declaration does not match the filtered assignment.
    let unfiltered = filtered(r#"{ include = ["devices"] }"#);
    let p = plan(&c, &unfiltered, &ledger).await;
    assert_eq!(p.changes.len(), 1, "filtered and unfiltered compared equal");
    assert_eq!(p.changes[0].action, Action::Assign);

    // Adding a group keeps the filter on the other (/assign replaces all).
    let more = filtered(r#"{ include = ["devices", "it"], filters = { devices = { filter = "Corporate laptops", mode = "include" } } }"#);
    apply(&c, &plan(&c, &more, &ledger).await, &mut ledger).await;
    let mut want = vec![(devices.clone(), json!(corporate), "include".to_string()), (it.clone(), Value::Null, "none".to_string())];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(targets(&c, &id).await, want, "changing assignments stripped the filter");

    // A filter changed in Intune is drift.
    post(
        &c,
        &format!("/deviceManagement/deviceCompliancePolicies/{id}/assign"),
        json!({"assignments": [
            {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": devices, "deviceAndAppManagementAssignmentFilterId": kiosks, "deviceAndAppManagementAssignmentFilterType": "exclude"}},
            {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": it}}
        ]}),
    )
    .await;
    let p = plan(&c, &more, &ledger).await;
    assert_eq!(p.changes.len(), 1, "a changed filter was not seen");
    apply(&c, &p, &mut ledger).await;
    assert_eq!(targets(&c, &id).await, want);

    // Export writes the filter as an assignment_filter, names it by key in
    // the assignment, and plans empty.
    let observed = providers::observe::observe_everything(&c).await.unwrap();
    let export = providers::export::export(&observed, &["contoso.onmicrosoft.com".to_string()], opts().now);
    let text = &export.files["compliance.toml"];
    assert!(text.contains("filter = \"corporate-laptops\"") && text.contains("mode = \"include\""), "{text}");
    let filters = &export.files["assignment-filters.toml"];
    assert!(filters.contains("[assignment_filter.corporate-laptops]") && filters.contains("display_name = \"Corporate laptops\""), "{filters}");
    let files: Vec<(&str, &str)> = export.files.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let exported = schema::load_str(&files).expect("the export validates");
    common::kind::assert_only_adoptions(&plan(&c, &exported, &export.ledger).await);
}

#[test]
fn filters_only_on_included_targets() {
    let bad = |assignments: &str| {
        let text = format!("[group.g]\ndisplay_name = \"G\"\nmail_nickname = \"g\"\n\n[compliance_policy.win]\nodata_type = \"windows10CompliancePolicy\"\ndisplay_name = \"W\"\nassignments = {assignments}\n");
        match schema::load_str(&[("p.toml", &text)]) {
            Err(schema::LoadError::Invalid(d)) => d.to_string(),
            other => panic!("{assignments} was accepted: {other:?}"),
        }
    };
    assert!(bad(r#"{ exclude = ["g"], filters = { g = { filter = "F", mode = "include" } } }"#).contains("no filters on exclusions"));
    assert!(bad(r#"{ filters = { all_devices = { filter = "F", mode = "include" } } }"#).contains("names no included target"));
    assert!(bad(r#"{ include = ["g"], filters = { g = { filter = "F", mode = "sometimes" } } }"#).contains("unknown variant"));
}
