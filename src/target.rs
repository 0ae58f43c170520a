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

impl Target {
    /// Where this target's ledger lives for desired state in `dir` (the
    /// same rule `connect` applies to its own directory).
    pub fn ledger_path_for(&self, dir: &Path) -> PathBuf {
        let name = self.ledger_path.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("tenantctl.lock"));
        if self.sandbox.is_none() && name == Path::new("tenantctl.lock") {
            dir.join(name)
        } else {
            // Keyed by tenant, in the directory's own folder under .tenantctl/.
            state_dir(dir).join(crate::state_paths::dir_key(dir)).join(name)
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Directory holding tool state beside the desired-state directory. A
/// directory named by `.` or `..` (run from inside it: `plan .`) has no
/// lexical parent to go by, so its real one is taken; before, `cd ds &&
/// tenantctl plan .` read another, empty ledger and trust root beside it
/// (hostile run 30, finding D).
pub fn state_dir(desired_dir: &Path) -> PathBuf {
    let named = matches!(desired_dir.components().next_back(), Some(std::path::Component::Normal(_)));
    if !named {
        if let Some(parent) = std::fs::canonicalize(desired_dir).ok().and_then(|a| a.parent().map(Path::to_path_buf)) {
            return parent.join(".tenantctl");
        }
    }
    let parent = desired_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(".tenantctl")
}

pub async fn connect(desired_dir: &Path, tenant: Option<&schema::kinds::Tenant>, graph_url: Option<&str>, ledger: Option<PathBuf>) -> Result<Target> {
    crate::ledger_dir::set(desired_dir);
    let mut target = connect_to(desired_dir, tenant, graph_url, true).await?;
    if let Some(l) = ledger {
        target.ledger_path = l;
    }
    Ok(target)
}

/// As [`connect`] for `export`: a ledger written before keying is left
/// where it is (it belongs to the directory that used it, not to one being
/// exported beside it).
pub async fn connect_for_export(desired_dir: &Path, tenant: Option<&schema::kinds::Tenant>, graph_url: Option<&str>) -> Result<Target> {
    connect_to(desired_dir, tenant, graph_url, false).await
}

/// Move a ledger written before keying to `keyed`, saying so loudly.
fn migrate_ledger(desired_dir: &Path, endpoint: crate::state_paths::Endpoint, keyed: &Path) -> Result<()> {
    let old = crate::state_paths::unkeyed_ledger(desired_dir, endpoint);
    if let Some(said) = crate::state_paths::migrate_unkeyed(&old, keyed)? {
        crate::output::status(said);
    }
    Ok(())
}

/// Where a command's Graph traffic goes.
#[derive(Debug)]
pub enum Selection {
    /// `--graph-url`: a running sandbox or another Graph endpoint.
    GraphUrl { url: String, cloud: Cloud },
    /// A real tenant, with complete credentials.
    Tenant { cloud: Cloud, description: String },
    /// The embedded sandbox; `why` says why no real tenant was used.
    Sandbox { why: String },
}

/// The credential variables an app signs in with besides its client id.
const SECRETS: &[&str] = &[
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
];

/// A lookup of credential settings: the environment first, then what
/// `[tenant]` declares (`tenant_id`, else `primary_domain`; `client_id`).
pub fn merged<'a>(
    tenant: Option<&'a schema::kinds::Tenant>,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| {
        let declared = || match name {
            "AZURE_TENANT_ID" => tenant.map(|t| {
                t.tenant_id
                    .clone()
                    .unwrap_or_else(|| t.primary_domain.clone())
            }),
            "AZURE_CLIENT_ID" => tenant.and_then(|t| t.client_id.clone()),
            _ => None,
        };
        env(name).filter(|v| !v.trim().is_empty()).or_else(declared)
    }
}

/// `TENANTCTL_SANDBOX=1` (or `true`): use the embedded sandbox although
/// `[tenant]` is declared, when no credentials are configured.
fn sandbox_opted_in(get: &dyn Fn(&str) -> Option<String>) -> bool {
    get("TENANTCTL_SANDBOX").is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// Decides the target from `[tenant]`, `--graph-url` and the environment
/// (through `env`, so tests need not touch the process environment).
/// Declared and environment values are merged before deciding; credentials
/// begun but incomplete are an error naming what is missing, never a quiet
/// fall-back to the sandbox.
pub fn select(
    tenant: Option<&schema::kinds::Tenant>,
    graph_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Selection> {
    let chosen = select_endpoint(tenant, graph_url, env)?;
    clock_for(&chosen, env)?;
    Ok(chosen)
}

/// `TENANTCTL_CLOCK_OFFSET` moves tenantctl's clock for a sandbox's
/// fixtures only: against a real tenant, or a `--graph-url` off this
/// machine, a clock moved back would keep an expired guest enabled or a
/// lapsed role assigned, so it is refused there.
fn clock_for(chosen: &Selection, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    match schema::clock::offset_from(env).map_err(anyhow::Error::msg)? {
        Some(offset) => moved_clock_for(chosen, &format!("{} ({offset} s)", schema::clock::OFFSET_ENV)),
        None => Ok(()),
    }
}

/// A clock `what` moves (the offset, or `reconcile --now`) is for a
/// sandbox only: refused for a real tenant or a Graph off this machine.
pub fn moved_clock_allowed(tenant: Option<&schema::kinds::Tenant>, graph_url: Option<&str>, what: &str) -> Result<()> {
    let lookup = |name: &str| env(name);
    moved_clock_for(&select_endpoint(tenant, graph_url, &lookup)?, what)
}

fn moved_clock_for(chosen: &Selection, what: &str) -> Result<()> {
    let refused = |to: &str| anyhow::anyhow!("{what} moves tenantctl's clock for tests against a sandbox; it is refused for {to}, where expiries must be judged by the real time. Unset it");
    match chosen {
        Selection::Sandbox { .. } => Ok(()),
        Selection::Tenant { description, .. } => Err(refused(description)),
        Selection::GraphUrl { url, cloud } => {
            if matches!(cloud, Cloud::Custom { graph, .. } if providers::graph::arc::is_loopback(graph)) {
                Ok(())
            } else {
                Err(refused(&format!("--graph-url {url}, which is not on this machine")))
            }
        }
    }
}

fn select_endpoint(
    tenant: Option<&schema::kinds::Tenant>,
    graph_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Selection> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(url) = graph_url {
        let url = url.trim_end_matches('/').to_string();
        let authority = get("AZURE_AUTHORITY_HOST").unwrap_or_else(|| url.clone());
        let cloud = Cloud::custom(&authority, &url)
            .with_context(|| format!("invalid --graph-url {url}"))?;
        return Ok(Selection::GraphUrl { url, cloud });
    }
    let value = merged(tenant, env);
    let token = value("TENANTCTL_ACCESS_TOKEN").is_some();
    let client = value("AZURE_CLIENT_ID");
    let secret = SECRETS.iter().any(|s| value(s).is_some());
    let tenant_id = value("AZURE_TENANT_ID");
    let cloud = || -> Result<Cloud> {
        let named = match tenant {
            Some(t) => Cloud::from_name(&format!("{:?}", t.cloud).to_lowercase())?,
            None => Cloud::from_env(|k| if k == "TENANTCTL_CLOUD" { get(k) } else { None })?,
        };
        // The authority host replaces only the login host.
        Ok(match get("AZURE_AUTHORITY_HOST") {
            Some(host) => named
                .with_authority_host(&host)
                .with_context(|| format!("invalid AZURE_AUTHORITY_HOST {host}"))?,
            None => named,
        })
    };
    let describe = |cloud_name: String| match tenant {
        Some(t) => format!("tenant {} ({cloud_name} cloud)", t.primary_domain),
        None => format!(
            "tenant {} ({cloud_name} cloud)",
            tenant_id
                .clone()
                .unwrap_or_else(|| "from the access token".into())
        ),
    };
    let cloud_name = tenant
        .map(|t| format!("{:?}", t.cloud))
        .or_else(|| get("TENANTCTL_CLOUD"))
        .unwrap_or_else(|| "Global".into());
    // Managed identity (the platform's identity endpoint) and a credential
    // named in TENANTCTL_CREDENTIAL (e.g. azure-cli) need no client secret.
    let platform = value("TENANTCTL_CREDENTIAL").is_some() || (value("IDENTITY_ENDPOINT").is_some() && value("IDENTITY_HEADER").is_some());
    if token || platform || (client.is_some() && secret && tenant_id.is_some()) {
        return Ok(Selection::Tenant {
            cloud: cloud()?,
            description: describe(cloud_name),
        });
    }
    if client.is_some() || secret {
        let mut missing = Vec::new();
        if tenant_id.is_none() {
            missing.push("AZURE_TENANT_ID (or [tenant] tenant_id)".to_string());
        }
        if client.is_none() {
            missing.push("AZURE_CLIENT_ID (or [tenant] client_id)".to_string());
        }
        if !secret {
            missing.push(format!("one of {}", SECRETS.join(", ")));
        }
        let whose = tenant
            .map(|t| format!(" for tenant {}", t.primary_domain))
            .unwrap_or_default();
        anyhow::bail!(
            "credentials{whose} are incomplete: missing {}. Set them (or TENANTCTL_ACCESS_TOKEN), or remove the partial ones to use the embedded sandbox",
            missing.join(" and ")
        );
    }
    let why = match tenant {
        // A declared tenant without any credentials is a CI run whose
        // secrets were not injected as often as a laptop trying the
        // example: planning green against an empty sandbox would hide the
        // first, so the sandbox needs the explicit TENANTCTL_SANDBOX=1
        // (which the repository's .cargo/config.toml sets for `cargo run`).
        Some(t) if !sandbox_opted_in(&get) => anyhow::bail!(
            "[tenant] declares {} but no credentials are configured: missing AZURE_CLIENT_ID (or [tenant] client_id) and one of {} (or TENANTCTL_ACCESS_TOKEN, or a managed identity). Set them, or set TENANTCTL_SANDBOX=1 to plan against the embedded sandbox instead",
            t.primary_domain,
            SECRETS.join(", ")
        ),
        Some(t) => format!("no credentials for tenant {} are configured and TENANTCTL_SANDBOX is set", t.primary_domain),
        None => "no [tenant] and no credentials are configured".to_string(),
    };
    Ok(Selection::Sandbox { why })
}

async fn connect_to(
    desired_dir: &Path,
    tenant: Option<&schema::kinds::Tenant>,
    graph_url: Option<&str>,
    migrate: bool,
) -> Result<Target> {
    let lookup = |name: &str| env(name);
    match select(tenant, graph_url, &lookup)? {
        Selection::GraphUrl { url, cloud } => {
            let credential = providers::graph::credential_chain::select(lookup).context("credentials for --graph-url (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")?;
            let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
            // Keyed by tenant (the endpoint's host when nothing names one).
            let ledger_path = crate::state_paths::graph_url_ledger(desired_dir, &url, &lookup, tenant);
            if migrate {
                migrate_ledger(desired_dir, crate::state_paths::Endpoint::GraphUrl, &ledger_path)?;
            }
            Ok(Target {
                client,
                description: format!("Graph at {url}"),
                ledger_path,
                sandbox: None,
            })
        }
        Selection::Tenant { cloud, description } => {
            let credential = providers::graph::credential_chain::select(merged(tenant, &lookup))
                .context("reading credentials from the environment and [tenant]")?;
            let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
            Ok(Target {
                client,
                description,
                ledger_path: desired_dir.join("tenantctl.lock"),
                sandbox: None,
            })
        }
        Selection::Sandbox { why } => {
            // The embedded default: a sandbox tenant that persists beside the desired state.
            let dir = state_dir(desired_dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut config = sandbox::SandboxConfig::default()
                .with_state_file(dir.join("sandbox.db"))
                .with_clock_offset(schema::clock::offset().unwrap_or(0));
            if let Some(t) = tenant {
                config = config.with_domain(&t.primary_domain);
            }
            let handle = sandbox::Sandbox::start(config)
                .await
                .context("starting the embedded sandbox")?;
            let base = handle.base_url().to_string();
            let cloud = Cloud::custom(&base, &base)?;
            let credential = Credential::client_secret(
                handle.tenant_id(),
                handle.client_id(),
                handle.client_secret(),
            );
            let client = GraphClient::new(GraphConfig::new(cloud), credential)?;
            let ledger_path = crate::state_paths::keyed_ledger(desired_dir, crate::state_paths::Endpoint::Sandbox, handle.tenant_id());
            if migrate {
                if let Err(e) = migrate_ledger(desired_dir, crate::state_paths::Endpoint::Sandbox, &ledger_path) {
                    let _ = handle.shutdown().await;
                    return Err(e);
                }
            }
            Ok(Target {
                client,
                description: format!(
                    "embedded sandbox tenant (state in {}; {why})",
                    dir.join("sandbox.db").display()
                ),
                ledger_path,
                sandbox: Some(handle),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(toml_text: &str) -> schema::kinds::Tenant {
        let state = schema::load_str(&[("t.toml", &format!("[tenant]\n{toml_text}\n"))])
            .expect("a valid [tenant] table");
        state.tenant.expect("declared").value
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_moved_clock_is_for_the_sandbox_only() {
        let t = tenant("primary_domain = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"");
        let real = env_of(&[("AZURE_CLIENT_SECRET", "s"), ("TENANTCTL_CLOCK_OFFSET", "-86400")]);
        let e = select(Some(&t), None, &real).unwrap_err().to_string();
        assert!(e.contains("TENANTCTL_CLOCK_OFFSET") && e.contains("contoso.onmicrosoft.com"), "{e}");
        let moved = env_of(&[("AZURE_CLIENT_SECRET", "s"), ("TENANTCTL_CLOCK_OFFSET", "-86400")]);
        let e = select(None, Some("https://graph.microsoft.com"), &moved).unwrap_err().to_string();
        assert!(e.contains("not on this machine"), "{e}");
        // A look-alike host is not loopback.
        let e = select(None, Some("http://127.0.0.1.example.com:8765"), &moved).unwrap_err().to_string();
        assert!(e.contains("not on this machine"), "{e}");
        for local in ["http://127.0.0.1:8765", "http://[::1]:8765", "http://localhost:8765"] {
            assert!(matches!(select(None, Some(local), &moved).expect("loopback"), Selection::GraphUrl { .. }), "{local}");
        }
        assert!(matches!(select(None, None, &env_of(&[("TENANTCTL_CLOCK_OFFSET", "-86400")])).expect("sandbox"), Selection::Sandbox { .. }));
        let e = select(None, None, &env_of(&[("TENANTCTL_CLOCK_OFFSET", "1d")])).unwrap_err().to_string();
        assert!(e.contains("whole seconds"), "{e}");
        // `reconcile --now` moves it the same way.
        let e = moved_clock_for(&select_endpoint(Some(&t), None, &env_of(&[("AZURE_CLIENT_SECRET", "s")])).expect("the real tenant"), "reconcile --now").unwrap_err().to_string();
        assert!(e.starts_with("reconcile --now moves") && e.contains("contoso.onmicrosoft.com"), "{e}");
        assert!(moved_clock_for(&select_endpoint(None, None, &env_of(&[])).expect("sandbox"), "reconcile --now").is_ok());
    }

    #[test]
    fn declared_client_id_with_a_secret_in_the_environment_is_a_real_tenant() {
        let t = tenant("primary_domain = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"");
        let env = env_of(&[("AZURE_CLIENT_SECRET", "s")]);
        match select(Some(&t), None, &env).expect("test fixture") {
            Selection::Tenant { description, .. } => assert!(
                description.contains("contoso.onmicrosoft.com"),
                "{description}"
            ),
            other => panic!("expected the real tenant, got {other:?}"),
        }
        let credential = Credential::from_env(merged(Some(&t), &env)).expect("test fixture");
        assert!(format!("{credential:?}").contains("11111111-2222-3333-4444-555555555555"));
    }

    #[test]
    fn incomplete_credentials_fail_naming_what_is_missing() {
        let t = tenant("primary_domain = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"");
        let e = select(Some(&t), None, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AZURE_CLIENT_SECRET")
                && e.contains("AZURE_FEDERATED_TOKEN_FILE")
                && !e.contains("AZURE_CLIENT_ID"),
            "{e}"
        );
        let t = tenant("primary_domain = \"contoso.onmicrosoft.com\"");
        let e = select(Some(&t), None, &env_of(&[("AZURE_CLIENT_SECRET", "s")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AZURE_CLIENT_ID"), "{e}");
        let e = select(
            None,
            None,
            &env_of(&[("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("AZURE_TENANT_ID"), "{e}");
    }

    #[test]
    fn no_credentials_at_all_is_the_sandbox_only_when_opted_in_and_says_why() {
        let t = tenant("primary_domain = \"contoso.onmicrosoft.com\"");
        match select(Some(&t), None, &env_of(&[("TENANTCTL_SANDBOX", "1")])).expect("test fixture") {
            Selection::Sandbox { why } => assert!(
                why.contains("no credentials for tenant contoso.onmicrosoft.com"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // Declared [tenant], no credentials, no opt-in: an error naming
        // what is missing, never the sandbox.
        let e = select(Some(&t), None, &env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("contoso.onmicrosoft.com") && e.contains("AZURE_CLIENT_ID") && e.contains("AZURE_CLIENT_SECRET") && e.contains("TENANTCTL_SANDBOX"), "{e}");
        let e = select(Some(&t), None, &env_of(&[("TENANTCTL_SANDBOX", "0")])).unwrap_err().to_string();
        assert!(e.contains("TENANTCTL_SANDBOX"), "{e}");
        // No [tenant] and no credentials: the sandbox, as before.
        assert!(matches!(select(None, None, &env_of(&[])).expect("test fixture"), Selection::Sandbox { .. }));
    }

    #[test]
    fn environment_credentials_without_tenant_are_a_real_tenant() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t-1"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert!(matches!(
            select(None, None, &env).expect("test fixture"),
            Selection::Tenant { .. }
        ));
    }

    #[test]
    fn authority_host_keeps_the_declared_clouds_graph_host_and_scope() {
        let t = tenant("primary_domain = \"contoso.onmicrosoft.us\"\ncloud = \"usgov\"");
        let env = env_of(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/"),
        ]);
        match select(Some(&t), None, &env).expect("test fixture") {
            Selection::Tenant { cloud, .. } => {
                assert_eq!(cloud.graph_base(), "https://graph.microsoft.us");
                assert_eq!(cloud.scope(), "https://graph.microsoft.us/.default");
                assert_eq!(
                    cloud.token_endpoint("x"),
                    "https://login.microsoftonline.us/x/oauth2/v2.0/token"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
