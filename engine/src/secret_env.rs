//! Which environment variable each secret is sent from (a Settings
//! Catalog `{ secret_env = "NAME" }`), shown in the plan so the approver
//! sees which secret will be sent: the NAME, never its value.
//!
//! A secret's value is never compared (Graph returns only an encrypted
//! token), so the variable is what the approver can review. The desired
//! resource carries the names in `create_only` ([`ENVS`]: setting id ->
//! variable), and the ledger records them as applied
//! ([`crate::ledger::LedgerEntry::secret_env`]). The plan shows them as
//! the field [`ENVS`]: on a create (`+ secretEnv = { ID = "NAME" }`), and
//! on an object whose recorded variables differ from desired state's
//! (`~ secretEnv: { ID = "OLD" } -> { ID = "NEW" }`); apply then sends the
//! secrets whose variable changed again, from the new variable. Every
//! other change of such an object notes the variables in play. An entry
//! that records none yet (written by an older tenantctl, or adopted) has
//! nothing to compare: the next apply records them ([`remember`]).

use std::collections::BTreeMap;

use schema::Address;
use serde_json::Value;

use crate::change_index::ChangeIndex;
use crate::diff::FieldChange;
use crate::ledger::{Ledger, LedgerEntry, LedgerOp};
use crate::model::{DesiredModel, DesiredResource, LiveObject};
use crate::plan::{Action, Change, Plan};

/// The `create_only` entry (and the plan's field) naming each secret's
/// variable by setting id.
pub const ENVS: &str = "secretEnv";

/// The variables `r` declares, by setting id.
pub fn declared(r: &DesiredResource) -> BTreeMap<String, String> {
    r.create_only.get(ENVS).and_then(Value::as_object).into_iter().flatten().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect()
}

/// The field's value: `["SETTING from $NAME", ...]` (a list of text, not
/// a table keyed by setting id: a secret-named key, `..._sharedkey`, would
/// be redacted by every renderer, and a variable's name is no secret).
fn as_value(m: &BTreeMap<String, String>) -> Value {
    Value::Array(m.iter().map(|(k, v)| Value::String(format!("{k}{FROM}{v}"))).collect())
}

const FROM: &str = " from $";

/// The variable a field value (see [`as_value`]) names for setting `id`.
fn variable_of<'a>(v: Option<&'a Value>, id: &str) -> Option<&'a str> {
    v?.as_array()?.iter().filter_map(Value::as_str).find_map(|e| e.split_once(FROM).filter(|(k, _)| *k == id).map(|(_, n)| n))
}

/// The note listing the variables a change sends from or keeps.
fn note(envs: &BTreeMap<String, String>) -> String {
    let list: Vec<String> = envs.iter().map(|(k, v)| format!("{k} from ${v}")).collect();
    format!("secrets by environment variable (names only, values are never shown): {}", list.join(", "))
}

/// Show each declared secret's variable in the plan (see the module
/// documentation).
pub fn add_changes(changes: &mut Vec<Change>, unchanged: &mut Vec<Address>, desired: &DesiredModel, ledger: &Ledger, matched: &BTreeMap<Address, &LiveObject>, unknown: &BTreeMap<Address, String>) {
    let mut index = ChangeIndex::new(changes, unchanged);
    for (address, r) in &desired.resources {
        let envs = declared(r);
        if envs.is_empty() || unknown.contains_key(address) {
            continue;
        }
        if let Some(c) = index.get_mut(address) {
            if matches!(c.action, Action::Delete | Action::Forget) {
                continue;
            }
            if matches!(c.action, Action::Create | Action::Replace) {
                c.fields.push(FieldChange { field: ENVS.into(), before: None, after: Some(as_value(&envs)) });
                c.fields.sort_by(|a, b| a.field.cmp(&b.field));
                c.notes.push(note(&envs));
                continue;
            }
        }
        let entry = matched.get(address).and_then(|live| ledger.resources.get(address).filter(|e| e.id == live.id));
        // Variables the seal does not prove may hide a secret now sent from
        // another variable: shown, and approved.
        let unproven = entry.filter(|_| !ledger.fact_proven(address)).map(|_| ledger.unproven_note("which variable each secret was sent from"));
        let recorded = entry.map(|e| &e.secret_env).filter(|m| !m.is_empty());
        let field = match (&unproven, recorded) {
            (Some(_), r) => Some(FieldChange {
                field: ENVS.into(),
                before: Some(r.map(as_value).unwrap_or_else(|| Value::String(crate::governance::recorded::NOT_PROVEN.into()))),
                after: Some(as_value(&envs)),
            }),
            (None, r) => r.filter(|m| **m != envs).map(|m| FieldChange { field: ENVS.into(), before: Some(as_value(m)), after: Some(as_value(&envs)) }),
        };
        match (index.get_mut(address), field) {
            (Some(c), field) => {
                c.notes.extend(unproven);
                if let Some(f) = field {
                    c.fields.push(f);
                    c.fields.sort_by(|a, b| a.field.cmp(&b.field));
                    if c.action == Action::Assign {
                        c.action = Action::Update;
                    }
                }
                c.notes.push(note(&envs));
            }
            (None, Some(f)) => {
                let Some(live) = matched.get(address) else { continue };
                index.push(Change {
                    address: address.clone(),
                    action: Action::Update,
                    display_name: r.display_name.clone(),
                    id: Some(live.id.clone()),
                    reason: "a secret's environment variable differs from the one last applied".into(),
                    fields: vec![f],
                    waits_on: Vec::new(),
                    wave: 0,
                    desired: Some(r.clone()),
                    notes: [note(&envs), "the secrets whose variable changed are sent again, from the new variable".into()].into_iter().chain(unproven).collect(),
                    live: None,
                });
            }
            (None, None) => {}
        }
    }
}

/// Whether change `c` sends setting `id`'s secret again because its
/// variable changed from the one the ledger recorded.
/// A record the tenant's seal does not prove counts as another variable:
/// every secret is sent again, from desired state's.
pub fn resends(c: &Change, id: &str) -> bool {
    let unproven = c.notes.iter().any(|n| crate::ledger_seal::is_unproven_note(n));
    c.fields.iter().filter(|f| f.field == ENVS).any(|f| {
        if unproven {
            return variable_of(f.after.as_ref(), id).is_some();
        }
        let before = variable_of(f.before.as_ref(), id);
        before.is_some() && before != variable_of(f.after.as_ref(), id)
    })
}

/// The variables the ledger records once change `c` is applied: desired
/// state's when it declares any, else what `prev` recorded.
pub fn after(c: &Change, prev: Option<&LedgerEntry>) -> BTreeMap<String, String> {
    match c.desired.as_ref().map(declared).filter(|m| !m.is_empty()) {
        Some(m) => m,
        None if c.desired.is_some() => BTreeMap::new(),
        None => prev.map(|e| e.secret_env.clone()).unwrap_or_default(),
    }
}

/// Ledger records of variables an entry does not record yet (an older
/// tenantctl's, or adopted), after an apply of `plan`.
pub fn remember(desired: &DesiredModel, plan: &Plan, ledger: &mut Ledger) -> Vec<(Address, LedgerOp)> {
    let mut out = Vec::new();
    for (a, r) in &desired.resources {
        let envs = declared(r);
        let Some(entry) = ledger.resources.get(a) else { continue };
        if envs.is_empty() || !entry.secret_env.is_empty() || plan.ids.get(a).is_some_and(|id| *id != entry.id) {
            continue;
        }
        let mut entry = entry.clone();
        entry.secret_env = envs;
        let op = LedgerOp::Record { address: a.clone(), entry };
        ledger.apply_op(&op);
        out.push((a.clone(), op));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_recorded_variable_that_changed_is_sent_again() {
        let c = |before: Value, after: Value| Change {
            address: "settings_catalog.wifi".parse().expect("an address"),
            action: Action::Update,
            display_name: "wifi".into(),
            id: Some("1".into()),
            reason: String::new(),
            fields: vec![FieldChange { field: ENVS.into(), before: Some(before), after: Some(after) }],
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        };
        let m = |pairs: &[(&str, &str)]| as_value(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let changed = c(m(&[("key", "OLD"), ("other", "SAME")]), m(&[("key", "NEW"), ("other", "SAME")]));
        assert_eq!(changed.fields[0].after, Some(json!(["key from $NEW", "other from $SAME"])));
        assert!(resends(&changed, "key"));
        assert!(!resends(&changed, "other"));
        assert!(!resends(&c(Value::Null, m(&[("key", "NEW")])), "key"));
    }
}
