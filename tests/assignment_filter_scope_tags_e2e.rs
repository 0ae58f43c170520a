//! Scope tags on assignment filters (Graph's `roleScopeTags`, tag ids as
//! strings), through the binary: declared by key (or `default`), written
//! as ids on create and update, compared (a tag changed in Intune is
//! drift), exported by the scope tags' keys (re-imported empty), and the sandbox refuses a tag id the tenant does not have.

mod common;

use common::*;
use engine::Ledger;
use serde_json::{json, Value};

fn filters(tags: &str) -> String {
    format!(
        r#"
[scope_tag.helpdesk]
display_name = "Helpdesk"
description = "Objects the helpdesk manages"

[assignment_filter.corporate-laptops]
display_name = "Corporate laptops"
platform = "windows10AndLater"
rule = '(device.deviceOwnership -eq "Corporate")'
scope_tags = {tags}
"#
    )
}

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = scratch_with(|t| {
        assert!(t.contains("approvals_required = 2"), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of filter scope tags\"")
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("filters.toml"), text).unwrap();
    (dir, dst)
}

fn run(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = cli(sb, cwd, args);
    assert!(out.status.success(), "{args:?} failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

fn ledger_of(dir: &std::path::Path) -> Ledger {
    Ledger::parse(&std::fs::read_to_string(dir.join("tenantctl.lock")).expect("a ledger")).expect("the ledger parses")
}

fn filter_changes(plan: &Value) -> Vec<Value> {
    plan["changes"].as_array().into_iter().flatten().filter(|c| c["address"] == json!("assignment_filter.corporate-laptops")).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filters_scope_tags_are_written_compared_and_exported() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (dir, dst) = scratch(&filters(r#"["helpdesk", "default"]"#));
    let cwd = dir.path();
    let d = dst.to_str().unwrap();
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let ledger = ledger_of(cwd);
    let id = ledger.id(&"assignment_filter.corporate-laptops".parse().unwrap()).unwrap().to_string();
    let tag = ledger.id(&"scope_tag.helpdesk".parse().unwrap()).unwrap().to_string();
    let live = c.beta().get_json(&format!("/deviceManagement/assignmentFilters/{id}")).await.unwrap();
    let mut tags: Vec<&str> = live["roleScopeTags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    tags.sort();
    let mut want = vec!["0", tag.as_str()];
    want.sort();
    assert_eq!(tags, want, "{live:#}");
    let out = cli(&sb, cwd, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Declared change: only the built-in tag.
    std::fs::write(dst.join("filters.toml"), filters(r#"["default"]"#)).unwrap();
    let (p, _) = run(&sb, cwd, &["plan", d, "--format", "json"]);
    let p: Value = serde_json::from_str(&p).unwrap();
    let changes = filter_changes(&p);
    assert_eq!(changes.len(), 1, "{p:#}");
    assert_eq!(changes[0]["action"], json!("update"));
    assert_eq!(changes[0]["fields"][0]["field"], json!("roleScopeTags"), "{:#}", changes[0]);
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let live = c.beta().get_json(&format!("/deviceManagement/assignmentFilters/{id}")).await.unwrap();
    assert_eq!(live["roleScopeTags"], json!(["0"]));

    // A tag added in Intune is drift.
    let patched = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::PATCH, format!("/deviceManagement/assignmentFilters/{id}")).json(json!({"roleScopeTags": ["0", tag]}))).await;
    assert!(patched.is_ok(), "{patched:?}");
    let out = cli(&sb, cwd, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("roleScopeTags"), "{}", text(&out.stdout));
    run(&sb, cwd, &["apply", d, "--auto-approve"]);

    // Export: the filter's tags by the keys the scope tags export under
    // (the built-in tag alone declares none); re-imports empty.
    std::fs::write(dst.join("filters.toml"), filters(r#"["helpdesk", "default"]"#)).unwrap();
    run(&sb, cwd, &["apply", d, "--auto-approve"]);
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("exported");
    run(&sb, tmp.path(), &["export", "--out", out_dir.to_str().unwrap()]);
    let exported = std::fs::read_to_string(out_dir.join("assignment-filters.toml")).unwrap();
    assert!(exported.contains("scope_tags = [\n    \"default\",\n    \"helpdesk\",\n]") || exported.contains("scope_tags = [\"default\", \"helpdesk\"]"), "{exported}");
    let tags = std::fs::read_to_string(out_dir.join(providers::kinds::registry::provider(schema::Kind::ScopeTag).export_file)).unwrap();
    assert!(tags.contains("[scope_tag.helpdesk]") && !tags.contains("helpdesk-2"), "the same key: {tags}");
    let state = schema::load(&out_dir).expect("the export loads");
    assert_eq!(state.assignment_filter["corporate-laptops"].value.scope_tags, ["default", "helpdesk"]);
    let again = plan(&c, &state, &ledger_of(tmp.path())).await;
    assert_only_adoptions(&again);

    // The sandbox refuses a tag the tenant does not have.
    let refused = c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::PATCH, format!("/deviceManagement/assignmentFilters/{id}")).json(json!({"roleScopeTags": ["424242"]}))).await;
    assert!(refused.is_err_and(|e| format!("{e:?}").contains("424242")));
    sb.shutdown().await.unwrap();
}

#[test]
fn an_undeclared_scope_tag_on_a_filter_is_a_located_error() {
    let (_dir, dst) = scratch(&filters(r#"["nosuchtag"]"#));
    let err = match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    };
    let e = err.errors().find(|d| d.message.contains("nosuchtag")).expect("the reference is refused");
    let loc = e.location.as_ref().expect("located");
    assert!(loc.file.ends_with("filters.toml") && loc.line == 10, "{loc:?}");
}
