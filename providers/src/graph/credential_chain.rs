//! Which credential to use, in an explicit order, and the two credentials
//! that do not talk to the Entra token endpoint themselves: managed identity
//! (the Azure Instance Metadata Service, or the App Service / Container Apps
//! / Functions identity endpoint) and the Azure CLI (`az login`).
//!
//! The order (first configured wins) is: `token` (`TENANTCTL_ACCESS_TOKEN`),
//! `secret`, `certificate`, `workload-identity` (each with
//! `AZURE_TENANT_ID` + `AZURE_CLIENT_ID`), then `managed-identity` when the
//! platform announces an identity endpoint (`IDENTITY_ENDPOINT` with
//! `IDENTITY_HEADER` on App Service / Container Apps, or with
//! `IMDS_ENDPOINT` on Azure Arc-enabled servers: [`super::arc`]). IMDS (VMs, AKS node identity) and `azure-cli` are
//! used only when named in `TENANTCTL_CREDENTIAL`, because nothing in the
//! environment says they are meant: guessing them would turn a command that
//! should run against the embedded sandbox into one against a real tenant.
//! `TENANTCTL_CREDENTIAL=secret|certificate|workload-identity|managed-identity|azure-cli|token`
//! picks exactly one and fails clearly when its settings are missing.
//!
//! Microsoft's `azure_identity` crate is not used: its IMDS credential has
//! the address `169.254.169.254` built in (it does not honour
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`, which the .NET, Python, JavaScript
//! and Go SDKs do), so it could not be tested on loopback; it also brings
//! reqwest 0.13 and `azure_core` beside this crate's reqwest 0.12 stack.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use url::Url;

use super::auth::{AuthError, Credential};
use super::secret::Secret;

/// The IMDS base address on Azure VMs, VM scale sets and AKS nodes.
pub const IMDS_DEFAULT_BASE: &str = "http://169.254.169.254";
/// The override the Azure SDKs (.NET, Python, JavaScript, Go) honour for the
/// IMDS base address; tests point it at a loopback server.
pub const IMDS_OVERRIDE_ENV: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
/// When set (to anything non-empty), the IMDS credential refuses the default
/// link-local address: test harnesses set it so a missing override can never
/// send traffic off the machine.
pub const IMDS_FORBID_DEFAULT_ENV: &str = "TENANTCTL_FORBID_DEFAULT_IMDS";
/// `api-version` of the IMDS token endpoint.
pub const IMDS_API_VERSION: &str = "2018-02-01";
/// `api-version` of the App Service / Container Apps / Functions identity endpoint.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// A credential kind, as `TENANTCTL_CREDENTIAL` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialKind {
    /// Client secret (`AZURE_CLIENT_SECRET`).
    Secret,
    /// Client certificate (`AZURE_CLIENT_CERTIFICATE_PATH`).
    Certificate,
    /// Workload identity federation (`AZURE_FEDERATED_TOKEN_FILE`).
    WorkloadIdentity,
    /// Managed identity (IMDS or the App Service identity endpoint).
    ManagedIdentity,
    /// The Azure CLI's signed-in account.
    AzureCli,
    /// A ready access token (`TENANTCTL_ACCESS_TOKEN`).
    Token,
}

impl CredentialKind {
    /// Every kind, in the order the automatic chain tries them.
    pub const ORDER: [Self; 6] = [
        Self::Token,
        Self::Secret,
        Self::Certificate,
        Self::WorkloadIdentity,
        Self::ManagedIdentity,
        Self::AzureCli,
    ];

    /// The name `TENANTCTL_CREDENTIAL` uses (also what is logged).
    pub fn name(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Certificate => "certificate",
            Self::WorkloadIdentity => "workload-identity",
            Self::ManagedIdentity => "managed-identity",
            Self::AzureCli => "azure-cli",
            Self::Token => "token",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CredentialKind {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ORDER
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| AuthError::UnknownCredential {
                name: s.trim().to_owned(),
                known: Self::ORDER
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Where a managed identity gets its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedIdentitySource {
    /// The Instance Metadata Service: `{base}/metadata/identity/oauth2/token`.
    Imds {
        /// `http://169.254.169.254`, or `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
        base: Url,
    },
    /// App Service, Container Apps and Functions: `IDENTITY_ENDPOINT` with
    /// the `X-IDENTITY-HEADER` secret from `IDENTITY_HEADER`.
    AppService {
        /// The full token endpoint URL.
        endpoint: Url,
        /// The per-instance header value; a secret.
        header: Secret,
    },
    /// Azure Arc-enabled servers: `IDENTITY_ENDPOINT` (with
    /// `IMDS_ENDPOINT`), answered through the key-file challenge
    /// ([`super::arc`]).
    Arc {
        /// The full token endpoint URL (on loopback).
        endpoint: Url,
        /// The agent's token directory the challenge's key file must be in.
        key_dir: PathBuf,
    },
}

impl ManagedIdentitySource {
    /// The name of the source, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Imds { .. } => "imds",
            Self::AppService { .. } => "app-service",
            Self::Arc { .. } => "azure-arc",
        }
    }
}

/// A managed identity: where its tokens come from and, for a user-assigned
/// identity, its client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    /// The token endpoint.
    pub source: ManagedIdentitySource,
    /// `AZURE_CLIENT_ID`: a user-assigned identity; `None` for system-assigned.
    pub client_id: Option<String>,
}

/// The Azure CLI credential: `az account get-access-token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureCli {
    /// `--tenant` (from `AZURE_TENANT_ID`); the CLI's default tenant when `None`.
    pub tenant_id: Option<String>,
    /// The program to run (`az`, found on `PATH`).
    pub program: PathBuf,
    /// How long `az` may take.
    pub timeout: Duration,
}

/// Whether any credential is configured (so a declared `[tenant]` means the
/// real tenant rather than the embedded sandbox).
pub fn configured(lookup: impl Fn(&str) -> Option<String>) -> bool {
    let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
    get("TENANTCTL_CREDENTIAL").is_some()
        || get("TENANTCTL_ACCESS_TOKEN").is_some()
        || (get("AZURE_CLIENT_ID").is_some()
            && (get("AZURE_CLIENT_SECRET").is_some()
                || get("AZURE_CLIENT_CERTIFICATE_PATH").is_some()
                || get("AZURE_FEDERATED_TOKEN_FILE").is_some()))
        || (get("IDENTITY_ENDPOINT").is_some() && (get("IDENTITY_HEADER").is_some() || get("IMDS_ENDPOINT").is_some()))
}

/// Picks the credential (see the module docs for the order) and logs its
/// name, never its value.
pub fn select(lookup: impl Fn(&str) -> Option<String>) -> Result<Credential, AuthError> {
    let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
    let credential = match get("TENANTCTL_CREDENTIAL") {
        Some(name) => build(name.parse()?, &get)?,
        None => automatic(&get)?,
    };
    tracing::info!(credential = %credential.kind(), "Graph credential selected");
    Ok(credential)
}

fn automatic(get: &dyn Fn(&str) -> Option<String>) -> Result<Credential, AuthError> {
    let client_app = get("AZURE_CLIENT_ID").is_some()
        && (get("AZURE_CLIENT_SECRET").is_some()
            || get("AZURE_CLIENT_CERTIFICATE_PATH").is_some()
            || get("AZURE_FEDERATED_TOKEN_FILE").is_some());
    if get("TENANTCTL_ACCESS_TOKEN").is_some() || client_app {
        return Credential::from_env(get);
    }
    if get("IDENTITY_ENDPOINT").is_some() && (get("IDENTITY_HEADER").is_some() || get("IMDS_ENDPOINT").is_some()) {
        return build(CredentialKind::ManagedIdentity, get);
    }
    Err(AuthError::NotConfigured {
        reason: "set TENANTCTL_ACCESS_TOKEN, or AZURE_TENANT_ID and AZURE_CLIENT_ID with one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE, or TENANTCTL_CREDENTIAL=managed-identity|azure-cli".to_owned(),
    })
}

/// Builds exactly the credential `kind`, failing when its settings are missing.
fn build(
    kind: CredentialKind,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential, AuthError> {
    let only = |keep: &'static [&'static str]| {
        move |k: &str| if keep.contains(&k) { get(k) } else { None }
    };
    const APP: [&str; 2] = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"];
    let built = match kind {
        CredentialKind::Token => Credential::from_env(only(&["TENANTCTL_ACCESS_TOKEN"])),
        CredentialKind::Secret => {
            Credential::from_env(only(&[APP[0], APP[1], "AZURE_CLIENT_SECRET"]))
        }
        CredentialKind::Certificate => Credential::from_env(only(&[
            APP[0],
            APP[1],
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        ])),
        CredentialKind::WorkloadIdentity => {
            Credential::from_env(only(&[APP[0], APP[1], "AZURE_FEDERATED_TOKEN_FILE"]))
        }
        CredentialKind::ManagedIdentity => managed_identity(get).map(Credential::ManagedIdentity),
        CredentialKind::AzureCli => Ok(Credential::AzureCli(AzureCli {
            tenant_id: get("AZURE_TENANT_ID"),
            program: get("TENANTCTL_AZ_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("az")),
            timeout: Duration::from_secs(60),
        })),
    };
    built.map_err(|e| match e {
        AuthError::NotConfigured { reason } => AuthError::NotConfigured {
            reason: format!("TENANTCTL_CREDENTIAL={kind}: {reason}"),
        },
        other => other,
    })
}

fn managed_identity(get: &dyn Fn(&str) -> Option<String>) -> Result<ManagedIdentity, AuthError> {
    let client_id = get("AZURE_CLIENT_ID");
    let source = match (get("IDENTITY_ENDPOINT"), get("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => ManagedIdentitySource::AppService {
            endpoint: Url::parse(endpoint.trim())
                .map_err(|_| AuthError::NotConfigured { reason: format!("IDENTITY_ENDPOINT is not a URL: {endpoint}") })?,
            header: Secret::new(header.trim()),
        },
        (Some(endpoint), None) if get("IMDS_ENDPOINT").is_some() => {
            let endpoint = Url::parse(endpoint.trim())
                .map_err(|_| AuthError::NotConfigured { reason: format!("IDENTITY_ENDPOINT is not a URL: {endpoint}") })?;
            super::arc::check_loopback(&endpoint)?;
            if client_id.is_some() {
                return Err(AuthError::NotConfigured {
                    reason: "Azure Arc has only the machine's system-assigned identity: unset AZURE_CLIENT_ID".to_owned(),
                });
            }
            let key_dir = super::arc::key_dir(get).ok_or_else(|| AuthError::NotConfigured {
                reason: "Azure Arc's managed identity works on Linux and Windows only".to_owned(),
            })?;
            ManagedIdentitySource::Arc { endpoint, key_dir }
        }
        (Some(_), None) => {
            return Err(AuthError::NotConfigured {
                reason: "IDENTITY_ENDPOINT is set without IDENTITY_HEADER (App Service, Container Apps) or IMDS_ENDPOINT (Azure Arc)"
                    .to_owned(),
            })
        }
        _ => {
            let base = match get(IMDS_OVERRIDE_ENV) {
                Some(custom) => custom,
                None if get(IMDS_FORBID_DEFAULT_ENV).is_some() => return Err(AuthError::DefaultImdsForbidden),
                None => IMDS_DEFAULT_BASE.to_owned(),
            };
            let base = Url::parse(base.trim())
                .map_err(|_| AuthError::NotConfigured { reason: format!("{IMDS_OVERRIDE_ENV} is not a URL: {base}") })?;
            ManagedIdentitySource::Imds { base }
        }
    };
    Ok(ManagedIdentity { source, client_id })
}

/// A token and when it expires (if the source said).
pub(crate) struct Issued {
    pub token: Secret,
    pub expires_at: Option<SystemTime>,
}

/// Gets a token for `resource` (the Graph base URL) from a managed identity.
///
/// The request never goes through a proxy (`HTTP_PROXY` and the like): the
/// identity endpoint is on the machine or its link-local network, as the
/// Azure SDKs treat it, and a proxy must not see the identity header.
pub(crate) async fn managed_identity_token(
    identity: &ManagedIdentity,
    resource: &str,
) -> Result<Issued, AuthError> {
    let (mut url, header) = match &identity.source {
        ManagedIdentitySource::Imds { base } => {
            let mut url = base.clone();
            url.set_path(&format!(
                "{}/metadata/identity/oauth2/token",
                base.path().trim_end_matches('/')
            ));
            url.query_pairs_mut()
                .append_pair("api-version", IMDS_API_VERSION);
            (url, ("Metadata", "true".to_owned()))
        }
        ManagedIdentitySource::AppService { endpoint, header } => {
            let mut url = endpoint.clone();
            url.query_pairs_mut()
                .append_pair("api-version", APP_SERVICE_API_VERSION);
            (url, ("X-IDENTITY-HEADER", header.expose().to_owned()))
        }
        ManagedIdentitySource::Arc { endpoint, .. } => {
            let mut url = endpoint.clone();
            url.query_pairs_mut().append_pair("api-version", super::arc::ARC_API_VERSION);
            (url, ("Metadata", "true".to_owned()))
        }
    };
    url.query_pairs_mut().append_pair("resource", resource);
    if let Some(client_id) = &identity.client_id {
        url.query_pairs_mut().append_pair("client_id", client_id);
    }
    // The URL carries no secret (the App Service secret travels in a header).
    let endpoint = url.to_string();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| AuthError::Network {
            endpoint: endpoint.clone(),
            source: e,
        })?;
    let send = |basic: Option<Secret>| {
        let mut request = http
            .get(url.clone())
            .header(header.0, header.1.clone())
            .timeout(Duration::from_secs(30));
        if let Some(key) = basic {
            request = request.header("Authorization", format!("Basic {}", key.expose()));
        }
        let endpoint = endpoint.clone();
        async move {
            request.send().await.map_err(|e| AuthError::Network {
                endpoint,
                source: e.without_url(),
            })
        }
    };
    let mut response = send(None).await?;
    // Azure Arc: answer the challenge with the key file it names.
    if let ManagedIdentitySource::Arc { endpoint: arc_endpoint, key_dir } = &identity.source {
        if response.status().as_u16() == 401 {
            super::arc::check_loopback(arc_endpoint)?;
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let key = super::arc::read_key(&super::arc::challenge_path(&challenge, key_dir)?)?;
            response = send(Some(key)).await?;
        }
    }
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| AuthError::Network {
        endpoint: endpoint.clone(),
        source: e.without_url(),
    })?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let message = text("error_description")
            .or_else(|| text("message"))
            .or_else(|| {
                body.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .or_else(|| text("error"))
            .unwrap_or_default();
        return Err(AuthError::ManagedIdentity {
            source_name: identity.source.name(),
            status,
            message,
        });
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::InvalidTokenResponse {
            reason: "no access_token from the managed identity endpoint".to_owned(),
        })?;
    let expires_at = epoch_field(body.get("expires_on"))
        .or_else(|| epoch_field(body.get("expires_in")).map(|secs| now_epoch() + secs))
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
    Ok(Issued {
        token: Secret::new(token),
        expires_at,
    })
}

/// Runs `az account get-access-token` for `resource` and parses its JSON.
/// The token never reaches a log or an error; `az`'s stderr (its own
/// message, e.g. "Please run 'az login'") does.
pub(crate) async fn azure_cli_token(cli: &AzureCli, resource: &str) -> Result<Issued, AuthError> {
    let mut command = std::process::Command::new(&cli.program);
    command.args([
        "account",
        "get-access-token",
        "--resource",
        resource,
        "--output",
        "json",
    ]);
    if let Some(tenant) = &cli.tenant_id {
        command.args(["--tenant", tenant]);
    }
    command.stdin(std::process::Stdio::null());
    let program = cli.program.display().to_string();
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = match tokio::time::timeout(cli.timeout, run).await {
        Err(_) => {
            return Err(AuthError::AzureCli {
                reason: format!("`{program}` did not answer within {:?}", cli.timeout),
            })
        }
        Ok(Err(_)) => {
            return Err(AuthError::AzureCli {
                reason: format!("`{program}` could not be waited for"),
            })
        }
        Ok(Ok(Err(e))) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AuthError::AzureCli {
                reason: format!(
                    "`{program}` was not found on PATH; install the Azure CLI and run `az login`"
                ),
            })
        }
        Ok(Ok(Err(e))) => {
            return Err(AuthError::AzureCli {
                reason: format!("could not run `{program}`: {e}"),
            })
        }
        Ok(Ok(Ok(output))) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: String = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(AuthError::AzureCli {
            reason: format!(
                "`az account get-access-token` failed ({}): {}",
                output.status,
                if first.is_empty() {
                    "no message"
                } else {
                    &first
                }
            ),
        });
    }
    parse_azure_cli_output(&output.stdout)
}

/// Parses `az account get-access-token -o json`: `accessToken`, and the
/// expiry from `expires_on` (POSIX seconds, az 2.54+) or else `expiresOn`
/// (local time, `2024-01-01 12:00:00.000000`).
pub(crate) fn parse_azure_cli_output(stdout: &[u8]) -> Result<Issued, AuthError> {
    let body: Value = serde_json::from_slice(stdout).map_err(|_| AuthError::AzureCli {
        reason: "`az account get-access-token` did not print JSON".to_owned(),
    })?;
    let token = body
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::AzureCli {
            reason: "`az account get-access-token` printed no accessToken".to_owned(),
        })?;
    let expires_at = epoch_field(body.get("expires_on"))
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
        .or_else(|| {
            body.get("expiresOn")
                .and_then(Value::as_str)
                .and_then(parse_local_time)
        });
    Ok(Issued {
        token: Secret::new(token),
        expires_at,
    })
}

fn parse_local_time(text: &str) -> Option<SystemTime> {
    use chrono::TimeZone as _;
    let naive = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let local = chrono::Local.from_local_datetime(&naive).earliest()?;
    Some(SystemTime::from(local))
}

fn epoch_field(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for kind in CredentialKind::ORDER {
            assert_eq!(kind.name().parse::<CredentialKind>().expect("test fixture"), kind);
        }
        let e = "kerberos".parse::<CredentialKind>().unwrap_err();
        assert!(
            e.to_string().contains("kerberos") && e.to_string().contains("managed-identity"),
            "{e}"
        );
    }

    #[test]
    fn automatic_order_keeps_the_existing_credentials_first() {
        let c = select(env(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .expect("test fixture");
        assert_eq!(c.kind(), CredentialKind::Secret);
        let c = select(env(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
            ("IDENTITY_HEADER", "h"),
            ("AZURE_CLIENT_ID", "uami"),
        ]))
        .expect("test fixture");
        let Credential::ManagedIdentity(mi) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(mi.client_id.as_deref(), Some("uami"));
        assert_eq!(mi.source.name(), "app-service");
        assert!(!format!("{c:?}").contains("\"h\""));
        // Neither IMDS nor the CLI is guessed.
        assert!(matches!(
            select(env(&[])),
            Err(AuthError::NotConfigured { .. })
        ));
        assert!(!configured(env(&[("AZURE_TENANT_ID", "t")])));
        assert!(configured(env(&[("TENANTCTL_CREDENTIAL", "azure-cli")])));
    }

    #[test]
    fn explicit_choice_overrides_the_order_and_names_what_is_missing() {
        let c = select(env(&[
            ("TENANTCTL_CREDENTIAL", "managed-identity"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            (IMDS_OVERRIDE_ENV, "http://127.0.0.1:9"),
        ]))
        .expect("test fixture");
        let Credential::ManagedIdentity(mi) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(
            mi.source,
            ManagedIdentitySource::Imds {
                base: Url::parse("http://127.0.0.1:9").expect("test fixture")
            }
        );
        let c = select(env(&[
            ("TENANTCTL_CREDENTIAL", "azure-cli"),
            ("AZURE_TENANT_ID", "t"),
            ("TENANTCTL_ACCESS_TOKEN", "x"),
        ]))
        .expect("test fixture");
        assert!(matches!(&c, Credential::AzureCli(cli) if cli.tenant_id.as_deref() == Some("t")));
        let e = select(env(&[
            ("TENANTCTL_CREDENTIAL", "secret"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("TENANTCTL_CREDENTIAL=secret"), "{e}");
        let c = select(env(&[
            ("TENANTCTL_CREDENTIAL", "Workload-Identity"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
        ]))
        .expect("test fixture");
        assert_eq!(c.kind(), CredentialKind::WorkloadIdentity);
    }

    #[test]
    fn the_default_imds_address_is_refused_under_the_test_guard() {
        let e = select(env(&[
            ("TENANTCTL_CREDENTIAL", "managed-identity"),
            (IMDS_FORBID_DEFAULT_ENV, "1"),
        ]))
        .unwrap_err();
        assert!(matches!(e, AuthError::DefaultImdsForbidden), "{e}");
        // Without the guard the default is used (not contacted here).
        let c = select(env(&[("TENANTCTL_CREDENTIAL", "managed-identity")])).expect("test fixture");
        assert!(
            matches!(&c, Credential::ManagedIdentity(ManagedIdentity { source: ManagedIdentitySource::Imds { base }, .. }) if base.as_str() == "http://169.254.169.254/")
        );
    }

    #[test]
    fn azure_cli_output_parses_both_expiry_fields() {
        let i = parse_azure_cli_output(br#"{"accessToken":"eyJ0","expiresOn":"2030-01-01 00:00:00.000000","expires_on":1893456000,"tenant":"t","tokenType":"Bearer"}"#).expect("test fixture");
        assert_eq!(i.token.expose(), "eyJ0");
        assert_eq!(
            i.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_893_456_000))
        );
        let i = parse_azure_cli_output(
            br#"{"accessToken":"eyJ0","expiresOn":"2030-01-01 00:00:00.000000"}"#,
        )
        .expect("test fixture");
        assert!(i.expires_at.is_some_and(|t| t > SystemTime::now()));
        for bad in [
            &b"not json"[..],
            br#"{"expiresOn":"x"}"#,
            br#"{"accessToken":""}"#,
        ] {
            assert!(matches!(
                parse_azure_cli_output(bad),
                Err(AuthError::AzureCli { .. })
            ));
        }
    }
}
