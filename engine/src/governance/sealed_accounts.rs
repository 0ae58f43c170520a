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
//!   what is left is the sketch of the accounts cut less those gained
//!   since, and up to [`SUMS`] of them together are told apart, exactly:
//!   Newton's identities give the power series prod(1 + c t) / prod(1 + a
//!   t) over the cut c and gained a from the power sums, its Pade form
//!   (the fewest gained first) the two polynomials, whose roots are found
//!   among the tenant's accounts the ledger does not own (cut) and those
//!   it owns (gained), then checked against every sum; a 61-bit hash makes
//!   a false match about one in 10^18 per candidate. More cut and gained
//!   together is said in a warning naming how many the tenant records and
//!   the ledger owns, never read as "nothing was cut".

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
    let v = d.iter().take(8).fold(0u64, |a, b| (a << 8) | u64::from(*b)) % P;
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

    /// The sketch of the accounts (users and guests) `ledger` owns, each
    /// by its kind and id ([`key`]).
    pub fn of_ledger(ledger: &crate::Ledger) -> Sketch {
        let keys: Vec<String> = ledger.resources.iter().filter(|(a, _)| is_account(a)).map(|(a, e)| key(a.kind, &e.id)).collect();
        Sketch::of(keys.iter().map(String::as_str))
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

/// An account as the sketch counts it: its kind and its object id, so an
/// entry moved to another kind with the same id (`user.x` to `guest.x`, or
/// to `group.x`) is an account cut, not the same account (hostile run 31,
/// findings 1 and 2: the record did not change, or the id counted as owned).
pub fn key(kind: schema::Kind, id: &str) -> String {
    format!("{}:{}", kind.as_str(), id.trim().to_ascii_lowercase())
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
/// tenant's accounts the loaded ledger does not own). `owned`: the ids of
/// the accounts the loaded ledger owns, among which those it gained since
/// it was sealed are found the same way: cut and gained together, up to
/// [`SUMS`] of them are told apart (gained alone, nothing was cut).
pub fn cut<'a>(recorded: &Sketch, now: &Sketch, candidates: impl IntoIterator<Item = &'a str>, owned: impl IntoIterator<Item = &'a str>) -> Cut {
    let diff: Vec<u64> = (0..SUMS).map(|j| sub(recorded.sums[j], now.sums[j])).collect();
    if recorded.count == now.count && diff.iter().all(|d| *d == 0) {
        return Cut::None;
    }
    let unknown = Cut::Unknown { recorded: recorded.count, owned: now.count };
    let d = recorded.count as i64 - now.count as i64;
    let e = elementary(&diff);
    let ids = |c: &mut dyn Iterator<Item = &'a str>| -> Vec<(String, u64)> {
        let mut seen = BTreeSet::new();
        c.map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty() && seen.insert(c.clone())).map(|c| {
            let h = hash(&c);
            (c, h)
        }).collect()
    };
    let candidates = ids(&mut candidates.into_iter());
    let owned = ids(&mut owned.into_iter());
    let mut partial: Option<Vec<String>> = None;
    // The fewest gained first: (cut, gained) with cut - gained = d.
    for gained in 0..=SUMS {
        let Ok(cut_n) = usize::try_from(d + gained as i64) else { continue };
        if cut_n + gained > SUMS {
            break;
        }
        let Some((numerator, denominator)) = pade(&e, cut_n, gained) else { continue };
        let roots = |poly: &[u64], of: &[(String, u64)]| -> Vec<String> {
            let mut r: Vec<String> = of.iter().filter(|(_, h)| is_root(poly, *h)).map(|(c, _)| c.clone()).collect();
            r.sort();
            r
        };
        let cut_ids = roots(&numerator, &candidates);
        let gained_ids = roots(&denominator, &owned);
        let sums = |ids: &[String]| Sketch::of(ids.iter().map(String::as_str)).sums;
        let (c, g) = (sums(&cut_ids), sums(&gained_ids));
        if cut_ids.len() == cut_n && gained_ids.len() == gained && (0..SUMS).all(|j| sub(c[j], g[j]) == diff[j]) {
            return if cut_ids.is_empty() { Cut::None } else { Cut::Found { ids: cut_ids, all: true, cut: cut_n as u64 } };
        }
        if partial.is_none() && !cut_ids.is_empty() {
            partial = Some(cut_ids);
        }
    }
    match partial {
        Some(ids) => Cut::Found { cut: u64::try_from(d.max(ids.len() as i64)).unwrap_or_default(), ids, all: false },
        None => unknown,
    }
}

/// The elementary symmetric sums e_0..e_SUMS of the signed set whose power
/// sums are `p` (Newton's identities, k e_k = sum_{i=1..k} (-1)^(i-1)
/// e_(k-i) p_i, which hold for a set less another as for a set: they are
/// the coefficients of prod(1 + c t) / prod(1 + a t)).
fn elementary(p: &[u64]) -> Vec<u64> {
    let mut e = vec![1u64];
    for k in 1..=p.len() {
        let mut acc = 0u64;
        for i in 1..=k {
            let t = mul(e[k - i], p[i - 1]);
            acc = if i % 2 == 1 { add(acc, t) } else { sub(acc, t) };
        }
        e.push(mul(acc, inv(k as u64)));
    }
    e
}

/// The series `e` (known to t^SUMS) as N(t) / Q(t), N of degree `n`, Q of
/// degree `m` with Q(0) = 1 (Pade): N = prod(1 + c t) over the cut, Q over
/// the gained. `None` when no such Q is determined (or none fits every
/// known coefficient).
fn pade(e: &[u64], n: usize, m: usize) -> Option<(Vec<u64>, Vec<u64>)> {
    let at = |k: i64| if k < 0 { 0 } else { e.get(k as usize).copied().unwrap_or(0) };
    // For k in n+1..=SUMS: sum_{i=0..m} q_i e_(k-i) = 0, q_0 = 1.
    let mut rows: Vec<Vec<u64>> = (n + 1..=SUMS).map(|k| {
        let mut r: Vec<u64> = (1..=m).map(|i| at(k as i64 - i as i64)).collect();
        r.push(sub(0, at(k as i64)));
        r
    }).collect();
    // Gaussian elimination mod P.
    let mut pivots = Vec::new();
    let mut row = 0;
    for col in 0..m {
        let p = (row..rows.len()).find(|r| rows[*r][col] != 0)?;
        rows.swap(row, p);
        let f = inv(rows[row][col]);
        for v in rows[row].iter_mut() {
            *v = mul(*v, f);
        }
        for r in 0..rows.len() {
            if r != row && rows[r][col] != 0 {
                let f = rows[r][col];
                let pivot = rows[row].clone();
                for (v, pv) in rows[r].iter_mut().zip(&pivot) {
                    *v = sub(*v, mul(f, *pv));
                }
            }
        }
        pivots.push(row);
        row += 1;
    }
    // Every equation left over holds.
    if rows[row..].iter().any(|r| r[m] != 0) {
        return None;
    }
    let mut q = vec![1u64];
    q.extend(pivots.iter().map(|r| rows[*r][m]));
    let numerator: Vec<u64> = (0..=n).map(|k| (0..=m.min(k)).fold(0, |acc, i| add(acc, mul(q[i], at(k as i64 - i as i64))))).collect();
    Some((numerator, q))
}

/// Whether `h` is one of the values whose product prod(1 + h t) the
/// polynomial `poly` (coefficients of t^0, t^1, ...) is: poly(-1/h) = 0,
/// i.e. sum_k poly_k (-1)^k h^(deg - k) = 0.
fn is_root(poly: &[u64], h: u64) -> bool {
    let mut v = 0u64;
    for (k, c) in poly.iter().enumerate() {
        let c = if k % 2 == 0 { *c } else { sub(0, *c) };
        v = add(mul(v, h), c);
    }
    v == 0
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
            assert_eq!(cut(&recorded, &now, candidates, kept.iter().copied()), Cut::Found { ids: want, all: true, cut: cut_n as u64 }, "{cut_n} cut");
        }
        assert_eq!(cut(&recorded, &recorded, tenant.iter().map(String::as_str), all.iter().map(String::as_str)), Cut::None);
    }

    #[test]
    fn cut_and_gained_together_are_told_apart_up_to_the_sums() {
        let all = ids(40);
        let recorded = Sketch::of(all.iter().map(String::as_str));
        let portal: Vec<String> = (0..200).map(|i| format!("portal-{i}")).collect();
        // (cut, gained) with cut + gained <= SUMS: found; gained alone: nothing cut.
        for (cut_n, gained) in [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2), (1, 3), (0, 1), (0, 4)] {
            let owned: Vec<&str> = all.iter().skip(cut_n).map(String::as_str).chain(portal[..gained].iter().map(String::as_str)).collect();
            let candidates = all[..cut_n].iter().chain(&portal[gained..]).map(String::as_str);
            let got = cut(&recorded, &Sketch::of(owned.iter().copied()), candidates, owned.iter().copied());
            if cut_n == 0 {
                assert_eq!(got, Cut::None, "{gained} gained, none cut");
            } else {
                let mut want = all[..cut_n].to_vec();
                want.sort();
                assert_eq!(got, Cut::Found { ids: want, all: true, cut: cut_n as u64 }, "{cut_n} cut, {gained} gained");
            }
        }
    }

    #[test]
    fn what_cannot_be_told_is_said_not_taken_for_nothing() {
        let all = ids(40);
        let recorded = Sketch::of(all.iter().map(String::as_str));
        let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
        // More cut than there are sums.
        let kept: Vec<&str> = all.iter().skip(SUMS + 1).map(String::as_str).collect();
        assert_eq!(cut(&recorded, &Sketch::of(kept.iter().copied()), candidates.iter().copied(), kept.iter().copied()), Cut::Unknown { recorded: 40, owned: 40 - SUMS as u64 - 1 });
        // Three cut, two gained: five, beyond the sums.
        let swapped: Vec<&str> = all.iter().skip(3).map(String::as_str).chain(["forged-1", "forged-2"]).collect();
        assert_eq!(cut(&recorded, &Sketch::of(swapped.iter().copied()), candidates.iter().copied(), swapped.iter().copied()), Cut::Unknown { recorded: 40, owned: 39 });
        // Two cut, one of them no longer in the tenant: the other is named.
        let kept: Vec<&str> = all.iter().skip(2).map(String::as_str).collect();
        let now = Sketch::of(kept.iter().copied());
        assert_eq!(cut(&recorded, &now, [all[1].as_str(), "portal"], kept.iter().copied()), Cut::Found { ids: vec![all[1].clone()], all: false, cut: 2 });
        assert_eq!(cut(&recorded, &now, ["portal"], kept.iter().copied()), Cut::Unknown { recorded: 40, owned: 38 });
    }
}
