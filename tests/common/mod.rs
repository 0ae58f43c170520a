//! Shared helpers for end-to-end tests: an in-process sandbox, a Graph
//! client with fast retries, the pipeline as library calls, and the binary.

#![allow(dead_code)]

pub mod azurite;
pub mod kind;
#[allow(unused_imports)]
pub use kind::*;
pub mod gov;
pub mod pending;
#[allow(unused_imports)]
pub use gov::*;
pub mod baselines;
pub mod intunemore;
pub mod gov7b;
pub mod gov9;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use engine::{Ledger, Plan, PlanOptions};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig, RetryPolicy};
use sandbox::{Faults, Sandbox, SandboxConfig, SandboxHandle};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example_dir() -> PathBuf {
    repo().join("desired-state")
}

pub fn example() -> schema::DesiredState {
    schema::load(&example_dir()).expect("the example tenant loads")
}

/// The example tenant copied to a scratch directory (`<tmp>/desired-state`),
/// with `edit` applied to its tenant.toml (where [governance] lives).
pub fn scratch_with(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dst = dir.path().join("desired-state");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(example_dir()).unwrap() {
        let e = e.unwrap();
        if e.path().extension().is_some_and(|x| x == "toml" || x == "ps1") {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    let t = dst.join("tenant.toml");
    let text = edit(std::fs::read_to_string(&t).unwrap());
    std::fs::write(&t, text).unwrap();
    dir
}

/// The example in a scratch directory, needing no approvals: for tests of
/// apply mechanics rather than governance (tests/governance_e2e.rs), so
/// sensitive changes may be applied straight from the directory.
pub fn scratch_without_approvals() -> tempfile::TempDir {
    scratch_with(|t| {
        assert!(t.contains("approvals_required = 2"), "the example's governance section changed shape");
        t.replace("approvals_required = 2", "approvals_required = 0\nunattended = \"tests of apply mechanics, not of approval\"")
    })
}

/// Now as tenantctl and the sandbox see it in this test run: the wall
/// clock moved by `TENANTCTL_CLOCK_OFFSET`, which `.ci/run` sets so the
/// fixtures' fixed dates (the example's guest ends 2027-03-31) keep the
/// meaning they had on 2026-12-02. Dates a test writes into desired state
/// or a ledger are taken from this clock, not the wall.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    schema::clock::now()
}

pub async fn sandbox() -> SandboxHandle {
    let domain = example()
        .tenant
        .map(|t| t.value.primary_domain)
        .unwrap_or_else(|| "contoso.onmicrosoft.com".into());
    Sandbox::start(SandboxConfig::in_memory().with_domain(domain))
        .await
        .expect("sandbox starts")
}

/// Retries and replication waits scaled down so fault tests run quickly.
pub fn fast_retry() -> RetryPolicy {
    let mut r = RetryPolicy::default().scaled(50);
    r.max_attempts = 10;
    r.request_timeout = Duration::from_secs(10);
    r.replication_delays = [50, 100, 200, 400, 800, 1600, 3200]
        .into_iter()
        .map(Duration::from_millis)
        .collect();
    r
}

pub fn client(sb: &SandboxHandle) -> GraphClient {
    let base = sb.base_url();
    let cloud = Cloud::custom(&base, &base).unwrap();
    let mut config = GraphConfig::new(cloud);
    config.retry = fast_retry();
    let credential = Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
    GraphClient::new(config, credential).unwrap()
}

pub fn opts() -> PlanOptions {
    PlanOptions {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    }
}

/// The pipeline up to a plan, as library calls.
pub async fn plan(client: &GraphClient, state: &schema::DesiredState, ledger: &Ledger) -> Plan {
    let desired = providers::kinds::desired_model(state);
    let observed = providers::observe::observe(client, &desired, ledger)
        .await
        .expect("the tenant can be read");
    engine::plan(&desired, &observed, ledger, &opts()).expect("plan")
}

/// Apply a plan with the Graph executor; panics on failed changes.
pub async fn apply(
    client: &GraphClient,
    plan: &Plan,
    ledger: &mut Ledger,
) -> engine::apply::ApplyReport {
    let exec = providers::apply::GraphExecutor::new(client.clone(), |_| None, opts().now)
        .with_create_retry_delay(std::time::Duration::from_millis(50));
    let report = engine::apply::apply(
        plan,
        ledger,
        &exec,
        &engine::apply::ApplyOptions {
            concurrency: 4,
            now: "2026-11-23T12:00:00Z".into(),
        },
        |_, _| {},
    )
    .await;
    assert!(
        report.ok(),
        "apply failed: {:#?}",
        report
            .results
            .iter()
            .filter(|r| r.status != engine::apply::Status::Applied)
            .collect::<Vec<_>>()
    );
    report
}

pub fn faults(f: impl FnOnce(&mut Faults)) -> Faults {
    let mut faults = Faults {
        seed: Some(7),
        ..Faults::default()
    };
    f(&mut faults);
    faults
}

/// The binary, pointed at the sandbox with its credentials, run in `cwd`
/// with a ledger of its own there.
pub fn command(sb: &SandboxHandle, cwd: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"));
    c.current_dir(cwd)
        .env("TENANTCTL_GRAPH_URL", sb.base_url())
        .env("AZURE_TENANT_ID", sb.tenant_id())
        .env("AZURE_CLIENT_ID", sb.client_id())
        .env("AZURE_CLIENT_SECRET", sb.client_secret())
        .env("TENANTCTL_LEDGER", cwd.join("tenantctl.lock"))
        // The sandbox's replication lag in tests is at most 2 s.
        .env("TENANTCTL_REPLICATION_WINDOW", "3")
        .env("NO_COLOR", "1")
        .env_remove("AZURE_AUTHORITY_HOST");
    c
}

/// Start `tenantctl apply` with `args` in `cwd` and kill it (SIGKILL, as an
/// operator's Ctrl-C or a CI timeout would) once its ledger log records the
/// object id of `address`: a create Graph answered, not yet replicated or
/// recorded as applied.
pub fn kill_apply_after_record(sb: &SandboxHandle, cwd: &Path, args: &[&str], address: &str) {
    let err = cwd.join("killed-apply.stderr");
    let mut child = command(sb, cwd).arg("apply").args(args).stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&err).unwrap()).spawn().unwrap();
    let wal = cwd.join("tenantctl.ledger-wal.jsonl");
    let recorded = || std::fs::read_to_string(&wal).is_ok_and(|t| t.lines().any(|l| l.contains("\"op\":\"record\"") && l.contains(address)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !recorded() {
        assert!(std::time::Instant::now() < deadline, "{address} was never recorded");
        // Ended on its own (a loaded machine): the record may have landed
        // between the two looks.
        if child.try_wait().unwrap().is_some() {
            assert!(recorded(), "apply ended before {address} was recorded:\n{}", std::fs::read_to_string(&err).unwrap_or_default());
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `plan --format json` of the example by the binary against the sandbox,
/// with every credential variable of the environment removed and only
/// `vars` set: what the credential chain picks is then up to the test.
pub fn plan_with_credentials(sb: &SandboxHandle, cwd: &Path, vars: &[(&str, String)]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"));
    c.current_dir(cwd)
        .args(["-v", "plan", example_dir().to_str().expect("utf-8 path"), "--format", "json"])
        .env("TENANTCTL_GRAPH_URL", sb.base_url())
        .env("TENANTCTL_LEDGER", cwd.join("tenantctl.lock"))
        .env("TENANTCTL_FORBID_DEFAULT_IMDS", "1")
        .env("NO_COLOR", "1");
    for k in [
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "TENANTCTL_ACCESS_TOKEN",
        "TENANTCTL_CREDENTIAL",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IMDS_ENDPOINT",
        "TENANTCTL_ARC_KEY_DIR",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ] {
        c.env_remove(k);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("tenantctl runs")
}

/// Every live object of the collections the tests create, counted by
/// natural key: any key held by more than one object is a duplicate (what a
/// killed or repeated apply must never leave).
pub async fn duplicates(client: &GraphClient) -> Vec<String> {
    use serde_json::Value;
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let reads = [
        (client.v1(), "/users?$select=userPrincipalName,mail,userType&$top=999", "userPrincipalName"),
        (client.v1(), "/groups?$select=mailNickname&$top=999", "mailNickname"),
        (client.beta(), "/deviceManagement/deviceConfigurations?$top=999", "displayName"),
        (client.beta(), "/deviceManagement/deviceCompliancePolicies?$top=999", "displayName"),
        (client.beta(), "/deviceManagement/windowsAutopilotDeploymentProfiles", "displayName"),
        (client.beta(), "/deviceManagement/assignmentFilters", "displayName"),
        (client.v1(), "/identity/conditionalAccess/policies", "displayName"),
    ];
    for (c, path, field) in reads {
        for o in c.list_all(path).await.expect("list") {
            let key = o.get(field).and_then(Value::as_str).unwrap_or_default().to_lowercase();
            *counts.entry(format!("{path} {key}")).or_insert(0) += 1;
        }
    }
    for a in client.v1().list_all("/roleManagement/directory/roleAssignments").await.expect("list") {
        *counts.entry(format!("roleAssignment {}|{}", a["principalId"], a["roleDefinitionId"])).or_insert(0) += 1;
    }
    counts.into_iter().filter(|(_, n)| *n > 1).map(|(k, n)| format!("{k} x{n}")).collect()
}

/// Run the binary against the sandbox and wait for it.
pub fn cli(sb: &SandboxHandle, cwd: &Path, args: &[&str]) -> Output {
    command(sb, cwd)
        .args(args)
        .output()
        .expect("tenantctl runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Compare with a golden file; `TENANTCTL_BLESS=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("TENANTCTL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with TENANTCTL_BLESS=1 to create it, then review it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!(
            "{} differs from the rendered plan (TENANTCTL_BLESS=1 to accept after review):\n{diff}",
            path.display()
        );
    }
}

/// `from` copied into `to`, whole (another checkout of the same directory:
/// the same committed ledger, trust root and desired state).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("created");
    for e in std::fs::read_dir(from).expect("a directory") {
        let e = e.expect("an entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copied");
        }
    }
}
