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
