//! Automatic assignment on an access package's assignment policy (Graph
//! v1.0 `accessPackageAutomaticRequestSettings`, the policy's
//! `automaticRequestSettings`): Entra assigns the package to every user a
//! dynamic membership rule matches (an `attributeRuleMembers` target), with
//! nobody requesting and nobody approving, and removes the assignment when
//! the user leaves the rule (after an optional grace period).
//!
//! `[access_package.KEY.policies.P.automatic_request_settings]` declares
//! it; undeclared, the policy is request-based (Graph: "if absent, this is
//! a request-based policy"), so automatic assignment turned on in the
//! portal is drift the plan corrects. What the docs give, checked here:
//! the policy's `allowedTargetScope` is `specificDirectoryUsers` and its
//! target is the rule ("Create assignmentPolicies", example 3); a package
//! has at most one automatic assignment policy ("Configure an automatic
//! assignment policy for an access package").
//!
//! Governance: an automatic policy grants without a second person, so it
//! is judged as a policy with no approval stage (`access_package_rules`:
//! `access-without-approval` when the package grants privileged access,
//! whatever its `request_approval_settings` say), and its rule must be
//! proved to leave out every service account (the engine's
//! `package_automatic` lint, `service-account-access-package`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::access_package::{duration_days, AssignmentPolicy};
use crate::path;
use crate::validate::Ctx;

/// An `accessPackageAutomaticRequestSettings`, with the rule it assigns by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomaticRequestSettings {
    /// The dynamic membership rule of the users the package is assigned
    /// to (`attributeRuleMembers.membershipRule`), e.g.
    /// `(user.department -eq "Sales")`.
    pub membership_rule: String,
    /// Whether an assignment ends when its user leaves the rule.
    #[serde(default = "yes")]
    pub remove_access_when_target_leaves_allowed_targets: bool,
    /// How long a user who left the rule keeps access (`P7D`, `PT12H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_before_access_removal: Option<String>,
}

fn yes() -> bool {
    true
}

/// The only `allowedTargetScope` an automatic policy takes.
pub const AUTOMATIC_SCOPE: &str = "specificDirectoryUsers";

/// The checks of each declared automatic assignment (the governance rules
/// are in `access_package_rules`).
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        let automatic: Vec<(String, AssignmentPolicy)> = d.value.policies.iter().filter(|(_, p)| p.automatic_request_settings.is_some()).map(|(k, p)| (k.clone(), p.clone())).collect();
        found.push((key.to_string(), automatic, d.origin.clone()));
    }
    for (key, automatic, o) in found {
        for (i, (pk, pol)) in automatic.iter().enumerate() {
            let Some(a) = &pol.automatic_request_settings else { continue };
            let name = format!("access_package.{key}.policies.{pk}");
            let at = |f: &str| path!["access_package", key.as_str(), "policies", pk.as_str(), "automatic_request_settings", f];
            if i > 0 {
                cx.error("duplicate-automatic", &o, &at("membership_rule"), format!("{name}: policies.{} already assigns access_package.{key} automatically; Entra allows one automatic assignment policy per package", automatic[0].0));
            }
            if a.membership_rule.trim().is_empty() {
                cx.error("bad-value", &o, &at("membership_rule"), format!("{name}: membership_rule must not be empty: it says whom the package is assigned to"));
            }
            if pol.allowed_target_scope != AUTOMATIC_SCOPE {
                let p = path!["access_package", key.as_str(), "policies", pk.as_str(), "allowed_target_scope"];
                cx.error("bad-value", &o, &p, format!("{name}: an automatic assignment policy admits the users its membership_rule matches: allowed_target_scope must be `{AUTOMATIC_SCOPE}`, not `{}`", pol.allowed_target_scope));
            }
            if !pol.specific_allowed_targets.is_empty() {
                let p = path!["access_package", key.as_str(), "policies", pk.as_str(), "specific_allowed_targets"];
                cx.error("bad-value", &o, &p, format!("{name}: an automatic assignment policy's targets are its membership_rule; remove specific_allowed_targets"));
            }
            if let Some(g) = &a.grace_period_before_access_removal {
                if !a.remove_access_when_target_leaves_allowed_targets {
                    cx.error("bad-value", &o, &at("grace_period_before_access_removal"), format!("{name}: a grace period before access removal needs remove_access_when_target_leaves_allowed_targets = true"));
                } else if duration_days(g).is_none_or(|d| d <= 0) {
                    cx.error("bad-duration", &o, &at("grace_period_before_access_removal"), format!("{name}: grace_period_before_access_removal `{g}` is not an ISO 8601 duration of days and hours (`P7D`, `PT12H`)"));
                }
            }
        }
    }
}

/// How a policy's `attributeRuleMembers` target is written among its
/// specific allowed targets in props (`attribute_rule:<rule>`).
pub const ATTRIBUTE_RULE: &str = "attribute_rule:";
