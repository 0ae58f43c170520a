//! Ring-by-ring rollout: which ring copies of a policy may change this run.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use schema::Address;
use serde::{Deserialize, Serialize};

use crate::model::DesiredModel;
use crate::plan::{Action, Change};


/// How planning treats rollouts this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RolloutMode {
    /// Promote one ring at a time after each soak.
    #[default]
    Normal,
    /// Change no ring (`--hold-rollout`).
    Hold,
    /// Ignore soak times: every ring now (`--force-rollout`).
    Force,
}

/// A per-ring copy of a policy: which rollout it belongs to and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingOf {
    /// The policy as declared (`device_configuration.windows-restrictions`).
    pub policy: Address,
    /// Ring group keys in order.
    pub rings: Vec<String>,
    /// This copy's position in `rings`.
    pub index: usize,
    /// Soak time in seconds.
    pub soak_secs: i64,
}

/// A ring that has changes waiting for the previous ring to soak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingWait {
    pub address: Address,
    pub ring: String,
    /// When it may be promoted (absent when it waits for an earlier ring to
    /// be changed first, or for a hold to be lifted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub reason: String,
}

/// Parse a soak time such as `48h`, `2d`, `90m`, `30s` (the desired-state
/// grammar, [`schema::kinds::rollout::parse_duration`]).
pub fn parse_soak(s: &str) -> Option<i64> {
    schema::kinds::rollout::parse_duration(s)
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

/// `t + secs`, saturating instead of panicking on absurd soak times.
fn after(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    Duration::try_seconds(secs).and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The address of ring `i`'s copy of a rolled-out policy.
fn ring_copy(ring: &RingOf, i: usize) -> Address {
    Address::new(ring.policy.kind, format!("{}@{}", ring.policy.key, ring.rings.get(i).map(String::as_str).unwrap_or_default()))
}

/// Hold back ring copies that may not change yet. A ring may change when
/// no earlier ring has changes of its own in this plan and every earlier
/// ring last changed (`converged_at`: the later of the ledger's sealed
/// `changed_at` and the live object's `lastModifiedDateTime`) at least
/// `soak` ago: the latest earlier change counts, so a ring that happened to
/// be in sync already cannot be used to skip a soak. Returns the changes
/// kept, and the rings that wait; rings waiting for an earlier ring say
/// when they could be promoted at the earliest, if every earlier ring is
/// applied on time.
pub fn gate_rollouts(
    changes: Vec<Change>,
    desired: &DesiredModel,
    converged_at: &dyn Fn(&Address) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    mode: RolloutMode,
) -> (Vec<Change>, Vec<RingWait>) {
    let changing: BTreeSet<Address> = changes.iter().filter(|c| c.action != Action::Delete && c.action != Action::Forget).map(|c| c.address.clone()).collect();
    let mut keep = Vec::new();
    let mut waits = Vec::new();
    // When each waiting ring may change: known (soaking), or after an
    // earlier ring (estimated below).
    let mut soaking: BTreeMap<Address, DateTime<Utc>> = BTreeMap::new();
    let mut behind: BTreeSet<Address> = BTreeSet::new();
    for mut c in changes {
        // A policy that now rolls out ring by ring replaces its old single
        // object: keep that object until every ring has its own copy, so
        // no ring is left without the policy meanwhile.
        if c.action == Action::Delete && mode != RolloutMode::Force {
            let mut pending: Vec<&RingOf> = desired.rings.values().filter(|r| r.policy == c.address && changing.contains(&ring_copy(r, r.index))).collect();
            pending.sort_by_key(|r| r.index);
            let names: Vec<&str> = pending.iter().filter_map(|r| r.rings.get(r.index).map(String::as_str)).collect();
            if let Some(ring) = names.first().map(|n| n.to_string()) {
                waits.push(RingWait {
                    address: c.address.clone(),
                    ring,
                    until: None,
                    reason: format!("the rollout replaces it; kept until every ring has its own copy (pending: {})", names.join(", ")),
                });
                continue;
            }
        }
        let ring = desired.rings.get(&c.address);
        let Some(ring) = ring.filter(|_| c.action != Action::Delete && c.action != Action::Forget) else {
            keep.push(c);
            continue;
        };
        let name = |i: usize| ring.rings.get(i).cloned().unwrap_or_default();
        let ring_name = name(ring.index);
        let total = ring.rings.len();
        match mode {
            RolloutMode::Hold => {
                waits.push(RingWait { address: c.address.clone(), ring: ring_name, until: None, reason: "held by --hold-rollout".into() });
                continue;
            }
            RolloutMode::Force => {
                c.notes.push(format!("rollout: ring {} of {total} ({ring_name}), soak ignored by --force-rollout", ring.index + 1));
                keep.push(c);
                continue;
            }
            RolloutMode::Normal => {}
        }
        if ring.index == 0 {
            c.notes.push(format!("rollout: ring 1 of {total} ({ring_name}); later rings follow one at a time after each soak"));
            keep.push(c);
            continue;
        }
        if let Some(earlier) = (0..ring.index).find(|i| changing.contains(&ring_copy(ring, *i))) {
            behind.insert(c.address.clone());
            waits.push(RingWait { address: c.address.clone(), ring: ring_name, until: None, reason: format!("waiting for {} to be changed and soak", name(earlier)) });
            continue;
        }
        let latest = (0..ring.index).filter_map(|i| converged_at(&ring_copy(ring, i)).map(|t| (t, i))).max();
        let soak = schema::kinds::rollout::format_duration(ring.soak_secs);
        match latest {
            Some((t, i)) if now < after(t, ring.soak_secs) => {
                let until = after(t, ring.soak_secs);
                soaking.insert(c.address.clone(), until);
                waits.push(RingWait {
                    address: c.address.clone(),
                    ring: ring_name,
                    until: Some(fmt_time(until)),
                    reason: format!("waiting until {} ({} changed at {}, soak {soak})", fmt_time(until), name(i), fmt_time(t)),
                });
            }
            Some((_, i)) => {
                c.notes.push(format!("rollout: ring {} of {total} ({ring_name}); {} has soaked ({soak})", ring.index + 1, name(i)));
                keep.push(c);
            }
            // No earlier ring has a known change time (no ledger record, and
            // its live copy shows neither lastModifiedDateTime nor
            // createdDateTime): whether it soaked is unknown, so the ring
            // waits rather than starting at once.
            None => waits.push(RingWait {
                address: c.address.clone(),
                ring: ring_name,
                until: None,
                reason: format!(
                    "no earlier ring has a known change time (no ledger record, no lastModifiedDateTime nor createdDateTime live), so its soak ({soak}) cannot be proved; apply the earlier rings again, or --force-rollout"
                ),
            }),
        }
    }
    // Rings behind an earlier changing ring: when they could follow, if
    // each ring before them is applied as soon as it may be.
    let now_changing: BTreeSet<&Address> = keep.iter().map(|c| &c.address).collect();
    for w in waits.iter_mut().filter(|w| behind.contains(&w.address)) {
        let Some(ring) = desired.rings.get(&w.address) else { continue };
        let mut when: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(ring.index + 1);
        for i in 0..=ring.index {
            let a = ring_copy(ring, i);
            let latest_before = when.iter().flatten().max().copied();
            let t = if now_changing.contains(&a) {
                Some(now)
            } else if let Some(u) = soaking.get(&a) {
                Some(*u)
            } else if behind.contains(&a) {
                latest_before.map(|t| after(t, ring.soak_secs))
            } else {
                converged_at(&a)
            };
            when.push(t);
        }
        if let Some(t) = when.last().copied().flatten() {
            w.reason.push_str(&format!(" ({} at the earliest)", fmt_time(t)));
        }
    }
    // In rollout order, not address order (`@mwd-broad` sorts first).
    waits.sort_by_key(|w| desired.rings.get(&w.address).map(|r| (r.policy.clone(), r.index)));
    (keep, waits)
}
