//! The ledger's seal: whether its facts are proof (planning input).
//!
//! On the local state backend the ledger is committed beside desired
//! state, so a pull request can write it: a forged `expires`, `service`,
//! `secret_env`, `changed_at` or `applied` matching the change under
//! review would hide that change, or make it look like a restore. So
//! whenever tenantctl writes the ledger after changing the tenant, it
//! records a [`digest`] of the ledger's canonical content (tenant id
//! included) in the tenant's governance marker, which only a run holding
//! tenant write credentials can write (a pull request has none). A ledger
//! whose digest is the marker's is [`Seal::Sealed`]: its facts are trusted
//! whatever the backend or git situation. Any other ledger's facts are
//! not proof: where one would hide or soften a change, the change is shown
//! and sensitive, with a note naming both digests ([`Ledger::unproven_note`]).
//!
//! Tenants that record no seal yet (a marker written by an older
//! tenantctl, or none: governance never adopted) keep the rule from
//! before the seal, as a fallback until the next apply seals: restores
//! count only for a ledger the change under review cannot write
//! ([`Seal::Unrecorded`]); the other facts are trusted.

use std::collections::BTreeSet;

use schema::Address;
use sha2::{Digest, Sha256};

use crate::ledger::Ledger;

/// Hex digits of the seal (128 bits of SHA-256).
pub const SEAL_CHARS: usize = 32;

/// Hex digits of each digest a plan note names.
const SHOWN_CHARS: usize = 8;

/// What the tenant's seal says of the ledger a plan was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// The tenant records no seal (never sealed, or no governance marker):
    /// the fallback rule. `beyond_review`: the ledger is kept where the
    /// change under review cannot write it (a remote state backend, or a
    /// file outside any git work tree), so its `applied` proves restores.
    Unrecorded { beyond_review: bool },
    /// The ledger's digest is the one the tenant records: its facts are
    /// what tenantctl last wrote.
    Sealed,
    /// The ledger's digest is not the tenant's: its facts prove nothing.
    /// `only`: when the ledger without its write-ahead log is the sealed
    /// one (a run killed mid-apply), only the entries the log touched are
    /// unproven; `None`, all of them.
    Broken { ledger: String, recorded: String, only: Option<BTreeSet<Address>> },
}

impl Default for Seal {
    fn default() -> Self {
        Seal::Unrecorded { beyond_review: false }
    }
}

/// The seal of `ledger` for tenant `tenant`: the first [`SEAL_CHARS`] hex
/// digits of SHA-256 over the tenant id and the ledger's canonical
/// rendering (what [`Ledger::render`] writes, so whitespace or comments
/// added by hand do not matter, any fact does).
pub fn digest(ledger: &Ledger, tenant: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tenantctl ledger seal v1\n");
    h.update(tenant.trim().to_ascii_lowercase().as_bytes());
    h.update(b"\n");
    h.update(ledger.render().as_bytes());
    let mut s = hex::encode(h.finalize());
    s.truncate(SEAL_CHARS);
    s
}

/// Judge `replayed` (the ledger with its log, as loaded) against the seal
/// the tenant records. `base`: the ledger without its log, when a log was
/// replayed. `recorded`: the marker's seal (`None`: it records none).
pub fn judge(replayed: &Ledger, base: Option<&Ledger>, tenant: &str, recorded: Option<&str>, beyond_review: bool) -> Seal {
    let Some(recorded) = recorded.map(str::trim).filter(|r| !r.is_empty()) else {
        return Seal::Unrecorded { beyond_review };
    };
    let mine = digest(replayed, tenant);
    if mine.eq_ignore_ascii_case(recorded) {
        return Seal::Sealed;
    }
    // A run killed mid-apply: its log over the sealed ledger. What the log
    // changed is unproven (a pull request can write a log too), the rest
    // is the sealed ledger's.
    let only = base.filter(|b| digest(b, tenant).eq_ignore_ascii_case(recorded)).map(|b| {
        let mut touched: BTreeSet<Address> = replayed.resources.iter().filter(|(a, e)| b.resources.get(*a) != Some(*e)).map(|(a, _)| a.clone()).collect();
        touched.extend(b.resources.keys().filter(|a| !replayed.resources.contains_key(*a)).cloned());
        touched
    });
    Seal::Broken { ledger: mine, recorded: recorded.to_string(), only }
}

fn short(d: &str) -> &str {
    d.get(..SHOWN_CHARS).unwrap_or(d)
}

impl Ledger {
    /// Whether the ledger's `expires`, `service`, `secret_env` and
    /// `changed_at` of `address` can be trusted.
    pub fn fact_proven(&self, address: &Address) -> bool {
        match &self.seal {
            Seal::Unrecorded { .. } | Seal::Sealed => true,
            Seal::Broken { only: Some(touched), .. } => !touched.contains(address),
            Seal::Broken { only: None, .. } => false,
        }
    }

    /// Whether the ledger's `applied` of `address` proves that a
    /// correction puts back what was approved (a restore).
    pub fn applied_proven(&self, address: &Address) -> bool {
        match &self.seal {
            Seal::Unrecorded { beyond_review } => *beyond_review,
            _ => self.fact_proven(address),
        }
    }

    /// Whether any fact of the ledger is unproven by the seal.
    pub fn seal_broken(&self) -> bool {
        matches!(self.seal, Seal::Broken { .. })
    }

    /// The note on a change shown because the ledger's record of `what`
    /// is not proven by the seal.
    pub fn unproven_note(&self, what: &str) -> String {
        match &self.seal {
            Seal::Broken { ledger, recorded, .. } => format!(
                "{UNPROVEN_PREFIX} (ledger {}…, tenant {}…): its record of {what} proves nothing, so this is shown and needs approval",
                short(ledger),
                short(recorded)
            ),
            _ => format!("{UNPROVEN_PREFIX}: its record of {what} proves nothing, so this is shown and needs approval"),
        }
    }

    /// The plan's warning about a broken seal, if any.
    pub fn seal_warning(&self) -> Option<String> {
        match &self.seal {
            Seal::Broken { ledger, recorded, only } => Some(format!(
                "{UNPROVEN_PREFIX} (ledger {}…, tenant {}…): {}; changes its facts would hide are shown and need approval, restores are reviewed, and ring soaks count from the live objects only. The next apply that carries out the whole plan seals it again",
                short(ledger),
                short(recorded),
                match only {
                    Some(t) => format!("the entries a write-ahead log changed since the last seal ({}) are not proof (a run was cut short, or the log was edited)", t.len()),
                    None => "it was edited, restored or replaced since tenantctl last wrote it, so none of its facts is proof".to_string(),
                }
            )),
            _ => None,
        }
    }
}

/// Before a run seals the ledger it wrote (`after`), loaded as `loaded`:
/// the `applied` and `changed_at` of each entry whose record the seal did
/// not prove and that the run did not write again are dropped, so sealing
/// never makes an unproven record proof (a forged `applied` would become a
/// restore, a forged `changed_at` a shorter soak). Without them a
/// correction is reviewed and a soak counts from the live object. The
/// other facts of an unproven entry were shown as changes, which the run
/// applied (a run that did not carry out its whole plan does not seal a
/// broken ledger, [`may_seal`]). `vouched`: entries whose `applied` the
/// run itself vouches for (objects its complete plan found in sync, whose
/// `applied` is desired state's: `governance::ratify::in_sync`), kept.
/// Returns how many entries were scrubbed.
pub fn scrub(loaded: &Ledger, after: &mut Ledger, vouched: &BTreeSet<Address>) -> usize {
    let mut n = 0;
    for (a, e) in after.resources.iter_mut() {
        if loaded.resources.get(a) != Some(&*e) {
            continue;
        }
        let (applied, fact) = (loaded.applied_proven(a) || vouched.contains(a), loaded.fact_proven(a));
        if (!applied && e.applied.is_some()) || (!fact && e.changed_at.is_some()) {
            if !applied {
                e.applied = None;
            }
            if !fact {
                e.changed_at = None;
            }
            n += 1;
        }
    }
    n
}

/// Whether a run that loaded `loaded` may seal what it wrote: always for
/// a sealed (or not yet sealed) ledger; for a broken seal only when the
/// run carried out its whole plan (`complete`), which showed every change
/// an unproven fact could hide.
pub fn may_seal(loaded: &Seal, complete: bool) -> bool {
    complete || !matches!(loaded, Seal::Broken { .. })
}

/// Whether [`scrub`] needs the ledger as loaded (else nothing is scrubbed).
pub fn needs_scrub(seal: &Seal) -> bool {
    !matches!(seal, Seal::Sealed | Seal::Unrecorded { beyond_review: true })
}

/// How every note and warning about a broken seal starts.
pub const UNPROVEN_PREFIX: &str = "the ledger does not match the seal the tenant records";

/// Whether `note` is one of [`Ledger::unproven_note`].
pub fn is_unproven_note(note: &str) -> bool {
    note.starts_with(UNPROVEN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        let mut l = Ledger::default();
        l.record("guest.a".parse().expect("an address"), "1".into(), None, None);
        l.record("guest.b".parse().expect("an address"), "2".into(), None, None);
        l
    }

    #[test]
    fn the_digest_covers_the_tenant_and_every_fact() {
        let l = ledger();
        let d = digest(&l, "T1");
        assert_eq!(d.len(), SEAL_CHARS);
        assert_eq!(d, digest(&l, " t1 "), "tenant ids compare without case or spaces");
        assert_ne!(d, digest(&l, "t2"));
        let mut forged = l.clone();
        forged.resources.get_mut(&"guest.a".parse().expect("an address")).expect("an entry").expires = Some("2099-01-01T00:00:00Z".into());
        assert_ne!(d, digest(&forged, "t1"));
        // Reparsed, it is the same content.
        assert_eq!(d, digest(&Ledger::parse(&l.render()).expect("a ledger"), "t1"));
    }

    #[test]
    fn judged_against_the_tenants_seal() {
        let l = ledger();
        let seal = digest(&l, "t");
        assert_eq!(judge(&l, None, "t", Some(&seal), false), Seal::Sealed);
        assert_eq!(judge(&l, None, "t", None, true), Seal::Unrecorded { beyond_review: true });
        let mut forged = l.clone();
        forged.resources.get_mut(&"guest.a".parse().expect("an address")).expect("an entry").service = true;
        let mut judged = forged.clone();
        judged.seal = judge(&forged, None, "t", Some(&seal), true);
        assert!(!judged.fact_proven(&"guest.b".parse().expect("an address")), "no log: every entry is unproven");
        assert!(judged.unproven_note("expires").contains(&seal[..8]));
        // A log over the sealed ledger: only what it touched is unproven.
        judged.seal = judge(&forged, Some(&l), "t", Some(&seal), false);
        assert!(!judged.fact_proven(&"guest.a".parse().expect("an address")));
        assert!(judged.fact_proven(&"guest.b".parse().expect("an address")));
        assert!(!judged.applied_proven(&"guest.a".parse().expect("an address")));
        assert!(!may_seal(&judged.seal, false) && may_seal(&judged.seal, true));
    }

    #[test]
    fn sealing_drops_the_unproven_records_a_run_did_not_write() {
        let a: Address = "guest.a".parse().expect("an address");
        let b: Address = "guest.b".parse().expect("an address");
        let mut loaded = ledger();
        for e in loaded.resources.values_mut() {
            e.applied = Some("sha256:x".into());
            e.changed_at = Some("2020-01-01T00:00:00Z".into());
        }
        loaded.seal = Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: Some([a.clone()].into()) };
        let mut after = loaded.clone();
        assert_eq!(scrub(&loaded, &mut after, &BTreeSet::new()), 1);
        assert_eq!(after.resources[&a].applied, None);
        assert_eq!(after.resources[&a].changed_at, None);
        assert_eq!(after.resources[&b].applied.as_deref(), Some("sha256:x"), "proven: kept");
        // Written again by the run: its own record.
        let mut after = loaded.clone();
        after.resources.get_mut(&a).expect("an entry").changed_at = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(scrub(&loaded, &mut after, &BTreeSet::new()), 0);
        // A ledger not sealed yet, in a git work tree: `applied` only.
        loaded.seal = Seal::Unrecorded { beyond_review: false };
        let mut after = loaded.clone();
        assert_eq!(scrub(&loaded, &mut after, &BTreeSet::new()), 2);
        assert!(after.resources.values().all(|e| e.applied.is_none() && e.changed_at.is_some()));
    }
}
