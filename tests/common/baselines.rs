//! Set-up shared by the tests of template-based Settings Catalog policies
//! (security baselines, endpoint security) and Settings Catalog secrets.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The Windows security baseline's name in the sandbox (two versions: 24H2 active, 23H2 superseded).
pub const BASELINE: &str = "Security Baseline for Windows 10 and later";
pub const BASELINE_ACTIVE: &str = "66df8dce-0166-4b82-92f7-1f74e3ca17a3_4";
pub const BASELINE_SUPERSEDED: &str = "66df8dce-0166-4b82-92f7-1f74e3ca17a3_3";

/// The example, applicable without approvals and pruning Settings Catalog
/// policies, plus `policies` as `baselines.toml`.
pub fn scratch(policies: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = super::scratch_with(|t| {
        assert!(t.contains("approvals_required = 2") && t.contains("kinds = [\"device_configuration\""), "the example's governance changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of template-based Settings Catalog policies\"")
            .replace("kinds = [\"device_configuration\"", "kinds = [\"settings_catalog\", \"device_configuration\"")
    });
    let dst = dir.path().join("desired-state");
    std::fs::write(dst.join("baselines.toml"), policies).expect("write the policies");
    (dir, dst)
}

pub fn load(dir: &Path) -> schema::DesiredState {
    schema::load(dir).unwrap_or_else(|e| panic!("the scratch tenant loads: {e}"))
}

/// A live policy's settings (`/settings`, every page).
pub async fn live_settings(c: &providers::graph::GraphClient, id: &str) -> Vec<Value> {
    c.beta().list_all(&format!("/deviceManagement/configurationPolicies/{id}/settings")).await.expect("settings")
}

/// One setting instance of a live policy, by definition id.
pub fn instance<'a>(settings: &'a [Value], id: &str) -> &'a Value {
    settings.iter().map(|s| &s["settingInstance"]).find(|i| i["settingDefinitionId"] == json!(id)).unwrap_or_else(|| panic!("no setting {id}: {settings:#?}"))
}

/// A live policy by ledger address.
pub async fn live_policy(c: &providers::graph::GraphClient, ledger: &engine::Ledger, address: &str) -> (String, Value) {
    let id = ledger.id(&address.parse().expect("an address")).unwrap_or_else(|| panic!("{address} is not in the ledger")).to_string();
    let live = c.beta().get_json(&format!("/deviceManagement/configurationPolicies/{id}")).await.expect("the policy reads");
    (id, live)
}
