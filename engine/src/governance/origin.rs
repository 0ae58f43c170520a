//! Whether tenantctl created an object or adopted it, as the ledger
//! records ([`crate::ledger::Origin`]), where it matters (planning).
//!
//! Pruning deletes what tenantctl made. An object the tenant had before
//! tenantctl matched it by natural key (or it was `import`ed) was someone
//! else's first: deleting it when desired state stops declaring it
//! could destroy what tenantctl never owned outright, so it is pruned
//! only with `governance.prune.adopted = true`; else it is left as it is
//! (an account's sign-in is still blocked, as with pruning off: an
//! account nobody declares is access nobody approved to keep). A delete of
//! an adopted object says so. Entries of ledgers written before origins
//! were recorded are judged as before (pruned).

use crate::ledger::{LedgerEntry, Origin};

/// Whether `entry`'s object (of `kind`) is kept from pruning: it was
/// adopted, and `prune_adopted` is off. A kind that manages only a part
/// of an object (an app's assignments) removes only that part, and is
/// pruned whatever the origin.
pub fn kept_adopted(kind: schema::Kind, entry: &LedgerEntry, prune_adopted: bool) -> bool {
    entry.origin == Some(Origin::Adopted) && !prune_adopted && !kind.manages_part_only()
}

/// The orphan's reason for an object [`kept_adopted`] kept (`kept`).
pub fn kept_reason(_entry: &LedgerEntry, kept: bool) -> Option<String> {
    kept.then(|| "no longer declared; adopted (the tenant had it before tenantctl took it over, as the ledger records), and governance.prune.adopted is off: left as it is".to_string())
}

/// The note on the delete of `entry`'s object, when it was adopted.
pub fn delete_note(kind: schema::Kind, entry: &LedgerEntry) -> Option<String> {
    (entry.origin == Some(Origin::Adopted) && !kind.manages_part_only()).then(|| "adopted: tenantctl did not create this object (it was matched by its natural key, or imported); deleted because governance.prune.adopted is on".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn entry(origin: Option<Origin>) -> LedgerEntry {
        let mut l = crate::Ledger::default();
        l.record("group.g".parse().expect("an address"), "1".into(), None, None);
        let mut e = l.resources.into_values().next().expect("an entry");
        e.origin = origin;
        e
    }

    #[test]
    fn only_what_tenantctl_created_or_does_not_know_is_pruned_by_default() {
        assert!(kept_adopted(schema::Kind::Group, &entry(Some(Origin::Adopted)), false));
        assert!(!kept_adopted(schema::Kind::Group, &entry(Some(Origin::Adopted)), true));
        assert!(!kept_adopted(schema::Kind::Group, &entry(Some(Origin::Created)), false));
        assert!(!kept_adopted(schema::Kind::Group, &entry(None), false), "an old ledger's entry: as before");
        assert!(!kept_adopted(schema::Kind::AppAssignment, &entry(Some(Origin::Adopted)), false), "an app's assignments: only what tenantctl set goes");
        assert!(delete_note(schema::Kind::Group, &entry(Some(Origin::Adopted))).is_some() && delete_note(schema::Kind::Group, &entry(None)).is_none());
    }

    #[test]
    fn a_change_keeps_the_origin_of_the_object_it_owned() {
        let created = entry(Some(Origin::Created));
        assert_eq!(Origin::after(Action::Update, "1", Some(&created)), Some(Origin::Created));
        assert_eq!(Origin::after(Action::Update, "1", Some(&entry(None))), None, "unknown stays unknown");
        assert_eq!(Origin::after(Action::Replace, "2", Some(&created)), Some(Origin::Created), "a new object");
        assert_eq!(Origin::after(Action::Update, "2", None), Some(Origin::Adopted), "matched by natural key");
        assert_eq!(Origin::after(Action::Create, "2", None), Some(Origin::Created));
    }
}
