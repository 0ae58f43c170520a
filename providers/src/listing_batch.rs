//! Which collection listings `observe` sends together: the first page of
//! every listing the kinds in scope need, in one `$batch` per API version
//! ([`GraphClient::prefetch_first_pages`]), so a read of a quiet tenant
//! costs a few requests instead of one per collection.
//!
//! The paths here must be exactly the ones the kinds' reads list (a path
//! that differs is simply listed on its own: correct, one request more);
//! `tests/request_counts.rs` counts the requests of the example tenant's
//! plan and quiet reconcile pass, so a drift between the two shows there.

use std::collections::BTreeSet;

use schema::Kind;

use crate::graph::{ApiVersion, GraphClient};
use crate::kinds::{assignment_filter, group, user};

/// The listings (first pages) the reads of `kinds` start with.
pub fn listings(kinds: &BTreeSet<Kind>) -> Vec<(ApiVersion, String)> {
    let want = |ks: &[Kind]| ks.iter().any(|k| kinds.contains(k));
    let mut out = Vec::new();
    let mut add = |v: ApiVersion, p: String| out.push((v, p));
    if want(&[Kind::User, Kind::Guest]) {
        add(
            ApiVersion::V1,
            format!("/users?$select={}&$top=999", user::SELECT),
        );
    }
    if want(&[Kind::Group]) {
        add(
            ApiVersion::V1,
            format!("/groups?$select={}&$top=999", group::SELECT),
        );
    }
    if want(&[Kind::RoleAssignment]) {
        for list in [
            "roleAssignments",
            "roleAssignmentSchedules",
            "roleEligibilitySchedules",
        ] {
            add(ApiVersion::V1, format!("/roleManagement/directory/{list}"));
        }
    }
    if want(&[Kind::ConditionalAccess]) {
        add(
            ApiVersion::V1,
            "/identity/conditionalAccess/policies".into(),
        );
    }
    if want(&[Kind::DeviceConfiguration, Kind::UpdateRing]) {
        add(
            ApiVersion::Beta,
            "/deviceManagement/deviceConfigurations?$expand=assignments&$top=999".into(),
        );
    }
    if want(&[Kind::CompliancePolicy]) {
        add(
            ApiVersion::Beta,
            "/deviceManagement/deviceCompliancePolicies?$expand=assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)&$top=999".into(),
        );
    }
    if want(&[Kind::AutopilotProfile]) {
        add(
            ApiVersion::Beta,
            "/deviceManagement/windowsAutopilotDeploymentProfiles?$top=999".into(),
        );
    }
    if want(&[Kind::AssignmentFilter]) {
        add(
            ApiVersion::Beta,
            format!("{}?$top=999", assignment_filter::PROVIDER.collection),
        );
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
