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
