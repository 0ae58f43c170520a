//! gov22 (issue 12), through the binary: the known gaps of gov17 and
//! gov18. Which accounts a ledger owns when the tenant's seal does not
//! prove it (an entry cut, or given another id by a forged log line),
//! whether an entry was created or adopted, the upgrade from a ledger the
//! previous release wrote, and the state lease checked before every write.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A contractor's account, added to the example's accounts.
const TEMP: &str = "\n[user.temp]\nuser_principal_name = \"temp.contractor@contoso.onmicrosoft.com\"\ndisplay_name = \"Temp Contractor\"\nmail_nickname = \"temp.contractor\"\nusage_location = \"US\"\n";

/// The example with keys the test holds, converged through the library,
/// its governance adopted, applied once by the binary (sealed); then
/// [`TEMP`] declared and created by the binary (journalled), sealed again.
async fn sealed_keyed_with_temp(sb: &SandboxHandle) -> (Keyed, PathBuf) {
    let keyed = keyed_example(sb);
    let w = keyed.work.path().to_path_buf();
    let dir = w.join("desired-state");
    let state = schema::load(&dir).expect("the tenant loads");
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(w.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(sb, &w, &["governance", "adopt", d(&dir), "--reason", "test setup"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    append(&dir, "accounts.toml", TEMP);
    let (code, out) = run(sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, &w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    (keyed, dir)
}

fn json_plan(sb: &SandboxHandle, w: &Path, dir: &Path) -> engine::Plan {
    let o = cli(sb, w, &["plan", d(dir), "--format", "json"]);
    serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)))
}

/// A plan of `dir` (in `w`) saved to `out`, written by `keyed`'s author
/// and approved by alice and bob, then applied.
fn approved_apply(sb: &SandboxHandle, keyed: &Keyed, w: &Path, dir: &Path, out: &str) {
    let key = |n: &str| keyed.keys.path().join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(sb, w, &["plan", d(dir), "--out", out, "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(sb, w, &["approve", out, "--key", &key(who), "--dir", d(dir)]);
        assert_eq!(code, Some(0), "{o}");
    }
    let (code, o) = run(sb, w, &["apply", out, "--dir", d(dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
}

async fn enabled(sb: &SandboxHandle, id: &str) -> Value {
    graph(sb, Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await["accountEnabled"].clone()
}

/// A user made in the portal, never declared nor in any ledger: its id.
async fn portal_user(sb: &SandboxHandle) -> String {
    let body = json!({
        "accountEnabled": true,
        "displayName": "Erin Portal",
        "mailNickname": "erin.portal",
        "userPrincipalName": "erin.portal@contoso.onmicrosoft.com",
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
    });
    graph(sb, Method::POST, "/v1.0/users", Some(body)).await["id"].as_str().expect("an id").to_string()
}

fn wal(w: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(w.join("tenantctl.ledger-wal.jsonl"), text).expect("the log is written");
}

const LOST: &str = "ownership lost without proof:";

/// gov18 gap 1: under a wholly broken seal, a pull request that stops
/// declaring an account tenantctl created and cuts its ledger entry left
/// the account enabled, silently. The plan now names it (escaped) in a
/// warning, and proposes blocking its sign-in as a sensitive "adopt or
/// block" change: apply refuses it without approvals, reconcile holds it
/// and its drift report names the account; one approved apply blocks it,
/// the ledger owns it again, and the next plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_entry_under_a_broken_seal_is_named_and_blocked_only_with_approval() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    // Its display name changed in the portal, with a terminal escape.
    graph(&sb, Method::PATCH, &format!("/v1.0/users/{temp}"), Some(json!({"displayName": "Temp \u{1b}[2J Contractor"}))).await;
    // The pull request: the declaration and the ledger entry both cut.
    edit_file(&dir, "accounts.toml", |t| t.replace(TEMP, "\n"));
    let mut l = ledger_of(w);
    l.resources.remove(&"user.temp".parse().expect("an address"));
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("does not match the seal"), "the seal is broken: {out}");
    let warning = out.lines().find(|l| l.contains(LOST) && l.contains("user.temp") && l.contains("the journal shows tenantctl created")).unwrap_or_else(|| panic!("the account is named: {out}"));
    assert!(warning.contains(&temp) && warning.contains("\\u{1b}"), "names its object, escaped: {warning}");
    assert!(!out.contains('\u{1b}'), "no terminal escape reaches the output");
    let p = json_plan(&sb, w, &dir);
    assert!(p.warnings.iter().any(|w| w.starts_with(LOST) && w.contains("user.temp")), "{:#?}", p.warnings);
    let c = p.changes.iter().find(|c| c.address.to_string() == "user.temp").unwrap_or_else(|| panic!("the block is proposed: {:#?}", p.changes));
    assert_eq!(c.id.as_deref(), Some(temp.as_str()));
    assert!(c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{c:#?}");
    let why = p.sensitive.get(&"user.temp".parse().expect("an address")).unwrap_or_else(|| panic!("sensitive: {:#?}", p.sensitive));
    assert!(why.contains(LOST), "{why}");
    assert!(c.notes.iter().any(|n| n == why), "the change says why it needs approval: {:#?}", c.notes);

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "needs the approvers: {out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("held: update user.temp"), "never unattended: {out}");
    let report = last_report(w);
    assert!(report["warnings"].as_array().expect("warnings").iter().any(|x| x.as_str().is_some_and(|x| x.contains(LOST) && x.contains("user.temp"))), "the drift report names it: {report}");
    assert_eq!(enabled(&sb, &temp).await, json!(true), "untouched without approval");

    approved_apply(&sb, &keyed, w, &dir, "block.json");
    assert_eq!(enabled(&sb, &temp).await, json!(false), "blocked once approved");
    assert_eq!(ledger_id(w, "user.temp"), temp, "owned again");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and settled: {out}");
    assert!(!out.contains(LOST), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// gov18 gap 2: a forged log `record` that gives an undeclared address
/// another object id (a portal user's) took ownership of the real object
/// away from the sealed ledger. The sealed id stands: the real account's
/// sign-in is blocked as without the log (unattended, the sealed ledger
/// proves it), the portal user is untouched, and a warning names the
/// address and both ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_log_record_with_another_id_does_not_take_ownership_away() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    let erin = portal_user(&sb).await;
    edit_file(&dir, "accounts.toml", |t| t.replace(TEMP, "\n"));
    wal(w, &[json!({"op": "record", "address": "user.temp", "entry": {"id": erin}})]);

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("gives user.temp another object id") && out.contains(&temp) && out.contains(&erin), "names the address: {out}");
    let p = json_plan(&sb, w, &dir);
    let c = p.changes.iter().find(|c| c.address.to_string() == "user.temp").unwrap_or_else(|| panic!("{:#?}", p.changes));
    assert_eq!(c.id.as_deref(), Some(temp.as_str()), "the sealed ledger's object: {c:#?}");
    assert!(c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{c:#?}");
    assert!(!p.changes.iter().any(|c| c.id.as_deref() == Some(erin.as_str())), "nothing touches the portal user: {:#?}", p.changes);
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "ending access of what the sealed ledger owns needs no approval: {out}");
    assert_eq!(enabled(&sb, &temp).await, json!(false), "the real account is blocked");
    assert_eq!(enabled(&sb, &erin).await, json!(true), "Erin keeps her sign-in");
    assert_eq!(ledger_id(w, "user.temp"), temp);
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and settled: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

fn entry_origin(w: &Path, address: &str) -> Option<engine::ledger::Origin> {
    ledger_of(w).resources.get(&address.parse().expect("an address")).unwrap_or_else(|| panic!("{address} is in the ledger")).origin
}

/// gov18 gap 3: the ledger records whether an object was created or
/// adopted (sealed like every fact), and prune deletes only what tenantctl
/// created unless `governance.prune.adopted = true`; a delete of an
/// adopted object says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_records_what_was_adopted_and_prune_keeps_it() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    assert_eq!(entry_origin(w, "user.temp"), Some(engine::ledger::Origin::Created), "created by the binary");
    let portal = graph(&sb, Method::POST, "/v1.0/groups", Some(json!({"displayName": "Portal Team", "mailNickname": "portal-team", "mailEnabled": false, "securityEnabled": true}))).await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    const GROUPS: &str = "\n[group.portal-team]\ndisplay_name = \"Portal Team\"\nmail_nickname = \"portal-team\"\n\n[group.made-here]\ndisplay_name = \"Made Here\"\nmail_nickname = \"made-here\"\n";
    append(&dir, "groups.toml", GROUPS);
    edit_file(&dir, "tenant.toml", |t| t.replace("kinds = [\"device_configuration\"", "kinds = [\"group\", \"device_configuration\""));
    approved_apply(&sb, &keyed, w, &dir, "groups.json");
    assert_eq!(ledger_id(w, "group.portal-team"), portal);
    assert_eq!(entry_origin(w, "group.portal-team"), Some(engine::ledger::Origin::Adopted), "matched by natural key");
    assert_eq!(entry_origin(w, "group.made-here"), Some(engine::ledger::Origin::Created));
    assert!(std::fs::read_to_string(w.join("tenantctl.lock")).expect("the ledger").contains("origin = \"adopted\""));
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed with its origins: {out}");

    // Both declarations removed: only what tenantctl created is pruned.
    edit_file(&dir, "groups.toml", |t| t.replace(GROUPS, "\n"));
    let p = json_plan(&sb, w, &dir);
    assert!(p.changes.iter().any(|c| c.address.to_string() == "group.made-here" && c.action == engine::Action::Delete), "{:#?}", p.changes);
    assert!(!p.changes.iter().any(|c| c.address.to_string() == "group.portal-team"), "{:#?}", p.changes);
    let kept = p.orphans.iter().find(|o| o.address.to_string() == "group.portal-team").unwrap_or_else(|| panic!("{:#?}", p.orphans));
    assert!(kept.reason.contains("adopted") && kept.reason.contains("governance.prune.adopted"), "{}", kept.reason);
    approved_apply(&sb, &keyed, w, &dir, "prune.json");
    graph(&sb, Method::GET, &format!("/v1.0/groups/{portal}"), None).await;

    // With prune.adopted on, the adopted group's delete says what it was.
    edit_file(&dir, "tenant.toml", |t| t.replace("max_deletions = 5", "max_deletions = 5\nadopted = true"));
    let p = json_plan(&sb, w, &dir);
    let c = p.changes.iter().find(|c| c.address.to_string() == "group.portal-team").unwrap_or_else(|| panic!("{:#?}", p.changes));
    assert_eq!(c.action, engine::Action::Delete);
    assert!(c.notes.iter().any(|n| n.starts_with("adopted: tenantctl did not create")), "{:#?}", c.notes);
    sb.shutdown().await.expect("the sandbox stops");
}

async fn org_id(sb: &SandboxHandle) -> String {
    graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an organization id").to_string()
}

/// gov18 gap 4, the upgrade: a ledger as the previous release wrote it
/// (no identity, no `applied`, no approved fields, no `origin`) sealed in
/// the marker's old format (one `ledgerSeal`, no per-ledger seals) is
/// planned by this binary: the old seal still holds (nothing is called
/// edited or new), what declares controls or grants is ratified once as
/// an adoption (every ratification sensitive, nothing sent to Graph),
/// which needs the two approvals in force (one is not enough), and after
/// one approved apply the ledger is sealed per ledger and the next plan
/// is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_the_previous_release_sealed_upgrades_with_one_approved_apply() {
    let sb = sandbox().await;
    let keyed = keyed_example(&sb);
    let w = keyed.work.path().to_path_buf();
    let dir = w.join("desired-state");
    let state = schema::load(&dir).expect("the tenant loads");
    let client = client(&sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(w.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(&sb, &w, &["governance", "adopt", d(&dir), "--reason", "test setup"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");

    // What the previous release left: its ledger, and its seal.
    let org = org_id(&sb).await;
    let mut old = ledger_of(&w);
    old.ledger_id = None;
    old.tenant_id = Some(org.clone());
    for e in old.resources.values_mut() {
        e.applied = None;
        e.approved_fields.clear();
        e.origin = None;
    }
    let text_old = old.render();
    assert!(!text_old.contains("applied") && !text_old.contains("origin") && !text_old.contains("ledger_id"), "{text_old}");
    std::fs::write(w.join("tenantctl.lock"), &text_old).expect("the old ledger is written");
    let path = format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance");
    let mut marker = graph(&sb, Method::GET, &path, None).await;
    let m = marker.as_object_mut().expect("a marker");
    m.retain(|k, _| k != "id" && !k.starts_with("@odata.context"));
    m.insert("ledgerSeal".into(), json!(engine::ledger_seal::digest(&old, &org)));
    m.insert("ledgerSeals".into(), json!(""));
    graph(&sb, Method::PATCH, &path, Some(marker)).await;

    let (code, out) = run(&sb, &w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("does not match the seal") && !out.contains("is new to the tenant") && !out.contains("seals none"), "the old seal still holds: {out}");
    let p = json_plan(&sb, &w, &dir);
    let ratified = p.changes.iter().filter(|c| engine::governance::ratify::is_ratify(c)).count();
    // The example's objects that declare controls or grants: 39 of its
    // 49 matched objects (update with the example tenant).
    assert_eq!((ratified, p.ids.len()), (39, 49), "{:#?}", p.changes);
    assert_eq!(ratified, p.changes.len(), "nothing but ratifications (nothing sent to Graph): {:#?}", p.changes);
    assert_eq!(p.sensitive.len(), ratified, "every ratification needs approval: {:#?}", p.sensitive);
    assert!(p.sensitive.values().all(|why| why.contains("the ledger records no approved state")), "reviewed as adoptions: {:#?}", p.sensitive);
    let (code, out) = run(&sb, &w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("the plan has {ratified} sensitive change(s)")) && out.contains("approved by 2 approver(s)"), "{out}");

    // One approval is not enough; two are.
    let key = |n: &str| keyed.keys.path().join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(&sb, &w, &["plan", d(&dir), "--out", "upgrade.json", "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    let (code, o) = run(&sb, &w, &["approve", "upgrade.json", "--key", &key("alice"), "--dir", d(&dir)]);
    assert_eq!(code, Some(0), "{o}");
    let (code, o) = run(&sb, &w, &["apply", "upgrade.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "one approval of two: {o}");
    let (code, o) = run(&sb, &w, &["approve", "upgrade.json", "--key", &key("bob"), "--dir", d(&dir)]);
    assert_eq!(code, Some(0), "{o}");
    let (code, o) = run(&sb, &w, &["apply", "upgrade.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");

    let l = ledger_of(&w);
    assert!(l.ledger_id.is_some(), "given an identity");
    assert!(l.resources.values().filter(|e| e.applied.is_some()).count() >= ratified, "every ratified object's approved state is recorded");
    assert!(l.resources.values().all(|e| e.origin.is_none()), "an origin the old ledger did not record is not invented");
    let marker = graph(&sb, Method::GET, &path, None).await;
    assert!(marker["ledgerSeals"].as_str().is_some_and(|s| s.starts_with(l.ledger_id.as_deref().unwrap_or("-"))), "sealed per ledger: {marker}");
    let (code, out) = run(&sb, &w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "upgraded, sealed and in sync: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

mod gov17_gaps {
    //! gov17's known gaps: the state lease checked before every write, and one read of users and groups a pass.

    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::common::azurite::{container, Azurite, DEV_KEY};
    use super::common::*;
    use providers::state_blob::BlobLease;
    use providers::state_lock::{Holder, StateLock};

    fn tctl(sb: &sandbox::SandboxHandle, cwd: &Path) -> Command {
        let mut c = command(sb, cwd);
        c.env_remove("TENANTCTL_LEDGER").env("AZURE_STORAGE_KEY", DEV_KEY).env_remove("AZURE_STORAGE_CONNECTION_STRING");
        c
    }

    fn other_run() -> Holder {
        Holder { host: "ci-runner-9".into(), pid: 777, ..Holder::this_process("tenantctl apply (the other run)") }
    }

    fn group_writes(sb: &sandbox::SandboxHandle) -> u64 {
        let c = sb.request_counts();
        c.requests.iter().chain(c.batch_items.iter()).filter(|(k, _)| k.starts_with("PATCH /v1.0/groups/") || k.starts_with("DELETE /v1.0/groups/")).map(|(_, n)| n).sum()
    }

    fn groups_toml(n: usize, description: &str) -> String {
        (0..n).map(|i| format!("[group.gen-{i:03}]\ndisplay_name = \"Generated {i:03}\"\nmail_nickname = \"generated-{i:03}\"\ndescription = \"{description}\"\n\n")).collect()
    }

    /// An apply of updates whose lease was broken and taken by another
    /// run mid-way went on writing until its next renewal failed (up to
    /// 15 s). It now checks the lease before every write (storage asked
    /// at most every 2 s): it stops within a write or two, saying the
    /// change was not started and who holds the lease, and writes no
    /// ledger.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_apply_of_updates_that_lost_its_lease_stops_before_its_next_write() {
        const N: usize = 12;
        let az: Azurite = super::common::azurite::start();
        let c = container();
        let sb = sandbox().await;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("desired-state");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("groups.toml"), groups_toml(N, "declared")).unwrap();
        std::fs::write(dir.join("state.toml"), super::common::azurite::state_table(&az, &c, "ci")).unwrap();
        let d = dir.to_str().unwrap();
        let out = tctl(&sb, t.path()).args(["apply", "--auto-approve", d]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Every group's description changes in desired state: N updates.
        std::fs::write(dir.join("groups.toml"), groups_toml(N, "changed")).unwrap();
        let store = Arc::new(super::common::azurite::store(&az, &c));
        let ledger_blob = format!("ci/{}/ledger.toml", sb.tenant_id());
        let before = store.properties(&ledger_blob).await.unwrap().map(|b| b.etag);
        assert!(before.is_some());
        sb.set_faults(faults(|f| f.latency_ms = 1500)).unwrap();
        sb.reset_counts();
        let run = tctl(&sb, t.path()).args(["apply", "--auto-approve", d, "--concurrency", "1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        while group_writes(&sb) == 0 {
            assert!(started.elapsed() < Duration::from_secs(180), "the apply wrote nothing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let l = BlobLease::new(store.clone(), format!("ci/{}/lock", sb.tenant_id()));
        let out = tctl(&sb, t.path()).args(["state", "unlock", d, "--yes"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        providers::state_lock::acquire(&l, &other_run(), Duration::from_secs(30)).await.expect("the other run takes the lease");
        let at_takeover = group_writes(&sb);
        let out = tokio::task::spawn_blocking(move || run.wait_with_output().unwrap()).await.unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("lost the state lease") && err.contains("tenantctl apply (the other run)") && err.contains("ci-runner-9"), "the stop names the lease holder:\n{err}");
        assert!(err.contains("was not started (nothing was sent to Graph)"), "{err}");
        // The write under way when the lease was taken, and at most one
        // more started before storage was asked again.
        let writes = group_writes(&sb);
        assert!(writes <= at_takeover + 2, "{} write(s) after the lease was taken:\n{err}", writes - at_takeover);
        assert!((writes as usize) < N, "{err}");
        assert_eq!(store.properties(&ledger_blob).await.unwrap().map(|b| b.etag), before, "the ledger blob was written without the lease");
        assert_eq!(l.holder().await.unwrap().map(|h| h.command), Some(other_run().command));
        l.release(&other_run()).await.unwrap();
        sb.set_faults(faults(|_| {})).unwrap();
        sb.shutdown().await.unwrap();
    }

    /// Requests (and `$batch` items) that list users or groups through a
    /// delta query, with their keys.
    fn delta_reads(sb: &sandbox::SandboxHandle) -> (u64, Vec<String>) {
        let c = sb.request_counts();
        let hits: Vec<(String, u64)> = c.requests.iter().chain(c.batch_items.iter()).filter(|(k, _)| k.starts_with("GET") && (k.contains("users/delta") || k.contains("groups/delta"))).map(|(k, n)| (k.clone(), *n)).collect();
        (hits.iter().map(|(_, n)| n).sum(), hits.into_iter().map(|(k, n)| format!("{k} x{n}")).collect())
    }

    /// A reconcile pass whose full read of users and groups was due read
    /// them through the delta cache first and then again in full. The
    /// cache now carries the last full read the tenant recorded, so such a
    /// pass reads them once, in full (as many delta queries as a pass
    /// without a cache), and still sees the portal change the cache hid.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pass_whose_full_read_is_due_reads_users_and_groups_once() {
        use chrono::Timelike;
        let sb = sandbox().await;
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let dir = w.join("desired");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n{}", sb.domain(), groups_toml(1, "declared"))).unwrap();
        let d = dir.to_str().unwrap();
        let out = command(&sb, w).args(["apply", "--auto-approve", d]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let t0 = crate::common::now().with_nanosecond(0).unwrap();
        let at = |hours: i64| (t0 + chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let pass = |extra: &[&str], now: &str| {
            let out = command(&sb, w).args(["reconcile", d, "--once", "--now", now]).args(extra).output().unwrap();
            (out.status.code(), format!("{}\n{}", text(&out.stdout), text(&out.stderr)))
        };
        // No cache: one full read, recorded in the tenant; its count is the baseline.
        sb.reset_counts();
        let (code, all) = pass(&["--self-heal"], &at(0));
        assert_eq!(code, Some(0), "{all}");
        let (full, keys) = delta_reads(&sb);
        assert!(full >= 1, "groups listed: {keys:?}");
        let (code, all) = pass(&[], &at(1));
        assert_eq!(code, Some(0), "{all}");
        // A portal change; past the bound the pass reads in full, once.
        let g = client(&sb);
        let id = g.v1().list_all("/groups?$select=id").await.unwrap()[0]["id"].as_str().unwrap().to_string();
        g.v1().patch_json(&format!("/groups/{id}"), serde_json::json!({ "description": "portal edit" })).await.unwrap();
        sb.reset_counts();
        let (code, all) = pass(&[], &at(25));
        assert!(all.contains("reading every user and group in full"), "{all}");
        assert_eq!(code, Some(2), "the portal change is drift:\n{all}");
        let (due, keys) = delta_reads(&sb);
        assert_eq!(due, full, "read once, as a pass without a cache reads: {keys:?}\n{all}");
        sb.shutdown().await.unwrap();
    }
}
