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
    // approve with the target's ledger (TENANTCTL_LEDGER) refuses it
    // already (hostile 12 #12); without one, apply is what refuses.
    let out = cli(&sb, w, &["approve", ps, "--key", &keys.key("mallory"), "--dir", d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("claims another governance in force"), "{}", text(&out.stderr));
    for k in ["mallory", "eve"] {
        let out = command(&sb, w).env_remove("TENANTCTL_LEDGER").args(["approve", ps, "--key", &keys.key(k), "--dir", d]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = cli(&sb, w, &["apply", ps, "--dir", d, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("plan is stale"), "{}", text(&out.stderr));
    let after: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(w.join("tenantctl.trust.json")).unwrap()).unwrap();
    assert_eq!(after, trust, "the trust root did not move");

    // Rotation: the approvers in force approve the change; then it is in force.
    let out = cli(&sb, w, &["plan", d, "--out", ps, "--author-key", &keys.key("author"), "--change", "Rotate the approvers"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for a in ["alice", "bob"] {
        let out = cli(&sb, w, &["approve", ps, "--key", &keys.key(a), "--dir", d]);
        assert!(out.status.success(), "{a}: {}", text(&out.stderr));
    }
    let out = cli(&sb, w, &["apply", ps, "--dir", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let applied = text(&out.stderr);
    assert!(shown.contains("~ governance: sensitive"), "{shown}");
    assert!(applied.contains("Recorded the approved [governance] as the trust root"), "{applied}");
    // The approvers this plan removes are named as the approvers in force
    // that they were, and the journal's trust-root line carries the plan's
    // change record (hostile run 21, finding 6).
    assert!(!applied.contains("a key no approver in force holds"), "{applied}");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    let rotation = journal.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).rfind(|l| l["action"] == "trust-root").expect("a trust-root line");
    assert!(rotation["change"].as_str().is_some_and(|c| c.contains("Rotate the approvers")), "{rotation}");
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
    // ... and `0` (no approvals at all) is not silent either.
    let zero = scratch_with(|t| t.replace("approvals_required = 2", "approvals_required = 0"));
    let out = cli(&sb, zero.path(), &["validate", zero.path().join("desired-state").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unattended-required") && text(&out.stderr).contains("tenant.toml:13:"), "{}", text(&out.stderr));
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

/// The trust root sits beside the ledger, for a real tenant in the
/// desired-state folder a pull request changes: deleting it (to get trust
/// on first use for new approvers) or editing it (to swap approvers) is
/// refused, naming the rule; re-adopting is an explicit, warned and
/// journalled act; inside a git working tree every read warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_edited_trust_root_is_refused_and_readopted_only_on_purpose() {
    let sb = sandbox().await;
    let keys = Keys::new(&sb);
    let work = scratch_with(|t| t.replace(ALICE, &keys.alice).replace(BOB, &keys.bob).replace(CAROL, &keys.author));
    let w = work.path();
    let dir = w.join("desired-state");
    let d = dir.to_str().unwrap();
    let trust_file = w.join("tenantctl.trust.json");
    let (_, applied) = approved_apply(&sb, w, d, &keys, &["alice", "bob"]);
    assert!(!applied.contains("inside the git working tree"), "{applied}");
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    let recorded: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter(|l| l["action"] == "trust-root").collect();
    assert_eq!(recorded.len(), 1, "the first-use recording is journalled: {journal}");
    assert_eq!(recorded[0]["outcome"], "first-use");
    let original = std::fs::read_to_string(&trust_file).unwrap();

    // Deleted, with mallory's and eve's keys put in desired state: no
    // silent first use, for plan, apply and reconcile alike.
    std::fs::remove_file(&trust_file).unwrap();
    let tenant = dir.join("tenant.toml");
    let t = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, t.replace(&keys.alice, &keys.mallory).replace(&keys.bob, &keys.eve)).unwrap();
    let missing = "refusing: the governance trust root";
    for args in [vec!["plan", d], vec!["apply", d, "--auto-approve"], vec!["reconcile", d, "--once", "--self-heal"]] {
        let o = cli(&sb, w, &args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(missing) && err.contains("is missing, but the journal shows one was recorded") && err.contains("tenantctl governance adopt"), "{args:?}: {err}");
        assert!(!trust_file.exists(), "{args:?} recorded nothing");
    }
    // Edited to swap the approvers: refused too.
    std::fs::write(&trust_file, original.replace(&keys.alice, &keys.mallory)).unwrap();
    let o = cli(&sb, w, &["plan", d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is not the one recorded at") && text(&o.stderr).contains("approvers cannot be swapped by editing it"), "{}", text(&o.stderr));
    // Restored: the governance change is sensitive again, as before.
    std::fs::write(&trust_file, &original).unwrap();
    let o = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("governance: changes [governance]"), "{}", text(&o.stderr));
    // An intact trust root is never adopted over.
    let o = cli(&sb, w, &["governance", "adopt", d, "--reason", "taking over"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("a trust root is recorded and intact"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&trust_file).unwrap(), original);
    // Lost for real: re-adopting is explicit, needs a reason, and is loud and journalled.
    std::fs::remove_file(&trust_file).unwrap();
    std::fs::write(&tenant, std::fs::read_to_string(&tenant).unwrap().replace(&keys.mallory, &keys.alice).replace(&keys.eve, &keys.bob)).unwrap();
    let o = cli(&sb, w, &["governance", "adopt", d]);
    assert_ne!(o.status.code(), Some(0), "a reason is required");
    let o = cli(&sb, w, &["governance", "adopt", d, "--reason", "trust root lost with the runner's disk; approvers checked by CAB-42"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("WARNING: re-adopting desired [governance] as the trust root"), "{}", text(&o.stderr));
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(journal.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "trust-root");
    assert_eq!(last["outcome"], "adopted");
    assert!(last["note"].as_str().unwrap().contains("CAB-42"), "{last}");
    let o = cli(&sb, w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("first use"), "{}", text(&o.stderr));

    // In a git working tree (the desired-state repository): warned.
    std::fs::create_dir(w.join(".git")).unwrap();
    let o = cli(&sb, w, &["plan", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is inside the git working tree") && text(&o.stderr).contains("azurerm"), "{}", text(&o.stderr));
    sb.shutdown().await.unwrap();
}

/// Moving the state (another `--ledger`, a copied folder, another `[state]`
/// prefix) left no trust root behind it, and trust on first use then took
/// whatever desired `[governance]` said (found by a hostile run). First use
/// over a tenant that already holds the declared objects is refused;
/// adopting governance for it is done on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_over_objects_the_tenant_already_holds_is_refused() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let w = work.path();
    let d = w.join("desired-state");
    let d = d.to_str().unwrap();
    // A fresh tenant: first use is trusted, loudly.
    let out = cli(&sb, w, &["apply", d, "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same desired state with its state somewhere else.
    let moved = w.join("elsewhere").join("x.lock");
    let out = cli(&sb, w, &["apply", d, "--auto-approve", "--ledger", moved.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("state was moved or lost") && err.contains("governance adopt"), "{err}");
    assert!(!moved.with_extension("trust.json").exists(), "no trust root was recorded");
    // Adopted on purpose, it applies (nothing to change).
    let out = cli(&sb, w, &["governance", "adopt", d, "--reason", "state moved to a new ledger", "--ledger", moved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&sb, w, &["apply", d, "--auto-approve", "--ledger", moved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sb.shutdown().await.unwrap();
}
