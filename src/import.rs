//! `tenantctl import ADDRESS ID`: an existing object adopted into the
//! ledger for a declared address, after checking it exists as that kind
//! and no other address owns it. The ledger is recorded as apply records
//! it: through the write-ahead log, sealed before it is compacted
//! ([`crate::ledger_seal::seal_then_compact`]); an import carries out no
//! plan, so a ledger the seal did not prove is not sealed by it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::state::LedgerStore;
use crate::{load, output, state, target};

pub async fn import(dir: &Path, address: &str, object_id: &str, graph_url: Option<&str>, ledger: Option<PathBuf>, lock_timeout: Duration) -> Result<ExitCode> {
    let address: schema::Address = address.parse().with_context(|| format!("`{address}` is not an address such as group.mwd-test"))?;
    if let Some(why) = schema::object_id::problem(address.kind, object_id) {
        bail!("cannot import {address}: {why}");
    }
    let state = load(dir)?;
    if !state.contains(&address) {
        bail!("{address} is not declared in {}; declare it before importing", dir.display());
    }
    let target = target::connect(dir, state.tenant.as_ref().map(|t| &t.value), graph_url, ledger).await?;
    let _held = match state::lock(&target.ledger_path, "tenantctl import", lock_timeout).await {
        Ok(h) => h,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    let store = LedgerStore::new(&target.ledger_path);
    let mut ledger = store.load()?;
    // This tenant's state, and whether its facts are proof (the seal).
    let org = match crate::tenant_check::organization(&target.client).await {
        Ok(org) => org,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    if let Err(e) = crate::tenant_check::check(&org, &ledger, &target.ledger_path) {
        target.shutdown().await;
        return Err(e);
    }
    crate::ledger_seal::read_and_judge(&target.client, &store, &mut ledger, &org, true).await?;
    let sealing = crate::ledger_seal::Sealing::of(&ledger);
    if let Some((other, _)) = ledger.resources.iter().find(|(a, e)| e.id == object_id && **a != address) {
        target.shutdown().await;
        bail!("object {object_id} is already owned by {other}");
    }
    // Only an object that exists, as the declared kind, is adopted.
    let found = providers::apply::read_object(&target.client, address.kind, object_id).await;
    match found {
        Ok(Some(_)) => {}
        Ok(None) => {
            let where_ = target.description.clone();
            target.shutdown().await;
            bail!("no {} with id {object_id} exists in {where_}", address.kind);
        }
        Err(e) => {
            target.shutdown().await;
            return Err(anyhow::Error::new(e).context(format!("reading {object_id}")));
        }
    }
    ledger.record(address.clone(), object_id.to_string(), None, Some(schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    // The tenant had it: adopted, never tenantctl's own creation.
    if let Some(e) = ledger.resources.get_mut(&address) {
        e.origin = Some(engine::ledger::Origin::Adopted);
    }
    // An import carries out no plan: a ledger the seal did not prove stays
    // unsealed (the next apply seals it).
    let may_seal = sealing.prepare(&mut ledger, false, Some(&org));
    let written = crate::ledger_seal::seal_then_compact(&store, &target.client, &org, ledger, sealing.finish(may_seal)).await;
    target.shutdown().await;
    written?;
    output::status(format!("{address} now owns {object_id} ({})", target_ledger_note()));
    Ok(ExitCode::SUCCESS)
}

fn target_ledger_note() -> &'static str {
    "recorded in the ledger; the next plan compares it with desired state"
}
