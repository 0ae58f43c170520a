//! `[authentication_methods_policy.KEY]`: the tenant's authentication
//! methods policy (`/policies/authenticationMethodsPolicy`, v1.0), a
//! singleton: at most one is declared, it is only ever updated, and only
//! the methods it declares are managed (an undeclared method is left as
//! it is). Each declared method (`authenticationMethodConfigurations/{id}`)
//! has its `state`, its targets by group key (or `all_users`) and the
//! settings v1.0 gives that method; `registration_campaign` is the
//! policy's `registrationEnforcement.authenticationMethodsRegistrationCampaign`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[authentication_methods_policy.KEY]`: which authentication methods users may register and use, and the Microsoft Authenticator registration campaign (a singleton; only the declared methods are managed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationMethodsPolicy {
    /// The nudge to register Microsoft Authenticator at sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_campaign: Option<RegistrationCampaign>,
    /// Methods by name (`microsoft_authenticator`, `fido2`,
    /// `temporary_access_pass`, `sms`, `voice`, `email`, `software_oath`,
    /// `x509_certificate`); an undeclared method is not managed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub methods: BTreeMap<String, MethodConfig>,
}

/// Graph's `authenticationMethodsRegistrationCampaign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationCampaign {
    /// `default`, `enabled` or `disabled`.
    pub state: String,
    /// How many times a user may postpone (0 to 14 days; Graph's default 1).
    #[serde(default = "one_day")]
    pub snooze_duration_in_days: i64,
    /// Group or user keys, or `all_users`, asked to register.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Group or user keys never asked (the service accounts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

fn one_day() -> i64 {
    1
}

/// One method's configuration. The common fields apply to every method;
/// the others only to the method named in their description (validation
/// refuses them elsewhere, as Graph does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `enabled` or `disabled`.
    pub state: String,
    /// Group keys, or `all_users`, who may use the method; absent: the
    /// targets are not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// Group keys who may not; absent: not managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    /// microsoft_authenticator: `any`, `push` or `deviceBasedPush` for every included target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<String>,
    /// microsoft_authenticator: show the requesting application (`default`, `enabled`, `disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_app_information: Option<String>,
    /// microsoft_authenticator: show the sign-in's location (`default`, `enabled`, `disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_location_information: Option<String>,
    /// microsoft_authenticator: OTP codes from the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_software_oath_enabled: Option<bool>,
    /// fido2: require attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_attestation_enforced: Option<bool>,
    /// fido2: users may register keys themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_self_service_registration_allowed: Option<bool>,
    /// temporary_access_pass: a pass may be used once only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_usable_once: Option<bool>,
    /// temporary_access_pass: 8 to 48 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_length: Option<i64>,
    /// temporary_access_pass: 10 to 43200 minutes (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_lifetime_in_minutes: Option<i64>,
    /// temporary_access_pass: 10 to 43200 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_lifetime_in_minutes: Option<i64>,
    /// temporary_access_pass: 10 to 43200 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_lifetime_in_minutes: Option<i64>,
    /// email: `default`, `enabled` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_external_id_to_use_email_otp: Option<String>,
    /// voice: office phones may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_office_phone_allowed: Option<bool>,
}

/// One method tenantctl manages: its TOML name, Graph's id (as GET
/// returns it), the path segment PATCH uses, its `@odata.type`, and the
/// method-specific fields it takes (TOML names).
pub struct Method {
    pub name: &'static str,
    pub id: &'static str,
    pub segment: &'static str,
    pub odata_type: &'static str,
    pub fields: &'static [&'static str],
}

/// The methods of Graph v1.0's `authenticationMethodConfiguration` that
/// are declared here (their types are v1.0 entity types).
pub const METHODS: &[Method] = &[
    Method { name: "microsoft_authenticator", id: "MicrosoftAuthenticator", segment: "microsoftAuthenticator", odata_type: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethodConfiguration", fields: &["authentication_mode", "display_app_information", "display_location_information", "is_software_oath_enabled"] },
    Method { name: "fido2", id: "Fido2", segment: "fido2", odata_type: "#microsoft.graph.fido2AuthenticationMethodConfiguration", fields: &["is_attestation_enforced", "is_self_service_registration_allowed"] },
    Method { name: "temporary_access_pass", id: "TemporaryAccessPass", segment: "temporaryAccessPass", odata_type: "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", fields: &["is_usable_once", "default_length", "default_lifetime_in_minutes", "minimum_lifetime_in_minutes", "maximum_lifetime_in_minutes"] },
    Method { name: "sms", id: "Sms", segment: "sms", odata_type: "#microsoft.graph.smsAuthenticationMethodConfiguration", fields: &[] },
    Method { name: "voice", id: "Voice", segment: "voice", odata_type: "#microsoft.graph.voiceAuthenticationMethodConfiguration", fields: &["is_office_phone_allowed"] },
    Method { name: "email", id: "Email", segment: "email", odata_type: "#microsoft.graph.emailAuthenticationMethodConfiguration", fields: &["allow_external_id_to_use_email_otp"] },
    Method { name: "software_oath", id: "SoftwareOath", segment: "softwareOath", odata_type: "#microsoft.graph.softwareOathAuthenticationMethodConfiguration", fields: &[] },
    Method { name: "x509_certificate", id: "X509Certificate", segment: "x509Certificate", odata_type: "#microsoft.graph.x509CertificateAuthenticationMethodConfiguration", fields: &[] },
];

/// The method named `name` in TOML.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// The method with Graph's id `id` (any case).
pub fn method_by_id(id: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

/// The target every user is: Graph's `all_users` group id.
pub const ALL_USERS: &str = "all_users";

impl MethodConfig {
    /// The method-specific fields set, by TOML name.
    pub fn specific_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut set = |name: &'static str, on: bool| {
            if on {
                out.push(name);
            }
        };
        set("authentication_mode", self.authentication_mode.is_some());
        set("display_app_information", self.display_app_information.is_some());
        set("display_location_information", self.display_location_information.is_some());
        set("is_software_oath_enabled", self.is_software_oath_enabled.is_some());
        set("is_attestation_enforced", self.is_attestation_enforced.is_some());
        set("is_self_service_registration_allowed", self.is_self_service_registration_allowed.is_some());
        set("is_usable_once", self.is_usable_once.is_some());
        set("default_length", self.default_length.is_some());
        set("default_lifetime_in_minutes", self.default_lifetime_in_minutes.is_some());
        set("minimum_lifetime_in_minutes", self.minimum_lifetime_in_minutes.is_some());
        set("maximum_lifetime_in_minutes", self.maximum_lifetime_in_minutes.is_some());
        set("allow_external_id_to_use_email_otp", self.allow_external_id_to_use_email_otp.is_some());
        set("is_office_phone_allowed", self.is_office_phone_allowed.is_some());
        out
    }
}

// Validation: this kind's own checks, run through the registry.

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

const FEATURE_STATES: &[&str] = &["default", "enabled", "disabled"];
const MODES: &[&str] = &["any", "push", "deviceBasedPush"];
/// Temporary Access Pass lifetimes Graph accepts (minutes).
const TAP_LIFETIME: std::ops::RangeInclusive<i64> = 10..=43200;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    let mut declared = cx.state.authentication_methods_policy.iter();
    if let Some((first, _)) = declared.next() {
        for (key, d) in declared {
            cx.error("singleton", &d.origin, &path!["authentication_methods_policy", key.as_str()], format!("authentication_methods_policy.{key}: the tenant has one authentication methods policy, already declared as authentication_methods_policy.{first}"));
        }
    }
    for (key, d) in &cx.state.authentication_methods_policy {
        let (p, o) = (&d.value, &d.origin);
        if let Some(c) = &p.registration_campaign {
            let at = |f: &str| path!["authentication_methods_policy", key, "registration_campaign", f].to_vec();
            if !FEATURE_STATES.contains(&c.state.as_str()) {
                cx.error("bad-value", o, &at("state"), format!("authentication_methods_policy.{key}: registration_campaign state `{}` is not one of default, enabled, disabled", c.state));
            }
            if !(0..=14).contains(&c.snooze_duration_in_days) {
                cx.error("out-of-range", o, &at("snooze_duration_in_days"), format!("authentication_methods_policy.{key}: snooze_duration_in_days must be 0 to 14, not {}", c.snooze_duration_in_days));
            }
            if c.state == "enabled" && c.include.is_empty() {
                cx.error("no-targets", o, &at("include"), format!("authentication_methods_policy.{key}: an enabled registration campaign includes at least one target (`all_users` or a group or user key)"));
            }
            for (field, list) in [("include", &c.include), ("exclude", &c.exclude)] {
                for (i, t) in list.iter().enumerate() {
                    if t != ALL_USERS || field == "exclude" {
                        cx.reference(o, &path!["authentication_methods_policy", key, "registration_campaign", field, i], t, &[Kind::Group, Kind::User]);
                    }
                }
            }
        }
        for (name, m) in &p.methods {
            let at = |f: &str| path!["authentication_methods_policy", key, "methods", name.as_str(), f].to_vec();
            let Some(def) = method(name) else {
                let d2 = cx.error("unknown-method", o, &path!["authentication_methods_policy", key, "methods", name.as_str()], format!("authentication_methods_policy.{key}: `{name}` is not an authentication method tenantctl manages"));
                d2.help = crate::suggest::closest(name, METHODS.iter().map(|m| m.name)).map(|x| format!("did you mean `{x}`?"));
                continue;
            };
            if m.state != "enabled" && m.state != "disabled" {
                cx.error("bad-value", o, &at("state"), format!("authentication_methods_policy.{key}: {name}'s state `{}` is not `enabled` or `disabled`", m.state));
            }
            if m.state == "enabled" && m.include.as_ref().is_some_and(Vec::is_empty) {
                cx.error("no-targets", o, &at("include"), format!("authentication_methods_policy.{key}: {name} is enabled for nobody; include `all_users` or a group key"));
            }
            for f in m.specific_fields() {
                if !def.fields.contains(&f) {
                    cx.error("not-for-method", o, &at(f), format!("authentication_methods_policy.{key}: `{f}` does not apply to {name}"));
                }
            }
            for (field, list) in [("include", &m.include), ("exclude", &m.exclude)] {
                for (i, t) in list.iter().flatten().enumerate() {
                    if t == ALL_USERS && field == "include" {
                        continue;
                    }
                    cx.reference(o, &path!["authentication_methods_policy", key, "methods", name.as_str(), field, i], t, &[Kind::Group]);
                }
            }
            if m.authentication_mode.is_some() && m.include.is_none() {
                cx.error("mode-without-targets", o, &at("authentication_mode"), format!("authentication_methods_policy.{key}: authentication_mode is set on the included targets; declare `include` too"));
            }
            if let Some(mode) = &m.authentication_mode {
                if !MODES.contains(&mode.as_str()) {
                    cx.error("bad-value", o, &at("authentication_mode"), format!("authentication_methods_policy.{key}: authentication_mode `{mode}` is not one of any, push, deviceBasedPush"));
                }
            }
            for (f, v) in [("display_app_information", &m.display_app_information), ("display_location_information", &m.display_location_information), ("allow_external_id_to_use_email_otp", &m.allow_external_id_to_use_email_otp)] {
                if let Some(v) = v.as_deref().filter(|v| !FEATURE_STATES.contains(v)) {
                    cx.error("bad-value", o, &at(f), format!("authentication_methods_policy.{key}: {f} `{v}` is not one of default, enabled, disabled"));
                }
            }
            if let Some(n) = m.default_length.filter(|n| !(8..=48).contains(n)) {
                cx.error("out-of-range", o, &at("default_length"), format!("authentication_methods_policy.{key}: default_length must be 8 to 48, not {n}"));
            }
            let lifetimes = [("minimum_lifetime_in_minutes", m.minimum_lifetime_in_minutes), ("default_lifetime_in_minutes", m.default_lifetime_in_minutes), ("maximum_lifetime_in_minutes", m.maximum_lifetime_in_minutes)];
            for (f, v) in lifetimes {
                if let Some(n) = v.filter(|n| !TAP_LIFETIME.contains(n)) {
                    cx.error("out-of-range", o, &at(f), format!("authentication_methods_policy.{key}: {f} must be 10 to 43200 minutes, not {n}"));
                }
            }
            if let (Some(min), Some(max)) = (m.minimum_lifetime_in_minutes, m.maximum_lifetime_in_minutes) {
                if min > max {
                    cx.error("out-of-range", o, &at("minimum_lifetime_in_minutes"), format!("authentication_methods_policy.{key}: minimum_lifetime_in_minutes ({min}) is above maximum_lifetime_in_minutes ({max})"));
                }
            }
            if let Some(def_life) = m.default_lifetime_in_minutes {
                let below = m.minimum_lifetime_in_minutes.is_some_and(|min| def_life < min);
                let above = m.maximum_lifetime_in_minutes.is_some_and(|max| def_life > max);
                if below || above {
                    cx.error("out-of-range", o, &at("default_lifetime_in_minutes"), format!("authentication_methods_policy.{key}: default_lifetime_in_minutes ({def_life}) is outside the minimum and maximum lifetimes"));
                }
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("authentication methods policy");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/policies/authenticationMethodsPolicy"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
