//! A device control narrowed or weakened by desired state (hostile run
//! 16, finding 5): a compliance, configuration or Settings Catalog policy
//! ([`super::grants::CONTROL_KINDS`]) that stops applying to a group (an
//! include taken out, an exclude added, all users or devices turned off),
//! or a compliance policy whose requirements change. Those whom it no
//! longer covers escape the control, as leaving its group does; so it is
//! reviewed. A correction of drift (desired state unchanged since it was
//! applied, [`super::tightens::restores`]) puts the control back and is
//! not.

use std::collections::BTreeSet;

use schema::Kind;
use serde_json::Value;

use super::grants::{field_refs, CONTROL_KINDS};
use crate::plan::{Action, Change};

/// Fields of a compliance policy that are not what it requires.
const NOT_REQUIREMENTS: &[&str] = &["displayName", "description", "roleScopeTagIds", "scheduledActionsForRule"];

/// Why `change` narrows or weakens a device control, or `None`.
pub fn reason(change: &Change) -> Option<String> {
    let a = &change.address;
    if !matches!(change.action, Action::Update | Action::Assign) || !CONTROL_KINDS.contains(&a.kind) || super::tightens::restores(change) {
        return None;
    }
    let mut what: BTreeSet<String> = BTreeSet::new();
    for f in &change.fields {
        let top = f.field.split('.').next().unwrap_or_default();
        if top == "assignments" {
            let leaf = f.field.rsplit('.').next().unwrap_or_default();
            let (before, after) = (field_refs(f.before.as_ref()), field_refs(f.after.as_ref()));
            let on = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(true);
            if leaf.starts_with("exclude") {
                let added: Vec<String> = after.difference(&before).cloned().collect();
                if !added.is_empty() {
                    what.insert(format!("excludes {} from {a}", added.join(", ")));
                }
            } else if on(f.before.as_ref()) && !on(f.after.as_ref()) {
                what.insert(format!("{a} stops applying to {leaf}"));
            } else {
                let removed: Vec<String> = before.difference(&after).cloned().collect();
                if !removed.is_empty() {
                    what.insert(format!("{a} no longer applies to {}", removed.join(", ")));
                }
            }
        } else if a.kind == Kind::CompliancePolicy && !NOT_REQUIREMENTS.contains(&top) {
            what.insert(format!("changes what {a} requires ({})", f.field));
        }
    }
    (!what.is_empty()).then(|| format!("{}: those it no longer covers escape that device control", what.into_iter().collect::<Vec<_>>().join("; ")))
}
