//! gov28 (issue 12, hostile run 28, finding 2), through the binary: an
//! account whose ledger entry a pull request cut is named even when the
//! same pull request cut the journal too (or deleted it), and on a fresh
//! `azurerm` runner that has no journal at all: the tenant's governance
//! marker records which accounts the sealed ledger owned. A journal that
//! is missing where the tenant records nothing is said, never read as
//! "nothing owned".

mod common;

use std::path::{Path, PathBuf};

use common::*;
use reqwest::Method;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

const LOST: &str = "ownership lost without proof:";
const SEALED_SAYS: &str = "the tenant's seal records that the ledger this directory last sealed owned it";

/// A contractor's account, added to the example's accounts.
const TEMP: &str = "\n[user.temp]\nuser_principal_name = \"temp.contractor@contoso.onmicrosoft.com\"\ndisplay_name = \"Temp Contractor\"\nmail_nickname = \"temp.contractor\"\nusage_location = \"US\"\n";

/// The example with keys the test holds, sealed; then [`TEMP`] declared
/// and created by the binary (journalled), sealed again.
async fn sealed_keyed_with_temp(sb: &SandboxHandle) -> (Keyed, PathBuf) {
    let (keyed, dir) = sealed_keyed(sb).await;
    let w = keyed.work.path();
    append(&dir, "accounts.toml", TEMP);
    let (code, out) = run(sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    (keyed, dir)
}

fn journal(w: &Path) -> PathBuf {
    w.join("tenantctl.journal.jsonl")
}

/// The pull request of finding 2: the declaration and the ledger entry of
/// `user.temp` cut.
fn cut_temp(w: &Path, dir: &Path) {
    edit_file(dir, "accounts.toml", |t| t.replace(TEMP, "\n"));
    let mut l = ledger_of(w);
    l.resources.remove(&"user.temp".parse().expect("an address"));
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
}

fn json_plan(sb: &SandboxHandle, w: &Path, dir: &Path) -> engine::Plan {
    let o = cli(sb, w, &["plan", d(dir), "--format", "json"]);
    serde_json::from_str(&text(&o.stdout)).unwrap_or_else(|e| panic!("a JSON plan ({e}): {}", text(&o.stderr)))
}

/// The plan names the account `id` as lost, from the tenant's record, and
/// proposes blocking it as a sensitive change; its address.
fn named_and_held(p: &engine::Plan, id: &str) -> String {
    let warning = p.warnings.iter().find(|w| w.starts_with(LOST) && w.contains(id)).unwrap_or_else(|| panic!("the account is named: {:#?}", p.warnings));
    assert!(warning.contains(SEALED_SAYS), "from the tenant's record: {warning}");
    let c = p.changes.iter().find(|c| c.id.as_deref() == Some(id)).unwrap_or_else(|| panic!("the block is proposed: {:#?}", p.changes));
    assert!(c.fields.iter().any(|f| f.field == "accountEnabled" && f.after == Some(json!(false))), "{c:#?}");
    let why = p.sensitive.get(&c.address).unwrap_or_else(|| panic!("sensitive: {:#?}", p.sensitive));
    assert!(why.contains(LOST) && why.contains("the tenant's seal records it was"), "{why}");
    c.address.to_string()
}

async fn enabled(sb: &SandboxHandle, id: &str) -> Value {
    graph(sb, Method::GET, &format!("/v1.0/users/{id}?$select=accountEnabled"), None).await["accountEnabled"].clone()
}

/// Finding 2, local backend: the pull request cuts the account's ledger
/// entry and also the journal's lines naming it. Before, nothing named the
/// account and the approved reseal kept it enabled for good. Now the plan
/// names it from the tenant's record (the address made from its user
/// principal name), blocking it needs the approvers, reconcile holds it,
/// and one approved apply blocks it; the next plan is settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_entry_with_its_journal_lines_cut_too_is_named_from_the_tenant() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    cut_temp(w, &dir);
    let kept: String = std::fs::read_to_string(journal(w)).expect("a journal").lines().filter(|l| !l.contains("\"user.temp\"")).map(|l| format!("{l}\n")).collect();
    assert!(!kept.contains(&temp), "no line names the account any more");
    std::fs::write(journal(w), kept).expect("the journal is written");

    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&temp), "named: {out}");
    let p = json_plan(&sb, w, &dir);
    let address = named_and_held(&p, &temp);
    assert_eq!(address, "user.temp-contractor");

    let (code, out) = run(&sb, w, &["apply", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(1), "needs the approvers: {out}");
    let (_, out) = run(&sb, w, &["reconcile", d(&dir), "--once", "--self-heal"]);
    assert!(out.contains(&format!("held: update {address}")), "never unattended: {out}");
    assert_eq!(enabled(&sb, &temp).await, json!(true), "untouched without approval");

    let key = |n: &str| keyed.keys.path().join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(&sb, w, &["plan", d(&dir), "--out", "block.json", "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(&sb, w, &["approve", "block.json", "--key", &key(who), "--dir", d(&dir)]);
        assert_eq!(code, Some(0), "{o}");
    }
    let (code, o) = run(&sb, w, &["apply", "block.json", "--dir", d(&dir), "--auto-approve"]);
    assert_eq!(code, Some(0), "{o}");
    assert_eq!(enabled(&sb, &temp).await, json!(false), "blocked once approved");
    assert_eq!(ledger_id(w, &address), temp, "owned again");
    let (code, out) = run(&sb, w, &["plan", d(&dir), "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and settled: {out}");
    assert!(!out.contains(LOST), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// The journal deleted by the pull request: the account is named all the
/// same. And where the tenant records no accounts of the sealed ledger
/// (a marker written before they were), a missing journal is said, never
/// read as "nothing owned".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_journal_is_not_nothing_owned() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    cut_temp(w, &dir);
    std::fs::remove_file(journal(w)).expect("the journal is deleted");
    let p = json_plan(&sb, w, &dir);
    named_and_held(&p, &temp);
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(!out.contains("there is no journal"), "the tenant's record stands in for it: {out}");

    // The ledger also given an account it did not own (a portal user's id
    // under a made-up address): cut and gained are told apart, the cut one
    // named all the same.
    let portal = graph(
        &sb,
        Method::POST,
        "/v1.0/users",
        Some(json!({"accountEnabled": true, "displayName": "Erin Portal", "mailNickname": "erin.portal", "userPrincipalName": "erin.portal@contoso.onmicrosoft.com", "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}})),
    )
    .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let cut = std::fs::read_to_string(w.join("tenantctl.lock")).expect("the ledger");
    let mut l = ledger_of(w);
    let mut forged = l.resources.values().next().expect("an entry").clone();
    forged.id = portal;
    l.resources.insert("user.forged".parse().expect("an address"), forged.clone());
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
    named_and_held(&json_plan(&sb, w, &dir), &temp);
    // Gained more than the record tells apart (one cut, four gained): which
    // were cut cannot be told, and is said.
    for i in 1..=3 {
        forged.id = format!("0000000{i}-0000-4000-8000-000000000000");
        l.resources.insert(format!("user.forged-{i}").parse().expect("an address"), forged.clone());
    }
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
    let p = json_plan(&sb, w, &dir);
    let said = p.warnings.iter().find(|x| x.starts_with(LOST) && x.contains("cannot be told")).unwrap_or_else(|| panic!("said: {:#?}", p.warnings));
    let owned = l.resources.keys().filter(|a| matches!(a.kind, schema::Kind::User | schema::Kind::Guest)).count();
    assert!(said.contains(&format!("owned {} account(s) (users and guests); this ledger owns {owned}", owned - 3)), "{said}");
    std::fs::write(w.join("tenantctl.lock"), cut).expect("the ledger is written");

    // The tenant's record taken away (as a marker written before it).
    let org = graph(&sb, Method::GET, "/v1.0/organization?$select=id", None).await["value"][0]["id"].as_str().expect("an id").to_string();
    let path = format!("/v1.0/organization/{org}/extensions/com.tenantctl.governance");
    let mut marker = graph(&sb, Method::GET, &path, None).await;
    assert!(marker["ledgerAccounts"].as_str().is_some_and(|s| !s.is_empty()), "recorded with the seal: {marker}");
    let body = marker.as_object_mut().expect("an object");
    body.retain(|k, _| !k.starts_with("@odata.") && k != "id");
    body.remove("ledgerAccounts");
    body.insert("@odata.type".into(), json!("microsoft.graph.openTypeExtension"));
    graph(&sb, Method::PATCH, &path, Some(Value::Object(body.clone()))).await;
    let (_, out) = run(&sb, w, &["plan", d(&dir)]);
    assert!(out.contains("there is no journal") && out.contains("cannot be named"), "said: {out}");
    assert!(!out.contains(&temp), "{out}");
    sb.shutdown().await.expect("the sandbox stops");
}

/// Finding 2 with the azurerm backend: the stored ledger replaced by one
/// without the account's entry (`state push`), the account undeclared, and
/// the plan made on a fresh checkout with no `.tenantctl/` (a CI runner):
/// no journal, and the account is named all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_azurerm_runner_names_an_account_cut_from_the_stored_ledger() {
    let az = common::azurite::start();
    let c = common::azurite::container();
    let sb = sandbox().await;
    let first = scratch_without_approvals();
    let (w1, dir1) = (first.path(), first.path().join("desired-state"));
    std::fs::write(dir1.join("state.toml"), common::azurite::state_table(&az, &c, "gov28")).expect("written");
    append(&dir1, "accounts.toml", TEMP);
    let (code, out) = common::azurite::run(&sb, w1, &["apply", "--auto-approve", d(&dir1)]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = common::azurite::run(&sb, w1, &["plan", "--detailed-exitcode", d(&dir1)]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");

    // The stored ledger replaced by one without the account's entry.
    let pulled = w1.join("pulled.lock");
    let (code, out) = common::azurite::run(&sb, w1, &["state", "pull", d(&dir1), "--out", d(&pulled)]);
    assert_eq!(code, Some(0), "{out}");
    let mut l = engine::Ledger::parse(&std::fs::read_to_string(&pulled).expect("pulled")).expect("a ledger");
    let temp = l.resources.remove(&"user.temp".parse().expect("an address")).expect("the account is owned").id;
    std::fs::write(&pulled, l.render()).expect("written");
    let (code, out) = common::azurite::run(&sb, w1, &["state", "push", d(&pulled), d(&dir1)]);
    assert_eq!(code, Some(0), "{out}");

    // A fresh runner: the same desired state, without the account.
    let fresh = tempfile::tempdir().expect("a temporary directory");
    let (w2, dir2) = (fresh.path(), fresh.path().join("desired-state"));
    copy_dir(&dir1, &dir2);
    edit_file(&dir2, "accounts.toml", |t| t.replace(TEMP, "\n"));
    assert!(!w2.join(".tenantctl").exists(), "no journal on a fresh runner");
    let (code, out) = common::azurite::run(&sb, w2, &["plan", "--detailed-exitcode", d(&dir2)]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.lines().any(|l| l.contains(&format!("{LOST} user.temp-contractor (object {temp}")) && l.contains(SEALED_SAYS)), "the account is named: {out}");
    assert!(out.contains(&format!("sensitive: {LOST} user.temp-contractor (object {temp})")), "blocking it needs approval: {out}");
    let (_, out) = common::azurite::run(&sb, w2, &["reconcile", d(&dir2), "--once", "--self-heal"]);
    assert!(!out.contains("applied: update user.temp-contractor"), "never unattended: {out}");
    assert_eq!(enabled(&sb, &temp).await, json!(true));
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 31, findings 1 and 2: the pull request cuts the account's
/// declaration and journal lines and keeps its ledger entry under another
/// kind with the same id (`guest.temp`, or `group.temp`). The account is
/// still named: an entry of another kind is not that account's ownership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_moved_to_another_kind_with_the_same_id_is_a_cut_account() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    let sealed = std::fs::read_to_string(w.join("tenantctl.lock")).expect("the ledger");
    edit_file(&dir, "accounts.toml", |t| t.replace(TEMP, "\n"));
    let kept: String = std::fs::read_to_string(journal(w)).expect("a journal").lines().filter(|l| !l.contains("\"user.temp\"")).map(|l| format!("{l}\n")).collect();
    std::fs::write(journal(w), kept).expect("the journal is written");
    for kind in ["guest", "group"] {
        std::fs::write(w.join("tenantctl.lock"), &sealed).expect("the sealed ledger");
        let mut l = ledger_of(w);
        let e = l.resources.remove(&"user.temp".parse().expect("an address")).expect("the entry");
        l.resources.insert(format!("{kind}.temp").parse().expect("an address"), e);
        std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
        let p = json_plan(&sb, w, &dir);
        named_and_held(&p, &temp);
    }
    sb.shutdown().await.expect("the sandbox stops");
}

/// Hostile run 31, finding 3: the pull request also moves the directory
/// (its place no longer bound) and gives the ledger a new identity, so no
/// record is this ledger's own. The record this ledger differs from only by
/// the cut account names it all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_ledger_under_a_new_identity_and_place_is_still_named() {
    let sb = sandbox().await;
    let (keyed, dir) = sealed_keyed_with_temp(&sb).await;
    let w = keyed.work.path();
    let temp = ledger_id(w, "user.temp");
    cut_temp(w, &dir);
    let kept: String = std::fs::read_to_string(journal(w)).expect("a journal").lines().filter(|l| !l.contains("\"user.temp\"")).map(|l| format!("{l}\n")).collect();
    std::fs::write(journal(w), kept).expect("the journal is written");
    let mut l = ledger_of(w);
    l.ledger_id = Some("fedcba9876543210".into());
    std::fs::write(w.join("tenantctl.lock"), l.render()).expect("the ledger is written");
    let moved = w.join("ds-v2");
    std::fs::rename(&dir, &moved).expect("moved");
    let p = json_plan(&sb, w, &moved);
    named_and_held(&p, &temp);
    sb.shutdown().await.expect("the sandbox stops");
}
