//! Which tenant a command talks to: real Graph when `[tenant]` and
//! credentials are configured, a running sandbox at `--graph-url`, or, with
//! neither, an embedded sandbox whose tenant persists under `.tenantctl/`
//! beside the desired state.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig};

pub struct Target {
    pub client: GraphClient,
    /// Shown on stderr: which tenant this is.
    pub description: String,
    /// The ledger file for this target.
    pub ledger_path: PathBuf,
    /// Kept alive while the command runs.
    pub sandbox: Option<sandbox::SandboxHandle>,
}

impl Target {
    pub async fn shutdown(self) {
        if let Some(s) = self.sandbox {
            if let Err(e) = s.shutdown().await {
                tracing::warn!(error = %e, "the embedded sandbox did not shut down cleanly");
            }
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Directory holding tool state beside the desired-state directory.
pub fn state_dir(desired_dir: &Path) -> PathBuf {
    let parent = desired_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(".tenantctl")
}

pub async fn connect(desired_dir: &Path, tenant: Option<&schema::kinds::Tenant>, graph_url: Option<&str>, ledger: Option<PathBuf>) -> Result<Target> {
    let mut target = connect_to(desired_dir, tenant, graph_url).await?;
    if let Some(l) = ledger {
        target.ledger_path = l;
    }
    Ok(target)
}

async fn connect_to(desired_dir: &Path, tenant: Option<&schema::kinds::Tenant>, graph_url: Option<&str>) -> Result<Target> {
    // The credential chain (providers::graph::credential_chain) decides
    // which credential is configured and builds it.
    use providers::graph::credential_chain::{configured, select};
    let credentials_configured = configured(env);
    let lookup = |name: &str| env(name);
    if let Some(url) = graph_url {
        let url = url.trim_end_matches('/');
        let authority = env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| url.to_string());
        let cloud = Cloud::custom(&authority, url).with_context(|| format!("invalid --graph-url {url}"))?;
        let credential = select(lookup).context("credentials for --graph-url (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")?;
        let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
        return Ok(Target {
            client,
            description: format!("Graph at {url}"),
            ledger_path: state_dir(desired_dir).join("graph-url.lock"),
            sandbox: None,
        });
    }
    if let (Some(t), true) = (tenant, credentials_configured) {
        let cloud = match env("AZURE_AUTHORITY_HOST") {
            Some(_) => Cloud::from_env(lookup)?,
            None => Cloud::from_name(&format!("{:?}", t.cloud).to_lowercase())?,
        };
        let tenant_id = t.tenant_id.clone().unwrap_or_else(|| t.primary_domain.clone());
        let credential = select(|name| match name {
            "AZURE_TENANT_ID" => env(name).or_else(|| Some(tenant_id.clone())),
            "AZURE_CLIENT_ID" => env(name).or_else(|| t.client_id.clone()),
            _ => env(name),
        })
        .context("reading credentials from the environment")?;
        let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
        return Ok(Target {
            client,
            description: format!("tenant {} ({:?} cloud)", t.primary_domain, t.cloud),
            ledger_path: desired_dir.join("tenantctl.lock"),
            sandbox: None,
        });
    }
    // The embedded default: a sandbox tenant that persists beside the desired state.
    let dir = state_dir(desired_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut config = sandbox::SandboxConfig::default().with_state_file(dir.join("sandbox.db"));
    if let Some(t) = tenant {
        config = config.with_domain(&t.primary_domain);
    }
    let handle = sandbox::Sandbox::start(config).await.context("starting the embedded sandbox")?;
    let base = handle.base_url().to_string();
    let cloud = Cloud::custom(&base, &base)?;
    let credential = Credential::client_secret(handle.tenant_id(), handle.client_id(), handle.client_secret());
    let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
    Ok(Target {
        client,
        description: format!("embedded sandbox tenant (state in {})", dir.join("sandbox.db").display()),
        ledger_path: dir.join("sandbox.lock"),
        sandbox: Some(handle),
    })
}
