//! `[guest.KEY]`: external people invited as B2B guests. Guest access is
//! time-boxed, so `expires` is required.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[guest.KEY]`: an external person invited as a B2B guest. Guest access is time-boxed, so `expires` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    /// invitedUserEmailAddress; also the natural key of the guest.
    pub email: String,
    pub display_name: String,
    /// inviteRedirectUrl: where the guest lands after redeeming.
    #[serde(default = "default_redirect")]
    pub redirect_url: String,
    /// When access ends. After it, the guest is disabled or deleted as
    /// `[governance] guest_expiry_action` says.
    #[serde(with = "crate::datetime")]
    #[schemars(with = "String")]
    pub expires: DateTime<Utc>,
    /// Send Microsoft's invitation e-mail.
    #[serde(default)]
    pub send_invitation: bool,
    /// Who sponsored the invitation (free text, kept in the plan for review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
}

fn default_redirect() -> String {
    "https://myapps.microsoft.com".to_string()
}

// Validation: this kind's own checks, run through the registry by
// `crate::validate` (cross-kind checks live in `crate::validate::*`).

use crate::path;
use crate::validate::{email_problem, Ctx};

/// Every check of this kind, in order.
pub(crate) fn validate(cx: &mut Ctx) {
    check_guests(cx);
}

fn check_guests(cx: &mut Ctx) {
    for (key, d) in &cx.state.guest {
        let g = &d.value;
        if let Some(p) = email_problem(&g.email) {
            cx.error(
                "invalid-email",
                &d.origin,
                &path!["guest", key, "email"],
                format!("guest.{key}: {p}"),
            );
        }
        let own = cx.state.tenant.as_ref().and_then(|t| {
            let domain = g.email.rsplit_once('@')?.1.to_ascii_lowercase();
            t.value
                .domains()
                .any(|d| d.eq_ignore_ascii_case(&domain))
                .then_some(domain)
        });
        if let Some(domain) = own {
            cx.error(
                "guest-in-own-domain",
                &d.origin,
                &path!["guest", key, "email"],
                format!("guest.{key}: `{domain}` is one of the tenant's own domains; declare a [user] instead of inviting a guest"),
            );
        }
        if !(g.redirect_url.starts_with("https://") || g.redirect_url.starts_with("http://")) {
            cx.error(
                "invalid-url",
                &d.origin,
                &path!["guest", key, "redirect_url"],
                format!(
                    "guest.{key}: redirect_url `{}` is not an http(s) URL",
                    g.redirect_url
                ),
            );
        }
    }
}

/// Whether its changes need approval whatever they change (the registry
/// hands it to governance: `Kind::sensitivity`).
pub const SENSITIVITY: crate::kind_facts::Sensitivity = crate::kind_facts::Sensitivity::CreateOr("guest invitation", "guest access");
/// The Graph collections this kind manages (its provider writes the first):
/// a `graph_object` there is refused (`Kind::collections`).
pub const COLLECTIONS: &[&str] = &["/users", "/invitations"];
/// A guest's access has an end (`expires`): deleting it past that end,
/// blocking its sign-in or bringing the end earlier only removes access, and
/// one no longer declared is disabled or deleted once its recorded end
/// has passed (`Kind::access`).
pub const ACCESS: crate::kind_facts::Access = crate::kind_facts::Access::Expiring { noun: "guest" };
