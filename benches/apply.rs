//! Benchmark of apply at Graph's documented service limits: creates users,
//! groups with members and Intune policies in an empty sandbox tenant that
//! enforces the limits (429 + Retry-After beyond them), with a little
//! latency per request, through the binary's own path (`GraphConfig::new`
//! defaults: 8 requests in flight, the documented limits paced; the
//! executor with `$batch` on; 4 x 20 changes at a time, as `--concurrency 4`).
//!
//! ```text
//! cargo bench --bench apply
//! cargo bench --bench apply -- --users 1000 --groups 200 --members 5 --policies 400 --latency-ms 5
//! ```
//!
//! Reports the requests made (HTTP calls and `$batch` items, from the
//! sandbox's accounting), per modelled limit what it counted, over what
//! span, the sustained rate against the limit, and the 429s it answered
//! (must be 0), and the total time. How close a limit of `count` per
//! `window` ran to it is the time its requests would take exactly at the
//! limit (`count` at once and `count` more every `window`: the last of N
//! goes `(ceil(N / count) - 1) x window` after the first) over the time
//! they took from the first to the last. The Markdown report goes to
//! stdout; progress to stderr.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use engine::apply::{ApplyOptions, Status};
use engine::{Ledger, PlanOptions};
use providers::graph::{Cloud, Credential, GraphClient, GraphConfig};
use sandbox::limits::{LimitUsage, Limits};
use sandbox::{Faults, RequestCounts, Sandbox, SandboxConfig, SandboxHandle};

#[derive(Debug, Parser)]
#[command(about = "Apply throughput against the sandbox's modelled Graph service limits")]
struct Args {
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 200)]
    groups: usize,
    /// Members per group (users, round robin).
    #[arg(long, default_value_t = 5)]
    members: usize,
    /// Intune policies (device configurations; each is a create and an assign).
    #[arg(long, default_value_t = 400)]
    policies: usize,
    /// Latency the sandbox adds to every Graph request.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// `$batch` calls' worth of changes at a time (the binary's `--concurrency`).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const DOMAIN: &str = "contoso.onmicrosoft.com";

fn desired(args: &Args) -> schema::DesiredState {
    let mut text = String::new();
    for u in 0..args.users {
        let _ = write!(text, "[user.u{u:05}]\nuser_principal_name = \"u{u:05}@{DOMAIN}\"\ndisplay_name = \"User {u}\"\nmail_nickname = \"u{u:05}\"\n\n");
    }
    for g in 0..args.groups {
        let members: Vec<String> = (0..args.members).map(|k| format!("\"u{:05}\"", (g * args.members + k) % args.users.max(1))).collect();
        let _ = write!(text, "[group.g{g:04}]\ndisplay_name = \"Group {g}\"\nmail_nickname = \"g{g:04}\"\nmembers = [{}]\n\n", members.join(", "));
    }
    for p in 0..args.policies {
        let _ = write!(
            text,
            "[device_configuration.p{p:04}]\nodata_type = \"windows10GeneralConfiguration\"\ndisplay_name = \"Policy {p}\"\n\n[device_configuration.p{p:04}.settings]\ncameraBlocked = true\n\n"
        );
    }
    schema::load_str(&[("bench.toml", &text)]).unwrap_or_else(|e| panic!("the generated desired state is valid: {e}"))
}

fn client(sb: &SandboxHandle) -> GraphClient {
    let base = sb.base_url();
    let cloud = Cloud::custom(&base, &base).expect("the sandbox URL is a valid cloud");
    let credential = Credential::client_secret(sb.tenant_id(), sb.client_id(), sb.client_secret());
    // The binary's own settings: default retry, concurrency and pacing.
    GraphClient::new(GraphConfig::new(cloud), credential).expect("a Graph client")
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let sb = Sandbox::start(SandboxConfig::in_memory().with_domain(DOMAIN)).await.expect("the sandbox starts");
    let c = client(&sb);
    let state = desired(&args);
    let model = providers::kinds::desired_model(&state);
    let mut ledger = Ledger::default();
    let observed = providers::observe::observe(&c, &model, &ledger).await.expect("the empty tenant reads");
    let plan = engine::plan(&model, &observed, &ledger, &PlanOptions { now: chrono::Utc::now() }).expect("the desired state plans");
    eprintln!("== {} changes: {} users, {} groups of {}, {} policies", plan.changes.len(), args.users, args.groups, args.members, args.policies);

    sb.set_limits(Limits::graph());
    sb.set_faults(Faults { latency_ms: args.latency_ms, ..Faults::default() }).expect("faults are valid");
    sb.reset_counts();
    let exec = providers::apply::GraphExecutor::new(c.clone(), |_| None, chrono::Utc::now()).with_batching();
    let options = ApplyOptions { concurrency: args.concurrency.max(1) * providers::graph::batch::MAX_BATCH, now: chrono::Utc::now().to_rfc3339() };
    let start = Instant::now();
    let mut done = 0usize;
    let total = plan.changes.len();
    let report = engine::apply::apply(&plan, &mut ledger, &exec, &options, |_, _| {
        done += 1;
        if done % 200 == 0 || done == total {
            eprintln!("   {done}/{total} changes after {:.1} s", start.elapsed().as_secs_f64());
        }
    })
    .await;
    let wall = start.elapsed();
    let counts = sb.request_counts();
    let usage = sb.limit_usage();
    let failed: Vec<_> = report.results.iter().filter(|r| r.status != Status::Applied).collect();
    assert!(failed.is_empty(), "changes failed: {failed:#?}");
    print!("{}", render(&args, total, wall, &counts, &usage, c.stats().throttled));
    sb.shutdown().await.expect("the sandbox shuts down");
}

fn render(args: &Args, changes: usize, wall: Duration, counts: &RequestCounts, usage: &[LimitUsage], client_throttled: u64) -> String {
    let mut out = String::new();
    let writes = |f: &dyn Fn(&str) -> bool| -> u64 { counts.requests.iter().chain(&counts.batch_items).filter(|(k, _)| !k.starts_with("GET ") && !k.ends_with("/$batch") && f(k)).map(|(_, v)| v).sum() };
    let intune = writes(&|k| k.contains("/deviceManagement"));
    let directory = writes(&|k| !k.contains("/deviceManagement") && !k.contains("/token"));
    let items: u64 = counts.batch_items.values().sum();
    let batches: u64 = counts.requests.iter().filter(|(k, _)| k.ends_with("/$batch")).map(|(_, v)| v).sum();
    let _ = writeln!(
        out,
        "Apply of {} users, {} groups with {} members each and {} Intune policies ({changes} changes) against the sandbox with Graph's documented limits on; {} ms latency per request; client defaults (8 in flight, documented limits paced), `$batch` on, {} x 20 changes at a time.\n",
        args.users, args.groups, args.members, args.policies, args.latency_ms, args.concurrency
    );
    let _ = writeln!(out, "| HTTP requests | `$batch` calls | items in them | directory writes | Intune writes | 429s answered (limits / injected) | 429s seen by the client | total time |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {batches} | {items} | {directory} | {intune} | {} / {} | {client_throttled} | {:.1} s |\n",
        counts.total,
        counts.limited,
        counts.throttled,
        wall.as_secs_f64()
    );
    let _ = writeln!(out, "| Limit | allows | counted | first to last | at the limit | of the limit | 429s |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for u in usage {
        let span = match (u.first_ms, u.last_ms) {
            (Some(a), Some(b)) => (b - a) as f64 / 1000.0,
            _ => 0.0,
        };
        // At the limit, `count` go at once and `count` more every window:
        // the last of N goes (ceil(N / count) - 1) windows after the first.
        let windows = u.accepted.div_ceil(u64::from(u.count.max(1))).saturating_sub(1);
        let ideal = windows as f64 * u.window_ms as f64 / 1000.0;
        let share = if windows == 0 { "within one window".to_string() } else { format!("{:.1}%", 100.0 * ideal / span.max(f64::EPSILON)) };
        let _ = writeln!(out, "| {} | {} per {} s | {} | {span:.1} s | {ideal:.1} s | {share} | {} |", u.name, u.count, u.window_ms / 1000, u.accepted, u.refused);
    }
    out
}
