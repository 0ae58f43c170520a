//! Privileged Identity Management: role eligibility and assignment schedule
//! requests (`adminAssign`, `adminUpdate`, `adminExtend`, `adminRenew`,
//! `adminRemove`, `selfActivate`, `selfDeactivate`), which create, change or
//! remove the schedules tools read back. Expired schedules stop being listed.

use crate::error::GraphError;
use crate::graph::Ctx;
use crate::resources::{self, Spec};
use crate::roles::{check_principal, check_role, required_str};
use crate::store::{ChangeKind, Record, Tenant};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

/// The tenant's role management policy, as far as the sandbox enforces it.
/// Eligible assignments may last at most a year, active ones 180 days,
/// self-activation 8 hours (Entra's defaults).
const MAX_ELIGIBLE_DAYS: i64 = 365;
const MAX_ACTIVE_DAYS: i64 = 180;
const MAX_ACTIVATION_HOURS: i64 = 8;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Eligible,
    Active,
}

impl Kind {
    fn schedules(self) -> &'static str {
        match self {
            Kind::Eligible => "roleEligibilitySchedules",
            Kind::Active => "roleAssignmentSchedules",
        }
    }
}

/// Parses an ISO-8601 duration such as `PT8H`, `P30D`, `P1DT12H`, `P2W`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = Duration::zero();
    let mut parse_part = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let (_, secs) = units.iter().find(|(u, _)| *u == c)?;
                let n: f64 = num.parse().ok()?;
                total += Duration::milliseconds((n * *secs as f64 * 1000.0) as i64);
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    parse_part(date, &[('Y', 365 * 86400), ('M', 30 * 86400), ('W', 7 * 86400), ('D', 86400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        parse_part(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    (total > Duration::zero() || rest == "0D" || rest == "T0S").then_some(total)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

fn fmt_time(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Where a roleAssignment that mirrors an activation keeps its schedule
/// id and end (never rendered).
const ACTIVATION: &str = "activation";

/// Whether a roleAssignment is in force: one that mirrors an activation
/// disappears when the activation ends.
pub fn assignment_active(rec: &Record, ctx: &Ctx) -> bool {
    let end = rec.nav.get(ACTIVATION).and_then(|a| a.get("endDateTime")).and_then(Value::as_str).and_then(parse_time);
    let now = DateTime::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    end.is_none_or(|e| e > now)
}

/// Whether a schedule is still in force (not past its end).
pub fn schedule_active(rec: &Record, ctx: &Ctx) -> bool {
    let end = rec.data.get("scheduleInfo").and_then(|s| s.get("expiration")).and_then(|e| e.get("endDateTime")).and_then(Value::as_str).and_then(parse_time);
    let now = DateTime::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    end.is_none_or(|e| e > now)
}

fn policy_failure(rule: &str) -> GraphError {
    GraphError::new(400, "RoleAssignmentRequestPolicyValidationFailed", format!("The following policy rules failed: [\"{rule}\"]"))
}

/// Normalises `scheduleInfo`: lower-camel expiration type, computed end, policy limits.
fn normalise_schedule(ctx: &Ctx, info: Option<&Value>, max: Duration) -> Result<Value, GraphError> {
    let now = DateTime::from_timestamp_millis(ctx.now_ms).unwrap_or_default();
    let info = info.cloned().unwrap_or_else(|| json!({}));
    let start = match info.get("startDateTime").and_then(Value::as_str) {
        Some(s) => parse_time(s).ok_or_else(|| GraphError::bad_request("Invalid value specified for property 'startDateTime'."))?,
        None => now,
    };
    let exp = info.get("expiration").cloned().unwrap_or_else(|| json!({"type": "noExpiration"}));
    let ty = exp.get("type").and_then(Value::as_str).unwrap_or("noExpiration").to_ascii_lowercase();
    let (ty, end, duration) = match ty.as_str() {
        "noexpiration" => ("noExpiration", None, None),
        "afterdatetime" => {
            let end = exp.get("endDateTime").and_then(Value::as_str).and_then(parse_time).ok_or_else(|| GraphError::bad_request("Invalid value specified for property 'endDateTime'."))?;
            ("afterDateTime", Some(end), None)
        }
        "afterduration" => {
            let d = exp.get("duration").and_then(Value::as_str).and_then(parse_duration).ok_or_else(|| GraphError::bad_request("Invalid value specified for property 'duration'."))?;
            ("afterDuration", Some(start + d), exp.get("duration").cloned())
        }
        _ => return Err(GraphError::bad_request("Invalid value specified for property 'expiration.type'.")),
    };
    if let Some(end) = end {
        if end <= start {
            return Err(policy_failure("ExpirationRule"));
        }
        if end - start > max {
            return Err(policy_failure("ExpirationRule"));
        }
    }
    Ok(json!({
        "startDateTime": fmt_time(start),
        "recurrence": null,
        "expiration": {"type": ty, "endDateTime": end.map(fmt_time), "duration": duration}
    }))
}

fn find_schedule(t: &Tenant, kind: Kind, principal: &str, role: &str, scope: &str) -> Option<String> {
    t.coll(kind.schedules())?
        .iter()
        .find(|(_, r)| {
            r.data.get("principalId").and_then(Value::as_str) == Some(principal)
                && r.data.get("roleDefinitionId").and_then(Value::as_str) == Some(role)
                && r.data.get("directoryScopeId").and_then(Value::as_str) == Some(scope)
        })
        .map(|(id, _)| id.clone())
}

pub fn create_eligibility_request(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    request(t, ctx, spec, body, Kind::Eligible)
}

pub fn create_assignment_request(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    request(t, ctx, spec, body, Kind::Active)
}

fn request(t: &mut Tenant, ctx: &Ctx, spec: &Spec, mut body: Map<String, Value>, kind: Kind) -> Result<String, GraphError> {
    let action = required_str(&body, "action")?;
    let principal = required_str(&body, "principalId")?;
    let role = required_str(&body, "roleDefinitionId")?;
    let scope = body.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/").to_string();
    check_role(t, &role)?;
    crate::administrative_units::check_scope(t, &scope, &role)?;
    check_principal(t, ctx, &principal)?;
    let now = ctx.now_iso();
    let request_id = resources::new_id();
    let existing = find_schedule(t, kind, &principal, &role, &scope);
    let live = existing.as_ref().filter(|id| t.get(kind.schedules(), id).is_some_and(|r| schedule_active(r, ctx))).cloned();
    let max = match kind {
        Kind::Eligible => Duration::days(MAX_ELIGIBLE_DAYS),
        Kind::Active => Duration::days(MAX_ACTIVE_DAYS),
    };
    let (status, target) = match action.as_str() {
        "adminAssign" => {
            if live.is_some() {
                return Err(GraphError::new(400, "RoleAssignmentExists", "The Role assignment already exists."));
            }
            let info = normalise_schedule(ctx, body.get("scheduleInfo"), max)?;
            if let Some(old) = existing {
                t.remove(kind.schedules(), &old, ChangeKind::HardDelete);
            }
            let sched = new_schedule(kind, &principal, &role, &scope, &request_id, &now, info);
            let id = resources::insert_new(t, ctx, kind.schedules(), sched, Map::new());
            ("Provisioned", Some(id))
        }
        "adminUpdate" | "adminExtend" | "adminRenew" => {
            let target = if action == "adminRenew" { existing } else { live };
            let Some(id) = target else {
                return Err(GraphError::new(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."));
            };
            let info = normalise_schedule(ctx, body.get("scheduleInfo"), max)?;
            // An update that changes nothing (e.g. a retry whose first
            // attempt landed) is refused, as Entra does.
            let same_end = t.get(kind.schedules(), &id).is_some_and(|r| r.data.get("scheduleInfo").and_then(|i| i.pointer("/expiration/endDateTime")) == info.pointer("/expiration/endDateTime"));
            if action == "adminUpdate" && same_end {
                return Err(GraphError::new(400, "RoleAssignmentExists", "The Role assignment already exists."));
            }
            t.update(kind.schedules(), &id, |r| {
                r.data.insert("scheduleInfo".into(), info);
                r.data.insert("modifiedDateTime".into(), json!(now));
            });
            ("Provisioned", Some(id))
        }
        "adminRemove" => {
            let Some(id) = live else {
                return Err(GraphError::new(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."));
            };
            t.remove(kind.schedules(), &id, ChangeKind::HardDelete);
            ("Revoked", Some(id))
        }
        "selfActivate" if kind == Kind::Active => {
            let eligible = find_schedule(t, Kind::Eligible, &principal, &role, &scope).filter(|id| t.get(Kind::Eligible.schedules(), id).is_some_and(|r| schedule_active(r, ctx)));
            if eligible.is_none() {
                return Err(GraphError::new(400, "RoleAssignmentRequestPolicyValidationFailed", "The following policy rules failed: [\"EligibilityRule\"]"));
            }
            if body.get("justification").and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(policy_failure("JustificationRule"));
            }
            if live.is_some() {
                return Err(GraphError::new(400, "RoleAssignmentExists", "The Role assignment already exists."));
            }
            let info = normalise_schedule(ctx, body.get("scheduleInfo"), Duration::hours(MAX_ACTIVATION_HOURS))?;
            if info.pointer("/expiration/type").and_then(Value::as_str) == Some("noExpiration") {
                return Err(policy_failure("ExpirationRule"));
            }
            let end = info.pointer("/expiration/endDateTime").cloned().unwrap_or(Value::Null);
            let mut sched = new_schedule(kind, &principal, &role, &scope, &request_id, &now, info);
            // An activation is a schedule (and instance) of type
            // "Activated", and while it lasts Entra lists it in
            // /roleAssignments like any other active assignment.
            sched.insert("assignmentType".into(), json!("Activated"));
            let id = resources::insert_new(t, ctx, kind.schedules(), sched, Map::new());
            let mirror = json!({
                "roleDefinitionId": role, "principalId": principal, "directoryScopeId": scope,
                "appScopeId": null, "condition": null,
            });
            let mut nav = Map::new();
            nav.insert(ACTIVATION.into(), json!({"schedule": id, "endDateTime": end}));
            resources::insert_new(t, ctx, "roleAssignments", mirror.as_object().cloned().unwrap_or_default(), nav);
            ("Provisioned", Some(id))
        }
        "selfDeactivate" if kind == Kind::Active => {
            let Some(id) = live else {
                return Err(GraphError::new(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."));
            };
            t.remove(kind.schedules(), &id, ChangeKind::HardDelete);
            let mirrors: Vec<String> = t
                .coll("roleAssignments")
                .into_iter()
                .flatten()
                .filter(|(_, r)| r.nav.get(ACTIVATION).and_then(|a| a.get("schedule")).and_then(Value::as_str) == Some(id.as_str()))
                .map(|(k, _)| k.clone())
                .collect();
            for m in mirrors {
                t.remove("roleAssignments", &m, ChangeKind::HardDelete);
            }
            ("Revoked", Some(id))
        }
        _ => return Err(GraphError::bad_request(format!("Invalid value specified for property 'action': '{action}'."))),
    };
    body.insert("id".into(), json!(request_id));
    body.insert("directoryScopeId".into(), json!(scope));
    body.insert("status".into(), json!(status));
    body.insert("targetScheduleId".into(), json!(target));
    body.insert("createdDateTime".into(), json!(now));
    body.insert("completedDateTime".into(), json!(now));
    body.entry("approvalId").or_insert(Value::Null);
    body.entry("isValidationOnly").or_insert(json!(false));
    body.entry("appScopeId").or_insert(Value::Null);
    body.entry("justification").or_insert(Value::Null);
    body.insert("createdBy".into(), json!({"application": null, "device": null, "user": null}));
    if let Some(info) = body.get("scheduleInfo").cloned() {
        if let Some(ty) = info.pointer("/expiration/type").and_then(Value::as_str) {
            // Graph echoes the expiration type in lower camelCase.
            let lower = match ty.to_ascii_lowercase().as_str() {
                "noexpiration" => "noExpiration",
                "afterdatetime" => "afterDateTime",
                "afterduration" => "afterDuration",
                _ => "noExpiration",
            };
            let mut info = info;
            if let Some(e) = info.get_mut("expiration").and_then(Value::as_object_mut) {
                e.insert("type".into(), json!(lower));
            }
            body.insert("scheduleInfo".into(), info);
        }
    }
    body.remove("@odata.type");
    Ok(resources::insert_new(t, ctx, spec.coll, body, Map::new()))
}

fn new_schedule(kind: Kind, principal: &str, role: &str, scope: &str, request_id: &str, now: &str, info: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("principalId".into(), json!(principal));
    m.insert("roleDefinitionId".into(), json!(role));
    m.insert("directoryScopeId".into(), json!(scope));
    m.insert("appScopeId".into(), Value::Null);
    m.insert("createdUsing".into(), json!(request_id));
    m.insert("createdDateTime".into(), json!(now));
    m.insert("modifiedDateTime".into(), Value::Null);
    m.insert("status".into(), json!("Provisioned"));
    m.insert("memberType".into(), json!("Direct"));
    if kind == Kind::Active {
        m.insert("assignmentType".into(), json!("Assigned"));
    }
    m.insert("scheduleInfo".into(), info);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT8H"), Some(Duration::hours(8)));
        assert_eq!(parse_duration("P1DT12H"), Some(Duration::hours(36)));
        assert_eq!(parse_duration("P2W"), Some(Duration::days(14)));
        assert_eq!(parse_duration("8H"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("PXD"), None);
    }
}
