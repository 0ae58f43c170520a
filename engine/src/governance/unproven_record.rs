//! An object in sync with the tenant whose approved record the seal does
//! not prove (hostile run 20, finding 1).
//!
//! A ratification ([`super::ratify`]) compares desired state with the
//! ledger's `applied` record. When the ledger does not match the seal the
//! tenant records (or is one the tenant seals none of), that record proves
//! nothing: a pull request that copies a portal loosening into desired
//! state can cut the object's `applied` line, or its whole entry, or set
//! `applied` to its own desired hash, and nothing would differ from the
//! record. A record that is missing proves nothing under any seal
//! (hostile run 23, findings 1 and 7): a seal proves that tenantctl wrote
//! the ledger for this tenant, not that it is this directory's (another
//! sealed ledger copied over it, or an older one, owns other objects),
//! nor that the pull request did not cut the ledger to nothing (a "new"
//! ledger is trusted on first use) or delete it. So an object the tenant
//! matches that the ledger records no approved state of (adopted: matched
//! by its natural key, or an entry without `applied`) is treated as one
//! with an unproven record, whatever the seal; an honest new directory
//! or export then needs one approved apply, which records it. So under
//! an unproven record an object the tenant matches is
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

/// Why an object in sync has no approved record that proves what
/// approvers saw ([`record_unproven`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unproven {
    /// The ledger records no approved state of it (no entry: matched by
    /// its natural key; or an entry without `applied`), whatever the seal
    /// says (hostile run 23, findings 1 and 7): a seal proves the ledger
    /// is one tenantctl wrote for this tenant, not that it is this
    /// directory's (another sealed ledger copied over it owns other
    /// objects), nor that an entry a pull request could have cut was
    /// never there. The object was adopted as the tenant has it.
    Adopted,
    /// The ledger does not match the tenant's seal and records exactly
    /// desired state (possibly forged to).
    Unsealed,
}

/// Whether `address`'s approved record (`entry`: the ledger's entry for
/// the live object, if any) is one a pull request could have cut or
/// forged without anything differing from it: it records nothing (under
/// any seal), or, when the seal does not prove it, exactly desired state.
pub fn record_unproven(ledger: &Ledger, address: &Address, entry: Option<&LedgerEntry>, r: &DesiredResource) -> Option<Unproven> {
    // Its object named only by an unproven write-ahead log: adopted, as
    // one matched by its natural key is (hostile run 28, finding 3).
    if entry.is_some() && ledger.log_owned.contains(address) {
        return Some(Unproven::Adopted);
    }
    let unsealed = ledger.seal_broken() && !ledger.applied_proven(address);
    match entry.and_then(|e| e.applied.as_deref()) {
        None if unsealed => Some(Unproven::Unsealed),
        None => Some(Unproven::Adopted),
        Some(applied) => (unsealed && applied == applied_hash(r)).then_some(Unproven::Unsealed),
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
pub fn review(change: &mut Change, r: &DesiredResource, judged: &DesiredModel, how: Unproven) -> Option<String> {
    if !super::ratify::records_fields(r.address.kind) {
        // Accounts: what the ledger proves of them (a service account, a
        // guest's expiry and sponsor) is shown unproven by their own rules
        // (`governance::recorded`, `governance::sponsor`).
        return None;
    }
    // Sized exactly: collected from a filter, the vector grew to room for
    // 16 fields (2.7 KB) for a group's 9, held in each of the 30,003
    // changes of an adopted 100k tenant's first plan (issue 13).
    let shown = |(k, _): &(&String, &Value)| !k.starts_with('@');
    change.fields = Vec::with_capacity(r.props.iter().filter(shown).count());
    change.fields.extend(
        r.props
            .iter()
            // Not settings: the object's type and where it lives.
            .filter(shown)
            // A null reads back from a plan file as no value: shown as such,
            // so the plan's hash is the same once saved.
            .map(|(k, v)| FieldChange { field: k.clone(), before: Some(Value::String(before(how).into())), after: Some(canonical(v)).filter(|v| !v.is_null()) }),
    );
    let a = &r.address;
    let controls = super::tightens::is_control(a.kind) || a.kind == Kind::RolePolicy;
    let g = grants(r);
    let why = if controls {
        format!("control {a}")
    } else if !g.is_empty() {
        format!("{a} declares who holds or is granted something ({})", g.join(", "))
    } else {
        // Judged as if every declared field were new (the copy only
        // where it is judged: an adopted tenant's review holds one
        // change per group and policy, issue 13).
        let mut judged_as_new = change.clone();
        for f in &mut judged_as_new.fields {
            f.before = None;
        }
        super::sensitivity::classify(&judged_as_new, judged, 1)?
    };
    Some(whole_reason(&why, a, how))
}

/// The reason of a whole review of `a` for `why` (what makes it sensitive).
pub fn whole_reason(why: &str, a: &Address, how: Unproven) -> String {
    match how {
        Unproven::Unsealed => format!("{why}; {WHOLE_REVIEW} of {a}, {REVIEWED_WHOLE}"),
        Unproven::Adopted => format!("{why}; {ADOPTED_REVIEW} of {a} (it was adopted as the tenant has it: matched by its natural key, or recorded without one), {REVIEWED_WHOLE}"),
    }
}

/// The `before` of every field of an object reviewed whole `how`.
pub fn before(how: Unproven) -> &'static str {
    match how {
        Unproven::Unsealed => UNPROVEN_BEFORE,
        Unproven::Adopted => ADOPTED_BEFORE,
    }
}

/// The `before` of every field of an adopted object reviewed whole.
pub const ADOPTED_BEFORE: &str = "(no approved record: adopted as the tenant has it)";

/// What every whole review of an adopted object says.
pub const ADOPTED_REVIEW: &str = "the ledger records no approved state";

/// How every whole review's reason ends.
const REVIEWED_WHOLE: &str = "so desired state is reviewed whole";

/// The note on the ratification of an adopted object.
pub const ADOPTED_NOTE: &str = "adopted: the ledger records no approved state of this object (it was matched by its natural key, or its entry records none), and a seal proves only that tenantctl wrote the ledger, not that no entry was cut from it or that it is this directory's: so what desired state declares is reviewed whole once, and the approved apply records it";

/// What every whole review's sensitivity reason says.
pub const WHOLE_REVIEW: &str = "the ledger does not match the seal the tenant records and proves no approved record";

/// Whether `why` is a whole review's reason: it replaces what the
/// sensitivity rules say of the change, which read the placeholder
/// [`UNPROVEN_BEFORE`] as the approved value.
pub fn is_whole_review(why: &str) -> bool {
    why.ends_with(REVIEWED_WHOLE) && (why.contains(WHOLE_REVIEW) || why.contains(ADOPTED_REVIEW))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger_seal::Seal;
    use crate::model::Props;

    fn resource() -> DesiredResource {
        DesiredResource {
            address: "compliance_policy.w".parse().expect("an address"),
            natural_key: "w".into(),
            display_name: "w".into(),
            props: Props::from([("bitLockerEnabled".to_string(), serde_json::json!(false))]),
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: Props::new(),
            depends_on: Vec::new(),
            expires: None,
        }
    }

    #[test]
    fn a_missing_record_proves_nothing_under_any_seal() {
        let r = resource();
        let a = r.address.clone();
        let mut l = Ledger::default();
        l.record(a.clone(), "1".into(), None, None);
        let entry = l.resources[&a].clone();
        let mut applied = entry.clone();
        applied.applied = Some(applied_hash(&r));
        for seal in [Seal::Sealed, Seal::Unrecorded { beyond_review: true }, Seal::Fresh { ledger: "l".into(), latest: "r".into(), others: 1, beyond_review: false }] {
            l.seal = seal.clone();
            assert_eq!(record_unproven(&l, &a, None, &r), Some(Unproven::Adopted), "{seal:?}: matched by natural key");
            assert_eq!(record_unproven(&l, &a, Some(&entry), &r), Some(Unproven::Adopted), "{seal:?}: no applied");
            assert_eq!(record_unproven(&l, &a, Some(&applied), &r), None, "{seal:?}: a record the seal proves (or trusts)");
        }
        l.seal = Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: None };
        assert_eq!(record_unproven(&l, &a, None, &r), Some(Unproven::Unsealed));
        assert_eq!(record_unproven(&l, &a, Some(&applied), &r), Some(Unproven::Unsealed), "equal to desired state, possibly forged");
        let mut c = change(&r, "1", Vec::new());
        let why = review(&mut c, &r, &DesiredModel::default(), Unproven::Adopted).expect("a control is reviewed whole");
        assert!(is_whole_review(&why) && why.contains(ADOPTED_REVIEW), "{why}");
        assert_eq!(c.fields[0].before, Some(Value::String(ADOPTED_BEFORE.into())));
    }
}
