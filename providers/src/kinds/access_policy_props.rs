//! An assignment policy of an access package in props form, from its
//! declaration (`policy_props`) and from Graph (`normalize_policy`), so the
//! two compare: subjects as references (users, guests, groups) or special
//! names (`requestor_manager`, ...), durations canonical. Split out of
//! `access_package` (the package's read and write).

use engine::model::reference;
use schema::kinds::access_package::{self as ap, AssignmentPolicy, RequestorSettings};
use schema::{DesiredState, Kind};
use serde_json::{json, Map, Value};

use super::access_package::GRAPH;
use super::access_policy_automatic as automatic;
use super::access_policy_review as review;
use super::{ref_to, str_field};

fn subject_ref(state: &DesiredState, who: &str) -> Value {
    if ap::special_approver(who).is_some() || who.starts_with(ap::CONNECTED_ORGANIZATION) {
        json!(who)
    } else {
        ref_to(state, who, &[Kind::User, Kind::Guest, Kind::Group])
    }
}

fn subjects(state: &DesiredState, list: &[String]) -> Value {
    Value::Array(list.iter().map(|w| subject_ref(state, w)).collect())
}

pub(super) fn duration(s: &str) -> Value {
    json!(schema::kinds::role_policy::canonical_duration(s).unwrap_or_else(|| s.to_string()))
}

/// A policy in props form: Graph's names, subjects as references (users,
/// guests, groups) or special names (`requestor_manager`, ...).
pub fn policy_props(p: &AssignmentPolicy, state: &DesiredState) -> Value {
    let mut m = Map::new();
    m.insert("displayName".into(), json!(p.display_name));
    m.insert("description".into(), p.description.as_ref().map_or(Value::Null, |d| json!(d)));
    m.insert("allowedTargetScope".into(), json!(p.allowed_target_scope));
    m.insert("specificAllowedTargets".into(), subjects(state, &p.specific_allowed_targets));
    let mut e = Map::new();
    e.insert("type".into(), json!(p.expiration.kind));
    if let Some(d) = &p.expiration.duration {
        e.insert("duration".into(), duration(d));
    }
    if let Some(t) = &p.expiration.end_date_time {
        e.insert("endDateTime".into(), json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    }
    m.insert("expiration".into(), Value::Object(e));
    if let Some(a) = &p.request_approval_settings {
        let stages: Vec<Value> = a
            .stages
            .iter()
            .map(|s| {
                let mut v = json!({
                    "durationBeforeAutomaticDenial": duration(&s.duration_before_automatic_denial),
                    "isApproverJustificationRequired": s.is_approver_justification_required,
                    "primaryApprovers": subjects(state, &s.primary_approvers),
                    "fallbackPrimaryApprovers": subjects(state, &s.fallback_primary_approvers),
                });
                if let Some(m) = v.as_object_mut() {
                    review::stage_props(s, m, &|l| subjects(state, l));
                }
                v
            })
            .collect();
        m.insert(
            "requestApprovalSettings".into(),
            json!({
                "isApprovalRequiredForAdd": a.is_approval_required_for_add,
                "isApprovalRequiredForUpdate": a.is_approval_required_for_update,
                "isRequestorJustificationRequired": a.is_requestor_justification_required,
                "stages": stages,
            }),
        );
    }
    if let Some(r) = &p.requestor_settings {
        m.insert("requestorSettings".into(), requestor_json(r));
    }
    if let Some(r) = &p.review_settings {
        m.insert("reviewSettings".into(), review::review_props(r, &|l| subjects(state, l)));
    }
    m.insert(automatic::PROP.into(), automatic::props(p.automatic_request_settings.as_ref()));
    if let Some(a) = &p.automatic_request_settings {
        m.insert("specificAllowedTargets".into(), automatic::targets(a));
    }
    if let Some(qs) = &p.questions {
        m.insert("questions".into(), super::access_policy_questions::props(qs));
    }
    Value::Object(m)
}

fn requestor_json(r: &RequestorSettings) -> Value {
    json!({
        "enableTargetsToSelfAddAccess": r.enable_targets_to_self_add_access,
        "enableTargetsToSelfUpdateAccess": r.enable_targets_to_self_update_access,
        "enableTargetsToSelfRemoveAccess": r.enable_targets_to_self_remove_access,
        "allowCustomAssignmentSchedule": r.allow_custom_assignment_schedule,
        "enableOnBehalfRequestorsToAddAccess": r.enable_on_behalf_requestors_to_add_access,
        "enableOnBehalfRequestorsToUpdateAccess": r.enable_on_behalf_requestors_to_update_access,
        "enableOnBehalfRequestorsToRemoveAccess": r.enable_on_behalf_requestors_to_remove_access,
    })
}

/// A live subject set in props form.
pub fn subject_entry(s: &Value) -> Value {
    let ty = str_field(s, "@odata.type").trim_start_matches(GRAPH);
    match ty {
        "singleUser" => reference(str_field(s, "userId")),
        "groupMembers" => reference(str_field(s, "groupId")),
        "requestorManager" if s.get("managerLevel").and_then(Value::as_i64).unwrap_or(1) == 1 => json!("requestor_manager"),
        // A manager further up is not modelled: kept by type (drift).
        "requestorManager" => json!(format!("{GRAPH}requestorManager")),
        "connectedOrganizationMembers" => json!(format!("{}{}", ap::CONNECTED_ORGANIZATION, str_field(s, "connectedOrganizationId"))),
        "attributeRuleMembers" => automatic::rule_subject(s),
        other => match ap::special_name(other) {
            Some(n) => json!(n),
            // Anything else (attribute rules, a manager two levels up) is
            // kept by type, so it shows as drift rather than vanishing.
            None => json!(format!("{GRAPH}{other}")),
        },
    }
}

fn live_subjects(v: Option<&Value>) -> Value {
    Value::Array(v.and_then(Value::as_array).into_iter().flatten().map(subject_entry).collect())
}

fn live_duration(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_str) {
        Some(s) => duration(s),
        None => Value::Null,
    }
}

/// A live policy in props form.
pub fn normalize_policy(raw: &Value) -> Value {
    let mut m = Map::new();
    for k in ["displayName", "description", "allowedTargetScope"] {
        m.insert(k.into(), raw.get(k).cloned().unwrap_or(Value::Null));
    }
    m.insert("specificAllowedTargets".into(), live_subjects(raw.get("specificAllowedTargets")));
    let e = raw.get("expiration").cloned().unwrap_or(Value::Null);
    let mut em = Map::new();
    em.insert("type".into(), e.get("type").cloned().unwrap_or(Value::Null));
    em.insert("duration".into(), live_duration(e.get("duration")));
    let end = e.get("endDateTime").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    em.insert("endDateTime".into(), end.map_or(Value::Null, Value::String));
    m.insert("expiration".into(), Value::Object(em));
    if let Some(a) = raw.get("requestApprovalSettings").filter(|a| a.is_object()) {
        let stages: Vec<Value> = a
            .get("stages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                let mut v = json!({
                    "durationBeforeAutomaticDenial": live_duration(s.get("durationBeforeAutomaticDenial")),
                    "isApproverJustificationRequired": s.get("isApproverJustificationRequired").and_then(Value::as_bool).unwrap_or(false),
                    "primaryApprovers": live_subjects(s.get("primaryApprovers")),
                    "fallbackPrimaryApprovers": live_subjects(s.get("fallbackPrimaryApprovers")),
                });
                if let Some(m) = v.as_object_mut() {
                    review::normalize_stage(s, m, &live_subjects);
                }
                v
            })
            .collect();
        let flag = |k: &str| a.get(k).and_then(Value::as_bool).unwrap_or(false);
        m.insert(
            "requestApprovalSettings".into(),
            json!({
                "isApprovalRequiredForAdd": flag("isApprovalRequiredForAdd"),
                "isApprovalRequiredForUpdate": flag("isApprovalRequiredForUpdate"),
                "isRequestorJustificationRequired": flag("isRequestorJustificationRequired"),
                "stages": stages,
            }),
        );
    }
    if let Some(r) = raw.get("requestorSettings").filter(|r| r.is_object()) {
        let mut rm = Map::new();
        for k in [
            "enableTargetsToSelfAddAccess",
            "enableTargetsToSelfUpdateAccess",
            "enableTargetsToSelfRemoveAccess",
            "allowCustomAssignmentSchedule",
            "enableOnBehalfRequestorsToAddAccess",
            "enableOnBehalfRequestorsToUpdateAccess",
            "enableOnBehalfRequestorsToRemoveAccess",
        ] {
            rm.insert(k.into(), json!(r.get(k).and_then(Value::as_bool).unwrap_or(false)));
        }
        m.insert("requestorSettings".into(), Value::Object(rm));
    }
    if let Some(r) = review::normalize_review(raw.get("reviewSettings"), &live_subjects) {
        m.insert("reviewSettings".into(), r);
    }
    m.insert(automatic::PROP.into(), automatic::normalize(raw.get(automatic::PROP)));
    m.insert("questions".into(), super::access_policy_questions::normalize(raw.get("questions")));
    m.insert(super::access_policy_stages::PROP.into(), super::access_policy_stages::normalize(raw.get(super::access_policy_stages::PROP)));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::access_package::role_scope_entry;

    #[test]
    fn subjects_round_trip_between_graph_and_props() {
        assert_eq!(subject_entry(&json!({"@odata.type": "#microsoft.graph.singleUser", "userId": "u1"})), reference("u1"));
        assert_eq!(subject_entry(&json!({"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g1"})), reference("g1"));
        assert_eq!(subject_entry(&json!({"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1})), json!("requestor_manager"));
        assert_eq!(subject_entry(&json!({"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 2})), json!("#microsoft.graph.requestorManager"));
        assert_eq!(subject_entry(&json!({"@odata.type": "#microsoft.graph.externalSponsors"})), json!("external_sponsors"));
        let rs = json!({"id": "x", "role": {"originId": "Member_g1", "originSystem": "AadGroup"}, "scope": {"originId": "g1"}});
        assert_eq!(role_scope_entry(&rs), reference("g1"));
        let owner = json!({"id": "x", "role": {"originId": "Owner_g1", "originSystem": "AadGroup"}});
        assert_eq!(role_scope_entry(&owner), json!("AadGroup:Owner_g1"));
    }
}
