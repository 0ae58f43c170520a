//! The governance marker tenantctl keeps in the tenant itself: an open
//! extension on the organization object (`com.tenantctl.governance`)
//! holding the fingerprint of the `[governance]` recorded as the trust
//! root. Whether a tenant has had governance adopted is then a fact of the
//! tenant, which neither a pull request (renaming every key) nor emptying
//! the tenant of declared objects can change; `apply` allows trust on
//! first use only when the tenant carries no marker.
//!
//! Graph: `GET /organization` (the tenant's organization id),
//! `GET /organization/{id}/extensions` (the organization's open
//! extensions, both of the marker's in one request; neither listed: no
//! marker), `POST /organization/{id}/extensions` (create, `@odata.type`
//! `microsoft.graph.openTypeExtension`, `extensionName` and custom
//! properties; sent when the `PATCH` answers 404) and
//! `PATCH /organization/{id}/extensions/{name}` (update).
//! Application permissions: Organization.Read.All to read,
//! Organization.ReadWrite.All to write.
//!
//! Beside the fingerprint it records the approvers (and authors) of that
//! `[governance]` with their public keys and `approvals_required` (as
//! strings), so re-adopting another `[governance]` over the tenant needs
//! their signatures, whatever local state is at hand.
//!
//! Two open extensions (gov27, hostile run 29 finding 1): Graph's `PATCH`
//! of an open extension replaces its data whole and takes no `If-Match`,
//! so a write built from a read and answered late (slow Graph, a runner
//! stalled between its read and its write) replaces whatever other runs
//! wrote meanwhile. With the trust root in the same extension as the
//! claims and seals, a slow claim of an unrelated plan rolled an approved
//! `[governance]` change back (a removed approver's key in force again).
//! So the trust root lives in an extension of its own,
//! [`TRUST_EXTENSION_NAME`], written only when a trust root is recorded
//! (first use, an approved `[governance]` change, `governance adopt`):
//! claims, seals, full-read times and directory bindings stay in
//! [`EXTENSION_NAME`], and their writers ([`update_of`]) never write a
//! trust field there once the trust extension exists. Graph allows two
//! open extensions per app on one directory object (extensibility
//! overview, "Limits"), so this takes the second and last. The trust
//! extension carries a sequence (`trustSeq`, one more at each recording)
//! and the fingerprint it replaced (`replacedFingerprint`): a runner whose
//! trust root was recorded under a higher sequence than the tenant holds
//! sees that the tenant's trust root was rolled back. Both are read in one
//! request, the organization's list of extensions
//! (`GET /organization/{id}/extensions`). A tenant whose marker predates it
//! (trust fields in [`EXTENSION_NAME`], no trust extension) is read as
//! before and keeps them there until the next recording, which writes the
//! trust extension; from then on the first extension's trust fields are
//! ignored and dropped by its next write. Neither extension: no marker.

use serde_json::{json, Value};

use crate::graph::{GraphClient, GraphError};

/// The open extension's name (reverse DNS, as Graph recommends).
pub const EXTENSION_NAME: &str = "com.tenantctl.governance";

/// The second open extension: the trust root alone (module doc).
pub const TRUST_EXTENSION_NAME: &str = "com.tenantctl.governance.trust";

/// What the marker records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marker {
    /// The fingerprint of the recorded `[governance]` (as journalled).
    pub fingerprint: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// How: `first-use`, `recorded`, `adopted`.
    pub how: String,
    /// The approvers of the recorded `[governance]`, `KEY=ed25519:BASE64`
    /// (sorted): whoever re-adopts another `[governance]` over this tenant
    /// needs their signatures. Empty in a marker written before they were
    /// recorded.
    pub approvers: Vec<String>,
    /// Its authors (beside the approvers), in the same form.
    pub authors: Vec<String>,
    /// Its `approvals_required`; `None` in a marker written before it was.
    pub approvals_required: Option<u32>,
    /// Approved plans applied to this tenant whose expiry has not passed,
    /// `HASH@UNIX_SECONDS` (the first [`PLAN_HASH_CHARS`] hex digits of
    /// the plan's hash, and its `not_after` rounded up to a UTC midnight):
    /// a replay from any runner is refused, whatever journal it has.
    /// Expired ones are dropped. Kept in the extension per day
    /// (`appliedPlans`, `DAY:HASHHASH…;…`, [`compact_plans`]). A claim in
    /// progress carries its run's token, `HASH#TOKEN@UNIX_SECONDS`
    /// ([`TOKEN_CHARS`]).
    pub applied_plans: Vec<String>,
    /// The seal of the ledger tenantctl last wrote after changing this
    /// tenant ([`engine::ledger_seal::digest`], 32 hex digits): a ledger
    /// whose digest is another proves none of its facts. `None` in a
    /// marker written before ledgers were sealed.
    pub ledger_seal: Option<String>,
    /// The seal of each ledger tenantctl wrote after changing this tenant,
    /// by the ledger's identity (`engine::Ledger::ledger_id`), the latest
    /// first and at most `engine::ledger_seal::MAX_SEALS` of them
    /// (`ledgerSeals`, `ID=DIGEST;…`): each desired-state directory's
    /// ledger is judged by its own. Empty in a marker written before.
    pub ledger_seals: Vec<(String, String)>,
    /// Which ledger each desired-state directory sealed last
    /// (`ledgerDirs`, `DIRECTORY=ID;…`, the directory by
    /// `engine::ledger_seal::directory_hash` of its name, the ledger by the
    /// first digits of its identity, the latest
    /// first, at most `engine::ledger_seal::MAX_BINDINGS`): a ledger sealed
    /// under another identity than the one its directory sealed last is
    /// another directory's, whose facts prove nothing here (hostile run
    /// 28, finding 1). Empty in a marker written before.
    pub ledger_dirs: Vec<(String, String)>,
    /// Which accounts each ledger owned when it was sealed, by the first
    /// digits of its identity (`ledgerAccounts`, `ID=SKETCH;…`, the sketch
    /// as `engine::governance::sealed_accounts::Sketch::encode`, the latest
    /// first, at most `engine::ledger_seal::MAX_BINDINGS`): an account
    /// whose entry a pull request cut is named even when the journal was
    /// cut too or is not on the runner (hostile run 28, finding 2). Empty
    /// in a marker written before.
    pub ledger_accounts: Vec<(String, String)>,
    /// When a `reconcile --self-heal` pass last read every user and group
    /// in full rather than through its delta cache (RFC 3339,
    /// `deltaFullRead`): the cache is state anyone who can write the state
    /// container can change, so a pass reads in full again once this is
    /// older than its bound. `None`: never recorded (the next pass reads
    /// in full).
    pub delta_full_read: Option<String>,
    /// The trust root's sequence in [`TRUST_EXTENSION_NAME`] (`trustSeq`,
    /// one more at each recording). `None`: the tenant has no trust
    /// extension (a marker written before gov27, whose trust fields are in
    /// [`EXTENSION_NAME`]).
    pub trust_seq: Option<u64>,
    /// The fingerprint the recording under [`Marker::trust_seq`] replaced
    /// (`replacedFingerprint`); `None` for the first.
    pub trust_replaced: Option<String>,
}

/// Graph keeps at most 2 KB of data in one open extension of a directory
/// object (organization, user, group, device), the extension's own
/// definition included; the marker is kept under that, with room to spare.
pub const MAX_MARKER_BYTES: usize = 1900;

/// Characters of a plan's tag kept in [`Marker::applied_plans`]: the
/// first 36 bits of the plan's hash in URL-safe base64 ([`plan_tag`]). A
/// replay of an applied plan always matches its entry (its hash is the
/// same); a shorter tag only lets two different plans collide, and then
/// the new one is refused as already applied (fail closed, never a replay
/// let through): with at most `n` plans recorded, a fresh plan is refused
/// so with a chance under n / 2^36 (1.5e-9 for 100 plans). Before gov19 it
/// was 32 hex digits per plan, which filled the marker after ~24 applies a
/// week (hostile run 23, finding 14); such markers are read and rewritten
/// in the new form.
pub const PLAN_HASH_CHARS: usize = 6;

const TAG_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The tag of a plan whose hash is `hex` (hex digits, `sha256:` or not):
/// its first 9 hex digits (36 bits) in URL-safe base64. `None` for a hash
/// that is not hex.
pub fn plan_tag(hex: &str) -> Option<String> {
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    let bits = u64::from_str_radix(hex.get(..9)?, 16).ok()?;
    Some((0..PLAN_HASH_CHARS).rev().map(|i| TAG_ALPHABET[((bits >> (6 * i)) & 63) as usize] as char).collect())
}

fn is_tag(t: &str) -> bool {
    t.len() == PLAN_HASH_CHARS && t.bytes().all(|b| TAG_ALPHABET.contains(&b))
}

/// Characters of the per-run token a claim in progress carries after its
/// tag (`TAG#TOKEN`, 24 bits): two runs claiming one plan at the same
/// moment tell their claims apart by it (hostile run 27, finding 2). The
/// run that wins takes it off again (`TAG`), so a settled claim costs the
/// marker no more than before.
pub const TOKEN_CHARS: usize = 4;

/// A fresh per-run token of [`TOKEN_CHARS`] characters.
pub fn new_token() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..TOKEN_CHARS).map(|_| TAG_ALPHABET[rng.gen_range(0..TAG_ALPHABET.len())] as char).collect()
}

/// Whether `t` is a claim as the marker keeps it: a tag, or a tag, `#`
/// and a per-run token.
fn is_claim(t: &str) -> bool {
    match t.split_once('#') {
        Some((tag, token)) => is_tag(tag) && token.len() == TOKEN_CHARS && token.bytes().all(|b| TAG_ALPHABET.contains(&b)),
        None => is_tag(t),
    }
}

/// The tag of an [`Marker::applied_plans`] entry (`TAG@END` or
/// `TAG#TOKEN@END`): whose plan it claims, whichever run.
pub fn entry_tag(e: &str) -> &str {
    let claim = e.split('@').next().unwrap_or_default();
    claim.split('#').next().unwrap_or_default()
}

/// One day's claims run together (`TAGTAG#TOKENTAG...`), each as `TAG` or
/// `TAG#TOKEN`; `None` when they do not read so.
fn day_claims(hs: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut rest = hs;
    while !rest.is_empty() {
        let len = if rest.as_bytes().get(PLAN_HASH_CHARS) == Some(&b'#') { PLAN_HASH_CHARS + 1 + TOKEN_CHARS } else { PLAN_HASH_CHARS };
        let claim = rest.get(..len)?;
        if !is_claim(claim) {
            return None;
        }
        out.push(claim);
        rest = &rest[len..];
    }
    Some(out)
}

const DAY: i64 = 86400;

/// `not_after` (Unix seconds) rounded up to a UTC midnight: the moment an
/// applied plan's entry may be dropped (a day late at most, never early).
pub fn entry_end(not_after: i64) -> i64 {
    not_after.div_euclid(DAY) * DAY + if not_after.rem_euclid(DAY) == 0 { 0 } else { DAY }
}

/// [`Marker::applied_plans`] as the extension keeps them: per expiry day
/// (days since 1970-01-01), the day, `:`, then the plans' claims (a tag,
/// or a tag with a claim in progress's token, `TAG#TOKEN`) run together,
/// sorted; days sorted and joined by `;`.
pub fn compact_plans(plans: &[String]) -> String {
    let mut days: std::collections::BTreeMap<i64, std::collections::BTreeSet<&str>> = Default::default();
    for e in plans {
        if let Some((h, end)) = e.split_once('@').and_then(|(h, t)| Some((h, t.parse::<i64>().ok()?))) {
            if is_claim(h) {
                days.entry(entry_end(end) / DAY).or_default().insert(h);
            }
        }
    }
    days.iter().map(|(d, hs)| format!("{d}:{}", hs.iter().copied().collect::<String>())).collect::<Vec<_>>().join(";")
}

/// `appliedPlans` as read: the per-day form, and entries of the form
/// before it (`HASH@UNIX_SECONDS`, a 32-digit hash), each as
/// `TAG@END` ([`plan_tag`], [`entry_end`]). A malformed
/// part is kept whole (it matches no plan, and is dropped when rewritten).
fn applied_plans(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for e in entries(v, "appliedPlans") {
        if let Some((h, t)) = e.split_once('@') {
            match t.parse::<i64>() {
                Ok(end) => match plan_tag(h) {
                    Some(tag) => out.push(format!("{tag}@{}", entry_end(end))),
                    None => out.push(e),
                },
                _ => out.push(e),
            }
        } else if let Some((d, claims)) = e.split_once(':').and_then(|(d, hs)| Some((d.parse::<i64>().ok()?, day_claims(hs)?))) {
            out.extend(claims.into_iter().map(|c| format!("{c}@{}", d * DAY)));
        } else {
            out.push(e);
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Marker {
    /// The trust root's fields as both extensions name them.
    fn trust_fields(&self) -> serde_json::Map<String, Value> {
        let v = json!({
            "trustFingerprint": self.fingerprint,
            "recordedAt": self.recorded_at,
            "recordedBy": self.how,
            "approverKeys": self.approvers.join(";"),
            "authorKeys": self.authors.join(";"),
            "approvalsRequired": self.approvals_required.map(|n| n.to_string()).unwrap_or_default(),
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// The trust extension's JSON body ([`TRUST_EXTENSION_NAME`]): the
    /// trust root, its sequence and the fingerprint it replaced.
    pub fn trust_body(&self) -> Value {
        let mut b = serde_json::Map::new();
        b.insert("@odata.type".into(), json!("microsoft.graph.openTypeExtension"));
        b.insert("extensionName".into(), json!(TRUST_EXTENSION_NAME));
        b.extend(self.trust_fields());
        b.insert("trustSeq".into(), json!(self.trust_seq.unwrap_or(1).to_string()));
        b.insert("replacedFingerprint".into(), json!(self.trust_replaced.clone().unwrap_or_default()));
        Value::Object(b)
    }

    /// The extension's JSON body (create and update take the same): the
    /// facts other runs write, and the trust root's fields only while the
    /// tenant has no trust extension (a marker from before gov27: they are
    /// kept where they are until the next recording moves them).
    pub fn body(&self) -> Value {
        // The body create and update both take (v1.0 opentypeextension-post-
        // and -update): "@odata.type" and "extensionName" are required, and
        // on a directory object the update replaces the extension's data whole.
        let mut b = json!({
            "@odata.type": "microsoft.graph.openTypeExtension",
            "extensionName": EXTENSION_NAME,
            "appliedPlans": compact_plans(&self.applied_plans),
            "ledgerSeal": self.ledger_seal.clone().unwrap_or_default(),
            // Only entries as tenantctl writes them (an identity of hex
            // digits, a seal of hex digits): nothing in one can add an
            // entry or change another's (hostile run 23, finding 2).
            "ledgerSeals": self.ledger_seals.iter().filter(|(id, d)| well_formed_seal(id, d)).map(|(id, d)| format!("{id}={d}")).collect::<Vec<_>>().join(";"),
            "deltaFullRead": self.delta_full_read.clone().unwrap_or_default(),
            "ledgerDirs": self.ledger_dirs.iter().filter(|(d, id)| engine::ledger_seal::valid_binding(d, id)).map(|(d, id)| format!("{d}={id}")).collect::<Vec<_>>().join(";"),
        });
        // Only when there are any (a marker without them is as before).
        let accounts: Vec<String> = self.ledger_accounts.iter().filter(|(id, k)| valid_accounts(id, k)).map(|(id, k)| format!("{id}={k}")).collect();
        if !accounts.is_empty() {
            b["ledgerAccounts"] = Value::String(accounts.join(";"));
        }
        if self.trust_seq.is_none() {
            if let Some(o) = b.as_object_mut() {
                o.extend(self.trust_fields());
            }
        }
        b
    }

    /// Drop the accounts of sealed ledgers ([`Marker::ledger_accounts`]),
    /// the oldest first, until the marker fits in [`MAX_MARKER_BYTES`]:
    /// they are a help for naming cut accounts, and never take the room an
    /// approved plan's claim or a seal needs (a ledger whose record was
    /// dropped is judged as before they were kept, said in its plan).
    pub fn fit_accounts(&mut self) {
        while self.size() > MAX_MARKER_BYTES && self.ledger_accounts.pop().is_some() {}
    }

    /// The size of [`Marker::body`] in bytes.
    pub fn size(&self) -> usize {
        self.body().to_string().len()
    }

    /// A warning when the marker holds more than three quarters of the
    /// [`MAX_MARKER_BYTES`] it may (each approved apply adds to it until its
    /// plan expires; once full, approved applies are refused).
    pub fn fullness_warning(&self) -> Option<String> {
        // Not counting the sealed ledgers' accounts, which give way.
        let size = Marker { ledger_accounts: Vec::new(), ..self.clone() }.size();
        (size * 4 > MAX_MARKER_BYTES * 3).then(|| {
            format!(
                "warning: the tenant's governance marker {EXTENSION_NAME} holds {size} of the {MAX_MARKER_BYTES} bytes it may ({} approved plans not yet expired, {} ledger seals): once full, approved applies are refused until recorded plans expire; make plans with a shorter `plan --valid-for`",
                self.applied_plans.len(),
                self.ledger_seals.len()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        format!("{name}=ed25519:{}", "A".repeat(43) + "=")
    }

    #[test]
    fn a_week_of_approved_applies_fits_beside_eight_seals_and_three_approvers() {
        let start = 1_795_000_000i64;
        // 100 approved applies, each valid 7 days (to the midnight 8 days on).
        let plans: Vec<String> = (0..100).map(|i| format!("{}@{}", plan_tag(&format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))).expect("a tag"), entry_end(start + i * 6000 + 8 * DAY))).collect();
        let m = Marker {
            fingerprint: format!("sha256:{}", "f".repeat(64)),
            recorded_at: "2026-12-02T03:00:00Z".into(),
            how: "recorded".into(),
            approvers: vec![key("alice"), key("bob"), key("dave")],
            authors: vec![key("carol")],
            approvals_required: Some(2),
            applied_plans: plans.clone(),
            ledger_seal: Some("a".repeat(32)),
            ledger_seals: (0..8).map(|i| (format!("{i:016x}"), "b".repeat(32))).collect(),
            ledger_dirs: (0..engine::ledger_seal::MAX_BINDINGS).map(|i| (format!("{i:08x}"), "c".repeat(8))).collect(),
            ledger_accounts: vec![],
            delta_full_read: Some("2026-12-02T03:00:00Z".into()),
            trust_seq: None,
            trust_replaced: None,
        };
        // With the delta cache's full-read time (about 40 bytes) beside
        // them, a week of 100 still leaves room for about ten more plans.
        assert!(m.size() <= MAX_MARKER_BYTES * 95 / 100, "{} bytes", m.size());
        // Each bound ledger's accounts beside them, as large as a sketch
        // gets, give way to fit (the oldest first): never a refused write.
        let sketch = engine::governance::sealed_accounts::Sketch { count: 9999, sums: [(1 << 61) - 2; engine::governance::sealed_accounts::SUMS] }.encode();
        let mut full = m.clone();
        full.ledger_accounts = (0..engine::ledger_seal::MAX_BINDINGS).map(|i| (format!("{i:08x}"), sketch.clone())).collect();
        assert!(full.size() > MAX_MARKER_BYTES);
        full.fit_accounts();
        assert!(full.size() <= MAX_MARKER_BYTES && !full.ledger_accounts.is_empty(), "{} bytes, {} kept", full.size(), full.ledger_accounts.len());
        assert_eq!(full.ledger_accounts[0].0, "00000000", "the latest kept");
        assert_eq!(full.fullness_warning(), m.fullness_warning(), "not counted as filling it");
        assert_eq!(account_entries(&full.body()), full.ledger_accounts, "read back");
        // Read back: the same plans.
        let mut sorted = plans;
        sorted.sort();
        assert_eq!(applied_plans(&m.body()), sorted);
    }

    #[test]
    fn plans_recorded_before_are_read_and_rewritten_per_day() {
        let old = json!({"appliedPlans": "00112233445566778899aabbccddeeff@1795000000;ffeeddccbbaa99887766554433221100@1795086400;junk"});
        let read = applied_plans(&old);
        assert_eq!(plan_tag("sha256:00112233445566778899"), Some("ABEiM0".into()));
        assert_eq!(plan_tag("ffeeddcc"), None, "too short");
        assert_eq!(read, vec!["ABEiM0@1795046400".to_string(), "_-7dzL@1795132800".into(), "junk".into()]);
        assert_eq!(compact_plans(&read), "20776:ABEiM0;20777:_-7dzL");
        assert_eq!(applied_plans(&json!({"appliedPlans": compact_plans(&read)})), read[..2].to_vec());
    }

    #[test]
    fn claims_in_progress_keep_their_token_beside_settled_ones() {
        let plans = vec!["ABEiM0#wxyz@1795046400".to_string(), "ABEiM0@1795046400".into(), "_-7dzL#a-_9@1795132800".into()];
        assert_eq!(compact_plans(&plans), "20776:ABEiM0ABEiM0#wxyz;20777:_-7dzL#a-_9");
        let read = applied_plans(&json!({"appliedPlans": compact_plans(&plans)}));
        assert_eq!(read, vec!["ABEiM0#wxyz@1795046400".to_string(), "ABEiM0@1795046400".into(), "_-7dzL#a-_9@1795132800".into()]);
        assert_eq!(entry_tag(&read[0]), "ABEiM0");
        assert_eq!(entry_tag("ABEiM0@1795046400"), "ABEiM0");
        // A token of another length, or a stray `#`, is not read as a claim.
        assert_eq!(applied_plans(&json!({"appliedPlans": "20776:ABEiM0#wx"})), vec!["20776:ABEiM0#wx".to_string()]);
        assert_eq!(compact_plans(&["ABEiM0#w!yz@1795046400".to_string()]), "");
        let t = new_token();
        assert!(t.len() == TOKEN_CHARS && is_claim(&format!("ABEiM0#{t}")), "{t}");
    }

    #[test]
    fn sealed_ledgers_accounts_are_read_only_as_written() {
        let k = engine::governance::sealed_accounts::Sketch::of(["a", "b"]).encode();
        let v = json!({"ledgerAccounts": format!("0123abcd={k};0123abcd={k};fedcba98={k};fedcba98=x;ZZZZZZZZ={k};noequals; ;11112222={k}")});
        // An identity named twice is dropped whole, never taken first.
        assert_eq!(account_entries(&v), vec![("11112222".to_string(), k.clone())]);
        let m = Marker { ledger_accounts: vec![("0123abcd".into(), k.clone()), ("0123abcd=x;y".into(), k.clone())], ..Marker::default() };
        assert_eq!(m.body()["ledgerAccounts"], json!(format!("0123abcd={k}")));
        assert!(Marker { ledger_accounts: vec![], ..m }.body().get("ledgerAccounts").is_none(), "none: not written");
        let kept = engine::governance::sealed_accounts::with_accounts(&[("0123abcd".into(), k.clone()), ("99999999".into(), "bad".into())], "fedcba9876543210", &k);
        assert_eq!(kept, vec![("fedcba98".to_string(), k.clone()), ("0123abcd".into(), k)]);
    }

    #[test]
    fn the_trust_root_is_read_from_its_own_extension_and_the_facts_never_carry_it_then() {
        let facts = json!({"extensionName": EXTENSION_NAME, "appliedPlans": "20776:ABEiM0", "trustFingerprint": "sha256:old", "approverKeys": "bob=k"});
        // Before gov27: the trust fields of the one extension.
        let legacy = from_extensions(std::slice::from_ref(&facts)).expect("a marker");
        assert_eq!((legacy.fingerprint.as_str(), legacy.trust_seq), ("sha256:old", None));
        assert_eq!(legacy.body()["trustFingerprint"], "sha256:old", "kept where they are until migrated");
        // With the trust extension: its fields win, and a facts write drops
        // the old ones.
        let trust = json!({"extensionName": TRUST_EXTENSION_NAME, "trustFingerprint": "sha256:new", "approverKeys": "dave=k", "trustSeq": "3", "replacedFingerprint": "sha256:old"});
        let m = from_extensions(&[facts, trust]).expect("a marker");
        assert_eq!((m.fingerprint.as_str(), m.trust_seq, m.trust_replaced.as_deref()), ("sha256:new", Some(3), Some("sha256:old")));
        assert_eq!(m.approvers, vec!["dave=k".to_string()]);
        assert_eq!(m.applied_plans, vec!["ABEiM0@1795046400".to_string()]);
        assert!(m.body().get("trustFingerprint").is_none() && m.body().get("approverKeys").is_none());
        assert_eq!(m.trust_body()["trustSeq"], "3");
        assert_eq!(m.trust_body()["extensionName"], TRUST_EXTENSION_NAME);
        // The trust extension alone is a marker; neither is none.
        assert!(from_extensions(&[json!({"extensionName": TRUST_EXTENSION_NAME, "trustFingerprint": "sha256:x"})]).is_some_and(|m| m.trust_seq == Some(1)));
        assert!(from_extensions(&[json!({"extensionName": "com.other"})]).is_none());
    }

    #[test]
    fn only_well_formed_seals_are_written() {
        let m = Marker { ledger_seals: vec![("0123456789abcdef".into(), "c".repeat(32)), ("0123456789abcdef=x;y".into(), "c".repeat(32)), ("fedcba9876543210".into(), "z".repeat(32))], ..Marker::default() };
        assert_eq!(m.body()["ledgerSeals"], json!(format!("0123456789abcdef={}", "c".repeat(32))));
        let read = seal_entries(&json!({"ledgerSeals": "a=b=c;noequals; ;x=y"}));
        assert_eq!(read, vec![("a".to_string(), "b=c".to_string()), ("noequals".into(), String::new()), ("x".into(), "y".into())]);
    }
}

/// Whether `(id, digest)` is a ledger's seal as tenantctl writes it.
pub fn well_formed_seal(id: &str, digest: &str) -> bool {
    engine::ledger::valid_ledger_id(id) && engine::ledger_seal::valid_digest(digest)
}

/// `ledgerSeals` as the marker holds it, every entry kept as read (split
/// at its first `=`; no `=`: an empty seal): a malformed or repeated entry
/// is then judged as tampering with that ledger's seal, never skipped nor
/// taken first ([`engine::ledger_seal::judge`]).
fn seal_entries(v: &Value) -> Vec<(String, String)> {
    entries(v, "ledgerSeals").iter().map(|e| e.split_once('=').map(|(i, d)| (i.trim().to_string(), d.trim().to_string())).unwrap_or_else(|| (e.clone(), String::new()))).collect()
}

/// `ledgerDirs` as the marker holds it: only entries as tenantctl writes
/// them (a directory's hash and a ledger identity's first digits, both
/// `engine::ledger_seal::BINDING_CHARS` hex digits).
fn dir_entries(v: &Value) -> Vec<(String, String)> {
    entries(v, "ledgerDirs")
        .iter()
        .filter_map(|e| e.split_once('=').map(|(d, id)| (d.trim().to_string(), id.trim().to_string())))
        .filter(|(d, id)| engine::ledger_seal::valid_binding(d, id))
        .collect()
}

/// Whether `(id, sketch)` is an entry of [`Marker::ledger_accounts`] as
/// tenantctl writes one.
pub fn valid_accounts(id: &str, sketch: &str) -> bool {
    engine::ledger_seal::valid_binding(id, id) && engine::governance::sealed_accounts::Sketch::decode(sketch).is_some()
}

/// `ledgerAccounts` as the marker holds it: only entries as tenantctl
/// writes them (one per ledger: an identity named twice is dropped, never
/// taken first, so its accounts are judged unrecorded).
fn account_entries(v: &Value) -> Vec<(String, String)> {
    let all: Vec<(String, String)> = entries(v, "ledgerAccounts").iter().filter_map(|e| e.split_once('=').map(|(i, k)| (i.trim().to_string(), k.trim().to_string()))).collect();
    all.iter().filter(|(i, k)| valid_accounts(i, k) && all.iter().filter(|(j, _)| j == i).count() == 1).cloned().collect()
}

/// `KEY=ed25519:BASE64` entries of one extension property (`;`-separated).
fn entries(v: &Value, k: &str) -> Vec<String> {
    v.get(k).and_then(Value::as_str).unwrap_or_default().split(';').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

/// The errors of reading or writing the marker.
#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("reading the tenant's organization object")]
    Organization(#[source] GraphError),
    #[error("the tenant's organization list names no organization id")]
    NoOrganization,
    #[error("reading the governance marker {EXTENSION_NAME} of organization {org}")]
    Read { org: String, #[source] source: GraphError },
    #[error("the governance marker {EXTENSION_NAME} of organization {org} would hold {size} bytes, more than the {MAX_MARKER_BYTES} kept under Graph's 2 KB limit for an open extension on a directory object (too many approved plans applied and not yet expired: make plans with a shorter `plan --valid-for`)")]
    TooLarge { org: String, size: usize },
    #[error("writing the governance marker {EXTENSION_NAME} of organization {org}")]
    Write { org: String, #[source] source: GraphError },
}

/// The read of the tenant's organization id (v1.0), which a reconcile
/// pass sends in its listings' `$batch`.
pub const ORGANIZATION: &str = "/organization?$select=id";

/// The tenant's organization id (`GET /organization`): the tenant id.
pub async fn organization_id(client: &GraphClient) -> Result<String, MarkerError> {
    let v = client.v1().get_json(ORGANIZATION).await.map_err(MarkerError::Organization)?;
    v.get("value")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|o| o.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(MarkerError::NoOrganization)
}

/// The path that lists the organization's open extensions: both of the
/// marker's, in one request (a reconcile pass sends it in its `$batch`).
pub fn extensions_path(org: &str) -> String {
    format!("/organization/{org}/extensions")
}

/// The tenant's marker, or `None` when it carries none (neither
/// extension). Any failure is an error: a marker that could not be read
/// is never taken for "no marker".
pub async fn read(client: &GraphClient) -> Result<Option<Marker>, MarkerError> {
    let org = organization_id(client).await?;
    read_of(client, &org).await
}

/// The extension named `name` among `list` (by `extensionName`, or its
/// `id`, which Graph sets to it on a directory object).
fn named<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().find(|e| ["extensionName", "id"].iter().any(|k| e.get(*k).and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name))))
}

/// The marker that `list` (the organization's open extensions) holds:
/// the facts of [`EXTENSION_NAME`], the trust root of
/// [`TRUST_EXTENSION_NAME`] when it exists (else the legacy trust fields
/// of the first). `None` when neither is there.
pub fn from_extensions(list: &[Value]) -> Option<Marker> {
    let facts = named(list, EXTENSION_NAME);
    let trust = named(list, TRUST_EXTENSION_NAME);
    if facts.is_none() && trust.is_none() {
        return None;
    }
    let empty = Value::Object(Default::default());
    let v = facts.unwrap_or(&empty);
    let t = trust.unwrap_or(v);
    let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Some(Marker {
        fingerprint: s("trustFingerprint"),
        recorded_at: s("recordedAt"),
        how: s("recordedBy"),
        approvers: entries(t, "approverKeys"),
        authors: entries(t, "authorKeys"),
        approvals_required: t.get("approvalsRequired").and_then(Value::as_str).and_then(|n| n.parse().ok()),
        applied_plans: applied_plans(v),
        ledger_seal: v.get("ledgerSeal").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
        delta_full_read: v.get("deltaFullRead").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
        ledger_seals: seal_entries(v),
        ledger_dirs: dir_entries(v),
        ledger_accounts: account_entries(v),
        // A trust extension whose sequence does not read counts as the
        // first recording (it exists: its trust fields are in force).
        trust_seq: trust.map(|t| t.get("trustSeq").and_then(Value::as_str).and_then(|n| n.trim().parse().ok()).unwrap_or(1)),
        trust_replaced: trust.and_then(|t| t.get("replacedFingerprint")).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
    })
}

/// [`read`] of the organization `org`, whose id the caller already read:
/// both extensions in one request (the organization's list of open
/// extensions, every page).
pub async fn read_of(client: &GraphClient, org: &str) -> Result<Option<Marker>, MarkerError> {
    let org = org.to_string();
    match client.v1().list_all(&extensions_path(&org)).await {
        Ok(list) => Ok(from_extensions(&list)),
        Err(source) => Err(MarkerError::Read { org, source }),
    }
}

/// PATCH the extension `name` of organization `org` with `body`, or create
/// it (`POST`) when Graph answers that it does not exist.
async fn put(client: &GraphClient, org: &str, name: &str, body: Value) -> Result<(), MarkerError> {
    let v1 = client.v1();
    let write = |source| MarkerError::Write { org: org.to_string(), source };
    match v1.patch_json(&format!("/organization/{org}/extensions/{name}"), body.clone()).await {
        Ok(_) => Ok(()),
        Err(GraphError::NotFound { .. }) => v1.post_json(&extensions_path(org), body).await.map(|_| ()).map_err(write),
        Err(source) => Err(write(source)),
    }
}

/// Update the facts of the marker of organization `org`, which the caller
/// read and found (`PATCH` of [`EXTENSION_NAME`], which on a directory
/// object's open extension replaces its data whole: `marker` carries every
/// fact, the ones it keeps; created when only the trust extension exists).
/// Never writes the trust extension, and writes no trust field into the
/// first once the trust extension exists ([`Marker::body`]).
pub async fn update_of(client: &GraphClient, org: &str, marker: &Marker) -> Result<(), MarkerError> {
    let mut marker = marker.clone();
    marker.fit_accounts();
    if marker.size() > MAX_MARKER_BYTES {
        return Err(MarkerError::TooLarge { org: org.to_string(), size: marker.size() });
    }
    pause_before_write(EXTENSION_NAME);
    put(client, org, EXTENSION_NAME, marker.body()).await
}

/// Record the trust root of `marker` (its fields, [`Marker::trust_seq`]
/// and [`Marker::trust_replaced`]) in [`TRUST_EXTENSION_NAME`] of
/// organization `org`: the only writer of that extension.
pub async fn update_trust_of(client: &GraphClient, org: &str, marker: &Marker) -> Result<(), MarkerError> {
    let body = marker.trust_body();
    let size = body.to_string().len();
    if size > MAX_MARKER_BYTES {
        return Err(MarkerError::TooLarge { org: org.to_string(), size });
    }
    pause_before_write(TRUST_EXTENSION_NAME);
    put(client, org, TRUST_EXTENSION_NAME, body).await
}

/// Test hook: with `TENANTCTL_TEST_PAUSE_BEFORE_MARKER_WRITE` set to
/// `HOLD@N`, the run's `N`-th marker write (of either extension; `HOLD`
/// alone: the first) is held between the read it was built from and its
/// request: a runner stalled there, or a write Graph answers that much
/// later (gov27). `HOLD` is a number of milliseconds, or a file the write
/// waits for (at most 2 minutes).
fn pause_before_write(name: &str) {
    static WRITES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Ok(v) = std::env::var("TENANTCTL_TEST_PAUSE_BEFORE_MARKER_WRITE") else { return };
    let (hold, nth) = match v.trim().rsplit_once('@') {
        Some((hold, n)) if n.parse::<usize>().is_ok() => (hold.to_string(), n.parse::<usize>().unwrap_or(1)),
        _ => (v.trim().to_string(), 1),
    };
    let this = WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if this != nth {
        return;
    }
    eprintln!("holding marker write {this}, of {name} (TENANTCTL_TEST_PAUSE_BEFORE_MARKER_WRITE)");
    match hold.parse::<u64>() {
        Ok(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
        Err(_) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while !std::path::Path::new(&hold).exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}
