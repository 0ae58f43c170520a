//! Set-up shared by the tests of the intunemore kinds (platform scripts,
//! remediations, enrollment, Intune RBAC): the example tenant in a scratch
//! directory with no approvals and `kind` pruned, plus one file of that
//! kind; and export then re-plan.

use std::path::{Path, PathBuf};

use engine::{Action, Ledger, Plan};


/// The example in `<tmp>/desired-state`, approvals off, `kind` pruned,
/// and `file` (relative to desired-state) holding `text`.
pub fn scratch_kind(kind: &str, file: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, dst) = super::kind_scratch(&[kind], &format!("the {kind} kind"), "placeholder.toml", "");
    std::fs::remove_file(dst.join("placeholder.toml")).expect("the placeholder is removed");
    write(&dst, file, text);
    (dir, dst)
}

/// Writes `text` at `file` under `dir`, creating its folder.
pub fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

pub fn load(dir: &Path) -> schema::DesiredState {
    super::load_ok(dir)
}

/// The diagnostics of a directory that must not load.
pub fn errors(dir: &Path) -> schema::Diagnostics {
    super::load_errors(dir)
}

/// The changes to `address`: action and the fields they touch.
pub fn changes(p: &Plan, address: &str) -> Vec<(Action, Vec<String>)> {
    p.changes.iter().filter(|c| c.address.to_string() == address).map(|c| (c.action, c.fields.iter().map(|f| f.field.clone()).collect())).collect()
}

/// `tenantctl export` into `<tmp>/exported`; returns the directory, the
/// export's ledger, and the plan of the export against the tenant (which
/// must be empty).
pub async fn export_and_plan(sb: &sandbox::SandboxHandle, c: &providers::graph::GraphClient, tmp: &Path) -> (PathBuf, Plan) {
    let out = tmp.join("exported");
    let o = super::cli(sb, tmp, &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "export failed:\n{}\n{}", super::text(&o.stdout), super::text(&o.stderr));
    let exported = load(&out);
    let ledger = Ledger::parse(&std::fs::read_to_string(tmp.join("tenantctl.lock")).unwrap()).unwrap();
    let again = super::plan(c, &exported, &ledger).await;
    (out, again)
}

/// The ids of the groups a live Intune object is assigned to.
pub fn assigned_groups(assignments: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = assignments["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"]["groupId"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}
