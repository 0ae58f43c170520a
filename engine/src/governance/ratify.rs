//! Desired state judged against what was last approved, not only against
//! the tenant (hostile run 18, findings 1 and 4).
//!
//! A plan compares desired state with the live tenant. When an
//! administrator loosens a control in the portal (an MFA exclusion, a
//! member of a protected group) and a pull request then declares the same,
//! the tenant already matches desired state: without this module the plan
//! is "no changes", and the loosening becomes desired state with nobody
//! approving it. Likewise a pull request that stops declaring a setting
//! (BitLocker, Defender real-time monitoring) plans nothing, and the
//! portal may then turn it off without drift.
//!
//! The ledger records, for each object, the hash of the desired
//! properties last applied (`applied`, what was approved) and, for every
//! kind but accounts, which fields were declared then with a short digest
//! of each value (`approved_fields`, [`approved_fields`]; values are
//! never kept, so nothing secret lands in the committed ledger). A
//! declared object the tenant matches whose desired properties hash to
//! something else than `applied` is a **ratification**: an update whose
//! fields are what moved from the approved record (a changed value, a
//! field added, a field no longer declared with its live value), judged
//! sensitive by the same rules as an update of its kind, plus a field no
//! longer declared on a control is always sensitive. Applying it sends
//! nothing to Graph ([`is_ratify`]): it records the new desired state as
//! approved in the ledger, journalled like every change. `reconcile`
//! always holds it. A ledger the tenant's seal does not prove still shows
//! what differs from it, with the unproven note (sensitive); a record that
//! is missing there, or equal to desired state, proves nothing and is
//! reviewed whole ([`super::unproven_record`]: hostile run 20, finding 1).
//!
//! An update the plan makes anyway is noted with the fields that moved
//! from the approved record without being in it (already live, or no
//! longer declared), and is sensitive when those would be.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schema::{Address, Kind};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::diff::{canonical, FieldChange};
use crate::ledger::{Ledger, LedgerEntry};
use crate::model::{DesiredModel, DesiredResource, LiveObject};
use crate::plan::{fingerprint, Action, Change};

/// The note that makes a change a ratification ([`is_ratify`]).
pub const RATIFY_NOTE: &str = "ratifies desired state that moves from what was last approved: the tenant already has it (changed out of band), so nothing is sent to Graph; applying it records the new desired state as approved in the ledger, and reconcile never applies it unattended";

/// The `before` of a field whose value moved from the approved record:
/// the ledger keeps only a digest of the approved value.
pub const MOVED: &str = "(another value was approved; the ledger keeps only its digest)";

/// The field shown when the ledger records no approved fields (an older
/// ledger): only the hashes are known.
pub const WHOLE: &str = "(declared settings)";

/// Hex digits of each field's digest.
const FIELD_DIGEST_CHARS: usize = 16;

/// Whether `c` is a ratification: nothing is sent to Graph for it.
pub fn is_ratify(c: &Change) -> bool {
    c.notes.iter().any(|n| n == RATIFY_NOTE)
}

/// Whether the ledger keeps the approved fields of `kind`'s objects: all
/// but accounts (many, and their settings are not controls).
pub fn records_fields(kind: Kind) -> bool {
    !matches!(kind, Kind::User | Kind::Guest)
}

fn field_digest(name: &str, value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"tenantctl approved field v1\n");
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(fingerprint(value).as_bytes());
    let mut s = hex::encode(h.finalize());
    s.truncate(FIELD_DIGEST_CHARS);
    s
}

/// The ledger's record of the fields `d` declares, as applied now.
pub fn approved_fields(d: &DesiredResource) -> BTreeMap<String, String> {
    if !records_fields(d.address.kind) {
        return BTreeMap::new();
    }
    d.props.iter().map(|(k, v)| (k.clone(), field_digest(k, v))).collect()
}

/// Lookups in a map by keys that come in increasing order: the map is
/// walked once beside them, not searched for each.
struct Cursor<'m, V> {
    rest: std::iter::Peekable<std::collections::btree_map::Iter<'m, Address, V>>,
}

impl<'m, V> Cursor<'m, V> {
    fn new(map: &'m BTreeMap<Address, V>) -> Self {
        Cursor { rest: map.iter().peekable() }
    }

    fn get(&mut self, key: &Address) -> Option<&'m V> {
        while self.rest.next_if(|(k, _)| *k < key).is_some() {}
        self.rest.peek().filter(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// The hash `applied` records for `d`.
pub fn applied_hash(d: &DesiredResource) -> String {
    crate::fingerprint::props(&d.props)
}

/// What moved between the approved record and desired state, by field.
#[derive(Debug, Default)]
struct Moved {
    changed: Vec<String>,
    added: Vec<String>,
    dropped: Vec<String>,
}

impl Moved {
    fn of(entry: &LedgerEntry, r: &DesiredResource) -> Option<Moved> {
        if entry.approved_fields.is_empty() {
            return None;
        }
        let mut m = Moved::default();
        for (k, v) in &r.props {
            match entry.approved_fields.get(k) {
                Some(d) if *d == field_digest(k, v) => {}
                Some(_) => m.changed.push(k.clone()),
                None => m.added.push(k.clone()),
            }
        }
        m.dropped = entry.approved_fields.keys().filter(|k| !r.props.contains_key(k.as_str())).cloned().collect();
        Some(m)
    }

    fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.dropped.is_empty()
    }
}

fn shown(v: Option<&Value>) -> String {
    v.map(|v| canonical(v).to_string()).unwrap_or_else(|| "not set".into())
}

/// The note on fields no longer declared.
fn unmanaged_note(dropped: &[String], live: Option<&LiveObject>) -> String {
    let list: Vec<String> = dropped.iter().map(|k| format!("{k} (live {})", shown(live.and_then(|o| o.props.get(k))))).collect();
    format!("no longer managed: {}; the tenant may change {} from then on without drift", list.join(", "), if dropped.len() == 1 { "it" } else { "them" })
}

/// Fields that say who holds, owns or is granted something: no longer
/// declaring one approves whoever the portal put there (hostile run 20,
/// finding 11: a service account added to a licence group, an owner of a
/// role-assignable group, a break-glass account in an administrative unit).
pub(crate) const GRANT_FIELDS: &[&str] = &["members", "owners", "membershipRule", "assignedLicenses", "groups", "applications", "sites", "principal"];

/// Why dropping `dropped` from `a` is sensitive: `a` is a control, or a
/// dropped field says who holds or is granted something.
fn unmanaged_reason(a: &Address, dropped: &[String]) -> Option<String> {
    let them = if dropped.len() == 1 { "it" } else { "them" };
    if !dropped.is_empty() && (super::tightens::is_control(a.kind) || a.kind == Kind::RolePolicy) {
        return Some(format!("stops managing {} of control {a}: the tenant may then change {them} without drift", dropped.join(", ")));
    }
    let grants: Vec<&str> = dropped.iter().map(String::as_str).filter(|k| GRANT_FIELDS.contains(k) || k.ends_with("icenses")).collect();
    (!grants.is_empty()).then(|| {
        format!("stops managing {} of {a}: whoever the tenant has there now (added out of band or not) keeps it, approved, and later changes are not drift", grants.join(", "))
    })
}

/// The fields of a ratification of `r` (live `o`) from the approved record.
fn fields(m: Option<&Moved>, r: &DesiredResource, o: &LiveObject, entry: &LedgerEntry) -> Vec<FieldChange> {
    let Some(m) = m.filter(|m| !m.is_empty()) else {
        // No fields recorded (an older ledger), or a digest collision: the
        // hashes are all that is known.
        return vec![FieldChange {
            field: WHOLE.into(),
            before: entry.applied.clone().map(Value::String),
            after: Some(Value::String(applied_hash(r))),
        }];
    };
    let mut out: Vec<FieldChange> = m
        .changed
        .iter()
        .map(|k| FieldChange { field: k.clone(), before: Some(Value::String(MOVED.into())), after: r.props.get(k).map(canonical) })
        .chain(m.added.iter().map(|k| FieldChange { field: k.clone(), before: None, after: r.props.get(k).map(canonical) }))
        .chain(m.dropped.iter().map(|k| FieldChange { field: k.clone(), before: Some(o.props.get(k).map(canonical).unwrap_or(Value::Null)), after: None }))
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

/// Add a ratification for each declared object the tenant matches whose
/// desired properties are not what the ledger records as last applied,
/// and note the updates whose approved fields moved beyond what they
/// change. Returns sensitivity reasons the kind's rules would not give
/// (a control's field no longer declared; what moved beyond an update).
#[allow(clippy::too_many_arguments)]
pub fn add_changes(
    changes: &mut Vec<Change>,
    unchanged: &mut Vec<Address>,
    desired: &DesiredModel,
    judged: &DesiredModel,
    ledger: &Ledger,
    matched: &BTreeMap<Address, &LiveObject>,
    unknown: &BTreeMap<Address, String>,
    now: DateTime<Utc>,
) -> BTreeMap<Address, String> {
    let mut sensitive = BTreeMap::new();
    // Updates the plan makes anyway.
    for c in changes.iter_mut().filter(|c| matches!(c.action, Action::Update | Action::Assign)) {
        let (Some(r), Some(o)) = (desired.resources.get(&c.address), matched.get(&c.address)) else { continue };
        let Some(entry) = ledger.resources.get(&c.address).filter(|e| e.id == o.id && e.applied.is_some()) else { continue };
        let Some(m) = Moved::of(entry, r) else { continue };
        let touched: BTreeSet<&str> = c.fields.iter().map(|f| f.field.split('.').next().unwrap_or(&f.field)).collect();
        let beyond: Vec<String> = m.changed.iter().chain(&m.added).filter(|k| !touched.contains(k.as_str())).cloned().collect();
        if !beyond.is_empty() {
            c.notes.push(format!("also moves from what was last approved, which the tenant already has (out of band): {}", beyond.join(", ")));
            let mut ratified = c.clone();
            ratified.fields = fields(Some(&Moved { changed: beyond, ..Moved::default() }), r, o, entry);
            ratified.notes = vec![RATIFY_NOTE.into()];
            if let Some(why) = super::sensitivity::classify(&ratified, judged, 1) {
                sensitive.insert(c.address.clone(), format!("moves from what was last approved, already live: {why}"));
            }
        }
        if !m.dropped.is_empty() {
            c.notes.push(unmanaged_note(&m.dropped, Some(o)));
            if let Some(why) = unmanaged_reason(&c.address, &m.dropped) {
                sensitive.entry(c.address.clone()).or_insert(why);
            }
        }
    }
    // Objects in sync with the tenant.
    let mut ratified = BTreeSet::new();
    // In address order (it nearly is already), so each map is walked once
    // beside the list rather than searched for each address: at 100k
    // in-sync objects the searches were most of this pass.
    let mut in_sync: Vec<&Address> = unchanged.iter().collect();
    in_sync.sort();
    let (mut resources, mut live, mut entries) = (Cursor::new(&desired.resources), Cursor::new(matched), Cursor::new(&ledger.resources));
    for address in in_sync {
        let entry = entries.get(address);
        let (Some(r), Some(o)) = (resources.get(address), live.get(address).copied()) else { continue };
        if unknown.contains_key(address) || r.expires.is_some_and(|e| e <= now) {
            continue;
        }
        let entry = entry.filter(|e| e.id == o.id);
        if let Some(how) = super::unproven_record::record_unproven(ledger, address, entry, r) {
            // Adopted, or cut, or equal to desired state in a ledger the
            // seal does not prove: what was approved is unknown (hostile
            // runs 20 and 23, findings 1 and 7).
            if !records_fields(r.address.kind) {
                // Accounts are not reviewed whole (`unproven_record::review`
                // says nothing of them): no change is built for them, where
                // one was built and dropped for each of 70,000 users of an
                // exported tenant, a copy of its desired resource each
                // (issue 13).
                continue;
            }
            let note = match how {
                super::unproven_record::Unproven::Unsealed => ledger.unproven_note("what was last approved"),
                super::unproven_record::Unproven::Adopted => super::unproven_record::ADOPTED_NOTE.to_string(),
            };
            let mut c = super::unproven_record::change(r, &o.id, vec![RATIFY_NOTE.to_string(), note]);
            // An adopted group's live owners desired state does not
            // declare are shown, and reviewed (hostile run 27, finding 3).
            let owners = if how == super::unproven_record::Unproven::Adopted { super::adopted_owners::undeclared(r, o, matched) } else { Vec::new() };
            let reviewed = super::unproven_record::review(&mut c, r, judged, how);
            let reviewed = match (reviewed, owners.is_empty()) {
                (r, true) => r,
                (Some(why), false) => Some(format!("{}; {why}", super::adopted_owners::clause(address, &owners))),
                (None, false) => Some(super::unproven_record::whole_reason(&super::adopted_owners::clause(address, &owners), address, how)),
            };
            if !owners.is_empty() {
                c.notes.push(super::adopted_owners::note(&owners));
            }
            if let Some(why) = reviewed {
                c.reason = super::unproven_record::reason(&c.fields);
                sensitive.insert(address.clone(), why);
                ratified.insert(address.clone());
                changes.push(c);
            }
            continue;
        }
        // Only an entry that records what was applied can have moved.
        if entry.is_none_or(|e| e.applied.is_none()) {
            continue;
        }
        let (fields, dropped) = match entry.and_then(|e| e.applied.as_deref().map(|a| (e, a))) {
            Some((entry, applied)) => {
                if applied == applied_hash(r) {
                    continue;
                }
                let m = Moved::of(entry, r);
                (fields(m.as_ref(), r, o, entry), m.map(|m| m.dropped).unwrap_or_default())
            }
            None => continue,
        };
        let what: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let mut notes = vec![RATIFY_NOTE.to_string()];
        if !dropped.is_empty() {
            notes.push(unmanaged_note(&dropped, Some(o)));
            if let Some(why) = unmanaged_reason(address, &dropped) {
                sensitive.insert(address.clone(), why);
            }
        }
        if ledger.seal_broken() && !ledger.applied_proven(address) {
            notes.push(ledger.unproven_note("what was last approved"));
        }
        ratified.insert(address.clone());
        changes.push(Change {
            address: address.clone(),
            action: Action::Update,
            display_name: r.display_name.clone(),
            id: Some(o.id.clone()),
            reason: format!("desired state moves from what was last approved ({}); the tenant already has it, out of band", what.join(", ")),
            fields,
            waits_on: Vec::new(),
            wave: 0,
            desired: Some(r.clone()),
            notes,
            live: None,
        });
    }
    unchanged.retain(|a| !ratified.contains(a));
    sensitive
}

/// After an apply that carried out its whole plan: each declared object
/// the plan found in sync gets its approved record (`applied` and
/// `approved_fields`) from desired state, which is what was approved and
/// is live (hostile run 18, finding 2). An entry recording none (adopted,
/// or dropped when a broken seal was resealed) or fields not recorded yet
/// (an older ledger) is written again; the addresses returned are vouched
/// for, so sealing keeps their `applied` even when the seal did not prove
/// the record as loaded. `desired` is the model the plan was made from
/// (completed with the tenant's template defaults).
pub fn in_sync(desired: &DesiredModel, plan: &crate::plan::Plan, ledger: &mut Ledger, now: DateTime<Utc>) -> (Vec<(Address, crate::ledger::LedgerOp)>, BTreeSet<Address>) {
    let mut ops = Vec::new();
    let mut vouched = BTreeSet::new();
    for a in &plan.unchanged {
        let (Some(r), Some(id)) = (desired.resources.get(a), plan.ids.get(a)) else { continue };
        if r.expires.is_some_and(|e| e <= now) {
            continue;
        }
        let Some(entry) = ledger.resources.get(a).filter(|e| e.id == *id) else { continue };
        let hash = applied_hash(r);
        if entry.applied.as_deref().is_some_and(|h| h != hash) {
            // Another approved record: shown as a ratification, never
            // overwritten here.
            continue;
        }
        vouched.insert(a.clone());
        let fields = approved_fields(r);
        if entry.applied.as_deref() == Some(hash.as_str()) && entry.approved_fields == fields {
            continue;
        }
        let mut e = entry.clone();
        e.applied = Some(hash);
        e.approved_fields = fields;
        let op = crate::ledger::LedgerOp::Record { address: a.clone(), entry: e };
        ledger.apply_op(&op);
        ops.push((a.clone(), op));
    }
    (ops, vouched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Props;
    use serde_json::json;

    fn resource(props: Props) -> DesiredResource {
        DesiredResource {
            address: "compliance_policy.w".parse().expect("an address"),
            natural_key: "w".into(),
            display_name: "w".into(),
            props,
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: Props::new(),
            depends_on: Vec::new(),
            expires: None,
        }
    }

    #[test]
    fn the_approved_record_tells_which_fields_moved() {
        let approved = resource(Props::from([("bitLockerEnabled".to_string(), json!(true)), ("osMinimumVersion".to_string(), json!("10.0"))]));
        let entry = LedgerEntry {
            id: "1".into(),
            applied: Some(applied_hash(&approved)),
            changed_at: None,
            expires: None,
            service: false,
            location: None,
            secret_env: Default::default(),
            approved_fields: approved_fields(&approved),
            sponsor: None,
            origin: None,
        };
        assert!(Moved::of(&entry, &approved).expect("fields recorded").is_empty());
        let now = resource(Props::from([("osMinimumVersion".to_string(), json!("6.0")), ("passwordRequired".to_string(), json!(false))]));
        let m = Moved::of(&entry, &now).expect("fields recorded");
        assert_eq!((m.changed, m.added, m.dropped), (vec!["osMinimumVersion".to_string()], vec!["passwordRequired".to_string()], vec!["bitLockerEnabled".to_string()]));
        assert_eq!(field_digest("a", &json!({"x": 1, "y": 2})), field_digest("a", &json!({"y": 2, "x": 1})), "canonical");
        assert_ne!(field_digest("a", &json!(1)), field_digest("b", &json!(1)), "the name counts");
    }
}
