//! gov21 (issue 12, hostile runs 25 and 23), through the binary against
//! the sandbox:
//! * every write of the tenant's governance marker is a read-modify-write
//!   that keeps what other runs wrote: a stale write of the whole marker by
//!   another run (a reconcile pass recording its full read, another ledger
//!   sealed) landing just after this run's write takes away neither an
//!   approved plan's claim, nor a ledger's seal, nor the full-read time
//!   (hostile run 25, finding 3); recording the trust root keeps the
//!   full-read time (gov17 dropped it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::gov::{append, graph, keyed_example, run, Keyed};
use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::Value;

const PAUSE: &str = "TENANTCTL_TEST_PAUSE_AFTER_MARKER_WRITE";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

async fn marker_url(sb: &SandboxHandle) -> String {
    let org = graph(sb, Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an organization id").to_string();
    format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance")
}

async fn marker(sb: &SandboxHandle) -> Value {
    graph(sb, Method::GET, &marker_url(sb).await, None).await
}

/// Another run's write of the whole marker (Graph's PATCH of an open
/// extension replaces its data): `m`, as that run read it before, with
/// `set` changed.
async fn stale_write(sb: &SandboxHandle, m: &Value, set: &[(&str, &str)]) {
    let mut body = m.as_object().expect("an object").clone();
    body.remove("id");
    body.retain(|k, _| !k.starts_with("@odata.context"));
    body.insert("@odata.type".into(), Value::String("microsoft.graph.openTypeExtension".into()));
    for (k, v) in set {
        body.insert((*k).into(), Value::String((*v).into()));
    }
    graph(sb, Method::PATCH, &marker_url(sb).await, Some(Value::Object(body))).await;
}

/// A run of the binary that pauses after each of its marker writes
/// ([`PAUSE`]), while the test writes the marker as another run would.
struct Paused {
    child: Child,
    err: PathBuf,
    seen: usize,
}

impl Paused {
    fn start(sb: &SandboxHandle, w: &Path, args: &[&str]) -> Paused {
        let err = w.join("paused.stderr");
        let child = command(sb, w).args(args).env(PAUSE, "1500").stdout(Stdio::null()).stderr(std::fs::File::create(&err).expect("created")).spawn().expect("tenantctl runs");
        Paused { child, err, seen: 0 }
    }

    fn pauses(&self) -> usize {
        std::fs::read_to_string(&self.err).unwrap_or_default().matches(&format!("({PAUSE})")).count()
    }

    /// The number of the next pause (from 1), or `None` once the run ended.
    async fn next(&mut self) -> Option<usize> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            if self.pauses() > self.seen {
                self.seen += 1;
                return Some(self.seen);
            }
            if self.child.try_wait().expect("waited").is_some() {
                if self.pauses() > self.seen {
                    continue;
                }
                return None;
            }
            assert!(std::time::Instant::now() < deadline, "the run neither paused nor ended");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("waited");
        (status.code(), std::fs::read_to_string(&self.err).unwrap_or_default())
    }
}

/// Hostile run 25, finding 3: an approved apply claims its plan in the
/// marker, then seals its ledger there. A reconcile pass that read the
/// marker before each of those writes writes it back whole right after
/// (recording its full read of users and groups). The apply reads each of
/// its writes back, finds its fact gone, and merges it again on top: the
/// claim stays (the plan replayed from a runner without the journal is
/// refused), the seal stays (the next plan is clean), and the pass's
/// full-read time stays too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_marker_write_takes_away_neither_the_claim_nor_the_seal() {
    let sb = sandbox().await;
    let Keyed { keys, work, .. } = keyed_example(&sb);
    let (k, w) = (keys.path(), work.path());
    let dir = w.join("desired-state");
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let approved = |out: &str| {
        let (code, o) = run(&sb, w, &["plan", d(&dir), "--out", out, "--author-key", &key("author")]);
        assert_eq!(code, Some(0), "{o}");
        for who in ["alice", "bob"] {
            let (code, o) = run(&sb, w, &["approve", out, "--key", &key(who), "--dir", d(&dir)]);
            assert_eq!(code, Some(0), "{o}");
        }
    };
    approved("first.json");
    let (code, o) = run(&sb, w, &["apply", "first.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    append(&dir, "groups.toml", "[group.gov21-a]\ndisplay_name = \"gov21 a\"\nmail_nickname = \"gov21-a\"\n");
    approved("p1.json");

    let before = marker(&sb).await;
    let (t1, t2) = ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
    let mut apply = Paused::start(&sb, w, &["apply", "p1.json", "--dir", d(&dir), "--auto-approve"]);
    let mut read_between = None;
    while let Some(n) = apply.next().await {
        match n {
            // Just after the claim landed: the pass's write, from what it
            // read before the claim.
            1 => stale_write(&sb, &before, &[("deltaFullRead", t1)]).await,
            // The claim merged again: what a pass reading now would read.
            2 => read_between = Some(marker(&sb).await),
            // Just after the seal landed: the pass's write, from what it
            // read before the seal.
            3 => stale_write(&sb, read_between.as_ref().expect("read after the claim's merge"), &[("deltaFullRead", t2)]).await,
            _ => {}
        }
    }
    let (code, out) = apply.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(apply_pauses(&out) >= 4, "the claim and the seal were each written again after the stale write:\n{out}");
    assert!(!out.contains("was replaced in the tenant's governance marker"), "{out}");
    let after = marker(&sb).await;
    assert_eq!(after["deltaFullRead"], t2, "the other run's fact is kept: {after}");
    let between = read_between.expect("paused after the claim's merge");
    assert_eq!(between["deltaFullRead"], t1, "{between}");
    assert_ne!(after["appliedPlans"], before["appliedPlans"], "the claim is recorded: {after}");
    assert_ne!(after["ledgerSeals"], between["ledgerSeals"], "the seal is recorded: {after}");

    // The seal holds: the next plan is clean, nothing to re-approve.
    let (code, o) = run(&sb, w, &["plan", "--detailed-exitcode", d(&dir)]);
    assert_eq!(code, Some(0), "{o}");
    assert!(!o.contains("does not match the seal"), "{o}");
    // The claim holds: a runner without the journal cannot replay p1 once
    // the tenant is back where p1 was made.
    std::fs::remove_file(w.join("tenantctl.journal.jsonl")).expect("the journal is removed");
    let id = common::gov::ledger_id(w, "group.gov21-a");
    graph(&sb, Method::DELETE, &format!("/v1.0/groups/{id}"), None).await;
    common::gov::edit_file(&dir, "groups.toml", |t| t.replace("[group.gov21-a]\ndisplay_name = \"gov21 a\"\nmail_nickname = \"gov21-a\"\n", ""));
    let (code, o) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    append(&dir, "groups.toml", "[group.gov21-a]\ndisplay_name = \"gov21 a\"\nmail_nickname = \"gov21-a\"\n");
    let (code, o) = run(&sb, w, &["apply", "p1.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "the approvals were used again:\n{o}");
    assert!(o.contains("was already applied to this tenant (the tenant's governance marker"), "{o}");
    sb.shutdown().await.expect("the sandbox stops");
}

fn apply_pauses(out: &str) -> usize {
    out.matches(&format!("({PAUSE})")).count()
}

/// Hostile run 25, finding 3, the other way round: a drift-only reconcile
/// pass records its full read of users and groups; another ledger's apply
/// that read the marker before writes it back whole with its seal right
/// after. The pass reads its write back and merges the time again: both
/// facts stay. Then the trust root recorded again (`governance adopt`)
/// keeps the full-read time (gov17 dropped it) and the other seal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_read_and_another_ledgers_seal_written_at_once_are_both_kept() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().expect("a temporary directory");
    let w = work.path();
    let dir = w.join("desired");
    std::fs::create_dir_all(&dir).expect("created");
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n\n[group.gov21-b]\ndisplay_name = \"gov21 b\"\nmail_nickname = \"gov21-b\"\n", sb.domain())).expect("written");
    // Governance recorded on first use: the tenant carries a marker, and
    // the ledger its seal.
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    let before = marker(&sb).await;
    assert!(before["deltaFullRead"].as_str().unwrap_or_default().is_empty(), "{before}");
    let seals = before["ledgerSeals"].as_str().expect("sealed").to_string();
    let other = format!("fedcba9876543210={}", "c".repeat(32));

    let mut pass = Paused::start(&sb, w, &["reconcile", d(&dir), "--once"]);
    while let Some(n) = pass.next().await {
        if n == 1 {
            stale_write(&sb, &before, &[("ledgerSeals", &format!("{other};{seals}"))]).await;
        }
    }
    let (code, out) = pass.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("was not recorded in the tenant"), "{out}");
    assert_eq!(apply_pauses(&out), 2, "written, replaced, merged again:\n{out}");
    let after = marker(&sb).await;
    let read = after["deltaFullRead"].as_str().unwrap_or_default().to_string();
    assert!(!read.is_empty(), "the pass's full read is kept: {after}");
    assert!(after["ledgerSeals"].as_str().is_some_and(|s| s.contains(&other) && s.contains(&seals)), "the other ledger's seal is kept: {after}");

    // Recording the trust root again (its local copy lost, the tenant's
    // marker naming the same [governance]) keeps both.
    std::fs::remove_file(w.join("tenantctl.trust.json")).expect("the trust root is removed");
    let (code, out) = run(&sb, w, &["governance", "adopt", d(&dir), "--reason", "gov21: recorded again"]);
    assert_eq!(code, Some(0), "{out}");
    let adopted = marker(&sb).await;
    assert_eq!(common::gov::marker_view(&sb).await["recordedBy"], "adopted", "{adopted}");
    assert_eq!(adopted["deltaFullRead"].as_str(), Some(read.as_str()), "{adopted}");
    assert!(adopted["ledgerSeals"].as_str().is_some_and(|s| s.contains(&other)), "{adopted}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Guests `guest.e1` .. `guest.e{n}` whose access ends at `expires`.
fn guests(n: usize, expires: &str) -> String {
    (1..=n)
        .map(|i| format!("\n[guest.e{i}]\nemail = \"e{i}.gov21@fabrikam.com\"\ndisplay_name = \"Guest {i}\"\nredirect_url = \"https://myapps.microsoft.com\"\nexpires = {expires}\nsponsor = \"adele\"\n"))
        .collect()
}

async fn enabled(sb: &SandboxHandle, id: &str) -> bool {
    graph(sb, Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await["accountEnabled"] == serde_json::json!(true)
}

/// Hostile run 25, findings 2 and 4: a pull request moving six guests'
/// ends a few days ahead (`max_deletions = 5`) disabled nobody now, so the
/// bound did not count it, and when the ends passed "on their own" the
/// disables were not counted either: seven sign-in blocks past the bound,
/// with no approval. The shortening is counted in the plan that makes it:
/// past the bound it is sensitive, `apply` refuses and `reconcile
/// --self-heal` holds it. Within the bound it applies unattended, as
/// removing access does. The change is not noted as putting back what was
/// last applied (the tenant did not drift; desired state changed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ends_moved_earlier_are_bounded_when_they_are_moved() {
    let sb = sandbox().await;
    let future = guests(6, "2027-03-31T17:00:00Z");
    let (work, dir) = common::gov::converged(&sb, |dir| append(dir, "guests.toml", &future)).await;
    let w = work.path();
    let ids: Vec<String> = (1..=6).map(|i| common::gov::ledger_id(w, &format!("guest.e{i}"))).collect();
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "sealed: {out}");
    let soon = (common::now() + chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:00Z").to_string();
    common::gov::edit_file(&dir, "guests.toml", |t| t.replace(&future, &guests(6, &soon)));

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("moves the access end of 6 guest(s) earlier") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    assert!(out.contains("a mass disable needs approval"), "sensitive: {out}");
    assert!(!out.contains("puts back what was last applied") && !out.contains("the tenant drifted"), "finding 4: {out}");
    assert!(out.contains("desired state changed the access end"), "{out}");
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("6 removals, more than"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", "--once", "--self-heal", d(&dir)]);
    assert!(out.contains("held") && out.contains("6 removals, more than governance.prune.max_deletions (5)"), "{out}");
    let ledger = common::gov::ledger_of(w);
    for i in 1..=6 {
        let e = ledger.resources.get(&format!("guest.e{i}").parse().expect("an address")).expect("recorded");
        assert_eq!(e.expires.as_deref(), Some("2027-03-31T17:00:00Z"), "guest.e{i}: no end moved without approval");
    }
    for id in &ids {
        assert!(enabled(&sb, id).await, "nobody disabled: {id}");
    }

    // Five moved: within the bound, applied unattended.
    common::gov::edit_file(&dir, "guests.toml", |t| t.replacen(&format!("expires = {soon}"), "expires = 2027-03-31T17:00:00Z", 1));
    let (code, out) = run(&sb, w, &["apply", "--auto-approve", d(&dir)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("removals, more than"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 23, finding 9 (and 19/10): a create Graph refused for sure
/// (HTTP 400: the initial password from `password_env` is too weak) kept
/// its pending mark, sealed in the ledger, so every later run waited for
/// it and said "a create was started by a run that did not finish". A
/// definite refusal of everything the create sent clears the mark; the
/// fixed re-run creates the user without waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_graph_refused_leaves_nothing_to_wait_for() {
    let sb = sandbox().await;
    let keyed = keyed_example(&sb);
    let (k, w) = (keyed.keys.path(), keyed.work.path());
    let dir = w.join("desired-state");
    let user = format!(
        "\n[user.gov21-pw]\nuser_principal_name = \"gov21-pw@{}\"\ndisplay_name = \"gov21 pw\"\nmail_nickname = \"gov21-pw\"\nusage_location = \"US\"\npassword_env = \"GOV21_PW\"\n",
        sb.domain()
    );
    append(&dir, "accounts.toml", &user);
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let tctl = |args: &[&str], password: &str| {
        let o = command(&sb, w).env("GOV21_PW", password).env("TENANTCTL_REPLICATION_WINDOW", "20").args(args).output().expect("tenantctl runs");
        (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
    };
    let approved_apply = |password: &str| {
        let (code, o) = tctl(&["plan", d(&dir), "--out", "p.json", "--author-key", &key("author")], password);
        assert_eq!(code, Some(0), "{o}");
        for who in ["alice", "bob"] {
            let (code, o) = tctl(&["approve", "p.json", "--key", &key(who), "--dir", d(&dir)], password);
            assert_eq!(code, Some(0), "{o}");
        }
        tctl(&["apply", "p.json", "--dir", d(&dir), "--auto-approve", "--concurrency", "1"], password)
    };
    let (code, out) = approved_apply("abc");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED") && out.contains("user.gov21-pw") && out.contains("400"), "{out}");
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(w.join("tenantctl.lock")).expect("the ledger")).expect("parses");
    assert!(ledger.pending.is_empty(), "a refused create is not pending: {:?}", ledger.pending);

    let started = std::time::Instant::now();
    let (code, out) = approved_apply("Gov21-Str0ng!Passphrase");
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("did not finish") && !out.contains("waited for it to replicate"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "waited out the replication window: {out}");
    let (code, out) = tctl(&["plan", "--detailed-exitcode", d(&dir)], "Gov21-Str0ng!Passphrase");
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
