//! Delta queries for users and groups: a full sync paged with `$skiptoken`
//! ending in an `@odata.deltaLink`; later calls return only objects changed
//! since, `@removed` entries for deletions, and `members@delta` and
//! `owners@delta` for membership and ownership changes (when `$select`
//! names `members` / `owners`, as Graph's group delta does). Tokens carry the change-log sequence number and an
//! epoch; expiring the epoch (admin endpoint) forces clients to resync.
//!
//! An expired token is answered 400 `syncStateNotFound` with "The sync state
//! generation is not found. The delta token is expired and data must be
//! synchronized again." (Microsoft 365 Developer Blog, "Duration of change
//! tracking tokens for identity and education resources", 2020-07-03).

use crate::error::GraphError;
use crate::graph::{Ctx, GResp};
use crate::odata::{self, Query};
use crate::resources::{Spec, DIR_MAX, DIR_PAGE};
use crate::store::{ChangeKind, Tenant, MEMBERS, OWNERS};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn expired() -> GraphError {
    GraphError::new(400, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again.")
}

fn enc(s: String) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn dec(s: &str) -> Option<String> {
    String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

/// Where a delta page starts.
struct Window {
    /// 0 with `full` = initial sync.
    since: u64,
    upto: u64,
    full: bool,
    after: Option<String>,
}

fn parse_window(t: &Tenant, coll: &str, q: &Query) -> Result<Window, GraphError> {
    if let Some(tok) = &q.deltatoken {
        let raw = dec(tok).ok_or_else(expired)?;
        let parts: Vec<&str> = raw.splitn(4, ':').collect();
        match parts.as_slice() {
            ["d", c, epoch, seq] if *c == coll => {
                let epoch: u64 = epoch.parse().map_err(|_| expired())?;
                let since: u64 = seq.parse().map_err(|_| expired())?;
                if epoch != t.delta_epoch || since > t.seq() {
                    return Err(expired());
                }
                Ok(Window { since, upto: t.seq(), full: false, after: None })
            }
            _ => Err(expired()),
        }
    } else if let Some(tok) = &q.skiptoken {
        let raw = dec(tok).ok_or_else(expired)?;
        let parts: Vec<&str> = raw.splitn(7, ':').collect();
        match parts.as_slice() {
            ["s", c, epoch, full, since, upto, after] if *c == coll => {
                let epoch: u64 = epoch.parse().map_err(|_| expired())?;
                if epoch != t.delta_epoch {
                    return Err(expired());
                }
                Ok(Window {
                    since: since.parse().map_err(|_| expired())?,
                    upto: upto.parse().map_err(|_| expired())?,
                    full: *full == "1",
                    after: (!after.is_empty()).then(|| after.to_string()),
                })
            }
            _ => Err(expired()),
        }
    } else {
        Ok(Window { since: 0, upto: t.seq(), full: true, after: None })
    }
}

/// Link changes of one object in a delta window, oldest first (true = added).
#[derive(Default)]
struct Changes {
    members: Vec<(String, bool)>,
    owners: Vec<(String, bool)>,
}

fn member_ref(t: &Tenant, id: &str) -> Value {
    json!({"@odata.type": crate::directory::member_odata_type(t, id), "id": id})
}

pub fn delta(t: &Tenant, ctx: &Ctx, spec: &Spec, q: &Query) -> Result<GResp, GraphError> {
    let coll = spec.coll;
    let ids_filter = match &q.filter {
        None => None,
        Some(f) => {
            let ids = f.id_terms().ok_or_else(|| GraphError::new(400, "Request_UnsupportedQuery", "Unsupported query: only 'id eq' filters are allowed with delta."))?;
            if ids.len() > 50 {
                return Err(GraphError::bad_request("Too many ids in filter: at most 50 are allowed with delta."));
            }
            Some(ids)
        }
    };
    // Graph pages delta by `Prefer: odata.maxpagesize`, not by `$top`.
    if q.top.is_some() {
        return Err(GraphError::new(400, "Request_UnsupportedQuery", "Unsupported query: $top is not supported with delta; use the Prefer: odata.maxpagesize header."));
    }
    let size = ctx.max_page_size.unwrap_or(DIR_PAGE).clamp(1, DIR_MAX);
    let w = parse_window(t, coll, q)?;
    let want_members = coll == "groups" && q.select.as_ref().is_some_and(|s| s.iter().any(|p| p == MEMBERS));
    let want_owners = coll == "groups" && q.select.as_ref().is_some_and(|s| s.iter().any(|p| p == OWNERS));
    let select: Option<Vec<String>> = q.select.as_ref().map(|s| s.iter().filter(|p| *p != MEMBERS && *p != OWNERS).cloned().collect());
    // A link list in full (initial sync), or the changes to it.
    let links = |id: &str, rel: &str, changes: Option<&Vec<(String, bool)>>| -> Value {
        let items: Vec<Value> = match changes {
            None => t.links(id, rel).map(|s| s.iter().map(|m| member_ref(t, m)).collect()).unwrap_or_default(),
            Some(ch) => ch
                .iter()
                .map(|(m, added)| {
                    let mut r = member_ref(t, m);
                    if !added {
                        r["@removed"] = json!({"reason": "deleted"});
                    }
                    r
                })
                .collect(),
        };
        Value::Array(items)
    };
    let render_obj = |id: &str, changes: Option<&Changes>| -> Option<Value> {
        let rec = t.get(coll, id)?;
        let mut out = rec.data.clone();
        out = match (&select, spec.default_select) {
            (Some(s), _) => odata::select(out, s, &[]),
            (None, Some(d)) => odata::select(out, &d.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &[]),
            (None, None) => out,
        };
        // Incremental rounds carry a link list only when it changed.
        if want_members && changes.is_none_or(|c| !c.members.is_empty()) {
            out.insert("members@delta".into(), links(id, MEMBERS, changes.map(|c| &c.members)));
        }
        if want_owners && changes.is_none_or(|c| !c.owners.is_empty()) {
            out.insert("owners@delta".into(), links(id, OWNERS, changes.map(|c| &c.owners)));
        }
        Some(Value::Object(out))
    };
    let mut value = Vec::new();
    let mut last: Option<String> = None;
    let mut more = false;
    let in_filter = |id: &str| ids_filter.as_ref().is_none_or(|ids| ids.iter().any(|i| i == id));
    if w.full {
        let empty = BTreeMap::new();
        let all = t.coll(coll).unwrap_or(&empty);
        let iter: Box<dyn Iterator<Item = &String>> = match &w.after {
            Some(a) => Box::new(all.range::<String, _>((std::ops::Bound::Excluded(a.clone()), std::ops::Bound::Unbounded)).map(|(k, _)| k)),
            None => Box::new(all.keys()),
        };
        for id in iter.filter(|id| in_filter(id)) {
            if value.len() == size {
                more = true;
                break;
            }
            if let Some(v) = render_obj(id, None) {
                value.push(v);
                last = Some(id.clone());
            }
        }
    } else {
        // Collapse the change log in (since, upto] per object.
        let mut touched: BTreeMap<String, Changes> = BTreeMap::new();
        for c in t.changes_since(w.since).iter().take_while(|c| c.seq <= w.upto).filter(|c| c.coll == coll) {
            let e = touched.entry(c.id.clone()).or_default();
            match &c.kind {
                ChangeKind::MemberAdd(m) => e.members.push((m.clone(), true)),
                ChangeKind::MemberRemove(m) => e.members.push((m.clone(), false)),
                ChangeKind::OwnerAdd(m) => e.owners.push((m.clone(), true)),
                ChangeKind::OwnerRemove(m) => e.owners.push((m.clone(), false)),
                _ => {}
            }
        }
        let start = match &w.after {
            Some(a) => std::ops::Bound::Excluded(a.clone()),
            None => std::ops::Bound::Unbounded,
        };
        for (id, changes) in touched.range::<String, _>((start, std::ops::Bound::Unbounded)).filter(|(id, _)| in_filter(id)) {
            if value.len() == size {
                more = true;
                break;
            }
            last = Some(id.clone());
            if t.get(coll, id).is_some() {
                if let Some(v) = render_obj(id, Some(changes)) {
                    value.push(v);
                }
            } else {
                let reason = if t.get("deletedItems", id).is_some() { "changed" } else { "deleted" };
                value.push(json!({"id": id, "@removed": {"reason": reason}}));
            }
        }
    }
    let base = format!("{}/{}/delta", ctx.root(), coll);
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(ctx.context(coll)));
    if more {
        let tok = enc(format!("s:{coll}:{}:{}:{}:{}:{}", t.delta_epoch, u8::from(w.full), w.since, w.upto, last.unwrap_or_default()));
        body.insert("@odata.nextLink".into(), json!(odata::link(&base, &q.raw, &[("$skiptoken", tok)])));
    } else {
        let tok = enc(format!("d:{coll}:{}:{}", t.delta_epoch, w.upto));
        body.insert("@odata.deltaLink".into(), json!(odata::link(&base, &q.raw, &[("$deltatoken", tok)])));
    }
    body.insert("value".into(), Value::Array(value));
    let mut resp = GResp::json(200, Value::Object(body));
    if ctx.max_page_size.is_some() {
        resp.headers.push(("Preference-Applied".into(), format!("odata.maxpagesize={size}")));
    }
    Ok(resp)
}

/// The page size asked for by `Prefer: odata.maxpagesize=N` among the
/// `Prefer` header values given (preferences are comma-separated; the
/// first valid one counts). Graph caps it at its own maximum (999 for
/// directory objects) and ignores values it cannot read.
pub fn max_page_size<'a>(prefer: impl Iterator<Item = &'a str>) -> Option<usize> {
    prefer
        .flat_map(|v| v.split(','))
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("odata.maxpagesize").then(|| v.trim().trim_matches('"').parse::<usize>().ok()).flatten()
        })
        .find(|n| *n > 0)
}
