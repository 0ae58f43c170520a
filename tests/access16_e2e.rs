//! Issue 16, access packages' leftovers (access16), through the binary
//! against the sandbox:
//!
//! * export: a policy's stage names its extension by the key the
//!   catalog's export gave that extension, numbered where two display
//!   names slug alike (`Notify HR`, `Notify-HR`), so the export re-plans
//!   empty.

mod common;

use std::path::Path;

use common::gov::{edit_file, run};
use common::kind::*;
use common::*;

const FILE: &str = "access-packages.toml";

fn d(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A request extension of the example's catalog named `name`, under `key`.
fn extension(key: &str, name: &str, kind: &str) -> String {
    format!(
        "\n[access_catalog.guest-access.custom_workflow_extensions.{key}]\ndisplay_name = \"{name}\"\ntype = \"{kind}\"\nsubscription_id = \"38ab2ccc-3747-4567-b36b-9478f5602f0d\"\nresource_group_name = \"governance\"\nlogic_app_workflow_name = \"elm-{key}\"\n"
    )
}

/// A stage of the example package's policy calling `extension`.
fn stage(stage: &str, extension: &str) -> String {
    format!("\n[[access_package.fabrikam-audit.policies.external.custom_extension_stages]]\nstage = \"{stage}\"\nextension = \"{extension}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_exports_its_extension_by_the_catalogs_numbered_key() {
    let sb = sandbox().await;
    let work = scratch_without_approvals();
    let (root, dir) = (work.path(), work.path().join("desired-state"));
    let dd = d(&dir);
    // Two names with one slug; the stage calls the second in the
    // catalog's (lowercased name) order, which its export numbers.
    let hooks = extension("hr-one", "Notify HR", "request") + &extension("hr-two", "Notify-HR", "request") + &stage("assignmentRequestGranted", "hr-two");
    edit_file(&dir, FILE, |t| t + &hooks);
    let (code, out) = run(&sb, root, &["apply", dd, "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&sb, root, &["plan", dd, "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "converged: {out}");

    let (tmp, exported) = export_tenant(&sb);
    let e = load_ok(&exported);
    let catalog = e.access_catalog.values().find(|c| c.value.display_name == "Guest access").expect("the catalog is exported");
    let keys: Vec<(String, String)> = catalog.value.custom_workflow_extensions.iter().flatten().map(|(k, x)| (k.clone(), x.display_name.clone())).collect();
    assert_eq!(keys, vec![("notify-hr".to_string(), "Notify HR".to_string()), ("notify-hr-2".to_string(), "Notify-HR".to_string())]);
    let pkg = e.access_package.values().find(|p| p.value.display_name == "Fabrikam audit").expect("the package is exported");
    let pol = pkg.value.policies.values().next().expect("its policy");
    let got: Vec<(&str, &str)> = pol.custom_extension_stages.iter().map(|s| (s.stage.as_str(), s.extension.as_str())).collect();
    assert_eq!(got, vec![("assignmentRequestGranted", "notify-hr-2")], "the stage names `Notify-HR` by its exported key");
    assert_export_replans_empty(&client(&sb), &tmp, &exported).await;
    sb.shutdown().await.expect("the sandbox stops");
}
