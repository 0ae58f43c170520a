//! What governance remembers of an applied object, in its ledger entry:
//! a guest's access end (`expires`) and whether a user was applied as a
//! service account (`service`). Neither is a Graph property, so without
//! the ledger a plan could not tell that desired state extends a guest's
//! access or turns a service account into a person: both would show as
//! "no changes" and need nobody's approval.
//!
//! The plan shows them as field changes of the object (`expires`, `kind`),
//! which apply records in the ledger ([`facts_after`]) and never sends to
//! Graph ([`is_ledger_field`]). Extending access, or no longer being a
//! service account, is sensitive; shortening access is not (it reduces
//! access, see `removes_access`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schema::{Address, Kind};
use serde_json::Value;

use crate::diff::FieldChange;
use crate::ledger::{Ledger, LedgerEntry, LedgerOp};
use crate::model::{DesiredModel, LiveObject};
use crate::plan::{Action, Change, Plan};

/// The field a guest's recorded access end is shown as.
pub const EXPIRES: &str = "expires";
/// The field a user's recorded service-account status is shown as.
pub const KIND: &str = "kind";
/// The value of [`KIND`] for a service account.
pub const SERVICE: &str = "service";

/// Whether `field` of a `kind` change is recorded in the ledger only (not
/// a Graph property: apply never sends it).
pub fn is_ledger_field(kind: Kind, field: &str) -> bool {
    matches!((kind, field), (Kind::Guest, EXPIRES) | (Kind::User, KIND))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// The ledger's `expires` and `service` once change `c` is applied: what
/// its fields set, else what `prev` recorded.
pub fn facts_after(c: &Change, prev: Option<&LedgerEntry>) -> (Option<String>, bool) {
    let mut expires = prev.and_then(|e| e.expires.clone());
    let mut service = prev.is_some_and(|e| e.service);
    for f in &c.fields {
        match (c.address.kind, f.field.as_str()) {
            (Kind::Guest, EXPIRES) => expires = f.after.as_ref().and_then(Value::as_str).map(str::to_string),
            (Kind::User, KIND) => service = f.after.as_ref().and_then(Value::as_str) == Some(SERVICE),
            _ => {}
        }
    }
    (expires, service)
}

/// Whether `c` extends (or first records) a guest's access end.
pub fn extends_expiry(c: &Change) -> Option<String> {
    let f = c.fields.iter().find(|f| c.address.kind == Kind::Guest && f.field == EXPIRES)?;
    let after = parse(f.after.as_ref())?;
    match parse(f.before.as_ref()) {
        Some(before) if after <= before => None,
        Some(before) => Some(format!("extends guest access from {} to {}", rfc3339(before), rfc3339(after))),
        None => None,
    }
}

/// Whether field `f` of guest change `c` only shortens its access.
pub fn shortens_expiry(c: &Change, f: &FieldChange) -> bool {
    c.address.kind == Kind::Guest && f.field == EXPIRES && matches!((parse(f.before.as_ref()), parse(f.after.as_ref())), (Some(b), Some(a)) if a < b)
}

/// Whether `c` turns a user applied as a service account into another kind.
pub fn leaves_service(c: &Change) -> Option<String> {
    let f = c.fields.iter().find(|f| c.address.kind == Kind::User && f.field == KIND)?;
    (f.before.as_ref().and_then(Value::as_str) == Some(SERVICE) && f.after.as_ref().and_then(Value::as_str) != Some(SERVICE)).then(|| {
        format!(
            "{} was applied as a service account and no longer is one (kind, or the service-accounts group): the service-account rules stop protecting it",
            c.address
        )
    })
}

fn add_field(changes: &mut Vec<Change>, unchanged: &mut Vec<Address>, address: &Address, r: &crate::DesiredResource, live: &LiveObject, field: FieldChange, reason: &str) {
    if let Some(c) = changes.iter_mut().find(|c| &c.address == address) {
        if matches!(c.action, Action::Delete | Action::Forget) {
            return;
        }
        c.fields.push(field);
        c.fields.sort_by(|a, b| a.field.cmp(&b.field));
        if c.action == Action::Assign {
            c.action = Action::Update;
        }
        return;
    }
    unchanged.retain(|a| a != address);
    changes.push(Change {
        address: address.clone(),
        action: Action::Update,
        display_name: r.display_name.clone(),
        id: Some(live.id.clone()),
        reason: reason.to_string(),
        fields: vec![field],
        waits_on: Vec::new(),
        wave: 0,
        desired: Some(r.clone()),
        notes: vec!["recorded in the ledger only: nothing is sent to Graph for this field".into()],
        live: None,
    });
}

/// Add the recorded fields to the plan: a guest's `expires` when it is
/// not the one the ledger recorded (and on every invitation), and a
/// user's `kind` when it was applied as a service account and desired
/// state (with the live service-accounts group, `live_service`) no longer
/// makes it one.
/// Objects matched by natural key without a ledger entry, and entries
/// that record no expiry yet, have nothing to compare; the next apply
/// records them ([`remember`]).
#[allow(clippy::too_many_arguments)]
pub fn add_changes(
    changes: &mut Vec<Change>,
    unchanged: &mut Vec<Address>,
    desired: &DesiredModel,
    live_service: &BTreeMap<Address, String>,
    ledger: &Ledger,
    matched: &BTreeMap<Address, &LiveObject>,
    unknown: &BTreeMap<Address, String>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (address, r) in desired.resources.range(Address::new(Kind::Guest, "")..) {
        if address.kind != Kind::Guest {
            break;
        }
        let Some(wanted) = r.expires.filter(|e| *e > now) else { continue };
        if unknown.contains_key(address) {
            continue;
        }
        let wanted = Value::String(rfc3339(wanted));
        if let Some(c) = changes.iter_mut().find(|c| &c.address == address && matches!(c.action, Action::Create | Action::Replace)) {
            if c.action == Action::Create {
                c.fields.push(FieldChange { field: EXPIRES.into(), before: None, after: Some(wanted) });
                c.fields.sort_by(|a, b| a.field.cmp(&b.field));
            }
            continue;
        }
        let Some(live) = matched.get(address) else { continue };
        let Some(entry) = ledger.resources.get(address).filter(|e| e.id == live.id) else { continue };
        // Not recorded (an entry adopted by natural key, or written by an
        // older tenantctl): nothing to compare; `remember` records it.
        let Some(recorded) = entry.expires.clone().map(Value::String) else {
            warnings.push(format!(
                "{address}: the ledger records no applied expiry for this guest (adopted by natural key, or recorded by an older tenantctl, or the entry was edited): an extension cannot be told apart now, and the next apply records expires {} without approval",
                wanted.as_str().unwrap_or_default()
            ));
            continue;
        };
        if recorded == wanted {
            continue;
        }
        add_field(changes, unchanged, address, r, live, FieldChange { field: EXPIRES.into(), before: Some(recorded), after: Some(wanted) }, "expires differs from the one last applied");
    }
    for (address, r) in desired.resources.range(Address::new(Kind::User, "")..) {
        if address.kind != Kind::User {
            break;
        }
        if unknown.contains_key(address) || desired.service_accounts.contains(address) || live_service.contains_key(address) {
            continue;
        }
        let Some(live) = matched.get(address) else { continue };
        if !ledger.resources.get(address).is_some_and(|e| e.id == live.id && e.service) {
            continue;
        }
        let field = FieldChange { field: KIND.into(), before: Some(Value::String(SERVICE.into())), after: Some(Value::String("member".into())) };
        add_field(changes, unchanged, address, r, live, field, "no longer a service account (it was applied as one)");
    }
    warnings
}

/// Ledger records of what an entry does not record yet (adopted by
/// natural key, created by an older tenantctl or by the library), after an
/// apply of `plan`: the service-account mark of a service account (only
/// ever added, which only adds protection; taking it away is a planned,
/// approved `kind` change), and a guest's expiry (from then on an
/// extension is a planned, approved change).
pub fn remember(desired: &DesiredModel, plan: &Plan, ledger: &mut Ledger) -> Vec<(Address, LedgerOp)> {
    let mut out = Vec::new();
    for (a, r) in desired.resources.range(Address::new(Kind::Guest, "")..) {
        if a.kind != Kind::Guest {
            break;
        }
        let Some(entry) = ledger.resources.get(a) else { continue };
        if entry.expires.is_some() || plan.ids.get(a).is_some_and(|id| *id != entry.id) {
            continue;
        }
        let Some(expires) = r.expires else { continue };
        let mut entry = entry.clone();
        entry.expires = Some(rfc3339(expires));
        let op = LedgerOp::Record { address: a.clone(), entry };
        ledger.apply_op(&op);
        out.push((a.clone(), op));
    }
    for a in &desired.service_accounts {
        let Some(entry) = ledger.resources.get(a) else { continue };
        if entry.service || plan.ids.get(a).is_some_and(|id| *id != entry.id) {
            continue;
        }
        let mut entry = entry.clone();
        entry.service = true;
        let op = LedgerOp::Record { address: a.clone(), entry };
        ledger.apply_op(&op);
        out.push((a.clone(), op));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest_change(before: Option<&str>, after: &str) -> Change {
        Change {
            address: Address::new(Kind::Guest, "g"),
            action: Action::Update,
            display_name: "g".into(),
            id: Some("1".into()),
            reason: String::new(),
            fields: vec![FieldChange { field: EXPIRES.into(), before: before.map(|b| Value::String(b.into())), after: Some(Value::String(after.into())) }],
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: None,
        }
    }

    #[test]
    fn an_extension_is_sensitive_and_a_shortening_only_reduces_access() {
        let longer = guest_change(Some("2027-03-31T17:00:00Z"), "2027-06-30T17:00:00Z");
        assert!(extends_expiry(&longer).is_some_and(|w| w.contains("from 2027-03-31T17:00:00Z to 2027-06-30T17:00:00Z")));
        assert!(!shortens_expiry(&longer, &longer.fields[0]));
        let shorter = guest_change(Some("2027-03-31T17:00:00Z"), "2027-01-31T17:00:00Z");
        assert!(extends_expiry(&shorter).is_none());
        assert!(shortens_expiry(&shorter, &shorter.fields[0]));
        let m = DesiredModel::default();
        assert_eq!(super::super::classify(&longer, &m, 1).as_deref(), extends_expiry(&longer).as_deref());
        assert_eq!(super::super::classify(&shorter, &m, 1), None, "shortening is never held");
    }

    #[test]
    fn apply_records_what_the_change_sets_and_keeps_the_rest() {
        let prev = LedgerEntry { id: "1".into(), applied: None, changed_at: None, expires: Some("2027-03-31T17:00:00Z".into()), service: false, location: None };
        let c = guest_change(Some("2027-03-31T17:00:00Z"), "2027-06-30T17:00:00Z");
        assert_eq!(facts_after(&c, Some(&prev)), (Some("2027-06-30T17:00:00Z".into()), false));
        let mut other = c.clone();
        other.fields = vec![FieldChange { field: "displayName".into(), before: None, after: Some(Value::String("x".into())) }];
        assert_eq!(facts_after(&other, Some(&prev)), (Some("2027-03-31T17:00:00Z".into()), false));
        let mut user = other.clone();
        user.address = Address::new(Kind::User, "u");
        user.fields = vec![FieldChange { field: KIND.into(), before: Some(Value::String(SERVICE.into())), after: Some(Value::String("member".into())) }];
        let svc = LedgerEntry { service: true, ..prev.clone() };
        assert!(!facts_after(&user, Some(&svc)).1);
        assert!(leaves_service(&user).is_some());
        assert!(is_ledger_field(Kind::User, KIND) && is_ledger_field(Kind::Guest, EXPIRES) && !is_ledger_field(Kind::DeviceConfiguration, KIND));
    }
}
