//! Directory role assignments: permanent active ones (`roleAssignments`),
//! time-boxed active ones and eligible ones (PIM schedule requests), so
//! Entra itself ends the access at its expiry.

use engine::model::reference;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::role_assignment::{role_template_id, AssignmentType, BUILT_IN_ROLES, CUSTOM_ROLE};
use schema::kinds::RoleAssignment;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use super::{ref_to, resource, str_field};
use super::registry::{lit, Api, BoxFuture, Created, KindProvider, Read as ReadKind};
use crate::apply::{err, fail, id_of, urlencode, Writer};
use crate::export::{s, ExportCx};
use crate::graph::{GraphClient, GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};
use chrono::{DateTime, Utc};
use engine::apply::ExecError;
use engine::model::as_reference;
use engine::{DesiredModel, Ledger, ObservedState};
use std::collections::{BTreeMap, BTreeSet};

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
    created: Created::Elsewhere,
    desired: |s, m| {
        for (k, d) in &s.role_assignment { m.insert(desired(k, &d.value, s)); }
    },
    export_file: "roles.toml",
    export_title: "Directory role assignments",
    read: ReadKind::Own(read),
    create,
    update,
    delete,
    export,
    // An assignment may be a permanent assignment or a PIM schedule.
    import_paths: &[
        "/roleManagement/directory/roleAssignments",
        "/roleManagement/directory/roleEligibilitySchedules",
        "/roleManagement/directory/roleAssignmentSchedules",
    ],
    listings: || LISTS.iter().map(|l| l.to_string()).collect(),
    after_post: &[],
};

/// The listings the read starts with: permanent assignments, then the PIM
/// schedules (active, eligible).
const LISTS: [&str; 3] = ["/roleManagement/directory/roleAssignments", "/roleManagement/directory/roleAssignmentSchedules", "/roleManagement/directory/roleEligibilitySchedules"];

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
    // A custom role (declared by key, or by id) is `CUSTOM_ROLE` with its
    // definition as a reference; an administrative unit scope is a
    // reference too: the plan resolves live ids to addresses, apply the
    // other way round.
    let custom = schema::kinds::role_definition::declared(state, &r.role);
    let definition = match (&custom, role_template_id(&role)) {
        (Some(a), _) => Some(a.to_string()),
        (None, None) => Some(format!("id:{role}")),
        (None, Some(_)) => None,
    };
    let role_part = match &definition {
        Some(d) => {
            p.insert("role".into(), json!(CUSTOM_ROLE));
            p.insert("roleDefinition".into(), reference(d.clone()));
            format!("{{{{{}}}}}", d.trim_start_matches("id:"))
        }
        None => role_template_id(&role).unwrap_or(&role).to_string(),
    };
    // A unit given by id in `directory_scope_id` is compared the same way.
    let unit = r.scope.as_ref().map(|sc| ref_to(state, &sc.administrative_unit, &[Kind::AdministrativeUnit])).or_else(|| r.directory_scope_id.strip_prefix(UNIT_SCOPE).map(|id| reference(format!("id:{id}"))));
    let scope_part = match &unit {
        Some(u) => {
            let part = format!("{{{{{}}}}}", as_reference(u).unwrap_or_default().trim_start_matches("id:"));
            p.insert("directoryScopeId".into(), u.clone());
            part
        }
        None => r.directory_scope_id.clone(),
    };
    let mut res = resource(
        Address::new(Kind::RoleAssignment, key),
        natural_key(&principal_address, &role_part, &scope_part, kind_word(r.assignment)),
        format!("{} as {}", r.principal, r.role),
        p,
    );
    // Moving between permanent, time-boxed and eligible is a different
    // Graph object, so those changes replace.
    res.immutable = vec!["assignment".into(), "principal".into(), "role".into(), "roleDefinition".into(), "directoryScopeId".into()];
    res.expires = r.expires;
    // An eligible or time-boxed assignment is activated (or ends) by its
    // role's PIM settings: it waits on the declared `role_policy` of its
    // role, and is skipped when that fails (hostile run 17, finding 15),
    // so it never exists under settings nobody approved.
    if matches!(r.assignment, AssignmentType::Eligible) || r.expires.is_some() {
        let role = res.props.get("role").and_then(Value::as_str).unwrap_or_default().to_string();
        let definition = res.props.get("roleDefinition").and_then(as_reference).map(str::to_string);
        for a in super::role_policy::governing(state, &role, definition.as_deref()) {
            if !res.depends_on.contains(&a) {
                res.depends_on.push(a);
            }
        }
    }
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
    // A custom role and an administrative unit scope as references (see
    // `desired`).
    let built_in = BUILT_IN_ROLES.iter().any(|(_, i)| i.eq_ignore_ascii_case(role_id));
    let role_part = if built_in {
        props.insert("role".into(), json!(role_name(role_id)));
        role_id.to_string()
    } else {
        props.insert("role".into(), json!(CUSTOM_ROLE));
        props.insert("roleDefinition".into(), reference(role_id));
        format!("{{{{{role_id}}}}}")
    };
    let scope_part = match scope.strip_prefix(UNIT_SCOPE) {
        Some(unit) => {
            props.insert("directoryScopeId".into(), reference(unit));
            format!("{{{{{unit}}}}}")
        }
        None => {
            props.insert("directoryScopeId".into(), json!(scope));
            scope.to_string()
        }
    };
    props.insert("assignment".into(), json!(assignment));
    props.insert("endDateTime".into(), end);
    LiveObject {
        kind: Kind::RoleAssignment,
        id: str_field(raw, "id").to_string(),
        natural_key: natural_key(principal, &role_part, &scope_part, assignment),
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


fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let r = read_all(cx.client).await?;
        Ok(Readout { objects: r.objects, after: if r.pim { None } else { Some(pim_unavailable) }, refused: BTreeMap::new() })
    })
}

/// The scope of an administrative unit's id.
const UNIT_SCOPE: &str = "/administrativeUnits/";

/// `props` with a custom role's and a unit scope's reference replaced by
/// what Graph takes: the role definition id, `/administrativeUnits/{id}`.
fn resolved(w: &Writer<'_>, props: &Props) -> Result<Props, ExecError> {
    let mut p = props.clone();
    let id_of = |a: &str| w.ref_id(a).ok_or_else(|| err(format!("{}: {a} has no object id yet", w.address())));
    if let Some(d) = props.get("roleDefinition").and_then(as_reference) {
        p.insert("role".into(), json!(id_of(d)?));
    }
    if let Some(unit) = props.get("directoryScopeId").and_then(as_reference) {
        p.insert("directoryScopeId".into(), json!(format!("{UNIT_SCOPE}{}", id_of(unit)?)));
    }
    Ok(p)
}

/// The desired resource with its role and scope resolved for Graph.
fn resolved_desired(w: &Writer<'_>) -> Result<DesiredResource, ExecError> {
    let mut r = w.desired()?.clone();
    r.props = resolved(w, &r.props)?;
    Ok(r)
}

/// Active assignments from `roleAssignments` (what holds a role now), with
/// the end of time-boxed ones from `roleAssignmentSchedules`; eligible ones
/// from `roleEligibilitySchedules`. The PIM lists answer
/// `400 AadPremiumLicenseRequired` on a tenant without Entra ID P2: then
/// the plain assignments are read on their own and PIM is unavailable.
async fn read_all(client: &GraphClient) -> Result<Read, GraphError> {
    let v1 = client.v1();
    let (active, schedules, eligible) = tokio::join!(
        v1.list_all(LISTS[0]),
        v1.list_all(LISTS[1]),
        v1.list_all(LISTS[2]),
    );
    let unlicensed = |r: &Result<Vec<Value>, GraphError>| matches!(r, Err(e) if e.code() == Some(LICENCE_REQUIRED));
    if unlicensed(&schedules) || unlicensed(&eligible) {
        return Ok(Read { objects: combine(&active?, None), pim: false });
    }
    Ok(Read { objects: combine(&active?, Some((&schedules?, &eligible?))), pim: true })
}

/// Without PIM, the desired assignments that need it are refused (naming
/// the licence), ledger entries that may be PIM schedules are unknown
/// rather than forgotten, and the plan says once why.
fn pim_unavailable(observed: &mut ObservedState, desired: &DesiredModel, ledger: &Ledger) {
    observed.warnings.push(PIM_UNAVAILABLE.into());
    let seen: BTreeSet<&str> = observed.objects.get(&Kind::RoleAssignment).into_iter().flatten().map(|o| o.id.as_str()).collect();
    // Held, not fatal (hostile run 15, finding 6): the rest is planned.
    let needs = super::entitlement_licence::NEEDS_LICENCE;
    let mut held = BTreeMap::new();
    for r in desired.resources.values().filter(|r| r.address.kind == Kind::RoleAssignment && needs_pim(r)) {
        held.insert(r.address.clone(), engine::held::Held::new(needs, needs_pim_reason(r)));
    }
    for (address, entry) in ledger.resources.iter().filter(|(a, _)| a.kind == Kind::RoleAssignment) {
        if !seen.contains(entry.id.as_str()) && !desired.resources.contains_key(address) {
            held.insert(address.clone(), engine::held::Held::new(needs, format!("no longer declared, but {PIM_UNAVAILABLE}: it may be a PIM schedule, which is neither read nor removed")));
        }
    }
    observed.held.extend(held);
}

/// What a PIM request achieves, to check against the live schedule.
enum PimDone {
    /// `adminRemove`: no schedule left.
    Removed,
    /// `adminUpdate`: the schedule ends at this time (null: never).
    EndsAt(Value),
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(create_assignment(w))
}

/// Only the end date changes in place (immutable fields replace): an
/// adminUpdate sets the new end, or none.
fn update<'a>(w: &'a Writer<'a>, _id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let r = &resolved_desired(w)?;
        let principal = w
            .ref_id(as_reference(r.props.get("principal").unwrap_or(&Value::Null)).unwrap_or_default())
            .ok_or_else(|| err(format!("{}: principal has no object id", w.address())))?;
        let (path, mut body) = schedule_request(r, &principal, w.now(), "adminUpdate");
        let end = r.props.get("endDateTime").cloned().unwrap_or(Value::Null);
        if let Some(earlier) = earlier_end(w.change()) {
            // Bringing the end earlier runs unattended (it only removes
            // access), so what it writes into Entra's audit trail is not
            // the pull request's free text, which nobody reviewed (hostile
            // run 17, finding 8).
            body["justification"] = json!(format!("End brought earlier to {earlier} by tenantctl, as desired state declares"));
        }
        pim_request(w, &w.client().v1(), path, body, PimDone::EndsAt(end)).await
    })
}

/// The new end of an update whose only change brings the end earlier.
fn earlier_end(change: &engine::Change) -> Option<String> {
    let [f] = change.fields.as_slice() else { return None };
    let at = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    match (at(f.before.as_ref()), at(f.after.as_ref())) {
        (Some(before), Some(after)) if f.field == "endDateTime" && after < before => f.after.as_ref().and_then(Value::as_str).map(str::to_string),
        (None, Some(_)) if f.field == "endDateTime" => f.after.as_ref().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Only the live object says which assignment to remove (the desired one
/// may name another principal, role or type): a scheduled one through PIM
/// (`adminRemove`), a permanent one by DELETE.
fn delete<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let change = w.change();
        let api = w.client().v1();
        let base = w.base();
        let p = change.live.clone().ok_or_else(|| err(format!("{}: the plan does not record the live assignment to remove", change.address)))?;
        let p = resolved(w, &p)?;
        let eligible = p.get("assignment").and_then(Value::as_str) == Some("eligible");
        let scheduled = eligible || p.get("endDateTime").is_some_and(|e| !e.is_null());
        let principal = w
            .ref_id(as_reference(p.get("principal").unwrap_or(&Value::Null)).unwrap_or_default())
            .ok_or_else(|| err(format!("{}: principal has no object id", change.address)))?;
        let role = p.get("role").and_then(Value::as_str).unwrap_or_default();
        let path = if eligible { "/roleManagement/directory/roleEligibilityScheduleRequests" } else { "/roleManagement/directory/roleAssignmentScheduleRequests" };
        let body = json!({
            "action": "adminRemove",
            "principalId": principal,
            "roleDefinitionId": role_template_id(role).unwrap_or(role),
            "directoryScopeId": p.get("directoryScopeId").cloned().unwrap_or(json!("/")),
            "justification": "Expired or no longer declared in tenantctl desired state",
        });
        if scheduled {
            return pim_request(w, &api, path, body, PimDone::Removed).await;
        }
        let refused = match w.try_execute(&api, GraphRequest::new(Method::DELETE, format!("{base}/{id}"))).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => None,
            // Graph may answer 400 (Request_BadRequest, invalid object
            // identifier) rather than 404 for a schedule's id there.
            Err(e @ GraphError::InvalidRequest { status: 400, .. }) => Some(e),
            Err(e) => return Err(fail(e)),
        };
        // Not in /roleAssignments: an active schedule not yet mirrored
        // there (the live object was read under the schedule's id) is
        // removed through PIM; only if no schedule holds it either is it
        // gone. A 404 alone never counts as removed; a 400 with no
        // schedule behind it is the error it was.
        match live_schedule(w, &api, path, &body).await? {
            Some(_) => pim_request(w, &api, path, body, PimDone::Removed).await,
            None => refused.map_or(Ok(()), |e| Err(fail(e))),
        }
    })
}

async fn create_assignment(w: &Writer<'_>) -> Result<String, ExecError> {
    let r = &resolved_desired(w)?;
    let api = w.client().v1();
    let principal = w.ref_id(as_reference(r.props.get("principal").unwrap_or(&Value::Null)).unwrap_or_default())
        .ok_or_else(|| err(format!("{}: principal has no object id", r.address)))?;
    let role = r.props.get("role").and_then(Value::as_str).unwrap_or_default();
    let role_id = role_template_id(role).unwrap_or(role).to_string();
    let scope = r.props.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/").to_string();
    let filter = urlencode(&format!("principalId eq {}", lit(&principal)));
    // A principal created moments ago may not have replicated yet.
    w.wait(&api, &format!("/directoryObjects/{principal}")).await?;
    // An activation of an eligible assignment shows in /roleAssignments
    // while it lasts; it is never adopted as an assignment.
    let activations = match w.list(&api, &format!("/roleManagement/directory/roleAssignmentSchedules?$filter={filter}")).await {
        Ok(schedules) => activation_keys(&schedules),
        // Without Entra ID P2 there is no PIM, hence no activation.
        Err(e) if e.code() == Some(LICENCE_REQUIRED) => BTreeSet::new(),
        Err(e) => return Err(fail(e)),
    };
    let existing = |list: Vec<Value>| {
        list.into_iter()
            .filter(|a| !activations.contains(&assignment_key(a)))
            .filter(|a| a.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/") == scope)
            .find(|a| a.get("roleDefinitionId").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(&role_id)))
            .and_then(|a| a.get("id").and_then(Value::as_str).map(str::to_string))
    };
    match create_request(r, &principal, w.now()) {
        Write::Permanent(body) => {
            let found = w.list(&api, &format!("/roleManagement/directory/roleAssignments?$filter={filter}")).await.map_err(fail)?;
            if let Some(id) = existing(found) {
                return Ok(id);
            }
            let created = w.send(&api, Method::POST, "/roleManagement/directory/roleAssignments", Some(body)).await?;
            id_of(&created)
        }
        Write::Schedule { path, body } => {
            let eligible = path.ends_with("roleEligibilityScheduleRequests");
            let lists: &[&str] = if eligible { &["roleEligibilitySchedules"] } else { &["roleAssignments", "roleAssignmentSchedules"] };
            for list in lists {
                let found = w.list(&api, &format!("/roleManagement/directory/{list}?$filter={filter}")).await.map_err(fail)?;
                if let Some(id) = existing(found) {
                    return Ok(id);
                }
            }
            let created = w.send(&api, Method::POST, path, Some(body)).await?;
            let schedule_id = created.get("targetScheduleId").and_then(Value::as_str).map(str::to_string);
            if eligible {
                return schedule_id.map_or_else(|| id_of(&created), Ok);
            }
            // An active schedule shows up as a roleAssignment, which is
            // what reads match on; until it does, the schedule stands in.
            let found = w.list(&api, &format!("/roleManagement/directory/roleAssignments?$filter={filter}")).await.map_err(fail)?;
            existing(found)
                .or(schedule_id)
                .ok_or_else(|| err(format!("{}: the assignment request was accepted but no active assignment appeared", r.address)))
        }
    }
}

/// The live (non-activation) schedule a PIM request's body names, from
/// the assignment or eligibility schedules the request path belongs to.
/// None also when the tenant has no PIM (no Entra ID P2).
async fn live_schedule(w: &Writer<'_>, api: &GraphClient, request_path: &str, body: &Value) -> Result<Option<Value>, ExecError> {
    let list = if request_path.ends_with("roleEligibilityScheduleRequests") { "roleEligibilitySchedules" } else { "roleAssignmentSchedules" };
    let filter = urlencode(&format!("principalId eq {}", lit(body["principalId"].as_str().unwrap_or_default())));
    let found = match w.list(api, &format!("/roleManagement/directory/{list}?$filter={filter}")).await {
        Ok(found) => found,
        Err(e) if e.code() == Some(LICENCE_REQUIRED) => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    let key = assignment_key(body);
    Ok(found.into_iter().find(|s| assignment_key(s) == key && !is_activation(s)))
}

/// An `adminUpdate` or `adminRemove`. Both are retried after a network
/// error, and a retry whose first attempt did land comes back 400
/// (`RoleAssignmentExists` / `RoleAssignmentDoesNotExist`): that outcome
/// counts as done only once the live schedule shows it is.
async fn pim_request(w: &Writer<'_>, api: &GraphClient, path: &str, body: Value, done: PimDone) -> Result<(), ExecError> {
    let request = GraphRequest::new(Method::POST, path).json(body.clone()).safe_to_retry(true);
    let e = match w.try_execute(api, request).await {
        Ok(_) => return Ok(()),
        Err(e) if matches!(e.code(), Some("RoleAssignmentExists" | "RoleAssignmentDoesNotExist")) => e,
        Err(e) => return Err(fail(e)),
    };
    let live = live_schedule(w, api, path, &body).await?;
    let end = |s: &Value| {
        s.pointer("/scheduleInfo/expiration/endDateTime")
            .and_then(Value::as_str)
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .map(|e| e.with_timezone(&Utc))
    };
    let finished = match (&done, &live) {
        (PimDone::Removed, None) => true,
        (PimDone::EndsAt(want), Some(s)) => {
            let want = want.as_str().and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok()).map(|w| w.with_timezone(&Utc));
            end(s) == want
        }
        _ => false,
    };
    if finished {
        tracing::debug!(path, error = %e, "PIM request answered 400, but the live schedule shows it done");
        Ok(())
    } else {
        Err(fail(e))
    }
}


/// Role assignments whose principal is not exported (service principals)
/// are skipped.
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    let mut standing: Vec<String> = Vec::new();
    for o in objects {
        let p = &o.props;
        let principal_id = p.get("principal").and_then(as_reference).unwrap_or_default();
        let Some(principal) = cx.keys.key_of(principal_id).cloned() else {
            cx.warn(format!("role assignment {} ({}): principal {principal_id} is not exported (a service principal?): not exported", o.display_name, o.id));
            continue;
        };
        // A custom role or unit scope exported beside it is named by key,
        // else by id.
        let role = match p.get("roleDefinition").and_then(as_reference) {
            Some(id) => cx.keys.key_of(id).filter(|a| a.kind == Kind::RoleDefinition).map_or_else(|| id.to_string(), |a| a.to_string()),
            None => s(p, "role").unwrap_or_default(),
        };
        let (scope_id, unit) = match p.get("directoryScopeId").and_then(as_reference) {
            Some(id) => match cx.keys.key_of(id).filter(|a| a.kind == Kind::AdministrativeUnit) {
                Some(a) => ("/".to_string(), Some(a.key.clone())),
                None => (format!("{UNIT_SCOPE}{id}"), None),
            },
            None => (s(p, "directoryScopeId").unwrap_or_else(|| "/".into()), None),
        };
        let eligible = s(p, "assignment").as_deref() == Some("eligible");
        let privileged = schema::kinds::role_assignment::is_privileged(&role);
        let a = cx.key(Kind::RoleAssignment, &format!("{}-{}{}", principal.key, role, if eligible { "-eligible" } else { "" }), &o.id);
        let expires = s(p, "endDateTime").and_then(|e| e.parse::<DateTime<Utc>>().ok());
        t.insert(
            a.key.clone(),
            RoleAssignment {
                principal: principal.key.clone(),
                role,
                assignment: if eligible { AssignmentType::Eligible } else { AssignmentType::Active },
                expires,
                directory_scope_id: if unit.is_some() { "/".into() } else { scope_id },
                scope: unit.map(|administrative_unit| schema::kinds::role_assignment::RoleScope { administrative_unit }),
                justification: None,
            },
        );
        // Standing privileged access found live (a break-glass account's
        // permanent Global Administrator): excepted so the export
        // validates, with a reason that asks for review.
        if !eligible && expires.is_none() && privileged {
            standing.push(a.key.clone());
        }
        cx.record(a, &o.id);
    }
    cx.table(Kind::RoleAssignment, "", &t);
    if !standing.is_empty() {
        let mut text = String::from(
            "# Standing privileged access found in the tenant, exported by `tenantctl export`.\n# Each is excepted only so that the export validates: review every one\n# (Microsoft recommends permanent Global Administrator only for emergency\n# access accounts) and give it a real reason, or make it eligible through PIM.\n\n[governance.exceptions]\n",
        );
        for k in standing {
            text.push_str(&format!("\"standing-privileged-access:role_assignment.{k}\" = \"found permanent in the live tenant by tenantctl export: review\"\n"));
        }
        cx.file("governance-exceptions.toml".into(), text);
    }
}
