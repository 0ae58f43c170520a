//! Intune collections: device configurations (any `@odata.type`, including
//! update rings), compliance policies (exactly one block action; scheduled
//! actions only through `$expand` and `scheduleActionsForRules`), settings
//! catalog policies, and the shared `/assign` (replace-the-set) and
//! `/assignments` behaviour.

use crate::error::GraphError;
use crate::graph::{self, body_object, Ctx, GReq, GResp};
use crate::odata::{Expand, Query};
use crate::resources::{self, Spec, INTUNE_MAX, INTUNE_PAGE};
use crate::store::{ChangeKind, Record, Tenant};
use serde_json::{json, Map, Value};

/// Well-known ids Intune uses for the virtual "all" groups in assignment ids.
const ALL_DEVICES_ID: &str = "adadadad-808e-44e2-905a-0b7873a8a531";
const ALL_USERS_ID: &str = "acacacac-9df4-4c7d-9d50-4ef0226f57a9";

fn bad(msg: &str) -> GraphError {
    GraphError::intune(400, "BadRequest", msg)
}

fn odata_type(body: &Map<String, Value>) -> Option<&str> {
    body.get("@odata.type").and_then(Value::as_str).filter(|t| t.starts_with("#microsoft.graph.") && t.len() > "#microsoft.graph.".len())
}

fn in_range(body: &Map<String, Value>, prop: &str, lo: i64, hi: i64) -> Result<(), GraphError> {
    match body.get(prop) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Ok(()),
            _ => Err(bad(&format!("Invalid value for property '{prop}': must be an integer between {lo} and {hi}."))),
        },
    }
}

/// Range checks for update rings (`windowsUpdateForBusinessConfiguration`).
fn validate_update_ring(body: &Map<String, Value>) -> Result<(), GraphError> {
    if odata_type(body) != Some("#microsoft.graph.windowsUpdateForBusinessConfiguration") {
        return Ok(());
    }
    in_range(body, "qualityUpdatesDeferralPeriodInDays", 0, 30)?;
    in_range(body, "featureUpdatesDeferralPeriodInDays", 0, 365)?;
    in_range(body, "deadlineForQualityUpdatesInDays", 0, 30)?;
    in_range(body, "deadlineForFeatureUpdatesInDays", 0, 30)?;
    in_range(body, "deadlineGracePeriodInDays", 0, 7)?;
    in_range(body, "featureUpdatesRollbackWindowInDays", 2, 60)?;
    Ok(())
}

fn stamp_new(ctx: &Ctx, body: &mut Map<String, Value>, with_version: bool) {
    body.remove("id");
    body.remove("assignments");
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
    body.entry("description").or_insert(Value::Null);
    if ctx.version == graph::Version::Beta {
        body.entry("roleScopeTagIds").or_insert(json!(["0"]));
    }
    if with_version {
        body.insert("version".into(), json!(1));
    }
}

/// Generic Intune create: `@odata.type` and `displayName` are required.
pub fn create(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    if odata_type(&body).is_none() {
        return Err(bad("A type name must be specified: '@odata.type' is required for this entity set."));
    }
    if body.get("displayName").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return Err(bad("Property 'displayName' is required."));
    }
    validate_update_ring(&body)?;
    crate::scope_tags::check_ids(t, &body)?;
    crate::oma::strip_read_only(&mut body);
    stamp_new(ctx, &mut body, true);
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// Assignment filter create (beta `deviceManagement/assignmentFilters`,
/// deviceAndAppManagementAssignmentFilter): `displayName`, `platform` and
/// `rule` are required; assignments reference it by id with
/// `deviceAndAppManagementAssignmentFilterId/Type` on their target.
/// What an assignment filter accepts (beta `deviceAndAppManagementAssignmentFilter`).
const FILTER_PROPERTIES: &[&str] = &["@odata.type", "id", "displayName", "description", "platform", "rule", "roleScopeTags", "assignmentFilterManagementType", "payloads"];
/// Graph's `devicePlatformType` (beta).
const FILTER_PLATFORMS: &[&str] = &[
    "android", "androidForWork", "iOS", "macOS", "windowsPhone81", "windows81AndLater", "windows10AndLater", "androidWorkProfile", "unknown",
    "androidAOSP", "androidMobileApplicationManagement", "iOSMobileApplicationManagement", "unknownFutureValue", "windowsMobileApplicationManagement",
];

/// Unknown properties and platforms are refused, as Graph refuses them.
fn check_filter_body(body: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(k) = body.keys().find(|k| !FILTER_PROPERTIES.contains(&k.as_str())) {
        return Err(bad(&format!("Could not find a property named '{k}' on type 'microsoft.graph.deviceAndAppManagementAssignmentFilter'.")));
    }
    if let Some(p) = body.get("platform") {
        if !p.as_str().is_some_and(|p| FILTER_PLATFORMS.contains(&p)) {
            return Err(bad(&format!("The value {p} is not a valid devicePlatformType.")));
        }
    }
    Ok(())
}

/// A filter's `roleScopeTags` (tag ids) must name tags the tenant has.
fn check_filter_tags(t: &Tenant, body: &Map<String, Value>) -> Result<(), GraphError> {
    match body.get("roleScopeTags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => crate::scope_tags::check_ids(t, &Map::from_iter([("roleScopeTagIds".to_string(), Value::Array(ids.clone()))])),
        Some(_) => Err(bad("'roleScopeTags' is a collection of scope tag ids (strings).")),
    }
}

pub fn patch_assignment_filter(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    check_filter_body(&body)?;
    check_filter_tags(t, &body)?;
    resources::patch_merge(t, ctx, spec, id, body)?;
    t.update(spec.coll, id, |r| {
        r.data.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
    });
    Ok(())
}

pub fn create_assignment_filter(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    for required in ["displayName", "platform", "rule"] {
        if body.get(required).and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
            return Err(bad(&format!("Property '{required}' is required.")));
        }
    }
    check_filter_body(&body)?;
    check_filter_tags(t, &body)?;
    body.remove("@odata.type");
    body.remove("id");
    body.entry("description").or_insert(json!(""));
    body.entry("roleScopeTags").or_insert(json!(["0"]));
    body.entry("assignmentFilterManagementType").or_insert(json!("devices"));
    body.insert("createdDateTime".into(), json!(ctx.now_iso()));
    body.insert("lastModifiedDateTime".into(), json!(ctx.now_iso()));
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

fn block_count(rules: &Value) -> usize {
    rules
        .as_array()
        .map(|rs| {
            rs.iter()
                .flat_map(|r| r.get("scheduledActionConfigurations").and_then(Value::as_array).cloned().unwrap_or_default())
                .filter(|c| c.get("actionType").and_then(Value::as_str) == Some("block"))
                .count()
        })
        .unwrap_or(0)
}

/// Gives scheduled-action rules and configurations server ids.
fn stamp_rules(rules: &Value) -> Value {
    let mut out = Vec::new();
    for r in rules.as_array().cloned().unwrap_or_default() {
        let mut r = r.as_object().cloned().unwrap_or_default();
        r.insert("@odata.type".into(), json!("#microsoft.graph.deviceComplianceScheduledActionForRule"));
        r.insert("id".into(), json!(resources::new_id()));
        r.entry("ruleName").or_insert(Value::Null);
        let confs: Vec<Value> = r
            .get("scheduledActionConfigurations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let mut c = c.as_object().cloned().unwrap_or_default();
                c.insert("@odata.type".into(), json!("#microsoft.graph.deviceComplianceActionItem"));
                c.insert("id".into(), json!(resources::new_id()));
                c.entry("gracePeriodHours").or_insert(json!(0));
                c.entry("notificationTemplateId").or_insert(json!(""));
                c.entry("notificationMessageCCList").or_insert(json!([]));
                Value::Object(c)
            })
            .collect();
        r.insert("scheduledActionConfigurations".into(), Value::Array(confs));
        out.push(Value::Object(r));
    }
    Value::Array(out)
}

const ONE_BLOCK: &str = "Compliance policy must have one and only one block scheduled action";

/// Compliance create: exactly one block action, kept apart from the entity.
pub fn create_compliance(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    if odata_type(&body).is_none() {
        return Err(bad("A type name must be specified: '@odata.type' is required for this entity set."));
    }
    if body.get("displayName").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
        return Err(bad("Property 'displayName' is required."));
    }
    crate::scope_tags::check_ids(t, &body)?;
    let rules = body.remove("scheduledActionsForRule").unwrap_or(Value::Null);
    if block_count(&rules) != 1 {
        return Err(bad(ONE_BLOCK));
    }
    stamp_new(ctx, &mut body, true);
    let mut nav = Map::new();
    nav.insert("scheduledActionsForRule".into(), stamp_rules(&rules));
    Ok(resources::insert_new(t, ctx, spec.coll, body, nav))
}

/// Settings catalog create (beta): `name`, `platforms`, `technologies` required; settings kept as navigation.
pub fn create_settings_catalog(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>) -> Result<String, GraphError> {
    for p in ["name", "platforms", "technologies"] {
        if body.get(p).and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(bad(&format!("Property '{p}' is required.")));
        }
    }
    let mut settings = body.remove("settings").unwrap_or_else(|| json!([]));
    crate::settings_catalog::check_settings(&settings)?;
    crate::settings_catalog::encrypt_secrets(&mut settings);
    let reference = crate::configuration_templates::check(&body, &settings, None)?;
    body.insert("templateReference".into(), reference);
    body.insert("settingCount".into(), json!(settings.as_array().map_or(0, Vec::len)));
    // Intune keeps the description sent (an empty one when none is).
    let description = body.get("description").filter(|d| d.is_string()).cloned().unwrap_or_else(|| json!(""));
    stamp_new(ctx, &mut body, false);
    body.insert("description".into(), description);
    let mut nav = Map::new();
    nav.insert("settings".into(), settings);
    Ok(resources::insert_new(t, ctx, spec.coll, body, nav))
}

pub fn patch_settings_catalog(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let mut settings = body.remove("settings");
    if let Some(s) = &mut settings {
        crate::settings_catalog::check_settings(s)?;
        crate::settings_catalog::encrypt_secrets(s);
    }
    // A PUT (it sends the settings) is checked against the template; the
    // template itself never changes.
    if let Some(s) = &settings {
        let existing = t.get(spec.coll, id).map(|r| r.data.clone()).unwrap_or_default();
        let reference = crate::configuration_templates::check(&body, s, Some(&existing))?;
        body.insert("templateReference".into(), reference);
    } else if let Some(sent) = body.get("templateReference").and_then(|r| r.get("templateId")).and_then(Value::as_str) {
        let before = t.get(spec.coll, id).and_then(|r| r.data.get("templateReference").and_then(|r| r.get("templateId")).and_then(Value::as_str).map(str::to_string)).unwrap_or_default();
        if !sent.eq_ignore_ascii_case(&before) {
            return Err(bad("The templateReference of a policy cannot be changed; create a new policy."));
        }
        body.remove("templateReference");
    }
    let now = ctx.now_iso();
    t.update(spec.coll, id, |r| {
        for (k, v) in body {
            if k != "id" && k != "createdDateTime" {
                r.data.insert(k, v);
            }
        }
        if let Some(s) = settings {
            r.data.insert("settingCount".into(), json!(s.as_array().map_or(0, Vec::len)));
            r.nav.insert("settings".into(), s);
        }
        r.data.insert("lastModifiedDateTime".into(), json!(now));
    });
    Ok(())
}

/// Intune PATCH: `@odata.type` must be sent and match; at least one property must change.
pub fn patch(t: &mut Tenant, ctx: &Ctx, spec: &Spec, id: &str, mut body: Map<String, Value>) -> Result<(), GraphError> {
    let existing = t.get(spec.coll, id).map(|r| r.data.clone()).ok_or_else(|| graph::not_found(spec, id))?;
    let Some(ty) = odata_type(&body) else {
        return Err(bad("Invalid patch: the '@odata.type' property must be specified in the request body."));
    };
    let current = existing.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
    if !ty.eq_ignore_ascii_case(current) {
        return Err(bad(&format!("Invalid patch: the '@odata.type' '{ty}' does not match the entity type '{current}'.")));
    }
    body.remove("@odata.type");
    body.remove("id");
    body.remove("scheduledActionsForRule");
    body.remove("assignments");
    crate::oma::strip_read_only(&mut body);
    if body.is_empty() {
        return Err(bad("Invalid patch, at least 1 property must be changed"));
    }
    let mut merged = existing.clone();
    merged.extend(body.clone());
    validate_update_ring(&merged)?;
    crate::scope_tags::check_ids(t, &body)?;
    let now = ctx.now_iso();
    t.update(spec.coll, id, |r| {
        for (k, v) in body {
            if k != "createdDateTime" && k != "version" {
                r.data.insert(k, v);
            }
        }
        r.data.insert("lastModifiedDateTime".into(), json!(now));
        if let Some(v) = r.data.get("version").and_then(Value::as_i64) {
            r.data.insert("version".into(), json!(v + 1));
        }
    });
    Ok(())
}

pub fn delete(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    Ok(())
}

/// The `@odata.type` of assignment entities per collection.
/// (each collection's `Spec::assignment_type`).
pub fn assignment_type(coll: &str) -> &'static str {
    crate::resources::spec_by_coll(coll)
        .and_then(|s| s.assignment_type)
        .unwrap_or("#microsoft.graph.deviceConfigurationAssignment")
}

/// Validates a target and returns the group part of its assignment id.
pub fn target_key(target: &Value) -> Result<String, GraphError> {
    let ty = target.get("@odata.type").and_then(Value::as_str).ok_or_else(|| bad("Assignment target must specify '@odata.type'."))?;
    match ty {
        "#microsoft.graph.groupAssignmentTarget" | "#microsoft.graph.exclusionGroupAssignmentTarget" => {
            let g = target.get("groupId").and_then(Value::as_str).filter(|g| !g.is_empty()).ok_or_else(|| bad("Assignment target must specify 'groupId'."))?;
            Ok(g.to_string())
        }
        "#microsoft.graph.allDevicesAssignmentTarget" => Ok(ALL_DEVICES_ID.to_string()),
        "#microsoft.graph.allLicensedUsersAssignmentTarget" => Ok(ALL_USERS_ID.to_string()),
        other => Err(bad(&format!("Unsupported assignment target type '{other}'."))),
    }
}

/// Builds one stored assignment.
pub fn make_assignment(coll: &str, policy: &str, a: &Value) -> Result<(String, Value), GraphError> {
    let target = a.get("target").cloned().ok_or_else(|| bad("Assignment must specify 'target'."))?;
    let key = target_key(&target)?;
    let mut target = target.as_object().cloned().unwrap_or_default();
    target.entry("deviceAndAppManagementAssignmentFilterId").or_insert(Value::Null);
    target.entry("deviceAndAppManagementAssignmentFilterType").or_insert(json!("none"));
    let id = format!("{policy}_{key}");
    let mut out = json!({
        "@odata.type": assignment_type(coll),
        "id": id,
        "target": target
    });
    // Only the policy assignment types have `source`/`sourceId` (not
    // Autopilot's, the update profiles' or scope tags' auto-assignments).
    let plain = ["windowsAutopilotDeploymentProfiles", "windowsFeatureUpdateProfiles", "windowsQualityUpdateProfiles", "windowsDriverUpdateProfiles", "roleScopeTags"];
    if !plain.contains(&coll) {
        out["source"] = json!("direct");
        out["sourceId"] = json!(policy);
        if coll == "deviceConfigurations" {
            out["intent"] = json!("apply");
        }
    }
    // App assignments carry their install intent (required) and settings.
    if coll == "mobileApps" {
        let intent = a.get("intent").and_then(Value::as_str).ok_or_else(|| bad("Assignment must specify 'intent'."))?;
        if !matches!(intent, "available" | "required" | "uninstall" | "availableWithoutEnrollment") {
            return Err(bad(&format!("The value '{intent}' is not a valid installIntent.")));
        }
        if intent == "available" && target.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.allDevicesAssignmentTarget") {
            return Err(bad("Available intent is not supported for the all devices target."));
        }
        out["intent"] = json!(intent);
        out["settings"] = a.get("settings").cloned().unwrap_or(Value::Null);
    }
    Ok((key, out))
}

fn assignments(rec: &Record) -> Vec<Value> {
    rec.nav.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn rules_view(rec: &Record, with_configs: bool) -> Vec<Value> {
    rec.nav
        .get("scheduledActionsForRule")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            if !with_configs {
                if let Some(o) = r.as_object_mut() {
                    o.remove("scheduledActionConfigurations");
                }
            }
            r
        })
        .collect()
}

pub fn expand(t: &Tenant, ctx: &Ctx, spec: &Spec, id: &str, rec: &Record, e: &Expand, out: &mut Map<String, Value>) -> Result<(), GraphError> {
    match e.name.as_str() {
        "assignments" => {
            out.insert("assignments@odata.context".into(), json!(ctx.context(&format!("{}('{id}')/assignments", spec.context))));
            out.insert("assignments".into(), Value::Array(assignments(rec)));
        }
        "scheduledActionsForRule" if spec.coll == "deviceCompliancePolicies" => {
            let with = e.nested.iter().any(|n| n.name == "scheduledActionConfigurations");
            out.insert("scheduledActionsForRule".into(), Value::Array(rules_view(rec, with)));
        }
        "settings" if spec.coll == "configurationPolicies" => {
            out.insert("settings".into(), rec.nav.get("settings").cloned().unwrap_or_else(|| json!([])));
        }
        _ => return resources::no_expand(t, ctx, spec, id, rec, e, out),
    }
    Ok(())
}

fn as_maps(v: Vec<Value>) -> Vec<Map<String, Value>> {
    v.into_iter().filter_map(|x| x.as_object().cloned()).collect()
}

pub fn sub(t: &mut Tenant, ctx: &Ctx, spec: &Spec, req: &GReq, id: &str, rest: &[&str], q: &Query) -> Result<GResp, GraphError> {
    let rec = t.get(spec.coll, id).cloned().ok_or_else(|| graph::not_found(spec, id))?;
    let base = format!("{}/{}/{id}", ctx.root(), spec.path.join("/"));
    match (req.method.as_str(), rest) {
        ("POST", ["assign"]) => {
            let body = body_object(req)?;
            // Apps name the parameter `mobileAppAssignments`.
            let param = if spec.coll == "mobileApps" { "mobileAppAssignments" } else { "assignments" };
            let list = body.get(param).and_then(Value::as_array).cloned().ok_or_else(|| bad(&format!("Request body must contain '{param}'.")))?;
            // Replace semantics: the new list is the whole set; duplicate targets collapse.
            let mut seen = std::collections::BTreeSet::new();
            let mut stored = Vec::new();
            for a in &list {
                let (key, made) = make_assignment(spec.coll, id, a)?;
                let ty = a.pointer("/target/@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
                if seen.insert((key, ty)) {
                    stored.push(made);
                }
            }
            t.update(spec.coll, id, |r| {
                r.nav.insert("assignments".into(), Value::Array(stored.clone()));
            });
            let ctx_name = format!("Collection({})", assignment_type(spec.coll).trim_start_matches('#'));
            Ok(GResp::json(200, json!({"@odata.context": ctx.context(&ctx_name), "value": stored})))
        }
        ("GET", ["assignments"]) => graph::list_values(ctx, &format!("{}('{id}')/assignments", spec.context), &format!("{base}/assignments"), as_maps(assignments(&rec)), q, INTUNE_PAGE, INTUNE_MAX),
        ("GET", ["assignments", aid]) => {
            let a = assignments(&rec).into_iter().find(|a| a.get("id").and_then(Value::as_str) == Some(*aid)).ok_or_else(|| graph::not_found(spec, aid))?;
            let mut out = Map::new();
            out.insert("@odata.context".into(), json!(ctx.context(&format!("{}('{id}')/assignments/$entity", spec.context))));
            out.extend(a.as_object().cloned().unwrap_or_default());
            Ok(GResp::json(200, Value::Object(out)))
        }
        ("POST", ["scheduleActionsForRules"]) if spec.coll == "deviceCompliancePolicies" => {
            let body = body_object(req)?;
            let rules = body.get("deviceComplianceScheduledActionForRules").cloned().ok_or_else(|| bad("Request body must contain 'deviceComplianceScheduledActionForRules'."))?;
            if block_count(&rules) != 1 {
                return Err(bad(ONE_BLOCK));
            }
            let stamped = stamp_rules(&rules);
            t.update(spec.coll, id, |r| {
                r.nav.insert("scheduledActionsForRule".into(), stamped);
            });
            Ok(GResp::empty(204))
        }
        // Intune has no route for listing the rules (documented, but
        // answered 400 "No method match route template": microsoftgraph/
        // microsoft-graph-docs#4104, #16701, #19571); only
        // `?$expand=scheduledActionsForRule` on the policy reads them.
        ("GET", ["scheduledActionsForRule"]) if spec.coll == "deviceCompliancePolicies" => Err(GraphError::new(
            400,
            "No method match route template",
            format!("No OData route exists that match template ~/singleton/navigation/key/navigation with http verb GET for request /StatelessDeviceConfigurationFEService/deviceManagement/deviceCompliancePolicies('{id}')/scheduledActionsForRule."),
        )),
        ("GET", ["settings"]) if spec.coll == "configurationPolicies" => {
            let settings = rec.nav.get("settings").and_then(Value::as_array).cloned().unwrap_or_default();
            graph::list_values(ctx, &format!("{}('{id}')/settings", spec.context), &format!("{base}/settings"), as_maps(settings), q, INTUNE_PAGE, INTUNE_MAX)
        }
        ("GET", [call]) if spec.coll == "deviceConfigurations" => match crate::oma::parse_call(call) {
            Some(reference) => crate::oma::plain_text_value(ctx, id, &rec, &reference?),
            None if matches!(*call, "assign" | "scheduleActionsForRules" | "scheduledActionsForRule" | "settings") => Err(GraphError::method_not_allowed()),
            None => Err(GraphError::no_segment(call)),
        },
        (_, ["assign" | "assignments" | "scheduleActionsForRules" | "scheduledActionsForRule" | "settings", ..]) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_segment(rest.first().copied().unwrap_or(""))),
    }
}

/// The sandbox collection of `device_configuration` and `update_ring`, registered in `crate::resources::KIND_SPECS`.
pub static DEVICE_CONFIGURATIONS_SPEC: crate::resources::Spec = crate::resources::Spec {
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceConfigurations", seg),
    entity: Some("deviceConfiguration"),
    assignment_type: Some("#microsoft.graph.deviceConfigurationAssignment"),
    writes: &[crate::resources::assign_rule!("assignments", "deviceConfigurationAssignment")],
    ..crate::resources::intune("deviceConfigurations", &["deviceManagement", "deviceConfigurations"], "deviceManagement/deviceConfigurations")
};

/// The sandbox collection of `compliance_policy`, registered in `crate::resources::KIND_SPECS`.
pub static COMPLIANCE_SPEC: crate::resources::Spec = crate::resources::Spec {
    create: Some(crate::intune::create_compliance),
    lookup: |t, seg| crate::resources::lookup_id(t, "deviceCompliancePolicies", seg),
    entity: Some("deviceCompliancePolicy"),
    assignment_type: Some("#microsoft.graph.deviceCompliancePolicyAssignment"),
    writes: &[
        crate::resources::assign_rule!("assignments", "deviceCompliancePolicyAssignment"),
        crate::resources::WriteRule { method: "POST", rest: &["{id}", "scheduleActionsForRules"], body: crate::resources::WriteBody::Action(&[("deviceComplianceScheduledActionForRules", "deviceComplianceScheduledActionForRule")]) },
    ],
    ..crate::resources::intune("deviceCompliancePolicies", &["deviceManagement", "deviceCompliancePolicies"], "deviceManagement/deviceCompliancePolicies")
};

/// The sandbox collection of `assignment_filter`, registered in `crate::resources::KIND_SPECS`.
pub static FILTERS_SPEC: crate::resources::Spec = crate::resources::Spec {
    beta_only: true,
    create: Some(crate::intune::create_assignment_filter),
    patch: Some(crate::intune::patch_assignment_filter),
    delete: Some(crate::resources::delete_hard),
    lookup: |t, seg| crate::resources::lookup_id(t, "assignmentFilters", seg),
    entity: Some("deviceAndAppManagementAssignmentFilter"),
    ..crate::resources::intune("assignmentFilters", &["deviceManagement", "assignmentFilters"], "deviceManagement/assignmentFilters")
};
