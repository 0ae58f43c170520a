//! Declared resources the tenant completes: properties desired state leaves
//! to a source only the live tenant holds (a security baseline's or an
//! endpoint security template's defaults for the settings it does not
//! declare). The providers' read computes each such resource's whole
//! properties (`ObservedState::completed`); `plan` uses them in place of the
//! declared ones, so the plan shows, compares and writes what the template
//! sets, and says which values came from it.

use std::collections::BTreeMap;

use schema::Address;
use serde::{Deserialize, Serialize};

use crate::model::{DesiredModel, Props};
use crate::plan::{Action, Change};

/// One declared resource as the tenant completes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The resource's whole properties: the declared ones and the supplied.
    pub props: Props,
    /// The fields (dotted, as in a plan's field changes, e.g.
    /// `settings.<definition id>`) whose values come from the source, not
    /// from desired state.
    pub supplied: Vec<String>,
    /// Where they come from, for the plan (e.g. `template "Windows security baseline"`).
    pub source: String,
}

/// `desired` with every completed resource's properties replaced.
pub fn complete(desired: &DesiredModel, completed: &BTreeMap<Address, Completion>) -> DesiredModel {
    let mut out = desired.clone();
    for (address, c) in completed {
        if let Some(r) = out.resources.get_mut(address) {
            r.props = c.props.clone();
        }
    }
    out
}

/// A note on each change that writes supplied values, naming them, so an
/// approver sees what the template sets beside what desired state declares.
pub fn notes(changes: &mut [Change], completed: &BTreeMap<Address, Completion>) {
    for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace)) {
        let Some(done) = completed.get(&c.address) else { continue };
        // A create shows whole properties (`settings = {…}`): name every
        // supplied value; an update, those among its field changes.
        let shown: Vec<&str> = if c.action == Action::Update {
            c.fields.iter().map(|f| f.field.as_str()).filter(|f| done.supplied.iter().any(|s| s == f)).collect()
        } else {
            done.supplied.iter().map(String::as_str).collect()
        };
        if !shown.is_empty() {
            c.notes.push(format!("defaults of {} (not declared): {}", done.source, shown.join(", ")));
        }
    }
}
