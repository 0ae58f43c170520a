//! Local state is keyed by desired-state directory and tenant: an export
//! beside a desired-state directory never touches that directory's ledger
//! (hostile finding F3), state already kept for `--out` is replaced only
//! with `--force`, two tenants behind one `--graph-url` get separate
//! ledgers, and a ledger written before keying is moved on first use.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use engine::Ledger;

/// The binary with no credentials and no `--graph-url`: the embedded
/// sandbox beside the desired state.
fn embedded(cwd: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tenantctl"));
    c.current_dir(cwd).env("NO_COLOR", "1").env("TENANTCTL_REPLICATION_WINDOW", "3");
    for k in [
        "TENANTCTL_GRAPH_URL",
        "TENANTCTL_LEDGER",
        "TENANTCTL_ACCESS_TOKEN",
        "TENANTCTL_CREDENTIAL",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
    ] {
        c.env_remove(k);
    }
    c.args(args).output().unwrap()
}

/// `<tmp>/ds` with `n` groups.
fn desired(n: usize) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("ds");
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = String::new();
    for i in 0..n {
        g.push_str(&format!("[group.iso-{i:03}]\ndisplay_name = \"Isolated {i:03}\"\nmail_nickname = \"isolated-{i:03}\"\n\n"));
    }
    std::fs::write(dir.join("groups.toml"), g).unwrap();
    (t, dir)
}

fn keyed(parent: &Path, dir_name: &str, endpoint: &str, tenant: &str) -> PathBuf {
    parent.join(".tenantctl").join(dir_name).join(format!("{endpoint}-{tenant}.lock"))
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}\n{}", text(&o.stdout), text(&o.stderr));
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

#[test]
fn export_beside_desired_state_leaves_its_ledger_alone_and_refuses_to_overwrite_state() {
    let (t, dir) = desired(3);
    let w = t.path();
    let d = dir.to_str().unwrap();
    ok(&embedded(w, &["apply", "--auto-approve", d]));
    let ds_ledger = keyed(w, "ds", "sandbox", sandbox::DEFAULT_TENANT_ID);
    let before = std::fs::read(&ds_ledger).expect("the ledger is keyed by directory and tenant");
    assert_eq!(Ledger::parse(&String::from_utf8_lossy(&before)).unwrap().resources.len(), 3);

    // The F3 scenario: export --out X --from ds with X beside ds.
    let out = w.join("exported");
    let said = ok(&embedded(w, &["export", "--out", out.to_str().unwrap(), "--from", d]));
    assert_eq!(std::fs::read(&ds_ledger).unwrap(), before, "ds's ledger is byte-identical after the export");
    let out_ledger = keyed(w, "exported", "sandbox", sandbox::DEFAULT_TENANT_ID);
    assert!(said.contains(&out_ledger.display().to_string()), "the export names its own ledger: {said}");
    assert!(Ledger::parse(&std::fs::read_to_string(&out_ledger).unwrap()).unwrap().resources.len() >= 3);
    let plan = embedded(w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "ds still plans empty: {}{}", text(&plan.stdout), text(&plan.stderr));
    // The export adopts the tenant as it is (nothing to send to Graph),
    // but its singletons (controls) have no approved record yet: they are
    // ratified whole, so its first apply needs the approvers (gov18).
    assert!(said.contains("have no approved record in the new ledger"), "{said}");
    let plan = embedded(w, &["plan", out.to_str().unwrap()]);
    let shown = text(&plan.stdout);
    assert!(shown.contains("no proven approved record") && !shown.contains("to create") && !shown.contains("to delete"), "the export's controls are reviewed whole, nothing else: {shown}{}", text(&plan.stderr));
    let refused = embedded(w, &["apply", "--auto-approve", out.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("the ledger records no approved state of authentication_methods_policy.tenant"), "{}", text(&refused.stderr));

    // State already kept for --out is replaced only with --force.
    std::fs::remove_dir_all(&out).unwrap();
    let kept = std::fs::read(&out_ledger).unwrap();
    let refused = embedded(w, &["export", "--out", out.to_str().unwrap(), "--from", d]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("state already exists") && text(&refused.stderr).contains("--force"), "{}", text(&refused.stderr));
    assert_eq!(std::fs::read(&out_ledger).unwrap(), kept, "nothing was changed");
    ok(&embedded(w, &["export", "--out", out.to_str().unwrap(), "--from", d, "--force"]));

    // Naming ds's own ledger with --ledger is refused as well.
    let other = w.join("other");
    let refused = embedded(w, &["export", "--out", other.to_str().unwrap(), "--from", d, "--ledger", ds_ledger.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("state already exists"), "{}", text(&refused.stderr));
    assert_eq!(std::fs::read(&ds_ledger).unwrap(), before);

    // Exporting over the desired state it reads, even with --force, is
    // refused before anything is written (a hostile run left ds mixed and
    // its ledger replaced).
    let files = |p: &std::path::Path| { let mut v: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name()).collect(); v.sort(); v };
    let ds_files = files(&dir);
    let refused = embedded(w, &["export", "--out", d, "--from", d, "--force"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("is the --from directory"), "{}", text(&refused.stderr));
    assert_eq!(files(&dir), ds_files);
    assert_eq!(std::fs::read(&ds_ledger).unwrap(), before);
}

#[test]
fn a_ledger_written_before_keying_moves_on_first_use_loudly_and_an_export_never_takes_it() {
    let (t, dir) = desired(2);
    let w = t.path();
    let d = dir.to_str().unwrap();
    ok(&embedded(w, &["apply", "--auto-approve", d]));
    let new = keyed(w, "ds", "sandbox", sandbox::DEFAULT_TENANT_ID);
    // The layout before keying: one ledger for every directory in the parent.
    let old = w.join(".tenantctl/sandbox.lock");
    std::fs::rename(&new, &old).unwrap();
    let trust = new.with_extension("trust.json");
    if trust.exists() {
        std::fs::rename(&trust, old.with_extension("trust.json")).unwrap();
    }
    let before = std::fs::read(&old).unwrap();

    // An export beside it leaves it where it is (it is ds's, not the export's).
    let out = w.join("exported");
    ok(&embedded(w, &["export", "--out", out.to_str().unwrap(), "--from", d]));
    assert_eq!(std::fs::read(&old).unwrap(), before, "the export did not touch the old ledger");
    assert!(!new.exists());

    // ds's next command moves it, says so, and plans empty from it.
    let plan = embedded(w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", text(&plan.stdout), text(&plan.stderr));
    let err = text(&plan.stderr);
    assert!(err.contains("MIGRATED state") && err.contains("sandbox.lock"), "the move is announced: {err}");
    assert_eq!(std::fs::read(&new).unwrap(), before, "moved unchanged");
    assert!(!old.exists());
    // Once: the next run says nothing.
    let plan = embedded(w, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0));
    assert!(!text(&plan.stderr).contains("MIGRATED"), "{}", text(&plan.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_behind_one_graph_url_get_separate_ledgers() {
    let (t, dir) = desired(2);
    let w = t.path();
    let d = dir.to_str().unwrap();
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{addr}");
    let run = |sb: &sandbox::SandboxHandle, args: &[&str]| {
        let mut c = command(sb, w);
        c.env_remove("TENANTCTL_LEDGER").env("TENANTCTL_GRAPH_URL", &url);
        c.args(args).output().unwrap()
    };

    // Tenant A at the URL.
    let a = sandbox::Sandbox::start(sandbox::SandboxConfig::in_memory().with_addr(addr).with_tenant_id("aaaaaaaa-0000-4000-8000-00000000000a")).await.unwrap();
    ok(&run(&a, &["apply", "--auto-approve", d]));
    let ledger_a = keyed(w, "ds", "graph-url", a.tenant_id());
    let bytes_a = std::fs::read(&ledger_a).unwrap();
    a.shutdown().await.unwrap();

    // Tenant B at the same URL: its own ledger, starting empty (the
    // objects of A are not B's), and A's is left as it was.
    let b = sandbox::Sandbox::start(sandbox::SandboxConfig::in_memory().with_addr(addr).with_tenant_id("bbbbbbbb-0000-4000-8000-00000000000b")).await.unwrap();
    let plan = run(&b, &["plan", d]);
    assert!(text(&plan.stdout).contains("2 to create"), "B starts from an empty ledger: {}{}", text(&plan.stdout), text(&plan.stderr));
    ok(&run(&b, &["apply", "--auto-approve", d]));
    let ledger_b = keyed(w, "ds", "graph-url", b.tenant_id());
    assert_ne!(ledger_a, ledger_b);
    assert_eq!(std::fs::read(&ledger_a).unwrap(), bytes_a, "A's ledger is untouched");
    let (la, lb) = (Ledger::parse(&String::from_utf8_lossy(&bytes_a)).unwrap(), Ledger::parse(&std::fs::read_to_string(&ledger_b).unwrap()).unwrap());
    assert_eq!((la.resources.len(), lb.resources.len()), (2, 2));
    let addr0 = "group.iso-000".parse().unwrap();
    assert_ne!(la.id(&addr0), lb.id(&addr0), "each ledger holds its own tenant's ids");
    let plan = run(&b, &["plan", d, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", text(&plan.stdout), text(&plan.stderr));
    b.shutdown().await.unwrap();
}
