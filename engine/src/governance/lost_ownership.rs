//! Accounts whose ledger entry is gone where the tenant's seal does not
//! prove the ledger (planning; the journal is read by the binary).
//!
//! Under a seal that proves nothing of which entries the ledger holds (a
//! ledger edited since it was sealed, one the tenant seals none of, or one
//! new to it: [`absence_unproven`]), a pull request that stops declaring
//! an account tenantctl made and also cuts its ledger entry (or deletes the
//! ledger) left the account enabled, silently: nothing owned it any more,
//! so no rule about undeclared accounts applied. Which accounts tenantctl
//! owned is then read from the journal (every create and adoption is
//! journalled before the ledger records it: [`crate::Ledger::journal_owned`])
//! and, since the journal is as writable as the ledger (the same pull
//! request can cut both) and a fresh `azurerm` runner has none, from the
//! tenant's record of the accounts the sealed ledger owned
//! ([`super::sealed_accounts`], [`crate::Ledger::sealed_accounts`]).
//!
//! Such an account is not proven tenantctl's (the cut may be an honest
//! `forget`), so its sign-in is never blocked unattended; but it is not
//! kept silently either. The plan warns naming it, and, since an account
//! nobody declares is standing access nobody approved to keep (the
//! service model's zero standing access), an enabled one gets a
//! sensitive "adopt or block" change: blocking its sign-in needs the
//! approvers, and `reconcile --self-heal` holds it. Declaring the account
//! again (adopting it), or putting its ledger entry back, removes the
//! change; approving it blocks the sign-in and the ledger owns the
//! account again. Without it, the apply that reseals the ledger (and so
//! proves the cut) would keep the account enabled for good, unreviewed.

use std::collections::{BTreeMap, BTreeSet};

use schema::{Address, Kind};
use serde_json::Value;

use crate::ledger::Ledger;
use crate::ledger_seal::Seal;
use crate::model::{DesiredModel, LiveObject, ObservedState};
use crate::plan::Change;

/// Whether the seal leaves unproven that the ledger holds every entry it
/// held when last sealed: its absence of an entry proves nothing.
pub fn absence_unproven(seal: &Seal) -> bool {
    matches!(seal, Seal::Broken { only: None, .. } | Seal::Unknown { .. } | Seal::Tampered { .. } | Seal::Fresh { .. } | Seal::Foreign { .. })
}

/// How every warning of this module starts.
pub const LOST: &str = "ownership lost without proof:";

/// What the plan adds for accounts that lost their unproven ownership.
#[derive(Debug, Default)]
pub struct Lost {
    /// One per account, naming it.
    pub warnings: Vec<String>,
    /// The sensitive "adopt or block" changes (enabled accounts only).
    pub changes: Vec<Change>,
    /// Why each change is sensitive.
    pub sensitive: BTreeMap<Address, String>,
    /// Enabled service accounts among them (no block proposed: blocking
    /// one breaks the tenant's automation), named for the operator to
    /// declare (`super::lost_service`).
    pub errors: Vec<super::lints::Finding>,
}

/// The accounts the journal shows tenantctl owned that the ledger owns no
/// more, desired state does not declare (by address or natural key), and
/// the tenant still has. `claimed`: object ids declared addresses match.
/// `service`: how a live account is a service account, if it is.
pub fn find(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger, claimed: &dyn Fn(&str) -> bool, service: &dyn Fn(&LiveObject) -> Option<String>, disable: impl Fn(&Address, &LiveObject, String) -> Change) -> Lost {
    let mut lost = Lost::default();
    if !absence_unproven(&ledger.seal) {
        return lost;
    }
    let declared_keys: BTreeSet<String> = desired.resources.values().filter(|r| matches!(r.address.kind, Kind::User | Kind::Guest)).map(|r| r.natural_key.to_lowercase()).collect();
    // What the journal shows, then what the tenant's record of the sealed
    // ledger's accounts finds that the journal does not (it may be cut or
    // absent: `super::sealed_accounts`).
    let mut evidence: Vec<(Address, String, &str)> = ledger.journal_owned.iter().map(|(a, id)| (a.clone(), id.clone(), "the journal shows tenantctl created or adopted it")).collect();
    let (found, unnamed) = super::sealed_accounts_found::found(desired, observed, ledger);
    // An id the ledger holds as another kind (`user.x` moved to `guest.x`
    // or `group.x`, the same id) is not that account's ownership (hostile
    // run 31, findings 1 and 2).
    let owned_as: BTreeSet<(Kind, &str)> = ledger.resources.iter().map(|(a, e)| (a.kind, e.id.as_str())).collect();
    let journalled: BTreeSet<String> = evidence.iter().map(|(_, id, _)| id.to_ascii_lowercase()).collect();
    evidence.extend(found.into_iter().filter(|(_, id)| !journalled.contains(&id.to_ascii_lowercase())).map(|(a, id)| (a, id, super::sealed_accounts_found::SAYS)));
    lost.warnings.extend(unnamed);
    for (address, id, says) in &evidence {
        let (address, id) = (address, id.as_str());
        if !matches!(address.kind, Kind::User | Kind::Guest) || desired.resources.contains_key(address) || ledger.resources.contains_key(address) || owned_as.contains(&(address.kind, id)) || claimed(id) {
            continue;
        }
        let Some(o) = observed.objects.get(&address.kind).and_then(|v| v.iter().find(|o| o.id == id)) else { continue };
        if declared_keys.contains(&o.natural_key.to_lowercase()) {
            continue;
        }
        let enabled = o.props.get("accountEnabled") != Some(&Value::Bool(false));
        let who = format!("{address} (object {id}, {})", crate::render::text_safe(&format!("{:?}", o.display_name)));
        let service_account = if enabled { service(o) } else { None };
        lost.warnings.push(format!(
            "{LOST} {who}: {says}, but the ledger no longer owns it and desired state does not declare it, and the tenant's seal does not prove the ledger ({}), so whether its entry was cut honestly is not known. It is not tenantctl's to change unattended: {}",
            seal_says(&ledger.seal),
            if service_account.is_some() {
                "it is a service account, and blocking its sign-in would break the tenant's automation, so no block is proposed: its sign-in stays as it is, and the plan is refused until desired state declares it again (adopting it) or its ledger entry is put back"
            } else if enabled {
                "its sign-in stays as it is until approvers approve blocking it (the plan's sensitive change), or desired state declares it again (adopting it), or its ledger entry is put back"
            } else {
                "its sign-in is already blocked, and it is left as it is"
            }
        ));
        if let Some(how) = service_account {
            lost.errors.push(super::lints::Finding {
                severity: super::lints::Severity::Error,
                lint: super::lost_service::LINT.into(),
                address: address.to_string(),
                message: format!("service account {who}, {how}, lost its unproven ledger ownership and nothing declares it: blocking a service account's sign-in breaks the tenant's automation, so tenantctl neither blocks it nor keeps it silently; declare it again (kind = \"service\", adopting it), or put its ledger entry back"),
            });
        } else if enabled {
            let reason = format!("adopt or block: {address} lost its unproven ledger ownership and nothing declares it; an enabled account nobody declares is standing access nobody approved to keep, so blocking its sign-in is proposed for approval (declare it to keep it)");
            // The sensitive reason is the change's note too (as every
            // unproven ownership's is, in `plan`).
            let c = disable(address, o, reason);
            let shows = if *says == super::sealed_accounts_found::SAYS { "the tenant's seal records it was" } else { "the journal shows it was" };
            lost.sensitive.insert(address.clone(), format!("{LOST} {address} (object {id}) is not proven tenantctl's: {shows}, the ledger no longer owns it and the seal does not prove that ledger, so blocking its sign-in needs approval"));
            lost.changes.push(c);
        }
    }
    lost
}

/// The accounts `warnings` (a plan's) name as lost without proof, as
/// [`find`] words them: (address, object id, the warning).
pub fn named(warnings: &[String]) -> Vec<(Address, String, &str)> {
    warnings
        .iter()
        .filter_map(|w| {
            let (address, rest) = w.strip_prefix(LOST)?.trim_start().split_once(" (object ")?;
            let (id, _) = rest.split_once(", ")?;
            Some((address.parse().ok()?, id.to_string(), w.as_str()))
        })
        .collect()
}

fn seal_says(seal: &Seal) -> &'static str {
    match seal {
        Seal::Fresh { .. } => "it is new to the tenant, or was cut to nothing or deleted",
        Seal::Unknown { .. } => "the tenant seals none under its identity",
        Seal::Tampered { .. } => "the tenant's seal of it was tampered with",
        Seal::Foreign { .. } => "it is sealed for another desired-state directory",
        _ => "it does not match the seal the tenant records",
    }
}

/// Who the journal (`lines`, one JSON object each, oldest first) shows
/// owns which account now: the last applied create, adoption or update of
/// an address names its object; a delete or forget ends it. Lines that are
/// not such a record (the trust root's, a failure, a torn last line) are
/// skipped.
pub fn journal_owned<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<Address, String> {
    let mut owned = BTreeMap::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let Some(address) = v.get("address").and_then(Value::as_str).and_then(|a| a.parse::<Address>().ok()) else { continue };
        if !matches!(address.kind, Kind::User | Kind::Guest) {
            continue;
        }
        let outcome = v.get("outcome").and_then(Value::as_str).unwrap_or_default();
        if !matches!(outcome, "applied" | "created") {
            continue;
        }
        match v.get("action").and_then(Value::as_str).unwrap_or_default() {
            "delete" | "forget" => {
                owned.remove(&address);
            }
            "create" | "adopt" | "update" | "assign" | "replace" => {
                if let Some(id) = v.get("object_id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                    owned.insert(address, id.to_string());
                }
            }
            _ => {}
        }
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_names_what_tenantctl_last_owned() {
        let lines = [
            r#"{"address":"user.temp","action":"create","object_id":"1","outcome":"created"}"#,
            r#"{"address":"user.temp","action":"update","object_id":"1","outcome":"failed"}"#,
            r#"{"address":"user.gone","action":"adopt","object_id":"2","outcome":"applied"}"#,
            r#"{"address":"user.gone","action":"delete","object_id":"2","outcome":"applied"}"#,
            r#"{"address":"group.g","action":"create","object_id":"3","outcome":"applied"}"#,
            r#"{"address":"not an address","action":"create","object_id":"4","outcome":"applied"}"#,
            r#"{"address":"guest.a","action":"adopt","object_id":"5","outcome":"applied""#,
        ];
        let owned = journal_owned(lines.into_iter());
        assert_eq!(owned.into_iter().map(|(a, id)| format!("{a}={id}")).collect::<Vec<_>>(), vec!["user.temp=1"]);
    }

    #[test]
    fn the_warnings_name_the_lost_accounts() {
        let warnings = vec![format!("{LOST} user.temp (object 1-2, \"Temp\"): the journal shows"), "another warning".to_string(), format!("{LOST} not an address (object 3, \"x\")")];
        let named: Vec<(String, String)> = named(&warnings).into_iter().map(|(a, id, _)| (a.to_string(), id)).collect();
        assert_eq!(named, vec![("user.temp".to_string(), "1-2".to_string())]);
    }

    #[test]
    fn only_a_seal_that_proves_nothing_of_what_was_cut_counts() {
        assert!(absence_unproven(&Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: None }));
        assert!(absence_unproven(&Seal::Fresh { ledger: "l".into(), latest: "r".into(), others: 1, beyond_review: false }));
        assert!(!absence_unproven(&Seal::Broken { ledger: "l".into(), recorded: "r".into(), only: Some(Default::default()) }));
        assert!(!absence_unproven(&Seal::Sealed));
        assert!(!absence_unproven(&Seal::Unrecorded { beyond_review: false }));
    }
}
