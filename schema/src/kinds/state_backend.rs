//! `[state]`: where tenantctl keeps its state (the ledger, its log and the
//! lock): beside the desired state (`local`, the default) or in Azure Blob
//! Storage (`azurerm`). Credentials never live here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which state backend holds the ledger and the lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Files beside the desired state, with a lock file (the default).
    #[default]
    Local,
    /// Azure Blob Storage: one blob per tenant and kind of state, a blob lease as the lock.
    Azurerm,
}

/// `[state]`: where the ledger and the state lock live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateBackend {
    #[serde(default)]
    pub backend: BackendKind,
    /// azurerm: the storage account's name (3-24 lowercase letters and digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account: Option<String>,
    /// azurerm: the blob container (3-63 lowercase letters, digits and single hyphens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// azurerm: the blob service endpoint, for Azurite or a sovereign cloud,
    /// e.g. `http://127.0.0.1:10000/devstoreaccount1`. Default
    /// `https://<storage_account>.blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// azurerm: a folder inside the container for this desired state's blobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Why a storage account name is not valid, if it is not.
pub fn account_problem(name: &str) -> Option<String> {
    let ok = (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (!ok).then(|| format!("`{name}` is not a storage account name (3-24 lowercase letters and digits)"))
}

/// Why a container name is not valid, if it is not.
pub fn container_problem(name: &str) -> Option<String> {
    let chars_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok = (3..=63).contains(&name.len())
        && chars_ok
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!ok).then(|| format!("`{name}` is not a container name (3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)"))
}

/// Why a prefix is not valid, if it is not: blob path segments without
/// `.`/`..`, empty segments or characters that need escaping.
pub fn prefix_problem(prefix: &str) -> Option<String> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 200
        && prefix.split('/').all(|s| {
            !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    (!ok).then(|| format!("`{prefix}` is not a prefix: use folder names of letters, digits, `-`, `_` and `.` separated by `/`"))
}

/// The blob service hosts of Azure's clouds: a storage token or account key
/// is only ever sent to one of these (or to loopback, for Azurite), so a
/// pull request editing `[state] endpoint` cannot send the CI identity's
/// storage token elsewhere.
pub const BLOB_HOST_SUFFIXES: &[&str] = &[
    ".blob.core.windows.net",
    ".blob.storage.azure.net",
    ".blob.core.usgovcloudapi.net",
    ".blob.core.chinacloudapi.cn",
];

/// Why `endpoint` may not receive the state backend's credentials, if it
/// may not: an `https://` URL of an Azure blob service host, or an
/// `http(s)://` URL on loopback (Azurite); never credentials, a query or a
/// fragment in it.
pub fn endpoint_problem(endpoint: &str) -> Option<String> {
    let (https, rest) = match (endpoint.strip_prefix("https://"), endpoint.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Some(format!("`{endpoint}` is not an http(s) URL")),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || rest.contains(['?', '#', ' ', '\\']) {
        return Some(format!("`{endpoint}` is not an http(s) URL without credentials or query, such as `https://account.blob.core.windows.net`"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
        None => authority.split(':').next().unwrap_or_default().to_ascii_lowercase(),
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let azure = https && BLOB_HOST_SUFFIXES.iter().any(|s| host.ends_with(s) && host.len() > s.len());
    (!(loopback || azure)).then(|| {
        format!("`{endpoint}` is not an Azure blob service endpoint (https://<account>{} or a sovereign cloud's) nor loopback (Azurite): the state backend's storage token is sent only there", BLOB_HOST_SUFFIXES[0])
    })
}

#[cfg(test)]
mod tests {
    use super::endpoint_problem;

    #[test]
    fn the_storage_token_goes_only_to_azure_blob_hosts_or_loopback() {
        for ok in [
            "https://contosostate.blob.core.windows.net",
            "https://contosostate.blob.core.usgovcloudapi.net/",
            "https://acct.z12.blob.storage.azure.net",
            "http://127.0.0.1:10000/devstoreaccount1",
            "http://localhost:10000/devstoreaccount1",
            "http://[::1]:10000/devstoreaccount1",
        ] {
            assert_eq!(endpoint_problem(ok), None, "{ok}");
        }
        for bad in [
            "http://contosostate.blob.core.windows.net",
            "https://evil.example.com/contosostate",
            "https://blob.core.windows.net.evil.example/x",
            "https://.blob.core.windows.net",
            "http://10.0.0.5:10000/devstoreaccount1",
            "http://169.254.169.254/metadata",
            "https://user@contosostate.blob.core.windows.net",
            "https://contosostate.blob.core.windows.net/?sv=1",
            "ftp://contosostate.blob.core.windows.net",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }
}
