//! Peak memory of the tenantctl binary per command at declared scale:
//! `export`, `plan` and `reconcile --once` (the first pass, which reads
//! users and groups in full through delta, and the quiet pass after it),
//! each run as its own process against a sandbox that lives in this
//! benchmark's process (so the tenant the sandbox holds is not counted).
//!
//! ```text
//! cargo bench --bench memory                       # 100,000 objects
//! cargo bench --bench memory -- --sizes 10000,100000
//! ```
//!
//! The sandbox is seeded with N objects (70% users, 20% groups with 5
//! members each, 10% Intune policies); `export` writes the desired state
//! that declares all of them (and the ledger that adopts them), and `plan`
//! and `reconcile` run on that. The peak resident memory of each tenantctl
//! process alone is its `ru_maxrss`, as GNU time (`/usr/bin/time`, which
//! waits for it with `wait4`) reports it; its wall time and CPU time (user +
//! sys, from the same rusage) are reported beside it.
//! The goal of issue 13: under 512 MiB for each command at 100k.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use sandbox::{Sandbox, SandboxConfig, SandboxHandle, SeedSpec};

#[derive(Debug, Parser)]
#[command(about = "Peak memory of tenantctl export, plan and reconcile at declared scale")]
struct Args {
    /// Tenant sizes in objects (users + groups + policies), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    sizes: Vec<usize>,
    /// Seed for the generated tenant.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Run each command under heaptrack, writing its profile to this
    /// directory as `LABEL.zst` (read with `heaptrack_print`); the peak
    /// RSS measured then includes heaptrack's own.
    #[arg(long)]
    heaptrack: Option<std::path::PathBuf>,
    /// Work in this directory (kept) instead of a temporary one: the
    /// exported desired state, the ledger and each command's log
    /// (`plan.log`: its output, to compare two builds' plans). An export
    /// already there is not made again (the sandbox is seeded the same),
    /// so a second build can be measured on the same files.
    #[arg(long)]
    work: Option<std::path::PathBuf>,
    /// Only these commands (`export`, `plan`, `reconcile`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One tenantctl process: how it ended and what it cost.
struct Run {
    command: String,
    code: i32,
    wall: Duration,
    cpu: Duration,
    peak_mib: f64,
    /// The last lines of its output, for a failed command.
    tail: String,
}

/// What points tenantctl at the sandbox.
#[derive(Clone)]
struct Target {
    url: String,
    tenant: String,
    client: String,
    secret: String,
}

impl Target {
    fn of(sb: &SandboxHandle) -> Target {
        Target { url: sb.base_url(), tenant: sb.tenant_id().to_string(), client: sb.client_id().to_string(), secret: sb.client_secret().to_string() }
    }
}

/// Runs tenantctl with `args` in `work` against the sandbox, and measures
/// that process alone (`wait4`).
fn run(sb: &Target, work: &Path, label: &str, args: &[&str], heaptrack: Option<&Path>) -> Run {
    let name = label.replace([' ', '(', ')'], "-");
    let out = work.join(format!("{name}.log"));
    let measured = work.join(format!("{name}.time"));
    let log = std::fs::File::create(&out).expect("a log file");
    let start = Instant::now();
    // GNU time reports the child's own peak RSS (%M, KiB, from wait4's
    // rusage) and CPU time; the workspace forbids `unsafe`, so this
    // benchmark does not call wait4 itself.
    let mut time = Command::new("/usr/bin/time");
    time.arg("-f").arg("%M %U %S").arg("-o").arg(&measured);
    if let Some(dir) = heaptrack {
        time.arg("heaptrack").arg("-o").arg(dir.join(&name));
    }
    let status = time
        .arg(env!("CARGO_BIN_EXE_tenantctl"))
        .args(args)
        .current_dir(work)
        .env("TENANTCTL_GRAPH_URL", &sb.url)
        .env("AZURE_TENANT_ID", &sb.tenant)
        .env("AZURE_CLIENT_ID", &sb.client)
        .env("AZURE_CLIENT_SECRET", &sb.secret)
        .env("TENANTCTL_LEDGER", work.join("tenantctl.lock"))
        .env("NO_COLOR", "1")
        .env_remove("AZURE_AUTHORITY_HOST")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("a log file"))
        .stderr(log)
        .status()
        .expect("/usr/bin/time (GNU time) runs tenantctl");
    let wall = start.elapsed();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let tail = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    // The last line of the time file is ours ("Command exited with non-zero status" may precede it).
    let measured = std::fs::read_to_string(&measured).unwrap_or_default();
    let numbers: Vec<f64> = measured.lines().last().unwrap_or_default().split_whitespace().filter_map(|v| v.parse().ok()).collect();
    assert_eq!(numbers.len(), 3, "GNU time's report: {measured:?}");
    Run {
        command: label.to_string(),
        code: status.code().unwrap_or(-1),
        wall,
        cpu: Duration::from_secs_f64(numbers[1] + numbers[2]),
        peak_mib: numbers[0] / 1024.0,
        tail,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let users = n * 7 / 10;
        let groups = n * 2 / 10;
        eprintln!("== {n} objects");
        let sb = Sandbox::start(SandboxConfig::in_memory()).await.expect("the sandbox starts");
        sb.seed(&SeedSpec { seed: args.seed, users, groups, memberships_per_group: 5, policies: n - users - groups }).expect("the sandbox seeds");
        let temporary = tempfile::tempdir().expect("a temporary directory");
        let kept = args.work.as_ref().map(|w| w.join(n.to_string()));
        if let Some(k) = &kept {
            std::fs::create_dir_all(k).expect("the work directory");
        }
        let w = kept.as_deref().unwrap_or(temporary.path());
        let dir = w.join("exported");
        let exported = dir.join("tenantctl.toml").exists() || std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false);
        let d = dir.to_str().expect("a UTF-8 path");
        // Each command runs on a blocking thread so the sandbox keeps serving.
        let steps: [(&str, Vec<&str>); 4] = [
            ("export", vec!["export", "--out", d]),
            ("plan", vec!["plan", d]),
            ("reconcile --once (first pass)", vec!["reconcile", d, "--once"]),
            ("reconcile --once (quiet pass)", vec!["reconcile", d, "--once"]),
        ];
        for (label, argv) in steps {
            let command = label.split_whitespace().next().unwrap_or(label);
            if (!args.only.is_empty() && !args.only.iter().any(|o| o == command)) || (command == "export" && exported && kept.is_some()) {
                eprintln!("   {label}: skipped");
                continue;
            }
            let (target, w2, heaptrack) = (Target::of(&sb), w.to_path_buf(), args.heaptrack.clone());
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            sb.reset_counts();
            let r = tokio::task::spawn_blocking(move || {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                run(&target, &w2, label, &argv, heaptrack.as_deref())
            })
            .await
            .expect("the run completes");
            let requests: u64 = sb.request_counts().requests.iter().filter(|(k, _)| !k.contains("/oauth2/")).map(|(_, v)| v).sum();
            eprintln!("   {label}: exit {}, {:.1} s, {:.1} s CPU, peak {:.0} MiB, {requests} requests", r.code, r.wall.as_secs_f64(), r.cpu.as_secs_f64(), r.peak_mib);
            if r.code != 0 {
                eprintln!("{}", r.tail);
            }
            rows.push((n, r, requests));
        }
        sb.shutdown().await.expect("the sandbox shuts down");
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_else(|_| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# tenantctl peak memory per command\n");
    println!("{cpus} CPUs; load average at the end: {}.\n", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("| Objects | command | exit | wall | CPU (user + sys) | Graph requests | peak RSS of tenantctl |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for (n, r, requests) in &rows {
        println!(
            "| {n} | `{}` | {} | {:.1} s | {:.1} s | {requests} | {:.0} MiB{} |",
            r.command,
            r.code,
            r.wall.as_secs_f64(),
            r.cpu.as_secs_f64(),
            r.peak_mib,
            if r.peak_mib > 512.0 { " (over 512)" } else { "" }
        );
    }
}
