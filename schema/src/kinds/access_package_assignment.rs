//! `[access_package_assignment.KEY]`: a guest or user assigned an access
//! package by an administrator (`accessPackageAssignment`, created through
//! `accessPackageAssignmentRequest` with `requestType = "adminAdd"`, v1.0),
//! through one of the package's policies, until `expires`: the service
//! model's temporary guest access in Entra's own terms. There is no
//! standing access: `expires` is required, and must fall within what the
//! policy allows.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[access_package_assignment.KEY]`: a guest or user assigned an access package through one of its policies, until `expires` (required: no standing access).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPackageAssignment {
    /// The `access_package` key.
    pub package: String,
    /// The key of one of that package's `policies`.
    pub policy: String,
    /// The guest or user key assigned. With `package`, the assignment's
    /// natural key: one assignment per package and target.
    pub target: String,
    /// When the assignment ends (Entra ends it; tenantctl never keeps it
    /// beyond). Within the policy's expiration.
    #[serde(with = "crate::datetime")]
    #[schemars(with = "String")]
    pub expires: DateTime<Utc>,
    /// Why the access is granted (sent with the request, shown to approvers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

// Validation: this kind's own checks, run through the registry.

use crate::address::{Address, Kind};
use crate::kinds::access_package::{duration_days, AssignmentPolicy, AFTER_DATE_TIME, AFTER_DURATION};
use crate::kinds::user::UserKind;
use crate::path;
use crate::validate::Ctx;

pub const SERVICE_ACCOUNT_TARGET: &str = "service-account-access-package";
pub const BEYOND_POLICY: &str = "assignment-beyond-policy";
pub const OUTSIDE_POLICY: &str = "target-outside-policy";

/// The latest end `pol` allows for an assignment requested at `now`, and
/// how the policy says it; `None` when it sets no end.
pub fn policy_limit(pol: &AssignmentPolicy, now: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
    match pol.expiration.kind.as_str() {
        AFTER_DATE_TIME => pol.expiration.end_date_time.map(|t| (t, format!("ends every assignment at {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))),
        AFTER_DURATION => {
            let d = pol.expiration.duration.as_deref()?;
            let minutes = crate::kinds::role_policy::duration_minutes(d)?;
            Some((now + chrono::Duration::minutes(minutes), format!("ends assignments {d} after they are made ({} days)", duration_days(d).unwrap_or_default())))
        }
        _ => None,
    }
}

/// Whether the declared groups of `scope`'s specific targets reach `target`.
fn named_in(cx: &Ctx, pol: &AssignmentPolicy, target: &Address) -> bool {
    pol.specific_allowed_targets.iter().filter_map(|t| cx.state.resolve(t, &[Kind::Group, Kind::User, Kind::Guest]).ok()).any(|a| {
        a == *target
            || (a.kind == Kind::Group
                && cx.state.group.get(a.key.as_str()).is_some_and(|g| g.value.members.iter().flatten().any(|m| cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]).ok().as_ref() == Some(target))))
    })
}

/// Why `pol` does not admit `target`, if it does not.
fn outside(cx: &Ctx, pol: &AssignmentPolicy, target: &Address) -> Option<String> {
    let scope = pol.allowed_target_scope.as_str();
    match (scope, target.kind) {
        ("allMemberUsers", Kind::Guest) => Some("admits member users only, and the target is a guest".into()),
        ("allExternalUsers" | "allConfiguredConnectedOrganizationUsers" | "specificConnectedOrganizationUsers", Kind::User) => Some(format!("admits external users only ({scope}), and the target is a member user")),
        ("specificDirectoryUsers", _) if !named_in(cx, pol, target) => Some("admits only its specific_allowed_targets, which do not name the target (nor a declared group holding it)".into()),
        ("specificDirectoryServicePrincipals" | "allDirectoryServicePrincipals" | "allDirectoryAgentIdentities", _) => Some(format!("admits service principals only ({scope})")),
        ("notSpecified", _) => Some("admits nobody (notSpecified)".into()),
        _ => None,
    }
}

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.access_package_assignment {
        let (a, o) = (&d.value, &d.origin);
        let name = format!("access_package_assignment.{key}");
        let package = cx.reference(o, &path!["access_package_assignment", key, "package"], &a.package, &[Kind::AccessPackage]);
        let target = cx.reference(o, &path!["access_package_assignment", key, "target"], &a.target, &[Kind::Guest, Kind::User]);
        if let Some(t) = &target {
            let service = t.kind == Kind::User && cx.state.user.get(t.key.as_str()).is_some_and(|u| u.value.kind == UserKind::Service);
            if service {
                cx.error(SERVICE_ACCOUNT_TARGET, o, &path!["access_package_assignment", key, "target"], format!("{name}: {t} is a service account: service accounts are never granted access through an access package"));
            }
        }
        let Some(pkg) = package.as_ref().and_then(|p| cx.state.access_package.get(p.key.as_str())) else { continue };
        let Some(pol) = pkg.value.policies.get(a.policy.as_str()) else {
            let known: Vec<&str> = pkg.value.policies.keys().map(String::as_str).collect();
            let e = cx.error("unknown-reference", o, &path!["access_package_assignment", key, "policy"], format!("{name}: policy `{}` is not one of access_package.{}'s policies ({})", a.policy, a.package, if known.is_empty() { "it has none".to_string() } else { known.join(", ") }));
            e.help = crate::suggest::closest(&a.policy, known.iter().copied()).map(|x| format!("did you mean `{x}`?"));
            continue;
        };
        if let Some(why) = target.as_ref().and_then(|t| outside(cx, pol, t)) {
            cx.error(OUTSIDE_POLICY, o, &path!["access_package_assignment", key, "target"], format!("{name}: policy `{}` ({}) {why}; Graph refuses the assignment", a.policy, pol.display_name));
        }
        if let Some((limit, how)) = policy_limit(pol, cx.now) {
            if a.expires > limit {
                cx.error(
                    BEYOND_POLICY,
                    o,
                    &path!["access_package_assignment", key, "expires"],
                    format!("{name}: expires {} is beyond what policy `{}` ({}) allows: it {how}, so the latest end is {}", a.expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), a.policy, pol.display_name, limit.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                );
            }
        }
        if a.justification.as_deref().is_some_and(|j| j.trim().is_empty()) {
            cx.error("empty-justification", o, &path!["access_package_assignment", key, "justification"], format!("{name}: justification must not be empty (leave it out instead)"));
        }
    }
    duplicates(cx);
}

/// One assignment per (package, target): Graph holds one, and a second
/// declaration would fight the first.
fn duplicates(cx: &mut Ctx) {
    let mut seen: std::collections::BTreeMap<(Address, Address), String> = std::collections::BTreeMap::new();
    let mut dups = Vec::new();
    for (key, d) in &cx.state.access_package_assignment {
        let (Ok(p), Ok(t)) = (cx.state.resolve(&d.value.package, &[Kind::AccessPackage]), cx.state.resolve(&d.value.target, &[Kind::Guest, Kind::User])) else { continue };
        if let Some(other) = seen.insert((p.clone(), t.clone()), key.clone()) {
            dups.push((key.clone(), d.origin.clone(), other, p, t));
        }
    }
    for (key, o, other, p, t) in dups {
        cx.error("duplicate-natural-key", &o, &path!["access_package_assignment", key.as_str(), "target"], format!("access_package_assignment.{key}: access_package_assignment.{other} already assigns {p} to {t}; one assignment per package and target"));
    }
}

/// Creating an assignment grants the package's access; any other change
/// that reaches approval extends it or moves it to another policy (ending
/// or shortening one is unattended: `engine::governance::package_assignment`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::CreateOr(
    "access package assignment: grants the package's access (two-key)",
    "access package assignment: extends or moves the access it grants (two-key)",
);
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/identityGovernance/entitlementManagement/assignmentRequests", "/identityGovernance/entitlementManagement/assignments"];
/// Each assignment is a grant of the package's access: deleting it or
/// bringing its `expires` earlier only removes access, and one the ledger
/// owns that desired state no longer declares is deleted (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::Grant { noun: "access package assignment", says_expired: false, shortens: true };
