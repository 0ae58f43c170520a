//! Benchmark of the plan users really run: desired state that declares
//! every object of the tenant (as `tenantctl export` writes it: one file per
//! kind, groups with members and owners, and the ledger that adopts them),
//! planned against the sandbox with added latency per request, phase by
//! phase (load, read, plan, render), beside the ideal (the requests made x
//! latency / concurrency) and beside a naive read that fetches every object
//! with its own GET.
//!
//! ```text
//! cargo bench --bench plan
//! cargo bench --bench plan -- --sizes 1000,10000 --latency-ms 50 --naive-limit 10000
//! ```
//!
//! For each size N a fresh in-memory sandbox is seeded with N objects (70%
//! users, 20% groups with 5 members each, 10% Intune policies), latency is
//! set, and two reads are timed with `std::time::Instant`, each with a fresh
//! client built with the binary's own settings (`GraphConfig::new`):
//!
//! * tenantctl: the seeded tenant is exported (without latency) to a
//!   temporary directory; then, with latency, `schema::load` of that
//!   directory, `providers::observe::observe` of everything it declares,
//!   `engine::plan` and `engine::render::text`, each timed, with the
//!   process's peak resident memory (VmHWM, reset before the run; it
//!   includes the in-process sandbox's copy of the tenant);
//! * naive: list the ids of each collection with the same paging, then one
//!   GET per object (users/{id}; groups/{id} and groups/{id}/members;
//!   deviceConfigurations/{id} and deviceCompliancePolicies/{id} with their
//!   assignments expanded), at most `max_concurrency` (8) in flight. Above
//!   `--naive-limit` objects only a seeded random sample of `--sample`
//!   objects is fetched and the per-object phase is extrapolated linearly.
//!
//! Beside each phase's wall time, its CPU time: for load, plan and render
//! (single-threaded, run on the main thread) the CPU time of that thread
//! (`/proc/thread-self/stat`), which a machine loaded by other work does
//! not inflate; for the read, the whole process's (`/proc/self/stat`),
//! which includes the in-process sandbox answering it.
//!
//! Request counts come from the sandbox's own accounting, not the client's,
//! and exclude the one token request each client makes. The Markdown report
//! goes to stdout; progress goes to stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use engine::{Ledger, PlanOptions};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig, PacingConfig};
use sandbox::{Faults, RequestCounts, Sandbox, SandboxConfig, SandboxHandle, SeedSpec};

#[path = "plan/naive.rs"]
mod naive;
use naive::run_naive;

/// Page size the naive listing uses: the same as tenantctl's.
const TOP: usize = 999;
/// Members seeded per group.
const MEMBERS_PER_GROUP: usize = 5;

#[derive(Debug, Parser)]
#[command(about = "Plan time and Graph request count against the sandbox, beside a naive per-object read")]
struct Args {
    /// Tenant sizes in objects (users + groups + policies), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Latency the sandbox adds to every Graph request.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Above this many objects the naive read fetches a sample and extrapolates.
    #[arg(long, default_value_t = 10_000)]
    naive_limit: usize,
    /// Objects fetched one by one when the naive read is sampled.
    #[arg(long, default_value_t = 2_000)]
    sample: usize,
    /// Seed for the generated tenant and the sample.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the naive read entirely.
    #[arg(long)]
    no_naive: bool,
    /// Plan this many more times after the timed plan, printing each
    /// one's thread CPU to stderr (for profiling the plan with `perf`, and
    /// for its spread on a loaded machine).
    #[arg(long, default_value_t = 0)]
    plan_repeat: usize,
    /// Plan with a ledger as an apply leaves it (each entry records the
    /// hash of the properties applied, and the approved fields of every
    /// kind but accounts), not as `export` writes it: governance then
    /// compares every in-sync object with what was last approved.
    #[arg(long)]
    applied: bool,
    /// Write what the timed plan is given (`desired.json`, `observed.json`,
    /// `ledger.json`) to this directory, for `engine/examples/plan_profile.rs`.
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// How N objects are split between kinds.
#[derive(Debug, Clone, Copy)]
struct Mix {
    users: usize,
    groups: usize,
    policies: usize,
}

impl Mix {
    fn of(n: usize) -> Mix {
        let users = n * 7 / 10;
        let groups = n * 2 / 10;
        Mix { users, groups, policies: n - users - groups }
    }
}

/// Requests the sandbox saw during one phase.
#[derive(Debug, Clone, Default)]
struct Counted {
    wall: Duration,
    /// Graph HTTP requests (token endpoint excluded).
    requests: u64,
    /// HTTP requests per `METHOD /version/pattern`, plus `$batch` items.
    patterns: BTreeMap<String, u64>,
}

impl Counted {
    fn from_counts(wall: Duration, counts: &RequestCounts) -> Counted {
        let mut patterns = BTreeMap::new();
        let mut requests = 0;
        for (k, v) in &counts.requests {
            if is_token(k) {
                continue;
            }
            requests += v;
            patterns.insert(k.clone(), *v);
        }
        for (k, v) in &counts.batch_items {
            patterns.insert(format!("  in $batch: {k}"), *v);
        }
        Counted { wall, requests, patterns }
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
}

fn is_token(pattern: &str) -> bool {
    pattern.contains("/oauth2/")
}

struct TenantctlRun {
    counted: Counted,
    declared: usize,
    load: Duration,
    observe: Duration,
    plan: Duration,
    render: Duration,
    /// CPU time per phase: thread (load, plan, render), process (read).
    cpu: Phases,
    changes: usize,
    live_objects: usize,
    /// Peak resident memory of the process during the run, and resident
    /// memory before it (the sandbox's tenant), in MiB.
    peak_mib: f64,
    base_mib: f64,
}

impl TenantctlRun {
    fn total(&self) -> Duration {
        self.load + self.observe + self.plan + self.render
    }

    /// The read at the floor its requests allow: requests x latency / concurrency.
    fn ideal_read(&self, latency_ms: u64, concurrency: usize) -> Duration {
        Duration::from_millis(latency_ms).mul_f64(self.counted.requests as f64 / concurrency.max(1) as f64)
    }
}

/// CPU time of load, read (process), plan and render.
#[derive(Debug, Clone, Copy, Default)]
struct Phases {
    load: Duration,
    read: Duration,
    plan: Duration,
    render: Duration,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    proc_cpu("/proc/thread-self/stat")
}

/// CPU time of the whole process (every thread, the sandbox's included).
fn process_cpu() -> Duration {
    proc_cpu("/proc/self/stat")
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

/// `VmHWM` or `VmRSS` of this process in MiB (Linux), 0 when unknown.
fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(field).map(|v| v.trim().trim_end_matches("kB").trim().to_string())))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux: `5` to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct NaiveRun {
    /// Ids listed (every object the per-object phase would read).
    objects: usize,
    list: Counted,
    /// The per-object phase as run (all objects, or the sample).
    fetch: Counted,
    fetched_objects: usize,
    /// Factor from the run per-object phase to all objects (1 when not sampled).
    scale: f64,
    /// Requests under `/deviceManagement` a full read would make (for the pacing note).
    intune_requests: usize,
}

impl NaiveRun {
    fn extrapolated(&self) -> bool {
        self.fetched_objects < self.objects
    }

    fn requests(&self) -> f64 {
        self.list.requests as f64 + self.fetch.requests as f64 * self.scale
    }

    fn wall(&self) -> Duration {
        self.list.wall + self.fetch.wall.mul_f64(self.scale)
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let domain = "contoso.onmicrosoft.com".to_string();
    let concurrency = GraphConfig::new(Cloud::custom("http://localhost", "http://localhost").expect("a custom cloud")).max_concurrency;

    let mut rows = Vec::new();
    for &n in &args.sizes {
        let mix = Mix::of(n);
        eprintln!("== {n} objects: {} users, {} groups, {} policies", mix.users, mix.groups, mix.policies);
        let sb = Sandbox::start(SandboxConfig::in_memory().with_domain(domain.clone())).await.expect("the sandbox starts");
        sb.seed(&SeedSpec { seed: args.seed, users: mix.users, groups: mix.groups, memberships_per_group: MEMBERS_PER_GROUP, policies: mix.policies })
            .expect("the sandbox seeds");
        let (dir, ledger) = export(&sb).await;
        sb.set_faults(Faults { latency_ms: args.latency_ms, ..Faults::default() }).expect("faults are valid");

        let real = run_tenantctl(&sb, dir.path(), &ledger, &args).await;
        drop(dir);
        eprintln!("   tenantctl: {} requests in {:.2} s", real.counted.requests, real.counted.wall.as_secs_f64());
        let naive = if args.no_naive {
            None
        } else {
            let sample = (n > args.naive_limit).then_some(args.sample);
            let run = run_naive(&sb, concurrency, sample, args.seed).await;
            eprintln!(
                "   naive: {} requests in {:.2} s{}",
                run.requests().round(),
                run.wall().as_secs_f64(),
                if run.extrapolated() { " (extrapolated)" } else { "" }
            );
            Some(run)
        };
        sb.shutdown().await.expect("the sandbox shuts down");
        rows.push((n, mix, real, naive));
    }

    print!("{}", report(&args, concurrency, &rows));
}

fn client(sb: &SandboxHandle) -> GraphClient {
    let base = sb.base_url();
    let cloud = Cloud::custom(&base, &base).expect("the sandbox URL is a valid cloud");
    let credential = Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
    // The binary's own settings: default retry, concurrency and pacing.
    GraphClient::new(GraphConfig::new(cloud), credential).expect("a Graph client")
}

/// `tenantctl export` of the seeded tenant, written to a temporary
/// directory: the desired state that declares every object, and its ledger.
async fn export(sb: &SandboxHandle) -> (tempfile::TempDir, Ledger) {
    let client = client(sb);
    let observed = providers::observe::observe_everything(&client).await.expect("the sandbox tenant reads");
    let export = providers::export::export(&observed, &[sb.domain()], chrono::Utc::now());
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in &export.files {
        std::fs::write(dir.path().join(name), text).expect("the export is written");
    }
    (dir, export.ledger)
}

/// Values written as JSON through one closure (`--dump`).
mod erased {
    pub trait Json {
        fn json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("serializes")
        }
    }
}

/// tenantctl's plan of a declared tenant, phase by phase.
async fn run_tenantctl(sb: &SandboxHandle, dir: &std::path::Path, ledger: &Ledger, args: &Args) -> TenantctlRun {
    let plan_repeat = args.plan_repeat;
    let client = client(sb);
    let options = PlanOptions { now: chrono::Utc::now() };
    let base_mib = memory_mib("VmRSS:");
    reset_peak();
    sb.reset_counts();
    let mut cpu = Phases::default();
    let start = Instant::now();
    let c = thread_cpu();
    let state = schema::load(dir).unwrap_or_else(|e| panic!("the export loads: {e}"));
    let desired = providers::kinds::desired_model(&state);
    drop(state);
    cpu.load = thread_cpu() - c;
    let load = start.elapsed();
    let t = Instant::now();
    let c = process_cpu();
    let observed = providers::observe::observe(&client, &desired, ledger).await.expect("the sandbox signs the client in");
    cpu.read = process_cpu() - c;
    let observe = t.elapsed();
    let counts = sb.request_counts();
    let applied_ledger;
    let ledger = if args.applied {
        let mut l = ledger.clone();
        for (address, entry) in l.resources.iter_mut() {
            if let Some(r) = desired.resources.get(address) {
                entry.applied = Some(engine::governance::ratify::applied_hash(r));
                if engine::governance::ratify::records_fields(address.kind) {
                    entry.approved_fields = engine::governance::ratify::approved_fields(r);
                }
            }
        }
        applied_ledger = l;
        &applied_ledger
    } else {
        ledger
    };
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir).expect("the dump directory");
        let write = |name: &str, v: &dyn erased::Json| std::fs::write(dir.join(name), v.json()).expect("the dump is written");
        write("desired.json", &desired);
        write("observed.json", &observed);
        write("ledger.json", ledger);
    }
    let t = Instant::now();
    let c = thread_cpu();
    let plan = engine::plan(&desired, &observed, ledger, &options).expect("the export plans");
    cpu.plan = thread_cpu() - c;
    let plan_time = t.elapsed();
    for i in 0..plan_repeat {
        let c = thread_cpu();
        let again = engine::plan(&desired, &observed, ledger, &options).expect("the export plans");
        eprintln!("  plan again ({}/{plan_repeat}): {:.2} s CPU, {} changes", i + 1, (thread_cpu() - c).as_secs_f64(), again.changes.len());
    }
    let t = Instant::now();
    let c = thread_cpu();
    let text = engine::render::text(&plan, false);
    cpu.render = thread_cpu() - c;
    let render = t.elapsed();
    let peak_mib = memory_mib("VmHWM:");
    assert!(!text.is_empty());
    assert!(observed.unreadable.is_empty(), "a collection could not be read; the timing would be meaningless: {:?}", observed.unreadable);
    assert!(plan.unknown.is_empty(), "the plan has unknown resources: {:?}", plan.unknown);
    TenantctlRun {
        counted: Counted::from_counts(observe, &counts),
        declared: desired.resources.len(),
        load,
        observe,
        plan: plan_time,
        render,
        cpu,
        changes: plan.changes.len(),
        live_objects: observed.objects.values().map(Vec::len).sum(),
        peak_mib,
        base_mib,
    }
}

fn report(args: &Args, concurrency: usize, rows: &[(usize, Mix, TenantctlRun, Option<NaiveRun>)]) -> String {
    let mut out = String::new();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:")).map(|l| l.trim().trim_end_matches("kB").trim().to_string()))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "unknown".into());
    let cpus = std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_else(|_| "unknown".into());
    let _ = writeln!(out, "# tenantctl plan benchmark\n");
    let _ = writeln!(
        out,
        "Sandbox latency {} ms per Graph request; client defaults (max {} requests in flight); page size {TOP}; seed {}; {} CPUs, {} memory.\n",
        args.latency_ms, concurrency, args.seed, cpus, memory
    );
    let _ = writeln!(out, "## Declared plans, phase by phase\n");
    let _ = writeln!(
        out,
        "| Objects | declared | requests | load | read | ideal read | read / ideal | plan | render | total | peak RSS (sandbox before) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut cpu_table = String::new();
    let _ = writeln!(cpu_table, "| Objects | load CPU (thread) | read CPU (process, sandbox included) | plan CPU (thread) | render CPU (thread) |");
    let _ = writeln!(cpu_table, "|---:|---:|---:|---:|---:|");
    for (n, _, real, _) in rows {
        let ideal = real.ideal_read(args.latency_ms, concurrency);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.1}x | {:.2} s | {:.2} s | {:.2} s | {:.0} MiB ({:.0} MiB) |",
            thousands(*n as f64),
            thousands(real.declared as f64),
            thousands(real.counted.requests as f64),
            real.load.as_secs_f64(),
            real.observe.as_secs_f64(),
            ideal.as_secs_f64(),
            real.observe.as_secs_f64() / ideal.as_secs_f64().max(1e-9),
            real.plan.as_secs_f64(),
            real.render.as_secs_f64(),
            real.total().as_secs_f64(),
            real.peak_mib,
            real.base_mib
        );
        let _ = writeln!(
            cpu_table,
            "| {} | {:.2} s | {:.2} s | {:.2} s | {:.3} s |",
            thousands(*n as f64),
            real.cpu.load.as_secs_f64(),
            real.cpu.read.as_secs_f64(),
            real.cpu.plan.as_secs_f64(),
            real.cpu.render.as_secs_f64()
        );
    }
    let _ = writeln!(out, "\nCPU time of the same phases (what a loaded machine does not inflate):\n\n{cpu_table}");
    let _ = writeln!(
        out,
        "\n\"ideal read\" is requests x {} ms / {} in flight. Peak RSS is the whole process, which includes the in-process sandbox holding the tenant \
         (its resident size just before the run is in brackets).\n",
        args.latency_ms, concurrency
    );
    let _ = writeln!(out, "## Beside the naive per-object read\n");
    let _ = writeln!(
        out,
        "| Objects | tenantctl requests | tenantctl read + plan | tenantctl req/s | naive requests | naive time | naive req/s | speedup | requests saved |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, _, real, naive) in rows {
        let r = &real.counted;
        let mut line = format!(
            "| {} | {} | {:.2} s | {:.0} |",
            thousands(*n as f64),
            thousands(r.requests as f64),
            (real.observe + real.plan).as_secs_f64(),
            r.rate()
        );
        match naive {
            Some(nv) => {
                let mark = if nv.extrapolated() { format!(" (extrapolated from {})", thousands(nv.fetched_objects as f64)) } else { String::new() };
                let rate = nv.requests() / nv.wall().as_secs_f64();
                let _ = write!(
                    line,
                    " {}{mark} | {:.1} s{mark} | {:.0} | {:.1}x | {:.1}x |",
                    thousands(nv.requests()),
                    nv.wall().as_secs_f64(),
                    rate,
                    nv.wall().as_secs_f64() / (real.observe + real.plan).as_secs_f64(),
                    nv.requests() / r.requests as f64
                );
            }
            None => line.push_str(" - | - | - | - | - |"),
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\nObjects are 70% users, 20% groups ({MEMBERS_PER_GROUP} members each), 10% policies; requests exclude the token request. \
         \"speedup\" is naive time / tenantctl time, \"requests saved\" naive requests / tenantctl requests."
    );

    for (n, mix, real, naive) in rows {
        let _ = writeln!(out, "\n## {} objects\n", thousands(*n as f64));
        let _ = writeln!(
            out,
            "Seeded {} users, {} groups, {} policies; the export declares {} resources. tenantctl loaded them in {:.2} s, read {} live objects in {:.2} s, \
             planned {} changes in {:.1} ms and rendered the plan in {:.1} ms.",
            thousands(mix.users as f64),
            thousands(mix.groups as f64),
            thousands(mix.policies as f64),
            thousands(real.declared as f64),
            real.load.as_secs_f64(),
            thousands(real.live_objects as f64),
            real.observe.as_secs_f64(),
            real.changes,
            real.plan.as_secs_f64() * 1e3,
            real.render.as_secs_f64() * 1e3
        );
        if let Some(nv) = naive {
            let _ = writeln!(
                out,
                "Naive: listed {} ids in {:.2} s ({} requests), then fetched {} objects one by one in {:.2} s ({} requests, {:.0} req/s){}.",
                thousands(nv.objects as f64),
                nv.list.wall.as_secs_f64(),
                nv.list.requests,
                thousands(nv.fetched_objects as f64),
                nv.fetch.wall.as_secs_f64(),
                thousands(nv.fetch.requests as f64),
                nv.fetch.rate(),
                if nv.extrapolated() { format!(", scaled by {:.2} to all {} objects", nv.scale, thousands(nv.objects as f64)) } else { String::new() }
            );
            if let (true, Some(rate)) = (nv.extrapolated(), PacingConfig::default().intune_requests) {
                // A sample stays inside the pacer's burst, so the linear
                // extrapolation cannot show it; state the floor it implies.
                let floor = nv.intune_requests.saturating_sub(rate.count as usize) as f64 * rate.per.as_secs_f64() / f64::from(rate.count);
                let _ = writeln!(
                    out,
                    "The extrapolation leaves out client pacing: a full naive read makes {} requests under `/deviceManagement`, and the client paces those \
                     to Intune's {} per {} s, so they alone would take at least {floor:.0} s.",
                    thousands(nv.intune_requests as f64),
                    thousands(f64::from(rate.count)),
                    rate.per.as_secs()
                );
            }
        }
        let _ = writeln!(out, "\n| Request pattern | tenantctl | naive (list) | naive (per object{}) |", naive.as_ref().filter(|n| n.extrapolated()).map_or("", |_| ", sample"));
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let mut keys: Vec<&String> = real.counted.patterns.keys().collect();
        if let Some(nv) = naive {
            keys.extend(nv.list.patterns.keys().chain(nv.fetch.patterns.keys()));
        }
        keys.sort();
        keys.dedup();
        let cell = |m: Option<&BTreeMap<String, u64>>, k: &String| m.and_then(|m| m.get(k)).map_or("-".to_string(), |v| v.to_string());
        for k in keys {
            let _ = writeln!(
                out,
                "| `{k}` | {} | {} | {} |",
                cell(Some(&real.counted.patterns), k),
                cell(naive.as_ref().map(|n| &n.list.patterns), k),
                cell(naive.as_ref().map(|n| &n.fetch.patterns), k)
            );
        }
    }
    out
}

/// `12345.6` as `12,346`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
