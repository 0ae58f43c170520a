//! Which accounts the sealed ledger owned, as the tenant records them, so
//! an account whose ledger entry a pull request cut is named even when the
//! same pull request cut the journal too, and on a runner that has no
//! journal (hostile run 28, finding 2).
//!
//! The journal ([`super::lost_ownership::journal_owned`]) lies beside the
//! ledger: on the local backend both are in the pull request's reach, and
//! with `azurerm` a fresh runner has none. Evidence the change under review
//! cannot write is in the tenant: the governance marker, which only a run
//! holding tenantctl's credentials writes. Options weighed:
//! * an ownership tag on each account (an open extension on the user):
//!   Graph creates no open extension with a user (only Outlook resources
//!   take one in their create), so every create and adoption would cost a
//!   second write, every account tenantctl owned before would carry none,
//!   and finding an untagged-or-tagged account among the tenant's needs a
//!   read per candidate user (the extension is expanded only on a known
//!   instance, never found by it on a listing);
//! * the journal kept in the state storage (azurerm only): no help for the
//!   local backend, where the ledger and journal are both in the diff;
//! * what is chosen: with the seal, the marker records per sealed ledger a
//!   small sketch of the set of account ids it owns ([`Sketch`]: their
//!   count and the first [`SUMS`] power sums of their hashes in the prime
//!   field 2^61-1). Nothing more is written than the seal's own update, and
//!   nothing more is read: the marker is read by every run already, and
//!   the tenant's users by every plan. When the seal does not prove the
//!   ledger, the loaded ledger's sketch is taken from the recorded one:
//!   what is left is the sketch of the accounts cut (as long as the pull
//!   request only cut entries), and up to [`SUMS`] of them are found among
//!   the tenant's accounts the ledger does not own, exactly (the roots of
//!   the polynomial whose coefficients Newton's identities give from the
//!   power sums; a 61-bit hash makes a false match about one in 10^18 per
//!   candidate). More cut at once, or a ledger whose accounts were also
//!   added to or swapped, is said in a warning naming how many the tenant
//!   records and the ledger owns, never read as "nothing was cut".

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// The power sums kept: at most this many accounts cut at once are named.
pub const SUMS: usize = 4;

/// Characters of one power sum as the marker keeps it (66 bits of
/// base64, the sum being below 2^61).
pub const SUM_CHARS: usize = 11;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The field's prime, 2^61 - 1.
const P: u64 = (1 << 61) - 1;

/// The accounts a ledger owns, as the tenant's marker records them: how
/// many, and the power sums of their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sketch {
    pub count: u64,
    pub sums: [u64; SUMS],
}

fn add(a: u64, b: u64) -> u64 {
    (a + b) % P
}

fn sub(a: u64, b: u64) -> u64 {
    (a + P - b) % P
}

fn mul(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) % P as u128) as u64
}

fn pow(mut a: u64, mut e: u64) -> u64 {
    let mut r = 1;
    while e > 0 {
        if e & 1 == 1 {
            r = mul(r, a);
        }
        a = mul(a, a);
        e >>= 1;
    }
    r
}

fn inv(a: u64) -> u64 {
    pow(a, P - 2)
}

/// An account's object id in the field (never 0, so every account counts
/// in every sum).
pub fn hash(id: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"tenantctl sealed account v1\n");
    h.update(id.trim().to_ascii_lowercase().as_bytes());
    let d = h.finalize();
    let v = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % P;
    v.max(1)
}

impl Sketch {
    /// The sketch of the accounts `ids` (each counted once).
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Sketch {
        let set: BTreeSet<String> = ids.into_iter().map(|i| i.trim().to_ascii_lowercase()).filter(|i| !i.is_empty()).collect();
        let mut s = Sketch { count: set.len() as u64, sums: [0; SUMS] };
        for id in &set {
            let h = hash(id);
            let mut x = h;
            for sum in s.sums.iter_mut() {
                *sum = add(*sum, x);
                x = mul(x, h);
            }
        }
        s
    }

    /// The sketch of the accounts (users and guests) `ledger` owns.
    pub fn of_ledger(ledger: &crate::Ledger) -> Sketch {
        Sketch::of(ledger.resources.iter().filter(|(a, _)| is_account(a)).map(|(_, e)| e.id.as_str()))
    }

    /// As the marker keeps it (small: the marker is): `COUNT.SUMS`, the
    /// count in decimal, the sums run together, each [`SUM_CHARS`]
    /// characters of URL-safe base64.
    pub fn encode(&self) -> String {
        let mut out = format!("{}.", self.count);
        for s in self.sums {
            out.extend((0..SUM_CHARS).rev().map(|i| ALPHABET[((s >> (6 * i)) & 63) as usize] as char));
        }
        out
    }

    /// [`Sketch::encode`] read back; `None` for anything tenantctl does not
    /// write (a sum outside the field, another number of sums).
    pub fn decode(s: &str) -> Option<Sketch> {
        let (count, rest) = s.trim().split_once('.')?;
        if count.is_empty() || count.len() > 9 || !count.bytes().all(|b| b.is_ascii_digit()) || rest.len() != SUM_CHARS * SUMS {
            return None;
        }
        let mut sums = [0; SUMS];
        for (sum, chunk) in sums.iter_mut().zip(rest.as_bytes().chunks(SUM_CHARS)) {
            let mut v = 0u64;
            for b in chunk {
                v = (v << 6) | ALPHABET.iter().position(|a| a == b)? as u64;
            }
            *sum = Some(v).filter(|v| *v < P)?;
        }
        Some(Sketch { count: count.parse().ok()?, sums })
    }
}

/// Whether `a` is an account's address (a user or a guest).
pub fn is_account(a: &schema::Address) -> bool {
    matches!(a.kind, schema::Kind::User | schema::Kind::Guest)
}

/// What the recorded sketch says of the loaded ledger's accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// The ledger owns the accounts the tenant records.
    None,
    /// These candidates are the accounts cut (all of them when `all`).
    Found { ids: Vec<String>, all: bool, cut: u64 },
    /// The ledger's accounts are not the recorded ones, and which were cut
    /// cannot be told: `recorded` and `owned` are the counts.
    Unknown { recorded: u64, owned: u64 },
}

/// The accounts `recorded` (the sealed ledger's) holds that `now` (the
/// loaded ledger's) does not, found among `candidates` (the ids of the
/// tenant's accounts the loaded ledger does not own).
pub fn cut<'a>(recorded: &Sketch, now: &Sketch, candidates: impl IntoIterator<Item = &'a str>) -> Cut {
    let diff: Vec<u64> = (0..SUMS).map(|j| sub(recorded.sums[j], now.sums[j])).collect();
    if recorded.count == now.count && diff.iter().all(|d| *d == 0) {
        return Cut::None;
    }
    let unknown = Cut::Unknown { recorded: recorded.count, owned: now.count };
    let d = match recorded.count.checked_sub(now.count) {
        Some(d) if d >= 1 && d as usize <= SUMS => d as usize,
        _ => return unknown,
    };
    // Newton's identities: k e_k = sum_{i=1..k} (-1)^(i-1) e_(k-i) p_i.
    let mut e = vec![1u64];
    for k in 1..=d {
        let mut acc = 0u64;
        for i in 1..=k {
            let t = mul(e[k - i], diff[i - 1]);
            acc = if i % 2 == 1 { add(acc, t) } else { sub(acc, t) };
        }
        e.push(mul(acc, inv(k as u64)));
    }
    // The cut accounts' hashes are the roots of
    // x^d - e_1 x^(d-1) + e_2 x^(d-2) - ...
    let root = |x: u64| {
        let mut v = 0u64;
        for (k, ek) in e.iter().enumerate() {
            let c = if k % 2 == 0 { *ek } else { sub(0, *ek) };
            v = add(mul(v, x), c);
        }
        v == 0
    };
    let mut seen = BTreeSet::new();
    let mut ids: Vec<String> = candidates.into_iter().map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty() && seen.insert(c.clone())).filter(|c| root(hash(c))).collect();
    ids.sort();
    if ids.is_empty() {
        return unknown;
    }
    // All found: their sketch is exactly the difference (every sum checked).
    let all = ids.len() == d && Sketch::of(ids.iter().map(String::as_str)).sums.iter().zip(&diff).all(|(a, b)| a == b);
    Cut::Found { ids, all, cut: d as u64 }
}

/// `entries` (the marker's, by ledger identity's first digits) with
/// ledger `id`'s accounts set to `sketch` (encoded): first, at most
/// [`crate::ledger_seal::MAX_BINDINGS`] kept (as many ledgers as the
/// marker binds directories to).
pub fn with_accounts(entries: &[(String, String)], id: &str, sketch: &str) -> Vec<(String, String)> {
    let id = crate::ledger_seal::binding_id(id);
    let mut out = vec![(id.to_string(), sketch.to_string())];
    out.extend(entries.iter().filter(|(i, k)| i != id && Sketch::decode(k).is_some()).cloned());
    out.truncate(crate::ledger_seal::MAX_BINDINGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:08x}-0000-4000-8000-{i:012x}")).collect()
    }

    #[test]
    fn encodes_and_decodes() {
        let all = ids(5);
        let s = Sketch::of(all.iter().map(String::as_str));
        assert_eq!(s.count, 5);
        assert_eq!(Sketch::decode(&s.encode()), Some(s));
        assert_eq!(s.encode().len(), 2 + SUM_CHARS * SUMS);
        assert_eq!(Sketch::decode(&s.encode()[..20]), None, "too few sums");
        assert_eq!(Sketch::decode(&format!("{}A", s.encode())), None, "too many");
        assert_eq!(Sketch::decode(&format!("1.{}", "_".repeat(SUM_CHARS * SUMS))), None, "outside the field");
        assert_eq!(Sketch::decode(&format!("1.{}", "!".repeat(SUM_CHARS * SUMS))), None);
        assert_eq!(Sketch::decode(&format!("x.{}", "A".repeat(SUM_CHARS * SUMS))), None);
        assert_eq!(Sketch::decode(&Sketch::default().encode()), Some(Sketch::default()));
        assert_eq!(Sketch::of(["A", "a", " a "]).count, 1, "one account counted once, whatever its case");
    }

    #[test]
    fn the_cut_accounts_are_found_among_the_candidates() {
        let all = ids(40);
        let recorded = Sketch::of(all.iter().map(String::as_str));
        let tenant: Vec<String> = all.iter().cloned().chain((100..400).map(|i| format!("portal-{i}"))).collect();
        for cut_n in 1..=SUMS {
            let kept: Vec<&str> = all.iter().skip(cut_n).map(String::as_str).collect();
            let now = Sketch::of(kept.iter().copied());
            let candidates = tenant.iter().map(String::as_str).filter(|c| !kept.contains(c));
            let mut want: Vec<String> = all[..cut_n].to_vec();
            want.sort();
            assert_eq!(cut(&recorded, &now, candidates), Cut::Found { ids: want, all: true, cut: cut_n as u64 }, "{cut_n} cut");
        }
        assert_eq!(cut(&recorded, &recorded, tenant.iter().map(String::as_str)), Cut::None);
    }

    #[test]
    fn what_cannot_be_told_is_said_not_taken_for_nothing() {
        let all = ids(40);
        let recorded = Sketch::of(all.iter().map(String::as_str));
        let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
        // More cut than there are sums.
        let now = Sketch::of(all.iter().skip(SUMS + 1).map(String::as_str));
        assert_eq!(cut(&recorded, &now, candidates.iter().copied()), Cut::Unknown { recorded: 40, owned: 40 - SUMS as u64 - 1 });
        // One cut, one added: the count is the same, the set is not.
        let swapped: Vec<&str> = all.iter().skip(1).map(String::as_str).chain(["forged"]).collect();
        assert_eq!(cut(&recorded, &Sketch::of(swapped), candidates.iter().copied()), Cut::Unknown { recorded: 40, owned: 40 });
        // Two cut, one of them no longer in the tenant: the other is named.
        let now = Sketch::of(all.iter().skip(2).map(String::as_str));
        assert_eq!(cut(&recorded, &now, [all[1].as_str(), "portal"]), Cut::Found { ids: vec![all[1].clone()], all: false, cut: 2 });
        assert_eq!(cut(&recorded, &now, ["portal"]), Cut::Unknown { recorded: 40, owned: 38 });
    }
}
