//! `[user.KEY]`: people and service accounts (member users).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A person or a service account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    /// A person.
    #[default]
    Member,
    /// A service account: no policy, MFA or conditional access may target it.
    Service,
}

/// `[user.KEY]`: a member user, either a person or a service account. Passwords are never written in TOML: name an environment variable in `password_env`, or let tenantctl generate one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// `alias@domain`, the natural key of the user. The domain must be the
    /// tenant's `primary_domain` or one of its `verified_domains`.
    pub user_principal_name: String,
    pub display_name: String,
    /// Exchange alias: at most 64 ASCII characters, none of `@()\[]";:<>,`
    /// or space; dots only between other characters.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r#"^[^@()\\\[\]";:<>,\s.]([^@()\\\[\]";:<>,\s]*[^@()\\\[\]";:<>,\s.])?$"#)
    )]
    pub mail_nickname: String,
    /// `member` (a person, the default) or `service` (a service account).
    #[serde(default)]
    pub kind: UserKind,
    /// Service accounts only: the directory roles this account may hold
    /// (least privilege); any other role assignment to it is an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_roles: Vec<String>,
    /// Service accounts only: the account only reads (like the SOC's), so
    /// it may hold only read-only roles.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Whether the account can sign in.
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// ISO 3166 alpha-2 country code; needed before a licence can be assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Sets passwordPolicies = "DisablePasswordExpiration".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_password_expiration: Option<bool>,
    /// Name of the environment variable holding the initial password. Passwords
    /// are never written in TOML; without this a random one is generated at
    /// create time and never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Ask for a new password at first sign-in (default: true for people,
    /// false for service accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_change_password_next_sign_in: Option<bool>,
    /// Licences assigned directly (SKU part numbers, with the service
    /// plans switched off); needs `usage_location`. Absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<Vec<crate::kinds::licenses::License>>,
}

fn yes() -> bool {
    true
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::path;
use crate::validate::{upn_problem, user_mail_nickname_problem, Ctx};

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_users(cx);
    crate::kinds::licenses::check_user_licenses(cx);
}

fn check_users(cx: &mut Ctx) {
    let domains: Option<Vec<String>> = cx
        .state
        .tenant
        .as_ref()
        .map(|t| t.value.domains().map(str::to_ascii_lowercase).collect());
    for (key, d) in &cx.state.user {
        let u = &d.value;
        if let Some(p) = upn_problem(&u.user_principal_name) {
            cx.error(
                "invalid-upn",
                &d.origin,
                &path!["user", key, "user_principal_name"],
                format!("user.{key}: {p}"),
            );
        } else if let (Some(domains), Some((_, domain))) =
            (&domains, u.user_principal_name.split_once('@'))
        {
            if !domains.contains(&domain.to_ascii_lowercase()) {
                cx.error(
                    "upn-domain",
                    &d.origin,
                    &path!["user", key, "user_principal_name"],
                    format!("user.{key}: `{domain}` is not a verified domain of the tenant"),
                )
                .help = Some(format!("verified domains: {}", domains.join(", ")));
            }
        }
        if let Some(p) = user_mail_nickname_problem(&u.mail_nickname) {
            cx.error(
                "invalid-mail-nickname",
                &d.origin,
                &path!["user", key, "mail_nickname"],
                format!("user.{key}: mail_nickname {p}"),
            );
        }
        if let Some(loc) = &u.usage_location {
            if loc.len() != 2 || !loc.chars().all(|c| c.is_ascii_uppercase()) {
                cx.error(
                    "invalid-usage-location",
                    &d.origin,
                    &path!["user", key, "usage_location"],
                    format!("user.{key}: usage_location `{loc}` is not an ISO 3166 alpha-2 code such as `US`"),
                );
            }
        }
        if let Some(var) = &u.password_env {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                cx.error(
                    "invalid-env-name",
                    &d.origin,
                    &path!["user", key, "password_env"],
                    format!("user.{key}: password_env must name an environment variable, not hold a password"),
                );
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::ByRules;
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/users"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
/// Which role namespace an `allowed_roles` entry means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSpace {
    /// A directory (Entra) role: `directory:Global Reader`.
    Directory,
    /// An Intune role: `intune:Read Only Operator`.
    Intune,
}

/// An `allowed_roles` entry split into its namespace (`directory:` or
/// `intune:`, when written) and the role's name.
pub fn role_entry(entry: &str) -> (Option<RoleSpace>, &str) {
    let lower = entry.to_ascii_lowercase();
    for (prefix, space) in [("directory:", RoleSpace::Directory), ("intune:", RoleSpace::Intune)] {
        if lower.starts_with(prefix) {
            return (Some(space), entry[prefix.len()..].trim());
        }
    }
    (None, entry.trim())
}

/// Whether `allowed` (a service account's `allowed_roles`) lets it hold
/// `role` of namespace `space`: an entry of that namespace, or one with
/// none (validation refuses a bare name both namespaces know), naming it.
pub fn allows(allowed: &[String], space: RoleSpace, role: &str) -> bool {
    allowed.iter().map(|e| role_entry(e)).any(|(s, name)| (s.is_none() || s == Some(space)) && name.eq_ignore_ascii_case(role.trim()))
}

/// Intune's built-in roles that only read.
pub const READ_ONLY_INTUNE_ROLES: &[&str] = &["Read Only Operator", "Endpoint Privilege Reader"];
