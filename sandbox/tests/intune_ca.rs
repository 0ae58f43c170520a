//! Intune device configurations, update rings, compliance policies,
//! assignments, Autopilot profiles (beta only) and conditional access, over
//! real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

const DC: &str = "/beta/deviceManagement/deviceConfigurations";

fn ring(name: &str, quality: i64) -> Value {
    json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": name,
        "qualityUpdatesDeferralPeriodInDays": quality, "featureUpdatesDeferralPeriodInDays": 0,
        "deadlineForQualityUpdatesInDays": 2, "deadlineGracePeriodInDays": 2,
        "installationSchedule": {"@odata.type": "#microsoft.graph.windowsUpdateActiveHoursInstall", "activeHoursStart": "08:00:00.0000000", "activeHoursEnd": "17:00:00.0000000"}})
}

#[tokio::test]
async fn device_configurations_update_rings_and_assign() {
    let env = start().await;
    let general = env.post(DC, json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "General", "passwordRequired": true})).await;
    assert_eq!(general.status, 201, "{}", general.body);
    assert_eq!(general.body["@odata.type"], "#microsoft.graph.windows10GeneralConfiguration");
    let r = env.post(DC, ring("Modern Workplace Update Policy [Broad]", 9)).await;
    assert_eq!(r.status, 201);
    let rid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.post(DC, ring("bad", 31)).await.status, 400);
    assert_eq!(env.post(DC, json!({"displayName": "no type"})).await.status, 400);

    // isof filter.
    let rings = env.get(&format!("{DC}?$filter=isof('microsoft.graph.windowsUpdateForBusinessConfiguration')")).await;
    assert_eq!(rings.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(rings.body["value"][0]["@odata.type"], "#microsoft.graph.windowsUpdateForBusinessConfiguration");
    // v1.0 serves the same collection.
    assert_eq!(env.get("/v1.0/deviceManagement/deviceConfigurations").await.body["value"].as_array().unwrap().len(), 2);

    // PATCH: 204, needs @odata.type and a real property.
    let p = env.patch(&format!("{DC}/{rid}"), json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "qualityUpdatesDeferralPeriodInDays": 5})).await;
    assert_eq!(p.status, 204, "{}", p.body);
    assert_eq!(env.get(&format!("{DC}/{rid}")).await.body["qualityUpdatesDeferralPeriodInDays"], 5);
    let no_type = env.patch(&format!("{DC}/{rid}"), json!({"qualityUpdatesDeferralPeriodInDays": 6})).await;
    assert_eq!(no_type.status, 400);
    assert!(no_type.msg().contains("Invalid patch"));
    let nothing = env.patch(&format!("{DC}/{rid}"), json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration"})).await;
    assert!(nothing.msg().contains("Invalid patch, at least 1 property must be changed"));

    // /assign replaces the set; ids are {policyId}_{groupId}.
    let g1 = env.create_group("ring-broad").await;
    let g2 = env.create_group("ring-excl").await;
    let (g1, g2) = (g1["id"].as_str().unwrap(), g2["id"].as_str().unwrap());
    let target = |t: &str, g: &str| json!({"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": t, "groupId": g}});
    let a = env
        .post(&format!("{DC}/{rid}/assign"), json!({"assignments": [target("#microsoft.graph.groupAssignmentTarget", g1), target("#microsoft.graph.exclusionGroupAssignmentTarget", g2), target("#microsoft.graph.groupAssignmentTarget", g1)]}))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let value = a.body["value"].as_array().unwrap();
    assert_eq!(value.len(), 2, "duplicate targets collapse");
    assert_eq!(value[0]["id"], json!(format!("{rid}_{g1}")));
    let listed = env.get(&format!("{DC}/{rid}/assignments")).await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 2);
    let expanded = env.get(&format!("{DC}?$expand=assignments")).await;
    let with = expanded.body["value"].as_array().unwrap().iter().find(|p| p["id"] == json!(rid)).unwrap().clone();
    assert_eq!(with["assignments"].as_array().unwrap().len(), 2);
    assert!(env.get(&format!("{DC}/{rid}")).await.body.get("assignments").is_none());
    let replaced = env.post(&format!("{DC}/{rid}/assign"), json!({"assignments": [target("#microsoft.graph.groupAssignmentTarget", g2)]})).await;
    assert_eq!(replaced.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(env.post(&format!("{DC}/{rid}/assign"), json!({"assignments": []})).await.status, 200);
    assert_eq!(env.get(&format!("{DC}/{rid}/assignments")).await.body["value"].as_array().unwrap().len(), 0);

    assert_eq!(env.delete(&format!("{DC}/{rid}")).await.status, 204);
    assert_eq!(env.get(&format!("{DC}/{rid}")).await.status, 404);
}

#[tokio::test]
async fn intune_collections_page() {
    let env = start().await;
    env.sb.seed(&sandbox::SeedSpec { seed: 3, policies: 330, ..Default::default() }).unwrap();
    let mut url = format!("{DC}?$select=id,displayName");
    let mut n = 0;
    let mut pages = 0;
    loop {
        let r = env.get(&url).await;
        pages += 1;
        for p in r.body["value"].as_array().unwrap() {
            assert!(p["@odata.type"].is_string(), "@odata.type kept under $select");
            n += 1;
        }
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(n, 220);
    assert_eq!(pages, 3, "Intune default page size is 100");
    assert_eq!(env.get(&format!("{DC}?$top=1000")).await.status, 200);
    assert_eq!(env.get(&format!("{DC}?$top=1001")).await.status, 400);
    let skipped = env.get(&format!("{DC}?$skip=200")).await;
    assert_eq!(skipped.body["value"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn compliance_policies_need_one_block_action() {
    let env = start().await;
    let path = "/v1.0/deviceManagement/deviceCompliancePolicies";
    let base = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Baseline", "passwordRequired": true});
    let none = env.post(path, base.clone()).await;
    assert_eq!(none.status, 400);
    assert!(none.msg().contains("Compliance policy must have one and only one block scheduled action"));
    let mut two = base.clone();
    two["scheduledActionsForRule"] = json!([{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block"}, {"actionType": "block"}]}]);
    assert_eq!(env.post(path, two).await.status, 400);
    let mut ok = base.clone();
    ok["scheduledActionsForRule"] = json!([{"ruleName": null, "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 12, "notificationTemplateId": ""}]}]);
    let c = env.post(path, ok).await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap().to_string();
    assert!(c.body.get("scheduledActionsForRule").is_none());

    let plain = env.get(&format!("{path}/{id}")).await;
    assert!(plain.body.get("scheduledActionsForRule").is_none());
    // Intune has no route listing the rules; only $expand reads them.
    let listed = env.get(&format!("{path}/{id}/scheduledActionsForRule")).await;
    assert_graph_error(&listed, 400, "No method match route template");
    assert!(listed.msg().contains("No OData route exists"), "{}", listed.body);
    let shallow = env.get(&format!("{path}/{id}?$expand=scheduledActionsForRule")).await;
    assert!(shallow.body["scheduledActionsForRule"][0].get("scheduledActionConfigurations").is_none());
    let deep = env.get(&format!("{path}/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await;
    assert_eq!(deep.body["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["gracePeriodHours"], 12);

    let change = env
        .post(&format!("{path}/{id}/scheduleActionsForRules"), json!({"deviceComplianceScheduledActionForRules": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 24}]}]}))
        .await;
    assert_eq!(change.status, 204, "{}", change.body);
    let deep = env.get(&format!("{path}/{id}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")).await;
    assert_eq!(deep.body["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["gracePeriodHours"], 24);
    let p = env.patch(&format!("{path}/{id}"), json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordRequired": false})).await;
    assert_eq!(p.status, 204);
    let g = env.create_group("compliance-target").await;
    let a = env.post(&format!("{path}/{id}/assign"), json!({"assignments": [{"@odata.type": "#microsoft.graph.deviceCompliancePolicyAssignment", "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g["id"]}}]})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["value"][0]["@odata.type"], "#microsoft.graph.deviceCompliancePolicyAssignment");
}

#[tokio::test]
async fn autopilot_profiles_are_beta_only_with_single_assignments() {
    let env = start().await;
    let body = json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "Modern Workplace Autopilot Profile",
        "deviceNameTemplate": "MW-%RAND:8%", "locale": "os-default", "outOfBoxExperienceSetting": {"privacySettingsHidden": true, "eulaHidden": true, "userType": "standard", "deviceUsageType": "singleUser"}});
    assert_eq!(env.post("/v1.0/deviceManagement/windowsAutopilotDeploymentProfiles", body.clone()).await.status, 400);
    let p = env.post("/beta/deviceManagement/windowsAutopilotDeploymentProfiles", body).await;
    assert_eq!(p.status, 201, "{}", p.body);
    let id = p.body["id"].as_str().unwrap().to_string();
    let base = format!("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{id}");
    let patched = env.patch(&base, json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "description": "changed"})).await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["description"], "changed");
    let g = env.create_group("autopilot-devices").await;
    let gid = g["id"].as_str().unwrap();
    let a = env.post(&format!("{base}/assignments"), json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid}})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let aid = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.get(&format!("{base}/assignments")).await.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(env.post(&format!("{base}/assign"), json!({"assignments": []})).await.status, 400);
    assert_eq!(env.delete(&base).await.status, 400, "assigned profiles cannot be deleted");
    assert_eq!(env.delete(&format!("{base}/assignments/{aid}")).await.status, 204);
    assert_eq!(env.delete(&base).await.status, 204);
}

#[tokio::test]
async fn conditional_access_policies() {
    let env = start().await;
    let path = "/v1.0/identity/conditionalAccess/policies";
    let body = json!({"displayName": "Require MFA", "state": "enabledForReportingButNotEnforced",
        "conditions": {"clientAppTypes": ["all"], "applications": {"includeApplications": ["All"]}, "users": {"includeUsers": ["All"], "excludeGroups": []}},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}});
    let c = env.post(path, body.clone()).await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let mut bad = body.clone();
    bad["state"] = json!("on");
    assert_eq!(env.post(path, bad).await.status, 400);
    assert_eq!(env.patch(&format!("{path}/{id}"), json!({"state": "enabled"})).await.status, 204);
    assert_eq!(env.get(&format!("{path}/{id}")).await.body["state"], "enabled");
    let listed = env.get(&format!("{path}?$filter=displayName eq 'Require MFA'")).await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(env.delete(&format!("{path}/{id}")).await.status, 204);
    assert_eq!(env.get(&format!("{path}/{id}")).await.status, 404);
}

#[tokio::test]
async fn settings_catalog_is_beta_only_and_keeps_settings_apart() {
    let env = start().await;
    let body = json!({"name": "Baseline", "description": "", "platforms": "windows10", "technologies": "mdm", "roleScopeTagIds": ["0"],
        "settings": [{"@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance", "settingDefinitionId": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
            "choiceSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue", "value": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring_1", "children": []}}}]});
    assert_eq!(env.post("/v1.0/deviceManagement/configurationPolicies", body.clone()).await.status, 400);
    // What Intune refuses: an unknown definition, an option the definition
    // does not have, an instance of the wrong type.
    let mut unknown = body.clone();
    unknown["settings"][0]["settingInstance"]["settingDefinitionId"] = json!("device_vendor_msft_policy_config_x");
    assert_eq!(env.post("/beta/deviceManagement/configurationPolicies", unknown).await.status, 400);
    let mut option = body.clone();
    option["settings"][0]["settingInstance"]["choiceSettingValue"]["value"] = json!("device_vendor_msft_policy_config_defender_allowrealtimemonitoring_7");
    let refused = env.post("/beta/deviceManagement/configurationPolicies", option).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.to_string().contains("not valid"), "{}", refused.body);
    let mut typed = body.clone();
    typed["settings"][0]["settingInstance"]["@odata.type"] = json!("#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance");
    assert_eq!(env.post("/beta/deviceManagement/configurationPolicies", typed).await.status, 400);
    let defs = env.get("/beta/deviceManagement/configurationSettings/device_vendor_msft_policy_config_defender_avgcpuloadfactor").await;
    assert_eq!(defs.status, 200, "{}", defs.body);
    assert_eq!(defs.body["valueDefinition"]["maximumValue"], 100);
    assert_eq!(env.get("/beta/deviceManagement/configurationSettings/nope").await.status, 404);
    let c = env.post("/beta/deviceManagement/configurationPolicies", body.clone()).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.body["settingCount"], 1);
    let id = c.body["id"].as_str().unwrap();
    let path = format!("/beta/deviceManagement/configurationPolicies/{id}");
    assert!(env.get(&path).await.body.get("settings").is_none());
    assert_eq!(env.get(&format!("{path}?$expand=settings")).await.body["settings"].as_array().unwrap().len(), 1);
    assert_eq!(env.get(&format!("{path}/settings")).await.body["value"].as_array().unwrap().len(), 1);
    let mut full = body.clone();
    full["name"] = json!("Baseline v2");
    full["settings"] = json!([]);
    assert_eq!(env.call("PUT", &path, Some(full), &[]).await.status, 204);
    let after = env.get(&path).await;
    assert_eq!(after.body["name"], "Baseline v2");
    assert_eq!(after.body["settingCount"], 0);
    assert_eq!(env.post(&format!("{path}/assign"), json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})).await.status, 200);
    let a = env.get(&format!("{path}/assignments")).await;
    assert_eq!(a.body["value"][0]["id"], json!(format!("{id}_adadadad-808e-44e2-905a-0b7873a8a531")));
}
