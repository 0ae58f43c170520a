//! Set-up shared by the app and graph_object tests (`#[path]`-included):
//! the example tenant in a scratch directory, needing no approvals, with
//! pruning on for the kinds under test and one extra file.

#![allow(dead_code)]

use engine::Action;

/// The example in a scratch directory with `file` = `text` beside it,
/// no approvals needed, and pruning on for `kinds`.
pub fn scratch(file: &str, text: &str, kinds: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let list: String = kinds.iter().map(|k| format!("\"{k}\", ")).collect();
    let dir = super::scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of the app and graph_object kinds\"")
            .replace("kinds = [\"device_configuration\"", &format!("kinds = [{list}\"device_configuration\""))
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join(file), text).unwrap();
    (dir, dst)
}

pub fn load(dir: &std::path::Path) -> schema::DesiredState {
    match schema::load(dir) {
        Ok(s) => s,
        Err(schema::LoadError::Invalid(d)) => panic!("{} does not load:\n{d}", dir.display()),
        Err(e) => panic!("{} does not load: {e}", dir.display()),
    }
}

/// The load's diagnostics (it must fail).
pub fn errors(dir: &std::path::Path) -> schema::Diagnostics {
    match schema::load(dir) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    }
}

/// (action, fields) of the plan's changes of `address`.
pub fn app_changes(p: &engine::Plan, address: &str) -> Vec<(Action, Vec<String>)> {
    p.changes.iter().filter(|c| c.address.to_string() == address).map(|c| (c.action, c.fields.iter().map(|f| f.field.clone()).collect())).collect()
}

/// Plans `address` from `dst` as one create, applies it, and returns the
/// new app's id and its live form with assignments (beta).
pub async fn create_app(c: &providers::graph::GraphClient, dst: &std::path::Path, ledger: &mut engine::Ledger, address: &str) -> (String, serde_json::Value) {
    let p = super::plan(c, &load(dst), ledger).await;
    assert_eq!(app_changes(&p, address).iter().map(|c| c.0).collect::<Vec<_>>(), [Action::Create]);
    super::apply(c, &p, ledger).await;
    let id = ledger.id(&address.parse().expect("an address")).expect("the app is in the ledger").to_string();
    let live = c.beta().get_json(&format!("/deviceAppManagement/mobileApps/{id}?$expand=assignments")).await.expect("the app reads back");
    (id, live)
}

/// A live app's assignments as (intent, target type, group id) sorted.
pub fn intents(app: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = app["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["intent"].as_str().unwrap_or_default().to_string(),
                a["target"]["@odata.type"].as_str().unwrap_or_default().trim_start_matches("#microsoft.graph.").to_string(),
                a["target"]["groupId"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Exports the sandbox's tenant (with `--from`, when given) and plans the
/// export against it: the plan must be empty. Returns the exported files.
pub async fn export_reimports_empty(sb: &sandbox::SandboxHandle, c: &providers::graph::GraphClient, from: Option<&std::path::Path>) -> std::collections::BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported");
    let mut args = vec!["export", "--out", out.to_str().unwrap()];
    let from_s = from.map(|f| f.to_str().unwrap().to_string());
    if let Some(f) = &from_s {
        args.push("--from");
        args.push(f);
    }
    let o = super::cli(sb, tmp.path(), &args);
    assert!(o.status.success(), "export failed:\n{}\n{}", super::text(&o.stdout), super::text(&o.stderr));
    let files = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap()).filter(|e| e.path().is_file()).map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read_to_string(e.path()).unwrap())).collect();
    let exported = load(&out);
    let lock = ["tenantctl.lock".to_string()]
        .into_iter()
        .map(|n| tmp.path().join(n))
        .find(|p| p.exists())
        .or_else(|| walk_for_lock(tmp.path()))
        .expect("the export wrote a ledger");
    let ledger = engine::Ledger::parse(&std::fs::read_to_string(lock).unwrap()).unwrap();
    let again = super::plan(c, &exported, &ledger).await;
    super::assert_only_adoptions(&again);
    assert!(again.unknown.is_empty(), "{:#?}", again.unknown);
    files
}

fn walk_for_lock(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = walk_for_lock(&p) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == "tenantctl.lock") {
            return Some(p);
        }
    }
    None
}
