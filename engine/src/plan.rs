//! Stage 3 of the pipeline: `plan()`, a pure, deterministic function of
//! desired state, observed state, ledger and options. It matches identities,
//! diffs, orders changes into waves, and records why each change exists and
//! what it waits on. Apply makes no choices; everything is decided here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use schema::kinds::governance::GuestExpiryAction;
use schema::{Address, Kind};
use serde_json::Value;

use crate::diff::{canonical, diff_props, FieldChange};
use crate::fast_hash::{FastBuild, IdMap};
use crate::governance::RolloutMode;
use crate::graph::{waves, GraphError};
use crate::ledger::Ledger;
use crate::model::{as_reference, reference, DesiredModel, DesiredResource, LiveObject, ObservedState, Props};

pub use crate::plan_types::*;

pub use crate::fingerprint::fingerprint;
use crate::fingerprint::ObservedPart;

/// Replace `{{id}}` placeholders in a live natural key with `{{address}}`
/// where the id belongs to a matched object, so keys that embed references
/// (role assignments) compare by identity.
fn resolve_key(key: &str, ids: &IdMap) -> String {
    let mut out = String::new();
    let mut rest = key;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let inner = &after[..end];
                match ids.get(inner) {
                    Some(a) => out.push_str(&format!("{{{{{a}}}}}")),
                    None => out.push_str(&format!("{{{{{inner}}}}}")),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.to_lowercase()
}

/// A live reference's target: the address of a matched object, else `id:ID`.
fn resolve_id(id: &str, ids: &IdMap) -> String {
    match ids.get(id) {
        Some(a) => a.to_string(),
        None => format!("id:{id}"),
    }
}

/// Rewrite live references (ids) as addresses where known.
fn resolve_refs(v: &Value, ids: &IdMap) -> Value {
    if let Some(id) = as_reference(v) {
        return reference(resolve_id(id, ids));
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_refs(v, ids))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_refs(v, ids)).collect()),
        other => other.clone(),
    }
}

/// The addresses a value refers to.
pub fn referenced_addresses(v: &Value, out: &mut BTreeSet<Address>) {
    if let Some(r) = as_reference(v) {
        if let Ok(a) = r.parse() {
            out.insert(a);
        }
        return;
    }
    match v {
        Value::Object(m) => m.values().for_each(|v| referenced_addresses(v, out)),
        Value::Array(a) => a.iter().for_each(|v| referenced_addresses(v, out)),
        _ => {}
    }
}

/// Plan the changes that make the tenant match desired state (rollouts
/// promoted one ring at a time).
pub fn plan(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, options: &PlanOptions) -> Result<Plan, PlanError> {
    plan_with_rollout(desired, observed, ledger, options, RolloutMode::Normal)
}

/// `plan`, with rollouts held or forced.
pub fn plan_with_rollout(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, options: &PlanOptions, rollout: RolloutMode) -> Result<Plan, PlanError> {
    // Template defaults and the like, supplied by the tenant (see `crate::completed`).
    // The desired fingerprint is of the model as declared (what `approve` recomputes).
    let declared = desired;
    let completed_model;
    let desired = if observed.completed.is_empty() {
        desired
    } else {
        completed_model = crate::completed::complete(desired, &observed.completed);
        &completed_model
    };
    let gov = &desired.governance;
    let mut errors = Vec::new();
    // Matched live objects by address, gathered in address order kind by
    // kind and built into `matched` once: inserted one at a time, each
    // address was a search of the map (issue 13).
    let mut pairs: Vec<(&Address, &LiveObject)> = Vec::with_capacity(ledger.resources.len());
    // Looked up only, never walked (so never in output order): hashed. Its
    // keys are the ids of every object matched so far (all kinds).
    let mut ids: IdMap = IdMap::with_capacity_and_hasher(ledger.resources.len(), Default::default());
    let mut forgotten: BTreeMap<Address, String> = BTreeMap::new();
    let mut duplicates: Vec<String> = Vec::new();
    let empty = Vec::new();

    // Identity: kinds in order, so references in natural keys (role
    // assignments name principals) are already resolved when needed.
    for kind in Kind::ALL {
        if observed.unreadable.contains_key(&kind) {
            continue;
        }
        let live = observed.objects.get(&kind).unwrap_or(&empty);
        let by_id: HashMap<&str, &LiveObject, FastBuild> = live.iter().map(|o| (o.id.as_str(), o)).collect();
        // Ledger entries first: they win over natural keys. In address
        // order, so the declared resources below walk them.
        let owned_from = pairs.len();
        for (address, entry) in ledger.resources.range(Address::new(kind, "")..) {
            if address.kind != kind {
                break;
            }
            match by_id.get(entry.id.as_str()) {
                Some(o) => {
                    pairs.push((address, o));
                    ids.insert(o.id.as_str(), address);
                }
                None => {
                    forgotten.insert(address.clone(), entry.id.clone());
                }
            }
        }
        let owned_to = pairs.len();
        let mut by_key: BTreeMap<String, Vec<&LiveObject>> = BTreeMap::new();
        for o in live.iter().filter(|o| !ids.contains_key(o.id.as_str())) {
            by_key.entry(resolve_key(&o.natural_key, &ids)).or_default().push(o);
        }
        let mut next_owned = owned_from;
        for (address, r) in desired.resources.range(Address::new(kind, "")..) {
            if address.kind != kind {
                break;
            }
            while next_owned < owned_to && pairs[next_owned].0 < address {
                next_owned += 1;
            }
            if next_owned < owned_to && pairs[next_owned].0 == address {
                // Owned through the ledger: any other object with its
                // natural key is an unmanaged duplicate, reported, left alone.
                // (Nothing is left to be one when every live object is owned.)
                let owned = pairs[next_owned].1;
                let others = if by_key.is_empty() { None } else { by_key.get(&r.natural_key.to_lowercase()) };
                for o in others.into_iter().flatten() {
                    duplicates.push(format!(
                        "{address}: unmanaged duplicate {} has the same natural key `{}` as the owned object {}; it is left alone (delete it, or import it under another address)",
                        o.id, r.natural_key, owned.id
                    ));
                }
                continue;
            }
            let key = r.natural_key.to_lowercase();
            match by_key.get(&key).map(Vec::as_slice) {
                None | Some([]) => {}
                Some([one]) => {
                    pairs.push((address, one));
                    ids.insert(one.id.as_str(), address);
                }
                Some(many) => {
                    let mut found: Vec<String> = many.iter().map(|o| o.id.clone()).collect();
                    found.sort();
                    errors.push(PlanError::AmbiguousMatch {
                        address: address.clone(),
                        natural_key: r.natural_key.clone(),
                        count: found.len(),
                        ids: found,
                    });
                }
            }
        }
    }
    // address -> matched live object (sorted runs: the sort merges them).
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let matched: BTreeMap<Address, &LiveObject> = pairs.into_iter().map(|(a, o)| (a.clone(), o)).collect();
    for (address, reason) in &observed.refused {
        if desired.resources.contains_key(address) {
            errors.push(PlanError::Refused { address: address.clone(), reason: reason.clone() });
        }
    }
    if errors.len() == 1 {
        return Err(errors.remove(0));
    }
    if !errors.is_empty() {
        return Err(PlanError::Many { count: errors.len(), problems: errors });
    }
    // Governance judges by the service accounts the tenant shows too: the
    // live members of the service-accounts group (`governance::accounts`).
    let live_service = crate::governance::accounts::live_members(desired, observed, &matched);
    let recorded_service = crate::governance::accounts::recorded(desired, ledger, &matched, &live_service);
    let augmented = crate::governance::accounts::with_live_members(desired, live_service.keys().chain(recorded_service.iter()));
    let live_only = if recorded_service.is_empty() { None } else { crate::governance::accounts::with_live_members(desired, live_service.keys()) };
    let judged: &DesiredModel = augmented.as_ref().unwrap_or(desired);
    // memberOf rules as nesting, their group ids resolved through the ledger.
    let nested_model = crate::governance::member_of::resolved(judged, ledger, &matched);
    let judged: &DesiredModel = nested_model.as_ref().unwrap_or(judged);

    let mut changes: Vec<Change> = Vec::new();
    let mut unchanged = Vec::new();
    let mut unknown = Vec::new();
    let mut warnings = observed.warnings.clone();
    warnings.extend(duplicates);
    for (a, how) in &live_service {
        warnings.push(format!("{a} is {how}: every service-account rule applies to it (declare it kind = \"service\", or take it out of the group)"));
    }
    for a in &recorded_service {
        warnings.push(format!("{a} was applied as a service account (the ledger records it): every service-account rule applies to it until an approved plan that records its change is applied"));
    }
    // Each address's share of the observed fingerprint, pushed in address
    // order by the two walks below (declared, then undeclared) and sorted
    // once at the end.
    let mut fp_parts: Vec<(&Address, ObservedPart)> = Vec::with_capacity(desired.resources.len());

    // Resources that cannot be judged: their kind, or a kind they refer to,
    // could not be read.
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

    // Declared resources the tenant cannot take now: listed, not planned.
    let mut held = crate::held::held(desired, &observed.held, &matched, &unknown_set);
    // `matched` walked beside the declared resources (both in address
    // order), not searched for each.
    let mut matched_walk = matched.iter().peekable();
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
            unknown.push(Unknown { address: address.clone(), reason: reason.clone() });
            continue;
        }
        if held.contains_key(address) {
            continue;
        }
        let expired = r.expires.is_some_and(|e| e <= options.now);
        fp_parts.push((address, live.map_or(ObservedPart::Missing, ObservedPart::Live)));
        if expired {
            let when = r.expires.map(|e| e.to_rfc3339()).unwrap_or_default();
            match (address.kind, live, gov.guest_expiry_action) {
                (_, None, _) => {
                    unchanged.push(address.clone());
                    warnings.push(format!("{address} expired at {when}; it is not created"));
                }
                (Kind::Guest, Some(o), GuestExpiryAction::Disable) => {
                    let mut d = r.clone();
                    d.props.insert("accountEnabled".into(), Value::Bool(false));
                    let mut wanted = Props::new();
                    wanted.insert("accountEnabled".into(), Value::Bool(false));
                    let fields = diff_props(&wanted, &o.props);
                    if fields.is_empty() {
                        unchanged.push(address.clone());
                    } else {
                        let reason = crate::governance::disable_bound::expiry_reason(address, &when, ledger, o, options.now);
                        changes.push(change(address, Action::Update, r, Some(o), reason, fields, Some(d)));
                    }
                }
                (_, Some(o), _) => {
                    let mut c = change(address, Action::Delete, r, Some(o), format!("access expired at {when}"), Vec::new(), Some(r.clone()));
                    c.live = Some(o.props.iter().map(|(k, v)| (k.clone(), resolve_refs(v, &ids))).collect());
                    if address.kind == Kind::Guest || address.kind == Kind::User {
                        c.notes.push("users are soft-deleted: restorable from deleted items for 30 days".into());
                    }
                    changes.push(c);
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
            changes.push(change(address, Action::Create, r, None, reason, fields, Some(r.clone())));
            continue;
        };
        // Only the declared keys are compared: the live object is not
        // copied (its references are resolved key by key where needed).
        let fields = crate::diff::diff_props_with(&r.props, &o.props, |v| resolve_refs(v, &ids), |id| ids.get(id).copied());
        if fields.is_empty() {
            unchanged.push(address.clone());
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
            c.live = Some(o.props.iter().map(|(k, v)| (k.clone(), resolve_refs(v, &ids))).collect());
        }
        if action == Action::Replace && matches!(address.kind, Kind::User | Kind::Guest) {
            c.notes.push("the old user is soft-deleted: restorable from deleted items for 30 days".into());
        }
        changes.push(c);
    }

    // What is held is skipped from here on, as what is unknown.
    unknown_set.extend(held.iter().map(|(a, h)| (a.clone(), h.reason.clone())));

    // Dependents of a replaced object refer to an id that goes away.
    let replaced: BTreeSet<Address> = changes.iter().filter(|c| c.action == Action::Replace).map(|c| c.address.clone()).collect();
    if !replaced.is_empty() {
        let changed: BTreeSet<Address> = changes.iter().map(|c| c.address.clone()).collect();
        let mut now_changed: BTreeSet<Address> = BTreeSet::new();
        for (address, r) in &desired.resources {
            if changed.contains(address) || unknown_set.contains_key(address) {
                continue;
            }
            if let Some(dep) = r.depends_on.iter().find(|d| replaced.contains(d)) {
                let Some(o) = matched.get(address).copied() else { continue };
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
                changes.push(change(address, action, r, Some(o), format!("{dep} is replaced, so its new id must be set here"), fields, Some(r.clone())));
            }
        }
        unchanged.retain(|a| !now_changed.contains(a));
    }

    // Ledger-owned objects no longer declared.
    let mut orphans = Vec::new();
    // Their access ended, or their deletes, on an ownership the tenant's
    // seal does not prove: sensitive, with why (hostile run 23, finding 8).
    let mut owner_unproven: BTreeMap<Address, String> = BTreeMap::new();
    let mut restored_notes: Vec<(Address, String)> = Vec::new();
    let protected: BTreeSet<String> = gov.protected.iter().cloned().collect();
    // Objects a declared address matches (a key renamed in desired state):
    // never ended through the old key.
    // Built the first time an undeclared object's access would end (most
    // plans have none): a set of every matched id otherwise.
    let claimed_ids: std::cell::OnceCell<BTreeSet<&str>> = std::cell::OnceCell::new();
    // The natural keys (UPNs, guest e-mails) of declared accounts: an
    // undeclared account one of them names is being renamed or moved to
    // another address, not dropped, and keeps its sign-in (hostile run 22,
    // finding 1).
    let declared_accounts: std::cell::OnceCell<BTreeSet<String>> = std::cell::OnceCell::new();
    let declared_account = |o: &LiveObject| {
        declared_accounts
            .get_or_init(|| desired.resources.values().filter(|r| matches!(r.address.kind, Kind::User | Kind::Guest)).map(|r| r.natural_key.to_lowercase()).collect())
            .contains(&o.natural_key.to_lowercase())
    };
    let claimed = |id: &str| claimed_ids.get_or_init(|| matched.iter().filter(|(a, _)| desired.resources.contains_key(*a)).map(|(_, o)| o.id.as_str()).collect()).contains(id);
    // The delete of a ledger-owned object no longer declared, with what it
    // held (for approvers) and the soft-delete note for accounts.
    let undeclared_delete = |address: &Address, o: &LiveObject, reason: String| {
        let mut c = Change {
            address: address.clone(),
            action: Action::Delete,
            display_name: o.display_name.clone(),
            id: Some(o.id.clone()),
            reason,
            fields: Vec::new(),
            waits_on: Vec::new(),
            wave: 0,
            desired: None,
            notes: Vec::new(),
            live: Some(o.props.iter().map(|(k, v)| (k.clone(), resolve_refs(v, &ids))).collect()),
        };
        if matches!(address.kind, Kind::User | Kind::Guest) {
            c.notes.push("users are soft-deleted: restorable from deleted items for 30 days".into());
        }
        c
    };
    // A kind read only to find what is live outside desired state (Intune
    // role assignments where Intune is managed) that could not be read is
    // unknown too: nothing of it is declared or owned, but "in sync" would
    // claim that no out-of-band access was found.
    for (kind, why) in &observed.unreadable {
        if !desired.resources.keys().chain(ledger.resources.keys()).any(|a| a.kind == *kind) {
            unknown.push(Unknown { address: Address::new(*kind, "(outside desired state)"), reason: format!("{kind} could not be read, so live objects of it outside desired state (out-of-band access) were not checked: {why}") });
        }
    }
    for (address, entry) in &ledger.resources {
        if desired.resources.contains_key(address) {
            continue;
        }
        if observed.unreadable.contains_key(&address.kind) {
            unknown.push(Unknown { address: address.clone(), reason: format!("no longer declared, and {} could not be read", address.kind) });
            continue;
        }
        if let Some(h) = observed.held.get(address).filter(|_| !matched.contains_key(address)) {
            held.insert(address.clone(), h.clone());
            continue;
        }
        if let Some(why) = observed.refused.get(address).filter(|_| !matched.contains_key(address)) {
            unknown.push(Unknown { address: address.clone(), reason: format!("no longer declared, and its object cannot be read: {why}") });
            continue;
        }
        let Some(o) = matched.get(address).copied() else {
            changes.push(Change {
                address: address.clone(),
                action: Action::Forget,
                display_name: address.key.clone(),
                id: Some(entry.id.clone()),
                reason: format!("no longer declared and object {} no longer exists", entry.id),
                fields: Vec::new(),
                waits_on: Vec::new(),
                wave: 0,
                desired: None,
                notes: Vec::new(),
                live: None,
            });
            continue;
        };
        fp_parts.push((address, ObservedPart::Id(&o.id)));
        // An object tenantctl adopted is pruned only with prune.adopted.
        let keep_adopted = crate::governance::origin::kept_adopted(entry, gov.prune.adopted);
        let prunable = !keep_adopted && gov.prune.kinds.iter().any(|k| k == address.kind.as_str());
        // An entry an unproven log took away, restored as the sealed
        // ledger has it, is proven by that ledger (hostile run 23, finding 16).
        let restored = crate::governance::undeclared::restored(ledger, address);
        let owner_proven = restored || ledger.owner_proven(address);
        let unproven_owner = |what: &str| if owner_proven { None } else { crate::governance::undeclared::unproven_owner(ledger, address, entry, what) };
        if restored {
            restored_notes.push((address.clone(), crate::governance::undeclared::restored_note(address, entry)));
        }
        if protected.contains(&address.to_string()) {
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: "no longer declared, but protected: never deleted".into() });
        } else if address.kind.never_deleted() {
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: format!("no longer declared; a {} cannot be deleted, so it is left as it is", address.kind) });
        } else if o.props.get("isBuiltIn") == Some(&Value::Bool(true)) {
            // A tenant's singleton (its authorization policy) or built-in
            // object cannot be deleted: it stays as it is, unmanaged.
            orphans.push(Orphan { address: address.clone(), id: o.id.clone(), reason: "no longer declared; built into the tenant, so never deleted (left as it is)".into() });
        } else if let Some(end) = crate::governance::undeclared::access_end(address, entry, o, options.now, gov.guest_expiry_action).filter(|_| !claimed(o.id.as_str())) {
            use crate::governance::undeclared::AccessEnd;
            match end {
                AccessEnd::Ended => unchanged.push(address.clone()),
                AccessEnd::Disable(reason) => {
                    owner_unproven.extend(unproven_owner("blocking its sign-in").map(|w| (address.clone(), w)));
                    changes.push(disable_account(address, o, reason));
                }
                AccessEnd::Delete(reason) => {
                    owner_unproven.extend(unproven_owner("deleting it").map(|w| (address.clone(), w)));
                    changes.push(undeclared_delete(address, o, reason));
                }
            }
        } else if let Some(end) = crate::governance::undeclared::kept_account(address, (entry.service && owner_proven) || live_service.contains_key(address), o)
            .filter(|_| !prunable && !claimed(o.id.as_str()) && !declared_account(o))
        {
            use crate::governance::undeclared::AccessEnd;
            match end {
                AccessEnd::Disable(reason) => {
                    let mut c = disable_account(address, o, reason);
                    if entry.service {
                        // A service mark the seal does not prove keeps nothing enabled.
                        c.notes.push(crate::governance::undeclared::unproven_service(address));
                    }
                    owner_unproven.extend(unproven_owner("blocking its sign-in").map(|w| (address.clone(), w)));
                    changes.push(c);
                }
                _ => orphans.push(Orphan {
                    address: address.clone(),
                    id: o.id.clone(),
                    reason: format!("no longer declared; pruning is off for {} (governance.prune.kinds); its sign-in is blocked", address.kind),
                }),
            }
        } else if !prunable {
            orphans.push(Orphan {
                address: address.clone(),
                id: o.id.clone(),
                reason: crate::governance::origin::kept_reason(entry, keep_adopted).unwrap_or_else(|| format!("no longer declared; pruning is off for {} (governance.prune.kinds)", address.kind)),
            });
        } else {
            owner_unproven.extend(unproven_owner("deleting it").map(|w| (address.clone(), w)));
            let mut c = undeclared_delete(address, o, "no longer declared, and pruning is on for its kind".into());
            c.notes.extend(crate::governance::origin::delete_note(entry));
            changes.push(c);
        }
    }

    for (a, note) in restored_notes {
        match changes.iter_mut().find(|c| c.address == a) {
            Some(c) => c.notes.push(note),
            None => warnings.push(note),
        }
    }
    // Accounts the journal shows tenantctl owned whose entry an unproven ledger cut.
    let lost = crate::governance::lost_ownership::find(desired, observed, ledger, &|id| claimed(id), disable_account);
    warnings.extend(lost.warnings);
    changes.extend(lost.changes);

    // What the ledger remembers beside Graph: a guest's expiry, a service account.
    warnings.extend(crate::governance::recorded::add_changes(&mut changes, &mut unchanged, desired, &live_service, ledger, &matched, &unknown_set, options.now));
    // Who sponsors each guest, against what the ledger recorded.
    crate::governance::sponsor::add_changes(&mut changes, &mut unchanged, desired, ledger, &matched, &unknown_set);
    // Which variable each secret is sent from (names only).
    crate::secret_env::add_changes(&mut changes, &mut unchanged, desired, ledger, &matched, &unknown_set);

    // Deletes and the disables of undeclared accounts, against one limit.
    warnings.extend(crate::governance::disable_bound::warning(&changes, gov.prune.max_deletions));

    // Ring by ring: later rings wait for the earlier ones to soak. A ring
    // last changed at the later of the ledger's time and the live object's
    // lastModifiedDateTime: a missing or old ledger time never lets the
    // next ring skip its soak, nor does a change made in the portal since.
    // A ledger time the tenant's seal does not prove (a forged or cut-short
    // ledger) is not used.
    let converged_at = |a: &Address| -> Option<DateTime<Utc>> {
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
        let recorded = ledger.resources.get(a).filter(|_| ledger.fact_proven(a)).and_then(|e| e.changed_at.as_deref()).and_then(parse);
        let live = matched.get(a).and_then(|o| observed.modified.get(&o.id)).and_then(|t| parse(t));
        recorded.max(live)
    };
    // Out-of-band control of the tenant is removed (never held for approval).
    // Built once: what governance is given and what the plan records.
    let ids_by_address: BTreeMap<Address, String> = matched.iter().map(|(a, o)| (a.clone(), o.id.clone())).collect();
    // The other way round too, once for every pass that needs it.
    let index = crate::governance::index::IdIndex::new(&ids_by_address);
    changes.extend(crate::governance::out_of_band_removals_indexed(judged, observed, &index));
    changes.extend(crate::governance::intune_oob::removals_indexed(judged, observed, &index));
    changes.extend(crate::governance::package_oob::removals(judged, observed, &ids_by_address));
    let (mut changes, rollout_waits) = crate::governance::gate_rollouts(changes, desired, &converged_at, options.now, rollout);
    // Desired state against what was last approved (the tenant may have it already).
    let moved = crate::governance::ratify::add_changes(&mut changes, &mut unchanged, desired, judged, ledger, &matched, &unknown_set, options.now);
    order(&mut changes, desired)?;
    crate::governance::tightens::mark_restores(&mut changes, ledger);
    crate::governance::exemption_restore::mark(&mut changes, judged, observed, index.by_id());
    let mut sensitive = crate::governance::sensitivity(&changes, judged);
    for (a, why) in moved {
        if crate::governance::unproven_record::is_whole_review(&why) {
            sensitive.insert(a, why);
        } else {
            sensitive.entry(a).or_insert(why);
        }
    }
    crate::governance::disable_bound::hold(&changes, gov.prune.max_deletions, &mut sensitive);
    // What a ledger fact the tenant's seal does not prove would have hidden.
    for c in changes.iter().filter(|c| c.notes.iter().any(|n| crate::ledger_seal::is_unproven_note(n))) {
        let why = "the ledger does not match the seal the tenant records, so what it recorded of this object proves nothing";
        sensitive.entry(c.address.clone()).and_modify(|r| *r = format!("{r}; {why}")).or_insert_with(|| why.into());
    }
    for (a, why) in owner_unproven.into_iter().chain(lost.sensitive) {
        if let Some(c) = changes.iter_mut().find(|c| c.address == a && !c.notes.contains(&why)) {
            c.notes.push(why.clone());
        }
        sensitive.entry(a).and_modify(|r| *r = format!("{r}; {why}")).or_insert(why);
    }
    warnings.extend(ledger.seal_warning());
    // What the live tenant adds: access granted through live role
    // assignments, policies and nesting; ring groups nested live.
    for (a, why) in crate::governance::grants::live_sensitivity(&changes, judged, observed, &ids_by_address) {
        sensitive.entry(a).or_insert(why);
    }
    // An app assignment whose app is another than the ledger recorded.
    for (a, why) in crate::governance::admin_reach::swapped_apps(&mut changes, ledger, &ids_by_address, observed) {
        sensitive.insert(a, why);
    }
    let mut lints = crate::governance::lint_desired(judged, options.now);
    if !recorded_service.is_empty() {
        crate::governance::accounts::exclusion_without_recorded(&mut lints, live_only.as_ref().unwrap_or(desired), options.now);
    }
    let mut live_lints = crate::governance::lint_live_indexed(judged, observed, &index);
    crate::governance::settle(&mut live_lints, &changes);
    // The state after the plan differs from the observed one (as lints see
    // it) only when the plan deletes objects or sets assignments; else its
    // lints are the live ones and settling changes nothing, so the copy of
    // every live object and the second lint pass are skipped.
    let (gone, reassigned) = crate::governance::after_plan_ids(&changes);
    let mut undelivered = crate::governance::after_package::removals(&changes, &ids_by_address);
    let packages_deleted = crate::governance::after_package_delete::removals(&changes, &ids_by_address);
    undelivered.extend(packages_deleted.iter().cloned());
    if !gone.is_empty() || !reassigned.is_empty() || !undelivered.is_empty() {
        let mut after = crate::governance::after_plan(observed, &changes);
        crate::governance::after_package::apply(&mut after, &undelivered, &ids_by_address);
        crate::governance::after_package_delete::drop_assignments(&mut after, &packages_deleted, &ids_by_address);
        crate::governance::settle_after(&mut live_lints, &crate::governance::lint_live_indexed(judged, &after, &index));
    }
    lints.extend(live_lints);
    crate::governance::settle(&mut lints, &changes);
    lints.extend(crate::governance::holders::lint_indexed(desired, observed, &index, &changes));
    lints.extend(crate::governance::live_reach::lint_indexed(judged, observed, &index));
    lints.extend(crate::governance::tightens::live_pim(judged, observed, &ids_by_address, &changes, ledger));
    lints.extend(crate::governance::pim_live::lint(judged, observed, &ids_by_address));
    lints.extend(crate::governance::pim_exposure::lint(judged, observed, &ids_by_address, &changes));
    lints.extend(crate::governance::method_reach::lint_indexed(judged, observed, &index, &mut changes));
    lints.extend(crate::governance::approver_live::lint(judged, observed, &ids_by_address));
    lints.extend(crate::governance::people_reach::lint(judged, observed, &ids_by_address, options.now));
    lints.extend(crate::governance::package_live::plan_lints(judged, observed, &ids_by_address, &changes, options.now));
    crate::governance::tightens::notes(&mut changes);
    crate::governance::package_automatic::notes(&mut changes);
    crate::governance::review_notes(&mut changes);
    crate::governance::script_review::notes(&mut changes, observed);
    crate::governance::label_role_deletes(&mut changes);
    crate::governance::licence_loss::notes(&mut changes, observed, &ids_by_address);
    crate::completed::notes(&mut changes, &observed.completed);
    crate::assign_notes::notes(&mut changes);
    // After governance has judged them: what apply of an app assignment
    // reuses instead of reading the app again.
    crate::plan_app_live::carry(&mut changes, &matched);
    crate::removed_policies::show(&mut changes, &matched, observed, |v| resolve_refs(v, &ids));
    warnings.extend(crate::lookalike::warnings(desired, observed, &ids_by_address));
    unchanged.sort();
    unknown.sort_by(|a, b| a.address.cmp(&b.address));
    orphans.sort_by(|a, b| a.address.cmp(&b.address));
    fp_parts.sort_by(|a, b| a.0.cmp(b.0));
    let observed_fingerprint = crate::fingerprint::observed(&fp_parts, &ids);
    let desired_fingerprint = crate::fingerprint::desired(declared);
    drop(index);
    let ids = ids_by_address;
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        desired_fingerprint,
        observed_fingerprint,
        changes,
        ids,
        unchanged,
        unknown,
        orphans,
        warnings,
        sensitive,
        lints,
        rollout: rollout_waits,
        author: None,
        approvals: Vec::new(),
        governance: None,
        change: None,
        not_after: None,
        written_by: None,
        refused: crate::held::refused(&held),
    })
}

fn describe_key(r: &DesiredResource) -> String {
    let key = r.natural_key.replace("{{", "").replace("}}", "");
    format!("natural key `{key}`")
}

/// An update that blocks an undeclared account's sign-in (its access
/// ended: an expired guest, or an account pruning keeps).
fn disable_account(address: &Address, o: &LiveObject, reason: String) -> Change {
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

fn change(address: &Address, action: Action, r: &DesiredResource, live: Option<&LiveObject>, reason: String, fields: Vec<FieldChange>, desired: Option<DesiredResource>) -> Change {
    Change {
        address: address.clone(),
        action,
        display_name: r.display_name.clone(),
        id: live.map(|o| o.id.clone()),
        reason,
        fields,
        waits_on: Vec::new(),
        wave: 0,
        desired,
        notes: Vec::new(),
        live: None,
    }
}

/// Assign waves and `waits_on`, and sort: creates and updates in dependency
/// order, deletes after them in reverse dependency (kind) order.
fn order(changes: &mut [Change], desired: &DesiredModel) -> Result<(), GraphError> {
    let changed: BTreeSet<Address> = changes.iter().filter(|c| c.action != Action::Delete && c.action != Action::Forget).map(|c| c.address.clone()).collect();
    let mut deps: BTreeMap<Address, Vec<Address>> = changed
        .iter()
        .map(|a| {
            let d = desired.resources.get(a).map(|r| r.depends_on.iter().filter(|d| changed.contains(*d)).cloned().collect()).unwrap_or_default();
            (a.clone(), d)
        })
        .collect();
    let after_deletes = crate::catalog_order::removals_after_roles(changes, &mut deps);
    let wave_of = waves(&deps)?;
    let last = wave_of.values().copied().max().map(|w| w + 1).unwrap_or(0);
    for c in changes.iter_mut() {
        if let Some(deleted) = after_deletes.get(&c.address) {
            // A catalog's resources leave after the packages deleted.
            c.wave = last + Kind::ALL.len() as u32;
            c.waits_on = deps.get(&c.address).cloned().unwrap_or_default();
            c.waits_on.extend(deleted.iter().cloned());
            continue;
        }
        match c.action {
            Action::Delete | Action::Forget => {
                // Dependents first: policies and role assignments, then
                // groups, then users.
                let rank = Kind::ALL.len() - 1 - Kind::ALL.iter().position(|k| *k == c.address.kind).unwrap_or(0);
                c.wave = last + rank as u32;
            }
            _ => {
                c.wave = wave_of.get(&c.address).copied().unwrap_or(0);
                c.waits_on = deps.get(&c.address).cloned().unwrap_or_default();
            }
        }
    }
    changes.sort_by(|a, b| (a.wave, &a.address).cmp(&(b.wave, &b.address)));
    // Renumber waves densely so they read 0, 1, 2...
    let mut seen: Vec<u32> = changes.iter().map(|c| c.wave).collect();
    seen.dedup();
    for c in changes.iter_mut() {
        c.wave = seen.iter().position(|w| *w == c.wave).unwrap_or(0) as u32;
    }
    Ok(())
}

