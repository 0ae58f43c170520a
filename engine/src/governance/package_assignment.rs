//! Access package assignments (`access_package_assignment`): creating one,
//! extending its expiry or moving it to another policy adds access and is
//! held for two-key approval; ending it (deleted, expired, no longer
//! declared while the ledger owns it) or shortening its expiry only takes
//! access away and is applied unattended, like a role assignment's end.
//! Approvers see the target, package, policy and expiry.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::{as_reference, DesiredResource};

/// The props an assignment is declared with (see the providers' kind).
pub const PACKAGE: &str = "accessPackage";
pub const POLICY: &str = "assignmentPolicy";
pub const TARGET: &str = "target";
pub const EXPIRES: &str = "expires";

fn parse(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// Whether a field change of an assignment only brings its end earlier
/// (such an update only removes access: `super::removes_access`, as the
/// kind's `ACCESS` says).
pub fn brings_end_earlier(f: &crate::diff::FieldChange) -> bool {
    // `expires` for a package assignment; a directory role assignment's
    // schedule end shows as `endDateTime` (hostile run 16, finding 12).
    (f.field == EXPIRES || f.field == "endDateTime") && matches!((parse(f.before.as_ref()), parse(f.after.as_ref())), (Some(b), Some(n)) if n < b)
}

/// What an approver reads beside the diff: who gets which package,
/// through which policy, until when, and why.
pub fn review_note(d: &DesiredResource) -> String {
    let r = |k: &str| d.props.get(k).and_then(as_reference).map(str::to_string).unwrap_or_else(|| "?".into());
    let policy = d.props.get(POLICY).and_then(Value::as_str).unwrap_or("?");
    let expires = d.expires.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| "never".into());
    let justification = d.create_only.get("justification").and_then(Value::as_str).unwrap_or("none given");
    format!("review: assigns {} to {} through policy `{policy}` until {expires}; justification: {justification}", r(PACKAGE), r(TARGET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FieldChange;
    use crate::governance::removes_access;
    use crate::plan::{Action, Change};
    use serde_json::json;

    fn change(action: Action, fields: Vec<FieldChange>) -> Change {
        Change {
            address: "access_package_assignment.jane".parse().expect("test fixture"),
            action,
            display_name: "jane".into(),
            id: Some("00000000-0000-4000-8000-000000000001".into()),
            reason: String::new(),
            fields,
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
    }

    fn expiry(before: &str, after: &str) -> FieldChange {
        FieldChange { field: EXPIRES.into(), before: Some(json!(before)), after: Some(json!(after)) }
    }

    #[test]
    fn ending_or_shortening_removes_access_and_extending_does_not() {
        assert!(removes_access(&change(Action::Delete, Vec::new())).is_some());
        assert!(removes_access(&change(Action::Update, vec![expiry("2027-03-31T17:00:00Z", "2027-02-01T00:00:00Z")])).is_some());
        let extended = change(Action::Update, vec![expiry("2027-02-01T00:00:00Z", "2027-03-31T17:00:00Z")]);
        assert!(removes_access(&extended).is_none());
        assert!(removes_access(&change(Action::Create, Vec::new())).is_none());
        assert!(removes_access(&change(Action::Replace, Vec::new())).is_none(), "another policy is new access");
    }
}
