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
