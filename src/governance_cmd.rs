//! `tenantctl governance ...`: operations on the governance trust root.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

#[derive(clap::Subcommand, Debug)]
pub enum GovernanceCmd {
    /// Re-adopt desired [governance] as the trust root on purpose, when
    /// none is recorded or the recorded one was edited outside an approved
    /// apply (loudly warned and journalled). An intact trust root is never
    /// replaced: change approvers through a plan the approvers in force
    /// approve. Over a tenant whose governance marker records another
    /// [governance], the approvers it records sign the adoption (--out,
    /// `tenantctl approve`, --plan).
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
        /// [governance]: its fingerprint, checked against the marker (the
        /// adoption still needs the signatures of the approvers it records).
        #[arg(long, value_name = "FINGERPRINT")]
        replace_marker: Option<String>,
        /// Over a tenant whose marker records another [governance]: write
        /// the adoption plan here for the marker's approvers to approve
        /// (`tenantctl approve`), instead of adopting.
        #[arg(long, value_name = "FILE", conflicts_with = "plan")]
        out: Option<PathBuf>,
        /// The author key signing the adoption plan written with --out.
        #[arg(long, value_name = "FILE")]
        author_key: Option<PathBuf>,
        /// The adoption plan, approved by the approvers the tenant's
        /// governance marker records.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
    },
}

pub async fn run(cmd: GovernanceCmd) -> Result<ExitCode> {
    match cmd {
        GovernanceCmd::Adopt { dir, reason, graph_url, ledger, replace_marker, out, author_key, plan } => {
            crate::governance_adopt::adopt(crate::governance_adopt::AdoptArgs {
                dir: &dir,
                reason: &reason,
                graph_url: graph_url.as_deref(),
                ledger,
                replace_marker: replace_marker.as_deref(),
                out: out.as_deref(),
                author_key: author_key.as_deref(),
                plan: plan.as_deref(),
            })
            .await
        }
    }
}
