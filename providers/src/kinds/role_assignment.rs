//! Directory role assignments: permanent active ones (`roleAssignments`),
//! time-boxed active ones and eligible ones (PIM schedule requests), so
//! Entra itself ends the access at its expiry.

use engine::model::reference;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::role_assignment::{role_template_id, AssignmentType, BUILT_IN_ROLES};
use schema::kinds::RoleAssignment;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{ref_to, resource, str_field};
use super::registry::{Api, KindProvider};

/// The role's display name for a definition id (built-in roles have
/// id == templateId), or the id itself for roles tenantctl does not know.
pub fn role_name(id: &str) -> String {
    BUILT_IN_ROLES.iter().find(|(_, i)| i.eq_ignore_ascii_case(id)).map(|(n, _)| n.to_string()).unwrap_or_else(|| id.to_string())
}

/// A declared role as live objects show it: a built-in role's name (also
/// when declared by its template id), else the role definition id in
/// lower case, as Graph writes ids.
pub fn desired_role(role: &str) -> String {
    if schema::kinds::role_assignment::is_role_id(role) {
        role_name(&role.to_ascii_lowercase())
    } else {
        role.to_string()
    }
}

fn kind_word(t: AssignmentType) -> &'static str {
    match t {
        AssignmentType::Active => "active",
        AssignmentType::Eligible => "eligible",
    }
}

/// `{{principal}}|role|scope|active`: references inside `{{ }}` are
/// resolved by the engine, so keys match across desired and live.
fn natural_key(principal: &str, role: &str, scope: &str, kind: &str) -> String {
    format!("{{{{{principal}}}}}|{}|{scope}|{kind}", role.to_lowercase())
}

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::RoleAssignment,
    collection: "/roleManagement/directory/roleAssignments",
    api: Api::V1,
    natural_key: None,
    desired: |s, m| {
        for (k, d) in &s.role_assignment { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "roles.toml",
    export_title: "Directory role assignments",
};

pub fn desired(key: &str, r: &RoleAssignment, state: &DesiredState) -> DesiredResource {
    let principal = ref_to(state, &r.principal, &[Kind::User, Kind::Guest, Kind::Group]);
    let principal_address = engine::model::as_reference(&principal).unwrap_or_default().to_string();
    let mut p = Props::new();
    p.insert("principal".into(), principal);
    // A role given by id is compared, and shown, by name when built in.
    let role = desired_role(&r.role);
    p.insert("role".into(), json!(role));
    p.insert("directoryScopeId".into(), json!(r.directory_scope_id));
    p.insert("assignment".into(), json!(kind_word(r.assignment)));
    p.insert(
        "endDateTime".into(),
        r.expires.map(|e| json!(e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))).unwrap_or(Value::Null),
    );
    let role_id = role_template_id(&role).unwrap_or(&role).to_string();
    let mut res = resource(
        Address::new(Kind::RoleAssignment, key),
        natural_key(&principal_address, &role_id, &r.directory_scope_id, kind_word(r.assignment)),
        format!("{} as {}", r.principal, r.role),
        p,
    );
    // Moving between permanent, time-boxed and eligible is a different
    // Graph object, so those changes replace.
    res.immutable = vec!["assignment".into(), "principal".into(), "role".into(), "directoryScopeId".into()];
    res.expires = r.expires;
    if let Some(j) = &r.justification {
        res.create_only.insert("justification".into(), json!(j));
    }
    res
}

/// Normalize a roleAssignment, or a PIM schedule (with `scheduleInfo`), as
/// `assignment` ("active" or "eligible").
pub fn normalize(raw: &Value, assignment: &str) -> LiveObject {
    let principal = str_field(raw, "principalId");
    let role_id = str_field(raw, "roleDefinitionId");
    let scope = raw.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/");
    let end = raw
        .pointer("/scheduleInfo/expiration/endDateTime")
        .and_then(Value::as_str)
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .map(|e| json!(e.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null);
    let mut props = Props::new();
    props.insert("principal".into(), reference(principal));
    props.insert("role".into(), json!(role_name(role_id)));
    props.insert("directoryScopeId".into(), json!(scope));
    props.insert("assignment".into(), json!(assignment));
    props.insert("endDateTime".into(), end);
    LiveObject {
        kind: Kind::RoleAssignment,
        id: str_field(raw, "id").to_string(),
        natural_key: natural_key(principal, role_id, scope, assignment),
        display_name: format!("{} as {}", principal, role_name(role_id)),
        props,
    }
}

/// The error code Graph answers PIM requests with on a tenant without
/// Microsoft Entra ID P2 (or Governance).
pub const LICENCE_REQUIRED: &str = "AadPremiumLicenseRequired";

/// Said once when the PIM lists cannot be read for lack of a licence.
pub const PIM_UNAVAILABLE: &str = "Privileged Identity Management is unavailable: the tenant has no Microsoft Entra ID P2 or Microsoft Entra ID Governance licence (Graph answers AadPremiumLicenseRequired), so only permanent active role assignments are read and managed";

/// What reading role assignments found: the live objects, and whether the
/// PIM lists (schedules, eligibility) could be read.
pub struct Read {
    pub objects: Vec<LiveObject>,
    pub pim: bool,
}

/// Whether a desired assignment needs PIM: eligible, or time-boxed.
pub fn needs_pim(r: &DesiredResource) -> bool {
    r.props.get("assignment").and_then(Value::as_str) == Some("eligible") || r.props.get("endDateTime").is_some_and(|e| !e.is_null())
}

/// Why a desired assignment is refused without PIM.
pub fn needs_pim_reason(r: &DesiredResource) -> String {
    let what = if r.props.get("assignment").and_then(Value::as_str) == Some("eligible") { "an eligible" } else { "a time-boxed (expires)" };
    format!(
        "{what} role assignment needs Privileged Identity Management, which needs a Microsoft Entra ID P2 or Microsoft Entra ID Governance licence; the tenant has neither (Graph answers {LICENCE_REQUIRED}). Declare it as a permanent active assignment, or license the tenant"
    )
}

/// Whether a PIM schedule (or instance) is an activation of an eligible
/// assignment rather than an assignment.
pub fn is_activation(s: &Value) -> bool {
    s.get("assignmentType").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("activated"))
}

/// (principal, role, scope) of an assignment or schedule.
pub fn assignment_key(v: &Value) -> (String, String, String) {
    (
        str_field(v, "principalId").to_string(),
        str_field(v, "roleDefinitionId").to_lowercase(),
        v.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/").to_string(),
    )
}

/// The keys of activations among active schedules: Entra lists an
/// activation in `/roleAssignments` while it lasts, like a standing
/// assignment, and only the schedule (`assignmentType: Activated`) tells
/// them apart. A key with an `Assigned` schedule too is an assignment.
pub fn activation_keys(schedules: &[Value]) -> std::collections::BTreeSet<(String, String, String)> {
    let assigned: std::collections::BTreeSet<_> = schedules.iter().filter(|s| !is_activation(s)).map(assignment_key).collect();
    schedules.iter().filter(|s| is_activation(s)).map(assignment_key).filter(|k| !assigned.contains(k)).collect()
}

/// Live role assignments from `/roleAssignments` and, when PIM is
/// available, the active and eligible schedules. Activations are never
/// assignments; an active schedule not (yet) mirrored in
/// `/roleAssignments` still grants the role, under the schedule's id.
pub fn combine(active: &[Value], pim: Option<(&[Value], &[Value])>) -> Vec<LiveObject> {
    let Some((schedules, eligible)) = pim else {
        return active.iter().map(|a| normalize(a, "active")).collect();
    };
    let activations = activation_keys(schedules);
    let mut ends = std::collections::BTreeMap::new();
    for s in schedules.iter().filter(|s| !is_activation(s)) {
        if let Some(i) = s.get("scheduleInfo") {
            ends.insert(assignment_key(s), i.clone());
        }
    }
    let mut out = Vec::new();
    let mut held = std::collections::BTreeSet::new();
    for a in active {
        let key = assignment_key(a);
        held.insert(key.clone());
        if activations.contains(&key) {
            continue;
        }
        let mut a = a.clone();
        if let (Some(info), Some(m)) = (ends.get(&key), a.as_object_mut()) {
            m.insert("scheduleInfo".into(), info.clone());
        }
        out.push(normalize(&a, "active"));
    }
    for s in schedules.iter().filter(|s| !held.contains(&assignment_key(s)) && !is_activation(s)) {
        out.push(normalize(s, "active"));
    }
    out.extend(eligible.iter().map(|e| normalize(e, "eligible")));
    out
}

/// How a desired role assignment is written.
pub enum Write {
    /// POST /roleManagement/directory/roleAssignments
    Permanent(Value),
    /// POST .../roleAssignmentScheduleRequests or .../roleEligibilityScheduleRequests
    Schedule { path: &'static str, body: Value },
}

/// A PIM schedule request (`adminAssign`, `adminUpdate`...) for a desired
/// role assignment: the eligibility endpoint for eligible ones, the
/// assignment endpoint for active ones; no expiry is `noExpiration`.
pub fn schedule_request(r: &DesiredResource, principal_id: &str, now: chrono::DateTime<chrono::Utc>, action: &str) -> (&'static str, Value) {
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    let role_id = role_template_id(role).unwrap_or(role);
    let scope = r.props.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/");
    let expiration = match r.props.get("endDateTime").and_then(Value::as_str) {
        Some(e) => json!({"type": "afterDateTime", "endDateTime": e}),
        None => json!({"type": "noExpiration"}),
    };
    let justification = r.create_only.get("justification").and_then(Value::as_str).unwrap_or("Declared in tenantctl desired state");
    let body = json!({
        "action": action,
        "principalId": principal_id,
        "roleDefinitionId": role_id,
        "directoryScopeId": scope,
        "justification": justification,
        "scheduleInfo": {
            "startDateTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "expiration": expiration,
        },
    });
    let eligible = r.props.get("assignment").and_then(Value::as_str) == Some("eligible");
    let path = if eligible {
        "/roleManagement/directory/roleEligibilityScheduleRequests"
    } else {
        "/roleManagement/directory/roleAssignmentScheduleRequests"
    };
    (path, body)
}

/// The create request for a role assignment, given the principal's object
/// id: a plain roleAssignment for permanent active access, a PIM schedule
/// request otherwise, so Entra itself ends time-boxed access.
pub fn create_request(r: &DesiredResource, principal_id: &str, now: chrono::DateTime<chrono::Utc>) -> Write {
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    let role_id = role_template_id(role).unwrap_or(role);
    let scope = r.props.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/");
    let end = r.props.get("endDateTime").and_then(Value::as_str);
    let eligible = r.props.get("assignment").and_then(Value::as_str) == Some("eligible");
    if !eligible && end.is_none() {
        return Write::Permanent(json!({
            "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
            "roleDefinitionId": role_id,
            "principalId": principal_id,
            "directoryScopeId": scope,
        }));
    }
    let (path, body) = schedule_request(r, principal_id, now, "adminAssign");
    Write::Schedule { path, body }
}
