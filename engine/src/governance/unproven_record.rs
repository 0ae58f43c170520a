//! An object in sync with the tenant whose approved record the seal does
//! not prove (hostile run 20, finding 1).
//!
//! A ratification ([`super::ratify`]) compares desired state with the
//! ledger's `applied` record. When the ledger does not match the seal the
//! tenant records (or is one the tenant seals none of), that record proves
//! nothing: a pull request that copies a portal loosening into desired
//! state can cut the object's `applied` line, or its whole entry, or set
//! `applied` to its own desired hash, and nothing would differ from the
//! record. So under an unproven record an object the tenant matches is
//! reviewed whole when desired state says something approvers must see
//! whatever was approved before: a control (its settings may be what was
//! loosened), an object whose kind or references are sensitive by the
//! rules of an update ([`super::sensitivity::classify`], which judges every
//! declared field as new), or one that declares who holds or is granted
//! something. It is then a sensitive ratification: applying it sends
//! nothing to Graph and records desired state as approved; reconcile holds
//! it. Other objects (a plain group, a display name) and accounts (whose
//! proven facts have rules of their own) are not shown: the complete apply
//! that reseals vouches for them.

use schema::{Address, Kind};
use serde_json::Value;

use crate::diff::{canonical, FieldChange};
use crate::ledger::{Ledger, LedgerEntry};
use crate::model::{DesiredModel, DesiredResource};
use crate::plan::{Action, Change};

use super::ratify::{applied_hash, GRANT_FIELDS};

/// The `before` of every field of an object reviewed whole.
pub const UNPROVEN_BEFORE: &str = "(approved value not proven: the ledger's record of it is not sealed)";

/// Whether `address`'s approved record (`entry`: the ledger's entry for
/// the live object, if any) is one a pull request could have cut or
/// forged without anything differing from it: the seal does not prove it,
/// and it records nothing, or exactly desired state.
pub fn record_unproven(ledger: &Ledger, address: &Address, entry: Option<&LedgerEntry>, r: &DesiredResource) -> bool {
    if !ledger.seal_broken() || ledger.applied_proven(address) {
        return false;
    }
    match entry.and_then(|e| e.applied.as_deref()) {
        None => true,
        Some(applied) => applied == applied_hash(r),
    }
}

/// Declared fields that say who holds or is granted something.
fn grants(r: &DesiredResource) -> Vec<&str> {
    r.props
        .iter()
        .filter(|(k, v)| (GRANT_FIELDS.contains(&k.as_str()) || k.ends_with("icenses")) && !matches!(v, Value::Null) && v.as_array().is_none_or(|a| !a.is_empty()))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// The whole review of `r` (its fields, and why it is sensitive), or
/// `None` when nothing it declares needs approvers whatever was approved
/// before. `change` is the ratification as it will be shown (its fields
/// are filled here).
pub fn review(change: &mut Change, r: &DesiredResource, judged: &DesiredModel) -> Option<String> {
    if !super::ratify::records_fields(r.address.kind) {
        // Accounts: what the ledger proves of them (a service account, a
        // guest's expiry and sponsor) is shown unproven by their own rules
        // (`governance::recorded`, `governance::sponsor`).
        return None;
    }
    change.fields = r
        .props
        .iter()
        // Not settings: the object's type and where it lives.
        .filter(|(k, _)| !k.starts_with('@'))
        // A null reads back from a plan file as no value: shown as such,
        // so the plan's hash is the same once saved.
        .map(|(k, v)| FieldChange { field: k.clone(), before: Some(Value::String(UNPROVEN_BEFORE.into())), after: Some(canonical(v)).filter(|v| !v.is_null()) })
        .collect();
    let a = &r.address;
    // Judged as if every declared field were new.
    let mut judged_as_new = change.clone();
    for f in &mut judged_as_new.fields {
        f.before = None;
    }
    let controls = super::tightens::is_control(a.kind) || a.kind == Kind::RolePolicy;
    let g = grants(r);
    let why = if controls {
        format!("control {a}")
    } else if !g.is_empty() {
        format!("{a} declares who holds or is granted something ({})", g.join(", "))
    } else {
        super::sensitivity::classify(&judged_as_new, judged, 1)?
    };
    Some(format!("{why}; {WHOLE_REVIEW} of {a}, so desired state is reviewed whole"))
}

/// What every whole review's sensitivity reason says.
pub const WHOLE_REVIEW: &str = "the ledger does not match the seal the tenant records and proves no approved record";

/// Whether `why` is a whole review's reason: it replaces what the
/// sensitivity rules say of the change, which read the placeholder
/// [`UNPROVEN_BEFORE`] as the approved value.
pub fn is_whole_review(why: &str) -> bool {
    why.contains(WHOLE_REVIEW)
}

/// The reason of a whole review, for the change's `reason` line.
pub fn reason(fields: &[FieldChange]) -> String {
    format!(
        "no proven approved record ({} declared field{} reviewed whole); the tenant already has desired state",
        fields.len(),
        if fields.len() == 1 { "" } else { "s" }
    )
}

/// An update change to show for `r` (live id `id`), with no fields yet.
pub fn change(r: &DesiredResource, id: &str, notes: Vec<String>) -> Change {
    Change {
        address: r.address.clone(),
        action: Action::Update,
        display_name: r.display_name.clone(),
        id: Some(id.to_string()),
        reason: String::new(),
        fields: Vec::new(),
        waits_on: Vec::new(),
        wave: 0,
        desired: Some(r.clone()),
        notes,
        live: None,
    }
}
