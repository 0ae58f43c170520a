//! Where `engine::plan` spends its CPU at declared scale, phase by phase,
//! without Graph or files: a converged tenant declared as `export` writes
//! it (70% users, 20% groups with 5 members each, 10% device
//! configurations assigned to a group; the ledger adopts every object),
//! planned whole, then the phases `plan` runs that are public measured on
//! their own (desired fingerprint, desired lints, live lints, holders).
//! A first apply (nothing live, every object created) is planned too: the
//! path where governance judges every change.
//!
//! ```text
//! cargo bench --bench plan_phases                      # 1k, 10k, 100k
//! cargo bench --bench plan_phases -- --sizes 100000
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use clap::Parser;
use engine::model::reference;
use engine::{plan, DesiredModel, DesiredResource, Ledger, LiveObject, ObservedState, PlanOptions, Props};
use schema::{Address, Kind};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Passed by `cargo bench` to every bench target; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// This thread's CPU time (user + system), from /proc.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    // After the command name: state (field 3), then fields 4 on; utime
    // and stime are fields 14 and 15, in clock ticks (100 per second).
    let f: Vec<i64> = after.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks.max(0) as u64 * 10)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = cpu();
    let out = f();
    (out, cpu().saturating_sub(start))
}

fn props(v: Value) -> Props {
    serde_json::from_value(v).expect("props")
}

fn tenant(n: usize, live: bool) -> (DesiredModel, ObservedState, Ledger) {
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
        if live {
            observed.insert(LiveObject { kind, id: id.clone(), natural_key: key.clone(), display_name: key, props: props(live_props) });
            ledger.record(address, id, None, None);
        }
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

fn ms(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let args = Args::parse();
    let options = PlanOptions { now: Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("time") };
    println!("# engine::plan CPU by phase\n");
    println!("| Objects | plan (converged) | desired fingerprint | lint_desired | lint_live | holders::lint | plan (first apply, all creates) | changes |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &args.sizes {
        let (desired, observed, ledger) = tenant(n, true);
        let (p, whole) = timed(|| plan(&desired, &observed, &ledger, &options).expect("plan"));
        assert!(p.changes.is_empty(), "converged: {:?}", p.changes.first());
        let ids: BTreeMap<Address, String> = p.ids.clone();
        drop(p);
        let (_, fp) = timed(|| engine::fingerprint::desired(&desired));
        let (_, ld) = timed(|| engine::governance::lint_desired(&desired, options.now));
        let (_, ll) = timed(|| engine::governance::lint_live(&desired, &observed, &ids));
        let (_, hl) = timed(|| engine::governance::holders::lint(&desired, &observed, &ids, &[]));
        drop((desired, observed, ledger));
        let (desired, observed, ledger) = tenant(n, false);
        let (first, creates) = timed(|| plan(&desired, &observed, &ledger, &options).expect("plan"));
        println!("| {n} | {} | {} | {} | {} | {} | {} | {} |", ms(whole), ms(fp), ms(ld), ms(ll), ms(hl), ms(creates), first.changes.len());
    }
}
