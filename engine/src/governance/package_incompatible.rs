//! Separation of duties on an access package (`incompatiblePackages`,
//! `incompatibleGroups`): taking an incompatibility away lets people who
//! hold the other package, or are in the group, request this one. That is
//! a loosening: sensitive, with its own reason, and never "only tightens"
//! as a restore. Putting one back (a restore that only adds) grants
//! nothing.

use std::collections::BTreeSet;

use schema::Kind;
use serde_json::Value;

use crate::diff::FieldChange;
use crate::model::as_reference;
use crate::plan::{Action, Change};

/// The fields of an access package that hold its incompatibilities.
pub const FIELDS: &[&str] = &["incompatiblePackages", "incompatibleGroups"];

fn set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|x| as_reference(x).or_else(|| x.as_str())).map(str::to_string).collect()
}

/// Why `change` is sensitive when it takes an incompatibility away.
pub fn loosens(change: &Change) -> Option<String> {
    if change.address.kind != Kind::AccessPackage || change.action != Action::Update {
        return None;
    }
    let mut gone = Vec::new();
    for f in change.fields.iter().filter(|f| FIELDS.contains(&f.field.as_str())) {
        let after = set(f.after.as_ref());
        gone.extend(set(f.before.as_ref()).into_iter().filter(|b| !after.contains(b)));
    }
    (!gone.is_empty()).then(|| format!("loosens separation of duties on {}: it is no longer incompatible with {}, whose holders or members may then request it", change.address, gone.join(", ")))
}

/// For a field of an incompatibility list: whether it only adds (a
/// restore that grants nothing). `None` for any other field.
pub fn narrows(f: &FieldChange) -> Option<bool> {
    FIELDS.contains(&f.field.as_str()).then(|| set(f.before.as_ref()).is_subset(&set(f.after.as_ref())))
}
