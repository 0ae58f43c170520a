//! `tenantctl keygen`, `tenantctl approve`, the author's signature on
//! `plan --out`, and the governance checks of `apply` and `validate`. The
//! decisions are `engine::governance`'s; this is wiring, files and output.
//!
//! Key files: `NAME.key` is the Ed25519 private key as PKCS#8 PEM
//! (`-----BEGIN PRIVATE KEY-----`), created with mode 0600 and never
//! overwritten; `NAME.pub` holds the public key as `ed25519:BASE64`, the form
//! `[governance.approvers.X] public_key` takes. Private keys are never
//! printed or logged.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use engine::governance::{self, ApprovalError, Finding, Severity};
use engine::{DesiredModel, Plan};

use crate::{load, output, write_atomic};

/// Write a new key pair to `NAME.key` (0600) and `NAME.pub`; print the
/// public key.
pub fn keygen(out: &Path) -> Result<ExitCode> {
    let key_path = with_suffix(out, "key");
    let pub_path = with_suffix(out, "pub");
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let key = SigningKey::from_bytes(&seed);
    let pem = key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    write_private(&key_path, pem.as_bytes())?;
    let public = governance::public_key_string(&key.verifying_key());
    std::fs::write(&pub_path, format!("{public}\n")).with_context(|| format!("writing {}", pub_path.display()))?;
    output::status(format!(
        "Wrote the private key to {} (keep it secret) and the public key to {}.\nList it under [governance.approvers.NAME] public_key, or use it as --author-key.",
        key_path.display(),
        pub_path.display()
    ));
    output::result(&format!("{public}\n"));
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(p: &Path, ext: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(format!(".{ext}"));
    PathBuf::from(s)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (an existing key is never overwritten)", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (an existing key is never overwritten)", path.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Read a private key file written by `keygen`. The error never contains
/// the file's content.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    // Keys pasted into CI secret stores often gain blank lines around them.
    SigningKey::from_pkcs8_pem(text.trim()).map_err(|_| anyhow::anyhow!("{} is not an Ed25519 private key in PKCS#8 PEM (make one with `tenantctl keygen`)", path.display()))
}

/// Read a saved plan.
pub fn read_plan(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading plan {}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text).with_context(|| format!("{} is not a tenantctl plan", path.display()))?;
    if plan.format_version != engine::plan::PLAN_FORMAT_VERSION {
        bail!("{} has plan format {}, this tenantctl reads {}", path.display(), plan.format_version, engine::plan::PLAN_FORMAT_VERSION);
    }
    Ok(plan)
}

/// `tenantctl approve PLAN --key FILE`: check the plan, show what is being
/// approved, and add a signature (written atomically).
pub fn approve(plan_path: &Path, key_path: &Path, dir: &Path, detached_out: Option<&Path>) -> Result<ExitCode> {
    let mut plan = read_plan(plan_path)?;
    let state = load(dir)?;
    let desired = providers::kinds::desired_model(&state);
    let fp = engine::plan::fingerprint(&serde_json::to_value(&desired).context("hashing the desired state")?);
    if fp != plan.desired_fingerprint {
        bail!("{} was made from a different desired state than {} (it has {}, the directory gives {fp}); approve it against the commit it was made from", plan_path.display(), dir.display(), plan.desired_fingerprint);
    }
    // Everything already in the plan must verify; only the count may fall short.
    match governance::verify_approvals(&plan, &desired) {
        Ok(_) | Err(ApprovalError::NotEnough { .. }) => {}
        Err(e) => bail!("refusing to approve {}: {e}", plan_path.display()),
    }
    // An adoption plan is bound to the tenant's marker instead (and its
    // signatures adopt once: the marker changes).
    if !crate::governance_adopt::is_adoption(&plan) {
        crate::plan_expiry::check(&plan, &format!("to approve {}", plan_path.display()), schema::clock::now())?;
    }
    let key = read_key(key_path)?;
    output::status(summary(&plan, &desired));
    // The approvers in force verify the plan (its governance review; apply
    // recomputes that review from the recorded trust root and refuses a
    // plan that claims another).
    let in_force = plan.governance.as_ref().map(|g| g.in_force.clone()).unwrap_or_else(|| desired.governance.clone());
    let name = governance::approve(&mut plan, &in_force, &key).with_context(|| format!("refusing to approve {}", plan_path.display()))?;
    if let (Some(out), Some(approval)) = (detached_out, plan.approvals.last()) {
        crate::approvals::write(out, approval)?;
        output::status(format!("Approved by {name}. Signature over {} written to {} (the plan file is unchanged).", plan.hash(), out.display()));
        return Ok(ExitCode::SUCCESS);
    }
    write_atomic(plan_path, &engine::render::json(&plan))?;
    output::status(format!(
        "Approved by {name}: {} of {} approval(s). Signature over {} written to {}.",
        plan.approvals.len(),
        in_force.approvals_required,
        plan.hash(),
        plan_path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `approve --ledger`: refuse to sign a plan whose governance review (the
/// governance in force it claims, what it changes) is not the one the
/// trust root recorded beside `ledger` gives, as apply would refuse it.
pub fn check_review(plan_path: &Path, dir: &Path, ledger: &Path) -> Result<()> {
    let plan = read_plan(plan_path)?;
    if crate::governance_adopt::is_adoption(&plan) {
        // Its approvers in force are the tenant marker's, which
        // `governance adopt --plan` checks the plan against.
        output::status("This is an adoption plan (governance adopt --out): the approvers in force are the ones the tenant's governance marker records; `governance adopt --plan` checks it against the marker.");
        return Ok(());
    }
    let state = load(dir)?;
    let desired = providers::kinds::desired_model(&state);
    let trust = read_trust(ledger)?;
    let expected = governance::trust::review_for(&desired.governance, trust.as_ref(), &plan.ids);
    if plan.governance.as_ref() != Some(&expected) {
        let store = crate::trust_store::for_ledger(ledger)?;
        bail!(
            "refusing to approve {}: it claims another governance in force than the trust root recorded at {} ({}); make the plan again against that state (apply would refuse it)",
            plan_path.display(),
            store.describe(),
            match &trust {
                Some(t) => format!("recorded {}", t.recorded_at),
                None => "none recorded: first use".to_string(),
            }
        );
    }
    Ok(())
}

fn summary(plan: &Plan, desired: &DesiredModel) -> String {
    let mut s = format!("Plan {}: {}\n", plan.hash(), engine::render::headline(plan));
    if crate::governance_adopt::is_adoption(plan) {
        s.push_str("Adoption plan: adopts desired [governance] as the trust root in place of the one the tenant's governance marker records (applied with `governance adopt --plan`)\n");
    }
    match &plan.change {
        Some(c) => {
            s.push_str("Change record:\n");
            // Escaped: a newline or terminal escape in the record cannot
            // forge or hide the lines an approver signs after.
            for l in c.lines() {
                s.push_str(&format!("  {}\n", engine::render::text_safe(&l)));
            }
        }
        None => s.push_str("Change record: none (plan --change TEXT, or [change] ticket, scope, timeline)\n"),
    }
    if let Some(a) = &plan.author {
        // By name, as the governance in force lists the key.
        let in_force = plan.governance.as_ref().map(|g| &g.in_force).unwrap_or(&desired.governance);
        match governance::trust::key_name(in_force, &a.public_key) {
            Some(name) => s.push_str(&format!("Author: {} ({})\n", engine::render::text_safe(&name), a.public_key)),
            None => s.push_str(&format!("Author: {} (listed in neither [governance.authors] nor the approvers in force)\n", a.public_key)),
        }
    }
    if let Some(w) = &plan.written_by {
        s.push_str(&format!("Written by: {} (the person who wrote the change; their key may not approve it)\n", engine::render::text_safe(w)));
    }
    s.push_str(&crate::approve_reasons::sensitive_lines(plan, desired));
    if let Some(g) = &plan.governance {
        if g.first_use() {
            s.push_str(&format!("  WARNING: {}\n", governance::trust::FIRST_USE_WARNING));
        }
        if let Some(why) = g.reason() {
            s.push_str(&format!("  sensitive: governance ({why})\n"));
            for f in &g.fields {
                s.push_str(&format!("    {}: {} -> {}\n", f.path, shown(f.from.as_ref()), shown(f.to.as_ref())));
            }
        }
    }
    s.push_str(&crate::approve_reasons::finding_lines(plan));
    for (i, a) in plan.approvals.iter().enumerate() {
        s.push_str(&format!("  approval {}: {} ({})\n", i + 1, engine::render::text_safe(&a.approver), a.public_key));
    }
    s
}

fn shown(v: Option<&serde_json::Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "(absent)".into())
}

/// The change record of a plan: the directory's `[change]`, its summary
/// replaced by `plan --change TEXT` when given.
pub fn change_record(state: &schema::DesiredState, text: Option<&str>) -> Result<Option<schema::kinds::change::ChangeRecord>> {
    if let Some(why) = text.and_then(|t| schema::change_limits::problem("summary", t)) {
        anyhow::bail!("--change: {why}");
    }
    let record = state.change.as_ref().map(|c| c.value.clone()).unwrap_or_default().with_summary(text);
    Ok((!record.is_empty()).then_some(record))
}

/// The trust root file of a target: beside its ledger.
pub fn trust_path(ledger: &Path) -> PathBuf {
    ledger.with_extension("trust.json")
}

/// The recorded trust root, or `None` (first use); refused when missing
/// or edited since the journal last recorded it (see [`crate::trust_store`]).
pub fn read_trust(ledger: &Path) -> Result<Option<governance::trust::TrustRoot>> {
    crate::trust_store::read_checked(ledger)
}

/// Give a freshly made plan its governance review against the trust root
/// recorded beside `ledger` (and warn loudly on first use).
pub fn review(plan: &mut Plan, desired: &DesiredModel, ledger: &Path) -> Result<()> {
    let trust = read_trust(ledger)?;
    governance::trust::attach(plan, desired, trust.as_ref());
    if trust.is_none() {
        output::status(format!("WARNING: {}", governance::trust::FIRST_USE_WARNING));
    }
    Ok(())
}

/// Record desired `[governance]` as the trust root after an apply whose
/// plan (verified against the governance in force) changed or adopted it,
/// and journal the recording (with the fingerprint later reads check).
pub(crate) async fn record_trust(client: &providers::graph::GraphClient, plan: &Plan, desired: &DesiredModel, ledger: &Path, who: &crate::apply::Attribution) -> Result<()> {
    let Some(g) = &plan.governance else { return Ok(()) };
    if !g.records() {
        return Ok(());
    }
    let mut root = governance::trust::TrustRoot {
        format_version: governance::trust::TRUST_FORMAT_VERSION,
        governance: desired.governance.clone(),
        recorded_at: schema::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        plan: plan.hash(),
        approved_by: who.approvers.clone(),
        first_use: g.first_use(),
        tenant_id: Some(crate::tenant_check::organization(client).await?),
        // Approved (or first use): the protected objects' ids as the plan
        // matched them, re-keyed ones moved.
        protected_ids: {
            let before = crate::trust_store::for_ledger(ledger)?.read()?.map(|r| r.protected_ids).unwrap_or_default();
            governance::protected_ids::approved(&before, desired, &plan.ids)
        },
        tenant_seq: None,
    };
    let note = if g.first_use() { "first use: desired [governance] trusted as it stands" } else { "approved change of [governance]" };
    let how = if g.first_use() { "first-use" } else { "recorded" };
    // The tenant's marker first: a trust root recorded here but not in the
    // tenant would be refused by the next apply as not matching it.
    root.tenant_seq = Some(mark_tenant(client, &root, how).await?);
    store_trust(&root, ledger, how, note, who)?;
    let path = crate::trust_store::for_ledger(ledger)?.describe();
    output::status(if g.first_use() {
        format!("Recorded desired [governance] as the trust root on first use ({path}).")
    } else {
        format!("Recorded the approved [governance] as the trust root ({path}).")
    });
    Ok(())
}

/// Write the trust root and journal its recording.
pub(crate) fn store_trust(root: &governance::trust::TrustRoot, ledger: &Path, outcome: &str, note: &str, who: &crate::apply::Attribution) -> Result<()> {
    let store = crate::trust_store::for_ledger(ledger)?;
    // Written after the trust root (below). A trust root whose line a kill
    // cut off is journalled by the next apply; meanwhile deleting it does not
    // pass for first use either, since the tenant's marker was written first.
    let line = serde_json::json!({
        "when": root.recorded_at,
        "who": crate::apply::operator_for(Some(who)),
        "plan": root.plan,
        "address": "governance",
        "action": crate::trust_store::JOURNAL_ACTION,
        "object_id": null,
        "outcome": outcome,
        "error": null,
        "request_ids": [],
        "note": note,
        "trust_fingerprint": crate::trust_store::fingerprint(root),
        "protected_ids_fingerprint": crate::trust_ids::fingerprint(root),
        "author": who.author,
        "approvers": who.approvers,
        "change": who.change,
    });
    // The trust root before its journal line: a kill in between leaves a
    // trust root the journal does not name yet (journalled by the next
    // apply, `journal_existing_trust`), never a journal line naming a trust
    // root that is missing, which is refused as a removed trust root.
    store.write(root)?;
    crate::apply::journal_line(&crate::apply::journal_path(ledger), &line)
}

/// Record `root`'s fingerprint in the tenant's governance marker
/// ([`providers::tenant_marker`]): its trust extension, under the next
/// sequence ([`crate::trust_seq`]). The sequence recorded.
pub(crate) async fn mark_tenant(client: &providers::graph::GraphClient, root: &governance::trust::TrustRoot, how: &str) -> Result<u64> {
    crate::trust_seq::record(client, root, how).await
}

/// First use depends on the tenant, not on anything a pull request
/// chooses: the governance marker tenantctl records in the tenant
/// ([`providers::tenant_marker`]) when governance is adopted. Refused:
/// trust on first use over a tenant carrying a marker (its governance was
/// adopted before; the state was lost, moved, or the tenant emptied and
/// every key renamed), and a trust root that does not match the marker
/// (another copy of the state recorded since). A trust root recorded
/// before markers existed gets its marker now. A marker that cannot be
/// read is never taken for "no marker".
pub(crate) async fn check_tenant_marker(client: &providers::graph::GraphClient, plan: &Plan, desired: &DesiredModel, ledger: &Path) -> Result<()> {
    let marker = providers::tenant_marker::read(client).await.context("reading the tenant's governance marker (needs Organization.ReadWrite.All); first use is allowed only for a tenant proved to carry none")?;
    match marker_verdict(plan, desired, ledger, marker)? {
        Some(root) => crate::trust_seq::first_seen(client, root, ledger).await,
        None => Ok(()),
    }
}

/// [`check_tenant_marker`] of the organization `org`, whose id the caller
/// already read (`apply`, in its listings' `$batch`): the marker is read by
/// that id, without a `GET /organization` of its own.
pub(crate) async fn check_tenant_marker_of(client: &providers::graph::GraphClient, org: &str, plan: &Plan, desired: &DesiredModel, ledger: &Path) -> Result<()> {
    let marker = providers::tenant_marker::read_of(client, org).await.context("reading the tenant's governance marker (needs Organization.ReadWrite.All); first use is allowed only for a tenant proved to carry none")?;
    match marker_verdict(plan, desired, ledger, marker)? {
        Some(root) => crate::trust_seq::first_seen(client, root, ledger).await,
        None => Ok(()),
    }
}

/// What `plan` says of the marker: an error when the apply of this plan
/// would refuse (exit 1), a warning when the marker could not be read
/// (apply reads it again and refuses then). Writes nothing.
/// `org`: the tenant's id when already read (not read again).
/// `read`: the marker when already read (by the ledger's seal check).
pub(crate) async fn plan_marker_check(client: &providers::graph::GraphClient, plan: &Plan, desired: &DesiredModel, ledger: &Path, org: Option<&str>, read: Option<Option<providers::tenant_marker::Marker>>) -> Result<()> {
    let read = match (read, org) {
        (Some(m), _) => Ok(m),
        (None, Some(org)) => providers::tenant_marker::read_of(client, org).await,
        (None, None) => providers::tenant_marker::read(client).await,
    };
    match read {
        Ok(marker) => {
            if marker_verdict(plan, desired, ledger, marker)?.is_some() {
                output::status("The tenant carries no governance marker yet, or one that does not record the approvers in force: the next apply records the trust root's (with its approvers' keys).");
            }
            Ok(())
        }
        Err(e) => {
            output::status(format!("warning: the tenant's governance marker was not read ({:#}); apply reads it and refuses if it does not match", anyhow::Error::from(e)));
            Ok(())
        }
    }
}

/// The marker rules of [`check_tenant_marker`] for a marker already read:
/// an error when refused; the trust root to mark the tenant with when the
/// tenant carries no marker yet.
fn marker_verdict(plan: &Plan, desired: &DesiredModel, ledger: &Path, marker: Option<providers::tenant_marker::Marker>) -> Result<Option<governance::trust::TrustRoot>> {
    let first_use = plan.governance.as_ref().is_some_and(|g| g.first_use());
    let store = crate::trust_store::for_ledger(ledger)?;
    let local = store.read()?;
    // The fingerprint of desired [governance], as a trust root records it.
    let desired_fingerprint = crate::trust_store::governance_fingerprint(&desired.governance);
    match (first_use, marker, local) {
        // The marker records exactly the [governance] desired now: a first
        // use (or a re-recording) cut short between the tenant's marker and
        // the local trust root, or the state restored by hand. Trusting it
        // chooses nobody new: the approvers are the ones the tenant has.
        (true, Some(m), None) if m.fingerprint == desired_fingerprint => {
            output::status(format!(
                "The tenant's governance marker ({}, {}) records exactly desired [governance]: recording it as the trust root again (an earlier recording was cut short or the state was lost).",
                providers::tenant_marker::EXTENSION_NAME,
                if m.recorded_at.is_empty() { "an unknown time" } else { m.recorded_at.as_str() }
            ));
            Ok(None)
        }
        (true, Some(m), _) => bail!(
            "refusing: no governance trust root is recorded at {}, but this tenant carries tenantctl's governance marker ({}, {} at {}): governance was adopted for it before, so trust on first use would let whoever lost or moved the state (or emptied the tenant and renamed every key) choose the approvers.\nRestore the state, or adopt desired [governance] for this tenant on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
            store.describe(),
            providers::tenant_marker::EXTENSION_NAME,
            if m.how.is_empty() { "recorded" } else { m.how.as_str() },
            if m.recorded_at.is_empty() { "an unknown time" } else { m.recorded_at.as_str() }
        ),
        (false, Some(m), Some(root)) if m.fingerprint != crate::trust_store::fingerprint(&root) && crate::trust_seq::rolled_back(&m, &root) => Err(crate::trust_seq::rollback_error(&m, &root, &store.describe())),
        (false, Some(m), Some(root)) if m.fingerprint != crate::trust_store::fingerprint(&root) && crate::trust_seq::newer(&m, &root) => Err(crate::trust_seq::newer_error(&m, &root, &store.describe())),
        (false, Some(m), Some(root)) if m.fingerprint != crate::trust_store::fingerprint(&root) => bail!(
            "refusing: the governance trust root {} does not match the governance marker this tenant carries ({}, {} at {}): another copy of the state recorded a different [governance] for this tenant.\nUse the state that recorded it, or re-adopt desired [governance] on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
            store.describe(),
            providers::tenant_marker::EXTENSION_NAME,
            if m.how.is_empty() { "recorded" } else { m.how.as_str() },
            m.recorded_at
        ),
        (false, None, Some(root)) => Ok(Some(root)),
        // A marker written before it recorded the approvers in force gets
        // them now, so re-adoption over this tenant needs their signatures.
        (false, Some(m), Some(root)) if m.approvals_required.is_none() => Ok(Some(root)),
        _ => Ok(None),
    }
}

/// A trust root this journal has no line for gets one now (by apply,
/// under the lock), so deleting it later is refused rather than taken for
/// first use. With a remote state backend the journal stays on the runner
/// while the trust root is in the backend, so a fresh runner's journal
/// lacks the line of a trust root recorded (and journalled) on another
/// one: that is `seen`, not `first-seen` (hostile run 21, finding 6). The
/// line names no approvers: the trust root's own `approved_by` is a file's
/// word, which whoever can write the backend could have written (hostile
/// run 24, finding 11); the approvals were journalled where they counted.
pub(crate) fn journal_existing_trust(ledger: &Path) -> Result<()> {
    let store = crate::trust_store::for_ledger(ledger)?;
    // The store already knows where it lives: a remote one has no file.
    let remote = store.local_file().is_none();
    if let Some(root) = store.read()? {
        if crate::trust_store::last_recorded(ledger)?.is_none() {
            let (outcome, note) = existing_trust_line(remote, &root);
            store_trust(&root, ledger, outcome, &note, &crate::apply::Attribution::default())?;
        }
    }
    Ok(())
}

/// The outcome and note of [`journal_existing_trust`]'s line.
fn existing_trust_line(remote: bool, root: &governance::trust::TrustRoot) -> (&'static str, String) {
    let how = if root.first_use { "on first use".to_string() } else { format!("by the apply of plan {}", root.plan.get(..12).unwrap_or(&root.plan)) };
    if remote {
        ("seen", format!("the trust root in the state backend, recorded {how} at {} as it says, is new to this runner's journal (the journal stays where tenantctl runs; the recording and its approvers were journalled where it ran)", root.recorded_at))
    } else {
        ("first-seen", format!("a trust root recorded {how} at {} that this journal has no line for (recorded before recordings were journalled, or its line was cut off by a kill)", root.recorded_at))
    }
}

/// The author key named on the command line or in TENANTCTL_AUTHOR_KEY.
pub fn sign_as_author(plan: &mut Plan, key: Option<&Path>) -> Result<()> {
    if let Some(path) = key {
        let key = read_key(path)?;
        governance::sign_as_author(plan, &key);
    }
    Ok(())
}

/// Print lint findings on stderr; the number of errors.
pub fn report_lints(findings: &[Finding]) -> usize {
    for f in findings {
        output::status(f.to_string());
    }
    lint_errors(findings)
}

/// Say how many lint errors there are (the findings are in the rendered
/// plan); the number of errors.
pub fn lint_errors(findings: &[Finding]) -> usize {
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    if errors > 0 {
        output::status(format!("{errors} lint error(s); fix them, or allow one on purpose in [governance] allow = [\"LINT:ADDRESS\"]"));
    }
    errors
}

/// Trust on first use is for a tenant this desired state has not built
/// yet. When no trust root is recorded but the tenant already holds objects
/// this desired state declares (matched by natural key), the state was
/// moved, not new: another `--ledger`, a copied folder, another `[state]`
/// prefix or tenant key. Trusting desired `[governance]` then would let
/// whoever moved it choose the approvers, so apply refuses; adopting
/// governance for an existing tenant is done on purpose with
/// `tenantctl governance adopt` (warned and journalled).
pub(crate) fn refuse_first_use_over_existing(plan: &Plan, ledger: &Path) -> Result<()> {
    let first_use = plan.governance.as_ref().is_some_and(|g| g.first_use());
    // Objects Entra gives every tenant (its authentication methods policy,
    // each role's PIM policy, its guest settings, the default cross-tenant
    // access) are matched on any tenant: they prove nothing.
    let singleton = |a: &schema::Address, id: &str| schema::object_id::given_by_tenant(a.kind, id);
    let held: Vec<&schema::Address> = plan.ids.iter().filter(|(a, id)| !singleton(a, id.as_str())).map(|(a, _)| a).collect();
    if !first_use || held.is_empty() {
        return Ok(());
    }
    let mut some: Vec<String> = held.iter().take(3).map(|a| a.to_string()).collect();
    if held.len() > 3 {
        some.push(format!("and {} more", held.len() - 3));
    }
    bail!(
        "refusing: no governance trust root is recorded at {}, but the tenant already holds {} object(s) this desired state declares ({}); its state was moved or lost (another --ledger, a copied folder, another [state] prefix), and trusting desired [governance] now would let whoever moved it choose the approvers.\nRestore the state, or adopt desired [governance] for this tenant on purpose with `tenantctl governance adopt DIR --reason \"TEXT\"` (warned and journalled)",
        crate::trust_store::for_ledger(ledger)?.describe(),
        held.len(),
        some.join(", ")
    )
}

/// After an apply: the trust root records the ids of protected objects it
/// lacks (created or matched since); only adds protection, so no approval.
/// Its [governance] (and fingerprint) is unchanged.
pub(crate) fn record_protected_ids(desired: &DesiredModel, ledger_path: &Path, ledger: &engine::Ledger, who: &crate::apply::Attribution) -> Result<()> {
    let store = crate::trust_store::for_ledger(ledger_path)?;
    let Some(mut root) = store.read()? else { return Ok(()) };
    let ids: std::collections::BTreeMap<schema::Address, String> = ledger.resources.iter().map(|(a, e)| (a.clone(), e.id.clone())).collect();
    let added = governance::protected_ids::added(&root.protected_ids, desired, &ids);
    if added != root.protected_ids {
        root.protected_ids = added;
        store.write(&root)?;
        crate::trust_ids::journal(&root, ledger_path, who)?;
    }
    Ok(())
}
