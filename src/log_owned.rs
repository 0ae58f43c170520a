//! Entries whose object only an unproven write-ahead log names (hostile
//! run 28, finding 3; the rules are [`engine::log_owned`]'s): found when
//! the ledger's seal is judged, said, and recorded adopted by the run that
//! seals.

use engine::Ledger;

use crate::output;

/// How many addresses a warning names before it counts the rest.
const NAMED: usize = 10;

/// Find (against `sealed`, the ledger the tenant's seal proves under the
/// log, if any) and name the entries whose object id or origin only the
/// log gives.
pub fn judge(ledger: &mut Ledger, sealed: Option<&Ledger>) {
    ledger.log_owned = match sealed {
        Some(s) if matches!(ledger.seal, engine::ledger_seal::Seal::Broken { only: Some(_), .. }) => engine::log_owned::of(ledger, s),
        _ => Default::default(),
    };
    if ledger.log_owned.is_empty() {
        return;
    }
    let names: Vec<String> = ledger.log_owned.iter().take(NAMED).map(|a| format!("{a} (object {})", engine::render::text_safe(ledger.id(a).unwrap_or_default()))).collect();
    let more = ledger.log_owned.len().saturating_sub(NAMED);
    output::status(format!(
        "warning: only the ledger's write-ahead log, which the tenant's seal does not prove, names the object of {}{}: a run cut short after creating it, or a log a pull request wrote. Each is judged adopted as the tenant has it (reviewed as a natural-key adoption is; a change that takes over an object without desired state's natural key needs approval), and the apply that seals records it `origin = \"adopted\"`",
        names.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    ));
}

/// Before sealing: the `origin = "created"` the seal did not prove is
/// recorded `adopted` ([`engine::log_owned::scrub_origins`]), and said.
pub fn scrub(loaded: &Ledger, after: &mut Ledger) {
    let changed = engine::log_owned::scrub_origins(loaded, after);
    if !changed.is_empty() {
        output::status(format!(
            "Recorded {} ledger entr{} `origin = \"adopted\"`: the tenant's seal did not prove that tenantctl created {} (pruning keeps {} unless governance.prune.adopted)",
            changed.len(),
            if changed.len() == 1 { "y" } else { "ies" },
            if changed.len() == 1 { "its object" } else { "their objects" },
            if changed.len() == 1 { "it" } else { "them" }
        ));
    }
}
