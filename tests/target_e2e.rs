//! Which tenant a command talks to: `[tenant]` and environment credentials
//! merged, incomplete credentials refused, the authority host overriding
//! only the login host, and `export` choosing its target as `plan` does.
//! Real-tenant selections are observed at a fake authority on loopback
//! that refuses every token, so no request leaves the machine.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;

/// A token endpoint on loopback that records each request (request line
/// and form body) and answers 401 invalid_client.
fn fake_authority() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then the body by Content-Length.
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).to_string());
            let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
            let _ = write!(s, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (url, seen)
}

/// The binary with no credentials or Graph URL from the caller's environment.
fn bare(cwd: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tenantctl"));
    c.current_dir(cwd).env("NO_COLOR", "1");
    for v in [
        "TENANTCTL_GRAPH_URL",
        "TENANTCTL_ACCESS_TOKEN",
        "TENANTCTL_LEDGER",
        "TENANTCTL_CLOUD",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "TENANTCTL_SANDBOX",
        // These tests take the real-tenant path, where a moved clock is
        // refused (`.ci/run` sets it for the fixtures' dates).
        "TENANTCTL_CLOCK_OFFSET",
    ] {
        c.env_remove(v);
    }
    c
}

const APP: &str = "11111111-2222-3333-4444-555555555555";

fn desired(root: &Path, tenant_extra: &str) -> std::path::PathBuf {
    let dir = root.join("desired-state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("tenant.toml"),
        format!("[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n{tenant_extra}\n\n[group.ring-test]\ndisplay_name = \"Ring Test\"\nmail_nickname = \"ring-test\"\n"),
    )
    .unwrap();
    dir
}

/// Defect 3: `[tenant] client_id` counts, merged with a secret from the
/// environment: the real tenant is used (a token is asked for that app),
/// not the embedded sandbox.
#[test]
fn declared_client_id_and_environment_secret_select_the_real_tenant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = desired(tmp.path(), &format!("client_id = \"{APP}\""));
    let (authority, seen) = fake_authority();
    let o = bare(tmp.path())
        .env("AZURE_CLIENT_SECRET", "not-a-real-secret")
        .env("AZURE_AUTHORITY_HOST", &authority)
        .args(["plan", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        !o.status.success(),
        "planned against something else:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        seen.iter().any(|r| r.contains(&format!("client_id={APP}"))),
        "no token request for the declared app: {seen:?}\n{}",
        text(&o.stderr)
    );
    assert!(
        !text(&o.stderr).contains("not-a-real-secret")
            && !text(&o.stdout).contains("not-a-real-secret"),
        "the secret leaked"
    );
}

/// Defect 3: `[tenant]` with incomplete credentials fails, naming what is
/// missing, instead of planning against the sandbox.
#[test]
fn incomplete_credentials_fail_naming_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = desired(tmp.path(), &format!("client_id = \"{APP}\""));
    let o = bare(tmp.path())
        .args(["plan", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("incomplete") && err.contains("AZURE_CLIENT_SECRET"),
        "{err}"
    );
    assert!(
        !tmp.path().join(".tenantctl/sandbox.db").exists(),
        "fell back to the embedded sandbox"
    );
}

/// Defect 3: `[tenant]` declared with no credentials at all (a CI run
/// whose secrets were not injected) fails naming what is missing; the
/// embedded sandbox needs the explicit TENANTCTL_SANDBOX=1.
#[test]
fn declared_tenant_without_any_credentials_fails_unless_the_sandbox_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = desired(tmp.path(), "");
    let o = bare(tmp.path())
        .args(["plan", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}\n{}", text(&o.stdout), text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("contoso.onmicrosoft.com") && err.contains("AZURE_CLIENT_ID") && err.contains("AZURE_CLIENT_SECRET") && err.contains("TENANTCTL_SANDBOX"),
        "{err}"
    );
    assert!(!tmp.path().join(".tenantctl/sandbox.db").exists(), "fell back to the embedded sandbox");
    let o = bare(tmp.path())
        .env("TENANTCTL_SANDBOX", "1")
        .args(["plan", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stderr).contains("embedded sandbox"), "{}", text(&o.stderr));
}

/// Defect 4: AZURE_AUTHORITY_HOST moves only the login host; a US
/// Government tenant still asks for a graph.microsoft.us token.
#[test]
fn authority_host_keeps_the_national_clouds_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = desired(tmp.path(), "cloud = \"usgov\"");
    let (authority, seen) = fake_authority();
    let o = bare(tmp.path())
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "s")
        .env("AZURE_AUTHORITY_HOST", &authority)
        .args(["plan", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|r| r.contains("scope=https%3A%2F%2Fgraph.microsoft.us%2F.default")),
        "token scope is not US Government's: {seen:?}"
    );
}

/// Defect 2: export with credentials in the environment reads the real
/// tenant, not a fresh embedded sandbox, and says which target it read.
#[test]
fn export_uses_environment_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (authority, seen) = fake_authority();
    let out = tmp.path().join("exported");
    let o = bare(tmp.path())
        .env("AZURE_TENANT_ID", "22222222-3333-4444-5555-666666666666")
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", "s")
        .env("AZURE_AUTHORITY_HOST", &authority)
        .args(["export", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "exported something else:\n{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("Exporting tenant 22222222-3333-4444-5555-666666666666"),
        "{}",
        text(&o.stderr)
    );
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.contains("/22222222-3333-4444-5555-666666666666/oauth2/v2.0/token")));
}

/// Defect 2: `export --from DIR` reads the embedded sandbox `plan DIR`
/// uses, and says so.
#[test]
fn export_from_a_directory_reads_the_sandbox_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = desired(tmp.path(), "");
    let o = bare(tmp.path())
        .env("TENANTCTL_SANDBOX", "1")
        .args(["apply", "--auto-approve", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let out = tmp.path().join("exported");
    let o = bare(tmp.path())
        .env("TENANTCTL_SANDBOX", "1")
        .args([
            "export",
            "--from",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("Read from: embedded sandbox tenant"),
        "{}",
        text(&o.stdout)
    );
    let groups = std::fs::read_to_string(out.join("groups.toml")).unwrap();
    assert!(groups.contains("ring-test"), "{groups}");
}

/// A moved clock (the fixtures' offset, or the hidden `--now` of drift and
/// reconcile) is for a sandbox: against a Graph off this machine it is
/// refused before anything is read, so a report as of another time never
/// passes for the tenant's (hostile run 27, finding 1: `drift --now`
/// turned a report of expired guests into one in sync).
#[test]
fn a_moved_clock_is_refused_off_this_machine() {
    let work = tempfile::tempdir().unwrap();
    let dir = desired(work.path(), "");
    let d = dir.to_str().unwrap();
    let remote = "https://graph.example.invalid";
    for args in [
        vec!["drift", d, "--no-record", "--now", "2020-01-01T00:00:00Z", "--graph-url", remote],
        vec!["reconcile", d, "--once", "--now", "2020-01-01T00:00:00Z", "--graph-url", remote],
    ] {
        let out = bare(work.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(&format!("{} --now moves tenantctl's clock", args[0])) && err.contains("not on this machine"), "{args:?}: {err}");
    }
    let out = bare(work.path()).args(["plan", d, "--graph-url", remote]).env("TENANTCTL_CLOCK_OFFSET", "-86400").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TENANTCTL_CLOCK_OFFSET (-86400 s) moves tenantctl's clock") && err.contains("not on this machine"), "{err}");
}
