//! Stage 3 of the pipeline: `plan()`, a pure, deterministic function of
//! desired state, observed state, ledger and options. It matches identities,
//! diffs, orders changes into waves, and records why each change exists and
//! what it waits on. Apply makes no choices; everything is decided here.
//!
//! One module per phase, in the order `plan_with_rollout` runs them:
//! `matching` (identity), `declared` (the declared resources diffed),
//! `undeclared` (ledger-owned objects no longer declared), `passes` (the
//! governance passes), `order` (waves); `refs` and `build` are shared.

mod build;
mod declared;
mod matching;
mod order;
mod passes;
mod refs;
mod undeclared;

use std::collections::BTreeMap;

use schema::Address;

use crate::fast_hash::IdMap;
use crate::fingerprint::ObservedPart;
use crate::governance::RolloutMode;
use crate::ledger::Ledger;
use crate::model::{DesiredModel, LiveObject, ObservedState};

pub use crate::plan_types::*;

pub use crate::fingerprint::fingerprint;
pub use refs::referenced_addresses;

/// What every phase reads.
struct Sides<'a> {
    /// The desired model, completed with what the tenant supplies.
    desired: &'a DesiredModel,
    observed: &'a ObservedState,
    ledger: &'a Ledger,
    options: &'a PlanOptions,
    /// address -> matched live object.
    matched: &'a BTreeMap<Address, &'a LiveObject>,
    /// id -> address of every matched object.
    ids: &'a IdMap<'a>,
}

/// What the phases add to, in the order they run.
struct Draft<'a> {
    changes: Vec<Change>,
    unchanged: Vec<Address>,
    unknown: Vec<Unknown>,
    warnings: Vec<String>,
    /// Each address's share of the observed fingerprint, pushed in address
    /// order by the two walks (declared, then undeclared) and sorted once at
    /// the end.
    fp_parts: Vec<(&'a Address, ObservedPart<'a>)>,
}

/// Plan the changes that make the tenant match desired state (rollouts
/// promoted one ring at a time).
pub fn plan(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, options: &PlanOptions) -> Result<Plan, PlanError> {
    plan_with_rollout(desired, observed, ledger, options, RolloutMode::Normal)
}

/// `plan`, with rollouts held or forced.
pub fn plan_with_rollout(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, options: &PlanOptions, rollout: RolloutMode) -> Result<Plan, PlanError> {
    // Template defaults and the like, supplied by the tenant (see `crate::completed`).
    // The desired fingerprint is of the model as declared (what `approve` recomputes).
    let declared = desired;
    let completed_model;
    let desired = if observed.completed.is_empty() {
        desired
    } else {
        completed_model = crate::completed::complete(desired, &observed.completed);
        &completed_model
    };
    let matching::Matching { matched, ids, forgotten, duplicates } = matching::match_identities(desired, observed, ledger)?;
    // Governance judges by the service accounts the tenant shows too: the
    // live members of the service-accounts group (`governance::accounts`).
    let live_service = crate::governance::accounts::live_members(desired, observed, &matched);
    let recorded_service = crate::governance::accounts::recorded(desired, ledger, &matched, &live_service);
    let augmented = crate::governance::accounts::with_live_members(desired, live_service.keys().chain(recorded_service.iter()));
    let live_only = if recorded_service.is_empty() { None } else { crate::governance::accounts::with_live_members(desired, live_service.keys()) };
    let judged: &DesiredModel = augmented.as_ref().unwrap_or(desired);
    // memberOf rules as nesting, their group ids resolved through the ledger.
    let nested_model = crate::governance::member_of::resolved(judged, ledger, &matched);
    let judged: &DesiredModel = nested_model.as_ref().unwrap_or(judged);

    let mut warnings = observed.warnings.clone();
    warnings.extend(duplicates);
    for (a, how) in &live_service {
        warnings.push(format!("{a} is {how}: every service-account rule applies to it (declare it kind = \"service\", or take it out of the group)"));
    }
    for a in &recorded_service {
        warnings.push(format!("{a} was applied as a service account (the ledger records it): every service-account rule applies to it until an approved plan that records its change is applied"));
    }
    let mut draft = Draft { changes: Vec::new(), unchanged: Vec::new(), unknown: Vec::new(), warnings, fp_parts: Vec::with_capacity(desired.resources.len()) };
    let sides = Sides { desired, observed, ledger, options, matched: &matched, ids: &ids };

    let mut unknown_set = declared::unknown_set(desired, observed);
    // Declared resources the tenant cannot take now: listed, not planned.
    let mut held = crate::held::held(desired, &observed.held, &matched, &unknown_set);
    declared::diff_declared(&sides, &mut draft, &forgotten, &unknown_set, &held);
    // What is held is skipped from here on, as what is unknown.
    unknown_set.extend(held.iter().map(|(a, h)| (a.clone(), h.reason.clone())));
    declared::replaced_dependents(&sides, &mut draft, &unknown_set);

    // Ledger-owned objects no longer declared.
    let mut undeclared = undeclared::undeclared(&sides, &mut draft, &mut held, &live_service);
    let orphans = std::mem::take(&mut undeclared.orphans);

    let accounts = passes::Accounts { live_service: &live_service, recorded_service: &recorded_service, live_only: live_only.as_ref() };
    let governed = passes::govern(&sides, judged, &mut draft, undeclared, &unknown_set, &accounts, rollout)?;
    let Draft { changes, mut unchanged, mut unknown, warnings, mut fp_parts } = draft;
    let mut orphans = orphans;
    unchanged.sort();
    unknown.sort_by(|a, b| a.address.cmp(&b.address));
    orphans.sort_by(|a, b| a.address.cmp(&b.address));
    fp_parts.sort_by(|a, b| a.0.cmp(b.0));
    let observed_fingerprint = crate::fingerprint::observed(&fp_parts, &ids);
    let desired_fingerprint = crate::fingerprint::desired(declared);
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        desired_fingerprint,
        observed_fingerprint,
        changes,
        ids: governed.ids,
        unchanged,
        unknown,
        orphans,
        warnings,
        sensitive: governed.sensitive,
        lints: governed.lints,
        rollout: governed.rollout,
        author: None,
        approvals: Vec::new(),
        governance: None,
        change: None,
        not_after: None,
        written_by: None,
        refused: crate::held::refused(&held),
    })
}
