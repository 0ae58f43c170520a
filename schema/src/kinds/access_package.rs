//! `[access_package.KEY]`: an entitlement management access package
//! (`accessPackage`, `/identityGovernance/entitlementManagement/accessPackages`,
//! v1.0) in a declared catalog, with the groups whose Member role it grants
//! (`resourceRoleScopes`) and its assignment policies inline
//! (`accessPackageAssignmentPolicy`, `/assignmentPolicies`): who may
//! request it, who approves (stage by stage), and when access ends. The
//! service model's temporary, two-key guest access in Entra's own terms.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[access_package.KEY]`: an access package: its catalog, the groups whose Member role it grants, and its assignment policies (who may request it, who approves, when access ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPackage {
    /// How an existing package is found.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hidden from the My Access portal (requested by link only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_hidden: bool,
    /// The `access_catalog` key the package lives in.
    pub catalog: String,
    /// Group keys whose Member role the package grants; each must be one
    /// of the catalog's `groups`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Roles of applications in the catalog the package grants (an app
    /// role, or `Default Access`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<crate::kinds::access_resources::ResourceRole>,
    /// Roles of SharePoint Online sites in the catalog the package grants
    /// (a site group, e.g. `Fabrikam Audit Members`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<crate::kinds::access_resources::ResourceRole>,
    /// Assignment policies by key (the key is tenantctl's; Graph knows a
    /// policy by its display name within the package).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, AssignmentPolicy>,
    /// `access_package` keys: a user assigned one of them may not request
    /// this package (`incompatibleAccessPackages`, separation of duties).
    /// Absent: not managed (the tenant's are kept); `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incompatible_packages: Option<Vec<String>>,
    /// Group keys whose members may not request this package
    /// (`incompatibleGroups`). Absent: not managed; `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incompatible_groups: Option<Vec<String>>,
}

/// An `accessPackageAssignmentPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPolicy {
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who may be assigned: `allExternalUsers`, `allMemberUsers`,
    /// `allDirectoryUsers`, `specificDirectoryUsers`,
    /// `specificConnectedOrganizationUsers`, `allConfiguredConnectedOrganizationUsers`, ...
    pub allowed_target_scope: String,
    /// For the `specific...` scopes: group keys (their members), user
    /// keys, or `connected_organization:<id>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specific_allowed_targets: Vec<String>,
    /// When an assignment ends.
    pub expiration: Expiration,
    /// Who approves a request; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_approval_settings: Option<ApprovalSettings>,
    /// What requestors may do; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requestor_settings: Option<RequestorSettings>,
    /// Recurring access reviews of the assignments made through the
    /// policy (`reviewSettings`); absent: not managed (kept as the tenant
    /// has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_settings: Option<crate::kinds::access_package_review::ReviewSettings>,
    /// Automatic assignment to every user a membership rule matches
    /// (`automaticRequestSettings`); absent: the policy is request-based,
    /// and automatic assignment turned on in the tenant is drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_request_settings: Option<crate::kinds::access_package_automatic::AutomaticRequestSettings>,
    /// What a requestor answers, in order (`questions`); absent: not
    /// managed (the tenant's are kept, and a policy that has some is not
    /// rewritten over them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<crate::kinds::access_package_questions::Question>>,
    /// The catalog's custom workflow extensions Entra calls at stages of a
    /// request or before an assignment expires
    /// (`customExtensionStageSettings`), each stage once; empty: none (a
    /// stage added in the portal is drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_extension_stages: Vec<crate::kinds::access_package_stages::CustomExtensionStage>,
}

/// An `expirationPattern`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expiration {
    /// `afterDuration`, `afterDateTime` or `noExpiration`.
    #[serde(rename = "type")]
    pub kind: String,
    /// With `afterDuration`: ISO 8601 days and hours (`P30D`, `PT12H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// With `afterDateTime`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::datetime::option")]
    #[schemars(with = "Option<String>")]
    pub end_date_time: Option<DateTime<Utc>>,
}

/// An `accessPackageAssignmentApprovalSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    #[serde(default)]
    pub is_approval_required_for_add: bool,
    #[serde(default)]
    pub is_approval_required_for_update: bool,
    #[serde(default)]
    pub is_requestor_justification_required: bool,
    /// One to three stages, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<ApprovalStage>,
}

/// An `accessPackageApprovalStage`, escalation included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStage {
    /// User, guest or group keys, or `requestor_manager`,
    /// `internal_sponsors`, `external_sponsors`, `target_user_sponsors`.
    pub primary_approvers: Vec<String>,
    /// Who approves when the primary approvers cannot be found (e.g. an
    /// external requestor has no manager); same forms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_primary_approvers: Vec<String>,
    /// How long a request waits before it is denied (`P14D`, 1 to 14 days).
    #[serde(default = "fourteen_days")]
    pub duration_before_automatic_denial: String,
    #[serde(default)]
    pub is_approver_justification_required: bool,
    /// Whether an unanswered request goes on to `escalation_approvers`
    /// after `duration_before_escalation`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_escalation_enabled: bool,
    /// How long the primary approvers have before the request escalates
    /// (`PT12H`, `P2D`); shorter than `duration_before_automatic_denial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_before_escalation: Option<String>,
    /// Who approves once the request escalates; same forms as
    /// `primary_approvers`, held to the same rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_approvers: Vec<String>,
    /// Who approves an escalated request when the escalation approvers
    /// cannot be found; same forms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_escalation_approvers: Vec<String>,
}

fn fourteen_days() -> String {
    "P14D".to_string()
}

/// An `accessPackageAssignmentRequestorSettings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestorSettings {
    #[serde(default)]
    pub enable_targets_to_self_add_access: bool,
    #[serde(default)]
    pub enable_targets_to_self_update_access: bool,
    #[serde(default)]
    pub enable_targets_to_self_remove_access: bool,
    #[serde(default)]
    pub allow_custom_assignment_schedule: bool,
    #[serde(default)]
    pub enable_on_behalf_requestors_to_add_access: bool,
    #[serde(default)]
    pub enable_on_behalf_requestors_to_update_access: bool,
    #[serde(default)]
    pub enable_on_behalf_requestors_to_remove_access: bool,
}

/// Graph's `allowedTargetScope` members a policy may be set to.
pub const TARGET_SCOPES: &[&str] = &[
    "specificDirectoryUsers",
    "specificConnectedOrganizationUsers",
    "specificDirectoryServicePrincipals",
    "allMemberUsers",
    "allDirectoryUsers",
    "allDirectoryServicePrincipals",
    "allConfiguredConnectedOrganizationUsers",
    "allExternalUsers",
    "allDirectoryAgentIdentities",
];

/// The scopes that admit people from outside the tenant (guest access).
pub const EXTERNAL_SCOPES: &[&str] = &["allExternalUsers", "allConfiguredConnectedOrganizationUsers", "specificConnectedOrganizationUsers", "allDirectoryUsers"];

/// Expiration types (`expirationPatternType`).
pub const AFTER_DURATION: &str = "afterDuration";
pub const AFTER_DATE_TIME: &str = "afterDateTime";
pub const NO_EXPIRATION: &str = "noExpiration";

/// Approvers that are not principals: the subject-set types they stand for.
pub const SPECIAL_APPROVERS: &[(&str, &str)] = &[
    ("requestor_manager", "requestorManager"),
    ("internal_sponsors", "internalSponsors"),
    ("external_sponsors", "externalSponsors"),
    ("target_user_sponsors", "targetUserSponsors"),
];

/// A specific allowed target naming a connected organization by id.
pub const CONNECTED_ORGANIZATION: &str = "connected_organization:";

/// The subject-set type a special approver name stands for.
pub fn special_approver(s: &str) -> Option<&'static str> {
    SPECIAL_APPROVERS.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
}

/// The TOML name of a special subject-set type.
pub fn special_name(graph_type: &str) -> Option<&'static str> {
    SPECIAL_APPROVERS.iter().find(|(_, t)| *t == graph_type).map(|(n, _)| *n)
}

/// A duration's length in days (rounded up), for `P30D` / `PT12H` forms.
pub fn duration_days(s: &str) -> Option<i64> {
    crate::kinds::role_policy::duration_minutes(s).map(|m| (m + 24 * 60 - 1) / (24 * 60))
}

// Validation: this kind's own checks, run through the registry; the
// governance rules (approval, expiry, self-approval, service accounts) are
// in `access_package_rules`.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.access_package {
        let (p, o) = (&d.value, &d.origin);
        if p.display_name.trim().is_empty() {
            cx.error("empty-name", o, &path!["access_package", key, "display_name"], format!("access_package.{key}: display_name must not be empty"));
        }
        let catalog = cx.reference(o, &path!["access_package", key, "catalog"], &p.catalog, &[Kind::AccessCatalog]);
        let held: Option<Vec<crate::Address>> = catalog
            .as_ref()
            .and_then(|c| cx.state.access_catalog.get(c.key.as_str()))
            .and_then(|c| c.value.groups.as_ref())
            .map(|gs| gs.iter().filter_map(|g| cx.state.resolve(g, &[Kind::Group]).ok()).collect());
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in p.groups.iter().enumerate() {
            let Some(a) = cx.reference(o, &path!["access_package", key, "groups", i], g, &[Kind::Group]) else { continue };
            if !seen.insert(a.clone()) {
                cx.error("duplicate", o, &path!["access_package", key, "groups", i], format!("access_package.{key}: {a} is listed twice"));
            }
            if let (Some(held), Some(c)) = (&held, &catalog) {
                if !held.contains(&a) {
                    cx.error("group-not-in-catalog", o, &path!["access_package", key, "groups", i], format!("access_package.{key}: {a} is not a resource of {c}; add it to the catalog's groups"));
                }
            }
        }
        let mut names = BTreeMap::new();
        for (pk, pol) in &p.policies {
            let at = |f: &str| path!["access_package", key, "policies", pk, f];
            if pol.display_name.trim().is_empty() {
                cx.error("empty-name", o, &at("display_name"), format!("access_package.{key}.policies.{pk}: display_name must not be empty"));
            } else if let Some(other) = names.insert(pol.display_name.to_lowercase(), pk.clone()) {
                cx.error("duplicate-policy", o, &at("display_name"), format!("access_package.{key}.policies.{pk}: display name `{}` is also policies.{other}'s; Graph tells a package's policies apart by name", pol.display_name));
            }
            policy_checks(cx, key, pk, pol, o);
        }
    }
    crate::kinds::access_package_rules::validate(cx);
    crate::kinds::access_package_reach::validate(cx);
    crate::kinds::access_package_groups::validate(cx);
    crate::kinds::access_package_incompatible::validate(cx);
    crate::kinds::access_package_review::validate(cx);
    crate::kinds::access_package_questions::validate(cx);
    crate::kinds::access_package_stages::validate(cx);
    crate::kinds::access_package_chain::validate(cx);
    crate::kinds::access_package_automatic::validate(cx);
    crate::kinds::access_resources::validate(cx);
}

fn policy_checks(cx: &mut Ctx, key: &str, pk: &str, pol: &AssignmentPolicy, o: &crate::diagnostic::Origin) {
    let at = |f: &str| path!["access_package", key, "policies", pk, f];
    let scope = pol.allowed_target_scope.as_str();
    let name = format!("access_package.{key}.policies.{pk}");
    if !TARGET_SCOPES.contains(&scope) {
        let e = cx.error("bad-value", o, &at("allowed_target_scope"), format!("{name}: allowed_target_scope `{scope}` is not one of Graph's ({})", TARGET_SCOPES.join(", ")));
        e.help = crate::suggest::closest(scope, TARGET_SCOPES.iter().copied()).map(|x| format!("did you mean `{x}`?"));
    }
    let specific = scope.starts_with("specific");
    // An automatic policy's target is its rule (`access_package_automatic`).
    if specific && pol.specific_allowed_targets.is_empty() && pol.automatic_request_settings.is_none() {
        cx.error("missing-targets", o, &at("allowed_target_scope"), format!("{name}: {scope} needs specific_allowed_targets"));
    }
    if !specific && !pol.specific_allowed_targets.is_empty() {
        cx.error("targets-without-specific-scope", o, &at("specific_allowed_targets"), format!("{name}: specific_allowed_targets is only for the specific... scopes, not {scope}"));
    }
    for (i, t) in pol.specific_allowed_targets.iter().enumerate() {
        let p = path!["access_package", key, "policies", pk, "specific_allowed_targets", i];
        match t.strip_prefix(CONNECTED_ORGANIZATION) {
            Some(id) if scope == "specificConnectedOrganizationUsers" => {
                if !crate::validate::is_guid(id) {
                    cx.error("bad-value", o, &p, format!("{name}: `{t}`: a connected organization is named by its id (a GUID)"));
                }
            }
            Some(_) => {
                cx.error("bad-value", o, &p, format!("{name}: a connected organization is a target of specificConnectedOrganizationUsers only"));
            }
            None if scope == "specificConnectedOrganizationUsers" => {
                cx.error("bad-value", o, &p, format!("{name}: specificConnectedOrganizationUsers takes `connected_organization:<id>` targets, not `{t}`"));
            }
            None => {
                cx.reference(o, &p, t, &[Kind::Group, Kind::User, Kind::Guest]);
            }
        }
    }
    let e = &pol.expiration;
    let ep = |f: &str| path!["access_package", key, "policies", pk, "expiration", f];
    match e.kind.as_str() {
        AFTER_DURATION => match e.duration.as_deref() {
            None => {
                cx.error("missing-duration", o, &ep("type"), format!("{name}: expiration afterDuration needs a duration (`P30D`)"));
            }
            Some(dur) if duration_days(dur).is_none_or(|d| d <= 0) => {
                cx.error("bad-duration", o, &ep("duration"), format!("{name}: expiration duration `{dur}` is not an ISO 8601 duration of days and hours (`P30D`, `PT12H`)"));
            }
            Some(_) => {}
        },
        AFTER_DATE_TIME if e.end_date_time.is_none() => {
            cx.error("missing-end", o, &ep("type"), format!("{name}: expiration afterDateTime needs end_date_time"));
        }
        AFTER_DATE_TIME | NO_EXPIRATION => {}
        other => {
            cx.error("bad-value", o, &ep("type"), format!("{name}: expiration type `{other}` is not afterDuration, afterDateTime or noExpiration"));
        }
    }
    if e.kind != AFTER_DURATION && e.duration.is_some() {
        cx.error("bad-value", o, &ep("duration"), format!("{name}: duration is for expiration type afterDuration"));
    }
    if e.kind != AFTER_DATE_TIME && e.end_date_time.is_some() {
        cx.error("bad-value", o, &ep("end_date_time"), format!("{name}: end_date_time is for expiration type afterDateTime"));
    }
    if let Some(a) = &pol.request_approval_settings {
        let ap = |f: &str| path!["access_package", key, "policies", pk, "request_approval_settings", f];
        if a.is_approval_required_for_add && a.stages.is_empty() {
            cx.error("missing-stages", o, &ap("is_approval_required_for_add"), format!("{name}: approval is required but no stage says who approves"));
        }
        if a.stages.len() > 3 {
            cx.error("too-many-stages", o, &ap("stages"), format!("{name}: Graph takes at most 3 approval stages, not {}", a.stages.len()));
        }
        for (i, s) in a.stages.iter().enumerate() {
            let sp = |f: &str| path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, f];
            if s.primary_approvers.is_empty() {
                cx.error("missing-approvers", o, &sp("primary_approvers"), format!("{name}: stage {} has no primary_approvers", i + 1));
            }
            match duration_days(&s.duration_before_automatic_denial) {
                Some(1..=14) => {}
                _ => {
                    cx.error("bad-duration", o, &sp("duration_before_automatic_denial"), format!("{name}: stage {}: duration_before_automatic_denial `{}` is not 1 to 14 days (`P14D`)", i + 1, s.duration_before_automatic_denial));
                }
            }
            crate::kinds::access_package_review::escalation_checks(cx, key, pk, i, s, o);
            for (field, list) in [("primary_approvers", &s.primary_approvers), ("fallback_primary_approvers", &s.fallback_primary_approvers), ("escalation_approvers", &s.escalation_approvers), ("fallback_escalation_approvers", &s.fallback_escalation_approvers)] {
                for (j, who) in list.iter().enumerate() {
                    if special_approver(who).is_none() {
                        cx.reference(o, &path!["access_package", key, "policies", pk, "request_approval_settings", "stages", i, field, j], who, &[Kind::User, Kind::Guest, Kind::Group]);
                    }
                }
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("access package (grants group access, with its approval and expiry)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/identityGovernance/entitlementManagement/accessPackages", "/identityGovernance/entitlementManagement/assignmentPolicies"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
