//! `[authentication_strength.KEY]`: a custom authentication strength
//! (`/policies/authenticationStrengthPolicies`, `policyType = custom`).
//! Conditional access grant controls name it by key; the built-in
//! strengths are named by display name instead and are never declared.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationStrength {
    /// Unique among the tenant's strengths: how an existing one is found.
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Each entry one combination of Graph's `authenticationMethodModes`,
    /// comma-separated (`"fido2"`, `"password,microsoftAuthenticatorPush"`).
    pub allowed_combinations: Vec<String>,
}

/// Graph's `authenticationMethodModes` (v1.0).
pub const METHOD_MODES: &[&str] = &[
    "password",
    "voice",
    "hardwareOath",
    "softwareOath",
    "sms",
    "fido2",
    "windowsHelloForBusiness",
    "microsoftAuthenticatorPush",
    "deviceBasedPush",
    "temporaryAccessPassOneTime",
    "temporaryAccessPassMultiUse",
    "email",
    "x509CertificateSingleFactor",
    "x509CertificateMultiFactor",
    "federatedSingleFactor",
    "federatedMultiFactor",
    "qrCodePin",
];

/// A combination in Graph's spelling: its modes, trimmed, joined by ",".
pub fn canonical_combination(c: &str) -> String {
    let mut modes: Vec<&str> = c.split(',').map(str::trim).collect();
    modes.sort_unstable();
    modes.join(",")
}

// Validation: this kind's own checks, run through the registry.

use crate::path;
use crate::validate::Ctx;

/// Every check of this kind.
pub(crate) fn validate(cx: &mut Ctx) {
    for (key, d) in &cx.state.authentication_strength {
        let (s, o) = (&d.value, &d.origin);
        if s.allowed_combinations.is_empty() {
            cx.error("no-combinations", o, &path!["authentication_strength", key, "allowed_combinations"], format!("authentication_strength.{key}: allow at least one combination of authentication methods"));
        }
        if crate::kinds::conditional_access_rules::built_in_strength_id(s.display_name.trim()).is_some() {
            cx.error("built-in-strength-name", o, &path!["authentication_strength", key, "display_name"], format!("authentication_strength.{key}: `{}` is a built-in strength's name; name a custom strength differently (policies name the built-in one directly)", s.display_name));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in s.allowed_combinations.iter().enumerate() {
            let at = path!["authentication_strength", key, "allowed_combinations", i];
            for m in c.split(',').map(str::trim) {
                if !METHOD_MODES.contains(&m) {
                    let d2 = cx.error("unknown-method-mode", o, &at, format!("authentication_strength.{key}: `{m}` is not an authentication method mode"));
                    d2.help = crate::suggest::closest(m, METHOD_MODES.iter().copied()).map(|x| format!("did you mean `{x}`?"));
                }
            }
            if !seen.insert(canonical_combination(c)) {
                cx.error("duplicate-combination", o, &at, format!("authentication_strength.{key}: combination `{c}` is listed twice"));
            }
            // A single first factor alone is not a strength Entra accepts.
            if matches!(c.trim(), "password" | "federatedSingleFactor" | "x509CertificateSingleFactor") {
                cx.error("single-factor-combination", o, &at, format!("authentication_strength.{key}: `{c}` alone is a single factor; Entra accepts only combinations that satisfy MFA or a passwordless method"));
            }
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::Always("authentication strength (conditional access)");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/policies/authenticationStrengthPolicies"];
/// Its objects grant no access by themselves (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::None;
