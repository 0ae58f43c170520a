//! Which collection listings `observe` sends together: the first page of
//! every listing the kinds in scope need, in one `$batch` per API version
//! ([`GraphClient::prefetch_first_pages`]), so a read of a quiet tenant
//! costs a few requests instead of one per collection.
//!
//! Each kind names its listings in its `KindProvider` (`listings`), built
//! by the same function its read lists with (a path that differed would
//! simply be listed on its own: correct, one request more);
//! `tests/request_counts.rs` counts the requests of the example tenant's
//! plan and quiet reconcile pass, so a drift between the two shows there.

use std::collections::BTreeSet;

use engine::{DesiredModel, Ledger};
use schema::Kind;

use crate::graph::batch::MAX_BATCH;
use crate::graph::{ApiVersion, GraphClient};
use crate::kinds::registry::{self, Api};

/// The listings (first pages) the reads of `kinds` start with, each at
/// its kind's API version (from the registry: `KindProvider::listings`).
pub fn listings(kinds: &BTreeSet<Kind>) -> Vec<(ApiVersion, String)> {
    let mut out = Vec::new();
    for kind in kinds {
        let p = registry::provider(*kind);
        let version = match p.api {
            Api::V1 => ApiVersion::V1,
            Api::Beta => ApiVersion::Beta,
        };
        out.extend((p.listings)().into_iter().map(|l| (version, l)));
    }
    out
}

/// A view of `client` with the first pages of the listings of `kinds`
/// fetched ahead, batched.
pub async fn prefetch(client: &GraphClient, kinds: &BTreeSet<Kind>) -> GraphClient {
    client.prefetch_first_pages(&listings(kinds)).await
}

/// Listings `observe` reads after the kinds' first pages, whose paths do
/// not depend on what those pages hold, so they go in the same `$batch`:
/// the tenant's SKUs when a user or group declares licences
/// (`licensing::read`), the Settings Catalog templates when a policy
/// declares one (`settings_catalog_template::complete`). Each path is the
/// one its reader lists, so the prefetched page is used (a failed item is
/// that reader's error, as when it is listed on its own).
pub fn declared_listings(kinds: &BTreeSet<Kind>, desired: &DesiredModel) -> Vec<(ApiVersion, String)> {
    let mut out = Vec::new();
    let licensed = desired.resources.values().any(|r| matches!(r.address.kind, Kind::User | Kind::Group) && r.props.contains_key("assignedLicenses"));
    if licensed && (kinds.contains(&Kind::User) || kinds.contains(&Kind::Group)) {
        out.push((ApiVersion::V1, crate::licensing::SKUS.to_string()));
    }
    if kinds.contains(&Kind::SettingsCatalog) && desired.resources.values().any(|r| r.address.kind == Kind::SettingsCatalog && crate::kinds::settings_catalog_template::declared_template(r).is_some()) {
        out.push((ApiVersion::Beta, crate::kinds::settings_catalog_template::templates_listing()));
    }
    out
}

/// Reads that depend on a live id, fetched ahead by the id the ledger
/// records: the resources of a declared access catalog that declares its
/// groups (`access_catalog::read`), the licences of a declared user or
/// group that declares them (`licensing::read`). Each path is the one its
/// reader asks, so the answer is used only when the reader asks for that
/// very id; an id the ledger has wrong is read again by the reader, and
/// its prefetched answer is left unused.
pub fn ledger_listings(kinds: &BTreeSet<Kind>, desired: &DesiredModel, ledger: &Ledger) -> Vec<(ApiVersion, String)> {
    let mut out = Vec::new();
    for r in desired.resources.values() {
        let Some(id) = ledger.id(&r.address) else { continue };
        match r.address.kind {
            Kind::AccessCatalog if kinds.contains(&Kind::AccessCatalog) && r.props.contains_key(crate::kinds::access_catalog::GROUPS) => {
                out.push((ApiVersion::V1, crate::kinds::access_catalog::resources_path(id)));
            }
            Kind::User | Kind::Group if r.props.contains_key(crate::licensing::PROP) => {
                out.push((ApiVersion::V1, crate::licensing::read_path(r.address.kind, id)));
            }
            _ => {}
        }
    }
    out
}

/// Adds the `speculative` listings to `listings` only where they ride free:
/// in the room the last `$batch` call of their API version leaves (20
/// items a call), never as a call of their own. What is left out is read
/// by its reader as before.
pub fn fill(listings: &mut Vec<(ApiVersion, String)>, speculative: Vec<(ApiVersion, String)>) {
    for (version, path) in speculative {
        let mut same: Vec<&str> = listings.iter().filter(|(v, _)| *v == version).map(|(_, p)| p.as_str()).collect();
        same.sort_unstable();
        same.dedup();
        if same.contains(&path.as_str()) {
            continue;
        }
        // A version with fewer than two listings sends them alone (no
        // `$batch`): a speculative item there would cost the call.
        if same.len() >= 2 && !same.len().is_multiple_of(MAX_BATCH) {
            listings.push((version, path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kinds_in_scope_are_listed_and_versions_are_kept_apart() {
        let kinds: BTreeSet<Kind> = [Kind::RoleAssignment, Kind::AutopilotProfile]
            .into_iter()
            .collect();
        let l = listings(&kinds);
        assert_eq!(
            l.iter().filter(|(v, _)| *v == ApiVersion::V1).count(),
            3,
            "{l:?}"
        );
        assert_eq!(
            l.iter()
                .filter(|(v, _)| *v == ApiVersion::Beta)
                .map(|(_, p)| p.as_str())
                .collect::<Vec<_>>(),
            ["/deviceManagement/windowsAutopilotDeploymentProfiles?$top=999"]
        );
        assert!(listings(&BTreeSet::new()).is_empty());
    }

    #[test]
    fn reads_by_ledger_id_only_fill_the_room_the_listings_leave() {
        let v1 = |p: &str| (ApiVersion::V1, p.to_string());
        let beta = |p: &str| (ApiVersion::Beta, p.to_string());
        // 18 v1 listings leave room for 2; one beta listing goes alone, so
        // nothing rides with it; a repeated path is not added twice.
        let mut l: Vec<_> = (0..18).map(|i| v1(&format!("/l{i}"))).collect();
        l.push(beta("/b"));
        fill(&mut l, vec![v1("/l3"), v1("/s1"), beta("/sb"), v1("/s2"), v1("/s3")]);
        let added: Vec<&str> = l.iter().skip(19).map(|(_, p)| p.as_str()).collect();
        assert_eq!(added, ["/s1", "/s2"]);
        // A full call gets nothing more.
        let mut full: Vec<_> = (0..20).map(|i| v1(&format!("/l{i}"))).collect();
        fill(&mut full, vec![v1("/s")]);
        assert_eq!(full.len(), 20);
    }
}
