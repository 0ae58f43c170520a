//! The assignment policies a package update deletes, shown with their
//! settings (issue 16; hostile run 17, finding 6). A package's policies
//! are compared by the names desired state declares, so a live policy it
//! does not declare (dropped from desired state, or made in the portal)
//! showed only as a shorter `policyNames`: approvers did not see who it
//! admitted, who approved, or when access ended. Each is added to the
//! change as a removed field `policies.<name>` with its live value, and
//! the live assignments through it, which the package's writer ends
//! (`adminRemove`) before it deletes the policy, are named in a note.
//!
//! Run after governance has judged the plan: what is added is for the
//! reviewer; the judgement stays on the fields the diff found (a removed
//! policy narrows `policyNames`).

use std::collections::BTreeMap;

use schema::{Address, Kind};
use serde_json::Value;

use crate::diff::FieldChange;
use crate::governance::package_assignment::{PACKAGE, POLICY};
use crate::model::{as_reference, LiveObject, ObservedState};
use crate::plan::{Action, Change};

const POLICIES: &str = "policies";

/// Whether `f` is a whole policy [`show`] adds as removed (not one of its
/// settings): what it admitted is no longer requestable, so it grants
/// nothing (`governance::tightens` judges a restore by its fields, and
/// reconcile judges the plan's changes again).
pub fn is_whole_policy_removed(f: &FieldChange) -> bool {
    f.field.starts_with("policies.") && f.after.is_none() && f.before.as_ref().and_then(Value::as_object).is_some_and(|p| p.contains_key("allowedTargetScope"))
}

/// Adds to each package update a removed field per live policy desired
/// state does not declare, its references shown through `resolve`, and a
/// note naming the live assignments through it.
pub fn show(changes: &mut [Change], matched: &BTreeMap<Address, &LiveObject>, observed: &ObservedState, resolve: impl Fn(&Value) -> Value) {
    for c in changes.iter_mut().filter(|c| c.address.kind == Kind::AccessPackage && matches!(c.action, Action::Update | Action::Assign)) {
        let Some(d) = &c.desired else { continue };
        let Some(o) = matched.get(&c.address) else { continue };
        let declared = d.props.get(POLICIES).and_then(Value::as_object);
        let Some(live) = o.props.get(POLICIES).and_then(Value::as_object) else { continue };
        for (name, pol) in live.iter().filter(|(n, _)| declared.is_none_or(|m| !m.contains_key(*n))) {
            let field = format!("{POLICIES}.{name}");
            if c.fields.iter().any(|f| f.field == field) {
                continue;
            }
            c.fields.push(FieldChange { field, before: Some(resolve(pol)), after: None });
            let through: Vec<String> = observed
                .objects
                .get(&Kind::AccessPackageAssignment)
                .into_iter()
                .flatten()
                .filter(|a| a.props.get(PACKAGE).and_then(as_reference) == Some(o.id.as_str()) && a.props.get(POLICY).and_then(Value::as_str) == Some(name.as_str()))
                .map(|a| format!("{} ({})", a.display_name, a.id))
                .collect();
            if !through.is_empty() {
                c.notes.push(format!(
                    "deletes policy `{name}`: first ends (adminRemove) the {} assignment(s) through it, which desired state does not hold: {}",
                    through.len(),
                    through.join(", ")
                ));
            }
        }
    }
}
