//! State belongs to one tenant. The ledger and the governance trust root
//! record the tenant id (the organization id Graph gives, `GET
//! /organization`) of the tenant they were written for, and `plan`,
//! `apply` and `reconcile` refuse to use them for another tenant, naming
//! both ids: another tenant's ledger would rewrite its ids with this
//! tenant's, and another tenant's trust root would put its approvers in
//! force here.
//!
//! Files written before the id was recorded have none: the next `apply`
//! records this tenant's id in both (the documented upgrade); a mismatch
//! is never adopted.

use std::path::Path;

use anyhow::{bail, Context, Result};
use engine::Ledger;

/// The target tenant's id, as Graph gives it (its organization id).
pub async fn organization(client: &providers::graph::GraphClient) -> Result<String> {
    providers::tenant_marker::organization_id(client).await.context("reading the tenant's organization id (GET /organization), which the ledger and the trust root record")
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Refuse the ledger at `path` (read as `ledger`) and the trust root beside
/// it when either records another tenant than `org`.
pub fn check(org: &str, ledger: &Ledger, path: &Path) -> Result<()> {
    if let Some(theirs) = ledger.tenant_id.as_deref().filter(|t| !same(t, org)) {
        // The ledger's text, escaped: a pull request writes it.
        let theirs = engine::render::text_safe(theirs);
        bail!(
            "refusing: the ledger {} belongs to tenant {theirs}, but the target tenant is {org}; using it would match and rewrite another tenant's objects. Point --ledger (or [state]) at the state of tenant {org}",
            path.display()
        );
    }
    let store = crate::trust_store::for_ledger(path)?;
    if let Some(theirs) = store.read()?.and_then(|r| r.tenant_id).filter(|t| !same(t, org)) {
        bail!(
            "refusing: the governance trust root {} belongs to tenant {theirs}, but the target tenant is {org}; its approvers are not in force here. Use the state of tenant {org} (or adopt governance for it on purpose with `tenantctl governance adopt DIR --reason TEXT`)",
            store.describe()
        );
    }
    Ok(())
}

/// Apply, under the lock: a trust root recorded before the tenant id was
/// gets it now (its [governance], and so its fingerprint, is unchanged).
pub fn adopt_in_trust(org: &str, path: &Path) -> Result<()> {
    let store = crate::trust_store::for_ledger(path)?;
    if let Some(mut root) = store.read()? {
        if root.tenant_id.is_none() {
            root.tenant_id = Some(org.to_string());
            store.write(&root)?;
        }
    }
    Ok(())
}

/// For commands that only read (`plan`, `drift`, `reconcile`): check the
/// state against the tenant when its id can be read; when it cannot (a
/// Graph fault, a permission missing) say so and go on: the read of the
/// tenant reports what could not be read, and `apply` reads the id again
/// and refuses without it. Returns the id when it was read: a caller
/// that writes (`reconcile --self-heal`) must refuse when it was not.
pub async fn check_if_read(client: &providers::graph::GraphClient, ledger: &Ledger, path: &Path) -> Result<Option<String>> {
    match organization(client).await {
        Ok(org) => check(&org, ledger, path).map(|_| Some(org)),
        Err(e) => {
            crate::output::status(format!("warning: the state was not checked against the tenant's id ({e:#}); apply checks it and refuses without it"));
            Ok(None)
        }
    }
}
