//! Identity: which live object each declared address is. The ledger's ids
//! first, then natural keys, kind by kind in order so that references in
//! natural keys (role assignments name principals) are already resolved.

use std::collections::{BTreeMap, HashMap};

use schema::{Address, Kind};

use super::refs::resolve_key;
use super::PlanError;
use crate::fast_hash::{FastBuild, IdMap};
use crate::ledger::Ledger;
use crate::model::{DesiredModel, LiveObject, ObservedState};

/// What identity matching found.
pub(super) struct Matching<'a> {
    /// address -> matched live object.
    pub matched: BTreeMap<Address, &'a LiveObject>,
    /// Looked up only, never walked (so never in output order): hashed.
    /// Its keys are the ids of every matched object (all kinds).
    pub ids: IdMap<'a>,
    /// Ledger entries whose object no longer exists: address -> its id.
    pub forgotten: BTreeMap<Address, String>,
    /// Warnings of unmanaged duplicates of owned objects.
    pub duplicates: Vec<String>,
}

/// Match every declared resource to its live object, or fail on ambiguous
/// matches and declared objects Graph refused to show.
pub(super) fn match_identities<'a>(desired: &'a DesiredModel, observed: &'a ObservedState, ledger: &'a Ledger) -> Result<Matching<'a>, PlanError> {
    let mut errors = Vec::new();
    // Matched live objects by address, gathered in address order kind by
    // kind and built into `matched` once: inserted one at a time, each
    // address was a search of the map (issue 13).
    let mut pairs: Vec<(&Address, &LiveObject)> = Vec::with_capacity(ledger.resources.len());
    let mut ids: IdMap = IdMap::with_capacity_and_hasher(ledger.resources.len(), Default::default());
    let mut forgotten: BTreeMap<Address, String> = BTreeMap::new();
    let mut duplicates: Vec<String> = Vec::new();

    for kind in Kind::ALL {
        if observed.unreadable.contains_key(&kind) {
            continue;
        }
        let live: &[LiveObject] = observed.objects.get(&kind).map_or(&[], Vec::as_slice);
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
    Ok(Matching { matched, ids, forgotten, duplicates })
}

/// The live ids a declared address matches, collected the first time one
/// is asked about (most plans never ask): an object one of them is never
/// ended or claimed lost through an undeclared entry.
pub(super) struct Claimed<'a> {
    desired: &'a DesiredModel,
    matched: &'a BTreeMap<Address, &'a LiveObject>,
    ids: std::cell::OnceCell<std::collections::BTreeSet<&'a str>>,
}

impl<'a> Claimed<'a> {
    pub(super) fn new(desired: &'a DesiredModel, matched: &'a BTreeMap<Address, &'a LiveObject>) -> Self {
        Claimed { desired, matched, ids: std::cell::OnceCell::new() }
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.ids.get_or_init(|| self.matched.iter().filter(|(a, _)| self.desired.resources.contains_key(*a)).map(|(_, o)| o.id.as_str()).collect()).contains(id)
    }
}
