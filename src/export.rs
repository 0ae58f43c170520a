//! `tenantctl export`: read an existing tenant and write desired state plus
//! the ledger that adopts it, then check that planning it against the same
//! tenant is empty.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::state_backend::{Expect, LocalBackend, StateBackend, StateKind};
use crate::{output, target, write_atomic};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write desired state into (must be empty or absent).
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the ledger (default: tenantctl.lock in --out for a
    /// real tenant, under .tenantctl/ for a sandbox).
    #[arg(long, env = "TENANTCTL_LEDGER")]
    pub ledger: Option<PathBuf>,
    #[arg(long, env = "TENANTCTL_GRAPH_URL")]
    pub graph_url: Option<String>,
    /// A desired-state directory whose target to export, chosen as `plan DIR`
    /// chooses it: its `[tenant]` with credentials, else the embedded sandbox
    /// beside it. Without it: credentials in the environment, --graph-url,
    /// or the embedded sandbox beside --out.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Overwrite files in a non-empty --out, and state (ledger) already
    /// kept for it.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    // Exporting over the desired state it reads would mix old and exported
    // files and replace its ledger, with nothing to roll back to.
    if let Some(from) = &args.from {
        if let (Ok(a), Ok(b)) = (std::fs::canonicalize(from), std::fs::canonicalize(&args.out)) {
            if a == b {
                bail!("--out {} is the --from directory; export into a new directory and compare", args.out.display());
            }
        }
    }
    if args.out.is_dir() && !args.force && std::fs::read_dir(&args.out)?.next().is_some() {
        bail!("{} is not empty; pass --force to overwrite its files", args.out.display());
    }
    // The same target selection as `plan`: [tenant] (of --from) and
    // credentials, --graph-url, or an embedded sandbox.
    // --from's desired state also names what only it can say (the
    // collections of its graph_objects, exported beside the rest).
    let mut from_model = engine::DesiredModel::default();
    let tenant = match &args.from {
        Some(dir) => match schema::load(dir) {
            Ok(state) => {
                from_model = providers::kinds::desired_model(&state);
                from_model.resources.retain(|a, _| a.kind == schema::Kind::GraphObject);
                state.tenant.map(|t| t.value)
            }
            Err(schema::LoadError::Invalid(d)) => bail!("{} is not valid desired state:\n{d}", dir.display()),
            Err(e) => return Err(anyhow::Error::from(e).context(format!("loading {}", dir.display()))),
        },
        None => None,
    };
    let mut target = target::connect_for_export(args.from.as_deref().unwrap_or(&args.out), tenant.as_ref(), args.graph_url.as_deref()).await?;
    // The export's ledger belongs with the exported directory (keyed by it
    // and the tenant), never over the ledger of the directory it was read
    // beside; and state already there is only replaced with --force.
    target.ledger_path = args.ledger.clone().unwrap_or_else(|| target.ledger_path_for(&args.out));
    if let Err(e) = refuse_existing_state(&target.ledger_path, args.force) {
        target.shutdown().await;
        return Err(e);
    }
    output::status(format!("Exporting {}", target.description));
    let read = async {
        let observed = providers::observe::observe_everything_with(&target.client, &from_model).await?;
        // Not optional: without the domains the export has no [tenant], and a
        // 403 here names the permission to grant (Directory.Read.All).
        let domains = target.client.v1().list_all("/domains").await?;
        Ok::<_, providers::graph::GraphError>((observed, domains))
    }
    .await
    .context("reading the tenant");
    let (observed, domains) = match read {
        Ok(r) => r,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    let mut names: Vec<(bool, String)> = domains
        .iter()
        .filter(|d| d.get("isVerified").and_then(Value::as_bool) != Some(false))
        .filter_map(|d| d.get("id").and_then(Value::as_str).map(|id| (d.get("isDefault").and_then(Value::as_bool) != Some(true), id.to_string())))
        .collect();
    names.sort();
    let domains: Vec<String> = names.into_iter().map(|(_, d)| d).collect();
    let mut export = providers::export::export(&observed, &domains, schema::clock::now());
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    for (name, text) in &export.files {
        // Script files go in a folder (`scripts/`) beside the TOML.
        if let Some(parent) = args.out.join(name).parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        write_atomic(&args.out.join(name), text)?;
    }
    // Written: the texts (the whole export again) are not kept while the
    // export is loaded back and planned below.
    export.files = Default::default();
    // Writing the ledger is a write of state: under the state lock.
    let held = match crate::state::lock(&target.ledger_path, "tenantctl export", std::time::Duration::ZERO).await {
        Ok(h) => h,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    // Always the local files of --out: the backend named by --from's
    // [state] holds --from's state, not the export's.
    let local = LocalBackend::new(&target.ledger_path);
    let expect = match (local.read(StateKind::Ledger)?, args.force) {
        (None, _) => Expect::Absent,
        (Some(v), true) => Expect::Version(v.version),
        (Some(_), false) => bail!("{} appeared while exporting; nothing was overwritten", target.ledger_path.display()),
    };
    local.write(StateKind::Ledger, export.ledger.render().as_bytes(), &expect)?;
    local.remove(StateKind::Wal)?;
    drop(held);
    for w in &export.warnings {
        output::status(format!("warning: {w}"));
    }
    // The export must adopt the tenant: planning it changes nothing.
    let verdict = match schema::load(&args.out) {
        Ok(state) => {
            let desired = providers::kinds::desired_model(&state);
            drop(state);
            engine::plan(&desired, &observed, &export.ledger, &engine::PlanOptions::default())
                // A ratification sends nothing to Graph: what the export
                // adopts has no approved record yet, so its controls and
                // grants are reviewed whole by the first apply (gov18).
                .map(|p| {
                    let ratified = p.changes.iter().filter(|c| engine::governance::ratify::is_ratify(c)).count();
                    (p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).map(|c| format!("{} {} ({})", c.action.as_str(), c.address, c.reason)).collect::<Vec<_>>(), ratified)
                })
                .map_err(anyhow::Error::from)
        }
        Err(schema::LoadError::Invalid(d)) => Err(anyhow::anyhow!("the exported files are not valid desired state:\n{d}")),
        Err(e) => Err(e.into()),
    };
    let ledger_path = target.ledger_path.clone();
    let description = target.description.clone();
    target.shutdown().await;
    let mut summary = format!("Exported to {}:\n", args.out.display());
    for (kind, n) in &export.counts {
        summary.push_str(&format!("  {:<22} {n}\n", kind.as_str()));
    }
    summary.push_str(&format!("Read from: {description}\n"));
    summary.push_str(&format!("Ledger: {}\n", ledger_path.display()));
    output::result(&summary);
    match verdict? {
        (left, ratified) if left.is_empty() => {
            output::status("Planning the export against the tenant makes no changes: the tenant is adopted.");
            if ratified > 0 {
                output::status(format!(
                    "note: {ratified} adopted object(s) (controls, and objects that say who holds or is granted something) have no approved record in the new ledger: the first apply shows them as sensitive ratifications (nothing is sent to Graph) and records them with the approvals it needs"
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        (left, _) => bail!("the export does not fully describe the tenant; planning it would still:\n  {}", left.join("\n  ")),
    }
}

/// Refuse to export over state already kept at `ledger` (its ledger, an
/// unfinished run's log, or a trust root) unless `force`.
fn refuse_existing_state(ledger: &std::path::Path, force: bool) -> Result<()> {
    let existing: Vec<String> = [ledger.to_path_buf(), crate::state::wal_path(ledger), crate::governance::trust_path(ledger)]
        .into_iter()
        .filter(|p| p.exists() || p.is_symlink())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !force {
        bail!("state already exists for the export's directory: {}; pass --force to replace the ledger (nothing was changed)", existing.join(", "));
    }
    Ok(())
}
