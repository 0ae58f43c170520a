//! Azurite for tests of the azurerm state backend: `TENANTCTL_TEST_AZURITE`
//! (the account URL of a running one, on loopback), else `azurite-blob`
//! from PATH started on a free loopback port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Azurite's well-known development account key (public, documented).
pub const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
pub const ACCOUNT: &str = "devstoreaccount1";

pub struct Azurite {
    pub url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string()
}

fn port_open(url: &str) -> bool {
    let addr: Option<std::net::SocketAddr> = host_port(url).replace("localhost", "127.0.0.1").parse().ok();
    addr.is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

pub fn start() -> Azurite {
    if let Ok(url) = std::env::var("TENANTCTL_TEST_AZURITE") {
        let host = host_port(&url);
        assert!(host.starts_with("127.0.0.1:") || host.starts_with("localhost:") || host.starts_with("[::1]:"), "TENANTCTL_TEST_AZURITE must be on loopback: {url}");
        assert!(port_open(&url), "TENANTCTL_TEST_AZURITE={url} is set but nothing listens there");
        return Azurite { url, child: None, _dir: None };
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("azurite-blob")
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--loose", "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--location"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("this test needs Azurite: set TENANTCTL_TEST_AZURITE to a running one, or put `azurite-blob` on PATH (npm install -g azurite@3): {e}"));
    let az = Azurite { url: format!("http://127.0.0.1:{port}/{ACCOUNT}"), child: Some(child), _dir: Some(dir) };
    let started = Instant::now();
    while !port_open(&az.url) {
        assert!(started.elapsed() < Duration::from_secs(60), "Azurite did not start listening on {} within 60 s", az.url);
        std::thread::sleep(Duration::from_millis(200));
    }
    az
}

/// A container of its own for each test.
pub fn container() -> String {
    format!("t{:012x}", rand::random::<u64>() >> 16)
}

/// The `[state]` table of desired state kept in `container` of `az`.
pub fn state_table(az: &Azurite, container: &str, prefix: &str) -> String {
    format!("[state]\nbackend = \"azurerm\"\nstorage_account = \"{ACCOUNT}\"\ncontainer = \"{container}\"\nendpoint = \"{}\"\nprefix = \"{prefix}\"\n", az.url)
}

pub fn store(az: &Azurite, container: &str) -> providers::state_blob::BlobStore {
    providers::state_blob::BlobStore::new(&az.url, container, providers::state_blob::BlobAuth::SharedKey { account: ACCOUNT.into(), key: providers::state_blob::decode_key(DEV_KEY).unwrap() }).unwrap()
}

/// `tenantctl ARGS` in `cwd` with the azurerm backend's key: the ledger
/// where `[state]` says, not where the tests point it.
pub fn run(sb: &sandbox::SandboxHandle, cwd: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let o = super::command(sb, cwd)
        .env_remove("TENANTCTL_LEDGER")
        .env("AZURE_STORAGE_KEY", DEV_KEY)
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .args(args)
        .output()
        .expect("tenantctl runs");
    (o.status.code(), format!("{}{}", super::text(&o.stdout), super::text(&o.stderr)))
}
