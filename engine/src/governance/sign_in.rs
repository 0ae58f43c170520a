//! Enabling sign-in of an existing account is granting it (hostile run
//! 18, finding 5). An update of a user that turns `accountEnabled` from
//! `false` to `true` makes an account sign-in-able with a password
//! tenantctl did not set: an account disabled in the portal (incident
//! response, a leaked password) put back on by reconcile, or a disabled
//! leaver's account a pull request declares by its name. Whoever knows the
//! old password signs in. Likewise `passwordPolicies` gaining
//! `DisablePasswordExpiration` keeps a password valid for ever.
//!
//! Such an update is sensitive, so `apply` asks for approval and
//! `reconcile --self-heal` holds it. Disabling an account ends access and
//! stays unattended (`super::removes_access` for guests; a user's disable
//! is an ordinary update).

use schema::Kind;
use serde_json::Value;

use crate::diff::FieldChange;
use crate::plan::{Action, Change};

/// The flag that keeps a password valid for ever.
const NEVER_EXPIRES: &str = "DisablePasswordExpiration";

fn enables(f: &FieldChange) -> bool {
    f.field == "accountEnabled" && f.after == Some(Value::Bool(true)) && f.before != Some(Value::Bool(true))
}

fn flags(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(NEVER_EXPIRES)))
}

fn never_expires(f: &FieldChange) -> bool {
    f.field == "passwordPolicies" && flags(f.after.as_ref()) && !flags(f.before.as_ref())
}

/// Why an update of an existing user gives sign-in it did not have, or
/// `None`.
pub fn reason(change: &Change) -> Option<String> {
    if change.address.kind != Kind::User || !matches!(change.action, Action::Update | Action::Assign) {
        return None;
    }
    let a = &change.address;
    if change.fields.iter().any(enables) {
        return Some(format!(
            "enables sign-in of {a}, whose password tenantctl did not set: whoever knows the password it had when it was disabled can sign in as it"
        ));
    }
    if change.fields.iter().any(never_expires) {
        return Some(format!("sets {NEVER_EXPIRES} on {a}: its password stops expiring, so whoever knows it keeps signing in"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(kind: &str, fields: Vec<FieldChange>) -> Change {
        Change {
            address: format!("{kind}.x").parse().expect("an address"),
            action: Action::Update,
            display_name: "x".into(),
            id: Some("1".into()),
            reason: String::new(),
            fields,
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
    }

    fn field(name: &str, before: Value, after: Value) -> FieldChange {
        FieldChange { field: name.into(), before: Some(before), after: Some(after) }
    }

    #[test]
    fn enabling_is_sensitive_and_disabling_is_not() {
        assert!(reason(&update("user", vec![field("accountEnabled", json!(false), json!(true))])).is_some());
        assert!(reason(&update("user", vec![field("accountEnabled", json!(true), json!(false))])).is_none());
        assert!(reason(&update("user", vec![field("passwordPolicies", Value::Null, json!("DisablePasswordExpiration"))])).is_some());
        assert!(reason(&update("user", vec![field("passwordPolicies", json!("DisablePasswordExpiration"), Value::Null)])).is_none());
        assert!(reason(&update("user", vec![field("displayName", json!("a"), json!("b"))])).is_none());
    }
}
