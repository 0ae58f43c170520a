//! A field recorded in the ledger only, shown in the plan as a change of
//! its object (a guest's `expires`, a service account's status:
//! `super::recorded`; a guest's sponsor: `super::sponsor`): nothing is
//! sent to Graph for it, but approvers see it with before and after. One
//! pass adds it: to the change the plan already has for the object, or as
//! an update of its own.

use schema::Address;

use crate::change_index::ChangeIndex;
use crate::diff::FieldChange;
use crate::model::DesiredResource;
use crate::plan::{Action, Change};

/// The note every such change carries.
pub const NOTE: &str = "recorded in the ledger only: nothing is sent to Graph for this field";

/// Where and what: the object, its desired resource and live id, the field
/// change, the reason of a change of its own, and notes to add either way.
pub struct LedgerField<'a> {
    pub address: &'a Address,
    pub desired: &'a DesiredResource,
    pub live_id: &'a str,
    pub field: FieldChange,
    pub reason: &'a str,
    pub notes: Vec<String>,
}

/// Add `f` to the plan: to the change of its address unless `skip` says
/// that change takes no field (a delete; for some fields a create, or a
/// change that ends access, which nothing else may hold), else as an
/// update of its own (the index takes the address out of `unchanged`).
pub fn add(index: &mut ChangeIndex<'_>, f: LedgerField<'_>, skip: impl Fn(&Change) -> bool) {
    if let Some(c) = index.get_mut(f.address) {
        if skip(c) {
            return;
        }
        c.notes.extend(f.notes);
        c.fields.push(f.field);
        c.fields.sort_by(|a, b| a.field.cmp(&b.field));
        if c.action == Action::Assign {
            c.action = Action::Update;
        }
        return;
    }
    index.push(Change {
        address: f.address.clone(),
        action: Action::Update,
        display_name: f.desired.display_name.clone(),
        id: Some(f.live_id.to_string()),
        reason: f.reason.to_string(),
        fields: vec![f.field],
        waits_on: Vec::new(),
        wave: 0,
        desired: Some(f.desired.clone()),
        notes: std::iter::once(NOTE.to_string()).chain(f.notes).collect(),
        live: None,
    });
}
