//! The changes the plan's passes build from a declared resource or a live
//! object.

use schema::{Address, Kind};
use serde_json::Value;

use super::refs::resolved_props;
use super::{Action, Change};
use crate::diff::{diff_props, FieldChange};
use crate::fast_hash::IdMap;
use crate::model::{DesiredResource, LiveObject, Props};

pub(super) fn describe_key(r: &DesiredResource) -> String {
    let key = r.natural_key.replace("{{", "").replace("}}", "");
    format!("natural key `{key}`")
}

/// A change of a declared resource (and its live object, unless created).
pub(super) fn change(address: &Address, action: Action, r: &DesiredResource, live: Option<&LiveObject>, reason: String, fields: Vec<FieldChange>, desired: Option<DesiredResource>) -> Change {
    let mut c = Change::new(address.clone(), action, r.display_name.clone(), reason);
    c.id = live.map(|o| o.id.clone());
    c.fields = fields;
    c.desired = desired;
    c
}

/// An update that blocks an undeclared account's sign-in (its access
/// ended: an expired guest, or an account pruning keeps).
pub(super) fn disable_account(address: &Address, o: &LiveObject, reason: String) -> Change {
    let mut props = Props::new();
    props.insert("accountEnabled".into(), Value::Bool(false));
    let fields = diff_props(&props, &o.props);
    let d = DesiredResource {
        address: address.clone(),
        natural_key: o.natural_key.clone(),
        display_name: o.display_name.clone(),
        props,
        immutable: Vec::new(),
        assignment_props: Vec::new(),
        create_only: Props::new(),
        depends_on: Vec::new(),
        expires: None,
    };
    change(address, Action::Update, &d, Some(o), reason, fields, Some(d.clone()))
}

/// The delete of a ledger-owned object no longer declared, with what it
/// held (for approvers) and the soft-delete note for accounts.
pub(super) fn undeclared_delete(address: &Address, o: &LiveObject, reason: String, ids: &IdMap) -> Change {
    let mut c = Change::new(address.clone(), Action::Delete, o.display_name.clone(), reason);
    c.id = Some(o.id.clone());
    c.live = Some(resolved_props(o, ids));
    if matches!(address.kind, Kind::User | Kind::Guest) {
        c.notes.push("users are soft-deleted: restorable from deleted items for 30 days".into());
    }
    c
}
