//! `[tenant]`: which tenant and cloud the desired state belongs to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The national cloud a tenant lives in; it decides the login and Graph hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Global Azure and GCC.
    #[default]
    Global,
    /// US Government L4 (GCC High).
    Usgov,
    /// US Government L5 (DoD).
    Usgovdod,
    /// Azure China (21Vianet).
    China,
}

/// `[tenant]`: which tenant and cloud this desired state belongs to. Credentials never live here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The tenant's initial domain, e.g. `contoso.onmicrosoft.com`.
    pub primary_domain: String,
    /// Other verified domains that user principal names may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_domains: Vec<String>,
    /// Directory (tenant) id. Optional when `primary_domain` identifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub cloud: Cloud,
    /// Application (client) id tenantctl signs in as. `AZURE_CLIENT_ID` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Tenant {
    /// Domains a user principal name may end in.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary_domain.as_str())
            .chain(self.verified_domains.iter().map(String::as_str))
    }
}
