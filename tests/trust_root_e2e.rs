//! The trust root of approvals, through the binary: whoever edits desired
//! state cannot choose the approvers of that edit. Issue 12, "Whoever edits
//! desired state chooses the approvers": each way around is refused, naming
//! the rule; rotating approvers through the approvers in force works.

mod common;

use std::path::Path;

use common::*;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use engine::Plan;

const ALICE: &str = "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=";
const BOB: &str = "ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=";
const CAROL: &str = "ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=";

fn keygen(sb: &sandbox::SandboxHandle, work: &Path, name: &str) -> String {
    let out = cli(sb, work, &["keygen", "--out", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

struct Keys {
    dir: tempfile::TempDir,
    author: String,
    alice: String,
    bob: String,
    mallory: String,
    eve: String,
}

impl Keys {
    fn new(sb: &sandbox::SandboxHandle) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path();
        Keys { author: keygen(sb, k, "author"), alice: keygen(sb, k, "alice"), bob: keygen(sb, k, "bob"), mallory: keygen(sb, k, "mallory"), eve: keygen(sb, k, "eve"), dir }
    }
    fn key(&self, n: &str) -> String {
        self.dir.path().join(format!("{n}.key")).to_str().unwrap().to_string()
    }
}

/// Plan with the author's key, have `approvers` approve, apply; the outputs.
fn approved_apply(sb: &sandbox::SandboxHandle, w: &Path, d: &str, keys: &Keys, approvers: &[&str]) -> (String, String) {
    let p = w.join("plan.json");
    let p = p.to_str().unwrap();
    let out = cli(sb, w, &["plan", d, "--out", p, "--author-key", &keys.key("author")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for a in approvers {
        let out = cli(sb, w, &["approve", p, "--key", &keys.key(a), "--dir", d]);
        assert!(out.status.success(), "{a}: {}", text(&out.stderr));
    }
    let out = cli(sb, w, &["apply", p, "--dir", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (shown, text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approvers_a_plan_introduces_never_approve_it() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let work = scratch_with(|t| t.replace(ALICE, &keys.alice).replace(BOB, &keys.bob).replace(CAROL, &keys.author));
    let w = work.path();
    let dir = w.join("desired-state");
    let d = dir.to_str().unwrap();
    let tenant = dir.join("tenant.toml");

    // First use: trusted on first use, loudly, and recorded by the apply.
    let out = cli(&sb, w, &["plan", d]);
    assert!(text(&out.stderr).contains("no trust root is recorded for this tenant (first use)"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no trust root is recorded"), "the warning is in the plan: {}", text(&out.stdout));
    let (_, applied) = approved_apply(&sb, w, d, &keys, &["alice", "bob"]);
    assert!(applied.contains("Recorded desired [governance] as the trust root on first use"), "{applied}");
    let trust: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.join("tenantctl.trust.json")).unwrap()).unwrap();
    assert_eq!(trust["first_use"], true);
    assert_eq!(trust["governance"]["approvers"]["alice"]["public_key"], keys.alice.as_str());
    // The journal names the author and the approvers of every change.
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert_eq!(l["author"], "carol (Carol Cloud (tenant engineer))", "{l}");
        assert_eq!(l["approvers"], serde_json::json!(["alice", "bob"]), "{l}");
    }
    let out = cli(&sb, w, &["plan", d]);
    assert!(!text(&out.stderr).contains("first use"), "recorded now: {}", text(&out.stderr));

    // The way around: replace the approvers with two keys of one's own.
    let original = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, original.replace(&keys.alice, &keys.mallory).replace(&keys.bob, &keys.eve)).unwrap();
    let p = w.join("plan.json");
    let ps = p.to_str().unwrap();
    let out = cli(&sb, w, &["plan", d, "--out", ps, "--author-key", &keys.key("author")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("~ governance: sensitive: changes [governance] (approvers.alice.public_key, approvers.bob.public_key)"), "{shown}");
    assert!(shown.contains(&format!("approvers.alice.public_key: \"{}\" -> \"{}\"", keys.alice, keys.mallory)), "{shown}");
    let out = cli(&sb, w, &["plan", d, "--format", "markdown"]);
    assert!(text(&out.stdout).contains("### Governance"), "{}", text(&out.stdout));
    // The new keys are not approvers in force.
    let out = cli(&sb, w, &["approve", ps, "--key", &keys.key("mallory"), "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not listed in [governance.approvers]"), "{}", text(&out.stderr));
    // Straight from the directory: refused, naming the governance change.
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("governance: changes [governance]"), "{}", text(&out.stderr));
    // A forged plan claiming the new approvers are in force, re-signed by
    // its author and approved by the new keys, is refused by apply.
    let mut forged: Plan = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let desired = providers::kinds::desired_model(&schema::load(&dir).unwrap());
    forged.governance = Some(engine::governance::trust::review(&desired.governance, None));
    let author = ed25519_dalek::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(keys.key("author")).unwrap()).unwrap();
    engine::governance::sign_as_author(&mut forged, &author);
    std::fs::write(&p, engine::render::json(&forged)).unwrap();
    for k in ["mallory", "eve"] {
        let out = cli(&sb, w, &["approve", ps, "--key", &keys.key(k), "--dir", d]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = cli(&sb, w, &["apply", ps, "--dir", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("plan is stale"), "{}", text(&out.stderr));
    let after: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.join("tenantctl.trust.json")).unwrap()).unwrap();
    assert_eq!(after, trust, "the trust root did not move");

    // Rotation: the approvers in force approve the change; then it is in force.
    let (shown, applied) = approved_apply(&sb, w, d, &keys, &["alice", "bob"]);
    assert!(shown.contains("~ governance: sensitive"), "{shown}");
    assert!(applied.contains("Recorded the approved [governance] as the trust root"), "{applied}");
    let rotated: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.join("tenantctl.trust.json")).unwrap()).unwrap();
    assert_eq!(rotated["governance"]["approvers"]["alice"]["public_key"], keys.mallory.as_str());
    assert_eq!(rotated["first_use"], false);
    assert_eq!(rotated["approved_by"], serde_json::json!(["alice", "bob"]));
    let out = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_with_a_second_key_cannot_act_alone() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    // approvals_required = 1 without a stated reason: a located error.
    let work = scratch_with(|t| t.replace("approvals_required = 2", "approvals_required = 1").replace(ALICE, &keys.alice).replace(BOB, &keys.bob).replace(CAROL, &keys.author));
    let w = work.path();
    let dir = w.join("desired-state");
    let d = dir.to_str().unwrap();
    let out = cli(&sb, w, &["validate", d]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("unattended-required") && err.contains("tenant.toml:13:"), "{err}");
    // With a reason it validates, with a warning.
    let tenant = dir.join("tenant.toml");
    let t = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, t.replace("approvals_required = 1", "approvals_required = 1\nunattended = \"lab tenant\"")).unwrap();
    let out = cli(&sb, w, &["validate", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("unattended: lab tenant"), "{}", text(&out.stderr));
    // An author key listed nowhere cannot author a sensitive plan, even
    // when one approval would do: a second key of one's own is not an author.
    let p = w.join("plan.json");
    let ps = p.to_str().unwrap();
    let out = cli(&sb, w, &["plan", d, "--out", ps, "--author-key", &keys.key("mallory")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unlisted = "is not listed in [governance.authors] or [governance.approvers] in force";
    let out = cli(&sb, w, &["approve", ps, "--key", &keys.key("alice"), "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(unlisted), "{}", text(&out.stderr));
    let out = cli(&sb, w, &["apply", ps, "--dir", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(unlisted), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}
