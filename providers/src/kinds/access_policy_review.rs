//! The escalation of an assignment policy's approval stages and the
//! policy's access reviews (`reviewSettings`, Graph v1.0
//! `accessPackageAssignmentReviewSettings`) in props, Graph and TOML form.
//!
//! A stage whose escalation is off carries no escalation approvers or
//! delay in props (what Graph keeps of a disabled escalation does
//! nothing, so it is not drift). Reviews are in props only when desired
//! state declares them; live, they are always read, so a declared review
//! is compared field by field and an undeclared one is sent back as the
//! tenant has it (`access_package_policy_write`).

use chrono::SecondsFormat;
use schema::kinds::access_package::ApprovalStage;
use schema::kinds::access_package_review::{ReviewSchedule, ReviewSettings};
use serde_json::{json, Map, Value};

/// How the caller turns a list of subjects into props (or Graph) form.
pub type Subjects<'a> = &'a dyn Fn(Option<&Value>) -> Value;
/// How the caller turns a props list of subjects into TOML keys.
pub type SubjectsToml<'a> = &'a dyn Fn(Option<&Value>) -> Result<Vec<String>, String>;

/// A stage's escalation in TOML form.
pub struct Escalation {
    pub enabled: bool,
    pub delay: Option<String>,
    pub approvers: Vec<String>,
    pub fallback: Vec<String>,
}

fn canonical(s: &str) -> Value {
    json!(schema::kinds::role_policy::canonical_duration(s).unwrap_or_else(|| s.to_string()))
}

fn live_duration(v: Option<&Value>) -> Value {
    v.and_then(Value::as_str).map_or(Value::Null, canonical)
}

/// The escalation half of a declared stage, in props form.
pub fn stage_props(s: &ApprovalStage, m: &mut Map<String, Value>, subjects: &dyn Fn(&[String]) -> Value) {
    m.insert("isEscalationEnabled".into(), json!(s.is_escalation_enabled));
    m.insert("durationBeforeEscalation".into(), s.duration_before_escalation.as_deref().map_or(Value::Null, canonical));
    m.insert("escalationApprovers".into(), subjects(&s.escalation_approvers));
    m.insert("fallbackEscalationApprovers".into(), subjects(&s.fallback_escalation_approvers));
}

/// The escalation half of a live stage, in props form.
pub fn normalize_stage(raw: &Value, m: &mut Map<String, Value>, subjects: Subjects) {
    let on = raw.get("isEscalationEnabled").and_then(Value::as_bool).unwrap_or(false);
    m.insert("isEscalationEnabled".into(), json!(on));
    if on {
        m.insert("durationBeforeEscalation".into(), live_duration(raw.get("durationBeforeEscalation")));
        m.insert("escalationApprovers".into(), subjects(raw.get("escalationApprovers")));
        m.insert("fallbackEscalationApprovers".into(), subjects(raw.get("fallbackEscalationApprovers")));
    } else {
        m.insert("durationBeforeEscalation".into(), Value::Null);
        m.insert("escalationApprovers".into(), json!([]));
        m.insert("fallbackEscalationApprovers".into(), json!([]));
    }
}

/// A props stage's escalation in Graph form (subjects converted, an unset
/// delay left out).
pub fn stage_body(props: &Value, m: &mut Map<String, Value>, subjects: &dyn Fn(Option<&Value>) -> Result<Value, engine::apply::ExecError>) -> Result<(), engine::apply::ExecError> {
    m.insert("escalationApprovers".into(), subjects(props.get("escalationApprovers"))?);
    m.insert("fallbackEscalationApprovers".into(), subjects(props.get("fallbackEscalationApprovers"))?);
    if props.get("durationBeforeEscalation").is_none_or(Value::is_null) {
        m.remove("durationBeforeEscalation");
    }
    Ok(())
}

/// A stage's escalation in TOML form.
pub fn stage_toml(props: &Value, subjects: SubjectsToml) -> Result<Escalation, String> {
    let on = props.get("isEscalationEnabled").and_then(Value::as_bool).unwrap_or(false);
    if !on {
        return Ok(Escalation { enabled: false, delay: None, approvers: Vec::new(), fallback: Vec::new() });
    }
    let delay = props.get("durationBeforeEscalation").and_then(Value::as_str).map(str::to_string);
    Ok(Escalation { enabled: true, delay, approvers: subjects(props.get("escalationApprovers"))?, fallback: subjects(props.get("fallbackEscalationApprovers"))? })
}

/// The recurrence range: `noEnd`, or from the first review's date to
/// `end_date` (`endDate`) or for `occurrences` reviews (`numbered`); the
/// docs' `recurrenceRange` needs `startDate` with either.
fn range_props(s: &ReviewSchedule) -> Value {
    let start = schema::kinds::access_package_review::range_start(s);
    match (&s.end_date, s.occurrences) {
        (Some(end), _) => json!({"type": "endDate", "startDate": start, "endDate": end}),
        (None, Some(n)) => json!({"type": "numbered", "startDate": start, "numberOfOccurrences": n}),
        (None, None) => json!({"type": "noEnd"}),
    }
}

fn schedule_props(s: &ReviewSchedule) -> Value {
    json!({
        "startDateTime": s.start_date_time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "expiration": {"type": "afterDuration", "duration": canonical(&s.duration)},
        "recurrence": {"pattern": {"type": s.recurrence, "interval": s.interval}, "range": range_props(s)},
    })
}

/// A declared review in props form (Graph's names and shape, subjects as
/// references or special names).
pub fn review_props(r: &ReviewSettings, subjects: &dyn Fn(&[String]) -> Value) -> Value {
    json!({
        "isEnabled": r.is_enabled,
        "expirationBehavior": r.expiration_behavior,
        "isRecommendationEnabled": r.is_recommendation_enabled,
        "isReviewerJustificationRequired": r.is_reviewer_justification_required,
        "isSelfReview": r.is_self_review,
        "schedule": schedule_props(&r.schedule),
        "primaryReviewers": subjects(&r.primary_reviewers),
        "fallbackReviewers": subjects(&r.fallback_reviewers),
    })
}

/// A live review in props form; None when the policy has none.
pub fn normalize_review(raw: Option<&Value>, subjects: Subjects) -> Option<Value> {
    let r = raw.filter(|r| r.is_object())?;
    let flag = |k: &str, default: bool| json!(r.get(k).and_then(Value::as_bool).unwrap_or(default));
    let s = r.get("schedule").cloned().unwrap_or(Value::Null);
    let start = s
        .get("startDateTime")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::Secs, true));
    let pattern = s.pointer("/recurrence/pattern").cloned().unwrap_or(Value::Null);
    let schedule = json!({
        "startDateTime": start,
        "expiration": {"type": s.pointer("/expiration/type").cloned().unwrap_or(Value::Null), "duration": live_duration(s.pointer("/expiration/duration"))},
        "recurrence": {
            "pattern": {"type": pattern.get("type").cloned().unwrap_or(Value::Null), "interval": pattern.get("interval").cloned().unwrap_or(Value::Null)},
            "range": live_range(s.pointer("/recurrence/range")),
        },
    });
    Some(json!({
        "isEnabled": flag("isEnabled", false),
        "expirationBehavior": r.get("expirationBehavior").cloned().unwrap_or(Value::Null),
        "isRecommendationEnabled": flag("isRecommendationEnabled", true),
        "isReviewerJustificationRequired": flag("isReviewerJustificationRequired", true),
        "isSelfReview": flag("isSelfReview", false),
        "schedule": schedule,
        "primaryReviewers": subjects(r.get("primaryReviewers")),
        "fallbackReviewers": subjects(r.get("fallbackReviewers")),
    }))
}

/// A props review in Graph form (subjects converted).
pub fn review_body(props: &Value, subjects: &dyn Fn(Option<&Value>) -> Result<Value, engine::apply::ExecError>) -> Result<Value, engine::apply::ExecError> {
    let mut m = props.as_object().cloned().unwrap_or_default();
    m.insert("primaryReviewers".into(), subjects(props.get("primaryReviewers"))?);
    m.insert("fallbackReviewers".into(), subjects(props.get("fallbackReviewers"))?);
    Ok(Value::Object(m))
}

/// Whether a live review is worth exporting: a disabled one with no
/// schedule (what a policy that never had reviews may carry) is left
/// undeclared, so it stays unmanaged rather than failing the export.
pub fn is_declared(props: &Value) -> bool {
    props.get("isEnabled").and_then(Value::as_bool) == Some(true) || props.pointer("/schedule/startDateTime").is_some_and(|v| !v.is_null())
}

/// A live recurrence range in props form: its type, and the start and end
/// date or count that type uses (Graph also returns `numberOfOccurrences`
/// 0 with other types).
fn live_range(r: Option<&Value>) -> Value {
    let get = |k: &str| r.and_then(|r| r.get(k)).filter(|v| !v.is_null()).cloned();
    let kind = get("type").unwrap_or(Value::Null);
    let mut m = serde_json::Map::new();
    m.insert("type".into(), kind.clone());
    match kind.as_str() {
        Some("endDate") => {
            m.insert("startDate".into(), get("startDate").unwrap_or(Value::Null));
            m.insert("endDate".into(), get("endDate").unwrap_or(Value::Null));
        }
        Some("numbered") => {
            m.insert("startDate".into(), get("startDate").unwrap_or(Value::Null));
            m.insert("numberOfOccurrences".into(), get("numberOfOccurrences").unwrap_or(Value::Null));
        }
        _ => {}
    }
    Value::Object(m)
}

/// A props review (live) as TOML; Err for a schedule tenantctl does not
/// model (a recurrence that ends, an expiration other than a duration).
pub fn review_toml(props: &Value, subjects: SubjectsToml) -> Result<ReviewSettings, String> {
    let flag = |k: &str| props.get(k).and_then(Value::as_bool).unwrap_or(false);
    let s = props.get("schedule").cloned().unwrap_or(Value::Null);
    let text = |p: &str| s.pointer(p).and_then(Value::as_str).map(str::to_string);
    let (end_date, occurrences) = match text("/recurrence/range/type").as_deref() {
        None | Some("noEnd") => (None, None),
        Some("endDate") => (Some(text("/recurrence/range/endDate").ok_or("a review recurrence ending on no endDate is not modelled")?), None),
        Some("numbered") => (None, Some(s.pointer("/recurrence/range/numberOfOccurrences").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or("a review recurrence of no numberOfOccurrences is not modelled")?)),
        Some(range) => return Err(format!("a review recurrence ending `{range}` is not modelled")),
    };
    if let Some(t) = text("/expiration/type").filter(|t| t != "afterDuration") {
        return Err(format!("a review lasting `{t}` is not modelled"));
    }
    let start = text("/startDateTime").and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&chrono::Utc)).ok_or("a review with no start date is not modelled")?;
    Ok(ReviewSettings {
        is_enabled: flag("isEnabled"),
        expiration_behavior: props.get("expirationBehavior").and_then(Value::as_str).unwrap_or("keepAccess").to_string(),
        is_recommendation_enabled: flag("isRecommendationEnabled"),
        is_reviewer_justification_required: flag("isReviewerJustificationRequired"),
        is_self_review: flag("isSelfReview"),
        schedule: ReviewSchedule {
            start_date_time: start,
            duration: text("/expiration/duration").unwrap_or_else(|| "P14D".into()),
            recurrence: text("/recurrence/pattern/type").unwrap_or_default(),
            interval: s.pointer("/recurrence/pattern/interval").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
            end_date,
            occurrences,
        },
        primary_reviewers: subjects(props.get("primaryReviewers"))?,
        fallback_reviewers: subjects(props.get("fallbackReviewers"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: Option<&Value>) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }

    #[test]
    fn a_disabled_review_without_schedule_is_not_exported_and_a_real_one_round_trips() {
        let off = normalize_review(Some(&json!({"isEnabled": false, "schedule": null})), &|_| json!([])).expect("an object");
        assert!(!is_declared(&off), "{off:#}");
        let live = json!({"isEnabled": true, "expirationBehavior": "removeAccess", "isSelfReview": true,
            "schedule": {"startDateTime": "2027-01-04T09:00:00.998Z", "expiration": {"type": "afterDuration", "duration": "P7D"},
                "recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 3, "month": 0}, "range": {"type": "noEnd", "numberOfOccurrences": 0}}}});
        let n = normalize_review(Some(&live), &|_| json!([])).expect("an object");
        assert!(is_declared(&n));
        let t = review_toml(&n, &none).expect("exports");
        assert_eq!((t.schedule.recurrence.as_str(), t.schedule.interval, t.is_self_review), ("absoluteMonthly", 3, true));
        assert_eq!(review_props(&t, &|_| json!([]))["schedule"], n["schedule"], "declared as exported, it compares equal");
        let ending = json!({"isEnabled": true, "schedule": {"startDateTime": "2027-01-04T09:00:00Z", "recurrence": {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "numbered"}}}});
        assert!(review_toml(&normalize_review(Some(&ending), &|_| json!([])).expect("an object"), &none).is_err(), "an ending recurrence is not modelled");
    }
}
