//! Groups and membership references, role definitions and assignments, and
//! PIM schedule requests, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

fn ref_body(_env: &Env, id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

#[tokio::test]
async fn group_membership_refs_and_errors() {
    let env = start().await;
    let g = env.create_group("mmd-test").await;
    let gid = g["id"].as_str().unwrap();
    assert_eq!(g["groupTypes"], json!([]));
    let u = env.create_user("member1").await;
    let uid = u["id"].as_str().unwrap();

    let add = env.post(&format!("/v1.0/groups/{gid}/members/$ref"), ref_body(&env, uid)).await;
    assert_eq!(add.status, 204, "{}", add.body);
    let dup = env.post(&format!("/v1.0/groups/{gid}/members/$ref"), ref_body(&env, uid)).await;
    assert_graph_error(&dup, 400, "Request_BadRequest");
    assert_eq!(dup.msg(), "One or more added object references already exist for the following modified properties: 'members'.");
    let missing = env.post(&format!("/v1.0/groups/{gid}/members/$ref"), ref_body(&env, "00000000-0000-0000-0000-000000000001")).await;
    assert_graph_error(&missing, 404, "Request_ResourceNotFound");

    let members = env.get(&format!("/v1.0/groups/{gid}/members")).await;
    assert_eq!(members.body["value"][0]["id"], json!(uid));
    assert_eq!(members.body["value"][0]["@odata.type"], "#microsoft.graph.user");
    let member_of = env.get(&format!("/v1.0/users/{uid}/memberOf")).await;
    assert_eq!(member_of.body["value"][0]["id"], json!(gid));

    // Owners: same pattern and error wording.
    assert_eq!(env.post(&format!("/v1.0/groups/{gid}/owners/$ref"), ref_body(&env, uid)).await.status, 204);
    let dup = env.post(&format!("/v1.0/groups/{gid}/owners/$ref"), ref_body(&env, uid)).await;
    assert!(dup.msg().ends_with("'owners'."));

    // Remove, then removing again is a 404.
    assert_eq!(env.delete(&format!("/v1.0/groups/{gid}/members/{uid}/$ref")).await.status, 204);
    assert_graph_error(&env.delete(&format!("/v1.0/groups/{gid}/members/{uid}/$ref")).await, 404, "Request_ResourceNotFound");

    // members@odata.bind at create and on PATCH.
    let u2 = env.create_user("member2").await;
    let u2id = u2["id"].as_str().unwrap();
    let g2 = env
        .post("/v1.0/groups", json!({"displayName": "bound", "mailEnabled": false, "mailNickname": "bound", "securityEnabled": true,
            "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/users/{uid}")]}))
        .await;
    assert_eq!(g2.status, 201);
    let g2id = g2.body["id"].as_str().unwrap();
    let p = env.patch(&format!("/v1.0/groups/{g2id}"), json!({"members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{u2id}")]})).await;
    assert_eq!(p.status, 204);
    let ex = env.get(&format!("/v1.0/groups/{g2id}?$expand=members")).await;
    assert_eq!(ex.body["members"].as_array().unwrap().len(), 2);
    let too_many: Vec<String> = (0..21).map(|i| format!("https://graph.microsoft.com/v1.0/users/{i}")).collect();
    let r = env.post("/v1.0/groups", json!({"displayName": "x", "mailEnabled": false, "mailNickname": "x", "securityEnabled": true, "members@odata.bind": too_many})).await;
    assert_eq!(r.status, 400);

    // Validation: mailNickname, required properties.
    assert_graph_error(&env.post("/v1.0/groups", json!({"displayName": "x", "mailEnabled": false, "mailNickname": "has space", "securityEnabled": true})).await, 400, "Request_BadRequest");
    assert_graph_error(&env.post("/v1.0/groups", json!({"displayName": "x", "mailEnabled": false, "securityEnabled": true})).await, 400, "Request_BadRequest");

    // Security groups are deleted permanently.
    assert_eq!(env.delete(&format!("/v1.0/groups/{g2id}")).await.status, 204);
    assert_eq!(env.get(&format!("/v1.0/groups/{g2id}")).await.status, 404);
    let deleted = env.get("/v1.0/directory/deletedItems/microsoft.graph.group").await;
    assert_eq!(deleted.body["value"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn dynamic_groups_refuse_member_changes_and_role_assignability() {
    let env = start().await;
    let rule = "(device.devicePhysicalIds -any _ -contains \"[OrderID]:MMD\")";
    let dynamic = env
        .post("/v1.0/groups", json!({"displayName": "dyn", "mailEnabled": false, "mailNickname": "dyn", "securityEnabled": true,
            "groupTypes": ["DynamicMembership"], "membershipRule": rule, "membershipRuleProcessingState": "On"}))
        .await;
    assert_eq!(dynamic.status, 201);
    let gid = dynamic.body["id"].as_str().unwrap();
    let u = env.create_user("dynmember").await;
    let uid = u["id"].as_str().unwrap();
    assert_graph_error(&env.post(&format!("/v1.0/groups/{gid}/members/$ref"), ref_body(&env, uid)).await, 400, "Request_BadRequest");
    assert_eq!(env.delete(&format!("/v1.0/groups/{gid}/members/{uid}/$ref")).await.status, 400);
    let both = env
        .post("/v1.0/groups", json!({"displayName": "dyn2", "mailEnabled": false, "mailNickname": "dyn2", "securityEnabled": true,
            "groupTypes": ["DynamicMembership"], "membershipRule": rule, "isAssignableToRole": true}))
        .await;
    assert_graph_error(&both, 400, "Request_BadRequest");
    let no_rule = env.post("/v1.0/groups", json!({"displayName": "dyn3", "mailEnabled": false, "mailNickname": "dyn3", "securityEnabled": true, "groupTypes": ["DynamicMembership"]})).await;
    assert_eq!(no_rule.status, 400);
}

#[tokio::test]
async fn role_definitions_and_assignments() {
    let env = start().await;
    let r = env.get("/v1.0/roleManagement/directory/roleDefinitions?$filter=displayName eq 'Intune Administrator'").await;
    assert_eq!(r.status, 200);
    let def = &r.body["value"][0];
    assert_eq!(def["id"], "3a2c62db-5318-420d-8d74-23affee5d9d5");
    assert_eq!(def["id"], def["templateId"]);
    assert_eq!(env.get("/v1.0/roleManagement/directory/roleDefinitions/62e90394-69f5-4237-9190-012177145e10").await.body["displayName"], "Global Administrator");

    let u = env.create_user("admin1").await;
    let uid = u["id"].as_str().unwrap();
    let body = json!({"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "principalId": uid, "directoryScopeId": "/"});
    let a = env.post("/v1.0/roleManagement/directory/roleAssignments", body.clone()).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let aid = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.post("/v1.0/roleManagement/directory/roleAssignments", body).await.status, 400);
    let list = env.get(&format!("/v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{uid}'&$expand=roleDefinition")).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["value"][0]["roleDefinition"]["displayName"], "User Administrator");
    let p = env.get(&format!("/v1.0/roleManagement/directory/roleAssignments/{aid}?$expand=principal")).await;
    assert_eq!(p.body["principal"]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(env.delete(&format!("/v1.0/roleManagement/directory/roleAssignments/{aid}")).await.status, 204);
    let missing = env.post("/v1.0/roleManagement/directory/roleAssignments", json!({"roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "principalId": "nope", "directoryScopeId": "/"})).await;
    assert_graph_error(&missing, 404, "Request_ResourceNotFound");
    // A group must be role-assignable.
    let g = env.create_group("plain").await;
    let r = env.post("/v1.0/roleManagement/directory/roleAssignments", json!({"roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "principalId": g["id"], "directoryScopeId": "/"})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn pim_schedule_requests() {
    let env = start().await;
    let u = env.create_user("pimuser").await;
    let uid = u["id"].as_str().unwrap();
    let role = "3a2c62db-5318-420d-8d74-23affee5d9d5";
    let start = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let req = |action: &str, exp: Value| json!({"action": action, "principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/", "justification": "test",
        "scheduleInfo": {"startDateTime": start, "expiration": exp}});

    // Eligible, with the expiration type in PascalCase: accepted, echoed in camelCase.
    let e = env.post("/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", req("adminAssign", json!({"type": "AfterDuration", "duration": "P30D"}))).await;
    assert_eq!(e.status, 201, "{}", e.body);
    assert_eq!(e.body["status"], "Provisioned");
    assert_eq!(e.body["scheduleInfo"]["expiration"]["type"], "afterDuration");
    let sched_id = e.body["targetScheduleId"].as_str().unwrap().to_string();
    let scheds = env.get(&format!("/v1.0/roleManagement/directory/roleEligibilitySchedules?$filter=principalId eq '{uid}'")).await;
    assert_eq!(scheds.body["value"][0]["id"], json!(sched_id));
    assert!(scheds.body["value"][0]["scheduleInfo"]["expiration"]["endDateTime"].is_string());
    // Assigning again conflicts; extending works; over the policy maximum fails.
    let again = env.post("/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", req("adminAssign", json!({"type": "noExpiration"}))).await;
    assert_graph_error(&again, 400, "RoleAssignmentExists");
    let ext = env.post("/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", req("adminExtend", json!({"type": "afterDuration", "duration": "P60D"}))).await;
    assert_eq!(ext.status, 201);
    let too_long = env.post("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", req("adminAssign", json!({"type": "afterDuration", "duration": "P400D"}))).await;
    assert_graph_error(&too_long, 400, "RoleAssignmentRequestPolicyValidationFailed");
    assert!(too_long.msg().contains("ExpirationRule"));
    // Remove.
    let rm = env.post("/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", json!({"action": "adminRemove", "principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/"})).await;
    assert_eq!(rm.status, 201);
    assert_eq!(rm.body["status"], "Revoked");
    assert_eq!(env.get("/v1.0/roleManagement/directory/roleEligibilitySchedules").await.body["value"].as_array().unwrap().len(), 0);
    let rm2 = env.post("/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", json!({"action": "adminRemove", "principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/"})).await;
    assert_graph_error(&rm2, 400, "RoleAssignmentDoesNotExist");

    // Active assignment whose end has passed is not listed as active.
    let past_start = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let past_end = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let past = env
        .post("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", json!({"action": "adminAssign", "principalId": uid, "roleDefinitionId": role, "directoryScopeId": "/",
            "scheduleInfo": {"startDateTime": past_start, "expiration": {"type": "afterDateTime", "endDateTime": past_end}}}))
        .await;
    assert_eq!(past.status, 201, "{}", past.body);
    assert_eq!(env.get("/v1.0/roleManagement/directory/roleAssignmentSchedules").await.body["value"].as_array().unwrap().len(), 0);
    assert_eq!(env.get("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances").await.body["value"].as_array().unwrap().len(), 0);
    let active = env.post("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", req("adminAssign", json!({"type": "afterDateTime", "endDateTime": (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string()}))).await;
    assert_eq!(active.status, 201, "{}", active.body);
    assert_eq!(env.get("/v1.0/roleManagement/directory/roleAssignmentSchedules").await.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(env.post("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", req("bogusAction", json!({"type": "noExpiration"}))).await.status, 400);
}
