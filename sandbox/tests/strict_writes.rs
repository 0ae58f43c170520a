//! The sandbox refuses what Graph refuses, for every kind tenantctl
//! manages: a table of requests that must fail (unknown property, wrong
//! value type, read-only property, enum value outside the enum, an
//! `@odata.type` that is not the collection's, over-long strings, missing
//! application permission), each with the status, error code and message
//! Graph answers. The rules come from Graph's metadata (graph-metadata),
//! not from the providers.

mod common;

use common::*;
use serde_json::{json, Value};

const DC: &str = "/beta/deviceManagement/deviceConfigurations";
const CP: &str = "/v1.0/deviceManagement/deviceCompliancePolicies";
const AP: &str = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles";
const CA: &str = "/v1.0/identity/conditionalAccess/policies";
const ELIG: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// Permissions taken away from the documented grant for this request.
    without: &'static [&'static str],
    status: u16,
    code: &'static str,
    msg: String,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: Value,
    code: &'static str,
    msg: impl Into<String>,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        body: Some(body),
        without: &[],
        status: 400,
        code,
        msg: msg.into(),
    }
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn general() -> Value {
    json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "displayName": "General", "passwordRequired": true})
}

fn ring() -> Value {
    json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "displayName": "Ring",
        "qualityUpdatesDeferralPeriodInDays": 7, "featureUpdatesDeferralPeriodInDays": 0,
        "installationSchedule": {"@odata.type": "#microsoft.graph.windowsUpdateActiveHoursInstall", "activeHoursStart": "08:00:00.0000000", "activeHoursEnd": "17:00:00.0000000"}})
}

fn compliance() -> Value {
    json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Baseline", "passwordRequired": true,
        "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 12}]}]})
}

fn autopilot() -> Value {
    json!({"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "displayName": "Autopilot", "deviceNameTemplate": "MW-%RAND:8%"})
}

/// Entra's answer to a conditional access policy its validation refuses.
const MALFORMED: &str = "1037: The server could not process the request because it is malformed or incorrect.";

fn ca() -> Value {
    json!({"displayName": "Require MFA", "state": "enabledForReportingButNotEnforced",
        "conditions": {"clientAppTypes": ["all"], "applications": {"includeApplications": ["All"]}, "users": {"includeUsers": ["All"]}},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}})
}

fn group(nick: &str) -> Value {
    json!({"displayName": nick, "mailEnabled": false, "mailNickname": nick, "securityEnabled": true})
}

fn elig(uid: &str, extra: Value) -> Value {
    let mut b = json!({"action": "adminAssign", "principalId": uid, "roleDefinitionId": "3a2c62db-5318-420d-8d74-23affee5d9d5", "directoryScopeId": "/",
        "justification": "test", "scheduleInfo": {"startDateTime": "2026-11-23T12:00:00Z", "expiration": {"type": "afterDuration", "duration": "P30D"}}});
    if let (Some(b), Value::Object(e)) = (b.as_object_mut(), extra) {
        b.extend(e);
    }
    b
}

fn does_not_exist(prop: &str, ty: &str) -> String {
    format!("The property '{prop}' does not exist on type '{ty}'. Make sure to only use property names that are defined by the type.")
}

fn convert(lit: &str, ty: &str) -> String {
    format!("Cannot convert the literal '{lit}' to the expected type '{ty}'.")
}

fn incompatible(given: &str, expected: &str) -> String {
    format!("The value specified its type as 'microsoft.graph.{given}', but the type specified in the metadata is 'microsoft.graph.{expected}'.")
}

const MS: &str = "microsoft.management.services.api";
const DIR: &str = "Request_BadRequest";
const MVF: &str = "ModelValidationFailure";
const INSUFFICIENT: &str = "Insufficient privileges to complete the operation.";

#[tokio::test]
async fn the_sandbox_refuses_what_graph_refuses() {
    let env = start().await;
    let domain = env.domain();
    let uid = env.create_user("table-user").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let gid = env.create_group("table-group").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let made = |r: Resp| {
        assert_eq!(r.status, 201, "setup: {}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let dc = made(env.post(DC, general()).await);
    let cp = made(env.post(CP, compliance()).await);
    let ap = made(env.post(AP, autopilot()).await);
    let ca_id = made(env.post(CA, ca()).await);
    let admins = made(env.post("/v1.0/groups", merge(group("role-admins"), json!({"isAssignableToRole": true}))).await);
    // A deleted user and a deleted Microsoft 365 group (security groups are
    // deleted permanently), for the deleted-items permissions.
    let gone = env.create_user("table-deleted").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.delete(&format!("/v1.0/users/{gone}")).await.status, 204);
    let m365 = made(
        env.post(
            "/v1.0/groups",
            json!({"displayName": "Deleted team", "mailEnabled": true, "mailNickname": "deleted-team", "securityEnabled": false, "groupTypes": ["Unified"]}),
        )
        .await,
    );
    assert_eq!(env.delete(&format!("/v1.0/groups/{m365}")).await.status, 204);
    let user = |extra: Value| merge(user_body("table-new", &domain), extra);
    let w10 = |extra: Value| {
        merge(
            json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration"}),
            extra,
        )
    };
    let target = |t: Value| json!({"assignments": [{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": t}]});
    let long = |n: usize| "x".repeat(n);

    let mut cases = vec![
        // Unknown properties.
        case("user: unknown property", "POST", "/v1.0/users", user(json!({"favouriteColour": "blue"})), DIR, does_not_exist("favouriteColour", "microsoft.graph.user")),
        case("user patch: unknown property", "PATCH", format!("/v1.0/users/{uid}"), json!({"shoeSize": 9}), DIR, does_not_exist("shoeSize", "microsoft.graph.user")),
        case("group: unknown property", "POST", "/v1.0/groups", merge(group("g-unknown"), json!({"isPublic": true})), DIR, does_not_exist("isPublic", "microsoft.graph.group")),
        case("group patch: unknown property", "PATCH", format!("/v1.0/groups/{gid}"), json!({"colour": "red"}), DIR, does_not_exist("colour", "microsoft.graph.group")),
        case("invitation: unknown property", "POST", "/v1.0/invitations", json!({"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com", "sendEmail": true}), DIR, does_not_exist("sendEmail", "microsoft.graph.invitation")),
        case("role assignment: unknown property", "POST", "/v1.0/roleManagement/directory/roleAssignments", json!({"principalId": uid, "roleDefinitionId": "3a2c62db-5318-420d-8d74-23affee5d9d5", "directoryScopeId": "/", "scope": "/"}), DIR, does_not_exist("scope", "microsoft.graph.unifiedRoleAssignment")),
        case("PIM request: unknown property", "POST", ELIG, elig(&uid, json!({"reason": "x"})), DIR, does_not_exist("reason", "microsoft.graph.unifiedRoleEligibilityScheduleRequest")),
        case("device configuration: unknown property", "POST", DC, merge(general(), json!({"wifiBlocked": true})), MVF, does_not_exist("wifiBlocked", &format!("{MS}.windows10GeneralConfiguration"))),
        case("device configuration patch: rollout is not a Graph property", "PATCH", format!("{DC}/{dc}"), w10(json!({"rollout": {"rings": ["test"]}})), MVF, does_not_exist("rollout", &format!("{MS}.windows10GeneralConfiguration"))),
        case("compliance: unknown property", "POST", CP, merge(compliance(), json!({"passwordRequiredd": true})), MVF, does_not_exist("passwordRequiredd", &format!("{MS}.windows10CompliancePolicy"))),
        case("autopilot: unknown property", "POST", AP, merge(autopilot(), json!({"skipEula": true})), MVF, does_not_exist("skipEula", &format!("{MS}.azureADWindowsAutopilotDeploymentProfile"))),
        case("conditional access: unknown property", "POST", CA, merge(ca(), json!({"priority": 1})), "BadRequest", does_not_exist("priority", "microsoft.graph.conditionalAccessPolicy")),
        case("conditional access: unknown nested property", "POST", CA, merge(ca(), json!({"conditions": {"applications": {"includeApplications": ["All"]}, "users": {"includeEveryone": true}}})), "BadRequest", does_not_exist("includeEveryone", "microsoft.graph.conditionalAccessUsers")),
        case("assign: unknown property in the target", "POST", format!("{DC}/{dc}/assign"), target(json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid, "groupName": "x"})), MVF, does_not_exist("groupName", &format!("{MS}.groupAssignmentTarget"))),
        case("assign: unknown parameter", "POST", format!("{DC}/{dc}/assign"), json!({"assignmentz": []}), MVF, "The parameter 'assignmentz' in the request payload is not a valid parameter for the operation."),
        // Wrong value types.
        case("user: boolean as string", "POST", "/v1.0/users", user(json!({"accountEnabled": "yes"})), DIR, convert("yes", "Edm.Boolean")),
        case("user patch: number for a string", "PATCH", format!("/v1.0/users/{uid}"), json!({"jobTitle": 12}), DIR, convert("12", "Edm.String")),
        case("group: string for a boolean", "POST", "/v1.0/groups", merge(group("g-type"), json!({"securityEnabled": "true"})), DIR, convert("true", "Edm.Boolean")),
        case("group: a string for a collection", "POST", "/v1.0/groups", merge(group("g-types"), json!({"groupTypes": "Unified"})), DIR, "A 'StartArray' node was expected."),
        case("group: null for a non-nullable collection", "POST", "/v1.0/groups", merge(group("g-null"), json!({"groupTypes": null})), DIR, "does not allow null values"),
        case("update ring: string for an integer", "POST", DC, merge(ring(), json!({"qualityUpdatesDeferralPeriodInDays": "7"})), MVF, convert("7", "Edm.Int32")),
        case("device configuration patch: fraction for an integer", "PATCH", format!("{DC}/{dc}"), w10(json!({"passwordMinimumLength": 8.5})), MVF, convert("8.5", "Edm.Int32")),
        case("update ring: a time of day that is not one", "POST", DC, merge(ring(), json!({"installationSchedule": {"@odata.type": "#microsoft.graph.windowsUpdateActiveHoursInstall", "activeHoursStart": "8am", "activeHoursEnd": "17:00:00"}})), MVF, convert("8am", "Edm.TimeOfDay")),
        case("compliance: number for a boolean", "POST", CP, merge(compliance(), json!({"passwordRequired": 1})), MVF, convert("1", "Edm.Boolean")),
        case("conditional access: string for an object", "POST", CA, merge(ca(), json!({"conditions": "all"})), "BadRequest", "A 'StartObject' node was expected."),
        case("conditional access: string for a collection", "POST", CA, merge(ca(), json!({"grantControls": {"operator": "OR", "builtInControls": "mfa"}})), "BadRequest", "A 'StartArray' node was expected."),
        case("conditional access patch: array for a string", "PATCH", format!("{CA}/{ca_id}"), json!({"displayName": ["x"]}), "BadRequest", "A 'PrimitiveValue' node was expected."),
        case("PIM request: a duration that is not one", "POST", ELIG, elig(&uid, json!({"scheduleInfo": {"startDateTime": "2026-11-23T12:00:00Z", "expiration": {"type": "afterDuration", "duration": "30 days"}}})), DIR, convert("30 days", "Edm.Duration")),
        // Read-only properties.
        case("user patch: createdDateTime is read-only", "PATCH", format!("/v1.0/users/{uid}"), json!({"createdDateTime": "2020-01-01T00:00:00Z"}), DIR, "Property 'createdDateTime' is read-only and cannot be set."),
        case("group: mail is read-only", "POST", "/v1.0/groups", merge(group("g-mail"), json!({"mail": "g@contoso.com"})), DIR, "Property 'mail' is read-only and cannot be set."),
        case("group patch: proxyAddresses is read-only", "PATCH", format!("/v1.0/groups/{gid}"), json!({"proxyAddresses": []}), DIR, "Property 'proxyAddresses' is read-only and cannot be set."),
        case("device configuration patch: version is read-only", "PATCH", format!("{DC}/{dc}"), w10(json!({"version": 3})), MVF, "The property 'version' is read-only"),
        case("compliance: createdDateTime is read-only", "POST", CP, merge(compliance(), json!({"createdDateTime": "2020-01-01T00:00:00Z"})), MVF, "The property 'createdDateTime' is read-only"),
        case("conditional access patch: createdDateTime is read-only", "PATCH", format!("{CA}/{ca_id}"), json!({"createdDateTime": "2020-01-01T00:00:00Z"}), "BadRequest", "The property 'createdDateTime' is read-only"),
        // Enum values outside the enum.
        case("conditional access: no application", "POST", CA, merge(ca(), json!({"conditions": {"clientAppTypes": ["all"], "applications": {"includeApplications": []}, "users": {"includeUsers": ["All"]}}})), "BadRequest", MALFORMED),
        case("conditional access: no user, group or role", "POST", CA, merge(ca(), json!({"conditions": {"clientAppTypes": ["all"], "applications": {"includeApplications": ["All"]}, "users": {"includeUsers": [], "excludeUsers": ["GuestsOrExternalUsers"]}}})), "BadRequest", MALFORMED),
        case("conditional access: neither grant nor session controls", "POST", CA, merge(ca(), json!({"grantControls": null, "sessionControls": null})), "BadRequest", MALFORMED),
        case("conditional access: grant controls that grant nothing", "POST", CA, merge(ca(), json!({"grantControls": {"operator": "OR", "builtInControls": []}})), "BadRequest", MALFORMED),
        case("conditional access patch: no application", "PATCH", format!("{CA}/{ca_id}"), json!({"conditions": {"applications": {"includeApplications": []}, "users": {"includeUsers": ["All"]}}}), "BadRequest", MALFORMED),
        case("conditional access: state", "POST", CA, merge(ca(), json!({"state": "on"})), "BadRequest", convert("on", "microsoft.graph.conditionalAccessPolicyState")),
        case("conditional access: client app type", "POST", CA, merge(ca(), json!({"conditions": {"clientAppTypes": ["everything"], "applications": {"includeApplications": ["All"]}, "users": {"includeUsers": ["All"]}}})), "BadRequest", convert("everything", "microsoft.graph.conditionalAccessClientApp")),
        case("conditional access: grant control", "POST", CA, merge(ca(), json!({"grantControls": {"operator": "OR", "builtInControls": ["sms"]}})), "BadRequest", convert("sms", "microsoft.graph.conditionalAccessGrantControl")),
        case("update ring: automatic update mode", "POST", DC, merge(ring(), json!({"automaticUpdateMode": "always"})), MVF, convert("always", "microsoft.graph.automaticUpdateMode")),
        case("compliance: scheduled action type", "POST", CP, merge(compliance(), json!({"scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "explode"}]}]})), MVF, convert("explode", "microsoft.graph.deviceComplianceActionType")),
        case("PIM request: action", "POST", ELIG, elig(&uid, json!({"action": "grant"})), DIR, convert("grant", "microsoft.graph.unifiedRoleScheduleRequestActions")),
        // @odata.type that does not belong to the collection.
        case("feature update profile posted to deviceConfigurations", "POST", DC, json!({"@odata.type": "#microsoft.graph.windowsFeatureUpdateProfile", "displayName": "Feature", "featureUpdateVersion": "Windows 11, version 23H2"}), MVF, incompatible("windowsFeatureUpdateProfile", "deviceConfiguration")),
        case("compliance policy posted to deviceConfigurations", "POST", DC, merge(compliance(), json!({})), MVF, incompatible("windows10CompliancePolicy", "deviceConfiguration")),
        case("configuration posted to deviceCompliancePolicies", "POST", CP, general(), MVF, incompatible("windows10GeneralConfiguration", "deviceCompliancePolicy")),
        case("update ring posted to Autopilot profiles", "POST", AP, ring(), MVF, incompatible("windowsUpdateForBusinessConfiguration", "windowsAutopilotDeploymentProfile")),
        case("a type Graph does not have", "POST", DC, json!({"@odata.type": "#microsoft.graph.windows10SuperConfiguration", "displayName": "x"}), MVF, "A type named 'microsoft.graph.windows10SuperConfiguration' could not be resolved by the model."),
        case("the abstract base type", "POST", DC, json!({"@odata.type": "#microsoft.graph.deviceConfiguration", "displayName": "x"}), MVF, "abstract type 'microsoft.graph.deviceConfiguration'"),
        case("assign: a user as an assignment target", "POST", format!("{DC}/{dc}/assign"), target(json!({"@odata.type": "#microsoft.graph.user", "id": uid})), MVF, incompatible("user", "deviceAndAppManagementAssignmentTarget")),
        case("beta-only type on v1.0", "POST", "/v1.0/deviceManagement/deviceConfigurations", json!({"@odata.type": "#microsoft.graph.androidDeviceOwnerDerivedCredentialAuthenticationConfiguration", "displayName": "x"}), MVF, "could not be resolved by the model"),
        // Beta-only types and properties, typed from the beta declarations.
        case("beta autopilot: boolean as string (beta-only property)", "POST", AP, merge(autopilot(), json!({"enableWhiteGlove": "yes"})), MVF, convert("yes", "Edm.Boolean")),
        case("beta autopilot subtype: boolean as string", "POST", AP, json!({"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile", "displayName": "Hybrid", "hybridAzureADJoinSkipConnectivityCheck": "no"}), MVF, convert("no", "Edm.Boolean")),
        case("beta autopilot patch: a string for the role scope tag list", "PATCH", format!("{AP}/{ap}"), merge(autopilot(), json!({"roleScopeTagIds": "0"})), MVF, "A 'StartArray' node was expected."),
        case("beta assign: filter type outside its enum", "POST", format!("{DC}/{dc}/assign"), target(json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": gid, "deviceAndAppManagementAssignmentFilterId": "f1", "deviceAndAppManagementAssignmentFilterType": "sometimes"})), MVF, convert("sometimes", "microsoft.graph.deviceAndAppManagementAssignmentFilterType")),
        case("beta assign: filter id as a number", "POST", format!("{DC}/{dc}/assign"), target(json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "deviceAndAppManagementAssignmentFilterId": 7, "deviceAndAppManagementAssignmentFilterType": "include"})), MVF, convert("7", "Edm.String")),
        case("beta assignment filter: platform outside its enum", "POST", "/beta/deviceManagement/assignmentFilters", json!({"displayName": "Laptops", "platform": "toaster", "rule": "(device.deviceOwnership -eq \"Corporate\")"}), MVF, convert("toaster", "microsoft.graph.devicePlatformType")),
        case("beta assignment filter: rule as a list", "POST", "/beta/deviceManagement/assignmentFilters", json!({"displayName": "Laptops", "platform": "windows10AndLater", "rule": ["x"]}), MVF, "A 'PrimitiveValue' node was expected."),
        case("beta-only device configuration type: string for a number", "POST", DC, json!({"@odata.type": "#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration", "displayName": "Android", "passwordMinimumLength": "8"}), MVF, "Cannot convert the literal '8'"),
        case("beta-only device configuration type: value outside a beta enum", "POST", DC, json!({"@odata.type": "#microsoft.graph.androidDeviceOwnerGeneralDeviceConfiguration", "displayName": "Android", "appsAutoUpdatePolicy": "sometimes"}), MVF, convert("sometimes", "microsoft.graph.androidDeviceOwnerAppAutoUpdatePolicyType")),
        case("beta-only property of a v1.0 type: boolean as string", "PATCH", format!("{DC}/{dc}"), w10(json!({"edgeBlockPrinting": "true"})), MVF, convert("true", "Edm.Boolean")),
        case("beta autopilot: displayName over 200", "POST", AP, merge(autopilot(), json!({"displayName": long(201)})), MVF, "exceeds the maximum length of 200"),
        // Strings longer than Graph allows.
        case("user: displayName over 256", "POST", "/v1.0/users", user(json!({"displayName": long(257)})), DIR, "Invalid value specified for property 'displayName' of resource 'User'."),
        case("user: a 1 MB displayName", "POST", "/v1.0/users", user(json!({"displayName": long(1 << 20)})), DIR, "Invalid value specified for property 'displayName' of resource 'User'."),
        case("group: description over 1,024", "POST", "/v1.0/groups", merge(group("g-long"), json!({"description": long(1025)})), DIR, "Invalid value specified for property 'description' of resource 'Group'."),
        case("group patch: mailNickname over 64", "PATCH", format!("/v1.0/groups/{gid}"), json!({"mailNickname": long(65)}), DIR, "Invalid value specified for property 'mailNickname' of resource 'Group'."),
        case("user patch: mailNickname over 64", "PATCH", format!("/v1.0/users/{uid}"), json!({"mailNickname": long(65)}), DIR, "Invalid value specified for property 'mailNickname' of resource 'User'."),
    ];
    // Missing application permissions.
    let denied = |name: &'static str,
                  method: &'static str,
                  path: String,
                  body: Option<Value>,
                  without: &'static [&'static str],
                  code: &'static str,
                  msg: &str| Case {
        name,
        method,
        path,
        body,
        without,
        status: 403,
        code,
        msg: msg.to_string(),
    };
    cases.extend([
        denied("directoryObjects needs Directory.Read.All", "GET", format!("/v1.0/directoryObjects/{uid}"), None, &["Directory.Read.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("domains need Domain.Read.All or Directory.Read.All", "GET", "/v1.0/domains".into(), None, &["Directory.Read.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("conditional access writes need Application.Read.All", "POST", CA.into(), Some(ca()), &["Application.Read.All"], "AccessDenied", "required scopes are missing in the token"),
        denied("conditional access writes need Policy.Read.All", "PATCH", format!("{CA}/{ca_id}"), Some(json!({"state": "enabled"})), &["Policy.Read.All"], "AccessDenied", "required scopes are missing in the token"),
        denied("conditional access reads need Policy.Read.All", "GET", CA.into(), None, &["Policy.Read.All"], "AccessDenied", "required scopes are missing in the token"),
        denied("groups need Group.ReadWrite.All", "POST", "/v1.0/groups".into(), Some(group("g-denied")), &["Group.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("group members need Group.ReadWrite.All", "POST", format!("/v1.0/groups/{gid}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")})), &["Group.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("a role-assignable group needs RoleManagement.ReadWrite.Directory", "POST", "/v1.0/groups".into(), Some(merge(group("g-role"), json!({"isAssignableToRole": true}))), &["RoleManagement.ReadWrite.Directory"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("a role-assignable group's members need RoleManagement.ReadWrite.Directory", "POST", format!("/v1.0/groups/{admins}/members/$ref"), Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")})), &["RoleManagement.ReadWrite.Directory"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("PIM needs RoleManagement.ReadWrite.Directory", "POST", ELIG.into(), Some(elig(&uid, json!({}))), &["RoleManagement.ReadWrite.Directory"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("Intune names the scopes it wants", "POST", DC.into(), Some(general()), &["DeviceManagementConfiguration.ReadWrite.All"], "Forbidden", "DeviceManagementConfiguration.ReadWrite.All"),
        denied("Autopilot needs DeviceManagementServiceConfig", "GET", format!("{AP}/{ap}/assignments"), None, &["DeviceManagementServiceConfig.ReadWrite.All"], "Forbidden", "DeviceManagementServiceConfig.ReadWrite.All"),
        denied("deleted groups need Group.Read(Write).All", "GET", "/v1.0/directory/deletedItems/microsoft.graph.group".into(), None, &["Group.ReadWrite.All", "Directory.Read.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("a deleted user is read with User.Read(Write).All", "GET", format!("/v1.0/directory/deletedItems/{gone}"), None, &["User.ReadWrite.All", "Directory.Read.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("restoring a user needs User.ReadWrite.All", "POST", format!("/v1.0/directory/deletedItems/{gone}/restore"), Some(json!({})), &["User.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("purging a user needs User.ReadWrite.All", "DELETE", format!("/v1.0/directory/deletedItems/{gone}"), None, &["User.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("restoring a group needs Group.ReadWrite.All, not User.ReadWrite.All", "POST", format!("/v1.0/directory/deletedItems/{m365}/restore"), Some(json!({})), &["Group.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("purging a group needs Group.ReadWrite.All", "DELETE", format!("/v1.0/directory/deletedItems/{m365}"), None, &["Group.ReadWrite.All"], "Authorization_RequestDenied", INSUFFICIENT),
        denied("assignment filters need DeviceManagementConfiguration", "GET", "/beta/deviceManagement/assignmentFilters".into(), None, &["DeviceManagementConfiguration.ReadWrite.All"], "Forbidden", "DeviceManagementConfiguration.Read.All"),
        denied("compliance reads need DeviceManagementConfiguration", "GET", format!("{CP}/{cp}"), None, &["DeviceManagementConfiguration.ReadWrite.All"], "Forbidden", "DeviceManagementConfiguration.Read.All"),
    ]);
    assert!(cases.len() >= 40, "{} cases", cases.len());

    let documented = env.sb.permissions();
    let mut failures = Vec::new();
    for c in &cases {
        env.sb
            .set_permissions(
                documented
                    .iter()
                    .filter(|p| !c.without.contains(&p.as_str()))
                    .cloned(),
            )
            .unwrap();
        let r = env.call(c.method, &c.path, c.body.clone(), &[]).await;
        if r.status != c.status
            || r.code() != c.code
            || !r.msg().contains(&c.msg)
            || r.body["error"]["innerError"]["request-id"]
                .as_str()
                .is_none()
        {
            failures.push(format!(
                "{}: {} {}\n  want {} {} ~{:?}\n  got  {} {}",
                c.name,
                c.method,
                c.path,
                c.status,
                c.code,
                c.msg,
                r.status,
                r.body.to_string().chars().take(400).collect::<String>()
            ));
        }
    }
    env.sb.set_permissions(documented).unwrap();
    // A tenant without Entra ID P2: every PIM request answers as Graph does,
    // while plain role assignments still work.
    env.sb.set_licences(sandbox::Licences::P1);
    let pim = "/v1.0/roleManagement/directory";
    let p1_cases: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", format!("{pim}/roleEligibilityScheduleRequests"), Some(elig(&uid, json!({})))),
        ("GET", format!("{pim}/roleEligibilitySchedules"), None),
        ("GET", format!("{pim}/roleAssignmentSchedules"), None),
        ("GET", format!("{pim}/roleAssignmentScheduleInstances"), None),
        ("GET", format!("{pim}/roleEligibilityScheduleInstances"), None),
    ];
    let p1_total = p1_cases.len();
    for (method, path, body) in p1_cases {
        let r = env.call(method, &path, body, &[]).await;
        if r.status != 400 || r.code() != "AadPremiumLicenseRequired" || !r.msg().contains("Microsoft Entra ID P2") {
            failures.push(format!("P1 tenant: {method} {path}\n  want 400 AadPremiumLicenseRequired\n  got  {} {}", r.status, r.body));
        }
    }
    let plain = env.call("GET", &format!("{pim}/roleAssignments"), None, &[]).await;
    if plain.status != 200 {
        failures.push(format!("P1 tenant: plain roleAssignments answer {} {}", plain.status, plain.body));
    }
    env.sb.set_licences(sandbox::Licences::P2);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Graph:\n{}",
        failures.len(),
        cases.len() + p1_total + 1,
        failures.join("\n")
    );
    // Nothing refused was written.
    let users = env.get("/v1.0/users?$select=userPrincipalName").await;
    assert_eq!(
        users.body["value"].as_array().unwrap().len(),
        1,
        "{}",
        users.body
    );
}

#[tokio::test]
async fn batch_items_are_validated_and_permission_checked_on_their_own() {
    let env = start().await;
    env.sb
        .set_permissions(
            env.sb
                .permissions()
                .into_iter()
                .filter(|p| p != "Directory.Read.All"),
        )
        .unwrap();
    let batch = json!({"requests": [
        {"id": "1", "method": "POST", "url": "/deviceManagement/deviceConfigurations", "headers": {"Content-Type": "application/json"},
         "body": {"@odata.type": "#microsoft.graph.windowsFeatureUpdateProfile", "displayName": "x"}},
        {"id": "2", "method": "GET", "url": "/domains"},
        {"id": "3", "method": "POST", "url": "/deviceManagement/deviceConfigurations", "headers": {"Content-Type": "application/json"}, "body": general()}
    ]});
    let r = env.post("/beta/$batch", batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let by_id = |id: &str| {
        r.body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            by_id("1")["status"].clone(),
            by_id("1")["body"]["error"]["code"].clone()
        ),
        (json!(400), json!(MVF))
    );
    assert_eq!(
        (
            by_id("2")["status"].clone(),
            by_id("2")["body"]["error"]["code"].clone()
        ),
        (json!(403), json!("Authorization_RequestDenied"))
    );
    assert_eq!(by_id("3")["status"], json!(201), "{}", r.body);
}

#[tokio::test]
async fn permissions_are_set_through_the_admin_api() {
    let env = start().await;
    let (s, got) = env.admin("GET", "/permissions", None).await;
    assert_eq!(s, 200);
    assert!(
        got["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("Application.Read.All")),
        "{got}"
    );
    let (s, _) = env
        .admin(
            "PUT",
            "/permissions",
            Some(json!({"permissions": ["User.ReadWrite.All"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_graph_error(
        &env.get("/v1.0/groups").await,
        403,
        "Authorization_RequestDenied",
    );
    assert_eq!(env.get("/v1.0/users").await.status, 200);
    let (s, body) = env
        .admin(
            "PUT",
            "/permissions",
            Some(json!({"permissions": ["User.ReadWrite.Al"]})),
        )
        .await;
    assert_eq!(s, 400, "a misspelt permission is refused: {body}");
    let (s, _) = env
        .admin("PUT", "/permissions", Some(json!({"permissions": null})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        env.get("/v1.0/groups").await.status,
        200,
        "null restores the documented grant"
    );
}
