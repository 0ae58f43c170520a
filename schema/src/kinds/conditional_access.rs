//! `[conditional_access.KEY]`: an Entra conditional access policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the policy is enforced, only reported on, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    Enabled,
    Disabled,
    EnabledForReportingButNotEnforced,
}

/// Whether one (OR) or all (AND) of the controls are required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GrantOperator {
    #[default]
    OR,
    AND,
}

/// Special values Graph accepts in include/exclude user lists.
pub const SPECIAL_USERS: &[&str] = &["All", "None", "GuestsOrExternalUsers"];

/// Which users the policy applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConditions {
    /// User or guest keys, or "All", "None", "GuestsOrExternalUsers".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_users: Vec<String>,
    /// Group keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_groups: Vec<String>,
    /// Built-in role display names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_roles: Vec<String>,
    /// Guests or external users by type (and, optionally, home tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_guests_or_external_users: Option<GuestsOrExternalUsers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_guests_or_external_users: Option<GuestsOrExternalUsers>,
}

/// Which cloud apps the policy applies to. Graph requires an application
/// condition, so `include_applications` must name at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationConditions {
    /// Application ids, or "All", "None", "Office365".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_applications: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_applications: Vec<String>,
    /// `urn:user:registersecurityinfo` or `urn:user:registerdevice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_user_actions: Vec<String>,
    /// Authentication context ids, `c1` to `c99`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_authentication_context_class_references: Vec<String>,
    /// A rule over custom security attributes of applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_filter: Option<Filter>,
}

/// What a user must satisfy to be granted access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantControls {
    #[serde(default)]
    pub operator: GrantOperator,
    /// e.g. "mfa", "block", "compliantDevice", "domainJoinedDevice".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub built_in_controls: Vec<String>,
    /// An `authentication_strength` key, or a built-in strength by name
    /// ("Multifactor authentication", "Passwordless MFA",
    /// "Phishing-resistant MFA").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_strength: Option<String>,
    /// Terms of use agreement ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms_of_use: Vec<String>,
}

/// `[conditional_access.KEY]`: an Entra conditional access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalAccess {
    /// Natural key of the policy.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `enabled`, `disabled`, or `enabledForReportingButNotEnforced`
    /// (report-only).
    pub state: PolicyState,
    /// e.g. "all", "browser", "mobileAppsAndDesktopClients".
    #[serde(default = "all_clients")]
    pub client_app_types: Vec<String>,
    pub users: UserConditions,
    #[serde(default)]
    pub applications: ApplicationConditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Platforms>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Locations>,
    /// `{ device_filter = { mode = "exclude", rule = "device.isCompliant -eq True" } }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Devices>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sign_in_risk_levels: Vec<RiskLevel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_risk_levels: Vec<RiskLevel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_principal_risk_levels: Vec<RiskLevel>,
    /// Insider risk (Microsoft Purview adaptive protection).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insider_risk_levels: Vec<InsiderRiskLevel>,
    /// Grant controls; may be left out when the policy only sets session
    /// controls.
    #[serde(default, skip_serializing_if = "GrantControls::is_unset")]
    pub grant: GrantControls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionControls>,
}

impl GrantControls {
    /// Whether no control is declared (a session-only policy).
    pub fn is_unset(&self) -> bool {
        self.built_in_controls.is_empty() && self.authentication_strength.is_none() && self.terms_of_use.is_empty()
    }
}

/// Guests or external users a policy includes or excludes
/// (`conditionalAccessGuestsOrExternalUsers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestsOrExternalUsers {
    /// At least one of Graph's `conditionalAccessGuestOrExternalUserTypes`.
    pub guest_or_external_user_types: Vec<GuestOrExternalUserType>,
    /// Their home tenants: all (the default) or the listed tenant ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_tenants: Option<ExternalTenants>,
}

/// Graph's `conditionalAccessGuestOrExternalUserTypes` (a flags enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GuestOrExternalUserType {
    InternalGuest,
    B2bCollaborationGuest,
    B2bCollaborationMember,
    B2bDirectConnectUser,
    OtherExternalUser,
    ServiceProvider,
}

/// `conditionalAccessAllExternalTenants` / `...EnumeratedExternalTenants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalTenants {
    pub membership_kind: MembershipKind,
    /// Tenant ids (GUIDs), for `membership_kind = "enumerated"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MembershipKind {
    All,
    Enumerated,
}

/// A device or application filter (`conditionalAccessFilter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub mode: FilterMode,
    pub rule: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FilterMode {
    Include,
    Exclude,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    pub device_filter: Filter,
}

/// Device platforms (`conditionalAccessDevicePlatform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum Platform {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "android")]
    Android,
    #[serde(rename = "iOS")]
    Ios,
    #[serde(rename = "windows")]
    Windows,
    #[serde(rename = "windowsPhone")]
    WindowsPhone,
    #[serde(rename = "macOS")]
    MacOs,
    #[serde(rename = "linux")]
    Linux,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platforms {
    pub include_platforms: Vec<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_platforms: Vec<Platform>,
}

/// Special values Graph accepts in location lists; anything else names a
/// declared `named_location`.
pub const SPECIAL_LOCATIONS: &[&str] = &["All", "AllTrusted"];

/// `named_location` keys, or "All" / "AllTrusted".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Locations {
    pub include_locations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_locations: Vec<String>,
}

/// Graph's `riskLevel` values a policy condition can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    None,
}

/// Graph's `conditionalAccessInsiderRiskLevels` (a flags enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InsiderRiskLevel {
    Minor,
    Moderate,
    Elevated,
}

/// Session controls (`conditionalAccessSessionControls`); each one declared
/// is enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionControls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_frequency: Option<SignInFrequency>,
    /// `always` or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_browser: Option<PersistentBrowserMode>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub application_enforced_restrictions: bool,
    /// `mcasConfigured`, `monitorOnly` or `blockDownloads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_app_security: Option<CloudAppSecurityType>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_resilience_defaults: bool,
}

/// `signInFrequencySessionControl`: `{ value = 4, type = "hours" }`, or
/// `{ frequency_interval = "everyTime" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInFrequency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub r#type: Option<FrequencyType>,
    #[serde(default)]
    pub frequency_interval: FrequencyInterval,
    #[serde(default)]
    pub authentication_type: FrequencyAuthenticationType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FrequencyType {
    Days,
    Hours,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FrequencyInterval {
    #[default]
    TimeBased,
    EveryTime,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FrequencyAuthenticationType {
    #[default]
    PrimaryAndSecondaryAuthentication,
    SecondaryAuthentication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PersistentBrowserMode {
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CloudAppSecurityType {
    McasConfigured,
    MonitorOnly,
    BlockDownloads,
}

fn all_clients() -> Vec<String> {
    vec!["all".to_string()]
}

/// Built-in grant controls Graph accepts.
pub const BUILT_IN_CONTROLS: &[&str] = &[
    "block",
    "mfa",
    "compliantDevice",
    "domainJoinedDevice",
    "approvedApplication",
    "compliantApplication",
    "passwordChange",
];

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::address::Kind;
use crate::path;
use crate::source::Seg;
use crate::validate::{is_guid, Ctx};

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_conditional_access(cx);
    check_conditional_access_targets(cx);
    crate::kinds::conditional_access_rules::check(cx);
}

fn check_conditional_access(cx: &mut Ctx) {
    for (key, d) in &cx.state.conditional_access {
        let p = &d.value;
        let base = |f: &str| path!["conditional_access", key, "users", f];
        for field in ["include_users", "exclude_users"] {
            let list = if field == "include_users" {
                &p.users.include_users
            } else {
                &p.users.exclude_users
            };
            for (i, r) in list.iter().enumerate() {
                if SPECIAL_USERS.contains(&r.as_str()) {
                    continue;
                }
                let mut at = base(field).to_vec();
                at.push(Seg::Index(i));
                cx.reference(&d.origin, &at, r, &[Kind::User, Kind::Guest]);
            }
        }
        for field in ["include_groups", "exclude_groups"] {
            let list = if field == "include_groups" {
                &p.users.include_groups
            } else {
                &p.users.exclude_groups
            };
            for (i, r) in list.iter().enumerate() {
                let mut at = base(field).to_vec();
                at.push(Seg::Index(i));
                cx.reference(&d.origin, &at, r, &[Kind::Group]);
            }
        }
        for field in ["include_roles", "exclude_roles"] {
            let list = if field == "include_roles" {
                &p.users.include_roles
            } else {
                &p.users.exclude_roles
            };
            for (i, r) in list.iter().enumerate() {
                if !crate::kinds::role_assignment::is_known_role(r) {
                    let mut at = base(field).to_vec();
                    at.push(Seg::Index(i));
                    cx.error("unknown-role", &d.origin, &at, format!("conditional_access.{key}: `{r}` is not a built-in directory role tenantctl knows, nor a role definition id (GUID)"));
                }
            }
        }
        if p.users.include_users.is_empty()
            && p.users.include_groups.is_empty()
            && p.users.include_roles.is_empty()
            && p.users.include_guests_or_external_users.is_none()
        {
            cx.error("no-users", &d.origin, &path!["conditional_access", key, "users"], format!("conditional_access.{key}: include at least one user, group or role (or \"All\")"));
        }
        // Graph refuses a policy without an application condition (an
        // empty includeApplications is a 400): one must be declared.
        if p.applications.include_applications.is_empty()
            && p.applications.include_user_actions.is_empty()
            && p.applications.include_authentication_context_class_references.is_empty()
        {
            cx.error(
                "no-applications",
                &d.origin,
                &path!["conditional_access", key, "applications"],
                format!("conditional_access.{key}: include at least one application (e.g. applications = {{ include_applications = [\"All\"] }}); Graph refuses a policy without one"),
            );
        }
        if p.grant.is_unset() && p.session.as_ref().is_none_or(|s| *s == SessionControls::default()) {
            cx.error(
                "no-controls",
                &d.origin,
                &path!["conditional_access", key, "grant", "built_in_controls"],
                format!("conditional_access.{key}: grant needs at least one control (or the policy a session control)"),
            );
        }
        for (i, c) in p.grant.built_in_controls.iter().enumerate() {
            if !BUILT_IN_CONTROLS.contains(&c.as_str()) {
                let d2 = cx.error(
                    "unknown-control",
                    &d.origin,
                    &path!["conditional_access", key, "grant", "built_in_controls", i],
                    format!("conditional_access.{key}: `{c}` is not a built-in grant control"),
                );
                d2.help = crate::suggest::closest(c, BUILT_IN_CONTROLS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
            }
        }
    }
}

/// Client app types Graph accepts in `conditions.clientAppTypes`.
pub const CLIENT_APP_TYPES: &[&str] = &[
    "all",
    "browser",
    "mobileAppsAndDesktopClients",
    "exchangeActiveSync",
    "easSupported",
    "other",
];

/// Special values Graph accepts in `conditions.applications` lists; anything
/// else must be an application id.
pub const SPECIAL_APPLICATIONS: &[&str] = &["All", "None", "Office365", "MicrosoftAdminPortals"];

fn check_conditional_access_targets(cx: &mut Ctx) {
    for (key, d) in &cx.state.conditional_access {
        let p = &d.value;
        for (i, t) in p.client_app_types.iter().enumerate() {
            if !CLIENT_APP_TYPES.contains(&t.as_str()) {
                let d2 = cx.error(
                    "unknown-client-app-type",
                    &d.origin,
                    &path!["conditional_access", key, "client_app_types", i],
                    format!("conditional_access.{key}: `{t}` is not a client app type"),
                );
                d2.help = Some(
                    match crate::suggest::closest(t, CLIENT_APP_TYPES.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("expected one of: {}", CLIENT_APP_TYPES.join(", ")),
                    },
                );
            }
        }
        for (field, list) in [
            ("include_applications", &p.applications.include_applications),
            ("exclude_applications", &p.applications.exclude_applications),
        ] {
            for (i, a) in list.iter().enumerate() {
                if SPECIAL_APPLICATIONS.contains(&a.as_str()) || is_guid(a) {
                    continue;
                }
                let d2 = cx.error(
                    "invalid-application",
                    &d.origin,
                    &path!["conditional_access", key, "applications", field, i],
                    format!("conditional_access.{key}: `{a}` is neither an application id nor one of {}", SPECIAL_APPLICATIONS.join(", ")),
                );
                if let Some(s) = crate::suggest::closest(a, SPECIAL_APPLICATIONS.iter().copied()) {
                    d2.help = Some(format!("did you mean `{s}`?"));
                }
            }
        }
        if p.users.include_users.iter().any(|u| u == "None") && p.users.include_users.len() > 1 {
            cx.error(
                "none-with-others",
                &d.origin,
                &path!["conditional_access", key, "users", "include_users"],
                format!("conditional_access.{key}: include_users lists \"None\" together with other users"),
            );
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("conditional access policy");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/identity/conditionalAccess/policies", "/policies/conditionalAccessPolicies"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
