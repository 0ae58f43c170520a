//! What a delete takes away, shown (issue 16; hostile run 17, finding 6):
//! a deleted Intune policy, conditional access policy or access package
//! listed only by name hides from its approvers what it required or
//! granted and to whom. The plan keeps the live object's properties on the
//! delete (`Change::live`, so apply needs no re-read); every renderer shows
//! them as removed settings, one leaf per line, through `show_value` (so a
//! secret-named setting stays redacted).

use serde_json::Value;

use crate::diff::is_empty;
use crate::model::as_reference;
use crate::plan::{Action, Change};
use crate::render::show_value;

/// Deepest nesting shown as separate lines; deeper objects are shown whole
/// on their line (still redacted).
const MAX_DEPTH: usize = 4;

/// `(field, shown value)` of each set setting of the object `change`
/// deletes, in property order: nested objects as dotted paths down to
/// their leaves, lists whole. Empty for anything but a delete that
/// carries the live object.
pub fn deleted_settings(change: &Change) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if change.action != Action::Delete || !change.fields.is_empty() {
        return out;
    }
    for (k, v) in change.live.iter().flat_map(|p| p.iter()) {
        leaves(k, v, 0, &mut out);
    }
    out
}

fn leaves(path: &str, v: &Value, depth: usize, out: &mut Vec<(String, String)>) {
    if is_empty(v) {
        return;
    }
    if crate::render::is_secret_name(path.rsplit('.').next().unwrap_or(path)) {
        out.push((path.to_string(), "(redacted)".into()));
        return;
    }
    match v {
        Value::Object(m) if depth < MAX_DEPTH && as_reference(v).is_none() && !crate::render::names_a_secret(m) => {
            for (k, x) in m {
                leaves(&format!("{path}.{k}"), x, depth + 1, out);
            }
        }
        _ => out.push((path.to_string(), show_value(path.rsplit('.').next().unwrap_or(path), v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Props;
    use serde_json::json;

    fn delete(live: Value) -> Change {
        Change {
            address: "conditional_access.x".parse().expect("an address"),
            action: Action::Delete,
            display_name: "x".into(),
            id: Some("1".into()),
            reason: "r".into(),
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: Some(serde_json::from_value::<Props>(live).expect("props")),
        }
    }

    #[test]
    fn leaves_are_listed_empties_skipped_secrets_redacted() {
        let c = delete(json!({
            "displayName": "Require MFA",
            "conditions": {"users": {"includeGroups": [{"@ref": "group.staff"}], "excludeUsers": []}},
            "grantControls": {"builtInControls": ["mfa"], "operator": "OR"},
            "omaSettings": [{"displayName": "PreSharedKey", "value": "hunter2"}],
            "wifi": {"preSharedKey": "hunter2"},
            "description": null
        }));
        let got = deleted_settings(&c);
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["conditions.users.includeGroups", "displayName", "grantControls.builtInControls", "grantControls.operator", "omaSettings", "wifi.preSharedKey"]);
        assert_eq!(got[0].1, "[group.staff]");
        assert!(got.iter().all(|(_, v)| !v.contains("hunter2")), "{got:?}");
        let mut update = c.clone();
        update.action = Action::Update;
        assert!(deleted_settings(&update).is_empty());
    }
}
