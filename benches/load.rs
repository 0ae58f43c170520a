//! Benchmark of loading and validating desired state (`schema::load`) at
//! declared scale, in the two layouts a large tenant's repository has:
//!
//! * **one file**: N users in one `users.toml` (plus the tenant file);
//! * **export layout**: what `tenantctl export` writes for a sandbox tenant
//!   seeded with N objects (70% users, 20% groups with 5 members each, 10%
//!   Intune policies), one file per kind, every object declared with its
//!   members and owners.
//!
//! ```text
//! cargo bench --bench load
//! cargo bench --bench load -- --sizes 1000,10000,100000
//! ```
//!
//! Each load is run once per size (the goal is 100k resources in under 3 s
//! on a 2-core machine); the time is wall clock with `std::time::Instant`
//! and, beside it, the CPU time of the thread that loads
//! (`/proc/thread-self/stat`, 10 ms ticks; loading is single-threaded), which a loaded
//! machine does not inflate. The files are written to a temporary
//! directory first so reading them is included. The Markdown report goes
//! to stdout, progress to stderr.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use sandbox::{Sandbox, SandboxConfig, SeedSpec};

#[derive(Debug, Parser)]
#[command(about = "Load and validate time of declared desired state")]
struct Args {
    /// Numbers of resources, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Seed for the exported tenant.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const TENANT: &str = "[tenant]\nprimary_domain = \"contoso.onmicrosoft.com\"\n";

/// N users in one file, as someone who keeps accounts in one list writes them.
fn one_file(n: usize) -> String {
    let mut out = String::with_capacity(n * 160);
    for i in 0..n {
        let _ = write!(
            out,
            "[user.u{i:06}]\ndisplay_name = \"User {i}\"\nuser_principal_name = \"u{i:06}@contoso.onmicrosoft.com\"\nmail_nickname = \"u{i:06}\"\n\n"
        );
    }
    out
}

struct Row {
    layout: &'static str,
    resources: usize,
    files: usize,
    bytes: usize,
    load: Duration,
    cpu: Duration,
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    proc_cpu("/proc/thread-self/stat")
}

/// CPU time (user + system) from a `/proc/.../stat` file: `/proc/thread-self/stat`
/// for the calling thread, `/proc/self/stat` for the whole process. In
/// clock ticks of 10 ms (Linux's USER_HZ is 100), so meaningful for phases
/// of a tenth of a second and more. (The workspace forbids `unsafe`, so no
/// `clock_gettime` through libc.)
fn proc_cpu(stat: &str) -> Duration {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    let fields: Vec<&str> = text.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn time_load(dir: &Path) -> (Duration, Duration, usize) {
    let cpu = thread_cpu();
    let start = Instant::now();
    let state = match schema::load(dir) {
        Ok(s) => s,
        Err(schema::LoadError::Invalid(d)) => panic!("the generated desired state is invalid:\n{d}"),
        Err(e) => panic!("loading failed: {e}"),
    };
    let took = start.elapsed();
    let cpu = thread_cpu() - cpu;
    let resources = state.counts().into_iter().map(|(_, n)| n).sum();
    drop(state);
    (took, cpu, resources)
}

fn write_files(dir: &Path, files: &[(String, String)]) -> usize {
    let mut bytes = 0;
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("the benchmark writes its files");
        bytes += text.len();
    }
    bytes
}

async fn export_layout(n: usize, seed: u64) -> Vec<(String, String)> {
    let users = n * 7 / 10;
    let groups = n * 2 / 10;
    let sb = Sandbox::start(SandboxConfig::in_memory()).await.expect("the sandbox starts");
    sb.seed(&SeedSpec { seed, users, groups, memberships_per_group: 5, policies: n - users - groups }).expect("the sandbox seeds");
    let base = sb.base_url();
    let cloud = providers::graph::Cloud::custom(&base, &base).expect("a custom cloud");
    let credential = providers::graph::Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
    let client = providers::graph::GraphClient::new(providers::graph::GraphConfig::new(cloud), credential).expect("a client");
    let observed = providers::observe::observe_everything(&client).await.expect("the sandbox tenant reads");
    let domains: Vec<String> = vec![sb.domain().to_string()];
    let export = providers::export::export(&observed, &domains, chrono::Utc::now());
    sb.shutdown().await.expect("the sandbox shuts down");
    export.files.into_iter().collect()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    // One file of 100,000 users is about 12 MB, over the default per-file
    // limit of desired state (8 MB, `schema::read`); `export` splits a kind
    // under it, but this layout measures one big file on purpose, so the
    // limit is raised here unless the caller set it.
    if std::env::var_os(schema::read::MAX_FILE_BYTES_ENV).is_none() {
        std::env::set_var(schema::read::MAX_FILE_BYTES_ENV, (256u64 << 20).to_string());
    }
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bytes = write_files(dir.path(), &[("tenant.toml".into(), TENANT.into()), ("users.toml".into(), one_file(n))]);
        let (load, cpu, resources) = time_load(dir.path());
        eprintln!("one file, {n} users: {:.3} s ({:.3} s CPU)", load.as_secs_f64(), cpu.as_secs_f64());
        rows.push(Row { layout: "one file", resources, files: 2, bytes, load, cpu });

        let files = export_layout(n, args.seed).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bytes = write_files(dir.path(), &files);
        let (load, cpu, resources) = time_load(dir.path());
        eprintln!("export layout, {n} objects: {:.3} s ({:.3} s CPU)", load.as_secs_f64(), cpu.as_secs_f64());
        rows.push(Row { layout: "export layout", resources, files: files.len(), bytes, load, cpu });
    }
    println!("| Layout | Resources | Files | Size | load + validate (wall) | CPU (thread) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.1} MB | {:.3} s | {:.3} s |",
            r.layout,
            r.resources,
            r.files,
            r.bytes as f64 / 1e6,
            r.load.as_secs_f64(),
            r.cpu.as_secs_f64()
        );
    }
}
