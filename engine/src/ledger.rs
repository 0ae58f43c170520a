//! The ledger (`tenantctl.lock`): which Graph object each address owns.
//!
//! Only objects in the ledger are ever deleted. It is sorted, diff-friendly
//! TOML meant to be committed beside the desired state. The engine only
//! parses and renders it; callers read and write the file (atomically).
//!
//! While an apply runs, each change to the ledger is also an [`LedgerOp`]:
//! one JSON line appended to a write-ahead log beside the ledger, so a
//! change is recorded (and survives a kill) without rewriting the whole
//! ledger after each of thousands of changes. Loading replays the log over
//! the ledger; the end of a run compacts both into the ledger again.

use std::collections::BTreeMap;

use schema::Address;
use serde::{Deserialize, Serialize};

pub const LEDGER_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// Graph object id.
    pub id: String,
    /// Hash of the desired properties last applied, so drift can say
    /// whether the tenant or the desired state moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// When the object was last changed by tenantctl (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// A guest's access end as last applied (RFC 3339): extending it in
    /// desired state is then a change the plan shows and approvers approve
    /// (`governance::recorded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The user was applied as a service account: turning that off
    /// (`kind`, the service-accounts group) is a change the plan shows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// Where the object lives when its kind does not say (a
    /// `graph_object`'s version and collection, `beta:/deviceManagement/x`,
    /// from its desired [`LOCATION_PROP`]): an owned object desired state
    /// no longer names is then still read, and deleted or reported.
    /// Absent in ledgers written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The environment variable each secret was last sent from, by
    /// setting id (a Settings Catalog `secret_env`): another variable in
    /// desired state is then a change the plan shows (`crate::secret_env`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secret_env: std::collections::BTreeMap<String, String>,
    /// The declared fields last applied (approved), each with a short
    /// digest of its value, never the value: a field desired state stops
    /// declaring, or changes to what the tenant already has, is then a
    /// change the plan shows (`crate::governance::ratify`). Not kept for
    /// accounts (users and guests). Absent in older ledgers.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub approved_fields: std::collections::BTreeMap<String, String>,
    /// A guest's sponsor as last applied: another sponsor in desired state
    /// is then a change the plan shows (`governance::sponsor`). Not a
    /// Graph property tenantctl writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// Whether tenantctl created the object or adopted one the tenant
    /// already had (matched by its natural key, or `import`ed), as the
    /// apply that first recorded it knew. Absent in ledgers written before
    /// it was recorded: not known. Sealed like every fact (an absent one
    /// leaves the rendering, and so old seals, as they were). Prune
    /// deletes an adopted object only with `prune.adopted = true`
    /// (`crate::governance::origin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// How the object an entry owns came to be tenantctl's ([`LedgerEntry::origin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// tenantctl created it.
    Created,
    /// The tenant had it; tenantctl took it over.
    Adopted,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Created => "created",
            Origin::Adopted => "adopted",
        }
    }

    /// The origin of the entry a change records for its object `id`:
    /// the previous entry's when it owned that object, else what the
    /// change did (a create or replace made it; anything else found it).
    pub fn after(action: crate::plan::Action, id: &str, prev: Option<&LedgerEntry>) -> Option<Origin> {
        match prev.filter(|p| p.id == id) {
            Some(p) => p.origin,
            None if matches!(action, crate::plan::Action::Create | crate::plan::Action::Replace) => Some(Origin::Created),
            None => Some(Origin::Adopted),
        }
    }
}

/// The desired property whose value the ledger keeps as an entry's
/// [`LedgerEntry::location`].
pub const LOCATION_PROP: &str = "@tenantctl.collection";

/// The location a change's desired properties give, if any.
pub fn location_of(desired: Option<&crate::model::DesiredResource>) -> Option<String> {
    desired.and_then(|d| d.props.get(LOCATION_PROP)).and_then(serde_json::Value::as_str).map(str::to_string)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub version: u32,
    /// The tenant (its organization id) whose objects these are: planning
    /// or applying another tenant with this ledger is refused. A ledger
    /// written before this was recorded gets it at the next apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// This ledger's identity (16 random hex digits), given by the first
    /// run that seals it: the tenant's governance marker keeps a seal per
    /// ledger under it ([`crate::ledger_seal`]), so two desired-state
    /// directories on one tenant (or an export beside one) do not break
    /// each other's seal. Absent in a ledger never sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_id: Option<String>,
    #[serde(default)]
    pub resources: BTreeMap<Address, LedgerEntry>,
    /// Creates that were started but whose object id was never recorded
    /// (the run was killed mid-request), with when (RFC 3339): the object
    /// may exist but not be visible yet (replication lag), so the next run
    /// waits out the replication window before it may create it again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<Address, String>,
    /// What the tenant's seal says of this ledger: whether its facts are
    /// proof (hostile run 16: a pull request edited a committed ledger's
    /// `applied` hash to match its own change, which then ran unattended
    /// as a "restore"; see [`crate::ledger_seal`]). Set by whoever loads
    /// the ledger and reads the tenant's marker; never stored.
    #[serde(skip)]
    pub seal: crate::ledger_seal::Seal,
    /// Entries of the ledger as last compacted whose object its
    /// write-ahead log took away from them (forgot the address, or gave it
    /// another id) and that no address owns after the log: what the
    /// compacted ledger owned before the log, for when the tenant's seal
    /// proves that ledger but not the log (hostile run 23, finding 16: a
    /// forged `forget` line kept an undeclared account enabled). Set by
    /// [`Ledger::replay`]; never stored.
    #[serde(skip)]
    pub log_removed: BTreeMap<Address, LedgerEntry>,
    /// The accounts the journal beside the ledger shows tenantctl last
    /// created or adopted (address -> object id), read only when the
    /// tenant's seal does not prove which entries the ledger holds: an
    /// account whose entry was cut is then named, not kept silently
    /// ([`crate::governance::lost_ownership`]). Never stored.
    #[serde(skip)]
    pub journal_owned: BTreeMap<Address, String>,
    /// Entries whose object id or origin only a write-ahead log the
    /// tenant's seal does not prove gives (the sealed ledger under it has
    /// no such entry, or another id or origin): which object they own is
    /// the log's word, so they are judged adopted ([`crate::log_owned`];
    /// hostile run 28, finding 3). Set by whoever judges the seal; never
    /// stored.
    #[serde(skip)]
    pub log_owned: std::collections::BTreeSet<Address>,
    /// The accounts the ledger this directory last sealed owned, as the
    /// tenant's marker records them, when the seal does not prove this
    /// ledger: an account whose entry was cut is named even without a
    /// journal ([`crate::governance::sealed_accounts`]). Set by whoever
    /// judges the seal; never stored.
    #[serde(skip)]
    pub sealed_accounts: Option<crate::governance::sealed_accounts::Sketch>,
    /// The tenant's records of its other sealed ledgers, when the marker
    /// binds no ledger to this directory (moved, renamed, another remote's
    /// spelling): the loaded ledger's own identity is the pull request's
    /// to write, so each is tried, and one this ledger differs from by
    /// accounts the tenant's own explain names them (hostile run 31,
    /// finding 3). Set by whoever judges the seal; never stored.
    #[serde(skip)]
    pub sealed_accounts_unbound: Vec<crate::governance::sealed_accounts::Sketch>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger { version: LEDGER_VERSION, tenant_id: None, ledger_id: None, resources: BTreeMap::new(), pending: BTreeMap::new(), seal: Default::default(), log_removed: BTreeMap::new(), journal_owned: BTreeMap::new(), log_owned: Default::default(), sealed_accounts: None, sealed_accounts_unbound: Vec::new() }
    }
}

/// One change to the ledger, as appended to its write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum LedgerOp {
    /// `address` owns `entry.id` from now on.
    Record { address: Address, entry: LedgerEntry },
    /// `address` owns nothing any more.
    Forget { address: Address },
    /// A create of `address` is about to be sent (see [`Ledger::pending`]).
    Pending { address: Address, since: String },
    /// Graph refused the create of `address` with a definite answer (a 4xx
    /// to everything it sent: nothing of it can exist), so its pending
    /// mark is cleared (hostile run 23, finding 9).
    Refused { address: Address },
    /// The ledger's header as the run will write it (its tenant, identity,
    /// version and pending creates): logged before a run seals a ledger
    /// whose header changed, so a run killed between the seal and the
    /// compaction leaves a log that replays to the sealed ledger (hostile
    /// run 23, finding 3).
    Header {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ledger_id: Option<String>,
        version: u32,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pending: BTreeMap<Address, String>,
    },
    /// The ledger replayed up to here is the one the run that logged it
    /// then sealed (or tried to): a run boundary. The seal is judged
    /// against each of them too, so two runs killed in a row (one after
    /// its seal, the next before its own) leave only the second run's
    /// entries unproven (hostile run 23, finding 4).
    Checkpoint,
}

impl LedgerOp {
    /// The address the change is about (`None` for the header and a checkpoint).
    pub fn address(&self) -> Option<&Address> {
        match self {
            LedgerOp::Record { address, .. } | LedgerOp::Forget { address } | LedgerOp::Pending { address, .. } | LedgerOp::Refused { address } => Some(address),
            LedgerOp::Header { .. } | LedgerOp::Checkpoint => None,
        }
    }
}

/// Whether `id` is a ledger identity as tenantctl gives one: exactly
/// [`crate::ledger_seal::LEDGER_ID_CHARS`] lower-case hex digits. Anything
/// else could carry the marker's separators (`=`, `;`) or terminal
/// control characters (hostile run 23, findings 2 and 12).
pub fn valid_ledger_id(id: &str) -> bool {
    id.len() == crate::ledger_seal::LEDGER_ID_CHARS && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Line and column (1-based) of the value of the top-level key `key` in
/// the TOML `text`, when written on a line of its own (as tenantctl does).
fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_table = true;
        }
        if in_table {
            continue;
        }
        let rest = t.strip_prefix(key).or_else(|| t.strip_prefix(&format!("\"{key}\"")));
        if let Some(rest) = rest.map(str::trim_start).and_then(|r| r.strip_prefix('=')) {
            let value_at = line.len() - rest.trim_start().len();
            return Some((i + 1, value_at + 1));
        }
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger is not valid TOML: {0}")]
    Parse(String),
    #[error("ledger version {found} is newer than this tenantctl understands ({LEDGER_VERSION})")]
    Version { found: u32 },
    #[error("object id {id} is owned by both {first} and {second}")]
    SharedId { id: String, first: Address, second: Address },
    #[error("ledger log line {line}: {reason}")]
    Log { line: usize, reason: String },
    #[error("{}ledger_id {} is not a ledger identity ({} lower-case hex digits, as tenantctl gives one): an identity is never written by hand; restore the one tenantctl wrote, or remove the line (the ledger is then judged as naming none)", at.map(|(l, c)| format!("line {l}, column {c}: ")).unwrap_or_default(), crate::render::text_safe(&format!("{id:?}")), crate::ledger_seal::LEDGER_ID_CHARS)]
    BadId { id: String, at: Option<(usize, usize)> },
}

impl Ledger {
    pub fn parse(text: &str) -> Result<Ledger, LedgerError> {
        let mut ledger: Ledger = toml::from_str(text).map_err(|e| LedgerError::Parse(e.to_string()))?;
        // Built again from its sorted entries: deserialized entry by entry,
        // in key order, the map's nodes are about half full (at 100k
        // entries, 43 MB held for the whole run; issue 13).
        ledger.resources = std::mem::take(&mut ledger.resources).into_iter().collect();
        if ledger.version > LEDGER_VERSION {
            return Err(LedgerError::Version { found: ledger.version });
        }
        if let Some(id) = ledger.ledger_id.as_deref().filter(|id| !valid_ledger_id(id)) {
            return Err(LedgerError::BadId { id: id.to_string(), at: locate_key(text, "ledger_id") });
        }
        let mut owners: BTreeMap<&str, &Address> = BTreeMap::new();
        for (a, e) in &ledger.resources {
            if let Some(first) = owners.insert(&e.id, a) {
                return Err(LedgerError::SharedId { id: e.id.clone(), first: first.clone(), second: a.clone() });
            }
        }
        Ok(ledger)
    }

    /// The ledger with its write-ahead log replayed over it. A last line
    /// cut short by a kill (no final newline, not valid JSON) is ignored:
    /// its change was not recorded, and the next run finds its object by
    /// natural key. Any other bad line is an error.
    pub fn replay(self, log: &str) -> Result<Ledger, LedgerError> {
        Ok(self.replay_checkpoints(log)?.0)
    }

    /// [`Ledger::replay`], with the ledger as replayed at each
    /// [`LedgerOp::Checkpoint`] of the log (oldest first).
    pub fn replay_checkpoints(mut self, log: &str) -> Result<(Ledger, Vec<Ledger>), LedgerError> {
        let complete = log.ends_with('\n');
        let lines: Vec<&str> = log.lines().collect();
        let mut checkpoints = Vec::new();
        // What the compacted ledger owned, when the log may take some away.
        let before = lines.iter().any(|l| !l.trim().is_empty()).then(|| self.resources.clone());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LedgerOp>(line) {
                Ok(LedgerOp::Header { ledger_id: Some(id), .. }) if !valid_ledger_id(&id) => {
                    return Err(LedgerError::Log { line: i + 1, reason: LedgerError::BadId { id, at: None }.to_string() });
                }
                Ok(LedgerOp::Header { version, .. }) if version > LEDGER_VERSION => {
                    return Err(LedgerError::Log { line: i + 1, reason: LedgerError::Version { found: version }.to_string() });
                }
                Ok(LedgerOp::Checkpoint) => checkpoints.push(self.clone()),
                Ok(op) => self.apply_op(&op),
                Err(_) if i + 1 == lines.len() && !complete => {}
                Err(e) => return Err(LedgerError::Log { line: i + 1, reason: e.to_string() }),
            }
        }
        let mut l = self.checked()?;
        if let Some(before) = before {
            let owned: std::collections::BTreeSet<&str> = l.resources.values().map(|e| e.id.as_str()).collect();
            let removed: BTreeMap<Address, LedgerEntry> = before.into_iter().filter(|(a, e)| l.resources.get(a).is_none_or(|now| now.id != e.id) && !owned.contains(e.id.as_str())).collect();
            l.log_removed.extend(removed);
        }
        Ok((l, checkpoints))
    }

    /// The ledger, refused when one object id has two owners.
    fn checked(self) -> Result<Ledger, LedgerError> {
        let mut owners: BTreeMap<&str, &Address> = BTreeMap::new();
        for (a, e) in &self.resources {
            if let Some(first) = owners.insert(&e.id, a) {
                return Err(LedgerError::SharedId { id: e.id.clone(), first: first.clone(), second: a.clone() });
            }
        }
        Ok(self)
    }

    /// Apply one logged change.
    pub fn apply_op(&mut self, op: &LedgerOp) {
        match op {
            LedgerOp::Record { address, entry } => {
                self.pending.remove(address);
                // An id moves with its owner: no stale second owner. A
                // ledger holds each id once (`checked` refuses one that
                // does not, and every record keeps it so), so a record that
                // keeps its address's id has no other owner to remove: only
                // a new or moved id is looked for. The scan per record made
                // recording an exported 100k tenant's approved state (one
                // record per object, the same id each) quadratic: 16
                // minutes and counting (perf13).
                if self.resources.get(address).is_none_or(|e| e.id != entry.id) {
                    self.resources.retain(|a, e| a == address || e.id != entry.id);
                }
                self.resources.insert(address.clone(), entry.clone());
            }
            LedgerOp::Forget { address } => {
                self.pending.remove(address);
                self.resources.remove(address);
            }
            LedgerOp::Pending { address, since } => {
                self.pending.insert(address.clone(), since.clone());
            }
            LedgerOp::Refused { address } => {
                self.pending.remove(address);
            }
            LedgerOp::Header { tenant_id, ledger_id, version, pending } => {
                self.tenant_id = tenant_id.clone();
                self.ledger_id = ledger_id.clone();
                self.version = *version;
                self.pending = pending.clone();
            }
            LedgerOp::Checkpoint => {}
        }
    }

    /// The log line of one change (JSON, no newline).
    pub fn render_op(op: &LedgerOp) -> String {
        serde_json::to_string(op).unwrap_or_default()
    }

    pub fn render(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# tenantctl ledger: the Graph object each address owns. Written by tenantctl;\n\
             # commit it beside the desired state. Only objects listed here are ever deleted.\n{body}"
        )
    }

    pub fn id(&self, address: &Address) -> Option<&str> {
        self.resources.get(address).map(|e| e.id.as_str())
    }

    pub fn record(&mut self, address: Address, id: String, applied: Option<String>, changed_at: Option<String>) {
        self.pending.remove(&address);
        self.resources.insert(address, LedgerEntry { id, applied, changed_at, expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None });
    }

    pub fn forget(&mut self, address: &Address) -> Option<LedgerEntry> {
        self.pending.remove(address);
        self.resources.remove(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sorted() {
        let mut l = Ledger::default();
        l.record("group.b".parse().expect("test fixture"), "2".into(), None, None);
        l.record("group.a".parse().expect("test fixture"), "1".into(), Some("sha256:x".into()), None);
        let text = l.render();
        assert!(text.find("group.a").expect("test fixture") < text.find("group.b").expect("test fixture"));
        assert_eq!(Ledger::parse(&text).expect("test fixture"), l);
    }

    #[test]
    fn refuses_shared_ids_and_future_versions() {
        let text = "version = 1\n[resources.\"group.a\"]\nid = \"1\"\n[resources.\"group.b\"]\nid = \"1\"\n";
        assert!(matches!(Ledger::parse(text), Err(LedgerError::SharedId { .. })));
        assert!(matches!(Ledger::parse("version = 9\n"), Err(LedgerError::Version { found: 9 })));
        assert!(matches!(Ledger::parse("version = "), Err(LedgerError::Parse(_))));
    }

    #[test]
    fn an_identity_tenantctl_never_gives_is_refused_where_it_is_written() {
        let ok = "version = 1\nledger_id = \"0123456789abcdef\"\n";
        assert_eq!(Ledger::parse(ok).expect("a ledger").ledger_id.as_deref(), Some("0123456789abcdef"));
        for bad in ["0123456789ABCDEF", "0123456789abcdef=00;zz", "x\\u001b[1A", "0123"] {
            let text = format!("# c\nversion = 1\nledger_id  =  \"{bad}\"\n[resources.\"group.a\"]\nid = \"1\"\n");
            let e = Ledger::parse(&text).expect_err(bad).to_string();
            assert!(e.starts_with("line 3, column 15: ledger_id"), "{e}");
            assert!(!e.contains('\u{1b}'), "{e}");
        }
        // A log's header is held to the same rule, and replays the header.
        let header = LedgerOp::Header { tenant_id: Some("t".into()), ledger_id: Some("0123456789abcdef".into()), version: 1, pending: BTreeMap::new() };
        let (l, checkpoints) = Ledger::default().replay_checkpoints(&format!("{}\n{}\n", Ledger::render_op(&header), Ledger::render_op(&LedgerOp::Checkpoint))).expect("replays");
        assert_eq!((l.ledger_id.as_deref(), l.tenant_id.as_deref(), checkpoints.len()), (Some("0123456789abcdef"), Some("t"), 1));
        let bad = LedgerOp::Header { tenant_id: None, ledger_id: Some("a=b;c".into()), version: 1, pending: BTreeMap::new() };
        assert!(matches!(Ledger::default().replay(&format!("{}\n", Ledger::render_op(&bad))), Err(LedgerError::Log { line: 1, .. })));
    }

    #[test]
    fn a_log_replays_over_the_ledger_and_a_torn_last_line_is_ignored() {
        let mut base = Ledger::default();
        base.record("group.a".parse().expect("test fixture"), "1".into(), None, None);
        base.record("group.b".parse().expect("test fixture"), "2".into(), None, None);
        let ops = [
            LedgerOp::Pending { address: "group.c".parse().expect("test fixture"), since: "2026-01-01T00:00:00Z".into() },
            LedgerOp::Record { address: "group.c".parse().expect("test fixture"), entry: LedgerEntry { id: "3".into(), applied: Some("sha256:x".into()), changed_at: None, expires: None, service: false, location: None, secret_env: Default::default(), approved_fields: Default::default(), sponsor: None, origin: None } },
            LedgerOp::Forget { address: "group.a".parse().expect("test fixture") },
            LedgerOp::Pending { address: "group.d".parse().expect("test fixture"), since: "2026-01-01T00:00:01Z".into() },
        ];
        let mut log: String = ops.iter().map(|o| format!("{}\n", Ledger::render_op(o))).collect();
        log.push_str("{\"op\":\"record\",\"addr");
        let l = base.clone().replay(&log).expect("test fixture");
        assert_eq!(l.id(&"group.a".parse().expect("test fixture")), None);
        assert_eq!(l.id(&"group.c".parse().expect("test fixture")), Some("3"));
        assert_eq!(l.pending.keys().map(|a| a.to_string()).collect::<Vec<_>>(), vec!["group.d"]);
        // Compacted, it round-trips through TOML with the pending create.
        let mut compacted = l.clone();
        compacted.log_removed.clear();
        assert_eq!(Ledger::parse(&l.render()).expect("test fixture"), compacted);
        // What the log took from the compacted ledger is remembered.
        assert_eq!(l.log_removed.keys().map(|a| a.to_string()).collect::<Vec<_>>(), vec!["group.a"]);
        assert_eq!(l.log_removed[&"group.a".parse().expect("test fixture")].id, "1");
        // A bad line that is not the last is an error naming its line.
        let bad = format!("not json\n{}\n", Ledger::render_op(&ops[0]));
        assert!(matches!(base.replay(&bad), Err(LedgerError::Log { line: 1, .. })));
    }

    #[test]
    fn a_refused_create_clears_only_its_pending_mark() {
        let mut base = Ledger::default();
        base.record("group.a".parse().expect("test fixture"), "1".into(), Some("sha256:a".into()), None);
        let ops = [
            LedgerOp::Pending { address: "group.a".parse().expect("test fixture"), since: "2026-01-01T00:00:00Z".into() },
            LedgerOp::Pending { address: "group.b".parse().expect("test fixture"), since: "2026-01-01T00:00:00Z".into() },
            LedgerOp::Refused { address: "group.a".parse().expect("test fixture") },
        ];
        let log: String = ops.iter().map(|o| format!("{}\n", Ledger::render_op(o))).collect();
        assert!(log.contains(r#"{"op":"refused","address":"group.a"}"#), "{log}");
        let l = base.replay(&log).expect("replays");
        assert_eq!(l.pending.keys().map(|a| a.to_string()).collect::<Vec<_>>(), vec!["group.b"]);
        assert_eq!(l.id(&"group.a".parse().expect("test fixture")), Some("1"), "the entry is kept");
    }

    #[test]
    fn re_recording_every_entry_of_a_large_ledger_is_linear_and_a_moved_id_leaves_its_old_owner() {
        // Quadratic, this is 10^10 comparisons (minutes); linear, well
        // under a second in a debug build.
        const N: usize = 100_000;
        let mut l = Ledger::default();
        for i in 0..N {
            l.record(format!("user.u{i}").parse().expect("an address"), format!("id-{i}"), None, None);
        }
        let addresses: Vec<Address> = l.resources.keys().cloned().collect();
        for a in &addresses {
            let mut e = l.resources[a].clone();
            e.applied = Some("sha256:approved".into());
            l.apply_op(&LedgerOp::Record { address: a.clone(), entry: e });
        }
        assert_eq!(l.resources.len(), N);
        assert!(l.resources.values().all(|e| e.applied.as_deref() == Some("sha256:approved")));
        // An id recorded under another address moves there.
        let mut moved = l.resources[&addresses[0]].clone();
        moved.applied = None;
        l.apply_op(&LedgerOp::Record { address: "user.renamed".parse().expect("an address"), entry: moved.clone() });
        assert_eq!(l.id(&addresses[0]), None, "the old owner is gone");
        assert_eq!(l.id(&"user.renamed".parse().expect("an address")), Some(moved.id.as_str()));
        assert_eq!(l.resources.len(), N);
    }
}
