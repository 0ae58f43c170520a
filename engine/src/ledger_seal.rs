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
//!
//! The seal is kept per ledger (gov14): a ledger carries an identity
//! ([`Ledger::ledger_id`], given by the first run that seals it) and the
//! marker a seal for each of the [`MAX_SEALS`] ledgers sealed last, so two
//! desired-state directories on one tenant, or an export beside one, do
//! not break each other's seal. A ledger the marker has no seal for, on a
//! tenant whose marker seals others ([`Seal::Unknown`]: a pull request
//! gave the ledger another identity, or cut it from a ledger that records
//! approved state) proves none of its facts, exactly as for a broken seal, until a
//! complete apply seals it: a new identity is never a way to reset trust.
//! Only a ledger that names no identity and records no approved state (a
//! new directory or an export: [`Seal::Fresh`]) is trusted on first use,
//! as a tenant recording no seal is, with a warning.

use std::collections::BTreeSet;

use schema::Address;
use sha2::{Digest, Sha256};

use crate::ledger::Ledger;

/// Hex digits of the seal (128 bits of SHA-256).
pub const SEAL_CHARS: usize = 32;

/// How many ledgers' seals the tenant's marker keeps (the latest sealed).
pub const MAX_SEALS: usize = 8;

/// Hex digits of a ledger's identity ([`Ledger::ledger_id`]).
pub const LEDGER_ID_CHARS: usize = 16;

/// Hex digits of a directory's hash and of the ledger identity it is
/// bound to in the tenant's marker ([`directory_hash`]).
pub const BINDING_CHARS: usize = 8;

/// The hash under which the tenant's marker records which ledger the
/// desired-state directory named `key` sealed last.
pub fn directory_hash(key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tenantctl directory v1\n");
    h.update(key.as_bytes());
    let mut s = hex::encode(h.finalize());
    s.truncate(BINDING_CHARS);
    s
}

/// The part of ledger identity `id` a directory's binding records.
pub fn binding_id(id: &str) -> &str {
    id.get(..BINDING_CHARS).unwrap_or(id)
}

/// Whether `(directory, id)` is a binding as tenantctl records one.
pub fn valid_binding(directory: &str, id: &str) -> bool {
    let hex = |s: &str| s.len() == BINDING_CHARS && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex(directory) && hex(id)
}

/// How many directories' bindings the tenant's marker keeps (the latest
/// sealed): a directory whose binding was dropped is judged as before
/// bindings were kept, until its next seal. Few, as the marker is small
/// (Graph's 2 KB for an open extension on a directory object).
pub const MAX_BINDINGS: usize = 4;

/// `bindings` with `directory`'s bound to ledger `id`: first, at most
/// [`MAX_BINDINGS`] kept. A ledger is one directory's: another place bound
/// to the same ledger (the name a directory had before a rename or move,
/// or before it was put under git) is dropped, so a pull request that puts
/// the directory back under its old name with the renamed one's ledger
/// is not judged by the old binding (hostile run 30, finding F).
pub fn with_binding(bindings: &[(String, String)], directory: &str, id: &str) -> Vec<(String, String)> {
    let bound = binding_id(id);
    let mut out = vec![(directory.to_string(), bound.to_string())];
    out.extend(bindings.iter().filter(|(d, i)| d != directory && i != bound && valid_binding(d, i)).cloned());
    out.truncate(MAX_BINDINGS);
    out
}

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
    /// The tenant seals other ledgers (`others` of them; `latest`: the
    /// digest it sealed last) but none under this ledger's identity
    /// (`id`, `None`: it names none): a new desired-state directory or an
    /// export, or a ledger a pull request gave another identity. Its facts
    /// prove nothing, as for [`Seal::Broken`]; a complete apply seals it.
    Unknown { ledger: String, id: Option<String>, latest: String, others: usize },
    /// The tenant seals other ledgers (`others`), and this one names no
    /// identity and records no approved state (no `applied`, no
    /// `approved_fields`: only an apply writes those, and every apply now
    /// gives the ledger an identity): a new desired-state directory or an
    /// export. Trusted on first use, as [`Seal::Unrecorded`] (warned); the
    /// first run that writes it seals it. A ledger with approved records
    /// and no identity is [`Seal::Unknown`]: its identity was cut.
    Fresh { ledger: String, latest: String, others: usize, beyond_review: bool },
    /// The marker's seal under this ledger's identity (`id`) is not one
    /// tenantctl writes: the identity is there `entries` times, or its
    /// digest is not [`SEAL_CHARS`] hex digits. Someone wrote the marker
    /// by hand: none of the ledger's facts is proof, as for
    /// [`Seal::Broken`] (hostile run 23, finding 2).
    Tampered { ledger: String, id: String, entries: usize },
    /// The tenant seals this ledger, but the desired-state directory it is
    /// used for last sealed another one (`bound`: the first digits of that
    /// ledger's identity, `id`: this one's): another directory's ledger,
    /// copied in or pointed at (`[state] prefix`) by a pull request. None
    /// of its facts is proof here, as for [`Seal::Unknown`], and which
    /// objects it owns is not this directory's (hostile run 28, finding 1);
    /// a complete approved apply seals it for this directory.
    Foreign { ledger: String, id: String, bound: String },
}

/// What the tenant's marker records of ledgers' seals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recorded<'a> {
    /// The seal written last, of whichever ledger (the marker's only seal
    /// before seals were kept per ledger).
    pub latest: Option<&'a str>,
    /// The seals per ledger identity, latest first.
    pub seals: &'a [(String, String)],
}

/// `seals` with `id`'s seal set to `digest`: first (the latest), at most
/// [`MAX_SEALS`] kept, the oldest dropped.
/// Entries that are not an identity and a seal as tenantctl writes them
/// are dropped: they could not be written back without changing what the
/// marker says (hostile run 23, finding 2).
pub fn with_seal(seals: &[(String, String)], id: &str, digest: &str) -> Vec<(String, String)> {
    let mut out = vec![(id.to_string(), digest.to_string())];
    out.extend(seals.iter().filter(|(i, d)| i != id && crate::ledger::valid_ledger_id(i) && valid_digest(d)).cloned());
    out.truncate(MAX_SEALS);
    out
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

/// Judge `replayed` (the ledger with its log, as loaded) against the seals
/// the tenant records. `base`: the ledger without its log, when a log was
/// replayed. A ledger is judged against the seal kept under its identity;
/// a ledger with none against the marker's only seal when the marker keeps
/// none per ledger (written before they were); a tenant recording no seal
/// at all keeps the fallback rule; any other ledger is [`Seal::Unknown`].
pub fn judge(replayed: &Ledger, base: Option<&Ledger>, tenant: &str, recorded: Recorded<'_>, beyond_review: bool) -> Seal {
    judge_with(replayed, base.into_iter().collect::<Vec<_>>().as_slice(), tenant, recorded, beyond_review)
}

/// Whether `d` is a seal as tenantctl records one: [`SEAL_CHARS`] hex digits.
pub fn valid_digest(d: &str) -> bool {
    d.len() == SEAL_CHARS && d.bytes().all(|b| b.is_ascii_hexdigit())
}

/// [`judge`], with every ledger the log passed through that a run may have
/// sealed: `bases` is the ledger as last compacted, then the ledger as
/// replayed at each of the log's checkpoints (oldest first). Of a log over
/// a sealed one, only the entries it changed since are unproven.
pub fn judge_with(replayed: &Ledger, bases: &[&Ledger], tenant: &str, recorded: Recorded<'_>, beyond_review: bool) -> Seal {
    judge_with_base(replayed, bases, tenant, recorded, beyond_review).0
}

/// [`judge_with`], and which of `bases` the tenant's seal proves (its
/// index) when the seal is [`Seal::Broken`] over a sealed one: what the
/// log changed since is measured against it ([`crate::log_owned`]).
pub fn judge_with_base(replayed: &Ledger, bases: &[&Ledger], tenant: &str, recorded: Recorded<'_>, beyond_review: bool) -> (Seal, Option<usize>) {
    let latest = recorded.latest.map(str::trim).filter(|r| !r.is_empty());
    let id = replayed.ledger_id.as_deref().or_else(|| bases.first().and_then(|b| b.ledger_id.as_deref()));
    let mine: Vec<&str> = id.map(|id| recorded.seals.iter().filter(|(i, _)| i == id).map(|(_, d)| d.as_str()).collect()).unwrap_or_default();
    if let (Some(id), true) = (id, mine.len() > 1 || mine.iter().any(|d| !valid_digest(d))) {
        // The marker's seal of this ledger is not one tenantctl wrote:
        // none of it is taken, never the first of several.
        return (Seal::Tampered { ledger: digest(replayed, tenant), id: id.to_string(), entries: mine.len() }, None);
    }
    let own = mine.first().copied();
    let against = own.or(if id.is_none() && recorded.seals.is_empty() { latest } else { None });
    let Some(against) = against else {
        if recorded.seals.is_empty() && latest.is_none() {
            return (Seal::Unrecorded { beyond_review }, None);
        }
        let latest_seal = latest.or_else(|| recorded.seals.first().map(|(_, d)| d.as_str())).unwrap_or_default().to_string();
        let approved = replayed.resources.values().any(|e| e.applied.is_some() || !e.approved_fields.is_empty());
        if id.is_none() && !approved {
            return (Seal::Fresh { ledger: digest(replayed, tenant), latest: latest_seal, others: recorded.seals.len().max(1), beyond_review }, None);
        }
        let unknown = Seal::Unknown {
            ledger: digest(replayed, tenant),
            id: id.map(str::to_string),
            latest: latest.or_else(|| recorded.seals.first().map(|(_, d)| d.as_str())).unwrap_or_default().to_string(),
            others: recorded.seals.len().max(1),
        };
        return (unknown, None);
    };
    let recorded = against;
    let mine = digest(replayed, tenant);
    if mine.eq_ignore_ascii_case(recorded) {
        return (Seal::Sealed, None);
    }
    // A run killed mid-apply: its log over the sealed ledger (the last
    // compacted one, or the one a killed run sealed at a checkpoint). What
    // the log changed since is unproven (a pull request can write a log
    // too), the rest is the sealed ledger's.
    let base = bases.iter().rposition(|b| digest(b, tenant).eq_ignore_ascii_case(recorded));
    let only = base.map(|i| {
        let b = bases[i];
        let mut touched: BTreeSet<Address> = replayed.resources.iter().filter(|(a, e)| b.resources.get(*a) != Some(*e)).map(|(a, _)| a.clone()).collect();
        touched.extend(b.resources.keys().filter(|a| !replayed.resources.contains_key(*a)).cloned());
        touched
    });
    (Seal::Broken { ledger: mine, recorded: recorded.to_string(), only }, base)
}

fn short(d: &str) -> &str {
    d.get(..SHOWN_CHARS).unwrap_or(d)
}

impl Ledger {
    /// Whether the ledger's `expires`, `service`, `secret_env` and
    /// `changed_at` of `address` can be trusted.
    pub fn fact_proven(&self, address: &Address) -> bool {
        match &self.seal {
            Seal::Unrecorded { .. } | Seal::Sealed | Seal::Fresh { .. } => true,
            Seal::Broken { only: Some(touched), .. } => !touched.contains(address),
            Seal::Broken { only: None, .. } | Seal::Unknown { .. } | Seal::Tampered { .. } | Seal::Foreign { .. } => false,
        }
    }

    /// Whether the ledger's `applied` of `address` proves that a
    /// correction puts back what was approved (a restore).
    pub fn applied_proven(&self, address: &Address) -> bool {
        match &self.seal {
            Seal::Unrecorded { beyond_review } | Seal::Fresh { beyond_review, .. } => *beyond_review,
            _ => self.fact_proven(address),
        }
    }

    /// Whether any fact of the ledger is unproven by the seal.
    pub fn seal_broken(&self) -> bool {
        matches!(self.seal, Seal::Broken { .. } | Seal::Unknown { .. } | Seal::Tampered { .. } | Seal::Foreign { .. })
    }

    /// The note on a change shown because the ledger's record of `what`
    /// is not proven by the seal.
    pub fn unproven_note(&self, what: &str) -> String {
        match &self.seal {
            Seal::Broken { ledger, recorded, .. } | Seal::Unknown { ledger, latest: recorded, .. } => format!(
                "{UNPROVEN_PREFIX} (ledger {}…, tenant {}…): its record of {what} proves nothing, so this is shown and needs approval",
                short(ledger),
                short(recorded)
            ),
            Seal::Foreign { ledger, .. } => format!("{UNPROVEN_PREFIX} (ledger {}…, sealed for another desired-state directory): its record of {what} proves nothing, so this is shown and needs approval", short(ledger)),
            Seal::Tampered { ledger, .. } => format!("{UNPROVEN_PREFIX} (ledger {}…, the tenant's seal of it was tampered with): its record of {what} proves nothing, so this is shown and needs approval", short(ledger)),
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
            Seal::Fresh { ledger, latest, others, .. } => Some(format!(
                "this ledger (digest {}…) is new to the tenant, which seals {others} other ledger{} (latest {}…) but none of this one: it names no identity and records no approved state (a new desired-state directory, an export, or a ledger cut to nothing). It is trusted on first use, as a tenant recording no seal is; the first apply that writes it seals it under its own identity",
                short(ledger),
                if *others == 1 { "" } else { "s" },
                short(latest)
            )),
            Seal::Unknown { ledger, id, latest, others } => Some(format!(
                "{UNPROVEN_PREFIX} (ledger {}…, tenant {}…): the tenant seals {others} ledger{} but none {}: a new desired-state directory or an export, or a ledger given another identity (a pull request can write it). None of its facts is proof: changes they would hide are shown and need approval, controls and grants with no proven approved record are reviewed whole, and ring soaks count from the live objects only. The first apply that carries out the whole plan seals it under its own identity",
                short(ledger),
                short(latest),
                if *others == 1 { "" } else { "s" },
                match id {
                    Some(id) => format!("under this ledger's identity {}", crate::render::text_safe(id)),
                    None => "of this ledger (it names no identity)".to_string(),
                }
            )),
            Seal::Foreign { ledger, id, bound } => Some(format!(
                "{UNPROVEN_PREFIX} for this desired-state directory (ledger {}…): the tenant sealed it under identity {}, but this directory last sealed the ledger {}…: it is another directory's ledger (copied in, or pointed at by a changed `[state]`), so none of its facts is proof here and which objects it owns is not this directory's: changes its facts would hide are shown and need approval, ending the access of (or deleting) an object it owns needs approval, and controls and grants with no proven approved record are reviewed whole. The first apply that carries out the whole plan seals it for this directory",
                short(ledger),
                crate::render::text_safe(id),
                crate::render::text_safe(bound)
            )),
            Seal::Tampered { ledger, id, entries } => Some(format!(
                "{UNPROVEN_PREFIX} (ledger {}…): the tenant's governance marker holds {} under this ledger's identity {}, which tenantctl never writes (the marker was written by hand), so none of it is taken and none of the ledger's facts is proof: changes they would hide are shown and need approval, controls and grants with no proven approved record are reviewed whole. The first apply that carries out the whole plan seals it again",
                short(ledger),
                if *entries == 1 { "a malformed seal".to_string() } else { format!("{entries} seals") },
                crate::render::text_safe(id)
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
    complete || !matches!(loaded, Seal::Broken { .. } | Seal::Unknown { .. } | Seal::Tampered { .. } | Seal::Foreign { .. })
}

/// Whether [`scrub`] needs the ledger as loaded (else nothing is scrubbed).
pub fn needs_scrub(seal: &Seal) -> bool {
    // A ledger new to the tenant is scrubbed too: which objects it owns,
    // and so their `origin`, is not trusted on first use
    // ([`crate::log_owned::scrub_origins`]).
    !matches!(seal, Seal::Sealed | Seal::Unrecorded { beyond_review: true })
}

/// How every note and warning about a broken seal starts.
pub const UNPROVEN_PREFIX: &str = "the ledger does not match the seal the tenant records";

/// Whether `note` is one of [`Ledger::unproven_note`].
pub fn is_unproven_note(note: &str) -> bool {
    note.starts_with(UNPROVEN_PREFIX)
}

impl Ledger {
    /// Whether the ledger proves that `address` owns its entry's object,
    /// so ending that object's access or deleting it on the ledger's word
    /// is tenantctl's to do (hostile run 23, findings 8 and 16): the facts
    /// of a ledger new to the tenant ([`Seal::Fresh`]) are trusted on
    /// first use, but which objects it owns is not, since a pull request
    /// (or a `state push`) can name any object's id in one; nor is the
    /// ownership (or `service` mark) of an entry the seal does not prove.
    pub fn owner_proven(&self, address: &Address) -> bool {
        !matches!(self.seal, Seal::Fresh { .. }) && self.fact_proven(address)
    }
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
    fn a_ledger_is_bound_to_one_directory() {
        let (a, b, c) = ("aaaaaaaa", "bbbbbbbb", "cccccccc");
        let id1 = "11111111deadbeef";
        let id2 = "22222222deadbeef";
        let both = with_binding(&with_binding(&[], a, id1), b, id2);
        assert_eq!(both, vec![(b.to_string(), "22222222".to_string()), (a.to_string(), "11111111".to_string())]);
        // `a` renamed `c` and sealed: `a` no longer binds the ledger.
        let moved = with_binding(&both, c, id1);
        assert_eq!(moved, vec![(c.to_string(), "11111111".to_string()), (b.to_string(), "22222222".to_string())]);
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

    /// A marker written before seals were kept per ledger.
    fn legacy(seal: &str) -> Recorded<'_> {
        Recorded { latest: Some(seal), seals: &[] }
    }

    #[test]
    fn judged_against_the_tenants_seal() {
        let l = ledger();
        let seal = digest(&l, "t");
        assert_eq!(judge(&l, None, "t", legacy(&seal), false), Seal::Sealed);
        assert_eq!(judge(&l, None, "t", Recorded::default(), true), Seal::Unrecorded { beyond_review: true });
        let mut forged = l.clone();
        forged.resources.get_mut(&"guest.a".parse().expect("an address")).expect("an entry").service = true;
        let mut judged = forged.clone();
        judged.seal = judge(&forged, None, "t", legacy(&seal), true);
        assert!(!judged.fact_proven(&"guest.b".parse().expect("an address")), "no log: every entry is unproven");
        assert!(judged.unproven_note("expires").contains(&seal[..8]));
        // A log over the sealed ledger: only what it touched is unproven.
        judged.seal = judge(&forged, Some(&l), "t", legacy(&seal), false);
        assert!(!judged.fact_proven(&"guest.a".parse().expect("an address")));
        assert!(judged.fact_proven(&"guest.b".parse().expect("an address")));
        assert!(!judged.applied_proven(&"guest.a".parse().expect("an address")));
        assert!(!may_seal(&judged.seal, false) && may_seal(&judged.seal, true));
    }

    #[test]
    fn each_ledger_is_judged_by_its_own_seal() {
        let mut a = ledger();
        a.ledger_id = Some("aaaaaaaaaaaaaaaa".into());
        let mut b = ledger();
        b.ledger_id = Some("bbbbbbbbbbbbbbbb".into());
        b.record("group.x".parse().expect("an address"), "3".into(), None, None);
        let seals = with_seal(&with_seal(&[], "aaaaaaaaaaaaaaaa", &digest(&a, "t")), "bbbbbbbbbbbbbbbb", &digest(&b, "t"));
        let latest = digest(&b, "t");
        let rec = Recorded { latest: Some(&latest), seals: &seals };
        assert_eq!(judge(&a, None, "t", rec, false), Seal::Sealed, "b's seal does not break a's");
        assert_eq!(judge(&b, None, "t", rec, false), Seal::Sealed);
        let mut forged = a.clone();
        forged.ledger_id = Some("cccccccccccccccc".into());
        let judged = judge(&forged, None, "t", rec, false);
        assert!(matches!(&judged, Seal::Unknown { id: Some(i), others: 2, .. } if i == "cccccccccccccccc"), "{judged:?}");
        forged.ledger_id = None;
        assert!(matches!(judge(&forged, None, "t", rec, false), Seal::Fresh { .. }), "no identity, no approved record: new (an export)");
        forged.resources.values_mut().for_each(|e| e.applied = Some("sha256:x".into()));
        assert!(matches!(judge(&forged, None, "t", rec, false), Seal::Unknown { id: None, .. }), "approved records but no identity: cut");
        let mut fresh = forged.clone();
        fresh.resources.values_mut().for_each(|e| e.applied = None);
        fresh.seal = judge(&fresh, None, "t", rec, false);
        assert!(!fresh.seal_broken() && fresh.fact_proven(&"guest.a".parse().expect("an address")) && may_seal(&fresh.seal, false));
        assert!(!fresh.applied_proven(&"guest.a".parse().expect("an address")), "restores count only beyond review, as with no seal");
        let mut judged_l = forged.clone();
        judged_l.seal = judge(&forged, None, "t", rec, false);
        assert!(judged_l.seal_broken() && !judged_l.applied_proven(&"guest.a".parse().expect("an address")) && !may_seal(&judged_l.seal, false));
        // Bounded, latest first.
        let mut many = Vec::new();
        for i in 0..10 {
            many = with_seal(&many, &format!("{i:016x}"), &"d".repeat(SEAL_CHARS));
        }
        assert_eq!(many.len(), MAX_SEALS);
        assert_eq!(many[0].0, format!("{:016x}", 9));
        let e = "e".repeat(SEAL_CHARS);
        assert_eq!(with_seal(&many, &format!("{:016x}", 5), &e)[0], (format!("{:016x}", 5), e.clone()));
        assert_eq!(with_seal(&many, &format!("{:016x}", 5), &e).len(), MAX_SEALS);
    }

    #[test]
    fn a_seal_written_by_hand_is_never_taken() {
        let mut a = ledger();
        a.ledger_id = Some("aaaaaaaaaaaaaaaa".into());
        let good = digest(&a, "t");
        let id = || "aaaaaaaaaaaaaaaa".to_string();
        // The same identity twice: neither is taken, whichever comes first.
        for seals in [vec![(id(), good.clone()), (id(), "0".repeat(SEAL_CHARS))], vec![(id(), "0".repeat(SEAL_CHARS)), (id(), good.clone())], vec![(id(), format!("{good};x"))]] {
            let judged = judge(&a, None, "t", Recorded { latest: None, seals: &seals }, false);
            assert!(matches!(judged, Seal::Tampered { .. }), "{seals:?}: {judged:?}");
            let mut l = a.clone();
            l.seal = judged;
            assert!(l.seal_broken() && !l.fact_proven(&"guest.a".parse().expect("an address")));
        }
        // Malformed entries of others are dropped when the marker is rewritten.
        let kept = with_seal(&[("zz".into(), good.clone()), ("bbbbbbbbbbbbbbbb".into(), "x=y".into()), ("cccccccccccccccc".into(), good.clone())], &id(), &good);
        assert_eq!(kept, vec![(id(), good.clone()), ("cccccccccccccccc".into(), good)]);
    }

    #[test]
    fn a_log_sealed_at_a_checkpoint_leaves_only_what_came_after_unproven() {
        let a: Address = "guest.a".parse().expect("an address");
        let b: Address = "guest.b".parse().expect("an address");
        let mut base = ledger();
        base.ledger_id = Some("aaaaaaaaaaaaaaaa".into());
        let mut first = base.clone();
        first.record(a.clone(), "1".into(), Some("sha256:first".into()), None);
        let seals = vec![("aaaaaaaaaaaaaaaa".to_string(), digest(&first, "t"))];
        let rec = Recorded { latest: None, seals: &seals };
        let mut second = first.clone();
        second.record(b.clone(), "2".into(), Some("sha256:second".into()), None);
        let mut l = second.clone();
        l.seal = judge_with(&second, &[&base, &first], "t", rec, false);
        assert!(l.fact_proven(&a) && !l.fact_proven(&b), "{:?}", l.seal);
        // Without the checkpoint, the whole ledger.
        l.seal = judge_with(&second, &[&base], "t", rec, false);
        assert!(!l.fact_proven(&a) && !l.fact_proven(&b), "{:?}", l.seal);
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
