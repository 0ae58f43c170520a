//! `tenantctl sandbox serve`: command-line arguments and the foreground
//! server loop that runs until Ctrl-C.

use crate::error::SandboxError;
use crate::faults::Faults;
use crate::seed::SeedSpec;
use crate::{Sandbox, SandboxConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `tenantctl sandbox serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub addr: SocketAddr,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// SQLite file holding the tenant.
    #[arg(long, default_value = ".tenantctl/sandbox.db", conflicts_with = "memory")]
    pub state: PathBuf,
    /// Keep the tenant in memory only.
    #[arg(long)]
    pub memory: bool,
    /// Seconds the tenant's clock is moved from the wall clock (tokens keep
    /// the wall clock); tenantctl follows the same variable.
    #[arg(long, env = "TENANTCTL_CLOCK_OFFSET", default_value_t = 0, allow_negative_numbers = true)]
    pub clock_offset: i64,
    /// Latency added to every Graph request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction (0-1) of Graph requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Fraction (0-1) of Graph requests answered 503 or 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// New objects stay invisible (404) for this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub replication_lag_ms: u64,
    /// Fraction (0-1) of Graph requests whose connection is dropped.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Retry-After seconds on 429 and 503.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Seed for fault decisions (reproducible runs).
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// Apply faults to the token endpoint too.
    #[arg(long)]
    pub faults_on_token: bool,
    /// Seed for generated tenant data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Generate this many users at start.
    #[arg(long, default_value_t = 0)]
    pub seed_users: usize,
    /// Generate this many groups at start.
    #[arg(long, default_value_t = 0)]
    pub seed_groups: usize,
    /// Members per generated group.
    #[arg(long, default_value_t = 10)]
    pub seed_memberships_per_group: usize,
    /// Generate this many Intune policies at start.
    #[arg(long, default_value_t = 0)]
    pub seed_policies: usize,
    /// Tenant id.
    #[arg(long, default_value = crate::DEFAULT_TENANT_ID)]
    pub tenant_id: String,
    /// Primary verified domain.
    #[arg(long, default_value = "contoso.onmicrosoft.com")]
    pub domain: String,
    /// Application (client) id accepted by the token endpoint.
    #[arg(long, default_value = crate::DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// Graph application permissions granted to the app, comma-separated
    /// (default: the list tenantctl documents). Requests they do not allow
    /// are answered 403 as Graph does.
    #[arg(long, value_delimiter = ',')]
    pub permissions: Option<Vec<String>>,
    /// Licence tier: p1 has no Entra ID P2, so PIM requests answer 400
    /// AadPremiumLicenseRequired, as Graph does.
    #[arg(long, value_enum, default_value_t = crate::Licences::P2)]
    pub licences: crate::Licences,
    /// Client secret accepted (generated and printed if absent).
    #[arg(long, env = "TENANTCTL_SANDBOX_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A PEM certificate registered as the client's certificate credential
    /// (repeatable): client assertions must be signed by one of them. A
    /// private key in the same file is ignored.
    #[arg(long = "client-certificate")]
    pub client_certificates: Vec<PathBuf>,
}

impl ServeArgs {
    /// The sandbox configuration these arguments describe.
    pub fn to_config(&self) -> Result<SandboxConfig, SandboxError> {
        let faults = Faults {
            latency_ms: self.latency_ms,
            latency_jitter_ms: 0,
            throttle_rate: self.throttle_rate,
            error_rate: self.error_rate,
            replication_lag_ms: self.replication_lag_ms,
            drop_rate: self.drop_rate,
            retry_after_secs: self.retry_after_secs,
            include_token_endpoint: self.faults_on_token,
            seed: self.fault_seed,
            fail_paths: Vec::new(),
            pim_policy_lag_ms: 0,
            refuse_nested_request_expand: false,
        };
        faults.validate()?;
        let mut cfg = SandboxConfig::default()
            .with_addr(self.addr)
            .allow_remote(self.allow_remote)
            .with_tenant_id(self.tenant_id.clone())
            .with_domain(self.domain.clone())
            .with_faults(faults)
            .with_licences(self.licences)
            .with_clock_offset(self.clock_offset);
        cfg.client_id = self.client_id.clone();
        cfg.permissions.clone_from(&self.permissions);
        if let Some(p) = &cfg.permissions {
            crate::check_permissions(p)?;
        }
        match &self.client_secret {
            Some(s) => cfg.client_secret = s.clone(),
            // Keep the secret a persistent tenant was first served with.
            None => cfg.reuse_stored_secret = true,
        }
        for path in &self.client_certificates {
            let pem = std::fs::read_to_string(path).map_err(|e| SandboxError::InvalidArgument(format!("cannot read client certificate {}: {e}", path.display())))?;
            cfg = cfg.with_client_certificate(pem);
        }
        if !self.memory {
            if let Some(parent) = self.state.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| SandboxError::InvalidArgument(format!("cannot create {}: {e}", parent.display())))?;
            }
            cfg = cfg.with_state_file(self.state.clone());
        }
        if self.seed_users + self.seed_groups + self.seed_policies > 0 {
            cfg = cfg.with_seed(SeedSpec {
                seed: self.seed,
                users: self.seed_users,
                groups: self.seed_groups,
                memberships_per_group: self.seed_memberships_per_group,
                policies: self.seed_policies,
            });
        }
        Ok(cfg)
    }
}

/// Runs a sandbox in the foreground until Ctrl-C, then shuts down cleanly.
pub async fn serve(args: ServeArgs) -> Result<(), SandboxError> {
    let cfg = args.to_config()?;
    let state = if args.memory { "in memory (lost on exit)".to_string() } else { args.state.display().to_string() };
    let sb = Sandbox::start(cfg).await?;
    // A local test tenant: printing its secret once is the point.
    println!("tenantctl sandbox is running");
    println!("  base URL:      {}", sb.base_url());
    println!("  Graph:         {}/v1.0 and {}/beta", sb.base_url(), sb.base_url());
    println!("  authority:     {}/{}", sb.base_url(), sb.tenant_id());
    println!("  token URL:     {}", sb.token_url());
    println!("  tenant id:     {}", sb.tenant_id());
    println!("  domain:        {}", sb.domain());
    println!("  client id:     {}", sb.client_id());
    println!("  client secret: {}", sb.client_secret());
    if args.client_certificates.is_empty() {
        println!("  certificates:  none (client assertions are refused; --client-certificate PEM registers one)");
    } else {
        println!("  certificates:  {}", args.client_certificates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    println!("  admin API:     {}", sb.admin_url());
    println!("  permissions:   {}", sb.permissions().join(", "));
    println!("  state:         {state}");
    println!("  licences:      {}", args.licences.as_str());
    println!("Press Ctrl-C to stop.");
    let signal = tokio::signal::ctrl_c().await;
    println!("shutting down");
    sb.shutdown().await?;
    signal.map_err(SandboxError::Signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn defaults_are_loopback_and_persistent() {
        let w = Wrap::try_parse_from(["serve"]).expect("parses");
        assert!(w.args.addr.ip().is_loopback());
        let cfg = w.args.to_config().expect("config");
        assert!(cfg.state_file.is_some());
        assert!(cfg.seed.is_none());
        assert!(!cfg.client_secret.is_empty());
    }

    #[test]
    fn flags_map_to_config() {
        let w = Wrap::try_parse_from([
            "serve", "--memory", "--addr", "127.0.0.1:0", "--throttle-rate", "0.25", "--latency-ms", "5", "--replication-lag-ms", "100", "--drop-rate", "0.1",
            "--error-rate", "0.2", "--fault-seed", "3", "--seed", "9", "--seed-users", "10", "--client-secret", "s3cret",
        ])
        .expect("parses");
        let cfg = w.args.to_config().expect("config");
        assert!(cfg.state_file.is_none());
        assert_eq!(cfg.faults.throttle_rate, 0.25);
        assert_eq!(cfg.faults.seed, Some(3));
        assert_eq!(cfg.seed.as_ref().map(|s| (s.seed, s.users)), Some((9, 10)));
        assert_eq!(cfg.client_secret, "s3cret");
        assert!(Wrap::try_parse_from(["serve", "--memory", "--throttle-rate", "2"]).expect("parses").args.to_config().is_err());
        assert!(Wrap::try_parse_from(["serve", "--memory", "--state", "x.db"]).is_err(), "--memory conflicts with --state");
        let w = Wrap::try_parse_from(["serve", "--memory", "--permissions", "User.ReadWrite.All,Group.ReadWrite.All"]).expect("parses");
        assert_eq!(w.args.to_config().expect("config").permissions, Some(vec!["User.ReadWrite.All".to_string(), "Group.ReadWrite.All".to_string()]));
        let w = Wrap::try_parse_from(["serve", "--memory", "--permissions", "User.ReadWrite.Al"]).expect("parses");
        assert!(w.args.to_config().is_err(), "a misspelt permission is refused");
        assert!(Wrap::try_parse_from(["serve", "--memory"]).expect("parses").args.to_config().expect("config").permissions.is_none());
    }

    #[tokio::test]
    async fn non_loopback_needs_allow_remote() {
        let w = Wrap::try_parse_from(["serve", "--memory", "--addr", "0.0.0.0:0"]).expect("parses");
        let err = Sandbox::start(w.args.to_config().expect("config")).await.err();
        assert!(matches!(err, Some(SandboxError::NotLoopback { .. })));
    }
}
