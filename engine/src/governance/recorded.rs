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

use crate::change_index::ChangeIndex;
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

/// The kinds whose access end (`expires`) is not a Graph property that
/// a plan could compare, so the ledger records it as applied: guests, and
/// Intune role assignments (time-boxed admin access; hostile run 15,
/// finding 5: an approved end could be moved to 9999 unnoticed).
pub const RECORDED_EXPIRY: &[Kind] = &[Kind::Guest, Kind::IntuneRoleAssignment];

/// Whether `field` of a `kind` change is recorded in the ledger only (not
/// a Graph property: apply never sends it).
pub fn is_ledger_field(kind: Kind, field: &str) -> bool {
    (field == EXPIRES && RECORDED_EXPIRY.contains(&kind)) || (kind, field) == (Kind::User, KIND) || (kind, field) == (Kind::Guest, super::sponsor::SPONSOR)
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
            (k, EXPIRES) if RECORDED_EXPIRY.contains(&k) => expires = f.after.as_ref().and_then(Value::as_str).map(str::to_string),
            (Kind::User, KIND) => service = f.after.as_ref().and_then(Value::as_str) == Some(SERVICE),
            _ => {}
        }
    }
    (expires, service)
}

/// Whether `c` extends a recorded access end (or removes it: no end).
pub fn extends_expiry(c: &Change) -> Option<String> {
    let f = c.fields.iter().find(|f| RECORDED_EXPIRY.contains(&c.address.kind) && f.field == EXPIRES)?;
    let what = if c.address.kind == Kind::Guest { "guest access".to_string() } else { format!("the access of {}", c.address) };
    let before = parse(f.before.as_ref())?;
    match parse(f.after.as_ref()) {
        Some(after) if after <= before => None,
        Some(after) => Some(format!("extends {what} from {} to {}", rfc3339(before), rfc3339(after))),
        None => Some(format!("removes the end of {what} ({}): it would never end", rfc3339(before))),
    }
}

/// Whether field `f` of change `c` only shortens a recorded access end.
pub fn shortens_expiry(c: &Change, f: &FieldChange) -> bool {
    RECORDED_EXPIRY.contains(&c.address.kind) && f.field == EXPIRES && matches!((parse(f.before.as_ref()), parse(f.after.as_ref())), (Some(b), Some(a)) if a < b)
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

/// The value of `at` in a map walked in key order: the walk is moved past
/// every key before it.
fn walk_to<'m, V>(walk: &mut std::iter::Peekable<impl Iterator<Item = (&'m Address, &'m V)>>, at: &Address) -> Option<&'m V> {
    while let Some((a, v)) = walk.peek() {
        match (*a).cmp(at) {
            std::cmp::Ordering::Less => {
                walk.next();
            }
            std::cmp::Ordering::Equal => {
                let v = *v;
                walk.next();
                return Some(v);
            }
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn add_field(index: &mut ChangeIndex, address: &Address, r: &crate::DesiredResource, live: &LiveObject, field: FieldChange, reason: &str, unproven: Option<String>) {
    let f = super::ledger_field::LedgerField { address, desired: r, live_id: &live.id, field, reason, notes: unproven.into_iter().collect() };
    super::ledger_field::add(index, f, |c| matches!(c.action, Action::Delete | Action::Forget));
}

/// The value a field's `before` shows when the ledger records none and
/// its record is not proven by the seal.
pub const NOT_PROVEN: &str = "(not proven: the ledger does not match the tenant's seal)";

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
    let mut index = ChangeIndex::new(changes, unchanged);
    let recorded_kinds = RECORDED_EXPIRY.iter().flat_map(|k| desired.resources.range(Address::new(*k, "")..).take_while(move |(a, _)| a.kind == *k));
    for (address, r) in recorded_kinds {
        // A past end is ended by the plan (expired access); an Intune role
        // assignment without one is permanent, which is compared too.
        let wanted = match r.expires {
            Some(e) if e <= now => continue,
            Some(e) => Some(Value::String(rfc3339(e))),
            None if address.kind == Kind::Guest => continue,
            None => None,
        };
        if unknown.contains_key(address) {
            continue;
        }
        if let Some(c) = index.get_mut(address).filter(|c| matches!(c.action, Action::Create | Action::Replace)) {
            if c.action == Action::Create && wanted.is_some() {
                c.fields.push(FieldChange { field: EXPIRES.into(), before: None, after: wanted });
                c.fields.sort_by(|a, b| a.field.cmp(&b.field));
            }
            continue;
        }
        let Some(live) = matched.get(address) else { continue };
        let Some(entry) = ledger.resources.get(address).filter(|e| e.id == live.id) else {
            // An entry missing from a ledger the seal does not prove (a
            // pull request deleted it) hides the access end as well.
            if !ledger.fact_proven(address) {
                let field = FieldChange { field: EXPIRES.into(), before: Some(Value::String(NOT_PROVEN.into())), after: wanted };
                add_field(&mut index, address, r, live, field, "expires: the ledger's record of the access end is not proven by the tenant's seal", Some(ledger.unproven_note("this access end")));
            }
            continue;
        };
        // A record the seal does not prove (a forged ledger, or one a run
        // was cut short writing) may hide an extension, or show it as a
        // shortening: the end desired state sets is shown, and approved.
        if !ledger.fact_proven(address) {
            let before = entry.expires.clone().unwrap_or_else(|| NOT_PROVEN.into());
            let field = FieldChange { field: EXPIRES.into(), before: Some(Value::String(before)), after: wanted };
            add_field(&mut index, address, r, live, field, "expires: the ledger's record of the access end is not proven by the tenant's seal", Some(ledger.unproven_note("this access end")));
            continue;
        }
        // Not recorded (an entry adopted by natural key, or written by an
        // older tenantctl): nothing to compare; `remember` records it.
        let Some(recorded) = entry.expires.clone().map(Value::String) else {
            if let Some(w) = &wanted {
                warnings.push(format!(
                    "{address}: the ledger records no applied expiry for this {} (adopted by natural key, or recorded by an older tenantctl, or the entry was edited): an extension cannot be told apart now, and the next apply records expires {} without approval",
                    if address.kind == Kind::Guest { "guest" } else { "assignment" },
                    w.as_str().unwrap_or_default()
                ));
            }
            continue;
        };
        if Some(&recorded) == wanted.as_ref() {
            continue;
        }
        add_field(&mut index, address, r, live, FieldChange { field: EXPIRES.into(), before: Some(recorded), after: wanted }, "expires differs from the one last applied", None);
    }
    // The users' matched objects and ledger entries are walked beside the
    // declared users (all three in address order), not searched for each
    // (issue 13).
    let user = Address::new(Kind::User, "");
    let mut live_walk = matched.range(&user..).peekable();
    let mut entry_walk = ledger.resources.range(&user..).peekable();
    for (address, r) in desired.resources.range(&user..) {
        if address.kind != Kind::User {
            break;
        }
        let live = walk_to(&mut live_walk, address);
        let entry = walk_to(&mut entry_walk, address);
        if unknown.contains_key(address) || desired.service_accounts.contains(address) || live_service.contains_key(address) {
            continue;
        }
        let Some(live) = live else { continue };
        let entry = entry.filter(|e| e.id == live.id);
        // A `service = false` (or an entry missing) the seal does not prove
        // may hide a service account turned into a person: shown, and
        // approved.
        let unproven = (!ledger.fact_proven(address)).then(|| ledger.unproven_note("whether this user was applied as a service account"));
        let service = entry.is_some_and(|e| e.service);
        if !service && unproven.is_none() {
            continue;
        }
        let before = if service { SERVICE } else { NOT_PROVEN };
        let field = FieldChange { field: KIND.into(), before: Some(Value::String(before.into())), after: Some(Value::String("member".into())) };
        let reason = if service { "no longer a service account (it was applied as one)" } else { "kind: whether it was applied as a service account is not proven by the tenant's seal" };
        add_field(&mut index, address, r, live, field, reason, unproven);
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
    let recorded_kinds = RECORDED_EXPIRY.iter().flat_map(|k| desired.resources.range(Address::new(*k, "")..).take_while(move |(a, _)| a.kind == *k));
    for (a, r) in recorded_kinds {
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
    out.extend(crate::secret_env::remember(desired, plan, ledger));
    out.extend(super::sponsor::remember(desired, plan, ledger));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest_change(before: Option<&str>, after: &str) -> Change {
        let mut c = Change::new(Address::new(Kind::Guest, "g"), Action::Update, "g", "");
        c.id = Some("1".into());
        c.fields = vec![FieldChange { field: EXPIRES.into(), before: before.map(|b| Value::String(b.into())), after: Some(Value::String(after.into())) }];
        c
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
        let prev = LedgerEntry { id: "1".into(), applied: None, changed_at: None, expires: Some("2027-03-31T17:00:00Z".into()), service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None };
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
