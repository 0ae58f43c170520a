//! Set-up shared by the governance tests that drive the binary: edits of
//! the scratch tenant, a converged tenant (with or without its trust root
//! adopted), raw Graph calls for out-of-band changes, and the ledger and
//! reconcile reports they read back.

use std::path::{Path, PathBuf};

use sandbox::SandboxHandle;
use serde_json::{json, Value};

use super::{apply, cli, client, plan, scratch_with, text};

/// `f` applied to `dir/file` (empty when it does not exist yet); the test
/// fails when `f` changes nothing.
pub fn edit_file(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap_or_default();
    let edited = f(t.clone());
    assert_ne!(edited, t, "{file} edited");
    std::fs::write(&p, edited).expect("the edited file is written");
}

/// `extra` appended to `dir/file`.
pub fn append(dir: &Path, file: &str, extra: &str) {
    edit_file(dir, file, |t| format!("{t}\n{extra}"));
}

/// The binary run in `work` with `args`: its exit code, stdout and stderr.
pub fn run(sb: &SandboxHandle, work: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = cli(sb, work, args);
    (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
}

/// `tenantctl validate` of `work/desired-state`.
pub fn validate(sb: &SandboxHandle, work: &Path) -> (Option<i32>, String) {
    let d = work.join("desired-state");
    run(sb, work, &["validate", d.to_str().expect("a UTF-8 path")])
}

/// The example, edited by `edit`, converged through the library, with its
/// ledger where the binary looks for it (`work/tenantctl.lock`). No trust
/// root is recorded.
pub async fn converged_plain(sb: &SandboxHandle, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let work = scratch_with(|t| t);
    let dir = work.path().join("desired-state");
    edit(&dir);
    let state = schema::load(&dir).expect("the edited tenant loads");
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    (work, dir)
}

/// [`converged_plain`], then desired [governance] adopted on purpose, as an
/// operator taking over would. A tenant an earlier setup marked with
/// another [governance] is freed by a tenant administrator removing the
/// marker (re-adopting over it needs the signatures of the approvers it
/// records).
pub async fn converged(sb: &SandboxHandle, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let (work, dir) = converged_plain(sb, edit).await;
    let client = client(sb);
    if let Ok(org) = client.v1().get_json("/organization?$select=id").await {
        let org = org["value"][0]["id"].as_str().unwrap_or_default().to_string();
        // Both of the marker's extensions (gov27: the trust root has its own).
        for name in ["com.tenantctl.governance", "com.tenantctl.governance.trust"] {
            let _ = client.v1().delete(&format!("/organization/{org}/extensions/{name}")).await;
        }
    }
    let args = ["governance", "adopt", dir.to_str().expect("a UTF-8 path"), "--reason", "test setup: converged through the library"];
    let out = cli(sb, work.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (work, dir)
}

/// A Graph call straight to the sandbox (an out-of-band change); the test
/// fails unless it succeeds. `path` starts with the version (`/v1.0/...`).
pub async fn graph(sb: &SandboxHandle, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token());
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("the sandbox answers");
    let status = r.status();
    let body = r.text().await.expect("a body");
    assert!(status.is_success(), "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// The tenant's governance marker as one object: the claims' extension
/// (`com.tenantctl.governance`) with the trust root's
/// (`com.tenantctl.governance.trust`, gov27) laid over it; `Null` when
/// neither exists.
pub async fn marker_view(sb: &SandboxHandle) -> Value {
    let org = graph(sb, reqwest::Method::GET, "/v1.0/organization", None).await["value"][0]["id"].as_str().expect("an id").to_string();
    let list = graph(sb, reqwest::Method::GET, &format!("/v1.0/organization/{org}/extensions"), None).await;
    let named = |n: &str| list["value"].as_array().and_then(|a| a.iter().find(|e| e["extensionName"] == n)).and_then(Value::as_object).cloned();
    match (named("com.tenantctl.governance"), named("com.tenantctl.governance.trust")) {
        (None, None) => Value::Null,
        (facts, trust) => {
            let mut m = facts.unwrap_or_default();
            m.extend(trust.unwrap_or_default().into_iter().filter(|(k, _)| k != "extensionName" && k != "id"));
            Value::Object(m)
        }
    }
}

/// `member` added to `group` out of band (both object ids).
pub async fn add_member(sb: &SandboxHandle, group: &str, member: &str) {
    let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")});
    graph(sb, reqwest::Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(body)).await;
}

/// The ledger at `work/tenantctl.lock`.
pub fn ledger_of(work: &Path) -> engine::Ledger {
    let text = std::fs::read_to_string(work.join("tenantctl.lock")).expect("the ledger is there");
    engine::Ledger::parse(&text).expect("the ledger parses")
}

/// The object id `work`'s ledger holds for `address`.
pub fn ledger_id(work: &Path, address: &str) -> String {
    let parsed = address.parse().unwrap_or_else(|e| panic!("{address} is not an address: {e}"));
    ledger_of(work).id(&parsed).unwrap_or_else(|| panic!("{address} is not in the ledger")).to_string()
}

/// The newest reconcile report in `work/.tenantctl/history`.
pub fn last_report(work: &Path) -> Value {
    let history = work.join(".tenantctl/history");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&history).expect("a history").map(|e| e.expect("an entry").path()).collect();
    names.sort();
    let newest = names.last().expect("at least one report");
    serde_json::from_str(&std::fs::read_to_string(newest).expect("the report reads")).expect("the report parses")
}

/// The sorted `address` fields of a report's list.
pub fn addresses(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list.as_array().expect("a list").iter().map(|h| h["address"].as_str().expect("an address").to_string()).collect();
    v.sort();
    v
}

/// A key pair made by `tenantctl keygen --out NAME` in `dir`; its public key.
pub fn keygen(sb: &SandboxHandle, dir: &Path, name: &str) -> String {
    let out = cli(sb, dir, &["keygen", "--out", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// Fresh keys `author`, `alice` and `bob` (private halves in `keys`), and
/// the example tenant in the scratch directory `work` with alice and bob
/// as its approvers and author as its listed author (in place of the
/// example's keys, whose private halves nobody has).
pub struct Keyed {
    pub keys: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub author: String,
    pub alice: String,
    pub bob: String,
}

pub fn keyed_example(sb: &SandboxHandle) -> Keyed {
    let keys = tempfile::tempdir().expect("a temporary directory");
    let k = keys.path();
    let (author, alice, bob) = (keygen(sb, k, "author"), keygen(sb, k, "alice"), keygen(sb, k, "bob"));
    let work = scratch_with(|t| {
        t.replace("ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=", &alice)
            .replace("ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=", &bob)
            .replace("ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=", &author)
    });
    Keyed { keys, work, author, alice, bob }
}

/// A plan of `keyed`'s desired state saved to `out` (in its work folder),
/// written by its author and approved by alice and bob; each step must
/// succeed.
pub fn approved_plan(sb: &SandboxHandle, keyed: &Keyed, out: &str) {
    let (k, w) = (keyed.keys.path(), keyed.work.path());
    let dir = w.join("desired-state");
    let d = dir.to_str().expect("a UTF-8 path");
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let (code, o) = run(sb, w, &["plan", d, "--out", out, "--author-key", &key("author")]);
    assert_eq!(code, Some(0), "{o}");
    for who in ["alice", "bob"] {
        let (code, o) = run(sb, w, &["approve", out, "--key", &key(who), "--dir", d]);
        assert_eq!(code, Some(0), "{o}");
    }
}

/// The example with keys the test holds ([`keyed_example`]), converged
/// through the library, its governance adopted, applied once by the
/// binary (sealed), and planned in sync: the start of the tests of seals
/// and ownership (gov12, gov14, gov18, gov26).
pub async fn sealed_keyed(sb: &SandboxHandle) -> (Keyed, PathBuf) {
    let keyed = keyed_example(sb);
    let w = keyed.work.path().to_path_buf();
    let dir = w.join("desired-state");
    let d = dir.to_str().expect("a UTF-8 path");
    let state = schema::load(&dir).expect("the tenant loads");
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(w.join("tenantctl.lock"), ledger.render()).expect("the ledger is written");
    let (code, out) = run(sb, &w, &["governance", "adopt", d, "--reason", "test setup"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, &w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, &w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "sealed and in sync: {out}");
    (keyed, dir)
}
