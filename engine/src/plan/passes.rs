//! The governance passes over the drafted changes: what the ledger
//! remembers beside Graph, out-of-band control removed, rollouts gated,
//! ratification, ordering, sensitivity, lints and the notes reviewers read.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schema::Address;

use super::order::order;
use super::refs::resolve_refs;
use super::undeclared::Undeclared;
use super::{Draft, PlanError, Sides};
use crate::governance::{Finding, RingWait, RolloutMode};
use crate::model::DesiredModel;

/// The service accounts governance judges by beside those declared.
pub(super) struct Accounts<'a> {
    /// Live members of the service-accounts group, with how.
    pub live_service: &'a BTreeMap<Address, String>,
    /// Applied as service accounts, as the ledger records.
    pub recorded_service: &'a BTreeSet<Address>,
    /// The desired model with only the live members added.
    pub live_only: Option<&'a DesiredModel>,
}

/// What the passes decide beside the changes.
pub(super) struct Governed {
    pub ids: BTreeMap<Address, String>,
    pub sensitive: BTreeMap<Address, String>,
    pub lints: Vec<Finding>,
    pub rollout: Vec<RingWait>,
}

/// Run every governance pass over the draft, in order.
pub(super) fn govern(s: &Sides, judged: &DesiredModel, draft: &mut Draft, undeclared: Undeclared, unknown_set: &BTreeMap<Address, String>, accounts: &Accounts, rollout: RolloutMode) -> Result<Governed, PlanError> {
    let (desired, observed, ledger, options, matched, ids) = (s.desired, s.observed, s.ledger, s.options, s.matched, s.ids);
    let gov = &desired.governance;
    let Undeclared { owner_unproven, restored_notes, .. } = undeclared;
    let mut changes = std::mem::take(&mut draft.changes);
    let unchanged = &mut draft.unchanged;
    let warnings = &mut draft.warnings;
    for (a, note) in restored_notes {
        match changes.iter_mut().find(|c| c.address == a) {
            Some(c) => c.notes.push(note),
            None => warnings.push(note),
        }
    }
    // Accounts the journal shows tenantctl owned whose entry an unproven
    // ledger cut (gov22); `claimed`: an id a declared address matches.
    let claimed_ids = super::matching::Claimed::new(desired, matched);
    let claimed = |id: &str| claimed_ids.contains(id);
    let service = crate::governance::lost_service::Judge::new(desired, observed, matched);
    let mut lost = crate::governance::lost_ownership::find(desired, observed, ledger, &claimed, &|o| service.how(o), super::build::disable_account);
    let lost_errors = std::mem::take(&mut lost.errors);
    warnings.extend(lost.warnings);
    changes.extend(lost.changes);

    // What the ledger remembers beside Graph: a guest's expiry, a service account.
    warnings.extend(crate::governance::recorded::add_changes(&mut changes, unchanged, desired, accounts.live_service, ledger, matched, unknown_set, options.now));
    // Who sponsors each guest, against what the ledger recorded.
    crate::governance::sponsor::add_changes(&mut changes, unchanged, desired, ledger, matched, unknown_set);
    // Which variable each secret is sent from (names only).
    crate::secret_env::add_changes(&mut changes, unchanged, desired, ledger, matched, unknown_set);

    // Deletes and the disables of undeclared accounts, against one limit.
    warnings.extend(crate::governance::disable_bound::warning(&changes, gov.prune.max_deletions));

    // Ring by ring: later rings wait for the earlier ones to soak. A ring
    // last changed at the later of the ledger's time and the live object's
    // lastModifiedDateTime: a missing or old ledger time never lets the
    // next ring skip its soak, nor does a change made in the portal since.
    // A ledger time the tenant's seal does not prove (a forged or cut-short
    // ledger) is not used.
    let converged_at = |a: &Address| -> Option<DateTime<Utc>> {
        let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
        let recorded = ledger.resources.get(a).filter(|_| ledger.fact_proven(a)).and_then(|e| e.changed_at.as_deref()).and_then(parse);
        let live = matched.get(a).and_then(|o| observed.modified.get(&o.id)).and_then(|t| parse(t));
        recorded.max(live)
    };
    // Out-of-band control of the tenant is removed (never held for approval).
    // Built once: what governance is given and what the plan records.
    let ids_by_address: BTreeMap<Address, String> = matched.iter().map(|(a, o)| (a.clone(), o.id.clone())).collect();
    // The other way round too, once for every pass that needs it.
    let index = crate::governance::index::IdIndex::new(&ids_by_address);
    changes.extend(crate::governance::out_of_band_removals_indexed(judged, observed, &index));
    changes.extend(crate::governance::intune_oob::removals_indexed(judged, observed, &index));
    changes.extend(crate::governance::package_oob::removals(judged, observed, &ids_by_address));
    let (mut changes, rollout_waits) = crate::governance::gate_rollouts(changes, desired, &converged_at, options.now, rollout);
    // Desired state against what was last approved (the tenant may have it already).
    let moved = crate::governance::ratify::add_changes(&mut changes, unchanged, desired, judged, ledger, matched, unknown_set, options.now);
    order(&mut changes, desired)?;
    crate::governance::tightens::mark_restores(&mut changes, ledger);
    crate::governance::exemption_restore::mark(&mut changes, judged, observed, index.by_id());
    let mut sensitive = crate::governance::sensitivity(&changes, judged);
    for (a, why) in moved {
        if crate::governance::unproven_record::is_whole_review(&why) {
            sensitive.insert(a, why);
        } else {
            sensitive.entry(a).or_insert(why);
        }
    }
    crate::governance::disable_bound::hold(&changes, gov.prune.max_deletions, &mut sensitive);
    // What a ledger fact the tenant's seal does not prove would have hidden.
    for c in changes.iter().filter(|c| c.notes.iter().any(|n| crate::ledger_seal::is_unproven_note(n))) {
        let why = "the ledger does not match the seal the tenant records, so what it recorded of this object proves nothing";
        sensitive.entry(c.address.clone()).and_modify(|r| *r = format!("{r}; {why}")).or_insert_with(|| why.into());
    }
    for (a, why) in owner_unproven.into_iter().chain(lost.sensitive) {
        if let Some(c) = changes.iter_mut().find(|c| c.address == a && !c.notes.contains(&why)) {
            c.notes.push(why.clone());
        }
        sensitive.entry(a).and_modify(|r| *r = format!("{r}; {why}")).or_insert(why);
    }
    // Objects only an unproven write-ahead log names: adopted, and a
    // takeover of one no natural-key match would find is sensitive.
    let key_matches = |a: &Address| Some(desired.resources.get(a)?.natural_key.to_lowercase() == super::refs::resolve_key(&matched.get(a)?.natural_key, ids));
    for (a, why) in crate::log_owned::review(&mut changes, ledger, key_matches) {
        sensitive.entry(a).and_modify(|r| *r = format!("{r}; {why}")).or_insert(why);
    }
    warnings.extend(ledger.seal_warning());
    // What the live tenant adds: access granted through live role
    // assignments, policies and nesting; ring groups nested live.
    for (a, why) in crate::governance::grants::live_sensitivity(&changes, judged, observed, &ids_by_address) {
        sensitive.entry(a).or_insert(why);
    }
    // An app assignment whose app is another than the ledger recorded.
    for (a, why) in crate::governance::admin_reach::swapped_apps(&mut changes, ledger, &ids_by_address, observed) {
        sensitive.insert(a, why);
    }
    let mut lints = crate::governance::lint_desired(judged, options.now);
    if !accounts.recorded_service.is_empty() {
        crate::governance::accounts::exclusion_without_recorded(&mut lints, accounts.live_only.unwrap_or(desired), options.now);
    }
    let mut live_lints = crate::governance::lint_live_indexed(judged, observed, &index);
    crate::governance::settle(&mut live_lints, &changes);
    // The state after the plan differs from the observed one (as lints see
    // it) only when the plan deletes objects or sets assignments; else its
    // lints are the live ones and settling changes nothing, so the copy of
    // every live object and the second lint pass are skipped.
    let (gone, reassigned) = crate::governance::after_plan_ids(&changes);
    let mut undelivered = crate::governance::after_package::removals(&changes, &ids_by_address);
    let packages_deleted = crate::governance::after_package_delete::removals(&changes, &ids_by_address);
    undelivered.extend(packages_deleted.iter().cloned());
    if !gone.is_empty() || !reassigned.is_empty() || !undelivered.is_empty() {
        let mut after = crate::governance::after_plan(observed, &changes);
        crate::governance::after_package::apply(&mut after, &undelivered, &ids_by_address);
        crate::governance::after_package_delete::drop_assignments(&mut after, &packages_deleted, &ids_by_address);
        crate::governance::settle_after(&mut live_lints, &crate::governance::lint_live_indexed(judged, &after, &index));
    }
    lints.extend(live_lints);
    crate::governance::settle(&mut lints, &changes);
    lints.extend(crate::governance::holders::lint_indexed(desired, observed, &index, &changes));
    lints.extend(crate::governance::live_reach::lint_indexed(judged, observed, &index));
    lints.extend(crate::governance::unit_live::lint(judged, observed, &ids_by_address, &changes));
    lints.extend(lost_errors);
    lints.extend(crate::governance::tightens::live_pim(judged, observed, &ids_by_address, &changes, ledger));
    lints.extend(crate::governance::pim_live::lint(judged, observed, &ids_by_address));
    lints.extend(crate::governance::pim_exposure::lint(judged, observed, &ids_by_address, &changes));
    lints.extend(crate::governance::method_reach::lint_indexed(judged, observed, &index, &mut changes));
    lints.extend(crate::governance::approver_live::lint(judged, observed, &ids_by_address));
    lints.extend(crate::governance::people_reach::lint(judged, observed, &ids_by_address, options.now));
    lints.extend(crate::governance::package_live::plan_lints(judged, observed, &ids_by_address, &changes, options.now));
    crate::governance::tightens::notes(&mut changes);
    crate::governance::package_automatic::notes(&mut changes);
    crate::governance::review_notes(&mut changes);
    crate::governance::script_review::notes(&mut changes, observed);
    crate::governance::label_role_deletes(&mut changes);
    crate::governance::licence_loss::notes(&mut changes, observed, &ids_by_address);
    crate::completed::notes(&mut changes, &observed.completed);
    crate::assign_notes::notes(&mut changes);
    // After governance has judged them: what apply of an app assignment
    // reuses instead of reading the app again.
    crate::plan_app_live::carry(&mut changes, matched);
    crate::removed_policies::show(&mut changes, matched, observed, |v| resolve_refs(v, ids));
    warnings.extend(crate::lookalike::warnings(desired, observed, &ids_by_address));
    drop(index);
    draft.changes = changes;
    Ok(Governed { ids: ids_by_address, sensitive, lints, rollout: rollout_waits })
}
