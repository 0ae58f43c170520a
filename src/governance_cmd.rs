//! `tenantctl governance ...`: operations on the governance trust root.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

#[derive(clap::Subcommand, Debug)]
pub enum GovernanceCmd {
    /// Re-adopt desired [governance] as the trust root on purpose, when
    /// none is recorded or the recorded one was edited outside an approved
    /// apply (loudly warned and journalled). An intact trust root is never
    /// replaced: change approvers through a plan the approvers in force approve.
    Adopt {
        #[arg(default_value = "desired-state")]
        dir: PathBuf,
        /// Why the trust root is re-adopted (journalled).
        #[arg(long)]
        reason: String,
        #[arg(long, env = "TENANTCTL_GRAPH_URL")]
        graph_url: Option<String>,
        /// The ledger whose trust root this is.
        #[arg(long, env = "TENANTCTL_LEDGER")]
        ledger: Option<PathBuf>,
        /// Over a tenant whose governance marker records another
        /// [governance]: its fingerprint, typed to replace it without its
        /// approvers (only when that governance is lost for good).
        #[arg(long, value_name = "FINGERPRINT")]
        replace_marker: Option<String>,
    },
}

pub async fn run(cmd: GovernanceCmd) -> Result<ExitCode> {
    match cmd {
        GovernanceCmd::Adopt { dir, reason, graph_url, ledger, replace_marker } => crate::governance::adopt(&dir, &reason, graph_url.as_deref(), ledger, replace_marker.as_deref()).await,
    }
}
