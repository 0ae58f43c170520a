//! The accounts the tenant's record of the sealed ledger
//! ([`super::sealed_accounts`]) shows were cut from an unproven ledger,
//! found among the tenant's accounts, for [`super::lost_ownership`] to
//! name beside those the journal shows; and, when which were cut cannot be
//! told, a warning saying so (never read as "nothing was cut").

use std::collections::BTreeSet;

use schema::{Address, Kind};

use super::lost_ownership::LOST;
use super::sealed_accounts::{cut, key, Cut, Sketch};
use crate::ledger::Ledger;
use crate::model::{DesiredModel, ObservedState};

/// What a found account's warning says the evidence is.
pub const SAYS: &str = "the tenant's seal records that the ledger this directory last sealed owned it";

/// The cut accounts found (an address for each: the journal's is not
/// known, so one is made from its user principal name, never one desired
/// state or the ledger uses), and the warnings for those not found.
/// Accounts are keyed by kind and id ([`key`]): one the ledger holds
/// under another kind (or as a group) is not owned as that account.
pub fn found(desired: &DesiredModel, observed: &ObservedState, ledger: &Ledger) -> (Vec<(Address, String)>, Vec<String>) {
    let now = Sketch::of_ledger(ledger);
    let live: Vec<(Kind, &crate::model::LiveObject, String)> = [Kind::User, Kind::Guest].into_iter().flat_map(|k| observed.objects.get(&k).into_iter().flatten().map(move |o| (k, o, key(k, &o.id)))).collect();
    let mine: BTreeSet<String> = ledger.resources.iter().filter(|(a, _)| super::sealed_accounts::is_account(a)).map(|(a, e)| key(a.kind, &e.id)).collect();
    let candidates = || live.iter().filter(|(_, _, k)| !mine.contains(k)).map(|(_, _, k)| k.as_str());
    let unread = [Kind::User, Kind::Guest].iter().any(|k| observed.unreadable.contains_key(k));
    let why_not = if unread { " (the tenant's users were not all read)" } else { "" };
    let judged = match ledger.sealed_accounts {
        Some(recorded) => cut(&recorded, &now, candidates(), mine.iter().map(String::as_str)),
        None => Cut::None,
    };
    // This directory bound to no ledger: another record this ledger
    // differs from only by accounts the tenant holds (a cut the sums
    // explain, not a stranger's ledger) is the one it was copied from.
    let judged = match judged {
        Cut::None if ledger.sealed_accounts.is_none() => ledger.sealed_accounts_unbound.iter().map(|r| cut(r, &now, candidates(), mine.iter().map(String::as_str))).find(|c| matches!(c, Cut::Found { all: true, ids, .. } if !ids.is_empty())).unwrap_or(Cut::None),
        other => other,
    };
    match judged {
        Cut::None => Default::default(),
        Cut::Unknown { recorded, owned } => (
            Vec::new(),
            vec![format!(
                "{LOST} the tenant's seal records that the ledger this directory last sealed owned {recorded} account(s) (users and guests); this ledger owns {owned}, and which accounts were cut from it cannot be told from that record{why_not} (more than {} cut from it and added to it together, or the accounts deleted since): an account tenantctl created or adopted may be left enabled with nothing owning it. Put the ledger back as it was sealed, or declare the accounts it should own, before approving a plan that seals it again",
                super::sealed_accounts::SUMS
            )],
        ),
        Cut::Found { ids, all, cut } => {
            let mut taken: BTreeSet<Address> = desired.resources.keys().chain(ledger.resources.keys()).cloned().collect();
            let mut out = Vec::new();
            for id in &ids {
                let Some((kind, o, _)) = live.iter().find(|(_, _, k)| k == id) else { continue };
                let base = slug(o.natural_key.split('@').next().unwrap_or_default());
                let mut a = Address::new(*kind, base.clone());
                if taken.contains(&a) {
                    a = Address::new(*kind, format!("{base}-{}", o.id.get(..8).unwrap_or(&o.id).to_ascii_lowercase()));
                }
                taken.insert(a.clone());
                out.push((a, o.id.clone()));
            }
            let warnings = if all {
                Vec::new()
            } else {
                vec![format!(
                    "{LOST} the tenant's seal records that {cut} account(s) the ledger this directory last sealed owned were cut from this ledger; {} of them are named here, the others were not found among the tenant's accounts{why_not} (deleted since, or more accounts were also added to the ledger than can be told apart): put the ledger back as it was sealed before approving a plan that seals it again",
                    ids.len()
                )]
            };
            (out, warnings)
        }
    }
}

/// An address key from a user principal name's local part: lower-case
/// ASCII letters, digits and hyphens.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "account".to_string()
    } else {
        out.chars().take(64).collect()
    }
}
