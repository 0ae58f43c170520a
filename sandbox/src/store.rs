//! The tenant's state: an authoritative in-memory model (BTreeMaps keyed by
//! collection and id, so paging by id is a range scan) with write-through to
//! an embedded SQLite database in WAL mode. Every Graph write records its
//! effects as pending operations that are flushed in one transaction before
//! the response is sent, so a crash mid-write leaves the previous state.

use crate::error::SandboxError;
use rusqlite::{params, Connection};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One stored object.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The properties Graph returns.
    pub data: Map<String, Value>,
    /// Navigation data kept apart from the entity (assignments, scheduled actions).
    pub nav: Map<String, Value>,
    /// Wall-clock creation time in ms, for replication lag.
    pub created_ms: i64,
}

/// What a change-log entry records, for delta queries.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Upsert,
    SoftDelete,
    HardDelete,
    MemberAdd(String),
    MemberRemove(String),
    /// Owners, tracked by group delta as `owners@delta`.
    OwnerAdd(String),
    OwnerRemove(String),
}

impl ChangeKind {
    fn encode(&self) -> (&'static str, &str) {
        match self {
            ChangeKind::Upsert => ("upsert", ""),
            ChangeKind::SoftDelete => ("soft", ""),
            ChangeKind::HardDelete => ("hard", ""),
            ChangeKind::MemberAdd(m) => ("madd", m),
            ChangeKind::MemberRemove(m) => ("mrem", m),
            ChangeKind::OwnerAdd(m) => ("oadd", m),
            ChangeKind::OwnerRemove(m) => ("orem", m),
        }
    }
    fn decode(kind: &str, arg: String) -> Option<ChangeKind> {
        Some(match kind {
            "upsert" => ChangeKind::Upsert,
            "soft" => ChangeKind::SoftDelete,
            "hard" => ChangeKind::HardDelete,
            "madd" => ChangeKind::MemberAdd(arg),
            "mrem" => ChangeKind::MemberRemove(arg),
            "oadd" => ChangeKind::OwnerAdd(arg),
            "orem" => ChangeKind::OwnerRemove(arg),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    pub coll: String,
    pub id: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone)]
enum Op {
    Object(String, String),
    Link(String, &'static str, String),
    Change(Change),
    Meta(String, String),
}

/// The relationship names kept as link sets on groups.
pub const MEMBERS: &str = "members";
pub const OWNERS: &str = "owners";

fn rel_static(rel: &str) -> Option<&'static str> {
    match rel {
        MEMBERS => Some(MEMBERS),
        OWNERS => Some(OWNERS),
        _ => None,
    }
}

/// Tenant identity, fixed at start.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    pub tenant_id: String,
    pub domain: String,
    pub display_name: String,
}

/// The whole tenant.
pub struct Tenant {
    pub info: TenantInfo,
    colls: BTreeMap<String, BTreeMap<String, Record>>,
    links: HashMap<(String, &'static str), BTreeSet<String>>,
    upn: HashMap<String, String>,
    seq: u64,
    log: Vec<Change>,
    /// Delta tokens minted before this epoch are expired.
    pub delta_epoch: u64,
    meta: HashMap<String, String>,
    pending: Vec<Op>,
    db: Option<Db>,
}

struct Db {
    conn: Connection,
    path: PathBuf,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> SandboxError + '_ {
    move |source| SandboxError::Store { path: path.display().to_string(), source }
}

impl Tenant {
    /// A tenant kept only in memory.
    pub fn in_memory(info: TenantInfo) -> Tenant {
        Tenant {
            info,
            colls: BTreeMap::new(),
            links: HashMap::new(),
            upn: HashMap::new(),
            seq: 0,
            log: Vec::new(),
            delta_epoch: 0,
            meta: HashMap::new(),
            pending: Vec::new(),
            db: None,
        }
    }

    /// Opens (creating if needed) the database at `path` and loads everything.
    pub fn open(info: TenantInfo, path: &Path) -> Result<Tenant, SandboxError> {
        let e = db_err(path);
        crate::state_file::check(path)?;
        let conn = Connection::open(path).map_err(&e)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS objects(coll TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, nav TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(coll, id));
             CREATE TABLE IF NOT EXISTS links(grp TEXT NOT NULL, rel TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY(grp, rel, member));
             CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY, coll TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, arg TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .map_err(&e)?;
        let mut t = Tenant::in_memory(info);
        let corrupt = |detail: String| SandboxError::Corrupt { path: path.display().to_string(), detail };
        {
            let mut stmt = conn.prepare("SELECT coll, id, data, nav, created_ms FROM objects").map_err(&e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?)))
                .map_err(&e)?;
            for row in rows {
                let (coll, id, data, nav, created_ms) = row.map_err(&e)?;
                let data: Map<String, Value> = serde_json::from_str(&data).map_err(|err| corrupt(format!("object {coll}/{id}: {err}")))?;
                let nav: Map<String, Value> = serde_json::from_str(&nav).map_err(|err| corrupt(format!("object {coll}/{id}: {err}")))?;
                if coll == "users" {
                    if let Some(u) = data.get("userPrincipalName").and_then(Value::as_str) {
                        t.upn.insert(u.to_lowercase(), id.clone());
                    }
                }
                t.colls.entry(coll).or_default().insert(id, Record { data, nav, created_ms });
            }
            let mut stmt = conn.prepare("SELECT grp, rel, member FROM links").map_err(&e)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))).map_err(&e)?;
            for row in rows {
                let (g, rel, m) = row.map_err(&e)?;
                let rel = rel_static(&rel).ok_or_else(|| corrupt(format!("unknown link kind {rel}")))?;
                t.links.entry((g, rel)).or_default().insert(m);
            }
            let mut stmt = conn.prepare("SELECT seq, coll, id, kind, arg FROM changes ORDER BY seq").map_err(&e)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?)))
                .map_err(&e)?;
            for row in rows {
                let (seq, coll, id, kind, arg) = row.map_err(&e)?;
                let kind = ChangeKind::decode(&kind, arg).ok_or_else(|| corrupt(format!("unknown change kind at seq {seq}")))?;
                let seq = u64::try_from(seq).map_err(|_| corrupt(format!("negative change seq {seq}")))?;
                t.log.push(Change { seq, coll, id, kind });
            }
            let mut stmt = conn.prepare("SELECT key, value FROM meta").map_err(&e)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(&e)?;
            for row in rows {
                let (k, v) = row.map_err(&e)?;
                match k.as_str() {
                    "seq" => t.seq = v.parse().map_err(|_| corrupt("bad seq".into()))?,
                    "delta_epoch" => t.delta_epoch = v.parse().map_err(|_| corrupt("bad delta_epoch".into()))?,
                    _ => {
                        t.meta.insert(k, v);
                    }
                }
            }
        }
        t.seq = t.seq.max(t.log.last().map(|c| c.seq).unwrap_or(0));
        t.db = Some(Db { conn, path: path.to_path_buf() });
        Ok(t)
    }

    pub fn is_persistent(&self) -> bool {
        self.db.is_some()
    }

    pub fn coll(&self, coll: &str) -> Option<&BTreeMap<String, Record>> {
        self.colls.get(coll)
    }

    pub fn get(&self, coll: &str, id: &str) -> Option<&Record> {
        self.colls.get(coll)?.get(id)
    }

    pub fn len(&self, coll: &str) -> usize {
        self.colls.get(coll).map_or(0, BTreeMap::len)
    }

    /// Inserts or replaces an object and records the change.
    pub fn put(&mut self, coll: &str, id: &str, rec: Record) {
        if coll == "users" {
            if let Some(old) = self.get(coll, id).and_then(|r| r.data.get("userPrincipalName")).and_then(Value::as_str) {
                let old = old.to_lowercase();
                self.upn.remove(&old);
            }
            if let Some(u) = rec.data.get("userPrincipalName").and_then(Value::as_str) {
                self.upn.insert(u.to_lowercase(), id.to_string());
            }
        }
        self.colls.entry(coll.to_string()).or_default().insert(id.to_string(), rec);
        self.pending.push(Op::Object(coll.to_string(), id.to_string()));
        self.log_change(coll, id, ChangeKind::Upsert);
    }

    /// Changes an object in place.
    pub fn update(&mut self, coll: &str, id: &str, f: impl FnOnce(&mut Record)) -> bool {
        let Some(mut rec) = self.get(coll, id).cloned() else { return false };
        f(&mut rec);
        self.put(coll, id, rec);
        true
    }

    /// Removes an object; `kind` says how delta reports it.
    pub fn remove(&mut self, coll: &str, id: &str, kind: ChangeKind) -> Option<Record> {
        let rec = self.colls.get_mut(coll)?.remove(id)?;
        if coll == "users" {
            if let Some(u) = rec.data.get("userPrincipalName").and_then(Value::as_str) {
                self.upn.remove(&u.to_lowercase());
            }
        }
        self.pending.push(Op::Object(coll.to_string(), id.to_string()));
        self.log_change(coll, id, kind);
        Some(rec)
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&str> {
        self.upn.get(&upn.to_lowercase()).map(String::as_str)
    }

    pub fn links(&self, group: &str, rel: &str) -> Option<&BTreeSet<String>> {
        let rel = rel_static(rel)?;
        self.links.get(&(group.to_string(), rel))
    }

    /// Adds a link; false if it was already there.
    pub fn add_link(&mut self, group: &str, rel: &str, member: &str) -> bool {
        let Some(rel) = rel_static(rel) else { return false };
        let added = self.links.entry((group.to_string(), rel)).or_default().insert(member.to_string());
        if added {
            self.pending.push(Op::Link(group.to_string(), rel, member.to_string()));
            if rel == MEMBERS {
                self.log_change("groups", group, ChangeKind::MemberAdd(member.to_string()));
            } else if rel == OWNERS {
                self.log_change("groups", group, ChangeKind::OwnerAdd(member.to_string()));
            } else {
                self.log_change("groups", group, ChangeKind::Upsert);
            }
        }
        added
    }

    /// Removes a link; false if it was not there.
    pub fn remove_link(&mut self, group: &str, rel: &str, member: &str) -> bool {
        let Some(rel) = rel_static(rel) else { return false };
        let removed = self.links.get_mut(&(group.to_string(), rel)).is_some_and(|s| s.remove(member));
        if removed {
            self.pending.push(Op::Link(group.to_string(), rel, member.to_string()));
            if rel == MEMBERS {
                self.log_change("groups", group, ChangeKind::MemberRemove(member.to_string()));
            } else if rel == OWNERS {
                self.log_change("groups", group, ChangeKind::OwnerRemove(member.to_string()));
            } else {
                self.log_change("groups", group, ChangeKind::Upsert);
            }
        }
        removed
    }

    /// Drops every link from or to `id` (on permanent deletion).
    pub fn purge_links(&mut self, id: &str) {
        let keys: Vec<(String, &'static str)> = self.links.keys().cloned().collect();
        for (g, rel) in keys {
            if g == id {
                let members: Vec<String> = self.links.get(&(g.clone(), rel)).map(|s| s.iter().cloned().collect()).unwrap_or_default();
                for m in members {
                    self.remove_link(&g, rel, &m);
                }
            } else if self.links.get(&(g.clone(), rel)).is_some_and(|s| s.contains(id)) {
                self.remove_link(&g, rel, id);
            }
        }
    }

    /// Groups that list `id` under `rel`.
    pub fn groups_with(&self, rel: &str, id: &str) -> Vec<String> {
        let mut v: Vec<String> = self.links.iter().filter(|((_, r), s)| *r == rel && s.contains(id)).map(|((g, _), _)| g.clone()).collect();
        v.sort();
        v
    }

    /// Records a change for an object that lives elsewhere (e.g. purged from deleted items).
    pub fn log_external(&mut self, coll: &str, id: &str, kind: ChangeKind) {
        self.log_change(coll, id, kind);
    }

    fn log_change(&mut self, coll: &str, id: &str, kind: ChangeKind) {
        if coll != "users" && coll != "groups" {
            return;
        }
        self.seq += 1;
        let c = Change { seq: self.seq, coll: coll.to_string(), id: id.to_string(), kind };
        self.log.push(c.clone());
        self.pending.push(Op::Change(c));
    }

    /// The sequence number of the latest change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Changes after `seq`, oldest first.
    pub fn changes_since(&self, seq: u64) -> &[Change] {
        let start = self.log.partition_point(|c| c.seq <= seq);
        &self.log[start..]
    }

    pub fn expire_delta_tokens(&mut self) {
        self.delta_epoch = self.seq + 1;
        self.pending.push(Op::Meta("delta_epoch".into(), self.delta_epoch.to_string()));
    }

    /// A stored setting (e.g. the client secret of a persistent sandbox).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) {
        self.meta.insert(key.to_string(), value.to_string());
        self.pending.push(Op::Meta(key.to_string(), value.to_string()));
    }

    /// Writes pending operations in one transaction. In memory, just clears them.
    pub fn flush(&mut self) -> Result<(), SandboxError> {
        let ops = std::mem::take(&mut self.pending);
        let Some(db) = self.db.as_mut() else { return Ok(()) };
        if ops.is_empty() {
            return Ok(());
        }
        let e = db_err(&db.path);
        let tx = db.conn.transaction().map_err(&e)?;
        {
            let mut put_obj = tx.prepare_cached("INSERT OR REPLACE INTO objects(coll, id, data, nav, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(&e)?;
            let mut del_obj = tx.prepare_cached("DELETE FROM objects WHERE coll = ?1 AND id = ?2").map_err(&e)?;
            let mut put_link = tx.prepare_cached("INSERT OR IGNORE INTO links(grp, rel, member) VALUES (?1, ?2, ?3)").map_err(&e)?;
            let mut del_link = tx.prepare_cached("DELETE FROM links WHERE grp = ?1 AND rel = ?2 AND member = ?3").map_err(&e)?;
            let mut put_change = tx.prepare_cached("INSERT OR REPLACE INTO changes(seq, coll, id, kind, arg) VALUES (?1, ?2, ?3, ?4, ?5)").map_err(&e)?;
            let mut put_meta = tx.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)").map_err(&e)?;
            let mut done_objects = std::collections::HashSet::new();
            for op in ops.iter().rev() {
                let Op::Object(coll, id) = op else { continue };
                if !done_objects.insert((coll.as_str(), id.as_str())) {
                    continue;
                }
                match self.colls.get(coll).and_then(|c| c.get(id)) {
                    Some(rec) => {
                        let data = Value::Object(rec.data.clone()).to_string();
                        let nav = Value::Object(rec.nav.clone()).to_string();
                        put_obj.execute(params![coll, id, data, nav, rec.created_ms]).map_err(&e)?;
                    }
                    None => {
                        del_obj.execute(params![coll, id]).map_err(&e)?;
                    }
                }
            }
            for op in &ops {
                match op {
                    Op::Object(..) => {}
                    Op::Link(g, rel, m) => {
                        let present = self.links.get(&(g.clone(), *rel)).is_some_and(|s| s.contains(m));
                        if present {
                            put_link.execute(params![g, rel, m]).map_err(&e)?;
                        } else {
                            del_link.execute(params![g, rel, m]).map_err(&e)?;
                        }
                    }
                    Op::Change(c) => {
                        let (kind, arg) = c.kind.encode();
                        let seq = i64::try_from(c.seq).unwrap_or(i64::MAX);
                        put_change.execute(params![seq, c.coll, c.id, kind, arg]).map_err(&e)?;
                    }
                    Op::Meta(k, v) => {
                        put_meta.execute(params![k, v]).map_err(&e)?;
                    }
                }
            }
            put_meta.execute(params!["seq", self.seq.to_string()]).map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        Ok(())
    }

    /// Flushes and checkpoints the WAL into the main database file.
    pub fn close(&mut self) -> Result<(), SandboxError> {
        self.flush()?;
        if let Some(db) = self.db.as_ref() {
            db.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(db_err(&db.path))?;
        }
        Ok(())
    }
}
