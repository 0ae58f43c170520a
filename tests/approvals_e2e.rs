//! Detached approvals through the binary: `approve --detached-out` writes
//! one signature file per approver (so each can commit theirs under
//! `approvals/`), `apply PLAN --approvals-dir` counts the ones made for that
//! plan, and a plan re-made at merge from the same commit and tenant (same
//! author key) hashes the same, so the committed signatures still count;
//! when anything changed they do not, and apply says what needs approving.

mod common;

use std::path::Path;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_approvals_from_a_directory_count_for_the_plan_they_sign() {
    let sb = sandbox().await;
    // alice and bob approve; the plan's author is listed (in place of the example's carol).
    let Keyed { keys, work, alice, .. } = keyed_example(&sb);
    let k = keys.path();
    let w = work.path();
    let d = w.join("desired-state");
    let d = d.to_str().unwrap();
    let key = |n: &str| k.join(format!("{n}.key")).to_str().unwrap().to_string();
    let apply_saved = || cli(&sb, w, &["apply", "plan.json", "--dir", d, "--auto-approve", "--approvals-dir", "approvals"]);
    let plan = |w: &Path| {
        let out = cli(
            &sb,
            w,
            &[
                "plan",
                d,
                "--out",
                "plan.json",
                "--author-key",
                &key("author"),
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    plan(w);
    let before = std::fs::read(w.join("plan.json")).unwrap();

    let out = cli(
        &sb,
        w,
        &[
            "approve",
            "plan.json",
            "--key",
            &key("alice"),
            "--dir",
            d,
            "--detached-out",
            "approvals/alice.sig.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(w.join("plan.json")).unwrap(),
        before,
        "the plan file is left alone"
    );
    let sig: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("approvals/alice.sig.json")).unwrap())
            .unwrap();
    assert!(
        sig["approver"]
            .as_str()
            .is_some_and(|a| a.starts_with("alice")),
        "{sig}"
    );
    assert_eq!(sig["public_key"], alice.as_str());

    // One of two approvals: refused, naming the sensitive changes.
    let out = apply_saved();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("Added 1 approval(s) from approvals")
            && err.contains("needs 2 approval(s)")
            && err.contains("guest.fabrikam-auditor"),
        "{err}"
    );

    let out = cli(
        &sb,
        w,
        &[
            "approve",
            "plan.json",
            "--key",
            &key("bob"),
            "--dir",
            d,
            "--detached-out",
            "approvals/bob.sig.json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The desired state moved on (a new commit): the signatures are for
    // another plan and do not count.
    let guests = w.join("desired-state/guests.toml");
    let original = std::fs::read_to_string(&guests).unwrap();
    std::fs::write(
        &guests,
        original.replace(
            "Jane Doe (Fabrikam audit)",
            "Jane Doe (Fabrikam audit 2027)",
        ),
    )
    .unwrap();
    plan(w);
    let out = apply_saved();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("2 approval(s) in approvals are for another plan") && err.contains("it has 0"),
        "{err}"
    );

    // Back at the approved commit, the merge job's own plan (same author
    // key, same tenant) is the approved one: it applies.
    std::fs::write(&guests, &original).unwrap();
    plan(w);
    let out = apply_saved();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("approved by alice, bob"),
        "{}",
        text(&out.stderr)
    );

    // A damaged signature file is named, with its position.
    std::fs::write(w.join("approvals/broken.sig.json"), "{ not json").unwrap();
    let out = apply_saved();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("broken.sig.json:1:"),
        "{}",
        text(&out.stderr)
    );
    sb.shutdown().await.unwrap();
}
