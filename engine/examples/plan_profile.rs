//! One `engine::plan` of the synthetic converged tenant of
//! `benches/plan_phases.rs` (70% users, 20% groups with 5 members each, 10%
//! device configurations assigned to a group; the ledger adopts every
//! object), for a profiler: instruction counts under
//! `valgrind --tool=callgrind` are repeatable on a loaded machine, where
//! timings are not.
//!
//! ```text
//! cargo build --release -p tenantctl-engine --example plan_profile
//! valgrind --tool=callgrind --toggle-collect='engine::plan::plan*' \
//!     target/release/examples/plan_profile 10000
//! ```
//!
//! Or, with a directory in place of the size, the exported tenant that
//! `benches/plan.rs --dump DIR` wrote (`desired.json`, `observed.json`,
//! `ledger.json`: what its timed plan was given), planned three times.
//! A second argument names a file the last plan is written to as JSON
//! (to show two builds plan byte-identically). `PLAN_PROFILE_SEAL=broken`
//! plans with a ledger the tenant's seal does not prove (every fact
//! unproven: the whole review of `governance::unproven_record`);
//! `PLAN_PROFILE_RUNS=N` plans N times. `PLAN_PROFILE_SEAL=sealed` plans
//! with a ledger the tenant's seal proves (as after an apply).
//!
//! `PLAN_PROFILE_APPLY=OUT` (with a directory): after the last plan, apply
//! it through `engine::apply` with an executor that sends nothing and
//! refuses every change but a ratification (an adoption review sends
//! nothing to Graph), and write the dump with the ledger that apply left
//! to `OUT`: the steady state of a repository whose adoption review was
//! approved and applied (plan it with `PLAN_PROFILE_SEAL=sealed`). Not
//! done: what the CLI's complete apply records after the walk
//! (`recorded::remember`, `ledger_location::record_locations`,
//! `ratify::in_sync`: the 70,000 users found in sync get their approved
//! record): each record is a `Ledger::apply_op`, which scans the whole
//! ledger for the id, so 100,000 records into a 100,000-entry ledger ran
//! 16 minutes here before it was stopped (quadratic; perf13 report). The users of this
//! steady state record no approved state (each plan passes over them as
//! adopted accounts, which are not reviewed whole).

use chrono::{TimeZone, Utc};
use engine::model::reference;
use engine::{plan, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanOptions, Props};
use schema::{Address, Kind};
use serde_json::{json, Value};

fn props(v: Value) -> Props {
    serde_json::from_value(v).expect("props")
}

fn tenant(n: usize) -> (DesiredModel, ObservedState, Ledger) {
    let users = n * 7 / 10;
    let groups = n * 2 / 10;
    let policies = n - users - groups;
    let mut desired = DesiredModel::default();
    let mut observed = ObservedState::default();
    let mut ledger = Ledger::default();
    let mut add = |kind: Kind, key: String, id: String, desired_props: Value, live_props: Value, deps: Vec<Address>| {
        let address = Address::new(kind, key.as_str());
        desired.insert(DesiredResource {
            address: address.clone(),
            natural_key: key.clone(),
            display_name: key.clone(),
            props: props(desired_props),
            immutable: vec![],
            assignment_props: vec!["assignments".into()],
            create_only: Props::new(),
            depends_on: deps,
            expires: None,
        });
        observed.insert(LiveObject { kind, id: id.clone(), natural_key: key.clone(), display_name: key, props: props(live_props) });
        ledger.record(address, id, None, None);
    };
    for u in 0..users {
        add(Kind::User, format!("u{u}"), format!("uid-{u}"), json!({"displayName": format!("User {u}"), "department": "Sales"}), json!({"displayName": format!("User {u}"), "department": "Sales"}), vec![]);
    }
    for g in 0..groups {
        let picked: Vec<usize> = (0..5).map(|i| (g * 5 + i) % users.max(1)).collect();
        let want: Vec<Value> = picked.iter().map(|u| reference(format!("user.u{u}"))).collect();
        let have: Vec<Value> = picked.iter().map(|u| reference(format!("uid-{u}"))).collect();
        let deps = picked.iter().map(|u| Address::new(Kind::User, format!("u{u}"))).collect();
        add(Kind::Group, format!("g{g}"), format!("gid-{g}"), json!({"displayName": format!("G {g}"), "members": want, "owners": []}), json!({"displayName": format!("G {g}"), "members": have, "owners": []}), deps);
    }
    for p in 0..policies {
        let g = p % groups.max(1);
        add(
            Kind::DeviceConfiguration,
            format!("p{p}"),
            format!("pid-{p}"),
            json!({"displayName": format!("P {p}"), "assignments": {"include": [reference(format!("group.g{g}"))]}}),
            json!({"displayName": format!("P {p}"), "assignments": {"include": [reference(format!("gid-{g}"))]}}),
            vec![Address::new(Kind::Group, format!("g{g}"))],
        );
    }
    (desired, observed, ledger)
}

/// This thread's CPU time (user + system), from /proc (10 ms ticks): on a
/// shared machine the figure to read, where wall time includes the queue.
fn thread_cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    // After the command name: state (field 3), then fields 4 on; utime and
    // stime are fields 14 and 15, in clock ticks (100 per second).
    let f: Vec<u64> = after.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}

/// Carries out ratifications only: they send nothing to Graph.
struct RatifyOnly;

impl engine::apply::Executor for RatifyOnly {
    fn execute(&self, change: &engine::Change, _ids: &std::collections::BTreeMap<Address, String>) -> impl std::future::Future<Output = Result<engine::apply::Outcome, engine::apply::ExecError>> + Send {
        let result = if engine::governance::ratify::is_ratify(change) {
            Ok(engine::apply::Outcome::default())
        } else {
            Err(engine::apply::ExecError { message: format!("{} {}: not a ratification, not applied here", change.action.as_str(), change.address), request_id: None, retryable: false, stops_run: false, not_sent: true })
        };
        std::future::ready(result)
    }
}

/// Apply `p` (ratifications only) to `ledger` and write the dump to `out`.
fn write_applied(p: &engine::Plan, ledger: &Ledger, options: &PlanOptions, dir: &std::path::Path, out: &std::path::Path) {
    let mut ledger = ledger.clone();
    let apply_options = engine::apply::ApplyOptions { concurrency: 1, now: options.now.to_rfc3339() };
    let report = futures::executor::block_on(engine::apply::apply(p, &mut ledger, &RatifyOnly, &apply_options, |_, _| {}));
    assert!(report.ok(), "only ratifications are applied: {:?}", report.results.iter().find(|r| !matches!(r.status, engine::apply::Status::Applied)));
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    for name in ["desired.json", "observed.json"] {
        std::fs::copy(dir.join(name), out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    std::fs::write(out.join("ledger.json"), serde_json::to_vec(&ledger).expect("a ledger serializes")).expect("ledger.json");
    eprintln!("applied {} ratifications; steady state written to {}", report.applied(), out.display());
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("time") };
    let dir = std::path::Path::new(&arg);
    let (label, (desired, observed, ledger), runs) = if dir.is_dir() {
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let desired: DesiredModel = serde_json::from_slice(&read("desired.json")).expect("desired.json");
        let observed: ObservedState = serde_json::from_slice(&read("observed.json")).expect("observed.json");
        let ledger: Ledger = serde_json::from_slice(&read("ledger.json")).expect("ledger.json");
        (format!("{} (exported, {} declared)", dir.display(), desired.resources.len()), (desired, observed, ledger), 3)
    } else {
        let n: usize = arg.parse().unwrap_or(10_000);
        (format!("{n} objects"), tenant(n), 1)
    };
    let mut ledger = ledger;
    let broken = std::env::var("PLAN_PROFILE_SEAL").as_deref() == Ok("broken");
    if broken {
        ledger.seal = engine::ledger_seal::Seal::Broken { ledger: "sha256:ledger".into(), recorded: "sha256:recorded".into(), only: None };
    }
    if std::env::var("PLAN_PROFILE_SEAL").as_deref() == Ok("sealed") {
        ledger.seal = engine::ledger_seal::Seal::Sealed;
    }
    let apply_to = std::env::var("PLAN_PROFILE_APPLY").ok();
    let out = std::env::args().nth(2);
    let runs = std::env::var("PLAN_PROFILE_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(runs);
    for run in 0..runs {
        let started = std::time::Instant::now();
        let cpu = thread_cpu();
        let p = plan(&desired, &observed, &ledger, &options).expect("plan");
        let cpu = thread_cpu().saturating_sub(cpu);
        // The synthetic tenant is converged; a dumped one may be given changes.
        assert!(dir.is_dir() || broken || p.changes.is_empty(), "converged: {:?}", p.changes.first());
        eprintln!("plan of {label}: {:?} wall, {:.2} s CPU (thread), {} ids, {} changes", started.elapsed(), cpu.as_secs_f64(), p.ids.len(), p.changes.len());
        if let Some(out) = out.as_deref().filter(|_| run + 1 == runs) {
            std::fs::write(out, serde_json::to_vec_pretty(&p).expect("a plan serializes")).unwrap_or_else(|e| panic!("{out}: {e}"));
        }
        if let Some(to) = apply_to.as_deref().filter(|_| run + 1 == runs && dir.is_dir()) {
            write_applied(&p, &ledger, &options, dir, std::path::Path::new(to));
        }
    }
}
