//! Issue 12 (gov10), through the binary: the ledger is sealed in the
//! tenant. A run that changes the tenant and writes the ledger records a
//! digest of it in the tenant's governance marker; a ledger whose digest
//! is another (edited by a pull request, inside a git work tree or not)
//! proves none of its facts, so what a forged fact would hide is shown and
//! held for approval. An untouched ledger is sealed whatever its git
//! situation, and its restores run unattended.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

const GUEST: &str = "guest.fabrikam-auditor";
const CA: &str = "conditional_access.block-untrusted-locations";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// The example converged, its governance adopted, then applied once by
/// the binary: the ledger is sealed in the tenant.
async fn sealed(sb: &SandboxHandle) -> (tempfile::TempDir, std::path::PathBuf) {
    let (work, dir) = converged(sb, |_| {}).await;
    let (code, out) = run(sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let org = org(sb).await;
    assert_eq!(marker(sb).await["ledgerSeal"].as_str(), Some(engine::ledger_seal::digest(&ledger_of(work.path()), &org).as_str()), "the apply sealed the ledger it wrote");
    (work, dir)
}

async fn org(sb: &SandboxHandle) -> String {
    graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an organization id").to_string()
}

async fn marker(sb: &SandboxHandle) -> Value {
    let org = org(sb).await;
    graph(sb, Method::GET, &format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance"), None).await
}

/// `f` applied to the text of the ledger entry of `address` in `work`'s ledger.
fn forge(work: &Path, address: &str, f: impl FnOnce(String) -> String) {
    let path = work.join("tenantctl.lock");
    let text = std::fs::read_to_string(&path).expect("the ledger");
    let head = format!("[resources.\"{address}\"]\n");
    let start = text.find(&head).unwrap_or_else(|| panic!("{address} in {text}"));
    let end = text[start + head.len()..].find("\n[").map(|i| start + head.len() + i + 1).unwrap_or(text.len());
    let entry = f(text[start..end].to_string());
    assert_ne!(entry, text[start..end], "{address} forged");
    std::fs::write(&path, format!("{}{entry}{}", &text[..start], &text[end..])).expect("forged");
}

/// A pull request extends the guest's access and forges the committed
/// ledger to record the new end: the extension is shown, sensitive, and
/// held, with the ledger inside a git work tree and outside one alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_guest_expiry_is_shown_and_held_inside_and_outside_git() {
    for in_git in [false, true] {
        let sb = sandbox().await;
        let (work, dir) = sealed(&sb).await;
        let w = work.path();
        if in_git {
            std::fs::create_dir(w.join(".git")).expect("a git work tree");
        }
        let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
        assert_eq!(code, Some(0), "sealed and in sync: {out}");
        assert!(!out.contains("does not match the seal"), "{out}");

        edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2027-06-30T17:00:00Z"));
        forge(w, GUEST, |e| e.replace("expires = \"2027-03-31T17:00:00Z\"", "expires = \"2027-06-30T17:00:00Z\""));
        let seal_before = marker(&sb).await;
        let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
        assert_eq!(code, Some(2), "in_git {in_git}: the extension is a change: {out}");
        assert!(out.contains(&format!("~ {GUEST}")), "{out}");
        assert!(out.contains("expires: \"2027-06-30T17:00:00Z\" -> \"2027-06-30T17:00:00Z\""), "{out}");
        let seal = seal_before["ledgerSeal"].as_str().expect("a seal");
        assert!(out.contains("the ledger does not match the seal the tenant records (ledger ") && out.contains(&format!("tenant {}…", &seal[..8])), "{out}");
        assert!(out.contains(&format!("sensitive: {GUEST}")) || out.contains("sensitive: the ledger does not match the seal"), "{out}");
        let o = cli(&sb, w, &["plan", d(&dir), "--format", "json"]);
        let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).expect("a JSON plan");
        assert!(p.sensitive.contains_key(&GUEST.parse().expect("an address")), "{:#?}", p.sensitive);
        assert_eq!(marker(&sb).await, seal_before, "plan never writes the marker");

        let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
        assert_eq!(code, Some(1), "needs approvals: {out}");
        assert!(out.contains(&format!("{GUEST}: guest access; the ledger does not match the seal")), "{out}");
        let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
        assert!(out.contains(&format!("held: update {GUEST}")), "never unattended: {out}");
        assert_eq!(marker(&sb).await["ledgerSeal"], seal_before["ledgerSeal"], "a forged ledger is never sealed");
        sb.shutdown().await.expect("the sandbox stops");
    }
}

/// A pull request turns a service account into a person and forges the
/// ledger's `service = true` away: the `kind` change is shown and held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_service_false_is_shown_and_held() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    assert!(ledger_of(w).resources[&"user.mstest".parse().expect("an address")].service);
    edit_file(&dir, "accounts.toml", |t| t.replace("mail_nickname = \"MSTEST\"\nkind = \"service\"\n", "mail_nickname = \"MSTEST\"\n"));
    edit_file(&dir, "groups.toml", |t| t.replace(" or (user.userPrincipalName -startsWith \"MSTEST@\")", ""));
    forge(w, "user.mstest", |e| e.replace("service = true\n", ""));
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("~ user.mstest"), "{out}");
    assert!(out.contains("kind: \"(not proven: the ledger does not match the tenant's seal)\" -> \"member\""), "{out}");
    assert!(out.contains("whether this user was applied as a service account proves nothing"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.mstest: the ledger does not match the seal"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// An untouched ledger after apply is sealed: inside a git work tree its
/// record of what was applied proves a restore, which reconcile then runs
/// unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_sealed_ledger_proves_restores_inside_git() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    std::fs::create_dir(w.join(".git")).expect("a git work tree");
    let id = ledger_id(w, CA);
    graph(&sb, Method::PATCH, &format!("/v1.0/identity/conditionalAccess/policies/{id}"), Some(json!({"state": "enabledForReportingButNotEnforced"}))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(&format!("only puts conditional access policy {CA} back to enabled")), "{out}");
    assert!(!out.contains("does not match the seal"), "{out}");
    let (code, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("applied: update {CA}")), "{out}");
    // Sealed again after the self-heal wrote the ledger.
    let org = org(&sb).await;
    assert_eq!(marker(&sb).await["ledgerSeal"].as_str(), Some(engine::ledger_seal::digest(&ledger_of(w), &org).as_str()));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// A run killed mid-apply leaves a write-ahead log over the sealed
/// ledger: the entries the log changed are unproven (a log can be forged
/// too), the rest stay proven; a pass that does not carry out its whole
/// plan never seals the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_left_by_a_killed_apply_proves_only_what_it_did_not_touch() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    let seal = marker(&sb).await["ledgerSeal"].clone();
    // What a killed run (or a forger) left: the guest's end moved in the log.
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2027-06-30T17:00:00Z"));
    let guest: schema::Address = GUEST.parse().expect("an address");
    let mut entry = ledger_of(w).resources[&guest].clone();
    entry.expires = Some("2027-06-30T17:00:00Z".into());
    let op = engine::ledger::LedgerOp::Record { address: guest.clone(), entry };
    std::fs::write(w.join("tenantctl.ledger-wal.jsonl"), format!("{}\n", engine::Ledger::render_op(&op))).expect("a log");
    // And a real drift of another object.
    let id = ledger_id(w, CA);
    graph(&sb, Method::PATCH, &format!("/v1.0/identity/conditionalAccess/policies/{id}"), Some(json!({"state": "enabledForReportingButNotEnforced"}))).await;

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("the entries a write-ahead log changed since the last seal (1)"), "{out}");
    assert!(out.contains("expires: \"2027-06-30T17:00:00Z\" -> \"2027-06-30T17:00:00Z\""), "{out}");
    assert!(out.contains(&format!("only puts conditional access policy {CA} back to enabled")), "the sealed rest still proves restores: {out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("applied: update {CA}")), "{out}");
    assert!(out.contains(&format!("held: update {GUEST}")), "{out}");
    assert_eq!(marker(&sb).await["ledgerSeal"], seal, "not sealed: the pass held part of its plan");
    // The log is compacted into the ledger now, which no seal proves.
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("{GUEST}: guest access; the ledger does not match the seal")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

const ROLLOUT: &str = "[update_ring.quality]\n\
    display_name = \"Windows Quality\"\n\
    quality_updates_deferral_period_in_days = 0\n\
    deadline_for_quality_updates_in_days = 2\n\
    rollout = { rings = [\"mwd-test\", \"mwd-first\", \"mwd-fast\", \"mwd-broad\"], soak = \"48h\" }\n";

/// A forged `changed_at` (the first ring changed long ago) does not
/// shorten the soak: the ledger no longer matches the seal, so the ring's
/// time comes from the live policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_changed_at_does_not_shorten_the_soak() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    std::fs::write(dir.join("rollout.toml"), ROLLOUT).expect("written");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("update_ring.quality@mwd-test"), "{out}");
    forge(work.path(), "update_ring.quality@mwd-test", |e| {
        let at = e.find("changed_at = \"").expect("a change time") + "changed_at = \"".len();
        let end = at + e[at..].find('"').expect("its end");
        format!("{}2020-01-01T00:00:00Z{}", &e[..at], &e[end..])
    });
    let o = cli(&sb, work.path(), &["plan", d(&dir), "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).expect("a JSON plan");
    // A ring in sync is reviewed whole (a ratification, nothing sent to
    // Graph): its approved record is unproven too. None is promoted.
    let rings: Vec<String> = p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).map(|c| c.address.to_string()).filter(|a| a.starts_with("update_ring.quality@")).collect();
    assert!(rings.is_empty(), "no ring is promoted before the soak: {rings:?}");
    let first = p.rollout.iter().find(|w| w.ring == "mwd-first").unwrap_or_else(|| panic!("{:#?}", p.rollout));
    assert!(first.reason.contains("mwd-test changed at") && !first.reason.contains("2020-01-01"), "{first:?}");
    assert!(p.warnings.iter().any(|w| w.contains("does not match the seal")), "{:#?}", p.warnings);
    sb.shutdown().await.expect("the sandbox stops");
}

/// Soak from the tenant: a ring changed in the portal after the sealed
/// ledger recorded its apply soaks from that change. The ledger's time is
/// older than the soak; the live policy's lastModifiedDateTime is not, so
/// the next ring waits (a short soak, so real time can pass it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_change_within_the_soak_holds_the_next_ring_whatever_the_ledger_says() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let dir = work.path().join("desired-state");
    std::fs::write(dir.join("rollout.toml"), ROLLOUT.replace("soak = \"48h\"", "soak = \"3s\"")).expect("written");
    let (code, out) = run(&sb, work.path(), &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    // The ledger's time of the first ring is more than the soak ago...
    std::thread::sleep(std::time::Duration::from_secs(4));
    // ...but the policy was changed in the portal just now (a property
    // desired state does not declare, so no drift).
    let id = ledger_id(work.path(), "update_ring.quality@mwd-test");
    graph(&sb, Method::PATCH, &format!("/beta/deviceManagement/deviceConfigurations/{id}"), Some(json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "description": "edited in the portal"}))).await;
    let o = cli(&sb, work.path(), &["plan", d(&dir), "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).expect("a JSON plan");
    let rings: Vec<String> = p.changes.iter().map(|c| c.address.to_string()).filter(|a| a.starts_with("update_ring.quality@")).collect();
    assert!(rings.is_empty(), "the next ring waits for the soak of the portal change: {rings:?}");
    let first = p.rollout.iter().find(|w| w.ring == "mwd-first").unwrap_or_else(|| panic!("{:#?}", p.rollout));
    assert!(first.until.is_some() && first.reason.contains("mwd-test changed at"), "{first:?}");
    assert!(!p.warnings.iter().any(|w| w.contains("does not match the seal")), "the ledger is sealed: {:#?}", p.warnings);
    sb.shutdown().await.expect("the sandbox stops");
}

/// Live PIM lint for every privileged role: roles nobody is eligible for
/// are one warning listing the roles whose live activation needs no
/// approval (the plan still succeeds); a privileged role someone is made
/// eligible for out of band (the protected break-glass account, whose
/// access the plan does not remove) is an error, like a declared one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_privileged_roles_live_activation_is_linted() {
    let sb = sandbox().await;
    let (work, dir) = converged(&sb, |_| {}).await;
    let w = work.path();
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(0), "a warning, not an error: {out}");
    let warning = out.lines().find(|l| l.contains("warning[privileged-activation-without-approval] role_policy.(not declared)")).unwrap_or_else(|| panic!("{out}"));
    assert!(warning.contains("Privileged Role Administrator") && warning.contains("nobody is eligible for needs no approval"), "{warning}");
    assert!(!warning.contains("Intune Administrator"), "declared settings are judged by their own lint: {warning}");

    let breakglass = ledger_id(w, "user.breakglass-1");
    let start = common::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({"action": "adminAssign", "principalId": breakglass, "roleDefinitionId": "e8611ab8-c189-46e8-94e1-60213ab1f814", "directoryScopeId": "/", "justification": "out of band", "scheduleInfo": {"startDateTime": start, "expiration": {"type": "noExpiration"}}});
    graph(&sb, Method::POST, "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests", Some(body)).await;
    let (code, out) = run(&sb, w, &["plan", d(&dir)]);
    assert_eq!(code, Some(1), "{out}");
    let error = out.lines().find(|l| l.starts_with("error[privileged-activation-without-approval] id:") || l.contains("error[privileged-activation-without-approval] id:")).unwrap_or_else(|| panic!("{out}"));
    assert!(error.contains("Privileged Role Administrator is privileged and 1 live eligibility outside desired state holds it"), "{error}");
    let warning = out.lines().find(|l| l.contains("role_policy.(not declared)")).unwrap_or_else(|| panic!("{out}"));
    assert!(!warning.contains("Privileged Role Administrator"), "judged as eligible now: {warning}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Deleting the guest's entry from the sealed ledger (rather than forging
/// it) hides the extension no more than forging it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_ledger_entry_hides_no_extension() {
    let sb = sandbox().await;
    let (work, dir) = sealed(&sb).await;
    let w = work.path();
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2027-06-30T17:00:00Z"));
    forge(w, GUEST, |_| String::new());
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("expires: \"(not proven: the ledger does not match the tenant's seal)\" -> \"2027-06-30T17:00:00Z\""), "{out}");
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("{GUEST}: guest access; the ledger does not match the seal")), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
