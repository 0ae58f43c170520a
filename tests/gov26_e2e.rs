//! gov26 (issue 12, hostile run 28): the ledger's seal under a
//! write-ahead log, through the binary against the sandbox.
//! * A forged log `record` line giving a new declared address the id of a
//!   portal object is an adoption, not tenantctl's own object: the
//!   takeover is sensitive, and the apply that seals records it
//!   `origin = "adopted"`, so a later prune keeps it (finding 3).
//! * One killed apply, then a self-heal pass that heals something but may
//!   not seal: the pass keeps the log, so only the entries it touched stay
//!   unproven, not the whole ledger (finding 5).
//! * Another directory's sealed ledger, copied over this directory's (local
//!   backend) or pointed at by a changed `[state] prefix` (azurerm), is not
//!   this directory's: warned, none of its facts is proof, and blocking the
//!   accounts it owns needs approval (finding 1).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::json;

const WHOLE: &str = "none of its facts is proof";
const LOGGED: &str = "the entries a write-ahead log changed since the last seal";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

fn wal(w: &Path) -> PathBuf {
    w.join("tenantctl.ledger-wal.jsonl")
}

/// A plan of `dir` (in `w`) saved to `out`, written by `keyed`'s author
/// and approved by alice and bob, then applied; its output.
fn approved_apply(sb: &SandboxHandle, keyed: &Keyed, w: &Path, dir: &Path, out: &str) -> String {
    let key = |n: &str| keyed.keys.path().join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(sb, w, &["plan", d(dir), "--out", out, "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(sb, w, &["approve", out, "--key", &key(who), "--dir", d(dir)]);
        assert_eq!(code, Some(0), "{o}");
    }
    let (code, o) = run(sb, w, &["apply", out, "--dir", d(dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    o
}

fn entry_origin(w: &Path, address: &str) -> Option<engine::ledger::Origin> {
    ledger_of(w).resources.get(&address.parse().expect("an address")).unwrap_or_else(|| panic!("{address} is in the ledger")).origin
}

/// Finding 3: a pull request declares a group under a name of its own and
/// adds one log line giving it the id of another team's portal group,
/// `origin = "created"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_log_record_for_a_new_address_is_an_adoption_not_tenantctls_own() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w = keyed.work.path();
    let portal = graph(&sb, Method::POST, "/v1.0/groups", Some(json!({"displayName": "Finance Approvers", "mailNickname": "fin-approvers", "mailEnabled": false, "securityEnabled": true}))).await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    const FIN: &str = "\n[group.gov26-fin]\ndisplay_name = \"gov26 Fin\"\nmail_nickname = \"gov26-fin\"\ndescription = \"taken over\"\n";
    append(&dir, "groups.toml", FIN);
    // Pruning on for groups: an object recorded as created would be deleted.
    edit_file(&dir, "tenant.toml", |t| t.replace("kinds = [\"device_configuration\"", "kinds = [\"group\", \"device_configuration\""));
    let line = json!({"op": "record", "address": "group.gov26-fin", "entry": {"id": portal, "origin": "created"}});
    std::fs::write(wal(w), format!("{line}\n")).expect("the forged log is written");

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("only the ledger's write-ahead log, which the tenant's seal does not prove, names the object of group.gov26-fin"), "named: {out}");
    assert!(out.contains("this takes over another object"), "sensitive: {out}");
    assert!(out.contains("adopted: the ledger's write-ahead log alone names the object"), "the change says so: {out}");
    // Unapproved, nothing is sent: the portal group keeps its name.
    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_ne!(code, Some(0), "a takeover needs approval: {out}");
    let g = graph(&sb, Method::GET, &format!("/v1.0/groups/{portal}"), None).await;
    assert_eq!(g["displayName"], "Finance Approvers", "{g}");

    // Approved, the takeover is recorded as an adoption, sealed so.
    let out = approved_apply(&sb, &keyed, w, &dir, "fin.json");
    assert!(out.contains("origin = \"adopted\""), "said: {out}");
    assert_eq!(ledger_id(w, "group.gov26-fin"), portal);
    assert_eq!(entry_origin(w, "group.gov26-fin"), Some(engine::ledger::Origin::Adopted), "the log's `created` is not sealed");
    assert!(!wal(w).exists(), "sealed and compacted");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed: {out}");

    // Undeclared again, it is kept (prune.adopted is off), not deleted.
    edit_file(&dir, "groups.toml", |t| t.replace(FIN, "\n"));
    let o = cli(&sb, w, &["plan", d(&dir), "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)));
    assert!(!p.changes.iter().any(|c| c.address.to_string() == "group.gov26-fin"), "{:#?}", p.changes);
    let kept = p.orphans.iter().find(|o| o.address.to_string() == "group.gov26-fin").unwrap_or_else(|| panic!("{:#?}", p.orphans));
    assert!(kept.reason.contains("adopted"), "{}", kept.reason);
    sb.shutdown().await.expect("the sandbox stops");
}

/// `apply --auto-approve dir` killed as soon as it pauses before its seal
/// (its change made and logged).
fn apply_killed_before_seal(sb: &SandboxHandle, w: &Path, dir: &Path) {
    const PAUSE: &str = "TENANTCTL_TEST_PAUSE_BEFORE_SEAL";
    let err = w.join("killed-apply.stderr");
    let mut child = command(sb, w)
        .args(["apply", "--auto-approve", "--concurrency", "1", d(dir)])
        .env(PAUSE, "60000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("created"))
        .spawn()
        .expect("tenantctl runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&err).unwrap_or_default().contains(&format!("({PAUSE})")) {
        if let Some(status) = child.try_wait().expect("waited") {
            panic!("apply ended ({status}) without pausing:\n{}", std::fs::read_to_string(&err).unwrap_or_default());
        }
        assert!(std::time::Instant::now() < deadline, "apply never paused");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("killed");
    child.wait().expect("waited");
}

/// Finding 5: one apply killed after its change, before its seal; then a
/// self-heal pass heals a portal edit but holds the killed change's
/// ratification, so it may not seal. Its own records go to the kept log:
/// the next plan still finds only the logged entries unproven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_that_may_not_seal_keeps_the_log_and_the_rest_of_the_ledger_proven() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w = keyed.work.path();
    edit_file(&dir, "groups.toml", |t| t.replace("description = \"Group-based licensing: Microsoft 365 E3\"", "description = \"Group-based licensing: Microsoft 365 E3 (gov26)\""));
    apply_killed_before_seal(&sb, w, &dir);
    assert!(wal(w).exists(), "the killed run's log is kept");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(LOGGED) && !out.contains(WHOLE), "only the logged entry: {out}");

    // Portal drift the pass heals unattended (a member added out of band).
    add_member(&sb, &ledger_id(w, "group.intune-admins"), &ledger_id(w, "user.megan")).await;
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains("applied: update group.intune-admins"), "healed: {out}");
    assert!(out.contains("held: update group.licensed-users"), "the killed change's ratification is held: {out}");
    assert!(out.contains("The ledger is not sealed"), "{out}");
    assert!(wal(w).exists(), "the log is kept, not compacted");

    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains(LOGGED), "{out}");
    assert!(!out.contains(WHOLE), "the whole ledger judged edited: {out}");
    // The approved apply of what is held seals it again.
    approved_apply(&sb, &keyed, w, &dir, "reseal.json");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed: {out}");
    assert!(!wal(w).exists());
    sb.shutdown().await.expect("the sandbox stops");
}

/// A user the second directory declares and the first does not.
const BOB: &str = "\n[user.gov26-bob]\nuser_principal_name = \"gov26.bob@contoso.onmicrosoft.com\"\ndisplay_name = \"gov26 Bob\"\nmail_nickname = \"gov26.bob\"\nusage_location = \"US\"\n";

/// Finding 1: two desired-state directories on one tenant (sharing one
/// [governance]), each with its own sealed ledger. A pull request copies
/// the second directory's sealed ledger over the first's (with azurerm: a
/// `[state] prefix` pointed at the other's state). The first directory
/// judges it as another directory's: none of its facts is proof, and the
/// accounts it owns that the first does not declare are not blocked
/// unattended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_directorys_sealed_ledger_is_not_this_directorys() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w1 = keyed.work.path();
    // The second directory: the same tenant and [governance], one user more.
    let second = tempfile::tempdir().expect("a temporary directory");
    let w2 = second.path();
    let dir2 = w2.join("second");
    copy_dir(&dir, &dir2);
    append(&dir2, "accounts.toml", BOB);
    let (code, out) = run(&sb, w2, &["governance", "adopt", d(&dir2), "--reason", "a second directory on the tenant"]);
    assert_eq!(code, Some(0), "{out}");
    approved_apply(&sb, &keyed, w2, &dir2, "second.json");
    let bob = ledger_id(w2, "user.gov26-bob");
    let (code, out) = run(&sb, w2, &["plan", d(&dir2), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the second directory is sealed: {out}");
    let (code, out) = run(&sb, w1, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the first one still is: {out}");

    // The pull request: the first directory's ledger := the second's.
    std::fs::copy(w2.join("tenantctl.lock"), w1.join("tenantctl.lock")).expect("copied");
    let (_, out) = run(&sb, w1, &["plan", d(&dir)]);
    assert!(out.contains("it is another directory's ledger"), "warned: {out}");
    assert!(out.contains("user.gov26-bob"), "{out}");
    let o = cli(&sb, w1, &["plan", d(&dir), "--format", "json"]);
    let p: engine::Plan = serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)));
    let why = p.sensitive.iter().find(|(a, _)| a.to_string() == "user.gov26-bob").map(|(_, w)| w.clone()).unwrap_or_else(|| panic!("blocking bob is sensitive: {:#?}", p.sensitive));
    assert!(why.contains(engine::governance::undeclared::OWNER_UNPROVEN), "{why}");
    // Unattended, nothing blocks the other directory's account.
    let (_, out) = run(&sb, w1, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update user.gov26-bob"), "{out}");
    let u = graph(&sb, Method::GET, &format!("/v1.0/users/{bob}?$select=accountEnabled"), None).await;
    assert_eq!(u["accountEnabled"], true, "{u}\n{out}");
    // Hostile run 29, finding 2: the directory renamed in the same pull
    // request has no binding of its own; the ledger is still the one the
    // tenant binds to the second directory.
    // (A pull request is inside a git work tree; outside one, every copy
    // of a directory is a place of its own and nothing can be told.)
    std::fs::create_dir(w1.join(".git")).expect("a git work tree");
    let renamed = w1.join("renamed");
    std::fs::rename(&dir, &renamed).expect("renamed");
    let (_, out) = run(&sb, w1, &["plan", d(&renamed)]);
    assert!(out.contains("it is another directory's ledger"), "warned after a rename: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// `git ARGS` in `cwd` (a local command: no network).
fn git(cwd: &Path, args: &[&str]) {
    let o = std::process::Command::new("git").current_dir(cwd).args(args).stdin(Stdio::null()).output().expect("git runs");
    assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
}

/// Hostile run 30, finding B: two repositories that keep desired state
/// under one path (`desired-state/`, as the README says) on one tenant are
/// two places. The second one's seal does not make the first's honest
/// ledger "another directory's", and a pull request copying the second
/// repository's sealed ledger into the first is told apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_repositories_with_one_directory_path_are_two_places() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w1 = keyed.work.path();
    git(w1, &["init", "-q"]);
    git(w1, &["remote", "add", "origin", "https://github.com/contoso/tenant-prod.git"]);
    // The second repository: the same path, its own remote, one user more.
    let second = tempfile::tempdir().expect("a temporary directory");
    let w2 = second.path();
    let dir2 = w2.join("desired-state");
    copy_dir(&dir, &dir2);
    append(&dir2, "accounts.toml", BOB);
    git(w2, &["init", "-q"]);
    git(w2, &["remote", "add", "origin", "git@github.com:contoso/tenant-lab.git"]);
    let (code, out) = run(&sb, w2, &["governance", "adopt", d(&dir2), "--reason", "a second repository on the tenant"]);
    assert_eq!(code, Some(0), "{out}");
    approved_apply(&sb, &keyed, w2, &dir2, "second.json");
    let (code, out) = run(&sb, w2, &["plan", d(&dir2), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the second repository is sealed: {out}");
    // Honest runs of the two do not collide.
    let (code, out) = run(&sb, w1, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "the first repository's ledger is still its own: {out}");

    // The pull request: the first repository's ledger := the second's.
    std::fs::copy(w2.join("tenantctl.lock"), w1.join("tenantctl.lock")).expect("copied");
    let (_, out) = run(&sb, w1, &["plan", d(&dir)]);
    assert!(out.contains("it is another directory's ledger"), "warned: {out}");
    let bob = ledger_id(w2, "user.gov26-bob");
    let (_, out) = run(&sb, w1, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update user.gov26-bob"), "{out}");
    let u = graph(&sb, Method::GET, &format!("/v1.0/users/{bob}?$select=accountEnabled"), None).await;
    assert_eq!(u["accountEnabled"], true, "{u}\n{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 30, finding F: a directory renamed (approved and applied
/// under its new name) leaves its old name bound to nothing; a pull request
/// putting the directory back under the old name with the renamed one's
/// ledger is another directory's ledger there, not the old name's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_directorys_old_name_no_longer_binds_its_ledger() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed(&sb).await;
    let w = keyed.work.path();
    std::fs::create_dir(w.join(".git")).expect("a git work tree");
    // Sealed in git under its name.
    append(&dir, "accounts.toml", BOB);
    approved_apply(&sb, &keyed, w, &dir, "bob.json");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed in git: {out}");
    // Renamed, and sealed under the new name.
    let renamed = w.join("renamed");
    std::fs::rename(&dir, &renamed).expect("renamed");
    edit_file(&renamed, "accounts.toml", |t| t.replace("display_name = \"gov26 Bob\"", "display_name = \"gov26 Bob B\""));
    approved_apply(&sb, &keyed, w, &renamed, "renamed.json");
    let (code, out) = run(&sb, w, &["plan", d(&renamed), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed under the new name: {out}");
    // The pull request: the old name again, with the renamed one's ledger.
    std::fs::rename(&renamed, &dir).expect("renamed back");
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("it is another directory's ledger"), "the old name binds nothing: {out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 30, finding D: run from inside the directory (`plan .`),
/// tenantctl reads the same state as from beside it: the trust root and
/// ledger of the directory, not a new, empty one (first use, 44 sensitive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_inside_the_directory_reads_its_own_state() {
    let sb = sandbox().await;
    let first = scratch_without_approvals();
    let (w, dir) = (first.path(), first.path().join("desired-state"));
    // The ledger where tenantctl keeps it by default (`.tenantctl/` beside
    // the directory), not where the tests point it.
    let at = |cwd: &Path, args: &[&str]| {
        let o = command(&sb, cwd).env_remove("TENANTCTL_LEDGER").args(args).output().expect("tenantctl runs");
        (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
    };
    let (code, out) = at(w, &["apply", "--auto-approve", "desired-state"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = at(w, &["plan", "--detailed-exitcode", "desired-state"]);
    assert_eq!(code, Some(0), "in sync from beside it: {out}");
    let (code, out) = at(&dir, &["plan", "--detailed-exitcode", "."]);
    assert_eq!(code, Some(0), "in sync from inside it: {out}");
    assert!(!out.contains("new to the tenant"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 1 with the azurerm backend: a pull request points the first
/// directory's `[state] prefix` at the second directory's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_prefix_pointed_at_another_directorys_state_is_not_this_directorys() {
    let az = common::azurite::start();
    let c = common::azurite::container();
    let sb = sandbox().await;
    let first = scratch_without_approvals();
    let (w1, dir1) = (first.path(), first.path().join("desired-state"));
    std::fs::write(dir1.join("state.toml"), common::azurite::state_table(&az, &c, "first")).expect("written");
    let (code, out) = common::azurite::run(&sb, w1, &["apply", "--auto-approve", d(&dir1)]);
    assert_eq!(code, Some(0), "{out}");
    let second = tempfile::tempdir().expect("a temporary directory");
    let (w2, dir2) = (second.path(), second.path().join("second"));
    copy_dir(&dir1, &dir2);
    std::fs::write(dir2.join("state.toml"), common::azurite::state_table(&az, &c, "second")).expect("written");
    append(&dir2, "accounts.toml", BOB);
    // A fresh azurerm checkout has no `.tenantctl/`: `governance adopt`
    // makes the journal's folder itself.
    assert!(!w2.join(".tenantctl").exists());
    let (code, out) = common::azurite::run(&sb, w2, &["governance", "adopt", d(&dir2), "--reason", "a second directory on the tenant"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = common::azurite::run(&sb, w2, &["apply", "--auto-approve", d(&dir2)]);
    assert_eq!(code, Some(0), "{out}");
    for (w, dir) in [(w1, &dir1), (w2, &dir2)] {
        let (code, out) = common::azurite::run(&sb, w, &["plan", "--detailed-exitcode", d(dir)]);
        assert_eq!(code, Some(0), "sealed and in sync: {out}");
    }

    // The pull request: one line of the first directory's [state].
    edit_file(&dir1, "state.toml", |t| t.replace("prefix = \"first\"", "prefix = \"second\""));
    let (_, out) = common::azurite::run(&sb, w1, &["plan", d(&dir1)]);
    assert!(out.contains("it is another directory's ledger"), "warned: {out}");
    assert!(out.contains("user.gov26-bob") && out.contains("Approvals"), "blocking bob needs approval: {out}");
    let (_, out) = common::azurite::run(&sb, w1, &["reconcile", d(&dir1), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update user.gov26-bob"), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}
