//! Set-up shared by the per-kind round-trip tests (`tests/<kind>_e2e.rs`):
//! the example tenant in a scratch directory with unattended governance and
//! the kinds under test made sensitive, one extra file of declarations, and
//! the lookups each test makes of the plan and the ledger.

use std::path::{Path, PathBuf};

use engine::{Change, Ledger, Plan};

use super::scratch_with;

/// The example tenant copied to a scratch directory, its governance made
/// unattended (`unattended = "tests of <what>"`) with `kinds` put first in
/// the sensitive kinds, and `text` written to `desired-state/<file>`.
pub fn kind_scratch(kinds: &[&str], what: &str, file: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let listed: String = kinds.iter().map(|k| format!("\"{k}\", ")).collect();
    let dir = scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", &format!("approvals_required = 0\nunattended = \"tests of {what}\""))
            .replace("kinds = [\"device_configuration\"", &format!("kinds = [{listed}\"device_configuration\""))
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join(file), text).expect("the scratch file is written");
    (dir, dst)
}

/// The desired state in `dir`; a test fails with the diagnostics when it
/// does not load.
pub fn load_ok(dir: &Path) -> schema::DesiredState {
    match schema::load(dir) {
        Ok(s) => s,
        Err(schema::LoadError::Invalid(d)) => panic!("{} does not load:\n{d}", dir.display()),
        Err(e) => panic!("{} does not load: {e}", dir.display()),
    }
}

/// The object id the ledger holds for `address`.
pub fn id_of(ledger: &Ledger, address: &str) -> String {
    let parsed = address.parse().unwrap_or_else(|e| panic!("{address} is not an address: {e}"));
    ledger.id(&parsed).unwrap_or_else(|| panic!("{address} is not in the ledger")).to_string()
}

/// The plan's changes to `address`.
pub fn changes_of<'a>(p: &'a Plan, address: &str) -> Vec<&'a Change> {
    p.changes.iter().filter(|c| c.address.to_string() == address).collect()
}

/// The names of the fields a change touches.
pub fn fields(c: &Change) -> Vec<&str> {
    c.fields.iter().map(|f| f.field.as_str()).collect()
}

/// The sandbox's tenant exported by the binary to `<tmp>/exported`; the
/// test fails when export does.
pub fn export_tenant(sb: &sandbox::SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = tmp.path().join("exported");
    let o = super::cli(sb, tmp.path(), &["export", "--out", out.to_str().expect("a UTF-8 path")]);
    assert!(o.status.success(), "export failed:\n{}\n{}", super::text(&o.stdout), super::text(&o.stderr));
    (tmp, out)
}

/// The diagnostics of a desired state that must not load.
pub fn load_errors(dir: &Path) -> schema::Diagnostics {
    match schema::load(dir) {
        Err(schema::LoadError::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    }
}

/// The test fails unless `d` holds an error `code` located in a file named
/// `file` at `line`.
pub fn assert_error_at(d: &schema::Diagnostics, file: &str, code: &str, line: usize) {
    assert!(
        d.errors().any(|e| e.code == code && e.location.as_ref().is_some_and(|l| l.file.ends_with(file) && l.line == line)),
        "no {code} at {file}:{line}:\n{d}"
    );
}

/// The export at `out` (with the ledger export wrote beside it in `tmp`)
/// plans no change against the tenant it came from.
pub async fn assert_export_replans_empty(client: &providers::graph::GraphClient, tmp: &tempfile::TempDir, out: &Path) {
    let exported = load_ok(out);
    let text = std::fs::read_to_string(tmp.path().join("tenantctl.lock")).expect("export writes a ledger");
    let ledger = Ledger::parse(&text).expect("the exported ledger parses");
    let again = super::plan(client, &exported, &ledger).await;
    assert_only_adoptions(&again);
}

/// A plan of an export against the tenant it came from: nothing to send
/// to Graph. What it adopts has no approved record yet, so its controls
/// and grants are ratified whole (nothing sent, sensitive) until the first
/// approved apply records them (gov18); any other change fails the test.
pub fn assert_only_adoptions(p: &Plan) {
    let sent: Vec<_> = p.changes.iter().filter(|c| !engine::governance::ratify::is_ratify(c)).collect();
    assert!(sent.is_empty(), "planning the export is not empty: {sent:#?}");
    for c in &p.changes {
        let why = p.sensitive.get(&c.address).map(String::as_str).unwrap_or_default();
        assert!(why.contains("the ledger records no approved state"), "only adoptions are ratified: {c:#?} {why}");
    }
}

/// `body` patched into the sandbox's stored object `collection/id`
/// directly, as a change made in the portal would be.
pub async fn patch_out_of_band(sb: &sandbox::SandboxHandle, collection: &str, id: &str, body: serde_json::Value) {
    let url = format!("{}/_sandbox/objects/{collection}/{id}", sb.base_url());
    let r = reqwest::Client::new().patch(&url).json(&body).send().await.expect("the sandbox answers");
    assert!(r.status().is_success(), "{collection}/{id}: {}", r.status());
}

/// The addresses the plan deletes.
pub fn deletes_of(p: &Plan) -> Vec<String> {
    p.changes.iter().filter(|c| c.action == engine::Action::Delete).map(|c| c.address.to_string()).collect()
}
