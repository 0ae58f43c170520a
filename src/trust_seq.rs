//! The trust root in the tenant: its own open extension, a sequence, and
//! what a rollback looks like (hostile run 29, finding 1, repros 2 and 3).
//!
//! Design. Graph's update of an open extension replaces its data whole and
//! takes no `If-Match`, so no marker write can be conditional, and a write
//! built from a stale read and answered late replaces what others wrote
//! meanwhile. When the trust root shared one extension with the approved
//! plans' claims, the ledgers' seals and the full-read time, every such
//! write (a claim, a seal, a reconcile pass's full-read time) carried the
//! trust root as it had read it, and a slow one rolled an approved
//! `[governance]` change back: a removed approver's key was the trust root
//! again, silently, and the directory that made the change was locked out.
//! Now the trust root is in the second open extension Graph allows one app
//! on one directory object, [`providers::tenant_marker::TRUST_EXTENSION_NAME`],
//! which only a recording of a trust root writes ([`record`]: first use, an
//! approved `[governance]` change, `governance adopt`, and the first-seen
//! recording of a trust root the tenant lacks). A claim, a seal or a
//! reconcile pass cannot roll it back: none of them writes it. This was
//! chosen over keeping one extension and comparing fields after each write
//! because a comparison after the fact can only say that the trust root was
//! replaced, while a separate extension keeps the writers that race most
//! (every apply, every reconcile pass) away from it.
//!
//! What remains is two recordings racing (two approved `[governance]`
//! changes or adoptions applied at the same moment, one of them slow):
//! each recording writes the next sequence (`trustSeq`) and the
//! fingerprint it replaced, and reads back, refusing when another
//! recording's is there instead; a slow one that lands after another's
//! read-back replaces it, and says so ([`crate::marker_slow`]). That
//! rollback is detectable: the runner whose recording was replaced holds a
//! trust root recorded under a higher sequence than the tenant's, and is
//! told that the tenant's trust root was rolled back ([`rollback_error`]),
//! not that another copy of the state recorded a different
//! `[governance]`. It is not put back by itself: a runner's trust store is
//! state whoever can write the state backend can write (any trust root,
//! any sequence), and the tenant's marker exists because that is no proof;
//! who may write the trust root is an approved recording, so the newer one
//! is put back by applying its change again (a new plan approved by the
//! approvers in force) or by `governance adopt`. A runner holding an older
//! trust root than the tenant's (a lower sequence) sees the newer one in
//! force ([`newer_error`]).

use std::path::Path;

use anyhow::{bail, Context, Result};
use engine::governance;
use providers::tenant_marker::{self, Marker, TRUST_EXTENSION_NAME};

const CONTEXT: &str = "recording the governance marker in the tenant (Organization.ReadWrite.All); the trust root was not recorded";

/// Record `root` in the tenant's trust extension under the sequence after
/// the one the tenant holds (1 when it has no trust extension yet: none,
/// or a marker from before gov27, which migrates now), then read it back.
/// The sequence recorded. Another recording's found at the read-back
/// refuses (the trust root was not recorded).
pub async fn record(client: &providers::graph::GraphClient, root: &governance::trust::TrustRoot, how: &str) -> Result<u64> {
    let keys = |m: &std::collections::BTreeMap<String, schema::kinds::governance::Approver>| m.iter().map(|(k, a)| format!("{k}={}", a.public_key)).collect::<Vec<_>>();
    let fingerprint = crate::trust_store::fingerprint(root);
    let org = tenant_marker::organization_id(client).await.context(CONTEXT)?;
    let read_at = crate::marker_slow::ReadAt::now();
    let current = tenant_marker::read_of(client, &org).await.context(CONTEXT)?;
    let seq = current.as_ref().and_then(|m| m.trust_seq).unwrap_or(0) + 1;
    let replaced = current.as_ref().map(|m| m.fingerprint.clone()).filter(|f| !f.is_empty() && *f != fingerprint);
    let marker = Marker {
        fingerprint: fingerprint.clone(),
        recorded_at: root.recorded_at.clone(),
        how: how.to_string(),
        approvers: keys(&root.governance.approvers),
        authors: keys(&root.governance.authors),
        approvals_required: Some(root.governance.approvals_required),
        trust_seq: Some(seq),
        trust_replaced: replaced,
        ..Marker::default()
    };
    tenant_marker::update_trust_of(client, &org, &marker).await.context(CONTEXT)?;
    if let Some(w) = crate::marker_slow::window(&read_at) {
        crate::output::status(format!(
            "warning: this run's recording of the trust root (sequence {seq}) was written to {TRUST_EXTENSION_NAME} {:.1} s after it was read: another recording of a trust root between {} and {} would have been replaced by it (its runner is told the trust root was rolled back)",
            w.took.as_secs_f64(),
            w.from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            w.to.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
    }
    let back = tenant_marker::read_of(client, &org).await.context("reading the tenant's governance marker back after recording the trust root")?;
    match back {
        Some(b) if b.fingerprint == fingerprint && b.trust_seq == Some(seq) => {
            if current.is_some_and(|m| m.trust_seq.is_none()) {
                drop_legacy_fields(client, &org).await;
            }
            Ok(seq)
        }
        Some(b) => bail!(
            "{CONTEXT}: another recording of a trust root ({}, sequence {}) replaced this run's (sequence {seq}) in {TRUST_EXTENSION_NAME} right after it was written (two [governance] recordings at the same moment); nothing was changed by this run: apply again when the other is done",
            b.fingerprint,
            b.trust_seq.map(|s| s.to_string()).unwrap_or_else(|| "none".into())
        ),
        None => bail!("{CONTEXT}: the tenant's governance marker was removed right after it was written"),
    }
}

/// A marker from before gov27 just migrated: its first extension still
/// carries the old trust fields (ignored while the trust extension exists,
/// but in force again if someone deleted it). Rewritten without them, as
/// read right before (every fact kept); a failure is a warning.
async fn drop_legacy_fields(client: &providers::graph::GraphClient, org: &str) {
    let read_at = crate::marker_slow::ReadAt::now();
    let rewritten = match tenant_marker::read_of(client, org).await {
        Ok(Some(m)) => tenant_marker::update_of(client, org, &m).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    match rewritten {
        Ok(()) => {
            if let Some(w) = crate::marker_slow::window(&read_at) {
                crate::marker_slow::warn("this run's rewrite of the marker without its old trust fields", &w);
            }
        }
        Err(e) => crate::output::status(format!(
            "warning: the old trust fields were not taken out of the tenant's governance marker {} ({:#}); they are ignored while {TRUST_EXTENSION_NAME} exists, and the next write of the marker drops them",
            tenant_marker::EXTENSION_NAME,
            anyhow::Error::from(e)
        )),
    }
}

/// A trust root the tenant lacks (no marker, or one written before it
/// recorded approvers): recorded now, its sequence kept in the trust store.
pub async fn first_seen(client: &providers::graph::GraphClient, mut root: governance::trust::TrustRoot, ledger: &Path) -> Result<()> {
    root.tenant_seq = Some(record(client, &root, "first-seen").await?);
    crate::trust_store::for_ledger(ledger)?.write(&root)
}

/// The trust root `root` (this runner's, another fingerprint than the
/// tenant's) was recorded under a higher sequence than the tenant's trust
/// extension holds: a write from an older read replaced it.
pub fn rolled_back(m: &Marker, root: &governance::trust::TrustRoot) -> bool {
    root.tenant_seq.is_some_and(|mine| mine > m.trust_seq.unwrap_or(0))
}

/// The tenant records a later trust root (a higher sequence) than this
/// runner's `root`.
pub fn newer(m: &Marker, root: &governance::trust::TrustRoot) -> bool {
    matches!((m.trust_seq, root.tenant_seq), (Some(theirs), Some(mine)) if theirs > mine)
}

fn when(m: &Marker) -> String {
    format!("{} at {}", if m.how.is_empty() { "recorded" } else { m.how.as_str() }, if m.recorded_at.is_empty() { "an unknown time" } else { m.recorded_at.as_str() })
}

/// The refusal of a rolled-back trust root ([`rolled_back`]).
pub fn rollback_error(m: &Marker, root: &governance::trust::TrustRoot, store: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "refusing: the tenant's trust root was rolled back: the governance trust root {store} ({}) does not match the governance marker this tenant carries; it was recorded in the tenant as sequence {}, but the tenant's governance marker {TRUST_EXTENSION_NAME} now records sequence {} ({}, {}), an older recording: a write built from an older read of the marker replaced the newer one (two recordings at the same moment, one answered late), or someone with Organization.ReadWrite.All wrote it.\nThe approvers in force are the ones the tenant records, so it is not put back by itself (this runner's trust root is state, not proof): apply the approved [governance] change again (a new plan approved by the approvers the tenant records), or re-adopt on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
        crate::trust_store::fingerprint(root),
        root.tenant_seq.unwrap_or(0),
        m.trust_seq.map(|s| s.to_string()).unwrap_or_else(|| "none (a marker from before sequences)".into()),
        m.fingerprint,
        when(m)
    )
}

/// The refusal of a trust root older than the tenant's ([`newer`]).
pub fn newer_error(m: &Marker, root: &governance::trust::TrustRoot, store: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "refusing: the governance trust root {store} ({}, sequence {}) does not match the governance marker this tenant carries ({TRUST_EXTENSION_NAME}: {}, sequence {}, {}{}), a later recording: another copy of the state recorded a different [governance] for this tenant since, a newer one, and its approvers are in force.\nUse the state that recorded it, or re-adopt desired [governance] on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
        crate::trust_store::fingerprint(root),
        root.tenant_seq.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
        m.fingerprint,
        m.trust_seq.unwrap_or(0),
        when(m),
        m.trust_replaced.as_deref().map(|r| format!(", replacing {r}")).unwrap_or_default()
    )
}
