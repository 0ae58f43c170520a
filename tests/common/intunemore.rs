//! Set-up shared by the tests of the intunemore kinds (platform scripts,
//! remediations, enrollment, Intune RBAC): the example tenant in a scratch
//! directory with no approvals and `kind` pruned, plus one file of that
//! kind; and export then re-plan.

use std::path::{Path, PathBuf};

use engine::{Action, Ledger, Plan};

/// The example in `<tmp>/desired-state`, approvals off, `kind` pruned,
/// and `file` (relative to desired-state) holding `text`.
pub fn scratch_kind(kind: &str, file: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = super::scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", &format!("approvals_required = 0\nunattended = \"tests of the {kind} kind\""))
            .replace("kinds = [\"device_configuration\"", &format!("kinds = [\"{kind}\", \"device_configuration\""))
    });
    let dst = dir.path().join("desired-state");
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
    match schema::load(dir) {
        Ok(s) => s,
        Err(schema::LoadError::Invalid(d)) => panic!("{} does not load:\n{d}", dir.display()),
        Err(e) => panic!("{} does not load: {e}", dir.display()),
    }
}

/// The diagnostics of a directory that must not load.
pub fn errors(dir: &Path) -> schema::Diagnostics {
    match schema::load(dir) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    }
}

/// The changes to `address`: action and the fields they touch.
pub fn changes(p: &Plan, address: &str) -> Vec<(Action, Vec<String>)> {
    p.changes.iter().filter(|c| c.address.to_string() == address).map(|c| (c.action, c.fields.iter().map(|f| f.field.clone()).collect())).collect()
}

/// The id `address` was created with.
pub fn id_of(ledger: &Ledger, address: &str) -> String {
    ledger.id(&address.parse().unwrap()).unwrap_or_else(|| panic!("{address} is not in the ledger")).to_string()
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
