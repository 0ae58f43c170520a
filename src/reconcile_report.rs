//! What one reconcile pass did, as written to the history directory and
//! printed: the pass report, the changes self-heal applied, failed or held,
//! and its one-paragraph summary.

use std::collections::BTreeSet;

use engine::drift::DriftReport;
use serde::{Deserialize, Serialize};

/// A change held back from self-heal, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub address: String,
    pub action: String,
    pub reason: String,
}

/// One pass, as written to the history directory. Readable as a
/// `DriftReport` (the drift fields are flattened in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassReport {
    #[serde(flatten)]
    pub drift: DriftReport,
    pub pass: u64,
    pub self_heal: bool,
    pub window_open: bool,
    /// Changes self-heal applied (address, action).
    pub applied: Vec<Held>,
    /// Changes that failed to apply.
    pub failed: Vec<Held>,
    /// Sensitive changes waiting for approval, or safe ones outside a window.
    pub held: Vec<Held>,
    /// Graph requests this pass.
    pub graph_requests: u64,
    pub graph_throttled: u64,
    pub delta_full_resyncs: u32,
    /// Declared resources the tenant refused this pass (a licence it
    /// lacks, a policy in use): not applied; the pass exits 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<engine::held::Refused>,
}

/// The highest pass number recorded in the history directory (0 if none).
pub(crate) fn last_pass(history: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(history) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("drift-")?.strip_suffix(".json")?;
            rest.rsplit_once("-pass")?.1.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Drift items self-heal did not correct this pass.
pub(crate) fn remaining(p: &PassReport) -> usize {
    let applied: BTreeSet<&str> = p.applied.iter().map(|h| h.address.as_str()).collect();
    p.drift.items.iter().filter(|i| !applied.contains(i.address.as_str())).count() + usize::from(crate::reconcile_pending::warned(&p.drift))
}

pub(crate) fn summary(p: &PassReport) -> String {
    let mut s = format!("pass {}: {}", p.pass, p.drift.headline());
    if p.self_heal {
        s.push_str(&format!("; applied {}, failed {}, held {}", p.applied.len(), p.failed.len(), p.held.len()));
        for h in &p.applied {
            s.push_str(&format!("\n  applied: {} {}", h.action, h.address));
        }
        for h in &p.held {
            s.push_str(&format!("\n  held: {} {}: {}", h.action, h.address, engine::render::text_safe(&h.reason)));
        }
    }
    for r in &p.refused {
        s.push_str(&format!("\n  refused: {} [{}]: {}", r.address, engine::render::text_safe(&r.code), engine::render::text_safe(&r.reason)));
    }
    if !p.drift.unknown.is_empty() {
        s.push_str(&format!("\n  incomplete: {} resource(s) could not be read", p.drift.unknown.len()));
        for u in &p.drift.unknown {
            s.push_str(&format!("\n  unknown: {}: {}", u.address, u.reason));
        }
    }
    s.push_str(&format!("\n  {} Graph request(s)", p.graph_requests));
    s
}
