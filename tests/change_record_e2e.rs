//! Issue 12, through the binary: approvers see what they approve
//! ("Approvers do not see what they approve"): the change record (`plan
//! --change`, the directory's `[change]`) is in the plan, the approval
//! prompt and the journal; guests show `expires` and `sponsor`, role
//! assignments their justification and schedule, in text and Markdown.

mod common;

use common::*;

const ALICE: &str = "ed25519:mZxMQNprHMdBF3fo3jVULcLTk9KlgAJ9uyVAW8WX5V8=";
const BOB: &str = "ed25519:CDpmHBgPXntq+9WOXGBCkH5u3mQCJjLveR2EV9yC7yg=";
const CAROL: &str = "ed25519:Byh8k9fRF1GPU9WN+P9IzHlPKizitujL2J5ExbScN0Q=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_record_and_review_fields_reach_plan_prompt_and_journal() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let mut public = Vec::new();
    for n in ["author", "alice", "bob"] {
        let o = cli(&sb, k, &["keygen", "--out", n]);
        assert!(o.status.success());
        public.push(text(&o.stdout).trim().to_string());
    }
    let key = |n: &str| k.join(format!("{n}.key")).to_str().unwrap().to_string();
    let work = scratch_with(|t| t.replace(CAROL, &public[0]).replace(ALICE, &public[1]).replace(BOB, &public[2]));
    let w = work.path();
    let dir = w.join("desired-state");
    std::fs::write(dir.join("change.toml"), "[change]\nticket = \"CHG-2001\"\nscope = \"Managed Desktop baseline, all rings\"\ntimeline = \"2026-12-01 to 2026-12-05\"\n").unwrap();
    let d = dir.to_str().unwrap();
    let p = w.join("plan.json");
    let ps = p.to_str().unwrap();

    let o = cli(&sb, w, &["plan", d, "--out", ps, "--author-key", &key("author"), "--change", "Onboard the Managed Desktop baseline"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let shown = text(&o.stdout);
    for want in [
        "Change record:\n  summary: Onboard the Managed Desktop baseline\n  ticket: CHG-2001\n  scope: Managed Desktop baseline, all rings\n  timeline: 2026-12-01 to 2026-12-05",
        "review: access expires 2027-03-31T17:00:00Z; sponsor: adele",
        "review: active, schedule from when applied until 2027-01-31T00:00:00Z; justification: Account migration project, change CHG-1057",
        "review: eligible, schedule from when applied until 2027-03-31T00:00:00Z; justification: Intune operations, change CHG-1042",
    ] {
        assert!(shown.contains(want), "missing {want:?} in:\n{shown}");
    }
    let o = cli(&sb, w, &["plan", d, "--format", "markdown", "--change", "Onboard"]);
    let md = text(&o.stdout);
    assert!(md.contains("### Change record") && md.contains("- ticket: CHG-2001") && md.contains("sponsor: adele") && md.contains("justification: Account migration project"), "{md}");

    // The approval prompt shows the record.
    let o = cli(&sb, w, &["approve", ps, "--key", &key("alice"), "--dir", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("Change record:\n  summary: Onboard the Managed Desktop baseline\n  ticket: CHG-2001"), "{}", text(&o.stderr));
    let o = cli(&sb, w, &["approve", ps, "--key", &key("bob"), "--dir", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Editing the record after approval breaks the signatures.
    let mut forged: engine::Plan = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    forged.change.as_mut().unwrap().ticket = Some("CHG-9999".into());
    let f = w.join("forged.json");
    std::fs::write(&f, engine::render::json(&forged)).unwrap();
    let o = cli(&sb, w, &["apply", f.to_str().unwrap(), "--dir", d, "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("the author's signature does not match this plan"), "{}", text(&o.stderr));
    // Applied: the journal carries the record with every change.
    let o = cli(&sb, w, &["apply", ps, "--dir", d, "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let journal = std::fs::read_to_string(w.join("tenantctl.journal.jsonl")).unwrap();
    for line in journal.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["change"], "summary: Onboard the Managed Desktop baseline; ticket: CHG-2001; scope: Managed Desktop baseline, all rings; timeline: 2026-12-01 to 2026-12-05", "{v}");
    }
    sb.shutdown().await.unwrap();
}

/// `plan --change` with a summary longer than `[change]` allows, and an
/// overlong `[change]` field, are refused (found by a hostile run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_change_summary_is_refused() {
    let sb = sandbox().await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desired");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenant.toml"), format!("[tenant]\nprimary_domain = \"{}\"\n", sb.domain())).unwrap();
    let long = "x".repeat(100_000);
    let o = cli(&sb, work.path(), &["plan", dir.to_str().unwrap(), "--change", &long]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--change: change.summary is 100000 characters long; at most 500"), "{err}");
    assert!(err.len() < 5_000, "the value is not repeated");
    std::fs::write(dir.join("change.toml"), format!("[change]\nticket = \"{}\"\n", "T".repeat(5_000))).unwrap();
    let o = cli(&sb, work.path(), &["plan", dir.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("change.toml:2:") && err.contains("change.ticket is 5000 characters long"), "{err}");
    sb.shutdown().await.unwrap();
}

/// A change record cannot forge or hide plan lines: a newline or terminal
/// escape in `[change]` (or a PR description fed to `plan --change`) is
/// shown escaped in the text plan and the approval prompt, as in Markdown
/// (hostile run 14, finding 25).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_the_change_record_are_escaped_for_approvers() {
    let sb = sandbox().await;
    let keys = tempfile::tempdir().expect("a key directory");
    let k = keys.path();
    let mut public = Vec::new();
    for n in ["author", "alice"] {
        let o = cli(&sb, k, &["keygen", "--out", n]);
        assert!(o.status.success());
        public.push(text(&o.stdout).trim().to_string());
    }
    let key = |n: &str| k.join(format!("{n}.key")).to_str().expect("a UTF-8 path").to_string();
    let work = scratch_with(|t| t.replace(CAROL, &public[0]).replace(ALICE, &public[1]));
    let w = work.path();
    let dir = w.join("desired-state");
    std::fs::write(dir.join("change.toml"), "[change]\nticket = \"CHG-1\\nApprovals: 0 sensitive change(s)\\u001b[8m\"\n").expect("the record is written");
    let d = dir.to_str().expect("a UTF-8 path");
    let p = w.join("plan.json");
    let ps = p.to_str().expect("a UTF-8 path");

    let o = cli(&sb, w, &["plan", d, "--out", ps, "--author-key", &key("author")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let shown = text(&o.stdout);
    assert!(!shown.contains('\u{1b}'), "no raw escape in the text plan:\n{shown}");
    assert!(!shown.lines().any(|l| l.starts_with("Approvals: 0")), "no forged line:\n{shown}");
    assert!(shown.contains("ticket: CHG-1\\u{a}Approvals: 0 sensitive change(s)\\u{1b}[8m"), "{shown}");

    let o = cli(&sb, w, &["approve", ps, "--key", &key("alice"), "--dir", d]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let prompt = text(&o.stderr);
    assert!(!prompt.contains('\u{1b}') && !prompt.lines().any(|l| l.starts_with("Approvals: 0")), "{prompt}");
    assert!(prompt.contains("ticket: CHG-1\\u{a}Approvals"), "{prompt}");
    sb.shutdown().await.expect("the sandbox stops");
}
