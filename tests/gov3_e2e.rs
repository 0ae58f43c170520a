//! Issue 12 leftovers, through the binary:
//! * a live member of the Managed Desktop service-accounts group is a
//!   service account, declared so or not;
//! * an account applied as a service account that no longer is one
//!   (`kind`, the group's rule) is a sensitive change shown in the plan;
//! * extending a guest's `expires` is a sensitive change shown in the plan
//!   (shortening it is not), recorded in the ledger when applied;
//! * re-adopting another [governance] over a marked tenant needs the
//!   signatures of the approvers the marker records;
//! * the approve prompt names the author, deleted role assignments are
//!   labelled by principal and role, the journal names who ran it without
//!   USER, and drift judges by the governance in force.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use sandbox::SandboxHandle;
use serde_json::{json, Value};

const ALICE: &str = "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=";
const BOB: &str = "ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=";
const CAROL: &str = "ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=";

struct Keys {
    dir: tempfile::TempDir,
    pubs: std::collections::BTreeMap<String, String>,
}

impl Keys {
    fn new(sb: &SandboxHandle) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let mut pubs = std::collections::BTreeMap::new();
        for n in ["alice", "bob", "carol", "mallory", "eve"] {
            let out = cli(sb, dir.path(), &["keygen", "--out", n]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            pubs.insert(n.to_string(), text(&out.stdout).trim().to_string());
        }
        Keys { dir, pubs }
    }
    fn key(&self, n: &str) -> String {
        self.dir.path().join(format!("{n}.key")).to_str().unwrap().to_string()
    }
    fn public(&self, n: &str) -> &str {
        &self.pubs[n]
    }
    /// The example's approvers alice, bob and carol with these keys.
    fn governance(&self, t: String) -> String {
        t.replace(ALICE, self.public("alice")).replace(BOB, self.public("bob")).replace(CAROL, self.public("carol"))
    }
}

fn edit_file(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap_or_default();
    let edited = f(t.clone());
    assert_ne!(edited, t, "{file} edited");
    std::fs::write(&p, edited).unwrap();
}

fn run(sb: &SandboxHandle, work: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = cli(sb, work, args);
    (o.status.code(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
}

/// The example with these keys, converged through the library, its
/// [governance] adopted, then applied once by the binary (which marks the
/// service accounts in the ledger).
async fn converged(sb: &SandboxHandle, keys: &Keys, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let work = scratch_with(|t| keys.governance(t));
    let dir = work.path().join("desired-state");
    edit(&dir);
    let state = schema::load(&dir).unwrap();
    let client = client(sb);
    let mut ledger = engine::Ledger::default();
    let p = plan(&client, &state, &ledger).await;
    apply(&client, &p, &mut ledger).await;
    std::fs::write(work.path().join("tenantctl.lock"), ledger.render()).unwrap();
    let d = dir.to_str().unwrap();
    let (code, out) = run(sb, work.path(), &["governance", "adopt", d, "--reason", "test setup: converged through the library"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(sb, work.path(), &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    (work, dir)
}

async fn graph(sb: &SandboxHandle, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", sb.base_url())).bearer_auth(sb.access_token());
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn ledger(work: &Path) -> engine::Ledger {
    engine::Ledger::parse(&std::fs::read_to_string(work.join("tenantctl.lock")).unwrap()).unwrap()
}

fn id_of(work: &Path, address: &str) -> String {
    ledger(work).id(&address.parse().unwrap()).unwrap().to_string()
}

/// Plan with carol's key, approved by `approvers`, applied.
fn approved_apply(sb: &SandboxHandle, w: &Path, d: &str, keys: &Keys, approvers: &[&str]) -> String {
    let p = w.join("plan.json");
    let p = p.to_str().unwrap();
    let (code, out) = run(sb, w, &["plan", d, "--out", p, "--author-key", &keys.key("carol")]);
    assert_eq!(code, Some(0), "{out}");
    for a in approvers {
        let (code, out) = run(sb, w, &["approve", p, "--key", &keys.key(a), "--dir", d]);
        assert_eq!(code, Some(0), "{a}: {out}");
    }
    let (code, out) = run(sb, w, &["apply", p, "--dir", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    out
}

/// Part 1: megan, declared as a person, is a live member of the
/// (dynamic) service-accounts group: Entra's rule put her there. Every
/// service-account rule applies to her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_member_of_the_service_accounts_group_is_a_service_account() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let (work, dir) = converged(&sb, &keys, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    let group = id_of(w, "group.service-accounts");
    let megan = id_of(w, "user.megan");
    // The sandbox does not evaluate rules: add her as Entra's evaluation
    // would (the group is made static for the add, then dynamic again).
    let admin = format!("{}/_sandbox/objects/groups/{group}", sb.base_url());
    let c = reqwest::Client::new();
    assert!(c.patch(&admin).json(&json!({"groupTypes": []})).send().await.unwrap().status().is_success());
    let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{megan}")});
    graph(&sb, reqwest::Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(body)).await;
    assert!(c.patch(&admin).json(&json!({"groupTypes": ["DynamicMembership"]})).send().await.unwrap().status().is_success());

    edit_file(&dir, "accounts.toml", |t| t.replace("job_title = \"Service Desk Lead\"", "job_title = \"Service Desk Manager\""));
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.megan is a live member of the service-accounts group group.service-accounts: every service-account rule applies to it"), "{out}");
    assert!(
        out.contains("error[service-account-role] role_assignment.megan-user-admin: user.megan may hold only the roles it declares in allowed_roles (none); User Administrator is not one"),
        "{out}"
    );
    assert!(out.contains("sensitive: touches service account user.megan"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.megan: touches service account user.megan"), "{out}");
    sb.shutdown().await.unwrap();
}

const MIXED: &str = "[group.mixed]\ndisplay_name = \"Mixed\"\nmail_nickname = \"mixed\"\nmembers = [\"adele\", \"mstest\"]\n";
const MIXED_POLICY: &str = "[device_configuration.mixed-policy]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Mixed policy\"\n\n[device_configuration.mixed-policy.settings]\ncameraBlocked = true\n\n[device_configuration.mixed-policy.assignments]\ninclude = [\"mixed\"]\n";
const MSTEST_KIND: &str = "mail_nickname = \"MSTEST\"\nkind = \"service\"\n";
const MSTEST_RULE: &str = " or (user.userPrincipalName -startsWith \"MSTEST@\")";

/// Part 2: MSTEST, applied as a service account, stops being one (its
/// `kind` and the group's rule no longer name it): a sensitive `kind`
/// change in every plan format, refused without approvals and by
/// reconcile, recorded once approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_service_is_a_sensitive_change_shown_in_the_plan() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let (work, dir) = converged(&sb, &keys, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    assert!(ledger(w).resources[&"user.mstest".parse().unwrap()].service, "the apply marks the service accounts in the ledger");
    edit_file(&dir, "accounts.toml", |t| t.replace(MSTEST_KIND, "mail_nickname = \"MSTEST\"\n"));
    edit_file(&dir, "groups.toml", |t| t.replace(MSTEST_RULE, ""));
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("~ user.mstest"), "{out}");
    assert!(out.contains("kind: \"service\" -> \"member\""), "{out}");
    assert!(out.contains("sensitive: user.mstest was applied as a service account and no longer is one"), "{out}");
    let (_, md) = run(&sb, w, &["plan", d, "--format", "markdown"]);
    assert!(md.contains("user.mstest") && md.contains("kind"), "{md}");
    let (_, js) = run(&sb, w, &["plan", d, "--format", "json"]);
    assert!(js.contains("\"field\": \"kind\""), "{js}");
    assert!(js.contains("\"user.mstest\": \"user.mstest was applied as a service account"), "{js}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("user.mstest: user.mstest was applied as a service account"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d, "--once", "--self-heal"]);
    assert!(!out.contains("applied: update user.mstest"), "never unattended: {out}");
    // Until an approved apply records it, MSTEST is still a service account:
    // a policy reaching it (through a mixed group) is refused.
    assert!(ledger(w).resources[&"user.mstest".parse().unwrap()].service);
    let groups = std::fs::read_to_string(dir.join("groups.toml")).unwrap();
    let policies = std::fs::read_to_string(dir.join("policies.toml")).unwrap();
    std::fs::write(dir.join("groups.toml"), format!("{groups}\n{MIXED}")).unwrap();
    std::fs::write(dir.join("policies.toml"), format!("{policies}\n{MIXED_POLICY}")).unwrap();
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[service-account-targeted] device_configuration.mixed-policy: reaches service account user.mstest"), "{out}");
    assert!(out.contains("user.mstest was applied as a service account (the ledger records it)"), "{out}");
    std::fs::write(dir.join("groups.toml"), groups).unwrap();
    std::fs::write(dir.join("policies.toml"), policies).unwrap();
    approved_apply(&sb, w, d, &keys, &["alice", "bob"]);
    assert!(!ledger(w).resources[&"user.mstest".parse().unwrap()].service, "recorded once approved");
    let (code, out) = run(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");
    sb.shutdown().await.unwrap();
}

/// Part 3: extending a guest's access is a sensitive `expires` change in
/// every plan format; shortening it is not; each is recorded in the ledger
/// when applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_a_guests_expiry_is_a_sensitive_change_shown_in_the_plan() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let (work, dir) = converged(&sb, &keys, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    let guest: schema::Address = "guest.fabrikam-auditor".parse().unwrap();
    assert_eq!(ledger(w).resources[&guest].expires.as_deref(), Some("2027-03-31T17:00:00Z"), "recorded at the invitation");
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-03-31T17:00:00Z", "expires = 2027-06-30T17:00:00Z"));
    let (code, out) = run(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "a change: {out}");
    assert!(out.contains("~ guest.fabrikam-auditor"), "{out}");
    assert!(out.contains("expires: \"2027-03-31T17:00:00Z\" -> \"2027-06-30T17:00:00Z\""), "{out}");
    assert!(out.contains("sensitive: extends guest access from 2027-03-31T17:00:00Z to 2027-06-30T17:00:00Z"), "{out}");
    let (_, md) = run(&sb, w, &["plan", d, "--format", "markdown"]);
    assert!(md.contains("guest.fabrikam-auditor") && md.contains("2027-06-30T17:00:00Z"), "{md}");
    let (_, js) = run(&sb, w, &["plan", d, "--format", "json"]);
    assert!(js.contains("\"field\": \"expires\""), "{js}");
    assert!(js.contains("\"guest.fabrikam-auditor\": \"extends guest access"), "{js}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(1), "needs approvals: {out}");
    assert!(out.contains("guest.fabrikam-auditor: extends guest access"), "{out}");
    let (_, out) = run(&sb, w, &["reconcile", d, "--once", "--self-heal"]);
    assert!(!out.contains("applied: update guest.fabrikam-auditor"), "never unattended: {out}");
    assert_eq!(ledger(w).resources[&guest].expires.as_deref(), Some("2027-03-31T17:00:00Z"));
    approved_apply(&sb, w, d, &keys, &["alice", "bob"]);
    assert_eq!(ledger(w).resources[&guest].expires.as_deref(), Some("2027-06-30T17:00:00Z"), "recorded when applied");
    let (code, out) = run(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");

    // Shortening reduces access: shown, applied without approvals.
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-06-30T17:00:00Z", "expires = 2027-02-28T17:00:00Z"));
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("expires: \"2027-06-30T17:00:00Z\" -> \"2027-02-28T17:00:00Z\""), "{out}");
    assert!(!out.contains("sensitive: extends"), "{out}");
    let (code, out) = run(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(ledger(w).resources[&guest].expires.as_deref(), Some("2027-02-28T17:00:00Z"));
    let (code, out) = run(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{out}");

    // An entry whose expiry was edited away no longer matches the seal the
    // tenant records (gov10): the extension is shown against the unproven
    // record, and sensitive.
    let lock = w.join("tenantctl.lock");
    let t = std::fs::read_to_string(&lock).unwrap();
    assert!(t.contains("expires = \"2027-02-28T17:00:00Z\"\n"), "{t}");
    std::fs::write(&lock, t.replace("expires = \"2027-02-28T17:00:00Z\"\n", "")).unwrap();
    edit_file(&dir, "guests.toml", |t| t.replace("expires = 2027-02-28T17:00:00Z", "expires = 2027-05-31T17:00:00Z"));
    let (_, out) = run(&sb, w, &["plan", d]);
    assert!(out.contains("expires: \"(not proven: the ledger does not match the tenant's seal)\" -> \"2027-05-31T17:00:00Z\""), "{out}");
    assert!(out.contains("sensitive: guest access; the ledger does not match the seal the tenant records"), "{out}");
    sb.shutdown().await.unwrap();
}

/// Both of the marker's extensions as one (the trust root's has its own
/// since gov27).
async fn marker(sb: &SandboxHandle) -> Value {
    common::gov::marker_view(sb).await
}

/// Part 4: another [governance] over a marked tenant (another ledger) is
/// adopted only with the signatures of the approvers the marker records,
/// over the adoption plan; typing the marker's fingerprint is not enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_adoption_over_a_marked_tenant_needs_the_approvers_the_marker_records() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let (work, dir) = converged(&sb, &keys, |_| {}).await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    let before = marker(&sb).await;
    assert!(before["approverKeys"].as_str().unwrap().contains(&format!("alice={}", keys.public("alice"))), "{before:#}");
    assert_eq!(before["approvalsRequired"], "2", "{before:#}");
    // Mallory replaces bob and takes the state elsewhere.
    edit_file(&dir, "tenant.toml", |t| t.replace(keys.public("bob"), keys.public("mallory")));
    let other = w.join("other").join("x.lock");
    let o = other.to_str().unwrap();
    let fp = before["trustFingerprint"].as_str().unwrap();
    let reason = "state lost with the runner, CHG-88";
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--ledger", o, "--reason", reason, "--replace-marker", fp]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("its approvers (alice (Alice Admin (change manager)), bob (Bob Baker (security officer))) are in force"), "{out}");
    assert!(out.contains("have 2 of them approve the adoption"), "{out}");
    assert!(!other.with_extension("trust.json").exists());
    assert_eq!(marker(&sb).await, before, "untouched");

    let p = w.join("adopt.json");
    let ps = p.to_str().unwrap();
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--ledger", o, "--reason", reason, "--out", ps, "--author-key", &keys.key("carol")]);
    assert_eq!(code, Some(0), "{out}");
    // Mallory's key is not among the approvers the marker records.
    let (code, out) = run(&sb, w, &["approve", ps, "--key", &keys.key("mallory"), "--dir", d]);
    assert_eq!(code, Some(1), "{out}");
    // One approval is not enough.
    let (code, out) = run(&sb, w, &["approve", ps, "--key", &keys.key("alice"), "--dir", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Author: carol (Carol"), "the author by name: {out}");
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--ledger", o, "--reason", reason, "--plan", ps]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("needs 2"), "{out}");
    let (code, out) = run(&sb, w, &["approve", ps, "--key", &keys.key("bob"), "--dir", d]);
    assert_eq!(code, Some(0), "{out}");
    // Another reason is another adoption.
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--ledger", o, "--reason", "something else", "--plan", ps]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is not the adoption plan"), "{out}");
    let (code, out) = run(&sb, w, &["governance", "adopt", d, "--ledger", o, "--reason", reason, "--plan", ps]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("approved by alice, bob"), "{out}");
    let after = marker(&sb).await;
    assert_ne!(after["trustFingerprint"], before["trustFingerprint"]);
    assert!(after["approverKeys"].as_str().unwrap().contains(&format!("bob={}", keys.public("mallory"))), "{after:#}");
    let journal = std::fs::read_to_string(other.with_extension("journal.jsonl")).unwrap();
    let line: Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(line["approvers"], json!(["alice", "bob"]), "{line}");
    sb.shutdown().await.unwrap();
}

/// Part 5: deleted role assignments are labelled by principal and role;
/// the journal names who ran it without USER; drift is judged by the
/// governance in force and says when desired differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_journal_operator_and_drift_by_the_governance_in_force() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let (work, dir) = converged(&sb, &keys, |d| {
        edit_file(d, "tenant.toml", |t| t.replace("kinds = [\"device_configuration\",", "kinds = [\"role_assignment\", \"device_configuration\","));
    })
    .await;
    let w = work.path();
    let d = dir.to_str().unwrap();
    let megan = id_of(w, "user.megan");
    edit_file(&dir, "roles.toml", |t| {
        let start = t.find("# The service desk lead").unwrap();
        let end = t.find("\n# Emergency access").unwrap_or(t.len());
        format!("{}{}", &t[..start], &t[end..])
    });
    let (code, out) = run(&sb, w, &["plan", d]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("- role_assignment.megan-user-admin user.megan as User Administrator"), "{out}");
    assert!(!out.contains(&format!("{megan} as")), "labelled by principal, not object id: {out}");
    // Without USER (and without the CI variables) the journal names the
    // login name.
    let out = command(&sb, w)
        .args(["apply", d, "--auto-approve"])
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("GITHUB_ACTOR")
        .env_remove("TENANTCTL_OPERATOR")
        .env_remove("BUILD_REQUESTEDFOR")
        .env_remove("GITLAB_USER_LOGIN")
        .env("LOGNAME", "ops-login")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    let line: Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(line["address"], "role_assignment.megan-user-admin", "{line}");
    assert_eq!(line["who"], "ops-login", "{line}");

    // Desired [governance] allows what the governance in force does not:
    // drift reports by the one in force and says so.
    edit_file(&dir, "tenant.toml", |t| t.replace("kinds = [\"role_assignment\", \"device_configuration\",", "kinds = [\"device_configuration\","));
    let (code, out) = run(&sb, w, &["drift", d, "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("desired [governance] differs from the trust root"), "{out}");
    sb.shutdown().await.unwrap();
}
