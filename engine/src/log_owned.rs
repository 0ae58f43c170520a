//! Ownership that only an unproven write-ahead log gives (hostile run 28,
//! finding 3).
//!
//! A write-ahead log beside a committed ledger can be written by a pull
//! request. Under a sealed ledger, the entries a log changed since the
//! seal are unproven facts ([`crate::ledger_seal::Seal::Broken`] with
//! `only`), but an entry the log adds for a new address still named the
//! object that address matches: a forged `record` line giving a declared
//! address the id of a portal object (any display name) took that object
//! over with no adoption review, and its forged `origin = "created"` was
//! sealed by the next complete apply, so that a later prune deleted the
//! object as tenantctl's own.
//!
//! So an entry whose object id or origin the sealed ledger under the log
//! does not give ([`of`]: the log added the address, or gave it another id
//! or origin; an id the sealed ledger gives another address is put back
//! by `governance::undeclared::restore_unproven_removals` first) is one
//! the ledger owns on the log's word only. It is judged as an adoption:
//! in sync, it is reviewed whole as a natural-key adoption is
//! (`governance::unproven_record`); changed, the plan says so, and a
//! change of an object whose natural key is not desired state's (no
//! natural-key match could have found it) is sensitive ([`review`]); and
//! the apply that seals records it `origin = "adopted"`
//! ([`scrub_origins`]). A run killed after its create leaves the same kind
//! of entry: nothing proven tells it from a forged one, so its object too
//! is adopted (reviewed where adoptions are), never created twice.

use std::collections::{BTreeMap, BTreeSet};

use schema::Address;

use crate::ledger::{Ledger, Origin};
use crate::ledger_seal::Seal;
use crate::plan::{Action, Change};

/// The addresses of `replayed` (the ledger with its log) whose object id or
/// origin `sealed` (the ledger the tenant's seal proves, under the log)
/// does not give.
pub fn of(replayed: &Ledger, sealed: &Ledger) -> BTreeSet<Address> {
    replayed
        .resources
        .iter()
        .filter(|(a, e)| sealed.resources.get(*a).is_none_or(|s| s.id != e.id || s.origin != e.origin))
        .map(|(a, _)| a.clone())
        .collect()
}

impl Ledger {
    /// Whether the tenant's seal proves which object `address`'s entry
    /// owns, and how it came to be tenantctl's (its `origin`): under a log
    /// over a sealed ledger, unless the log gave it ([`of`]); else as
    /// [`Ledger::owner_proven`].
    pub fn id_proven(&self, address: &Address) -> bool {
        match &self.seal {
            Seal::Broken { only: Some(_), .. } => !self.log_owned.contains(address),
            _ => self.owner_proven(address),
        }
    }
}

/// Before a run seals what it wrote (`after`), the ledger loaded as
/// `loaded`: an entry recorded `origin = "created"` whose creation the
/// seal does not prove, and that still names the object it named when
/// loaded (this run did not create it), is recorded `adopted`, so sealing
/// never makes a log's or an edited ledger's `origin` a proven fact.
/// Returns the addresses changed.
pub fn scrub_origins(loaded: &Ledger, after: &mut Ledger) -> Vec<Address> {
    let mut out = Vec::new();
    for (a, e) in after.resources.iter_mut() {
        if e.origin == Some(Origin::Created) && !loaded.id_proven(a) && loaded.resources.get(a).is_some_and(|l| l.id == e.id) {
            e.origin = Some(Origin::Adopted);
            out.push(a.clone());
        }
    }
    out
}

/// How the note on a change of a log-owned object starts.
pub const LOG_OWNED: &str = "adopted: the ledger's write-ahead log alone names the object";

/// The note on a change of `address`, whose entry the log alone gives
/// (object `id`).
pub fn note(address: &Address, id: &str) -> String {
    format!(
        "{LOG_OWNED} {id} for {address}, and the tenant's seal does not prove that log (a run cut short after its create, or a log a pull request wrote): the object is judged adopted as the tenant has it, reviewed as a natural-key adoption is, and recorded `origin = \"adopted\"` (pruning keeps it unless governance.prune.adopted)"
    )
}

/// Notes on the changes of log-owned objects, and why those that take
/// over an object no natural-key match would find are sensitive.
/// `key_matches`: whether the live object `address` matched has desired
/// state's natural key (`None`: not matched).
pub fn review(changes: &mut [Change], ledger: &Ledger, key_matches: impl Fn(&Address) -> Option<bool>) -> BTreeMap<Address, String> {
    let mut sensitive = BTreeMap::new();
    if ledger.log_owned.is_empty() {
        return sensitive;
    }
    for c in changes.iter_mut() {
        if !ledger.log_owned.contains(&c.address) || matches!(c.action, Action::Create) {
            continue;
        }
        let Some(id) = ledger.id(&c.address).map(str::to_string) else { continue };
        let note = note(&c.address, &id);
        if !c.notes.contains(&note) {
            c.notes.push(note);
        }
        if key_matches(&c.address) == Some(false) {
            sensitive.insert(
                c.address.clone(),
                format!(
                    "{}: the ledger records no approved state of {}, whose object {id} only an unproven write-ahead log names, and that object does not have desired state's natural key (no natural-key match would find it): this takes over another object",
                    c.address, c.address
                ),
            );
        }
    }
    sensitive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().expect("an address")
    }

    #[test]
    fn only_what_the_log_gives_is_owned_on_its_word() {
        let mut sealed = Ledger::default();
        sealed.record(addr("group.a"), "1".into(), None, None);
        sealed.resources.get_mut(&addr("group.a")).expect("an entry").origin = Some(Origin::Created);
        sealed.record(addr("group.b"), "2".into(), None, None);
        sealed.resources.get_mut(&addr("group.b")).expect("an entry").origin = Some(Origin::Adopted);
        let mut replayed = sealed.clone();
        // A killed update: same id and origin, another record.
        replayed.resources.get_mut(&addr("group.a")).expect("an entry").applied = Some("sha256:x".into());
        // A forged origin, and a forged new address.
        replayed.resources.get_mut(&addr("group.b")).expect("an entry").origin = Some(Origin::Created);
        replayed.record(addr("group.c"), "3".into(), None, None);
        replayed.resources.get_mut(&addr("group.c")).expect("an entry").origin = Some(Origin::Created);
        let owned = of(&replayed, &sealed);
        assert_eq!(owned, [addr("group.b"), addr("group.c")].into());
        replayed.log_owned = owned;
        replayed.seal = Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: Some([addr("group.a"), addr("group.b"), addr("group.c")].into()) };
        assert!(replayed.id_proven(&addr("group.a")) && !replayed.id_proven(&addr("group.c")));
        let mut after = replayed.clone();
        assert_eq!(scrub_origins(&replayed, &mut after), vec![addr("group.b"), addr("group.c")]);
        assert_eq!(after.resources[&addr("group.a")].origin, Some(Origin::Created), "proven by the seal: kept");
        assert_eq!(after.resources[&addr("group.c")].origin, Some(Origin::Adopted));
        // A run that created the object again (another id) created it.
        let mut after = replayed.clone();
        after.resources.get_mut(&addr("group.c")).expect("an entry").id = "4".into();
        assert_eq!(scrub_origins(&replayed, &mut after), vec![addr("group.b")]);
        // A sealed ledger proves every origin.
        replayed.seal = Seal::Sealed;
        let mut after = replayed.clone();
        assert!(scrub_origins(&replayed, &mut after).is_empty());
    }
}
