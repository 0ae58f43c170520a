//! The declared resources against their matched live objects: what cannot
//! be judged, what expired, what is created, what differs (the diff) and
//! what a replaced object's dependents must set again.

use std::collections::{BTreeMap, BTreeSet};

use schema::kinds::governance::GuestExpiryAction;
use schema::{Address, Kind};
use serde_json::Value;

use super::build::{change, describe_key};
use super::refs::{referenced_addresses, resolve_refs, resolved_props};
use super::{Action, Draft, Sides, Unknown};
use crate::diff::{canonical, diff_props, FieldChange};
use crate::fingerprint::ObservedPart;
use crate::held::Held;
use crate::model::{DesiredModel, ObservedState, Props};

/// Resources that cannot be judged: their kind, or a kind they refer to,
/// could not be read.
pub(super) fn unknown_set(desired: &DesiredModel, observed: &ObservedState) -> BTreeMap<Address, String> {
    let mut unknown_set: BTreeMap<Address, String> = BTreeMap::new();
    for (address, r) in &desired.resources {
        if let Some(why) = observed.unread.get(address) {
            unknown_set.insert(address.clone(), why.clone());
            continue;
        }
        if let Some(why) = observed.unreadable.get(&address.kind) {
            unknown_set.insert(address.clone(), format!("{} could not be read: {why}", address.kind));
            continue;
        }
        if let Some(dep) = r.depends_on.iter().find(|d| observed.unread.contains_key(*d)) {
            unknown_set.insert(address.clone(), format!("refers to {dep}, which could not be read"));
            continue;
        }
        if let Some(dep) = r.depends_on.iter().find(|d| observed.unreadable.contains_key(&d.kind)) {
            unknown_set.insert(address.clone(), format!("refers to {dep}, whose kind could not be read"));
        }
    }
    unknown_set
}

/// Each declared resource judged against its live object (or its absence).
pub(super) fn diff_declared<'a>(s: &Sides<'a>, draft: &mut Draft<'a>, forgotten: &BTreeMap<Address, String>, unknown_set: &BTreeMap<Address, String>, held: &BTreeMap<Address, Held>) {
    let (desired, ledger, options, ids) = (s.desired, s.ledger, s.options, s.ids);
    let gov = &desired.governance;
    // `matched` walked beside the declared resources (both in address
    // order), not searched for each.
    let mut matched_walk = s.matched.iter().peekable();
    for (address, r) in &desired.resources {
        let mut live = None;
        while let Some((a, o)) = matched_walk.peek() {
            match (*a).cmp(address) {
                std::cmp::Ordering::Less => {
                    matched_walk.next();
                }
                std::cmp::Ordering::Equal => {
                    live = Some(**o);
                    matched_walk.next();
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        if let Some(reason) = unknown_set.get(address) {
            draft.unknown.push(Unknown { address: address.clone(), reason: reason.clone() });
            continue;
        }
        if held.contains_key(address) {
            continue;
        }
        let expired = r.expires.is_some_and(|e| e <= options.now);
        draft.fp_parts.push((address, live.map_or(ObservedPart::Missing, ObservedPart::Live)));
        if expired {
            let when = r.expires.map(|e| e.to_rfc3339()).unwrap_or_default();
            match (address.kind, live, gov.guest_expiry_action) {
                (_, None, _) => {
                    draft.unchanged.push(address.clone());
                    draft.warnings.push(format!("{address} expired at {when}; it is not created"));
                }
                (Kind::Guest, Some(o), GuestExpiryAction::Disable) => {
                    let mut d = r.clone();
                    d.props.insert("accountEnabled".into(), Value::Bool(false));
                    let mut wanted = Props::new();
                    wanted.insert("accountEnabled".into(), Value::Bool(false));
                    let fields = diff_props(&wanted, &o.props);
                    if fields.is_empty() {
                        draft.unchanged.push(address.clone());
                    } else {
                        let reason = crate::governance::disable_bound::expiry_reason(address, &when, ledger, o, options.now);
                        draft.changes.push(change(address, Action::Update, r, Some(o), reason, fields, Some(d)));
                    }
                }
                (_, Some(o), _) => {
                    let mut c = change(address, Action::Delete, r, Some(o), format!("access expired at {when}"), Vec::new(), Some(r.clone()));
                    c.live = Some(resolved_props(o, ids));
                    if address.kind == Kind::Guest || address.kind == Kind::User {
                        c.notes.push("users are soft-deleted: restorable from deleted items for 30 days".into());
                    }
                    draft.changes.push(c);
                }
            }
            continue;
        }
        let Some(o) = live else {
            let fields = r
                .props
                .iter()
                .filter(|(_, v)| !crate::diff::is_empty(v))
                .map(|(k, v)| FieldChange { field: k.clone(), before: None, after: Some(canonical(v)) })
                .collect();
            let reason = match forgotten.get(address) {
                Some(id) => format!("the ledger's object {id} no longer exists"),
                None => format!("no object with {} exists", describe_key(r)),
            };
            draft.changes.push(change(address, Action::Create, r, None, reason, fields, Some(r.clone())));
            continue;
        };
        // Only the declared keys are compared: the live object is not
        // copied (its references are resolved key by key where needed).
        let fields = crate::diff::diff_props_with(&r.props, &o.props, |v| resolve_refs(v, ids), |id| ids.get(id).copied());
        if fields.is_empty() {
            draft.unchanged.push(address.clone());
            continue;
        }
        let immutable: Vec<&FieldChange> = fields.iter().filter(|f| r.immutable.iter().any(|i| f.field == *i || f.field.starts_with(&format!("{i}.")))).collect();
        let (action, reason) = if !immutable.is_empty() {
            let names: Vec<&str> = immutable.iter().map(|f| f.field.as_str()).collect();
            (Action::Replace, format!("{} cannot be changed in place", names.join(", ")))
        } else if fields.iter().all(|f| r.assignment_props.iter().any(|p| f.field == *p || f.field.starts_with(&format!("{p}.")))) {
            (Action::Assign, "assignments differ".to_string())
        } else {
            let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            (Action::Update, format!("{} differ{}", names.join(", "), if names.len() == 1 { "s" } else { "" }))
        };
        let mut c = change(address, action, r, Some(o), reason, fields, Some(r.clone()));
        if action == Action::Replace {
            // What is deleted is the live object, not the desired one: apply
            // removes it by its own properties (a PIM removal names the old
            // principal, role and type).
            c.live = Some(resolved_props(o, ids));
        }
        if action == Action::Replace && matches!(address.kind, Kind::User | Kind::Guest) {
            c.notes.push("the old user is soft-deleted: restorable from deleted items for 30 days".into());
        }
        draft.changes.push(c);
    }
}

/// Dependents of a replaced object refer to an id that goes away.
pub(super) fn replaced_dependents(s: &Sides, draft: &mut Draft, unknown_set: &BTreeMap<Address, String>) {
    let replaced: BTreeSet<Address> = draft.changes.iter().filter(|c| c.action == Action::Replace).map(|c| c.address.clone()).collect();
    if replaced.is_empty() {
        return;
    }
    let changed: BTreeSet<Address> = draft.changes.iter().map(|c| c.address.clone()).collect();
    let mut now_changed: BTreeSet<Address> = BTreeSet::new();
    for (address, r) in &s.desired.resources {
        if changed.contains(address) || unknown_set.contains_key(address) {
            continue;
        }
        if let Some(dep) = r.depends_on.iter().find(|d| replaced.contains(d)) {
            let Some(o) = s.matched.get(address).copied() else { continue };
            let fields: Vec<FieldChange> = r
                .props
                .iter()
                .filter(|(_, v)| {
                    let mut refs = BTreeSet::new();
                    referenced_addresses(v, &mut refs);
                    refs.contains(dep)
                })
                .map(|(k, v)| FieldChange { field: k.clone(), before: None, after: Some(canonical(v)) })
                .collect();
            let action = if fields.iter().all(|f| r.assignment_props.contains(&f.field)) { Action::Assign } else { Action::Update };
            now_changed.insert(address.clone());
            draft.changes.push(change(address, action, r, Some(o), format!("{dep} is replaced, so its new id must be set here"), fields, Some(r.clone())));
        }
    }
    draft.unchanged.retain(|a| !now_changed.contains(a));
}
