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

use engine::DesiredModel;
use schema::Kind;

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
}
