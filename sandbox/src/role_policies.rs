//! PIM role management policies of directory roles
//! (`/policies/roleManagementPolicies`, `/policies/roleManagementPolicyAssignments`,
//! v1.0): every role definition has one policy at scope `/` with Entra's
//! default rules, listed only with a `$filter` on `scopeId` and
//! `scopeType` (as Graph requires). Rules are changed through the policy
//! (`PATCH /policies/roleManagementPolicies/{id}` with `rules`, each with
//! its own `@odata.type` and target); the per-rule update, which v1.0
//! documents for delegated tokens only, is refused to the sandbox's
//! application tokens. Policies are never created or deleted.

use crate::error::GraphError;
use crate::graph::{body_object, Ctx, GReq, GResp};
use crate::odata::Query;
use crate::store::{Record, Tenant};
use serde_json::{json, Map, Value};

pub const POLICIES: &str = "roleManagementPolicies";
pub const ASSIGNMENTS: &str = "roleManagementPolicyAssignments";
const RULES: &str = "rules";
const EXPIRATION: &str = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule";
const ENABLEMENT: &str = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule";
const APPROVAL: &str = "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule";
const AUTH_CONTEXT: &str = "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule";

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::new(400, "InvalidPolicy", msg)
}

fn target(id: &str) -> Value {
    let caller = if id.contains("_EndUser_") { "EndUser" } else { "Admin" };
    let level = if id.ends_with("_Eligibility") { "Eligibility" } else { "Assignment" };
    json!({"caller": caller, "operations": ["All"], "level": level, "inheritableSettings": [], "enforcedSettings": []})
}

/// Entra's default rules of a directory role's policy.
fn default_rules() -> Vec<Value> {
    let rule = |ty: &str, id: &str, extra: Value| {
        let mut r = json!({"@odata.type": ty, "id": id, "target": target(id)});
        if let (Some(o), Value::Object(e)) = (r.as_object_mut(), extra) {
            o.extend(e);
        }
        r
    };
    vec![
        rule(EXPIRATION, "Expiration_Admin_Eligibility", json!({"isExpirationRequired": true, "maximumDuration": "P365D"})),
        rule(ENABLEMENT, "Enablement_Admin_Eligibility", json!({"enabledRules": []})),
        rule(EXPIRATION, "Expiration_Admin_Assignment", json!({"isExpirationRequired": true, "maximumDuration": "P180D"})),
        rule(ENABLEMENT, "Enablement_Admin_Assignment", json!({"enabledRules": ["Justification", "MultiFactorAuthentication"]})),
        rule(EXPIRATION, "Expiration_EndUser_Assignment", json!({"isExpirationRequired": true, "maximumDuration": "PT8H"})),
        rule(ENABLEMENT, "Enablement_EndUser_Assignment", json!({"enabledRules": ["MultiFactorAuthentication", "Justification"]})),
        rule(
            APPROVAL,
            "Approval_EndUser_Assignment",
            json!({"setting": {"isApprovalRequired": false, "isApprovalRequiredForExtension": false, "isRequestorJustificationRequired": true, "approvalMode": "SingleStage",
                "approvalStages": [{"approvalStageTimeOutInDays": 1, "isApproverJustificationRequired": true, "escalationTimeInMinutes": 0, "primaryApprovers": [], "isEscalationEnabled": false, "escalationApprovers": []}]}}),
        ),
        rule(AUTH_CONTEXT, "AuthenticationContext_EndUser_Assignment", json!({"isEnabled": false, "claimValue": ""})),
    ]
}

/// Makes sure every role definition has its policy and assignment.
pub fn ensure(t: &mut Tenant) {
    let tenant = t.info.tenant_id.clone();
    let roles: Vec<String> = t.coll("roleDefinitions").map(|c| c.keys().cloned().collect()).unwrap_or_default();
    for role in roles {
        let policy = format!("DirectoryRole_{tenant}_{role}");
        if t.get(POLICIES, &policy).is_some() {
            continue;
        }
        let data = json!({"id": policy, "displayName": "Directory Role", "description": "Directory Role", "isOrganizationDefault": false, "scopeId": "/", "scopeType": "DirectoryRole", "lastModifiedDateTime": null, "lastModifiedBy": null});
        let mut nav = Map::new();
        nav.insert(RULES.into(), Value::Array(default_rules()));
        t.put(POLICIES, &policy, Record { data: data.as_object().cloned().unwrap_or_default(), nav, created_ms: 0 });
        let id = format!("{policy}_{role}");
        let data = json!({"id": id, "policyId": policy, "scopeId": "/", "scopeType": "DirectoryRole", "roleDefinitionId": role});
        t.put(ASSIGNMENTS, &id, Record { data: data.as_object().cloned().unwrap_or_default(), nav: Map::new(), created_ms: 0 });
    }
}

/// Graph lists these only for one scope: both filters are required.
fn check_filter(req: &GReq) -> Result<(), GraphError> {
    let q = Query::parse(&req.query)?;
    let filter = q.raw.iter().find(|(k, _)| k == "$filter").map(|(_, v)| v.replace(' ', "")).unwrap_or_default();
    if !filter.contains("scopeIdeq'/'") || !filter.contains("scopeTypeeq'DirectoryRole'") {
        return Err(GraphError::new(400, "BadRequest", "The filter on scopeId and scopeType is required (e.g. scopeId eq '/' and scopeType eq 'DirectoryRole')."));
    }
    Ok(())
}

/// The role definition id of a `roleDefinitionId eq '...'` clause of the
/// filter, if any.
fn role_filter(req: &GReq) -> Result<Option<String>, GraphError> {
    let q = Query::parse(&req.query)?;
    let filter = q.raw.iter().find(|(k, _)| k == "$filter").map(|(_, v)| v.replace(' ', "")).unwrap_or_default();
    Ok(filter.split_once("roleDefinitionIdeq'").and_then(|(_, rest)| rest.split_once('\'')).map(|(id, _)| id.to_string()))
}

fn expands_rules(req: &GReq) -> Result<bool, GraphError> {
    let q = Query::parse(&req.query)?;
    match q.raw.iter().find(|(k, _)| k == "$expand").map(|(_, v)| v.as_str()) {
        None => Ok(false),
        Some("rules") => Ok(true),
        Some(other) => Err(GraphError::bad_request(format!("Could not find a property named '{other}' on type 'microsoft.graph.unifiedRoleManagementPolicy'."))),
    }
}

fn policy_json(rec: &Record, rules: bool) -> Value {
    let mut o = rec.data.clone();
    if rules {
        o.insert(RULES.into(), rec.nav.get(RULES).cloned().unwrap_or(json!([])));
    }
    Value::Object(o)
}

/// `/policies/roleManagementPolicies...` and `/policies/roleManagementPolicyAssignments...`.
pub fn handle(t: &mut Tenant, ctx: &Ctx, req: &GReq, coll: &str, rest: &[&str]) -> Result<GResp, GraphError> {
    crate::licences::check_pim_settings(ctx)?;
    ensure(t);
    let ctx_of = |tail: &str| ctx.context(&format!("policies/{coll}{tail}"));
    match (req.method.as_str(), coll, rest) {
        ("GET", POLICIES, []) => {
            check_filter(req)?;
            let rules = expands_rules(req)?;
            let value: Vec<Value> = t.coll(POLICIES).into_iter().flat_map(|c| c.values()).map(|r| policy_json(r, rules)).collect();
            Ok(GResp::json(200, json!({"@odata.context": ctx_of(""), "value": value})))
        }
        ("GET", ASSIGNMENTS, []) => {
            check_filter(req)?;
            // `and roleDefinitionId eq '...'` narrows the listing to one role.
            let role = role_filter(req)?;
            let value: Vec<Value> = t
                .coll(ASSIGNMENTS)
                .into_iter()
                .flat_map(|c| c.values())
                .filter(|r| role.as_deref().is_none_or(|want| r.data.get("roleDefinitionId").and_then(Value::as_str).is_some_and(|id| id.eq_ignore_ascii_case(want))))
                // A custom role created a moment ago: its policy is not listed yet.
                .filter(|r| {
                    let made = r.data.get("roleDefinitionId").and_then(Value::as_str).and_then(|id| t.get("roleDefinitions", id)).map_or(0, |d| d.created_ms);
                    ctx.pim_policy_lag_ms == 0 || made == 0 || ctx.now_ms.saturating_sub(made) >= i64::try_from(ctx.pim_policy_lag_ms).unwrap_or(i64::MAX)
                })
                .map(|r| Value::Object(r.data.clone()))
                .collect();
            Ok(GResp::json(200, json!({"@odata.context": ctx_of(""), "value": value})))
        }
        ("GET", _, [id]) => {
            let rec = t.get(coll, id).ok_or_else(|| GraphError::not_found(id))?;
            let mut out = policy_json(rec, coll == POLICIES && expands_rules(req)?);
            out["@odata.context"] = json!(ctx_of("/$entity"));
            Ok(GResp::json(200, out))
        }
        ("GET", POLICIES, [id, RULES]) => {
            let rec = t.get(POLICIES, id).ok_or_else(|| GraphError::not_found(id))?;
            Ok(GResp::json(200, json!({"@odata.context": ctx_of(&format!("('{id}')/rules")), "value": rec.nav.get(RULES).cloned().unwrap_or(json!([]))})))
        }
        ("GET", POLICIES, [id, RULES, rule]) => {
            let rec = t.get(POLICIES, id).ok_or_else(|| GraphError::not_found(id))?;
            let r = rec.nav.get(RULES).and_then(Value::as_array).into_iter().flatten().find(|r| r.get("id").and_then(Value::as_str) == Some(rule)).cloned().ok_or_else(|| GraphError::not_found(rule))?;
            Ok(GResp::json(200, r))
        }
        // The sandbox issues application tokens only (client credentials),
        // and the v1.0 rule update documents "Application: Not supported".
        ("PATCH", POLICIES, [_, RULES, _]) => Err(GraphError::new(
            403,
            "AccessDenied",
            "Updating a single rule of a role management policy is not supported with an application token; update the policy with its rules (PATCH /policies/roleManagementPolicies/{id}).",
        )),
        ("PATCH", POLICIES, [id]) => {
            let body = body_object(req)?;
            if let Some(k) = body.keys().find(|k| k.as_str() != "rules") {
                return Err(bad(format!("Property '{k}' of a role management policy cannot be updated; only its rules can.")));
            }
            let changed = body.get(RULES).and_then(Value::as_array).ok_or_else(|| bad("The request needs the rules to update."))?;
            let rec = t.get(POLICIES, id).ok_or_else(|| GraphError::not_found(id))?;
            let mut rules: Vec<Value> = rec.nav.get(RULES).and_then(Value::as_array).cloned().unwrap_or_default();
            for r in changed {
                let o = r.as_object().ok_or_else(|| bad("A rule must be an object."))?;
                let rule = o.get("id").and_then(Value::as_str).ok_or_else(|| bad("Each rule needs its id."))?;
                let current = rules.iter_mut().find(|c| c.get("id").and_then(Value::as_str) == Some(rule)).ok_or_else(|| bad(format!("The policy has no rule {rule}.")))?;
                check_rule(t, rule, current, o)?;
                if let Some(c) = current.as_object_mut() {
                    for (k, v) in o {
                        if k != "id" && k != "@odata.type" && k != "target" {
                            c.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            let now = ctx.now_iso();
            t.update(POLICIES, id, |r| {
                r.nav.insert(RULES.into(), Value::Array(rules));
                r.data.insert("lastModifiedDateTime".into(), json!(now));
            });
            let rec = t.get(POLICIES, id).ok_or_else(|| GraphError::not_found(id))?;
            let mut out = policy_json(rec, false);
            out["@odata.context"] = json!(ctx_of("/$entity"));
            Ok(GResp::json(200, out))
        }
        ("GET", _, [_, seg, ..]) => Err(GraphError::no_segment(seg)),
        _ => Err(GraphError::method_not_allowed()),
    }
}

/// Minutes of an ISO 8601 duration of days, hours and minutes.
fn minutes(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (days, time) = rest.split_once('T').map_or((rest, ""), |(d, t)| (d, t));
    let mut total = 0i64;
    if !days.is_empty() {
        total += days.strip_suffix('D')?.parse::<i64>().ok()? * 1440;
    }
    let mut num = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' => num.push(c),
            'H' => total += std::mem::take(&mut num).parse::<i64>().ok()? * 60,
            'M' => total += std::mem::take(&mut num).parse::<i64>().ok()?,
            _ => return None,
        }
    }
    (num.is_empty() && rest != "T" && !rest.is_empty()).then_some(total)
}

/// What Entra refuses in a rule update.
fn check_rule(t: &Tenant, id: &str, current: &Value, body: &Map<String, Value>) -> Result<(), GraphError> {
    let ty = current.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
    if body.get("@odata.type").and_then(Value::as_str) != Some(ty) {
        return Err(bad(format!("The rule {id} is a {}; the request must carry that @odata.type.", ty.trim_start_matches("#microsoft.graph."))));
    }
    if body.get("id").is_some_and(|v| v.as_str() != Some(id)) {
        return Err(bad("The id in the request does not match the rule."));
    }
    if let Some(tg) = body.get("target") {
        let want = target(id);
        if tg.get("caller") != want.get("caller") || tg.get("level") != want.get("level") {
            return Err(bad(format!("The target of rule {id} cannot be changed.")));
        }
    }
    match ty {
        EXPIRATION => {
            let required = body.get("isExpirationRequired").and_then(Value::as_bool).or_else(|| current.get("isExpirationRequired").and_then(Value::as_bool)).unwrap_or(false);
            if let Some(d) = body.get("maximumDuration") {
                let m = d.as_str().and_then(minutes).ok_or_else(|| bad(format!("'{d}' is not a valid duration.")))?;
                let (lo, hi) = if id == "Expiration_EndUser_Assignment" { (30, 24 * 60) } else { (1440, 366 * 1440) };
                if required && !(lo..=hi).contains(&m) {
                    return Err(bad(format!("The maximum duration {d} of rule {id} is out of range.")));
                }
            }
            if id == "Expiration_EndUser_Assignment" && !required {
                return Err(bad("An activation always expires."));
            }
        }
        ENABLEMENT => {
            let allowed: &[&str] = match id {
                "Enablement_EndUser_Assignment" => &["MultiFactorAuthentication", "Justification", "Ticketing"],
                _ => &["MultiFactorAuthentication", "Justification"],
            };
            for r in body.get("enabledRules").and_then(Value::as_array).into_iter().flatten() {
                if !r.as_str().is_some_and(|r| allowed.contains(&r)) {
                    return Err(bad(format!("{r} is not an enabled rule rule {id} accepts.")));
                }
            }
        }
        APPROVAL => {
            let s = body.get("setting").ok_or_else(|| bad("An approval rule update needs its setting."))?;
            let required = s.get("isApprovalRequired").and_then(Value::as_bool).unwrap_or(false);
            let approvers: Vec<&Value> = s.get("approvalStages").and_then(Value::as_array).into_iter().flatten().flat_map(|st| st.get("primaryApprovers").and_then(Value::as_array).into_iter().flatten()).collect();
            if required && approvers.is_empty() {
                return Err(bad("Approval is required but no approvers are given."));
            }
            for a in approvers {
                let ok = match a.get("@odata.type").and_then(Value::as_str) {
                    Some("#microsoft.graph.singleUser") => a.get("userId").and_then(Value::as_str).is_some_and(|u| t.get("users", u).is_some()),
                    Some("#microsoft.graph.groupMembers") => a.get("groupId").and_then(Value::as_str).is_some_and(|g| t.get("groups", g).is_some()),
                    _ => false,
                };
                if !ok {
                    return Err(bad(format!("The approver {a} is not an existing user or group.")));
                }
            }
        }
        _ => {}
    }
    Ok(())
}
