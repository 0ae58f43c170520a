//! The sandbox's checks of an assignment policy's approval escalation and
//! access reviews (v1.0 `accessPackageApprovalStage`,
//! `accessPackageAssignmentReviewSettings`). Graph documents no error codes
//! for these; like the rest of the entitlement module the sandbox answers
//! 400 `BadRequest` with its own detail, for what the portal also refuses:
//! an escalation with no escalation approvers or no delay, a review with
//! no reviewers that is not a self-review, an unknown expiration behavior,
//! a subject that does not exist.

use serde_json::Value;

use crate::entitlement::check_subjects;
use crate::error::GraphError;
use crate::graph::Ctx;
use crate::store::Tenant;

fn bad(msg: impl Into<String>) -> GraphError {
    GraphError::bad_request(msg)
}

/// One approval stage's escalation.
pub fn check_escalation(t: &Tenant, ctx: &Ctx, stage: &Value) -> Result<(), GraphError> {
    check_subjects(t, ctx, stage.get("escalationApprovers"), "escalationApprovers")?;
    check_subjects(t, ctx, stage.get("fallbackEscalationApprovers"), "fallbackEscalationApprovers")?;
    if stage.get("isEscalationEnabled").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    if stage.get("escalationApprovers").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err(bad("An approval stage with escalation enabled needs escalationApprovers."));
    }
    if stage.get("durationBeforeEscalation").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(bad("An approval stage with escalation enabled needs durationBeforeEscalation."));
    }
    Ok(())
}

/// A review schedule's recurrence range, as the docs' `recurrenceRange`
/// has it: a known `type`; `startDate` with a range that ends; `endDate`
/// (not before `startDate`) with `endDate`; a positive
/// `numberOfOccurrences` with `numbered`. Dates are `Edm.Date`.
fn check_range(range: Option<&Value>) -> Result<(), GraphError> {
    let Some(r) = range.filter(|r| !r.is_null()) else { return Ok(()) };
    let date = |k: &str| -> Result<Option<chrono::NaiveDate>, GraphError> {
        match r.get(k).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v.as_str().and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).map(Some).ok_or_else(|| bad(format!("Cannot convert the literal '{v}' to the expected type 'Edm.Date' ({k})."))),
        }
    };
    let (start, end) = (date("startDate")?, date("endDate")?);
    match r.get("type").and_then(Value::as_str) {
        Some("noEnd") => Ok(()),
        Some(kind @ ("endDate" | "numbered")) if start.is_none() => Err(bad(format!("A recurrence range of type '{kind}' needs startDate."))),
        Some("endDate") => match end {
            None => Err(bad("A recurrence range of type 'endDate' needs endDate.")),
            Some(e) if start.is_some_and(|s| e < s) => Err(bad("The recurrence range's endDate is before its startDate.")),
            Some(_) => Ok(()),
        },
        Some("numbered") if r.get("numberOfOccurrences").and_then(Value::as_i64).is_none_or(|n| n < 1) => Err(bad("A recurrence range of type 'numbered' needs a positive numberOfOccurrences.")),
        Some("numbered") => Ok(()),
        other => Err(bad(format!("The value '{}' is not a valid recurrenceRangeType.", other.unwrap_or("null")))),
    }
}

/// A policy's requestor questions, as v1.0 types them: each an
/// `accessPackageTextInputQuestion` or `accessPackageMultipleChoiceQuestion`
/// (the base type is abstract) with a text; a multiple choice question
/// offers choices, each with an `actualValue`; a positive `sequence` when
/// given.
pub fn check_questions(questions: Option<&Value>) -> Result<(), GraphError> {
    let Some(qs) = questions.filter(|q| !q.is_null()) else { return Ok(()) };
    let qs = qs.as_array().ok_or_else(|| bad("The property 'questions' must be a collection."))?;
    for q in qs {
        let kind = q.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
        let kind = kind.strip_prefix('#').unwrap_or(kind);
        if !["microsoft.graph.accessPackageTextInputQuestion", "microsoft.graph.accessPackageMultipleChoiceQuestion"].contains(&kind) {
            return Err(bad(format!("A question must be an accessPackageTextInputQuestion or an accessPackageMultipleChoiceQuestion ('@odata.type'), not '{kind}'.")));
        }
        if q.get("text").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
            return Err(bad("A question needs its text."));
        }
        crate::language_codes::check(q.get("localizations"), "a question")?;
        if q.get("sequence").is_some_and(|s| s.as_i64().is_none_or(|n| n < 0)) {
            return Err(bad("A question's sequence must be a non-negative integer."));
        }
        if kind.ends_with("MultipleChoiceQuestion") {
            let choices = q.get("choices").and_then(Value::as_array).filter(|c| !c.is_empty()).ok_or_else(|| bad("A multiple choice question needs choices."))?;
            if choices.iter().any(|c| c.get("actualValue").and_then(Value::as_str).is_none_or(str::is_empty)) {
                return Err(bad("Each answer choice needs an actualValue."));
            }
            for c in choices {
                crate::language_codes::check(c.get("localizations"), "an answer choice")?;
            }
            if q.get("isSingleLineQuestion").is_some() || q.get("regexPattern").is_some() {
                return Err(bad("Could not find a property named 'isSingleLineQuestion' or 'regexPattern' on type 'microsoft.graph.accessPackageMultipleChoiceQuestion'."));
            }
        } else if q.get("choices").is_some() || q.get("isMultipleSelectionAllowed").is_some() {
            return Err(bad("Could not find a property named 'choices' or 'isMultipleSelectionAllowed' on type 'microsoft.graph.accessPackageTextInputQuestion'."));
        }
    }
    Ok(())
}

/// The policy's review settings, when given.
pub fn check_review(t: &Tenant, ctx: &Ctx, review: Option<&Value>) -> Result<(), GraphError> {
    let Some(r) = review.filter(|r| !r.is_null()) else { return Ok(()) };
    check_subjects(t, ctx, r.get("primaryReviewers"), "primaryReviewers")?;
    check_subjects(t, ctx, r.get("fallbackReviewers"), "fallbackReviewers")?;
    if let Some(b) = r.get("expirationBehavior").and_then(Value::as_str) {
        if !["keepAccess", "removeAccess", "acceptAccessRecommendation"].contains(&b) {
            return Err(bad(format!("The value '{b}' is not a valid accessReviewExpirationBehavior.")));
        }
    }
    check_range(r.pointer("/schedule/recurrence/range"))?;
    let flag = |k: &str| r.get(k).and_then(Value::as_bool) == Some(true);
    if flag("isEnabled") && !flag("isSelfReview") && r.get("primaryReviewers").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        return Err(bad("An enabled access review needs primaryReviewers unless it is a self-review."));
    }
    Ok(())
}
