//! Access reviews and approval escalation on an access package's
//! assignment policies (Graph v1.0 `accessPackageAssignmentReviewSettings`
//! and the escalation half of `accessPackageApprovalStage`).
//!
//! Reviews: `[access_package.KEY.policies.P.review_settings]` declares the
//! recurring review of the assignments made through the policy; absent,
//! the policy's reviews are not managed (an update sends back what the
//! tenant has). Declared, they are diffed field by field.
//!
//! Governance: reviewers and escalation approvers are held to the
//! approvers' rules (`access_package_rules`: never a service account,
//! never someone the policy admits); a policy that admits external users
//! with no review, or only the guests reviewing themselves, is a warning
//! (`guest-access-without-review`): the service model bounds guest access
//! by time and two keys, which tenantctl enforces as errors, and says
//! nothing of recertification, so a review is advice, not a rule.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::address::Kind;
use crate::kinds::access_package::{duration_days, special_approver, ApprovalStage};
use crate::kinds::role_policy::duration_minutes;
use crate::path;
use crate::validate::Ctx;

/// An `accessPackageAssignmentReviewSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    #[serde(default = "yes")]
    pub is_enabled: bool,
    /// What happens to access nobody reviewed: `keepAccess`,
    /// `removeAccess` or `acceptAccessRecommendation`.
    #[serde(default = "remove_access")]
    pub expiration_behavior: String,
    #[serde(default = "yes")]
    pub is_recommendation_enabled: bool,
    #[serde(default = "yes")]
    pub is_reviewer_justification_required: bool,
    /// The assignees review their own access (no reviewers).
    #[serde(default)]
    pub is_self_review: bool,
    /// When the first review starts, how long each lasts, how often it
    /// recurs.
    pub schedule: ReviewSchedule,
    /// User, guest or group keys, or `requestor_manager`,
    /// `internal_sponsors`, `external_sponsors`, `target_user_sponsors`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_reviewers: Vec<String>,
    /// Who reviews when the primary reviewers cannot be found; same forms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_reviewers: Vec<String>,
}

/// An `entitlementManagementSchedule` of a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSchedule {
    /// When the first review starts.
    #[serde(with = "crate::datetime")]
    #[schemars(with = "String")]
    pub start_date_time: DateTime<Utc>,
    /// How long each review stays open (`P14D`).
    #[serde(default = "fourteen_days")]
    pub duration: String,
    /// The recurrence pattern's type: `weekly`, `absoluteMonthly` or
    /// `absoluteYearly`.
    pub recurrence: String,
    /// Every how many weeks, months or years (a quarter is
    /// `absoluteMonthly` with 3).
    #[serde(default = "one")]
    pub interval: u32,
    /// The date the reviews stop recurring (`YYYY-MM-DD`; the recurrence
    /// range `endDate`). Absent, and with no `occurrences`, they recur
    /// with no end (`noEnd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// How many reviews there are in all (the recurrence range
    /// `numbered`); not with `end_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u32>,
}

/// The first day of a review recurrence (`recurrenceRange.startDate`): the
/// date of the first review's start, in UTC.
pub fn range_start(s: &ReviewSchedule) -> String {
    s.start_date_time.date_naive().format("%Y-%m-%d").to_string()
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn remove_access() -> String {
    "removeAccess".to_string()
}
fn fourteen_days() -> String {
    "P14D".to_string()
}

/// Graph's `accessReviewExpirationBehavior` members.
pub const EXPIRATION_BEHAVIORS: &[&str] = &["keepAccess", "removeAccess", "acceptAccessRecommendation"];
/// The recurrence patterns a review takes (Graph's `recurrencePatternType`
/// members the portal offers for reviews).
pub const RECURRENCES: &[&str] = &["weekly", "absoluteMonthly", "absoluteYearly"];

pub const WITHOUT_REVIEW: &str = "guest-access-without-review";

/// The escalation of stage `i`: enabled, it needs its approvers and a
/// delay shorter than the automatic denial; disabled, it sets nothing.
pub(crate) fn escalation_checks(cx: &mut Ctx, key: &str, pk: &str, i: usize, s: &ApprovalStage, o: &crate::diagnostic::Origin) {
    let name = format!("access_package.{key}.policies.{pk}");
    let sp = |f: &str| path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, f];
    if !s.is_escalation_enabled {
        let set: Vec<&str> = [("duration_before_escalation", s.duration_before_escalation.is_some()), ("escalation_approvers", !s.escalation_approvers.is_empty()), ("fallback_escalation_approvers", !s.fallback_escalation_approvers.is_empty())]
            .into_iter()
            .filter_map(|(f, on)| on.then_some(f))
            .collect();
        if let Some(first) = set.first() {
            cx.error("escalation-disabled", o, &sp(first), format!("{name}: stage {} sets {} but is_escalation_enabled is false; set is_escalation_enabled = true or remove them", i + 1, set.join(", ")));
        }
        return;
    }
    if s.escalation_approvers.is_empty() {
        cx.error("missing-approvers", o, &sp("is_escalation_enabled"), format!("{name}: stage {} escalates but names no escalation_approvers", i + 1));
    }
    let denial = duration_minutes(&s.duration_before_automatic_denial);
    match s.duration_before_escalation.as_deref() {
        None => {
            cx.error("missing-duration", o, &sp("is_escalation_enabled"), format!("{name}: stage {} escalates but has no duration_before_escalation (`PT12H`)", i + 1));
        }
        Some(d) => match duration_minutes(d) {
            Some(m) if m > 0 && denial.is_none_or(|x| m < x) => {}
            Some(m) if m > 0 => {
                cx.error("bad-duration", o, &sp("duration_before_escalation"), format!("{name}: stage {}: duration_before_escalation `{d}` is not shorter than duration_before_automatic_denial `{}`: the request would be denied before it escalates", i + 1, s.duration_before_automatic_denial));
            }
            _ => {
                cx.error("bad-duration", o, &sp("duration_before_escalation"), format!("{name}: stage {}: duration_before_escalation `{d}` is not an ISO 8601 duration of days and hours (`PT12H`, `P2D`)", i + 1));
            }
        },
    }
}

/// Every declared review, checked, and the guest-review lint.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for (pk, pol) in &d.value.policies {
            found.push((key.to_string(), pk.to_string(), pol.clone(), d.origin.clone()));
        }
    }
    for (key, pk, pol, o) in found {
        let name = format!("access_package.{key}.policies.{pk}");
        let at = |f: &str| path!["access_package", key.as_str(), "policies", pk.as_str(), "review_settings", f];
        let external = crate::kinds::access_package_reach::admits_external(cx, &pol);
        let Some(r) = &pol.review_settings else {
            if let Some(scope) = external.as_ref().filter(|_| !excepted(cx, &key)) {
                cx.warning(WITHOUT_REVIEW, &o, &path!["access_package", key.as_str(), "policies", pk.as_str(), "display_name"], format!("{name} admits external users ({scope}) and declares no review_settings: nobody recertifies the guests' access before it expires"));
            }
            continue;
        };
        if !EXPIRATION_BEHAVIORS.contains(&r.expiration_behavior.as_str()) {
            cx.error("bad-value", &o, &at("expiration_behavior"), format!("{name}: expiration_behavior `{}` is not one of {}", r.expiration_behavior, EXPIRATION_BEHAVIORS.join(", ")));
        }
        let sched = |f: &str| path!["access_package", key.as_str(), "policies", pk.as_str(), "review_settings", "schedule", f];
        if !RECURRENCES.contains(&r.schedule.recurrence.as_str()) {
            cx.error("bad-value", &o, &sched("recurrence"), format!("{name}: review recurrence `{}` is not one of {}", r.schedule.recurrence, RECURRENCES.join(", ")));
        }
        if r.schedule.interval == 0 {
            cx.error("bad-value", &o, &sched("interval"), format!("{name}: review interval must be at least 1"));
        }
        match (&r.schedule.end_date, r.schedule.occurrences) {
            (Some(_), Some(_)) => {
                cx.error("invalid-schedule", &o, &sched("occurrences"), format!("{name}: a review recurrence ends either on end_date or after occurrences, not both"));
            }
            (Some(end), None) => match chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d") {
                Err(_) => {
                    cx.error("invalid-schedule", &o, &sched("end_date"), format!("{name}: review end_date `{end}` is not a date as YYYY-MM-DD"));
                }
                Ok(d) if d < r.schedule.start_date_time.date_naive() => {
                    cx.error("invalid-schedule", &o, &sched("end_date"), format!("{name}: review end_date {end} is before the first review starts ({})", r.schedule.start_date_time.format("%Y-%m-%d")));
                }
                Ok(_) => {}
            },
            (None, Some(0)) => {
                cx.error("invalid-schedule", &o, &sched("occurrences"), format!("{name}: review occurrences must be at least 1"));
            }
            _ => {}
        }
        if duration_days(&r.schedule.duration).is_none_or(|d| d <= 0) {
            cx.error("bad-duration", &o, &sched("duration"), format!("{name}: review duration `{}` is not an ISO 8601 duration of days and hours (`P14D`)", r.schedule.duration));
        }
        if r.is_enabled && !r.is_self_review && r.primary_reviewers.is_empty() {
            cx.error("missing-reviewers", &o, &at("primary_reviewers"), format!("{name}: the review is enabled but names no primary_reviewers (and is not a self-review)"));
        }
        for (field, list) in [("primary_reviewers", &r.primary_reviewers), ("fallback_reviewers", &r.fallback_reviewers)] {
            for (j, who) in list.iter().enumerate() {
                if special_approver(who).is_none() {
                    cx.reference(&o, &path!["access_package", key.as_str(), "policies", pk.as_str(), "review_settings", field, j], who, &[Kind::User, Kind::Guest, Kind::Group]);
                }
            }
        }
        if let Some(scope) = external.as_ref().filter(|_| !excepted(cx, &key)) {
            if !r.is_enabled {
                cx.warning(WITHOUT_REVIEW, &o, &at("is_enabled"), format!("{name} admits external users ({scope}) and its review is disabled: nobody recertifies the guests' access before it expires"));
            } else if r.is_self_review && r.primary_reviewers.is_empty() {
                cx.warning(WITHOUT_REVIEW, &o, &at("is_self_review"), format!("{name} admits external users ({scope}) and only the guests review their own access: name primary_reviewers who are not guests"));
            } else if let Some((field, why)) = crate::kinds::access_package_reach::review_never_happens(cx, &pol, r) {
                let at: Vec<crate::source::Seg> = if field == "expiration_behavior" { at(field).to_vec() } else { sched(field).to_vec() };
                cx.warning(WITHOUT_REVIEW, &o, &at, format!("{name} admits external users ({scope}) and its review never takes effect: {why}; review within the guest horizon and remove access nobody confirms (removeAccess)"));
            }
        }
    }
}

fn excepted(cx: &Ctx, key: &str) -> bool {
    let scoped = format!("{WITHOUT_REVIEW}:access_package.{key}");
    cx.state.governance.as_ref().is_some_and(|g| g.value.exceptions.get(&scoped).is_some_and(|why| !why.trim().is_empty()))
}
