//! The Graph application permissions the README documents are exactly what
//! tenantctl needs: the example tenant's apply, plan, drift and export run
//! against a sandbox granting only the README's list, every request they
//! make is covered by Microsoft's permission table for that list, and
//! taking one permission away fails with an error that names it.

mod common;

use common::*;
use sandbox::{Sandbox, SandboxConfig, SandboxHandle};

/// The permissions listed in the README's generated table.
fn readme_permissions() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- permissions:begin")
        .expect("README has the generated permissions table");
    let end = readme
        .find("<!-- permissions:end -->")
        .expect("the table ends");
    let mut out: Vec<String> = readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

async fn sandbox_granting(permissions: &[String]) -> SandboxHandle {
    let domain = example()
        .tenant
        .map(|t| t.value.primary_domain)
        .unwrap_or_else(|| "contoso.onmicrosoft.com".into());
    Sandbox::start(
        SandboxConfig::in_memory()
            .with_domain(domain)
            .with_permissions(permissions.to_vec()),
    )
    .await
    .expect("sandbox starts")
}

#[test]
fn the_readme_lists_the_generated_permissions() {
    let mut generated = graph_metadata::metadata().documented_permissions().to_vec();
    generated.sort();
    assert_eq!(
        readme_permissions(),
        generated,
        "README.md's permission table is out of date with graph-metadata"
    );
}

/// The whole table, requests included, is generated: a kind that adds
/// requests changes it (`TENANTCTL_BLESS=1` rewrites it in README.md).
#[test]
fn the_readme_table_names_every_request_each_permission_grants() {
    let path = repo().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let begin = readme.find("<!-- permissions:begin").expect("README has the generated permissions table");
    let start = begin + readme[begin..].find('\n').expect("marker line ends") + 1;
    let end = readme.find("<!-- permissions:end -->").expect("the table ends");
    let table = graph_metadata::metadata().permission_table();
    if std::env::var_os("TENANTCTL_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    assert_eq!(readme[start..end], table, "README.md's permission table is out of date: TENANTCTL_BLESS=1 cargo test --test permissions_e2e");
    for request in ["GET /identity/conditionalAccess/namedLocations", "POST /deviceManagement/configurationPolicies", "POST /identityGovernance/entitlementManagement/assignmentRequests"] {
        let (method, path) = request.split_once(' ').unwrap();
        assert!(table.contains(&format!("{method} {path}`")), "{request} is in the table:\n{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_with_exactly_the_documented_permissions() {
    let granted = readme_permissions();
    let sb = sandbox_granting(&granted).await;
    assert_eq!(sb.permissions(), granted);
    let dir = scratch_without_approvals();
    let d = dir.path().join("desired-state");
    let d = d.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = cli(&sb, work.path(), &["apply", "--auto-approve", d]);
    assert!(
        out.status.success(),
        "apply with the documented permissions:\n{}",
        text(&out.stderr)
    );
    let out = cli(&sb, work.path(), &["plan", "--detailed-exitcode", d]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan after apply:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = cli(
        &sb,
        work.path(),
        &["drift", d, "--now", "2026-11-23T12:00:00Z"],
    );
    assert!(
        !text(&out.stderr).contains("permission denied"),
        "drift:\n{}",
        text(&out.stderr)
    );
    let exported = work.path().join("exported");
    let out = cli(
        &sb,
        work.path(),
        // Its own ledger: the one `cli` names is the applied directory's.
        &["export", "--out", exported.to_str().unwrap(), "--ledger", work.path().join("exported.lock").to_str().unwrap()],
    );
    // Whether the export validates is export's business; it must have read
    // everything it asked for.
    assert!(
        !text(&out.stderr).contains("permission denied"),
        "export:\n{}",
        text(&out.stderr)
    );

    let counts = sb.request_counts();
    assert_eq!(
        counts.statuses.get(&403),
        None,
        "no request was refused: {counts:#?}"
    );
    let m = graph_metadata::metadata();
    let mut uncovered = Vec::new();
    for pattern in counts.requests.keys().chain(counts.batch_items.keys()) {
        let (method, path) = pattern.split_once(' ').unwrap();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
        if path.contains("oauth2") || segs == ["$batch"] {
            continue;
        }
        match m.permission_rule(method, &segs) {
            Some(rule) if rule.allows(&granted) => {}
            Some(rule) => uncovered.push(format!(
                "{pattern}: needs one of {:?} and all of {:?}",
                rule.any_of, rule.all_of
            )),
            None => uncovered.push(format!(
                "{pattern}: not in graph-metadata/requests.txt (add it and regenerate)"
            )),
        }
    }
    assert!(
        uncovered.is_empty(),
        "requests tenantctl made that the documented permissions do not cover:\n{}",
        uncovered.join("\n")
    );
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_is_named_in_the_error() {
    // Conditional access writes need Application.Read.All as well.
    let granted: Vec<String> = readme_permissions()
        .into_iter()
        .filter(|p| p != "Application.Read.All")
        .collect();
    let sb = sandbox_granting(&granted).await;
    let dir = scratch_without_approvals();
    let d = dir.path().join("desired-state");
    let work = tempfile::tempdir().unwrap();
    let out = cli(
        &sb,
        work.path(),
        &["apply", "--auto-approve", d.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("conditional_access.")
            && err.contains("permission denied")
            && err.contains("Application.Read.All"),
        "{err}"
    );

    // export reads /domains and must not swallow its failure.
    sb.set_permissions(
        readme_permissions()
            .into_iter()
            .filter(|p| p != "Directory.Read.All"),
    )
    .unwrap();
    let exported = work.path().join("exported");
    let out = cli(
        &sb,
        work.path(),
        // Its own ledger: the one `cli` names is the applied directory's.
        &["export", "--out", exported.to_str().unwrap(), "--ledger", work.path().join("exported.lock").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("permission denied") && err.contains("Directory.Read.All"),
        "{err}"
    );
    sb.shutdown().await.unwrap();
}
