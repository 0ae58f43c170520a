//! `tenantctl governance adopt`: record desired `[governance]` as the
//! trust root on purpose (no trust root, or one edited outside an approved
//! apply). Over a tenant whose governance marker records another
//! `[governance]`, the approvers that marker records are in force, so the
//! adoption needs their signatures, in the plan signing format:
//!
//! ```text
//! tenantctl governance adopt DIR --reason R --out adopt.json --author-key me.key
//! tenantctl approve adopt.json --key alice.key --dir DIR      # approvers the marker records
//! tenantctl approve adopt.json --key bob.key --dir DIR
//! tenantctl governance adopt DIR --reason R --plan adopt.json
//! ```
//!
//! The adoption plan has no changes; its governance review names the
//! marker's approvers as the ones in force and the fields desired
//! `[governance]` changes, and it is bound to the marker's fingerprint and
//! to desired state, so its signatures adopt nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use engine::governance::{self, trust};
use engine::{DesiredModel, Plan};
use providers::tenant_marker::{Marker, EXTENSION_NAME};
use schema::kinds::governance::{Approver, Governance};

use crate::{load, output, write_atomic};

/// What `governance adopt` was asked.
pub struct AdoptArgs<'a> {
    pub dir: &'a Path,
    pub reason: &'a str,
    pub graph_url: Option<&'a str>,
    pub ledger: Option<PathBuf>,
    pub replace_marker: Option<&'a str>,
    /// Write the adoption plan here (signed with `author_key`) for the
    /// marker's approvers to approve, instead of adopting.
    pub out: Option<&'a Path>,
    pub author_key: Option<&'a Path>,
    /// The adoption plan approved by the marker's approvers.
    pub plan: Option<&'a Path>,
}

pub async fn adopt(args: AdoptArgs<'_>) -> Result<ExitCode> {
    if args.reason.trim().is_empty() {
        bail!("governance adopt needs --reason \"TEXT\" saying why the trust root is re-adopted (it is journalled)");
    }
    let state = load(args.dir)?;
    let desired = providers::kinds::desired_model(&state);
    let target = crate::target::connect(args.dir, state.tenant.as_ref().map(|t| &t.value), args.graph_url, args.ledger.clone()).await?;
    let result = adopt_locked(&target, &state, &desired, &args).await;
    target.shutdown().await;
    result
}

fn who(m: &Marker) -> String {
    format!(
        "{EXTENSION_NAME}, {} at {}",
        if m.how.is_empty() { "recorded" } else { m.how.as_str() },
        if m.recorded_at.is_empty() { "an unknown time" } else { m.recorded_at.as_str() }
    )
}

/// The `[governance]` in force as the marker records it: its approvers,
/// authors and `approvals_required` (what verifies an adoption), with the
/// rest (and the display names of the keys it lists) as `desired` has
/// them, so the review shows what changes among the people.
pub fn marker_governance(m: &Marker, desired: &Governance) -> Result<Governance> {
    let Some(required) = m.approvals_required else {
        bail!(
            "refusing: this tenant's governance marker ({}) was written by an older tenantctl and does not record its approvers, so nobody can be shown to be in force.\nUse the state that recorded it (its next apply records the approvers in the marker), then adopt with their signatures; only a tenant administrator can remove the marker instead (DELETE /organization/{{id}}/extensions/{EXTENSION_NAME}, Organization.ReadWrite.All), which is an act outside tenantctl for your change process",
            who(m)
        );
    };
    let parse = |list: &[String], named: &BTreeMap<String, Approver>| -> BTreeMap<String, Approver> {
        list.iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, key)| (k.to_string(), Approver { name: named.get(k).map(|a| a.name.clone()).unwrap_or_else(|| k.to_string()), public_key: key.to_string() }))
            .collect()
    };
    Ok(Governance {
        approvals_required: required,
        approvers: parse(&m.approvers, &desired.approvers),
        authors: parse(&m.authors, &desired.authors),
        ..desired.clone()
    })
}

/// Whether `plan` is an adoption plan ([`adoption_plan`]).
pub fn is_adoption(plan: &Plan) -> bool {
    plan.changes.is_empty() && plan.observed_fingerprint.starts_with(&format!("{EXTENSION_NAME}:"))
}

/// The adoption plan of desired `[governance]` over marker `m`: no
/// changes, the marker's governance in force, bound to the marker's
/// fingerprint (as the observed state) and to desired state.
pub fn adoption_plan(m: &Marker, state: &schema::DesiredState, desired: &DesiredModel, reason: &str) -> Result<Plan> {
    let in_force = marker_governance(m, &desired.governance)?;
    let fields = trust::diff(&in_force, &desired.governance);
    Ok(Plan {
        format_version: engine::plan::PLAN_FORMAT_VERSION,
        desired_fingerprint: engine::plan::fingerprint(&serde_json::to_value(desired).context("hashing the desired state")?),
        observed_fingerprint: format!("{EXTENSION_NAME}:{}", m.fingerprint),
        changes: Vec::new(),
        ids: BTreeMap::new(),
        unchanged: Vec::new(),
        unknown: Vec::new(),
        orphans: Vec::new(),
        warnings: vec![format!(
            "adopts desired [governance] as the trust root of this tenant in place of the one its governance marker records ({}); the approvers that marker records are in force and sign this",
            m.fingerprint
        )],
        sensitive: BTreeMap::new(),
        lints: Vec::new(),
        rollout: Vec::new(),
        author: None,
        approvals: Vec::new(),
        governance: Some(trust::GovernanceReview {
            in_force,
            recorded: Some(trust::Recorded { at: m.recorded_at.clone(), plan: format!("tenant marker {}", m.fingerprint) }),
            fields,
        }),
        change: crate::governance::change_record(state, Some(reason))?,
        not_after: None,
        written_by: None,
        refused: Vec::new(),
    })
}

async fn adopt_locked(target: &crate::target::Target, state: &schema::DesiredState, desired: &DesiredModel, args: &AdoptArgs<'_>) -> Result<ExitCode> {
    let ledger_path = target.ledger_path.clone();
    let _held = crate::state::lock(&ledger_path, "tenantctl governance adopt", std::time::Duration::ZERO).await?;
    let store = crate::trust_store::for_ledger(&ledger_path)?;
    let current = store.read()?;
    let marker = providers::tenant_marker::read(&target.client).await.context("reading the tenant's governance marker (needs Organization.ReadWrite.All)")?;
    // An intact trust root the tenant's marker disagrees with (another copy
    // of the state recorded since) may be re-adopted; an intact, matching
    // one may not.
    let disagrees = |r: &trust::TrustRoot| marker.as_ref().is_some_and(|m| m.fingerprint != crate::trust_store::fingerprint(r));
    if let (Some(r), Some((fp, _))) = (&current, crate::trust_store::last_recorded(&ledger_path)?) {
        if crate::trust_store::fingerprint(r) == fp && !disagrees(r) {
            bail!("a trust root is recorded and intact ({}); change [governance] through a plan approved by the approvers in force, not by adopting", store.describe());
        }
    }
    if current.as_ref().is_some_and(|r| !disagrees(r)) && crate::trust_store::last_recorded(&ledger_path)?.is_none() {
        bail!("a trust root is recorded ({}); change [governance] through a plan approved by the approvers in force, not by adopting", store.describe());
    }
    let desired_fingerprint = crate::trust_store::governance_fingerprint(&desired.governance);
    let mut attribution = crate::apply::Attribution { author: None, approvers: Vec::new(), change: Some(args.reason.to_string()) };
    let mut plan_hash = "adopt".to_string();
    // A tenant carrying a marker has governance in force whatever this
    // copy of the state holds (another --ledger, a lost runner): adopting
    // chooses nobody new only when desired [governance] is exactly the one
    // the marker records. Any other needs the signatures of the approvers
    // the marker records, over the adoption plan.
    match &marker {
        Some(m) if m.fingerprint != desired_fingerprint => {
            if let Some(fp) = args.replace_marker.filter(|fp| *fp != m.fingerprint) {
                bail!("--replace-marker {fp}: the tenant's governance marker records {}, not {fp}", m.fingerprint);
            }
            let expected = adoption_plan(m, state, desired, args.reason)?;
            if let Some(out) = args.out {
                return write_adoption_plan(expected, m, args, out);
            }
            let gov = marker_governance(m, &desired.governance)?;
            if gov.approvals_required == 0 && args.plan.is_none() {
                // The governance in force needs nobody's approval: its
                // fingerprint typed is the deliberate act.
                if args.replace_marker != Some(m.fingerprint.as_str()) {
                    bail!(
                        "refusing: this tenant carries tenantctl's governance marker ({}) for another [governance] ({}) than desired ({desired_fingerprint}); it requires no approvals, so replacing it needs its fingerprint typed: --replace-marker {} (warned and journalled)",
                        who(m),
                        m.fingerprint,
                        m.fingerprint
                    );
                }
                output::status(format!("WARNING: the governance the tenant's marker records ({}) requires no approvals: replacing it with its fingerprint typed (--replace-marker).", m.fingerprint));
            } else {
                let Some(path) = args.plan else {
                    bail!(
                        "refusing: this tenant carries tenantctl's governance marker ({}) for another [governance] ({}) than desired ({desired_fingerprint}): its approvers ({}) are in force, and adopting without them would let whoever runs this choose new ones.\nUse the state that recorded it; or have {} of them approve the adoption:\n  tenantctl governance adopt {dir} --reason \"...\" --out adopt.json --author-key YOU.key\n  tenantctl approve adopt.json --key THEIR.key --dir {dir}   (each approver)\n  tenantctl governance adopt {dir} --reason \"...\" --plan adopt.json",
                        who(m),
                        m.fingerprint,
                        names(&gov),
                        gov.approvals_required,
                        dir = args.dir.display()
                    );
                };
                let signed = crate::governance::read_plan(path)?;
                if signed.hash() != expected.hash() {
                    bail!(
                        "refusing: {} is not the adoption plan of desired [governance] over this tenant's marker ({}) with this --reason: desired state, the marker or the reason changed since it was made; make it again with --out and have it approved",
                        path.display(),
                        m.fingerprint
                    );
                }
                let v = governance::verify_approvals(&signed, desired).map_err(|e| anyhow::anyhow!("refusing to adopt with {}: {e}", path.display()))?;
                output::status(format!("The adoption is approved by {} (approvers the tenant's marker records).", if v.approvers.is_empty() { "nobody (the marker's governance requires no approvals)".to_string() } else { v.approvers.join(", ") }));
                attribution.author = v.author;
                attribution.approvers = v.approvers;
                plan_hash = signed.hash();
            }
        }
        Some(_) => {
            if args.plan.is_some() || args.out.is_some() {
                bail!("desired [governance] is the one the tenant's marker records: adopt it without --plan or --out (nobody new is chosen)");
            }
        }
        None => {
            if let Some(fp) = args.replace_marker {
                bail!("--replace-marker {fp}: this tenant carries no governance marker to replace");
            }
            if args.plan.is_some() || args.out.is_some() {
                bail!("this tenant carries no governance marker: there are no approvers in force to sign an adoption; adopt without --plan or --out (warned and journalled)");
            }
        }
    }
    let mut root = trust::TrustRoot {
        format_version: trust::TRUST_FORMAT_VERSION,
        governance: desired.governance.clone(),
        recorded_at: schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        plan: plan_hash,
        approved_by: attribution.approvers.clone(),
        first_use: attribution.approvers.is_empty(),
        tenant_id: Some(crate::tenant_check::organization(&target.client).await?),
        // Protection by object id is kept; the next apply adds what it lacks.
        protected_ids: current.as_ref().map(|r| r.protected_ids.clone()).unwrap_or_default(),
        tenant_seq: None,
    };
    output::status(format!(
        "WARNING: re-adopting desired [governance] as the trust root of this tenant ({}){}: from now on its approvers ({}) verify sensitive plans. Reason: {}",
        store.describe(),
        if attribution.approvers.is_empty() { " without approvals".to_string() } else { format!(", approved by {}", attribution.approvers.join(", ")) },
        names(&desired.governance),
        args.reason
    ));
    root.tenant_seq = Some(crate::governance::mark_tenant(&target.client, &root, "adopted").await?);
    let note = match &marker {
        Some(m) if m.fingerprint != desired_fingerprint => format!("governance adopt (replacing the tenant's marker {}, approved by the approvers it records): {}", m.fingerprint, args.reason),
        _ => format!("governance adopt: {}", args.reason),
    };
    crate::governance::store_trust(&root, &ledger_path, "adopted", &note, &attribution)?;
    output::status(format!("Recorded desired [governance] as the trust root ({}); the journal records the adoption.", store.describe()));
    Ok(ExitCode::SUCCESS)
}

fn names(g: &Governance) -> String {
    let names: Vec<String> = g.approvers.iter().map(|(k, a)| if a.name == *k { k.clone() } else { format!("{k} ({})", a.name) }).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn write_adoption_plan(mut plan: Plan, m: &Marker, args: &AdoptArgs<'_>, out: &Path) -> Result<ExitCode> {
    let Some(key) = args.author_key else {
        bail!("--out needs --author-key YOU.key: the adoption plan is signed by its author (listed among the approvers or authors the tenant's marker records)");
    };
    crate::governance::sign_as_author(&mut plan, Some(key))?;
    write_atomic(out, &engine::render::json(&plan))?;
    let gov = plan.governance.as_ref().map(|g| g.in_force.clone()).unwrap_or_default();
    output::status(format!(
        "Wrote the adoption plan {} (over the tenant's marker {}). It needs {} approval(s) by the approvers the marker records ({}): each runs `tenantctl approve {} --key THEIR.key --dir {}`; then `tenantctl governance adopt {} --reason \"{}\" --plan {}`.",
        out.display(),
        m.fingerprint,
        gov.approvals_required,
        names(&gov),
        out.display(),
        args.dir.display(),
        args.dir.display(),
        args.reason,
        out.display()
    ));
    Ok(ExitCode::SUCCESS)
}
