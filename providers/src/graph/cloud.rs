//! National clouds and custom endpoints: where to get a token and where
//! Graph lives. A token from one cloud does not work in another, so the
//! authority and the Graph base always travel together.

use url::Url;

use super::error::ConfigError;

/// A Microsoft cloud, or explicit URLs (the local sandbox, a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// login.microsoftonline.com / graph.microsoft.com (also GCC).
    Global,
    /// US Government L4 (GCC High): login.microsoftonline.us / graph.microsoft.us.
    UsGov,
    /// US Government L5 (DoD): login.microsoftonline.us / dod-graph.microsoft.us.
    UsGovDod,
    /// China (21Vianet): login.chinacloudapi.cn / microsoftgraph.chinacloudapi.cn.
    China,
    /// Arbitrary URLs, e.g. `http://127.0.0.1:PORT` for both in the sandbox.
    Custom {
        /// Authority host; the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
        authority: Url,
        /// Graph base; requests go to `{graph}/v1.0/...` and `{graph}/beta/...`.
        graph: Url,
    },
}

impl Cloud {
    /// Parses a cloud name as users write it (`global`, `usgov`, `usgovdod`, `china`).
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "global" | "public" | "azurepubliccloud" | "gcc" => Ok(Self::Global),
            "usgov" | "gcchigh" | "azureusgovernment" => Ok(Self::UsGov),
            "usgovdod" | "dod" => Ok(Self::UsGovDod),
            "china" | "azurechinacloud" => Ok(Self::China),
            other => Err(ConfigError::UnknownCloud(other.to_owned())),
        }
    }

    /// Builds a custom cloud from two URL strings.
    pub fn custom(authority: &str, graph: &str) -> Result<Self, ConfigError> {
        Ok(Self::Custom {
            authority: parse_base(authority)?,
            graph: parse_base(graph)?,
        })
    }

    /// Reads the cloud from the environment through `lookup` (so tests need
    /// not touch the process environment).
    ///
    /// `TENANTCTL_CLOUD` picks a named cloud (default global);
    /// `AZURE_AUTHORITY_HOST` and `TENANTCTL_GRAPH_URL` override either URL,
    /// which turns the result into [`Cloud::Custom`].
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let named = match get("TENANTCTL_CLOUD") {
            Some(name) => Self::from_name(&name)?,
            None => Self::Global,
        };
        let authority = get("AZURE_AUTHORITY_HOST");
        let graph = get("TENANTCTL_GRAPH_URL");
        if authority.is_none() && graph.is_none() {
            return Ok(named);
        }
        let authority = parse_base(&authority.unwrap_or_else(|| named.authority()))?;
        let graph = parse_base(&graph.unwrap_or_else(|| named.graph_base()))?;
        Ok(Self::Custom { authority, graph })
    }

    /// This cloud with its login host replaced (`AZURE_AUTHORITY_HOST`, as
    /// the AKS workload-identity webhook sets it): Graph host and token
    /// scope stay the cloud's own, so a US Government tenant keeps
    /// graph.microsoft.us and its scope.
    pub fn with_authority_host(self, authority: &str) -> Result<Self, ConfigError> {
        let graph = parse_base(&self.graph_base())?;
        Ok(Self::Custom { authority: parse_base(authority)?, graph })
    }

    /// The authority host URL, without a trailing slash.
    pub fn authority(&self) -> String {
        match self {
            Self::Global => "https://login.microsoftonline.com".to_owned(),
            Self::UsGov | Self::UsGovDod => "https://login.microsoftonline.us".to_owned(),
            Self::China => "https://login.chinacloudapi.cn".to_owned(),
            Self::Custom { authority, .. } => trim_slash(authority),
        }
    }

    /// The Graph base URL without the API version or a trailing slash.
    pub fn graph_base(&self) -> String {
        match self {
            Self::Global => "https://graph.microsoft.com".to_owned(),
            Self::UsGov => "https://graph.microsoft.us".to_owned(),
            Self::UsGovDod => "https://dod-graph.microsoft.us".to_owned(),
            Self::China => "https://microsoftgraph.chinacloudapi.cn".to_owned(),
            Self::Custom { graph, .. } => trim_slash(graph),
        }
    }

    /// The OAuth scope for app-only Graph tokens: `{graph base}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph_base())
    }

    /// The v2.0 token endpoint for a tenant.
    pub fn token_endpoint(&self, tenant_id: &str) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority(), tenant_id)
    }
}

/// Renders a base URL without its trailing slash, so joins never double it.
fn trim_slash(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn parse_base(s: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(s.trim()).map_err(|_| ConfigError::InvalidUrl(s.to_owned()))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(ConfigError::InvalidUrl(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_clouds_have_matching_scopes_and_token_endpoints() {
        assert_eq!(Cloud::Global.scope(), "https://graph.microsoft.com/.default");
        assert_eq!(Cloud::UsGov.scope(), "https://graph.microsoft.us/.default");
        assert_eq!(Cloud::UsGovDod.scope(), "https://dod-graph.microsoft.us/.default");
        assert_eq!(Cloud::China.scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
        assert_eq!(
            Cloud::UsGovDod.token_endpoint("t1"),
            "https://login.microsoftonline.us/t1/oauth2/v2.0/token"
        );
        assert_eq!(
            Cloud::China.token_endpoint("t1"),
            "https://login.chinacloudapi.cn/t1/oauth2/v2.0/token"
        );
    }

    #[test]
    fn custom_cloud_uses_graph_base_for_scope() {
        let c = Cloud::custom("http://127.0.0.1:8080/", "http://127.0.0.1:8080").unwrap();
        assert_eq!(c.scope(), "http://127.0.0.1:8080/.default");
        assert_eq!(c.token_endpoint("abc"), "http://127.0.0.1:8080/abc/oauth2/v2.0/token");
        assert!(Cloud::custom("ftp://x", "http://y").is_err());
    }

    #[test]
    fn authority_host_overrides_only_the_login_host() {
        let c = Cloud::UsGov.with_authority_host("https://login.microsoftonline.us/").unwrap();
        assert_eq!(c.graph_base(), "https://graph.microsoft.us");
        assert_eq!(c.scope(), "https://graph.microsoft.us/.default");
        let c = Cloud::China.with_authority_host("http://127.0.0.1:9").unwrap();
        assert_eq!(c.token_endpoint("t"), "http://127.0.0.1:9/t/oauth2/v2.0/token");
        assert_eq!(c.scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
        assert!(Cloud::Global.with_authority_host("not a url").is_err());
    }

    #[test]
    fn from_env_reads_named_and_overridden_clouds() {
        let env = |k: &str| match k {
            "TENANTCTL_CLOUD" => Some("usgov".to_owned()),
            _ => None,
        };
        assert_eq!(Cloud::from_env(env).unwrap(), Cloud::UsGov);
        let env = |k: &str| match k {
            "AZURE_AUTHORITY_HOST" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let c = Cloud::from_env(env).unwrap();
        assert_eq!(c.token_endpoint("t"), "http://127.0.0.1:9/t/oauth2/v2.0/token");
        assert_eq!(c.scope(), "https://graph.microsoft.com/.default");
        assert!(Cloud::from_name("mars").is_err());
    }
}
